/**
 * Restoring the latest state of a pipeline from its compacted models topic.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { MixtureJSON } from '../gmm/model.js';
import type { StreamingStateJSON } from '../gmm/streaming.js';
import type { EachBatchPayloadLike, KafkaClientLike } from './client.js';
import { KafkaEdgeError } from './errors.js';
import type { EventOffset } from './events.js';
import { readModelMessage, type ModelMessage } from './messages.js';

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

/** A restored model message. */
export interface RestoredModel {
  /** The model, ready for `fitMixture({ initialModel })`. */
  readonly model: MixtureJSON;
  /** The whole streaming state (messages written by emstream ≥ 0.2), ready for `fitMixture({ initialState })`. */
  readonly state: StreamingStateJSON | undefined;
  /** The input offsets the state covers (per partition, the offset after the last record in its statistics). */
  readonly offsets: readonly EventOffset[];
  /** The whole model message (window index, model version, log-likelihoods, …). */
  readonly message: ModelMessage;
  readonly partition: number;
  readonly offset: string;
}

/**
 * Reads the models topic up to its current end and returns the last valid message written under `pipelineId`
 * (its model, whole state and covered offsets), or `undefined` when there is none (or the topic does not exist).
 *
 * 1. Ask the admin for each partition's end offset; an empty or missing topic gives `undefined` at once.
 * 2. Consume with a throw-away group (nothing committed) the last `tail` messages of each partition up to the end
 *    offsets; when none of them has the key, read the whole topic.
 * 3. Keep the last message whose key is `pipelineId` and whose value reads as a model message
 *    ({@link readModelMessage}); unreadable ones are logged and skipped.
 *
 * @param kafka - the client
 * @param options - topic, pipeline id, timeout
 * @returns the latest model message, or `undefined`
 * @throws KafkaEdgeError when the end of the topic is not reached in time
 */
export async function restoreLatestState(kafka: KafkaClientLike, options: RestoreOptions): Promise<RestoredModel | undefined> {
  const { topic, logger } = options;
  const admin = kafka.admin();
  await admin.connect();
  let ranges: Map<number, { low: bigint; high: bigint }>;
  try {
    if (!(await admin.listTopics()).includes(topic)) return undefined;
    const offsets = await admin.fetchTopicOffsets(topic);
    ranges = new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, { low: BigInt(o.low), high: BigInt(o.high) }]));
  } finally {
    await admin.disconnect();
  }
  if (ranges.size === 0) return undefined;
  const tail = BigInt(options.tail ?? 512);
  const starts = new Map([...ranges].map(([p, r]) => [p, r.high - tail > r.low ? r.high - tail : r.low]));
  let latest = await scan(kafka, options, ranges, starts);
  if (latest === undefined && [...starts].some(([p, start]) => start > ranges.get(p)!.low)) {
    latest = await scan(kafka, options, ranges, new Map([...ranges].map(([p, r]) => [p, r.low])));
  }
  if (latest !== undefined) {
    logger?.info({ topic, pipelineId: options.pipelineId, modelVersion: latest.message.modelVersion, offset: latest.offset, withState: latest.state !== undefined }, 'read the latest state');
  }
  return latest;
}

/** Reads `[start, high)` of each partition and returns the last readable message of the key. */
async function scan(
  kafka: KafkaClientLike,
  options: RestoreOptions,
  ranges: ReadonlyMap<number, { low: bigint; high: bigint }>,
  starts: ReadonlyMap<number, bigint>,
): Promise<RestoredModel | undefined> {
  const { topic, pipelineId, logger } = options;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const groupId = `emstream-restore-${pipelineId}-${randomBytes(4).toString('hex')}`;
  const consumer = kafka.consumer({ groupId });
  let latest: RestoredModel | undefined;
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
      const eachBatch = async ({ batch, resolveOffset, heartbeat }: EachBatchPayloadLike): Promise<void> => {
        const end = ranges.get(batch.partition)?.high;
        const start = starts.get(batch.partition) ?? 0n;
        for (const message of batch.messages) {
          resolveOffset(message.offset);
          const offset = BigInt(message.offset);
          if (offset >= start && (end === undefined || offset < end) && message.key?.toString('utf8') === pipelineId && message.value !== null) {
            try {
              const read = readModelMessage(message.value);
              latest = { ...read, partition: batch.partition, offset: message.offset };
            } catch (err) {
              logger?.warn({ err, topic, partition: batch.partition, offset: message.offset }, 'skipping an unreadable model message');
            }
          }
          if (end !== undefined && offset + 1n >= end) remaining.delete(batch.partition);
        }
        await heartbeat();
        if (remaining.size === 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      consumer
        .run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch })
        .then(() => {
          // Start each partition at its first offset to read (applied at the next fetch).
          if (sought || consumer.seek === undefined) return;
          sought = true;
          for (const [partition, start] of starts) consumer.seek!({ topic, partition, offset: start.toString() });
        })
        .catch(reject);
    });
  } finally {
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
