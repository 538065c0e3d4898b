/**
 * Message formats of the Kafka edge: decoders from message bytes to vectors and encoders back.
 *
 * Formats:
 * - `json-array`: `[1.5, 2, 3]`
 * - `json-object`: `{"temperature": 21.5, "humidity": 40}` with named `fields` (the vector is those fields,
 *   in that order); without `fields`, the object's `"vector"` array
 * - `csv`: one line `1.5,2,3` (surrounding whitespace and a trailing newline are ignored)
 * - `float32le` / `float64le`: raw little-endian IEEE floats, 4 / 8 bytes per coordinate
 *
 * Decoding never throws: a bad message gives `{ ok: false, reason, message }`, where the message says
 * what was wrong, where (topic/partition/offset when known) and what to do; the Kafka runner sends it to the
 * dead-letter topic. Decoders only parse; the numbers go through the one input gate (`checkValues`:
 * numeric, finite, not too large to square, the expected dimension), and a vector that passes is not checked
 * again by `windowVectors`.
 *
 * @module
 */
import { endianness } from 'node:os';
import { EmstreamOptionsError } from '../../errors.js';
import { checkValuesAt, GATED, type RawVector } from '../../operators/vectorInput.js';

/** The message formats a vector can be read from. */
export const VECTOR_FORMATS = ['json-array', 'json-object', 'csv', 'float32le', 'float64le'] as const;
export type VectorFormat = (typeof VECTOR_FORMATS)[number];

/** Why a message could not be decoded into a vector. */
export type DecodeFailureReason =
  | 'empty'
  | 'oversized'
  | 'not-json'
  | 'not-a-vector'
  | 'missing-field'
  | 'not-numeric'
  | 'non-finite'
  | 'non-finite-in-use'
  | 'wrong-dimension';

/** Result of a decoder. */
export type DecodeResult =
  | { readonly ok: true; readonly vector: number[] | Float64Array }
  | { readonly ok: false; readonly reason: DecodeFailureReason; readonly message: string; readonly field?: number | string };

/** Where a message came from, for error messages. */
export interface MessageLocation {
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: string | number;
}

/** Options of {@link createDecoder}. */
export interface DecoderOptions {
  readonly format: VectorFormat;
  /** Field names for `json-object` (the vector is these fields in order). */
  readonly fields?: readonly string[];
  /** Expected dimension; required for the binary formats unless `fields` gives it. */
  readonly dimension?: number;
  /** Largest accepted message, in bytes (default 1 MiB). */
  readonly maxBytes?: number;
}

/** A decoder: message value bytes (and where they came from) to a vector or a failure. */
export type VectorDecoder = (value: Buffer | null | undefined, where?: MessageLocation) => DecodeResult;

