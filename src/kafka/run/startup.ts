/**
 * Start-up checks of a run: the input topics exist (waited for within a bound), the output topics exist (created
 * with the settings they need), and the size limits that cut dead letters and batches.
 *
 * @module
 */
import type { Logger } from 'pino';
import { EmstreamError, EmstreamOptionsError } from '../../errors.js';
import type { AdminLike, KafkaClientLike } from '../client/ports.js';
import { describeError, InputTopicMissingError, KafkaEdgeError } from '../errors.js';
import type { KafkaRole } from '../events.js';
import type { WindowOutput } from '../messages/outputs.js';
import { ensureTopics, KAFKA_DEFAULT_MAX_MESSAGE_BYTES, topicMaxMessageBytes, waitForTopics } from '../topics.js';
import type { RunConfig } from './config.js';
import { retryBrokerOperation, type RetryOptions } from './retry.js';

/** What the start-up steps need besides the configuration. */
export interface StartupContext {
  readonly kafka: KafkaClientLike;
  readonly config: RunConfig;
  readonly retry: RetryOptions;
  readonly logger: Logger;
  readonly signal?: AbortSignal;
  /** Told of each client connected and disconnected (`kafka.connect` / `kafka.disconnect`). */
  readonly connection: (role: KafkaRole, connected: boolean) => void;
}

/** Any error as an EmstreamError (a KafkaEdgeError saying what failed when it is not one already). */
export function asEmstreamError(err: unknown, operation: string, what: string): EmstreamError {
  if (err instanceof EmstreamError) return err;
  return new KafkaEdgeError(`${what}: ${describeError(err)}`, { operation }, { cause: err, retriable: false });
}

/**
 * Waits (up to `inputTimeoutMs`) for input topics that do not exist yet — a service may start before its producer.
 *
 * 1. Connect an admin (retried while the brokers are unavailable, within the start-up budget).
 * 2. Look for the topics every second; the first look is within the start-up budget, later ones get the whole
 *    budget each; one warning when waiting begins.
 *
 * @returns the input partitions, per topic (partition ids)
 * @throws InputTopicMissingError when a topic is still missing at the deadline
 */
export async function waitForInputTopics(context: StartupContext): Promise<Map<string, number[]>> {
  const { kafka, config, retry, logger } = context;
  const admin: AdminLike = kafka.admin();
  const fail = (err: unknown): never => {
    throw asEmstreamError(err, 'input-topics', 'could not look up the input topics');
  };
  let missing: string[];
  const partitions = new Map<string, number[]>();
  try {
    await retryBrokerOperation('connect', () => admin.connect(), retry).catch(fail);
    context.connection('admin', true);
    let polls = 0;
    missing = await waitForTopics(
      () => retryBrokerOperation('input-topics', () => admin.listTopics(), polls++ === 0 ? retry : { ...retry, deadline: Date.now() + config.brokerTimeoutMs }).catch(fail),
      config.input,
      {
        deadline: Date.now() + config.inputTimeoutMs,
        signal: context.signal,
        onWaiting: (topics) => logger.warn({ topics, waitMs: config.inputTimeoutMs }, `waiting up to ${Math.round(config.inputTimeoutMs / 1000)} s for the input topic(s) to be created`),
      },
    );
    if (missing.length === 0) {
      for (const topic of config.input) {
        const offsets = await retryBrokerOperation('input-topics', () => admin.fetchTopicOffsets(topic), { ...retry, deadline: Date.now() + config.brokerTimeoutMs }).catch(fail);
        partitions.set(
          topic,
          offsets.map((o) => o.partition).sort((a, b) => a - b),
        );
      }
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
    context.connection('admin', false);
  }
  if (missing.length > 0) throw new InputTopicMissingError(missing, config.inputTimeoutMs);
  return partitions;
}

/**
 * Creates the missing output topics (labels; models compacted and sized for states; dead letters sized from the
 * input topic; and each further output with its settings) and reads every output topic's `max.message.bytes`.
 *
 * @param context - client, configuration, retry budget
 * @param extraOutputs - the outputs besides labels, states and dead letters (window history, drift, the caller's)
 * @returns topic → `max.message.bytes`
 */
export async function prepareOutputTopics(context: StartupContext, extraOutputs: readonly WindowOutput<unknown>[]): Promise<(topic: string) => number> {
  const { kafka, config, retry, logger } = context;
  const limits = await retryBrokerOperation(
    'create-topics',
    async () => {
      const admin: AdminLike = kafka.admin();
      await admin.connect();
      context.connection('admin', true);
      try {
        const inputLimits = await topicMaxMessageBytes(admin, config.input);
        const inputLimit = Math.max(...config.input.map((t) => inputLimits.get(t) ?? KAFKA_DEFAULT_MAX_MESSAGE_BYTES));
        const settings = { numPartitions: config.topicPartitions, replicationFactor: config.replicationFactor };
        if (config.createTopics) {
          await ensureTopics(
            admin,
            [
              { topic: config.labels, ...settings },
              { topic: config.models, compacted: true, maxMessageBytes: config.modelsMaxMessageBytes, ...settings },
              { topic: config.deadLetters, maxMessageBytes: config.deadLettersMaxMessageBytes ?? inputLimit + 65_536, ...settings },
              ...extraOutputs.map((o) => ({ topic: o.topic, compacted: o.settings?.compacted, maxMessageBytes: o.settings?.maxMessageBytes, retentionMs: o.settings?.retentionMs, ...settings, numPartitions: o.settings?.partitions ?? settings.numPartitions })),
            ],
            logger,
          );
        }
        return await topicMaxMessageBytes(admin, [config.labels, config.models, config.deadLetters, ...extraOutputs.map((o) => o.topic)]);
      } finally {
        await admin.disconnect().catch(() => undefined);
        context.connection('admin', false);
      }
    },
    retry,
  ).catch((err: unknown) => {
    throw asEmstreamError(err, 'create-topics', 'could not create the output topics');
  });
  return (topic) => limits.get(topic) ?? KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
}

/**
 * Checks that the shared model's statistics topic has one partition: its one consumer in `<group>.reducer` is the
 * reducer, so with more partitions several members would reduce at once.
 *
 * @throws EmstreamOptionsError when it has more than one partition, with how to fix it
 */
export async function checkStatsTopic(context: StartupContext, topic: string): Promise<void> {
  const { kafka, retry } = context;
  const partitions = await retryBrokerOperation(
    'stats-topic',
    async () => {
      const admin: AdminLike = kafka.admin();
      await admin.connect();
      try {
        return (await admin.fetchTopicOffsets(topic)).length;
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
    },
    retry,
  ).catch((err: unknown) => {
    throw asEmstreamError(err, 'stats-topic', `could not look up the statistics topic ${JSON.stringify(topic)}`);
  });
  if (partitions !== 1) {
    throw new EmstreamOptionsError('runKafkaPipeline', [
      {
        path: 'stats',
        message: `the statistics topic ${JSON.stringify(topic)} has ${partitions} partitions: the shared model needs exactly one (its one consumer in the reducer group is the reducer); give another topic (--stats-topic), or delete this one so it is created with one partition`,
      },
    ]);
  }
}
