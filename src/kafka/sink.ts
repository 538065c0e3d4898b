/**
 * Kafka sinks: batched sends with ordered acknowledgements, the label / model / dead-letter message
 * formats, and output topic creation.
 *
 * @module
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { Logger } from 'pino';
import type { MixtureJSON } from '../gmm/model.js';
import type { MixtureUpdate, PointLabel } from '../operators/types.js';
import { KafkaEdgeError, type AdminLike, type HeaderValue, type ProducedHeaders, type ProducedMessage, type ProducerLike } from './client.js';

/**
 * Header names written by emstream.
 *
 * `source` carries where an input came from as text, `<topic>/<partition>/<offset>` (e.g. `points/0/42`; topic
 * names cannot contain `/`): one header rather than three, because the client encodes every header of every
 * label separately and three of them cost more than the rest of the label. Read it with {@link parseSourceHeader}.
 */
export const HEADERS = {
  source: 'emstream.source',
  reason: 'emstream.error.reason',
  message: 'emstream.error.message',
  pipelineId: 'emstream.pipeline.id',
} as const;

/** Options of {@link BatchSender}. */
export interface BatchSenderOptions {
  /** Seal a batch at this many messages (default 1000: kafkajs groups messages per partition in O(n²), so bigger batches get slower). */
  readonly maxBatchMessages?: number;
  /** Flush when this many value bytes are buffered (default 512 KiB; keep under the broker's `message.max.bytes`). */
  readonly maxBatchBytes?: number;
  /** Seal the open batch this long after its first message, in ms (default 5); if every send slot is busy then, it is sealed when one frees up. */
  readonly lingerMs?: number;
  /**
   * Most `sendBatch` calls in flight at once (default 1). With more than one, a retried or slower send can land
   * after a later one, so the latest model on the compacted topic may not be the last written.
   */
  readonly maxConcurrentSends?: number;
  /** Called once when a send fails for good (after the client's own retries). Later acknowledgements are not run. */
  readonly onError?: (error: KafkaEdgeError) => void;
  readonly logger?: Logger;
}

interface PendingBatch {
  readonly topicMessages: Map<string, ProducedMessage[]>;
  readonly onAck: (() => void)[];
  count: number;
  bytes: number;
  done: boolean;
}

/**
 * Batches messages for any number of topics into `sendBatch` calls (kafkajs does no lingering of its own),
 * and runs acknowledgement callbacks strictly in enqueue order.
 *
 * 1. `enqueue` adds messages to the open batch, with a callback to run once they are all acknowledged.
 * 2. The open batch is sealed when it reaches `maxBatchMessages` / `maxBatchBytes`, after `lingerMs`, or on
 *    `flush`; sealed batches are sent in order, at most `maxConcurrentSends` at once (default 1: strictly in order).
 *    When `lingerMs` runs out while every send slot is busy, the open batch keeps filling and is sealed as soon
 *    as a slot frees up (sealing it earlier would only queue a smaller batch behind the others).
 * 3. When a send completes, the callbacks of every completed batch at the head of the queue run, so a
 *    callback never runs before the callbacks of earlier messages.
 * 4. A failed send is fatal: `onError` is called, no later callback runs, and `flush` rejects.
 */
export class BatchSender {
  private readonly maxBatchMessages: number;
  private readonly maxBatchBytes: number;
  private readonly lingerMs: number;
  private readonly maxConcurrentSends: number;
  private open: PendingBatch = BatchSender.newBatch();
  private readonly sealed: PendingBatch[] = [];
  private readonly inFlight: PendingBatch[] = [];
  private sending = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The open batch's linger ran out while every send slot was busy: seal it as soon as one frees up. */
  private lingerDue = false;
  private failure: KafkaEdgeError | undefined;
  private idleWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** Messages acknowledged by the broker so far. */
  acknowledged = 0;

  /**
   * @param producer - a connected producer
   * @param options - batch bounds, linger, concurrency, error callback
   */
  constructor(
    private readonly producer: ProducerLike,
    private readonly options: BatchSenderOptions = {},
  ) {
    this.maxBatchMessages = options.maxBatchMessages ?? 1000;
    this.maxBatchBytes = options.maxBatchBytes ?? 512 * 1024;
    this.lingerMs = options.lingerMs ?? 5;
    this.maxConcurrentSends = options.maxConcurrentSends ?? 1;
  }

  private static newBatch(): PendingBatch {
    return { topicMessages: new Map(), onAck: [], count: 0, bytes: 0, done: false };
  }

