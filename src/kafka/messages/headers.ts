/**
 * Headers emstream writes on its messages, and where an output's input came from (the `emstream.source` header).
 * Also the JSON-object reader every message codec uses.
 *
 * @module
 */
import type { HeaderValue, ProducedHeaders } from '../client/ports.js';
import { MessageFormatError } from '../errors.js';

/**
 * Header names written by emstream.
 *
 * `source` carries where an input came from as text, `<topic>/<partition>/<offset>` (e.g. `points/0/42`; topic
 * names cannot contain `/`): one header rather than three, because the client encodes every header of every
 * label separately and three of them cost more than the rest of the label. Read it with {@link parseSourceHeader}.
 * `truncated` is set on a dead letter whose value was cut to fit the dead-letter topic: the original length in bytes.
 */
export const HEADERS = {
  source: 'emstream.source',
  reason: 'emstream.error.reason',
  message: 'emstream.error.message',
  pipelineId: 'emstream.pipeline.id',
  truncated: 'emstream.dead-letter.truncated',
} as const;


/**
 * The value of the {@link HEADERS.source} header: `<topic>/<partition>/<offset>`, a missing part left empty;
 * `undefined` when all three are missing.
 */
export function sourceHeaderValue(topic: unknown, partition: unknown, offset: unknown): string | undefined {
  const t = typeof topic === 'string';
  const p = partition !== undefined && partition !== null;
  const o = offset !== undefined && offset !== null;
  if (!t && !p && !o) return undefined;
  return `${t ? topic : ''}/${p ? String(partition) : ''}/${o ? String(offset) : ''}`;
}

/** Source coordinates of an input, as headers (`{ 'emstream.source': 'points/0/42' }`, or `{}` when there are none). */
export function sourceHeaders(topic: unknown, partition: unknown, offset: unknown): ProducedHeaders {
  const value = sourceHeaderValue(topic, partition, offset);
  return value === undefined ? {} : { [HEADERS.source]: value };
}

/** Where an output's input came from, read back from its {@link HEADERS.source} header. */
export interface SourceCoordinates {
  readonly topic: string;
  /** `undefined` when the input had no partition. */
  readonly partition: number | undefined;
  /** Decimal string (Kafka offsets can exceed 2^53); `undefined` when the input had no offset. */
  readonly offset: string | undefined;
}

/**
 * Reads the {@link HEADERS.source} header of a label or dead-letter message.
 *
 * ## Example
 * ```ts
 * import { parseSourceHeader, HEADERS } from 'emstream';
 *
 * parseSourceHeader('points/0/42'); // { topic: 'points', partition: 0, offset: '42' }
 * parseSourceHeader(message.headers?.[HEADERS.source]); // a kafkajs message's header (a Buffer)
 * ```
 *
 * @param value - the header value as a client delivers it (Buffer or string; the first of an array)
 * @returns the coordinates, or `undefined` when the header is missing or not `<topic>/<partition>/<offset>`
 */
export function parseSourceHeader(value: HeaderValue): SourceCoordinates | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return undefined;
  const parts = first.toString().split('/');
  if (parts.length !== 3) return undefined;
  const [topic, p, offset] = parts;
  const partition = p === '' ? undefined : Number(p);
  if (partition !== undefined && !Number.isInteger(partition)) return undefined;
  return { topic, partition, offset: offset === '' ? undefined : offset };
}

/**
 * A message value as a JSON object.
 *
 * @param value - the message value
 * @param what - the kind of message, for the error
 * @throws MessageFormatError when it is a tombstone, not JSON, or not an object
 */
export function readJsonObject(value: Buffer | string | null, what: string): Record<string, unknown> {
  if (value === null) throw new MessageFormatError(`the ${what} message has no value (a tombstone)`, '');
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch (err) {
    throw new MessageFormatError(`the ${what} message is not JSON (${err instanceof Error ? err.message : String(err)})`, '', err);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new MessageFormatError(`the ${what} message is not a JSON object`, '');
  return parsed as Record<string, unknown>;
}
