/**
 * Message sizes: the bytes a message takes in a record batch (exact, and an upper bound cheap enough for batching).
 *
 * @module
 */
import type { ProducedMessage } from '../client/ports.js';

/** Bytes a record adds to a record batch beyond its key, value and headers (length, attributes, deltas, varints). */
export const RECORD_OVERHEAD_BYTES = 48;
/** Bytes of a record batch's own header (RecordBatch v2). */
export const BATCH_OVERHEAD_BYTES = 61;

/** Bytes of a key, value or header value (0 when absent). */
export function byteLength(x: string | Buffer | null | undefined): number {
  if (x === null || x === undefined) return 0;
  return typeof x === 'string' ? Buffer.byteLength(x) : x.length;
}

/**
 * The bytes one message takes in a record batch, exactly: key, value, header names and values (UTF-8), and the
 * per-record overhead (an upper bound of its varints).
 *
 * @param message - the message
 * @returns its size in bytes
 */
export function messageBytes(message: ProducedMessage): number {
  let bytes = RECORD_OVERHEAD_BYTES + byteLength(message.key) + byteLength(message.value);
  const headers = message.headers;
  if (headers !== undefined) for (const name in headers) bytes += 10 + Buffer.byteLength(name) + byteLength(headers[name]);
  return bytes;
}

/** Strings up to this long are bounded by 3 bytes a UTF-16 unit rather than measured. */
const SHORT_STRING = 1024;

function boundLength(x: string | Buffer | null | undefined): number {
  if (x === null || x === undefined) return 0;
  if (typeof x !== 'string') return x.length;
  return x.length <= SHORT_STRING ? 3 * x.length : Buffer.byteLength(x);
}

/**
 * An upper bound of {@link messageBytes} without scanning short strings (3 UTF-8 bytes at most per UTF-16 unit):
 * what batching needs once per message, at no measurable cost.
 *
 * @param message - the message
 * @returns at least its size in bytes
 */
export function messageBytesBound(message: ProducedMessage): number {
  let bytes = RECORD_OVERHEAD_BYTES + boundLength(message.key) + boundLength(message.value);
  const headers = message.headers;
  if (headers !== undefined) for (const name in headers) bytes += 10 + 3 * name.length + boundLength(headers[name]);
  return bytes;
}