  /** The failure that stopped this sender, if any. */
  get error(): KafkaEdgeError | undefined {
    return this.failure;
  }

  /**
   * Adds messages; `onAck` runs once they (and everything enqueued before) are acknowledged.
   *
   * @param messages - `{ topic, message }` pairs
   * @param onAck - acknowledgement callback
   */
  enqueue(messages: readonly { topic: string; message: ProducedMessage }[], onAck?: () => void): void {
    if (this.failure !== undefined) return;
    for (const { topic, message } of messages) {
      if (this.open.count >= this.maxBatchMessages || this.open.bytes >= this.maxBatchBytes) this.seal();
      const batch = this.open;
      let list = batch.topicMessages.get(topic);
      if (list === undefined) batch.topicMessages.set(topic, (list = []));
      list.push(message);
      batch.count++;
      batch.bytes += (message.value?.length ?? 0) + 64;
    }
    if (onAck !== undefined) this.open.onAck.push(onAck);
    if (this.open.count >= this.maxBatchMessages || this.open.bytes >= this.maxBatchBytes) this.seal();
    else if (this.timer === undefined && !this.lingerDue && (this.open.count > 0 || this.open.onAck.length > 0)) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        // With every send slot busy, sealing now would only queue a small batch behind the others: keep
        // filling the open batch and seal it when a slot frees up.
        if (this.sending < this.maxConcurrentSends) this.seal();
        else this.lingerDue = true;
      }, this.lingerMs);
    }
    this.pump();
  }

  /** Closes the open batch (if it holds anything) and queues it for sending. */
  private seal(): void {
    this.lingerDue = false;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.open;
    if (batch.count === 0 && batch.onAck.length === 0) return;
    this.open = BatchSender.newBatch();
    this.sealed.push(batch);
    this.pump();
  }

  /** Starts sends of sealed batches, in order, up to the concurrency bound. */
  private pump(): void {
    while (this.sending < this.maxConcurrentSends && this.sealed.length > 0 && this.failure === undefined) {
      this.send(this.sealed.shift()!);
    }
  }

  private send(batch: PendingBatch): void {
    this.inFlight.push(batch);
    this.sending++;
    const topicMessages = [...batch.topicMessages].map(([topic, messages]) => ({ topic, messages }));
    const send = batch.count === 0 ? Promise.resolve() : this.producer.sendBatch({ topicMessages });
    send.then(
      () => {
        this.sending--;
        batch.done = true;
        this.acknowledged += batch.count;
        this.drainAcks();
        this.pump();
        if (this.lingerDue && this.sending < this.maxConcurrentSends) this.seal();
        this.checkIdle();
      },
      (err: unknown) => {
        this.sending--;
        const topics = topicMessages.map((t) => t.topic);
        this.fail(
          new KafkaEdgeError(
            `could not produce ${batch.count} message(s) to ${topics.map((t) => JSON.stringify(t)).join(', ')}: ${err instanceof Error ? err.message : String(err)}; ` +
              'nothing after the last acknowledged output was committed, so a restart re-processes it',
            { topic: topics[0], operation: 'produce' },
            { cause: err },
          ),
        );
      },
    );
  }

  private drainAcks(): void {
    while (this.inFlight.length > 0 && this.inFlight[0].done && this.failure === undefined) {
      const batch = this.inFlight.shift()!;
      for (const cb of batch.onAck) cb();
    }
  }

  private fail(error: KafkaEdgeError): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.options.logger?.error({ err: error }, error.message);
    this.options.onError?.(error);
    for (const w of this.idleWaiters.splice(0)) w.reject(error);
  }

  private checkIdle(): void {
    if (this.sending === 0 && this.inFlight.length === 0 && this.sealed.length === 0 && this.open.count === 0 && this.open.onAck.length === 0) {
      for (const w of this.idleWaiters.splice(0)) w.resolve();
    }
  }

  /**
   * Sends whatever is buffered and resolves when every message enqueued so far is acknowledged.
   *
   * @throws KafkaEdgeError when a send failed
   */
  flush(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const idle = new Promise<void>((resolve, reject) => this.idleWaiters.push({ resolve, reject }));
    this.seal();
    this.checkIdle();
    return idle;
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

/** The fields a label message reads from its record. */
interface TraceableRecord {
  readonly key?: string | null;
  readonly topic?: unknown;
  readonly partition?: unknown;
  readonly offset?: unknown;
  readonly vector?: ArrayLike<number>;
}

function asTraceable(record: unknown): TraceableRecord {
  return typeof record === 'object' && record !== null && !Array.isArray(record) && !ArrayBuffer.isView(record) ? (record as TraceableRecord) : {};
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
  const rec = asTraceable(point.record);
  let value = `{"label":${point.label},"probability":${num(point.probability)},"logDensity":${num(point.logDensity)},"windowIndex":${point.windowIndex},"modelVersion":${point.modelVersion}`;
  if (includeVector && rec.vector !== undefined) value += `,"vector":${JSON.stringify(Array.from(rec.vector))}`;
  value += '}';
  return { key: rec.key ?? null, value, headers: sourceHeaders(rec.topic, rec.partition, rec.offset) };
}

/** The value of a model message: the model (loadable as is) and what the window said about it. */
export interface ModelMessage extends MixtureJSON {
  readonly pipelineId: string;
  readonly windowIndex: number;
  /** The pipeline's model version (+1 per window); `version` is the model format's version. */
  readonly modelVersion: number;
  readonly n: number;
  readonly logLikelihood: number;
  readonly expectedLogLikelihood: number;
  readonly predictiveLogLikelihood: number | null;
  readonly iterations: number;
  readonly converged: boolean;
  readonly restarted: boolean;
  readonly drift: readonly { readonly kind: string; readonly statistic: number; readonly threshold: number }[];
  /** Milliseconds since the epoch when the update was produced. */
  readonly producedAt: number;
}

/**
 * The model-topic message of one update: key = pipeline id (so compaction keeps the latest), value = {@link ModelMessage}.
 *
 * @param update - the window's model update
 * @param pipelineId - the key
 * @returns the message
 */
export function modelMessage(update: MixtureUpdate<unknown>, pipelineId: string): ProducedMessage {
  const value: ModelMessage = {
    ...update.model,
    pipelineId,
    windowIndex: update.windowIndex,
    modelVersion: update.version,
    n: update.window.n,
    logLikelihood: update.logLikelihood,
    expectedLogLikelihood: update.expectedLogLikelihood,
    predictiveLogLikelihood: update.predictiveLogLikelihood,
    iterations: update.iterations,
    converged: update.converged,
    restarted: update.restarted,
    drift: update.drift.map((e) => ({ kind: e.kind, statistic: e.statistic, threshold: e.threshold })),
    producedAt: Date.now(),
  };
  return { key: pipelineId, value: JSON.stringify(value), headers: { [HEADERS.pipelineId]: pipelineId } };
}

/**
 * A dead-letter message: the original key and value bytes, with the reason, the message and the source
 * coordinates in headers.
 *
 * @param source - where the bad message came from, and its key/value
 * @param reason - machine-readable reason (`not-json`, `wrong-dimension`, …)
 * @param message - human-readable explanation
 * @param pipelineId - written to a header when given
 * @returns the message
 */
export function deadLetterMessage(
  source: { topic?: unknown; partition?: unknown; offset?: unknown; key?: string | Buffer | null; value?: Buffer | string | null; headers?: Readonly<Record<string, HeaderValue>> },
  reason: string,
  message: string,
  pipelineId?: string,
): ProducedMessage {
  const headers: ProducedHeaders = {
    ...sourceHeaders(source.topic, source.partition, source.offset),
    [HEADERS.reason]: reason,
    [HEADERS.message]: message,
  };
  if (pipelineId !== undefined) headers[HEADERS.pipelineId] = pipelineId;
  return { key: source.key ?? null, value: source.value ?? null, headers };
}

/** One output topic to make sure of. */
export interface OutputTopic {
  readonly topic: string;
  /** `true` for `cleanup.policy=compact` (the models topic). */
  readonly compacted?: boolean;
  readonly numPartitions?: number;
  readonly replicationFactor?: number;
}

/**
 * Creates the output topics that do not exist yet (labels, dead letters: delete policy; models: compacted).
 *
 * 1. List the topics; keep the missing ones.
 * 2. Create them in one call, waiting for leaders; a concurrent creation (`TOPIC_ALREADY_EXISTS`) is fine.
 *
 * Existing topics are left as they are (their configs are not changed).
 *
 * @param admin - a connected admin
 * @param topics - the topics and their settings
 * @param logger - logs the created topics
 * @returns the names of the topics created
 * @throws KafkaEdgeError when creation fails
 */
export async function ensureTopics(admin: AdminLike, topics: readonly OutputTopic[], logger?: Logger): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.filter((t, i) => !existing.has(t.topic) && topics.findIndex((u) => u.topic === t.topic) === i);
  if (missing.length === 0) return [];
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((t) => ({
        topic: t.topic,
        numPartitions: t.numPartitions ?? 1,
        replicationFactor: t.replicationFactor ?? 1,
        configEntries: t.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
      })),
    });
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    if (!/already exists/i.test(text)) {
      throw new KafkaEdgeError(
        `could not create the topic(s) ${missing.map((t) => JSON.stringify(t.topic)).join(', ')}: ${text}; create them yourself (models with cleanup.policy=compact) or check the replication factor`,
        { topic: missing[0].topic, operation: 'create-topics' },
        { cause: err },
      );
    }
  }
  logger?.info({ topics: missing.map((t) => t.topic) }, 'created output topics');
  return missing.map((t) => t.topic);
}

