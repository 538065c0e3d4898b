/**
 * Float64 arrays in messages: little-endian, base64 (about 11 characters a number instead of about 19 in JSON, and
 * exact: the same doubles come back). Used by the state message's statistics and the shared model's contributions.
 *
 * @module
 */
import { MessageFormatError } from '../errors.js';

/** Numbers as float64 little-endian in base64. */
export function f64ToBase64(values: ArrayLike<number>): string {
  const array = values instanceof Float64Array ? values : Float64Array.from(values as ArrayLike<number>);
  return Buffer.from(array.buffer, array.byteOffset, array.byteLength).toString('base64');
}

/**
 * Float64 little-endian numbers back from base64.
 *
 * @param text - the base64 text
 * @param field - the field's path, for the error
 * @param expected - the number of values it must hold (unchecked when omitted)
 * @throws MessageFormatError when it is not base64 of whole float64 values, of the expected count, all finite
 */
export function base64ToF64(text: unknown, field: string, expected?: number): Float64Array {
  if (typeof text !== 'string') throw new MessageFormatError(`${field} must be a base64 string`, field);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 8 !== 0) throw new MessageFormatError(`${field} is not a whole number of float64 values`, field);
  const out = new Float64Array(bytes.length / 8);
  for (let i = 0; i < out.length; i++) {
    out[i] = bytes.readDoubleLE(i * 8);
    if (!Number.isFinite(out[i])) throw new MessageFormatError(`${field} holds a value that is not finite (at ${i})`, field);
  }
  if (expected !== undefined && out.length !== expected) throw new MessageFormatError(`${field} holds ${out.length} values, expected ${expected}`, field);
  return out;
}
