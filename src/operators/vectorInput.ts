import type { InvalidVector, VectorRecord } from './types.js';

/**
 * Pure helpers that turn one input of a stream (a bare vector, or a record with a `vector` field)
 * into numbers, or into an {@link InvalidVector} saying what was wrong, where, and what to do.
 * Used by `windowVectors`; no RxJS here.
 */

/** Typed arrays accepted as vectors (every typed array whose elements are JavaScript numbers). */
export type NumericTypedArray =
  | Float64Array
  | Float32Array
  | Int8Array
  | Uint8Array
  | Uint8ClampedArray
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array;

/** The raw vector of an input, before its elements are checked. */
export type RawVector = readonly unknown[] | NumericTypedArray;

/** Result of {@link validateVector}. */
export type VectorValidation<R = unknown> =
  | { readonly ok: true; readonly values: ArrayLike<number> }
  | { readonly ok: false; readonly invalid: InvalidVector<R> };

const ACCEPTED = 'an array of numbers, a Float64Array/Float32Array, or a record {"vector": [...]}';

function isNumericTypedArray(value: unknown): value is NumericTypedArray {
  return (
    ArrayBuffer.isView(value) &&
    !(value instanceof DataView) &&
    !(value instanceof BigInt64Array) &&
    !(value instanceof BigUint64Array)
  );
}

function isRawVector(value: unknown): value is RawVector {
  return Array.isArray(value) || isNumericTypedArray(value);
}

/**
 * Whether an input is a record (a plain object, not an array or typed array) that has a `vector` field.
 *
 * @param input - any input
 * @returns true when `input.vector` exists (its content is not checked)
 */
export function isVectorRecord(input: unknown): input is VectorRecord {
  return typeof input === 'object' && input !== null && !ArrayBuffer.isView(input) && !Array.isArray(input) && 'vector' in input;
}

/**
 * The vector carried by an input: the input itself when it is an array or a numeric typed array,
 * its `vector` field when it is a record; `undefined` otherwise. Elements are not checked here.
 *
 * ## Example
 * ```ts
 * import { extractVector } from 'emstream';
 *
 * extractVector([1, 2]); // [1, 2]
 * extractVector({ vector: new Float64Array([1, 2]), topic: 'points' }); // Float64Array [1, 2]
 * extractVector('1,2'); // undefined
 * ```
 *
 * @param input - a bare vector or a record with a `vector` field (any value is accepted)
 * @returns the raw vector, or `undefined` when the input carries none
 */
export function extractVector(input: unknown): RawVector | undefined {
  if (isRawVector(input)) return input;
  if (isVectorRecord(input) && isRawVector(input.vector)) return input.vector;
  return undefined;
}

/**
 * Where an input came from, for messages: its Kafka coordinates when the record carries
 * `topic`, `partition` and/or `offset` fields, e.g. ` (topic "points", partition 0, offset 42)`;
 * `''` otherwise.
 *
 * @param input - any input
 * @returns a suffix to append to a message (with a leading space), or `''`
 */
