import { MAX_ABS_VALUE } from '../gmm/em.js';
import type { InvalidVector, VectorRecord } from './types.js';

/**
 * The input gate: pure helpers that turn one input of a stream (a bare vector, or a record with a `vector`
 * field) into numbers, or into an {@link InvalidVector} saying what was wrong, where, and what to do; and the one
 * function that reads a record's Kafka coordinates. Used by `windowVectors` and the Kafka decoders (each input is
 * checked once); no RxJS here.
 *
 * @module
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

/** Where a record came from: its Kafka topic, partition and offset, each `undefined` when the record has none. */
export interface RecordCoordinates {
  readonly topic: string | undefined;
  readonly partition: number | undefined;
  /** Decimal string (Kafka offsets can exceed 2^53). */
  readonly offset: string | undefined;
}

const NO_COORDINATES: RecordCoordinates = { topic: undefined, partition: undefined, offset: undefined };

/**
 * Reads a record's Kafka coordinates: its `topic` (a string), `partition` (an integer) and `offset` (a string,
 * or a number given as one). The one function every layer uses to find where an input came from (messages,
 * dead letters, commits); anything that is not a record, or a field of another type, reads as `undefined`.
 *
 * ## Example
 * ```ts
 * import { recordCoordinates } from 'emstream';
 *
 * recordCoordinates({ vector: [1, 2], topic: 'points', partition: 0, offset: '42' }); // { topic: 'points', partition: 0, offset: '42' }
 * recordCoordinates([1, 2]); // { topic: undefined, partition: undefined, offset: undefined }
 * ```
 *
 * @param record - any input (a record, a bare vector, anything)
 * @returns the coordinates, each `undefined` when missing or of the wrong type
 */
export function recordCoordinates(record: unknown): RecordCoordinates {
  if (typeof record !== 'object' || record === null || Array.isArray(record) || ArrayBuffer.isView(record)) return NO_COORDINATES;
  const r = record as { topic?: unknown; partition?: unknown; offset?: unknown };
  // A Kafka record already has the right types: it is its own coordinates (no allocation per record).
  if (typeof r.topic === 'string' && typeof r.offset === 'string' && typeof r.partition === 'number' && Number.isInteger(r.partition)) return r as RecordCoordinates;
  const topic = typeof r.topic === 'string' ? r.topic : undefined;
  const partition = typeof r.partition === 'number' && Number.isInteger(r.partition) ? r.partition : undefined;
  const offset = typeof r.offset === 'string' ? r.offset : typeof r.offset === 'number' && Number.isInteger(r.offset) ? String(r.offset) : typeof r.offset === 'bigint' ? String(r.offset) : undefined;
  if (topic === undefined && partition === undefined && offset === undefined) return NO_COORDINATES;
  return { topic, partition, offset };
}

/**
 * Where an input came from, for messages: its Kafka coordinates ({@link recordCoordinates}), e.g.
 * ` (topic "points", partition 0, offset 42)`; `''` otherwise.
 *
 * @param input - any input
 * @returns a suffix to append to a message (with a leading space), or `''`
 */
