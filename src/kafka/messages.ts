/**
 * The messages the Kafka edge writes and how to read them back, in one place: headers, label messages, model
 * (state) messages, dead letters, their readers, and the outputs that bind a message format to a topic.
 *
 * A record's topic/partition/offset is read by one function, {@link recordCoordinates} (from the input gate,
 * `src/operators/vectorInput.ts`), wherever a message needs it.
 *
 * @module
 */
import { EmstreamError } from '../errors.js';
import { paramsFromJSON, type MixtureJSON } from '../gmm/model.js';
import type { SufficientStatsJSON } from '../gmm/stats.js';
import type { StreamingStateJSON } from '../gmm/streaming.js';
import type { DriftRecord, WindowRecord } from '../monitoring/history.js';
import type { MixtureUpdate, PointLabel } from '../operators/types.js';
import { recordCoordinates, type RecordCoordinates } from '../operators/vectorInput.js';
import type { HeaderValue, ProducedHeaders, ProducedMessage } from './client.js';
import type { EventOffset } from './events.js';

export { recordCoordinates, type RecordCoordinates };

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

/** A message format error: a model or dead-letter message that cannot be read back. */
export class MessageFormatError extends EmstreamError<{ readonly field: string }> {
  override readonly name: string = 'MessageFormatError';

  /**
   * @param message - what is wrong with the message and what to do
   * @param field - the offending field (`''` for the message itself)
   * @param cause - the parse error behind it
   */
  constructor(message: string, field: string, cause?: unknown) {
    super(message, { cause, context: { field } });
  }
}

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

/** A number as JSON text (`null` for NaN/±Infinity, as JSON.stringify does). */
function num(x: number): string {
  return Number.isFinite(x) ? String(x) : 'null';
}

/** The value of a label message. */
export interface LabelValue {
  readonly label: number;
  readonly probability: number;
  readonly logDensity: number;
  readonly windowIndex: number;
  readonly modelVersion: number;
  /** The input vector, when the run writes it (`includeVector`). */
  readonly vector?: number[];
}

/**
 * The message of one label: value `{"label","probability","logDensity","windowIndex","modelVersion"[,"vector"]}`,
 * key = the input record's key, header {@link HEADERS.source} = the input's `<topic>/<partition>/<offset>`.
 *
 * @param point - the labelled point
 * @param includeVector - also write the input vector
 * @returns the message
 */
export function labelMessage(point: PointLabel<unknown>, includeVector = false): ProducedMessage {
  return labelOf(point.record, point.label, point.probability, point.logDensity, point.windowIndex, point.modelVersion, includeVector);
}

/** A label message from its parts (no intermediate object per point). */
function labelOf(record: unknown, label: number, probability: number, logDensity: number, windowIndex: number, modelVersion: number, includeVector: boolean): ProducedMessage {
  const { topic, partition, offset } = recordCoordinates(record);
  let value = `{"label":${label},"probability":${num(probability)},"logDensity":${num(logDensity)},"windowIndex":${windowIndex},"modelVersion":${modelVersion}`;
  if (includeVector) {
    const isVector = Array.isArray(record) || ArrayBuffer.isView(record);
    const vector = isVector ? (record as ArrayLike<number>) : (record as { vector?: ArrayLike<number> } | null)?.vector;
    if (vector !== undefined) value += `,"vector":${JSON.stringify(Array.from(vector))}`;
  }
  value += '}';
  const key = typeof record === 'object' && record !== null ? (record as { key?: unknown }).key : undefined;
  return { key: typeof key === 'string' || key instanceof Uint8Array ? (key as string | Buffer) : null, value, headers: sourceHeaders(topic, partition, offset) };
}

/**
 * Reads a label message's value.
 *
 * @param value - the message value (Buffer or string)
 * @returns the label
 * @throws MessageFormatError when it is not a label written by emstream
 */
export function readLabelMessage(value: Buffer | string | null): LabelValue {
  const parsed = parseObject(value, 'label');
  for (const field of ['label', 'windowIndex', 'modelVersion'] as const) {
    if (!Number.isInteger(parsed[field])) throw new MessageFormatError(`a label message needs an integer "${field}"`, field);
  }
  return parsed as unknown as LabelValue;
}

/** How the statistics of a state are written in a model message: float64 little-endian, base64. */
export interface CompactStatsJSON {
  readonly encoding: 'f64le-base64';
  readonly k: number;
  readonly d: number;
  readonly covarianceType: SufficientStatsJSON['covarianceType'];
  readonly shift: string;
  readonly s0: string;
  readonly s1: string;
  readonly s2: string;
}