export function describeLocation(input: unknown): string {
  if (typeof input !== 'object' || input === null || Array.isArray(input) || ArrayBuffer.isView(input)) return '';
  const record = input as Record<string, unknown>;
  const parts: string[] = [];
  if (record.topic !== undefined) parts.push(`topic ${JSON.stringify(record.topic)}`);
  if (record.partition !== undefined) parts.push(`partition ${String(record.partition)}`);
  if (record.offset !== undefined) parts.push(`offset ${String(record.offset)}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

/** A short, safe description of a value for messages: `null`, `the string "abc"`, `an object`, … */
function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  switch (typeof value) {
    case 'string': {
      const text = value.length > 20 ? `${value.slice(0, 20)}…` : value;
      return `the string ${JSON.stringify(text)}`;
    }
    case 'number':
      return String(value);
    case 'bigint':
      return `the bigint ${value}n`;
    case 'boolean':
      return `the boolean ${value}`;
    case 'object':
      return 'an object';
    default:
      return `a ${typeof value}`;
  }
}

function invalid<R>(
  record: R,
  reason: InvalidVector['reason'],
  message: string,
  field?: number,
): { readonly ok: false; readonly invalid: InvalidVector<R> } {
  return { ok: false, invalid: field === undefined ? { record, reason, message } : { record, reason, message, field } };
}

/**
 * Check one input and return its numbers, or the reason it is rejected.
 *
 * 1. Extract the vector (bare array / typed array, or the record's `vector` field); else `not-a-vector`.
 * 2. Reject an empty vector (`empty`), then one longer than `maxDim` (`oversized`), then one whose length
 *    differs from `expectedDim` (`wrong-dimension`) — these are O(1) and come before the element scan.
 * 3. Scan the elements in order: the first one that is not a number gives `not-numeric`, the first NaN or
 *    ±Infinity gives `non-finite`; `field` is its index.
 *
 * Messages say what was wrong, where (element index; Kafka topic/partition/offset when the record has
 * them) and what to do. Nothing is copied: `values` is the input's own array.
 *
 * ## Example
 * ```ts
 * import { validateVector } from 'emstream';
 *
 * const ok = validateVector([1, 2], 2); // { ok: true, values: [1, 2] }
 * const bad = validateVector({ vector: [1, NaN], topic: 'points', partition: 0, offset: '7' }, 2);
 * // bad.ok === false, bad.invalid.reason === 'non-finite', bad.invalid.field === 1
 * // bad.invalid.message: 'element 1 is NaN (topic "points", partition 0, offset 7): …'
 * ```
 *
 * @param input - a bare vector or a record with a `vector` field (any value is accepted)
 * @param expectedDim - the dimension every vector must have, or `undefined` to accept any length
 * @param maxDim - optional upper bound on the length (guards against absurd inputs); checked before `expectedDim`
 * @returns `{ ok: true, values }` or `{ ok: false, invalid }` with `invalid.record === input`
 */
export function validateVector<R>(input: R, expectedDim: number | undefined, maxDim?: number): VectorValidation<R> {
  // The location goes into failure messages only: computed on failure, never for a valid input
  // (no closure either: this runs once per point).
  const vector = extractVector(input);
  if (vector === undefined) {
    if (isVectorRecord(input)) {
      return invalid(
        input,
        'not-a-vector',
        `the record's "vector" field is ${describeValue(input.vector)}, not a vector${describeLocation(input)}: ` +
          `put the point's coordinates in "vector" as an array of numbers or a Float64Array/Float32Array`,
      );
    }
    if (typeof input === 'object' && input !== null && !ArrayBuffer.isView(input)) {
      return invalid(
        input,
        'not-a-vector',
        `the record has no "vector" field${describeLocation(input)}: expected ${ACCEPTED}; put the point's coordinates in "vector"`,
      );
    }
    return invalid(
      input,
      'not-a-vector',
      `expected ${ACCEPTED}, got ${describeValue(input)}${describeLocation(input)}: parse or decode the input into numbers before the stream`,
    );
  }

  const length = vector.length;
  if (length === 0) {
    return invalid(input, 'empty', `the vector is empty${describeLocation(input)}: every point needs at least one coordinate; drop empty inputs upstream`);
  }
  if (maxDim !== undefined && length > maxDim) {
    return invalid(
      input,
      'oversized',
      `the vector has ${length} elements, more than the limit of ${maxDim}${describeLocation(input)}: ` +
        `check that the producer sends one point per message, or raise the limit`,
    );
  }
  if (expectedDim !== undefined && length !== expectedDim) {
    return invalid(
      input,
      'wrong-dimension',
      `the vector has dimension ${length}, expected ${expectedDim}${describeLocation(input)}: ` +
        `every point of a stream must have the same dimension; fix or drop this point, ` +
        `or set the dimension option to match the data`,
    );
  }

  if (isNumericTypedArray(vector)) {
    // Typed arrays hold numbers by construction; only NaN/±Infinity (float arrays) can be wrong.
    for (let i = 0; i < length; i++) {
      const value = vector[i];
      if (!Number.isFinite(value)) {
        return invalid(input, 'non-finite', nonFiniteMessage(i, value, describeLocation(input)), i);
      }
    }
    return { ok: true, values: vector };
  }
  for (let i = 0; i < length; i++) {
    const value: unknown = vector[i];
    if (typeof value !== 'number') {
      return invalid(
        input,
        'not-numeric',
        `element ${i} is ${describeValue(value)}, not a number${describeLocation(input)}: ` +
          `send numbers (parse strings, fill or drop missing values) before the stream`,
        i,
      );
    }
    if (!Number.isFinite(value)) {
      return invalid(input, 'non-finite', nonFiniteMessage(i, value, describeLocation(input)), i);
    }
  }
  return { ok: true, values: vector as ArrayLike<number> };
}

function nonFiniteMessage(index: number, value: number, where: string): string {
  return (
    `element ${index} is ${String(value)}${where}: ` +
    `clustering needs finite numbers; impute or drop missing values (NaN) and clip or drop infinite ones upstream`
  );
}