/** Default {@link DecoderOptions.maxBytes}: 1 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1 << 20;

/** ` (topic "t", partition 0, offset 7)` or `''`. */
export function describeMessageLocation(where: MessageLocation | undefined): string {
  if (where === undefined) return '';
  const parts: string[] = [];
  if (where.topic !== undefined) parts.push(`topic ${JSON.stringify(where.topic)}`);
  if (where.partition !== undefined) parts.push(`partition ${where.partition}`);
  if (where.offset !== undefined) parts.push(`offset ${where.offset}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

const fail = (reason: DecodeFailureReason, message: string, field?: number | string): DecodeResult =>
  field === undefined ? { ok: false, reason, message } : { ok: false, reason, message, field };

/** Short printable excerpt of a message for error messages. */
function excerpt(text: string): string {
  const t = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  return JSON.stringify(t);
}

function describeJsonValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${excerpt(value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

const DIMENSION_HINT = 'or set --dimension to match the data';

/** Runs the gate on parsed values. */
function gate(values: RawVector, dimension: number | undefined, where: Where, names?: readonly string[]): DecodeResult {
  const failure = checkValuesAt(values, dimension, where, names, DIMENSION_HINT);
  if (failure !== undefined) return failure.field === undefined ? fail(failure.reason, failure.message) : fail(failure.reason, failure.message, failure.field);
  return { ok: true, vector: values as number[] | Float64Array };
}

/** Parses JSON text, or returns the `not-json` failure. */
function parseJson(text: string, where: Where, expected: string): { ok: true; value: unknown } | { ok: false; failure: DecodeResult } {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return {
      ok: false,
      failure: fail('not-json', `the message is not valid JSON (${why}): ${excerpt(text)}${where()}; send ${expected}, or pick the right --format`),
    };
  }
}

/**
 * Builds a decoder for one format.
 *
 * 1. Reject a missing or zero-length value (`empty`) and one longer than `maxBytes` (`oversized`).
 * 2. Parse by format: JSON (`not-json` on a syntax error), CSV tokens, or little-endian floats (the length
 *    must be a multiple of 4/8 and match the dimension: `wrong-dimension`).
 * 3. For `json-object`, every named field present (`missing-field`). Then the one gate (`checkValues`): the
 *    expected count (`wrong-dimension`), numbers (`not-numeric`), finite (`non-finite`), not too large to square
 *    (`non-finite-in-use`, |x| > 1e150). The decoder carries the `GATED` brand: `fromKafka` passes it on to its
 *    records, so `windowVectors` does not scan them again.
 *
 * ## Example
 * ```ts
 * import { createDecoder } from 'emstream';
 *
 * const decode = createDecoder({ format: 'json-object', fields: ['temperature', 'humidity'] });
 * decode(Buffer.from('{"temperature": 21.5, "humidity": 40}')); // { ok: true, vector: [21.5, 40] }
 * decode(Buffer.from('{"temperature": 21.5}'), { topic: 'sensors', partition: 0, offset: '7' });
 * // { ok: false, reason: 'missing-field', field: 'humidity', message: 'field "humidity" is missing (topic "sensors", …' }
 * ```
 *
 * @param options - format, field names, expected dimension, maximum message size
 * @returns the decoder (never throws)
 * @throws EmstreamOptionsError when the options are inconsistent (e.g. a binary format without a dimension)
 */
export function createDecoder(options: DecoderOptions): VectorDecoder {
  const { format, fields } = options;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const issues: { path: string; message: string }[] = [];
  if (!(VECTOR_FORMATS as readonly string[]).includes(format)) {
    issues.push({ path: 'format', message: `unknown format ${JSON.stringify(format)}: use one of ${VECTOR_FORMATS.join(', ')}` });
  }
  if (fields !== undefined && (fields.length === 0 || fields.some((f) => typeof f !== 'string' || f === ''))) {
    issues.push({ path: 'fields', message: 'must be a non-empty list of field names, e.g. temperature,humidity' });
  }
  if (fields !== undefined && format !== 'json-object') {
    issues.push({ path: 'fields', message: `only apply to the json-object format, not ${format}: drop fields or use --format json-object` });
  }
  const dimension = options.dimension ?? (fields !== undefined && fields.length > 0 ? fields.length : undefined);
  if (dimension !== undefined && (!Number.isInteger(dimension) || dimension < 1)) {
    issues.push({ path: 'dimension', message: `must be a whole number ≥ 1, got ${String(dimension)}` });
  }
  if (fields !== undefined && options.dimension !== undefined && options.dimension !== fields.length) {
    issues.push({ path: 'dimension', message: `is ${options.dimension} but ${fields.length} fields are named: they must agree` });
  }
  if ((format === 'float32le' || format === 'float64le') && dimension === undefined) {
    issues.push({ path: 'dimension', message: `is required for the binary format ${format} (coordinates per message), e.g. --dimension 16` });
  }
  if (!Number.isInteger(maxBytes) || maxBytes < 1) issues.push({ path: 'maxBytes', message: `must be a whole number of bytes ≥ 1, got ${String(maxBytes)}` });
  if (issues.length > 0) throw new EmstreamOptionsError('createDecoder', issues);

  const decodeBody = decoders[format];
  const decoder: VectorDecoder & { [GATED]?: true } = (value, where) => {
    if (value === null || value === undefined || value.length === 0) {
      return fail('empty', `the message has no value${describeMessageLocation(where)}: every message must carry one point; drop tombstones and empty messages upstream`);
    }
    if (value.length > maxBytes) {
      return fail(
        'oversized',
        `the message is ${value.length} bytes, more than the limit of ${maxBytes}${describeMessageLocation(where)}: send one point per message, or raise the limit (maxBytes)`,
      );
    }
    return decodeBody(value, dimension, fields, () => describeMessageLocation(where));
  };
  // Its vectors passed the gate: records made from them need no second scan (see fromKafka).
  decoder[GATED] = true;
  return decoder;
}

/** `where` is computed only when a message fails (it is a string per message otherwise). */
type Where = () => string;
type BodyDecoder = (value: Buffer, dimension: number | undefined, fields: readonly string[] | undefined, where: Where) => DecodeResult;

const decoders: Record<VectorFormat, BodyDecoder> = {
  'json-array': (value, dimension, _fields, where) => {
    const parsed = parseJson(value.toString('utf8'), where, 'a JSON array of numbers such as [1.5, 2]');
    if (!parsed.ok) return parsed.failure;
    if (!Array.isArray(parsed.value)) {
      return fail('not-a-vector', `expected a JSON array of numbers, got ${describeJsonValue(parsed.value)}${where()}: send e.g. [1.5, 2], or use --format json-object --fields …`);
    }
    return gate(parsed.value as unknown[], dimension, where);
  },

  'json-object': (value, dimension, fields, where) => {
    const expected = fields === undefined ? 'an object such as {"vector": [1.5, 2]}' : `an object with the fields ${fields.join(', ')}`;
    const parsed = parseJson(value.toString('utf8'), where, expected);
    if (!parsed.ok) return parsed.failure;
    const obj = parsed.value;
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
      return fail('not-a-vector', `expected ${expected}, got ${describeJsonValue(obj)}${where()}: send one JSON object per message`);
    }
    const record = obj as Record<string, unknown>;
    if (fields === undefined) {
      const vector = record.vector;
      if (vector === undefined) return fail('missing-field', `the object has no "vector" field${where()}: send {"vector": [...]}, or name the fields with --fields`, 'vector');
      if (!Array.isArray(vector)) return fail('not-a-vector', `the "vector" field is ${describeJsonValue(vector)}, not an array${where()}: send {"vector": [1.5, 2]}`, 'vector');
      return gate(vector as unknown[], dimension, where);
    }
    const out: unknown[] = new Array<unknown>(fields.length);
    for (let i = 0; i < fields.length; i++) {
      const name = fields[i];
      const v = record[name];
      if (v === undefined) {
        return fail('missing-field', `field ${JSON.stringify(name)} is missing${where()}: every message must carry ${fields.join(', ')}; fix the producer or the --fields list`, name);
      }
      out[i] = v;
    }
    return gate(out, dimension, where, fields);
  },

  csv: (value, dimension, _fields, where) => {
    const line = value.toString('utf8').trim();
    if (line === '') return fail('empty', `the line is blank${where()}: every message must carry one point such as 1.5,2`);
    if (line.includes('\n')) return fail('not-a-vector', `the message holds several lines${where()}: send one point per message`);
    const tokens = line.split(',');
    if (dimension !== undefined && tokens.length !== dimension) return gate(tokens, dimension, where);
    const out = new Float64Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) {
      const token = tokens[i].trim();
      const n = token === '' ? NaN : Number(token);
      // Parsing: a token that is not a decimal number (NaN and Infinity are numbers; the gate rejects them).
      if (token === '' || (Number.isNaN(n) && !/^[+-]?nan$/i.test(token))) {
        return fail('not-numeric', `value ${i} is ${token === '' ? 'empty' : excerpt(token)}, not a number${where()}: send decimal numbers separated by commas`, i);
      }
      out[i] = n;
    }
    return gate(out, dimension, where);
  },

  float32le: (value, dimension, _fields, where) => decodeFloats(value, 4, dimension, where),
  float64le: (value, dimension, _fields, where) => decodeFloats(value, 8, dimension, where),
};

const LITTLE_ENDIAN = endianness() === 'LE';

function decodeFloats(value: Buffer, width: 4 | 8, dimension: number | undefined, where: Where): DecodeResult {
  const name = width === 4 ? 'float32le' : 'float64le';
  if (value.length % width !== 0) {
    return fail('wrong-dimension', `the message is ${value.length} bytes, not a multiple of ${width} (${name})${where()}: check that the producer writes ${name} values, or pick the right --format`);
  }
  const n = value.length / width;
  if (dimension !== undefined && n !== dimension) {
    return fail('wrong-dimension', `the message holds ${n} ${name} values, expected ${dimension}${where()}: fix the producer, or set --dimension to match the data`);
  }
  const out = new Float64Array(n);
  if (width === 4 && LITTLE_ENDIAN) {
    // float32le: one byte copy into an aligned Float32Array, then one native widening (message buffers are
    // unaligned slices of a fetch response, so a view cannot be taken; windows and the core are float64)
    const f32 = new Float32Array(n);
    new Uint8Array(f32.buffer).set(value);
    out.set(f32);
  } else if (width === 4) for (let i = 0; i < n; i++) out[i] = value.readFloatLE(i * 4);
  else for (let i = 0; i < n; i++) out[i] = value.readDoubleLE(i * 8);
  return gate(out, dimension, where);
}

/**
 * Encodes a vector as a message value in one of the formats (the inverse of {@link createDecoder}).
 *
 * ## Example
 * ```ts
 * import { encodeVector } from 'emstream';
 *
 * encodeVector([1.5, 2], 'json-array').toString(); // '[1.5,2]'
 * encodeVector([21.5, 40], 'json-object', ['temperature', 'humidity']).toString(); // '{"temperature":21.5,"humidity":40}'
 * encodeVector([1, 2], 'float32le').length; // 8
 * ```
 *
 * @param vector - the coordinates
 * @param format - the message format
 * @param fields - field names for `json-object` (else `{"vector": [...]}`)
 * @returns the message value
 * @throws EmstreamOptionsError when `fields` does not match the vector's length
 */
export function encodeVector(vector: ArrayLike<number>, format: VectorFormat, fields?: readonly string[]): Buffer {
  const values = Array.from(vector);
  switch (format) {
    case 'json-array':
      return Buffer.from(JSON.stringify(values));
    case 'json-object': {
      if (fields === undefined) return Buffer.from(JSON.stringify({ vector: values }));
      if (fields.length !== values.length) {
        throw new EmstreamOptionsError('encodeVector', [{ path: 'fields', message: `${fields.length} names for a vector of ${values.length} coordinates: they must agree` }]);
      }
      const obj: Record<string, number> = {};
      fields.forEach((f, i) => (obj[f] = values[i]));
      return Buffer.from(JSON.stringify(obj));
    }
    case 'csv':
      return Buffer.from(values.join(','));
    case 'float32le': {
      const buf = Buffer.allocUnsafe(values.length * 4);
      values.forEach((v, i) => buf.writeFloatLE(v, i * 4));
      return buf;
    }
    case 'float64le': {
      const buf = Buffer.allocUnsafe(values.length * 8);
      values.forEach((v, i) => buf.writeDoubleLE(v, i * 8));
      return buf;
    }
  }
}