/**
 * The streaming state inside a model message, written compactly: the model is not repeated (it is the message's
 * top-level fields) and the sufficient statistics (K·D² numbers for full covariances) are float64 little-endian
 * in base64, about 11 characters a number instead of about 19 (exact: the same doubles come back).
 */
export interface CompactStateJSON extends Omit<StreamingStateJSON, 'model' | 'stats'> {
  readonly stats: CompactStatsJSON | null;
}

/** Current version of the model message layout ({@link ModelMessage.messageVersion}). */
export const MODEL_MESSAGE_VERSION = 2;

/**
 * The value of a model message on the compacted models topic, keyed by pipeline id. The top-level fields are the
 * model (loadable as is by `GaussianMixture.fromJSON`) and what the window said about it, as before; version 2
 * adds the whole streaming state and the input offsets it covers, so a restarted runner resumes exactly.
 */
export interface ModelMessage extends MixtureJSON {
  readonly pipelineId: string;
  /** Fitted windows of this pipeline id before this one (0-based, continues across restarts). */
  readonly windowIndex: number;
  /** The pipeline's model version (+1 per window, continues across restarts); `version` is the model format's version. */
  readonly modelVersion: number;
  readonly n: number;
  readonly logLikelihood: number;
  readonly expectedLogLikelihood: number;
  readonly predictiveLogLikelihood: number | null;
  readonly iterations: number;
  readonly converged: boolean;
  readonly restarted: boolean;
  readonly drift: readonly { readonly kind: string; readonly statistic: number; readonly threshold: number }[];
  /** Matched distance between the previous model and this one (0 on the first window; absent in older messages). */
  readonly modelDistance?: number;
  /** The Page-Hinkley statistic after this window and its threshold λ (absent in older messages). */
  readonly pageHinkley?: { readonly statistic: number; readonly threshold: number };
  /** Milliseconds since the epoch when the update was produced. */
  readonly producedAt: number;
  /** Layout version of this message (2: with `state` and `offsets`; absent in version 1). */
  readonly messageVersion?: number;
  /** The whole streaming state after this window (compact form; read it with {@link readModelMessage}). */
  readonly state?: CompactStateJSON;
  /**
   * Per input partition, the offset after the last record whose point is in the state's statistics: on restart,
   * records below it are already counted (and labelled) and are skipped.
   */
  readonly offsets?: readonly EventOffset[];
}

const f64ToBase64 = (values: readonly number[] | Float64Array): string => Buffer.from(Float64Array.from(values).buffer).toString('base64');

