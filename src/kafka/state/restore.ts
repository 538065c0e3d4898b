/**
 * Restoring the latest states from the compacted models topic (the state store's changelog), read_committed.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { MixtureJSON } from '../../gmm/model.js';
import type { StreamingStateJSON } from '../../gmm/streaming.js';
import { seekQuietly } from '../client/consumerRestart.js';
import { isRetriable } from '../client/errorNames.js';
import type { EachBatchPayloadLike, KafkaClientLike } from '../client/ports.js';
import { describeError, KafkaEdgeError } from '../errors.js';
import type { EventOffset } from '../events.js';
import { readModelMessage, type ModelMessage, type SharedStateJSON } from './format.js';

/** Options of {@link restoreLatestState}. */
export interface RestoreOptions {
  /** The models topic. */
  readonly topic: string;
  /** The key of the pipeline's model messages. */
  readonly pipelineId: string;
  /** Give up after this long (default 30 000 ms). */
  readonly timeoutMs?: number;
  /** Messages read at the end of each partition first (default 512); the whole topic is read only when the key is not among them. */
  readonly tail?: number;
  readonly logger?: Logger;
}

/** Options of {@link restoreLatestStates}: those of {@link restoreLatestState}, for several keys at once. */
export interface RestoreManyOptions extends Omit<RestoreOptions, 'pipelineId'> {
  /** The keys to restore (a pipeline id, or the task keys of the exactly-once mode). */
  readonly keys: readonly string[];
}

/** A restored model message. */
export interface RestoredModel {
  /** The model, ready for `fitMixture({ initialModel })`. */
  readonly model: MixtureJSON;
  /** The whole streaming state (messages written by emstream ≥ 0.2), ready for `fitMixture({ initialState })`. */
  readonly state: StreamingStateJSON | undefined;
  /** The input offsets the state covers (per partition, the offset after the last record in its statistics). */
  readonly offsets: readonly EventOffset[];
  /** The shared-model reducer's ledger and position, when a reducer wrote the state. */
  readonly shared: SharedStateJSON | undefined;
  /** The whole model message (window index, model version, log-likelihoods, …). */
  readonly message: ModelMessage;
  /** The message's key. */
  readonly key: string;
  readonly partition: number;
  readonly offset: string;
}

/**
 * Reads the models topic up to its current end and returns the last valid message written under `pipelineId`
 * (its model, whole state and covered offsets), or `undefined` when there is none (or the topic does not exist).
 * See {@link restoreLatestStates}.
 *
 * @param kafka - the client
 * @param options - topic, pipeline id, timeout
 * @returns the latest model message, or `undefined`
 * @throws KafkaEdgeError when the end of the topic is not reached in time
 */
export async function restoreLatestState(kafka: KafkaClientLike, options: RestoreOptions): Promise<RestoredModel | undefined> {
  const { pipelineId, ...rest } = options;
  return (await restoreLatestStates(kafka, { ...rest, keys: [pipelineId] })).get(pipelineId);
}

/**
 * Reads the models topic up to its last committed offset and returns, per key, the last valid message written
 * under it (its model, whole state and covered offsets); keys without one are absent from the map.
 *
 * 1. Ask the admin for each partition's end offset (ListOffsets read_committed: the last stable offset, so an open
 *    transaction is not waited for); an empty or missing topic gives an empty map at once.
 * 2. Consume read_committed (records of aborted transactions are never seen) with a throw-away group (nothing
 *    committed) the last `tail` records of each partition up to those ends; when a key is not among them, read the
 *    whole topic. A partition is read once the fetch position passes its end (control records, which a
 *    read_committed fetch does not return as messages, count).
 * 3. Keep per key the last message whose value reads as a model message ({@link readModelMessage}); unreadable
 *    ones are logged and skipped.
 *
 * @param kafka - the client
 * @param options - topic, keys, timeout
 * @returns key → the latest model message
 * @throws KafkaEdgeError when the end of the topic is not reached in time
 */
export async function restoreLatestStates(kafka: KafkaClientLike, options: RestoreManyOptions): Promise<Map<string, RestoredModel>> {
  const { topic, logger } = options;
  const admin = kafka.admin();
  await admin.connect();
  let ranges: Map<number, { low: bigint; high: bigint }>;
  try {
    if (!(await admin.listTopics()).includes(topic)) return new Map();
    const offsets = await admin.fetchTopicOffsets(topic);
    ranges = new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
  } finally {
    await admin.disconnect();
  }
  if (ranges.size === 0) return new Map();
  const tail = BigInt(options.tail ?? 512);
  const starts = new Map([...ranges].map(([p, r]) => [p, r.high - tail > r.low ? r.high - tail : r.low]));
  const keys = new Set(options.keys);
  let latest = await scan(kafka, options, keys, ranges, starts);
  if (latest.size < keys.size && [...starts].some(([p, start]) => start > ranges.get(p)!.low)) {
    latest = await scan(kafka, options, keys, ranges, new Map([...ranges].map(([p, r]) => [p, r.low])));
  }
  for (const found of latest.values()) {
    logger?.debug({ topic, key: found.key, modelVersion: found.message.modelVersion, offset: found.offset, withState: found.state !== undefined }, 'read the latest state');
  }
  return latest;
}