/** Options of {@link toKafka}. */
export interface ToKafkaOptions {
  /** Topic of one message per labelled point (omit to skip labels). */
  readonly labels?: string;
  /** Topic of one message per model update, keyed by `pipelineId` (omit to skip models). */
  readonly models?: string;
  /** Key of the model messages (default `'emstream'`). */
  readonly pipelineId?: string;
  /** Also write each input vector into its label message (default false). */
  readonly includeVector?: boolean;
}

/**
 * Produces each model update to Kafka — one label message per point and one model message — and re-emits the
 * update once the broker has acknowledged all of them (and everything before them).
 *
 * 1. For each update: build the label messages (key = input key, headers = input topic/partition/offset)
 *    and the model message (key = pipeline id), and enqueue them in one batch on the sender.
 * 2. When they are acknowledged, emit the update downstream (in order): that is the moment its inputs may
 *    be committed.
 * 3. On complete: flush, wait for the last acknowledgements, complete. A failed send errors the stream.
 *
 * ## Example
 * ```ts
 * import { Kafka } from 'kafkajs';
 * import { from } from 'rxjs';
 * import { windowVectors, fitMixture, toKafka } from 'emstream';
 *
 * const producer = new Kafka({ brokers: ['127.0.0.1:9092'] }).producer();
 * await producer.connect();
 * from([[0, 0], [0, 1], [9, 9], [9, 8]])
 *   .pipe(windowVectors({ size: 4 }), fitMixture({ k: 2 }), toKafka(producer, { labels: 'labels', models: 'models' }))
 *   .subscribe((u) => console.log('acknowledged window', u.windowIndex));
 * ```
 *
 * @param producer - a connected producer, or a {@link BatchSender} shared with other outputs (dead letters)
 * @param options - output topics, pipeline id, whether labels carry the vector
 * @returns an operator that emits each update after its outputs are acknowledged
 */