export function describeLocation(input: unknown): string {
  const { topic, partition, offset } = recordCoordinates(input);
  const parts: string[] = [];
  if (topic !== undefined) parts.push(`topic ${JSON.stringify(topic)}`);
  if (partition !== undefined) parts.push(`partition ${partition}`);
  if (offset !== undefined) parts.push(`offset ${offset}`);
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
 * Largest magnitude of a coordinate the gate accepts. Beyond it the squares and cross products the fit sums up
 * (n·x² over a window; the covariances) leave double precision: 1e150² · 1e8 points is still below
 * `Number.MAX_VALUE` (1.8e308), while a coordinate of 1e160 alone squares to Infinity. The fit's own check
 * (`checkDataset`) has the same bound, so a window that passed this gate need not be scanned again.
 */
export const MAX_COORDINATE = MAX_ABS_VALUE;

/** Why the gate rejected a vector's values. */
export type ValuesFailureReason = 'empty' | 'oversized' | 'wrong-dimension' | 'not-numeric' | 'non-finite' | 'non-finite-in-use';

/** A rejection by {@link checkValues}. */
export interface ValuesFailure {
  readonly reason: ValuesFailureReason;
  readonly message: string;
  /** Index (or field name) of the offending element. */
  readonly field?: number | string;
}

/** Options of {@link checkValues}. */
export interface CheckValuesOptions {
  /** The dimension every vector must have (`undefined`: any). */
  readonly dimension?: number;
  /** Upper bound on the length, checked before `dimension`. */
  readonly maxDimension?: number;
  /** Names of the elements, for messages and `field` (e.g. the `json-object` fields); otherwise `element i`. */
  readonly names?: readonly string[];
  /** What to advise for a wrong dimension (default: the stream's dimension option). */
  readonly dimensionHint?: string;
}

/**
 * Brand of inputs whose vector already passed the gate at an edge: a decoder made by `createDecoder` carries it, and
 * `fromKafka` puts it on the records it decodes with such a decoder, so `windowVectors` only checks their length.
 */
export const GATED: unique symbol = Symbol.for('emstream.gated');

/** Whether an input's vector passed the gate at the edge (see {@link GATED}). */
export function isGated(input: unknown): boolean {
  return typeof input === 'object' && input !== null && (input as { [GATED]?: unknown })[GATED] === true;
}

/**
 * The gate every input passes once: checks a vector's values and says what is wrong, where, and what to do.
 *
 * 1. Length: not empty (`empty`), at most `maxDimension` (`oversized`), equal to `dimension` when given
 *    (`wrong-dimension`) — O(1), before the elements.
 * 2. Elements, in order: a number (`not-numeric`), finite (`non-finite`), and of magnitude at most
 *    {@link MAX_COORDINATE} (`non-finite-in-use`: its square would overflow in the fit).
 *
 * Decoders run this gate on the vectors they make, and the records made from them carry {@link GATED}, so
 * `windowVectors` does not scan them again (it checks only their length).
 *
 * ## Example
 * ```ts
 * import { checkValues } from 'emstream';
 *
 * checkValues([1, 2], ' (offset 7)', { dimension: 2 }); // undefined: accepted
 * checkValues([1e160, 0], ' (offset 8)')?.reason; // 'non-finite-in-use'
 * checkValues([21.5, 'hot'], '', { names: ['temperature', 'state'] })?.field; // 'state'
 * ```
 *
 * @param values - the raw vector (an array of anything, or a numeric typed array)
 * @param where - where it came from, appended to messages (e.g. ` (topic "t", partition 0, offset 7)`), or a function giving it (called only on failure)
 * @param options - expected dimension, maximum length, element names
 * @returns `undefined` when the values are accepted, else the failure
 */
export function checkValues(values: RawVector, where: string | (() => string), options: CheckValuesOptions = {}): ValuesFailure | undefined {
  return checkValuesAt(values, options.dimension, where, options.names, options.dimensionHint, options.maxDimension);
}

/**
 * {@link checkValues} with positional options (no options object per call: decoders run it once per message).
 *
 * @param values - the raw vector
 * @param dimension - the expected dimension, or `undefined`
 * @param where - the location suffix, or a function giving it (called only on failure)
 * @param names - element names, or `undefined`
 * @param dimensionHint - what to advise for a wrong dimension
 * @param maxDimension - upper bound on the length
 * @returns `undefined` when accepted, else the failure
 */
export function checkValuesAt(
  values: RawVector,
  dimension: number | undefined,
  where: string | (() => string),
  names?: readonly string[],
  dimensionHint?: string,
  maxDimension?: number,
): ValuesFailure | undefined {
  const length = values.length;
  if (length === 0) {
    return { reason: 'empty', message: `the vector is empty${locate(where)}: every point needs at least one coordinate; drop empty inputs upstream` };
  }
  if (maxDimension !== undefined && length > maxDimension) {
    return {
      reason: 'oversized',
      message: `the vector has ${length} elements, more than the limit of ${maxDimension}${locate(where)}: check that the producer sends one point per message, or raise the limit`,
    };
  }
  if (dimension !== undefined && length !== dimension) {
    return {
      reason: 'wrong-dimension',
      message:
        `the vector has dimension ${length}, expected ${dimension}${locate(where)}: every point of a stream must have the same dimension; fix or drop this point, ` +
        (dimensionHint ?? 'or set the dimension option to match the data'),
    };
  }
  const typed = isNumericTypedArray(values);
  for (let i = 0; i < length; i++) {
    const value: unknown = values[i];
    if (!typed && typeof value !== 'number') {
      return {
        reason: 'not-numeric',
        message: `${elementName(i, names)} is ${describeValue(value)}, not a number${locate(where)}: send numbers (parse strings, fill or drop missing values) before the stream`,
        field: names?.[i] ?? i,
      };
    }
    const x = value as number;
    // One comparison for the common case: NaN fails it too.
    if (!(x <= MAX_COORDINATE && x >= -MAX_COORDINATE)) {
      if (!Number.isFinite(x)) {
        return {
          reason: 'non-finite',
          message: `${elementName(i, names)} is ${String(x)}${locate(where)}: clustering needs finite numbers; impute or drop missing values (NaN) and clip or drop infinite ones upstream`,
          field: names?.[i] ?? i,
        };
      }
      return {
        reason: 'non-finite-in-use',
        message:
          `${elementName(i, names)} is ${String(x)}${locate(where)}: its square overflows double precision (the fit needs |x| ≤ ${MAX_COORDINATE}), so the statistics would turn to Infinity; ` +
          'rescale the data (change units, standardise) or clip it upstream',
        field: names?.[i] ?? i,
      };
    }
  }
  return undefined;
}


function locate(where: string | (() => string)): string {
  return typeof where === 'string' ? where : where();
}

function elementName(i: number, names: readonly string[] | undefined): string {
  return names?.[i] !== undefined ? `field ${JSON.stringify(names[i])}` : `element ${i}`;
}


/**
 * Check one input and return its numbers, or the reason it is rejected.
 *
 * 1. Extract the vector (bare array / typed array, or the record's `vector` field); else `not-a-vector`.
 * 2. Run the gate ({@link checkValues}): empty, oversized (`maxDim`), wrong dimension (`expectedDim`), then the
 *    elements (not numeric, non-finite, too large to square); the vector of a record a decoder already gated
 *    ({@link GATED}) is not scanned again, only its length is.
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
  // The location goes into failure messages only: computed on failure, never for a valid input.
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
  if ((maxDim === undefined || length <= maxDim) && (expectedDim === undefined || length === expectedDim) && isGated(input)) {
    return { ok: true, values: vector as ArrayLike<number> };
  }
  const failure = checkValuesAt(vector, expectedDim, () => describeLocation(input), undefined, undefined, maxDim);
  if (failure !== undefined) return invalid(input, failure.reason, failure.message, typeof failure.field === 'number' ? failure.field : undefined);
  return { ok: true, values: vector as ArrayLike<number> };
}