/** Reads `[start, high)` of each partition, read_committed, and returns the last readable message of each key. */
async function scan(
  kafka: KafkaClientLike,
  options: RestoreManyOptions,
  keys: ReadonlySet<string>,
  ranges: ReadonlyMap<number, { low: bigint; high: bigint }>,
  starts: ReadonlyMap<number, bigint>,
): Promise<Map<string, RestoredModel>> {
  const { topic, logger } = options;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const groupId = `emstream-restore-${randomBytes(6).toString('hex')}`;
  const consumer = kafka.consumer({ groupId, readUncommitted: false });
  const latest = new Map<string, RestoredModel>();
  let stopListening: (() => void) | undefined;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new KafkaEdgeError(`could not read the models topic ${JSON.stringify(topic)} to its end within ${timeoutMs} ms; check the brokers, or start fresh (--fresh)`, {
              topic,
              operation: 'restore',
            }),
          ),
        timeoutMs,
      );
      const remaining = new Set(ranges.keys());
      let sought = false;
      /** A partition read through `last` (the last offset of a fetched batch, control and aborted records included). */
      const passed = (partition: number, last: string | undefined): void => {
        const end = ranges.get(partition)?.high;
        if (end !== undefined && last !== undefined && BigInt(last) + 1n >= end) remaining.delete(partition);
        if (remaining.size === 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      // A batch whose records were all filtered out (aborted transactions, markers) reaches no eachBatch: kafkajs only
      // resolves it and says so in this event. A partition that ends with an aborted transaction ends that way.
      const eventName = consumer.events?.END_BATCH_PROCESS;
      const removeListener =
        eventName !== undefined && consumer.on !== undefined
          ? consumer.on(eventName, ({ payload }) => {
              if (payload.topic === topic && payload.partition !== undefined) passed(payload.partition, payload.lastOffset);
            })
          : undefined;
      // A crash the client does not restart from (kafkajs's "group coordinator not found" when the brokers restart
      // while it joins) would leave this read idle until the timeout, the run's whole retry budget: end it now, as
      // retriable when the error says the brokers were away, so the caller's retry reads again at once.
      const removeCrashListener =
        consumer.on !== undefined && consumer.events !== undefined
          ? consumer.on(consumer.events.CRASH, ({ payload }) => {
              if (payload.restart === true) return;
              clearTimeout(timer);
              reject(
                new KafkaEdgeError(
                  `the reader of the models topic ${JSON.stringify(topic)} stopped: ${describeError(payload.error)}`,
                  { topic, operation: 'restore' },
                  { cause: payload.error, retriable: isRetriable(payload.error) },
                ),
              );
            })
          : undefined;
      stopListening = () => {
        removeListener?.();
        removeCrashListener?.();
      };
      const eachBatch = async ({ batch, resolveOffset, heartbeat }: EachBatchPayloadLike): Promise<void> => {
        const end = ranges.get(batch.partition)?.high;
        const start = starts.get(batch.partition) ?? 0n;
        for (const message of batch.messages) {
          resolveOffset(message.offset);
          const offset = BigInt(message.offset);
          const key = message.key?.toString('utf8');
          if (offset >= start && (end === undefined || offset < end) && key !== undefined && keys.has(key) && message.value !== null) {
            try {
              const read = readModelMessage(message.value);
              latest.set(key, { ...read, key, partition: batch.partition, offset: message.offset });
            } catch (err) {
              logger?.warn({ err, topic, partition: batch.partition, offset: message.offset }, 'skipping an unreadable model message');
            }
          }
        }
        await heartbeat();
        // Where reading goes on from: past control records and aborted records too (not returned as messages).
        passed(batch.partition, batch.lastOffset?.() ?? batch.messages.at(-1)?.offset);
      };
      consumer
        .run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch })
        .then(() => {
          // Start each partition at its first offset to read (applied at the next fetch).
          if (sought || consumer.seek === undefined) return;
          sought = true;
          // A seek refused because the consumer crashed while joining (the crash ends this read) only costs reading:
          // what lies before each start is skipped by offset.
          for (const [partition, start] of starts) seekQuietly(consumer, { topic, partition, offset: start.toString() }, logger);
        })
        .catch(reject);
    });
  } finally {
    stopListening?.();
    await consumer.disconnect();
  }
  return latest;
}

/**
 * The latest model of a pipeline id (the same as {@link restoreLatestState}; kept for the readers that only want the model).
 *
 * @param kafka - the client
 * @param options - topic, pipeline id, timeout
 * @returns the latest model message, or `undefined`
 */
export function restoreLatestModel(kafka: KafkaClientLike, options: RestoreOptions): Promise<RestoredModel | undefined> {
  return restoreLatestState(kafka, options);
}