function base64ToF64(text: unknown, field: string): number[] {
  if (typeof text !== 'string') throw new MessageFormatError(`state.stats.${field} must be a base64 string`, `state.stats.${field}`);
  const bytes = Buffer.from(text, 'base64');
  if (bytes.length % 8 !== 0) throw new MessageFormatError(`state.stats.${field} is not a whole number of float64 values`, `state.stats.${field}`);
  const out = new Array<number>(bytes.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = bytes.readDoubleLE(i * 8);
  return out;
}

/**
 * The compact form of a streaming state, as written in model messages.
 *
 * @param state - the state ({@link StreamingGmm.toJSON}, `MixtureUpdate.state`)
 * @returns the state without its model and with its statistics in base64
 */
export function compactState(state: StreamingStateJSON): CompactStateJSON {
  const { model: _model, stats, ...rest } = state;
  const compact: CompactStatsJSON | null =
    stats === null
      ? null
      : { encoding: 'f64le-base64', k: stats.k, d: stats.d, covarianceType: stats.covarianceType, shift: f64ToBase64(stats.shift), s0: f64ToBase64(stats.s0), s1: f64ToBase64(stats.s1), s2: f64ToBase64(stats.s2) };
  return { ...rest, stats: compact };
}

/**
 * The streaming state back from its compact form.
 *
 * @param compact - `message.state`
 * @param model - the message's model (its top-level fields)
 * @returns the state, ready for `fitMixture({ initialState })`
 * @throws MessageFormatError when the statistics are malformed
 */
export function expandState(compact: CompactStateJSON, model: MixtureJSON | null): StreamingStateJSON {
  const { stats, ...rest } = compact;
  let full: SufficientStatsJSON | null = null;
  if (stats !== null && stats !== undefined) {
    if (stats.encoding !== 'f64le-base64') throw new MessageFormatError(`unknown statistics encoding ${JSON.stringify(stats.encoding)}`, 'state.stats.encoding');
    full = { k: stats.k, d: stats.d, covarianceType: stats.covarianceType, shift: base64ToF64(stats.shift, 'shift'), s0: base64ToF64(stats.s0, 's0'), s1: base64ToF64(stats.s1, 's1'), s2: base64ToF64(stats.s2, 's2') };
  }
  return { ...rest, model: full === null ? null : model, stats: full };
}

/** What {@link modelMessage} needs besides the update. */
export interface ModelMessageOptions {
  /** Fitted windows of the pipeline id before this one (default: the update's `state.windows − 1`, else its `windowIndex`). */
  readonly windowIndex?: number;
  /** The input offsets the state covers (see {@link ModelMessage.offsets}). */
  readonly offsets?: readonly EventOffset[];
}

/** The window index written in messages: fitted windows of the pipeline id before this one. */
export function messageWindowIndex(update: MixtureUpdate<unknown>): number {
  const windows = update.state?.windows;
  return typeof windows === 'number' && windows >= 1 ? windows - 1 : update.windowIndex;
}

/**
 * The model-topic message of one update: key = pipeline id (so compaction keeps the latest), value = {@link ModelMessage}
 * (the model, the window's figures, the whole state in compact form and the input offsets it covers).
 *
 * @param update - the window's model update
 * @param pipelineId - the key
 * @param options - the window index and the covered offsets
 * @returns the message
 */
export function modelMessage(update: MixtureUpdate<unknown>, pipelineId: string, options: ModelMessageOptions = {}): ProducedMessage {
  const value: ModelMessage = {
    ...update.model,
    pipelineId,
    windowIndex: options.windowIndex ?? messageWindowIndex(update),
    modelVersion: update.version,
    n: update.window.n,
    logLikelihood: update.logLikelihood,
    expectedLogLikelihood: update.expectedLogLikelihood,
    predictiveLogLikelihood: update.predictiveLogLikelihood,
    iterations: update.iterations,
    converged: update.converged,
    restarted: update.restarted,
    drift: update.drift.map((e) => ({ kind: e.kind, statistic: e.statistic, threshold: e.threshold })),
    modelDistance: update.modelDistance,
    pageHinkley: { statistic: update.pageHinkley.statistic, threshold: update.pageHinkley.threshold },
    producedAt: Date.now(),
    messageVersion: MODEL_MESSAGE_VERSION,
    ...(update.state === undefined ? {} : { state: compactState(update.state) }),
    offsets: options.offsets ?? [],
  };
  return { key: pipelineId, value: JSON.stringify(value), headers: { [HEADERS.pipelineId]: pipelineId } };
}

/** A model message read back. */
export interface ReadModelMessage {
  /** The whole message value. */
  readonly message: ModelMessage;
  /** The model (the top-level fields), checked. */
  readonly model: MixtureJSON;
  /** The whole streaming state (version 2 messages), ready for `initialState`; `undefined` for version 1. */
  readonly state: StreamingStateJSON | undefined;
  /** The input offsets the state covers (empty for version 1). */
  readonly offsets: readonly EventOffset[];
}

function parseObject(value: Buffer | string | null, what: string): Record<string, unknown> {
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

/**
 * Reads a model message's value: the model, the whole state (when the message has one) and the offsets it covers.
 *
 * ## Example
 * ```ts
 * import { readModelMessage } from 'emstream';
 *
 * const { model, state, offsets } = readModelMessage(message.value); // a message of the models topic
 * console.log(model.k, state?.modelVersion, offsets); // 3 147 [{ topic: 'points', partition: 0, offset: '73500' }]
 * ```
 *
 * @param value - the message value (Buffer or string)
 * @returns the model, the state and the offsets
 * @throws MessageFormatError when it is not a model message, or its model or state is malformed
 */
export function readModelMessage(value: Buffer | string | null): ReadModelMessage {
  const message = parseObject(value, 'model') as unknown as ModelMessage;
  try {
    paramsFromJSON(message);
  } catch (err) {
    throw new MessageFormatError(`the model message holds no valid model: ${err instanceof Error ? err.message : String(err)}`, 'model', err);
  }
  if (!Number.isInteger(message.modelVersion)) throw new MessageFormatError('a model message needs an integer "modelVersion"', 'modelVersion');
  const { format, version, covarianceType, k, d, weights, means, covariances } = message;
  const model: MixtureJSON = { format, version, covarianceType, k, d, weights, means, covariances };
  let state: StreamingStateJSON | undefined;
  if (message.state !== undefined) {
    if (typeof message.state !== 'object' || message.state === null) throw new MessageFormatError('"state" must be an object', 'state');
    state = expandState(message.state, model);
  }
  const offsets = Array.isArray(message.offsets)
    ? message.offsets.filter((o): o is EventOffset => typeof o === 'object' && o !== null && typeof o.topic === 'string' && Number.isInteger(o.partition) && typeof o.offset === 'string' && /^\d+$/.test(o.offset))
    : [];
  return { message, model, state, offsets };
}

/** Bytes a record adds to a record batch beyond its key, value and headers (length, attributes, deltas, varints). */
export const RECORD_OVERHEAD_BYTES = 48;
/** Bytes of a record batch's own header (RecordBatch v2). */
export const BATCH_OVERHEAD_BYTES = 61;

function byteLength(x: string | Buffer | null | undefined): number {
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

/** One outgoing message: the topic and the message. */
export interface OutgoingMessage {
  readonly topic: string;
  readonly message: ProducedMessage;
}

/** What an output sees of an acknowledged-to-be window. */
export interface WindowOutcome<R = unknown> {
  readonly update: MixtureUpdate<R>;
  readonly pipelineId: string;
  /** Fitted windows of the pipeline id before this one ({@link messageWindowIndex}). */
  readonly windowIndex: number;
  /** The input offsets the state covers after this window. */
  readonly offsets: readonly EventOffset[];
}

/** Settings of a topic the runner creates for an output. */
export interface OutputTopicSettings {
  /** `cleanup.policy=compact` (the models topic). */
  readonly compacted?: boolean;
  /** `max.message.bytes` of the created topic. */
  readonly maxMessageBytes?: number;
  /** `retention.ms` of the created topic (delete policy: messages older than this are removed). */
  readonly retentionMs?: number;
}

/**
 * One output of a window: a topic and the messages of each window for it. The runner produces every output's
 * messages of a window together and commits the window's inputs once all are acknowledged, so more outputs (a drift
 * topic, a window history) plug in beside the labels and the state without touching delivery.
 */
export interface WindowOutput<R = unknown> {
  readonly topic: string;
  /** How the runner creates the topic when it is missing. */
  readonly settings?: OutputTopicSettings;
  /** Appends the window's messages for this output to `into`. */
  messages(outcome: WindowOutcome<R>, into: OutgoingMessage[]): void;
}

/**
 * The labels output: one label message per point.
 *
 * @param topic - the labels topic
 * @param options - whether labels carry the input vector
 * @returns the output
 */
export function labelsOutput<R>(topic: string, options: { includeVector?: boolean } = {}): WindowOutput<R> {
  const includeVector = options.includeVector ?? false;
  return {
    topic,
    messages: ({ update, windowIndex }, into) => {
      const { records } = update.window;
      const { labels, probabilities, logDensities, version } = update;
      for (let i = 0; i < labels.length; i++) {
        into.push({ topic, message: labelOf(records[i], labels[i], probabilities[i], logDensities[i], windowIndex, version, includeVector) });
      }
    },
  };
}

/**
 * The state output: one model message per window (the model, the whole state, the covered offsets) on a compacted topic.
 *
 * @param topic - the models topic
 * @param options - `max.message.bytes` of the topic when it is created
 * @returns the output
 */
export function stateOutput<R>(topic: string, options: { maxMessageBytes?: number } = {}): WindowOutput<R> {
  return {
    topic,
    settings: { compacted: true, maxMessageBytes: options.maxMessageBytes },
    messages: ({ update, pipelineId, windowIndex, offsets }, into) => {
      into.push({ topic, message: modelMessage(update as MixtureUpdate<unknown>, pipelineId, { windowIndex, offsets }) });
    },
  };
}

/**
 * The window-history message of one window: key = pipeline id, value = the {@link WindowRecord} as JSON
 * (`format: 'emstream.window'`), header {@link HEADERS.pipelineId}.
 *
 * @param record - the window's record (`windowRecord(update, counts, { pipelineId })`)
 * @returns the message
 */
export function windowMessage(record: WindowRecord): ProducedMessage {
  return { key: record.pipelineId, value: JSON.stringify(record), headers: { [HEADERS.pipelineId]: record.pipelineId } };
}

/**
 * The drift message of one alarm: key = pipeline id, value = the {@link DriftRecord} as JSON (`format: 'emstream.drift'`),
 * header {@link HEADERS.pipelineId}.
 *
 * @param record - one of `driftRecords(update, previousModel, { pipelineId })`
 * @returns the message
 */
export function driftMessage(record: DriftRecord): ProducedMessage {
  return { key: record.pipelineId, value: JSON.stringify(record), headers: { [HEADERS.pipelineId]: record.pipelineId } };
}

/** Checks the fields every window-history and drift message has. */
function checkHistoryMessage(parsed: Record<string, unknown>, format: string, what: string): void {
  if (parsed.format !== format) throw new MessageFormatError(`a ${what} message has "format": "${format}", not ${JSON.stringify(parsed.format)}`, 'format');
  if (parsed.version !== 1) throw new MessageFormatError(`unknown ${what} message version ${JSON.stringify(parsed.version)}: upgrade emstream to read it`, 'version');
  if (typeof parsed.pipelineId !== 'string') throw new MessageFormatError(`a ${what} message needs a string "pipelineId"`, 'pipelineId');
  for (const field of ['windowIndex', 'modelVersion'] as const) {
    if (!Number.isInteger(parsed[field])) throw new MessageFormatError(`a ${what} message needs an integer "${field}"`, field);
  }
}

/**
 * Reads a message of the window-history topic.
 *
 * ## Example
 * ```ts
 * import { readWindowMessage } from 'emstream';
 *
 * const w = readWindowMessage(message.value); // a message of the <input>.windows topic
 * console.log(w.windowIndex, w.predictiveLogLikelihood, w.counts.labelled); // 41 -2.83 1000
 * ```
 *
 * @param value - the message value (Buffer or string)
 * @returns the window record
 * @throws MessageFormatError when it is not a window-history message written by emstream
 */
export function readWindowMessage(value: Buffer | string | null): WindowRecord {
  const parsed = parseObject(value, 'window-history');
  checkHistoryMessage(parsed, 'emstream.window', 'window-history');
  if (!Array.isArray(parsed.weights)) throw new MessageFormatError('a window-history message needs "weights" (an array)', 'weights');
  if (typeof parsed.counts !== 'object' || parsed.counts === null) throw new MessageFormatError('a window-history message needs "counts"', 'counts');
  if (typeof parsed.pageHinkley !== 'object' || parsed.pageHinkley === null) throw new MessageFormatError('a window-history message needs "pageHinkley"', 'pageHinkley');
  return parsed as unknown as WindowRecord;
}

/**
 * Reads a message of the drift topic.
 *
 * @param value - the message value (Buffer or string)
 * @returns the drift record
 * @throws MessageFormatError when it is not a drift message written by emstream
 */
export function readDriftMessage(value: Buffer | string | null): DriftRecord {
  const parsed = parseObject(value, 'drift');
  checkHistoryMessage(parsed, 'emstream.drift', 'drift');
  if (typeof parsed.kind !== 'string') throw new MessageFormatError('a drift message needs a string "kind"', 'kind');
  if (!Array.isArray(parsed.components)) throw new MessageFormatError('a drift message needs "components" (an array)', 'components');
  if (!Array.isArray(parsed.flagged)) parsed.flagged = [];
  return parsed as unknown as DriftRecord;
}

/** Default retention of a created window-history topic: 7 days. */
export const DEFAULT_WINDOWS_RETENTION_MS = 7 * 24 * 3600 * 1000;
/** Default retention of a created drift topic: 30 days. */
export const DEFAULT_DRIFT_RETENTION_MS = 30 * 24 * 3600 * 1000;

/**
 * The window-history output: one {@link windowMessage} per window, on a topic with the delete policy and a time retention.
 *
 * @param topic - the window-history topic
 * @param record - the window's record (the runner's {@link WindowRecorder} adds counts, fit time, lag and offsets)
 * @param options - `retention.ms` of the topic when it is created (default 7 days)
 * @returns the output
 */
export function windowHistoryOutput<R>(topic: string, record: (outcome: WindowOutcome<R>) => WindowRecord, options: { retentionMs?: number } = {}): WindowOutput<R> {
  return {
    topic,
    settings: { retentionMs: options.retentionMs ?? DEFAULT_WINDOWS_RETENTION_MS },
    messages: (outcome, into) => {
      into.push({ topic, message: windowMessage(record(outcome)) });
    },
  };
}

/**
 * The drift output: one {@link driftMessage} per drift alarm of the window (none on most windows), on a topic with
 * the delete policy and a time retention (a compacted topic would keep only the latest alarm).
 *
 * @param topic - the drift topic
 * @param records - the window's drift records
 * @param options - `retention.ms` of the topic when it is created (default 30 days)
 * @returns the output
 */
export function driftOutput<R>(topic: string, records: (outcome: WindowOutcome<R>) => readonly DriftRecord[], options: { retentionMs?: number } = {}): WindowOutput<R> {
  return {
    topic,
    settings: { retentionMs: options.retentionMs ?? DEFAULT_DRIFT_RETENTION_MS },
    messages: (outcome, into) => {
      if (outcome.update.drift.length === 0) return;
      for (const r of records(outcome)) into.push({ topic, message: driftMessage(r) });
    },
  };
}