export function toKafka<R>(producer: ProducerLike | BatchSender, options: ToKafkaOptions): OperatorFunction<MixtureUpdate<R>, MixtureUpdate<R>> {
  const pipelineId = options.pipelineId ?? 'emstream';
  const includeVector = options.includeVector ?? false;
  return (source) =>
    new Observable<MixtureUpdate<R>>((subscriber) => {
      const ownSender = !(producer instanceof BatchSender);
      const sender = producer instanceof BatchSender ? producer : new BatchSender(producer, { onError: (err) => subscriber.error(err) });
      const subscription = source.subscribe({
        next(update) {
          if (sender.error !== undefined) {
            subscriber.error(sender.error);
            return;
          }
          const messages: { topic: string; message: ProducedMessage }[] = [];
          if (options.labels !== undefined) {
            const { records } = update.window;
            const { labels: topic } = options;
            for (let i = 0; i < update.labels.length; i++) {
              messages.push({
                topic,
                message: labelMessage(
                  { record: records[i], windowIndex: update.windowIndex, modelVersion: update.version, label: update.labels[i], probability: update.probabilities[i], logDensity: update.logDensities[i] },
                  includeVector,
                ),
              });
            }
          }
          if (options.models !== undefined) messages.push({ topic: options.models, message: modelMessage(update, pipelineId) });
          sender.enqueue(messages, () => {
            if (!subscriber.closed) subscriber.next(update);
          });
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          sender.flush().then(
            () => subscriber.complete(),
            (err: unknown) => subscriber.error(err),
          );
        },
      });
      return () => {
        subscription.unsubscribe();
        if (ownSender) void sender.flush().catch(() => undefined);
      };
    });
}
