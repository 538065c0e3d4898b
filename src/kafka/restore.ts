/**
 * Restoring the latest model of a pipeline from its compacted models topic.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { paramsFromJSON, type MixtureJSON } from '../gmm/model.js';
import { KafkaEdgeError, type EachBatchPayloadLike, type KafkaClientLike } from './client.js';
import type { ModelMessage } from './sink.js';

/** Options of {@link restoreLatestModel}. */
export interface RestoreOptions {
  /** The models topic. */
  readonly topic: string;
  /** The key of the pipeline's model messages. */
  readonly pipelineId: string;
  /** Give up after this long (default 30 000 ms). */
  readonly timeoutMs?: number;
  readonly logger?: Logger;
}

/** A restored model. */
export interface RestoredModel {
  /** The model, ready for `fitMixture({ initialModel })`. */
  readonly model: MixtureJSON;
  /** The whole model message (window index, model version, log-likelihoods, …). */
  readonly message: ModelMessage;
  readonly partition: number;
  readonly offset: string;
}

/**
 * Reads the models topic from the beginning up to its current end and returns the last valid model
 * written under `pipelineId`, or `undefined` when there is none (or the topic does not exist).
 *
 * 1. Ask the admin for each partition's end offset; an empty or missing topic gives `undefined` at once.
 * 2. Consume with a throw-away group (nothing committed) until every partition reaches its end offset.
 * 3. Keep the last message whose key is `pipelineId` and whose value parses as a model (`paramsFromJSON`);
 *    invalid values are logged and skipped.
 *
 * @param kafka - the client
 * @param options - topic, pipeline id, timeout
 * @returns the latest model, or `undefined`
 * @throws KafkaEdgeError when the end of the topic is not reached in time
 */
export async function restoreLatestModel(kafka: KafkaClientLike, options: RestoreOptions): Promise<RestoredModel | undefined> {
  const { topic, pipelineId, logger } = options;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    if (!(await admin.listTopics()).includes(topic)) return undefined;
    const offsets = await admin.fetchTopicOffsets(topic);
    ends = new Map(offsets.filter((o) => BigInt(o.high) > BigInt(o.low)).map((o) => [o.partition, BigInt(o.high)]));
  } finally {
    await admin.disconnect();
  }
  if (ends.size === 0) return undefined;

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
            new KafkaEdgeError(`could not read the models topic ${JSON.stringify(topic)} to its end within ${timeoutMs} ms; check the brokers, or start without restoring`, {
              topic,
              operation: 'restore',
            }),
          ),
        timeoutMs,
      );
      const remaining = new Set(ends.keys());
      const eachBatch = async ({ batch, resolveOffset, heartbeat }: EachBatchPayloadLike): Promise<void> => {
        const end = ends.get(batch.partition);
        for (const message of batch.messages) {
          resolveOffset(message.offset);
          if (message.key?.toString('utf8') === pipelineId && message.value !== null) {
            try {
              const value = JSON.parse(message.value.toString('utf8')) as ModelMessage;
              paramsFromJSON(value);
              const { format, version, covarianceType, k, d, weights, means, covariances } = value;
              latest = { model: { format, version, covarianceType, k, d, weights, means, covariances }, message: value, partition: batch.partition, offset: message.offset };
            } catch (err) {
              logger?.warn({ err, topic, partition: batch.partition, offset: message.offset }, 'skipping an unreadable model message');
            }
          }
          if (end !== undefined && BigInt(message.offset) + 1n >= end) remaining.delete(batch.partition);
        }
        await heartbeat();
        if (remaining.size === 0) {
          clearTimeout(timer);
          resolve();
        }
      };
      consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch }).catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  if (latest !== undefined) logger?.info({ topic, pipelineId, modelVersion: latest.message.modelVersion, offset: latest.offset }, 'restored the latest model');
  return latest;
}
