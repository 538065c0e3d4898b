/**
 * Dead letters: a rejected input with its original bytes and why it was rejected (headers), cut to fit the
 * dead-letter topic when needed; and how to read one back.
 *
 * @module
 */
import type { HeaderValue, ProducedHeaders, ProducedMessage } from '../client/ports.js';
import type { KafkaEvents } from '../events.js';
import { HEADERS, parseSourceHeader, sourceHeaders, type SourceCoordinates } from './headers.js';
import { BATCH_OVERHEAD_BYTES, byteLength, messageBytes } from './sizes.js';

/** Where a dead letter comes from: the rejected record's coordinates, key, value and headers. */
export interface DeadLetterSource {
  readonly topic?: unknown;
  readonly partition?: unknown;
  readonly offset?: unknown;
  readonly key?: string | Buffer | null;
  readonly value?: Buffer | string | null;
}

/** Options of {@link deadLetterMessage}. */
export interface DeadLetterOptions {
  /** Written to a header when given. */
  readonly pipelineId?: string;
  /**
   * The dead-letter topic's `max.message.bytes`: a dead letter whose record batch would exceed it has its value (and,
   * if needed, its key) cut to fit, and carries the {@link HEADERS.truncated} header with the original value length.
   */
  readonly maxMessageBytes?: number;
}

/** Longest error message written to the {@link HEADERS.message} header. */
const MAX_MESSAGE_HEADER = 1000;

/**
 * A dead-letter message: the original key and value bytes, with the reason, the message and the source
 * coordinates in headers; cut to fit the dead-letter topic when it would not (with a header that says so).
 *
 * ## Example
 * ```ts
 * import { deadLetterMessage, HEADERS } from 'emstream';
 *
 * const big = Buffer.alloc(2 << 20, 'x'); // 2 MiB
 * const letter = deadLetterMessage({ topic: 'points', partition: 0, offset: '7', value: big }, 'oversized', 'too big', { maxMessageBytes: 1 << 20 });
 * console.log(letter.value!.length < 1 << 20, letter.headers![HEADERS.truncated]); // true '2097152'
 * ```
 *
 * @param source - where the bad message came from, and its key/value
 * @param reason - machine-readable reason (`not-json`, `wrong-dimension`, …)
 * @param message - human-readable explanation
 * @param options - pipeline id, the dead-letter topic's size limit
 * @returns the message
 */
export function deadLetterMessage(source: DeadLetterSource, reason: string, message: string, options: DeadLetterOptions | string = {}): ProducedMessage {
  const { pipelineId, maxMessageBytes } = typeof options === 'string' ? { pipelineId: options, maxMessageBytes: undefined } : options;
  const headers: ProducedHeaders = {
    ...sourceHeaders(source.topic, source.partition, source.offset),
    [HEADERS.reason]: reason,
    [HEADERS.message]: message.length > MAX_MESSAGE_HEADER ? `${message.slice(0, MAX_MESSAGE_HEADER)}…` : message,
  };
  if (pipelineId !== undefined) headers[HEADERS.pipelineId] = pipelineId;
  let key = source.key ?? null;
  let value = source.value ?? null;
  const out: ProducedMessage = { key, value, headers };
  if (maxMessageBytes === undefined || BATCH_OVERHEAD_BYTES + messageBytes(out) <= maxMessageBytes) return out;
  // Cut to fit: the value first, then the key; the header says how long the value was.
  const originalLength = byteLength(value);
  headers[HEADERS.truncated] = String(originalLength);
  const room = (): number => maxMessageBytes - BATCH_OVERHEAD_BYTES - messageBytes({ key, value: null, headers }) - 64;
  if (room() < 0 && key !== null) {
    const k = typeof key === 'string' ? Buffer.from(key) : key;
    key = k.subarray(0, Math.max(0, k.length + room()));
  }
  const bytes = value === null ? Buffer.alloc(0) : typeof value === 'string' ? Buffer.from(value) : value;
  value = bytes.subarray(0, Math.max(0, Math.min(bytes.length, room())));
  return { key, value, headers };
}

/** A dead letter read back. */
export interface ReadDeadLetter {
  readonly reason: string | undefined;
  readonly message: string | undefined;
  readonly source: SourceCoordinates | undefined;
  readonly pipelineId: string | undefined;
  /** The original value's length in bytes when the value was cut to fit the topic, else `undefined`. */
  readonly truncatedFrom: number | undefined;
}

/**
 * Reads the headers of a dead letter.
 *
 * @param headers - the message's headers as a client delivers them
 * @returns reason, message, source, pipeline id and the original length when truncated
 */
export function readDeadLetter(headers: Readonly<Record<string, HeaderValue>> | undefined): ReadDeadLetter {
  const text = (name: string): string | undefined => {
    const v = headers?.[name];
    const first = Array.isArray(v) ? v[0] : v;
    return first === undefined ? undefined : first.toString();
  };
  const truncated = text(HEADERS.truncated);
  return {
    reason: text(HEADERS.reason),
    message: text(HEADERS.message),
    source: parseSourceHeader(headers?.[HEADERS.source]),
    pipelineId: text(HEADERS.pipelineId),
    truncatedFrom: truncated === undefined ? undefined : Number(truncated),
  };
}

/** The dead-letter source of whatever the pipeline rejected: a KafkaRecord (with its original bytes), or a bare value. */
export function deadLetterSourceOf(record: unknown): DeadLetterSource {
  if (typeof record !== 'object' || record === null || Array.isArray(record) || ArrayBuffer.isView(record)) {
    return { value: JSON.stringify(Array.isArray(record) ? record : ArrayBuffer.isView(record) ? Array.from(record as Float64Array) : (record ?? null)) };
  }
  const r = record as { topic?: unknown; partition?: unknown; offset?: unknown; key?: string | Buffer | null; value?: Buffer | string | null; vector?: unknown };
  let value = r.value;
  if (value === undefined) {
    // The original bytes were not kept: write the vector as JSON.
    const v = r.vector;
    value = JSON.stringify(ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : (v ?? null));
  }
  return { topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, value };
}

/**
 * The `kafka.dead-letter` event of a dead letter: its reason, where its record came from, its value's size as sent
 * and whether it was cut to fit.
 *
 * @param letter - the dead-letter message ({@link deadLetterMessage})
 * @param reason - why the record was rejected
 * @param where - the record's coordinates (missing ones are written empty)
 */
export function deadLetterEvent(letter: ProducedMessage, reason: string, where: { topic?: string; partition?: number; offset?: string }): KafkaEvents['kafka.dead-letter'] {
  const value = letter.value;
  return {
    reason,
    topic: where.topic ?? '',
    partition: where.partition ?? -1,
    offset: where.offset ?? '',
    bytes: value === null ? 0 : typeof value === 'string' ? Buffer.byteLength(value) : value.length,
    truncated: letter.headers?.[HEADERS.truncated] !== undefined,
  };
}
