/**
 * Topic administration of the Kafka edge: creating the output topics with the settings they need, and reading
 * a topic's size limit (`max.message.bytes`).
 *
 * @module
 */
import type { Logger } from 'pino';
import type { AdminLike } from './client/ports.js';
import { KafkaEdgeError } from './errors.js';

/** The broker's default `message.max.bytes` (and so a topic's default `max.message.bytes`): 1 MiB + 12 bytes. */
export const KAFKA_DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

/** One output topic to make sure of. */
export interface OutputTopic {
  readonly topic: string;
  /** `true` for `cleanup.policy=compact` (the models topic). */
  readonly compacted?: boolean;
  /** `max.message.bytes` of the created topic (default: the broker's). */
  readonly maxMessageBytes?: number;
  /** `retention.ms` of the created topic, with `cleanup.policy=delete` (default: the broker's retention). */
  readonly retentionMs?: number;
  readonly numPartitions?: number;
  readonly replicationFactor?: number;
}

/**
 * Creates the output topics that do not exist yet (labels, dead letters: delete policy; models: compacted; window
 * history and drift: delete policy with a time retention), with their `max.message.bytes` when given.
 *
 * 1. List the topics; keep the missing ones (once each).
 * 2. Create them in one call, waiting for leaders; a concurrent creation (`TOPIC_ALREADY_EXISTS`) is fine.
 *
 * Existing topics are left as they are (their configs are not changed): read their limits with {@link topicMaxMessageBytes}.
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
        configEntries: [
          ...(t.compacted ? [{ name: 'cleanup.policy', value: 'compact' }] : []),
          ...(t.retentionMs !== undefined && !t.compacted
            ? [
                { name: 'cleanup.policy', value: 'delete' },
                { name: 'retention.ms', value: String(t.retentionMs) },
              ]
            : []),
          ...(t.maxMessageBytes !== undefined ? [{ name: 'max.message.bytes', value: String(t.maxMessageBytes) }] : []),
        ],
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

/**
 * The `max.message.bytes` of each topic (the largest record batch its partitions accept), read with
 * `describeConfigs`; a topic that does not exist, or a client without `describeConfigs`, reads as the broker default.
 *
 * @param admin - a connected admin
 * @param topics - the topic names
 * @returns topic → limit in bytes
 */
export async function topicMaxMessageBytes(admin: AdminLike, topics: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>(topics.map((t) => [t, KAFKA_DEFAULT_MAX_MESSAGE_BYTES]));
  if (admin.describeConfigs === undefined || topics.length === 0) return out;
  const existing = new Set(await admin.listTopics());
  const present = [...new Set(topics)].filter((t) => existing.has(t));
  if (present.length === 0) return out;
  const described = await admin.describeConfigs({
    includeSynonyms: false,
    // kafkajs ConfigResourceTypes.TOPIC = 2
    resources: present.map((name) => ({ type: 2, name, configNames: ['max.message.bytes'] })),
  });
  for (const resource of described.resources) {
    const entry = resource.configEntries.find((e) => e.configName === 'max.message.bytes');
    const value = Number(entry?.configValue);
    if (Number.isInteger(value) && value > 0) out.set(resource.resourceName, value);
  }
  return out;
}

/** Options of {@link waitForTopics}. */
export interface WaitForTopicsOptions {
  /** Give up at this epoch time (ms). */
  readonly deadline: number;
  /** How often to look again (ms, default 1000). */
  readonly everyMs?: number;
  /** Stop waiting when it aborts. */
  readonly signal?: AbortSignal;
  /** Called once, with the missing topics, when waiting begins. */
  readonly onWaiting?: (missing: readonly string[]) => void;
}

/**
 * Waits until every topic exists, looking again every second, up to a deadline.
 *
 * @param listTopics - the names of the topics that exist (e.g. a connected admin's `listTopics`, retried by the caller)
 * @param topics - the topics that must exist
 * @param options - deadline, period, abort signal, a callback when waiting begins
 * @returns the topics still missing at the deadline (empty when all exist)
 */
export async function waitForTopics(listTopics: () => Promise<readonly string[]>, topics: readonly string[], options: WaitForTopicsOptions): Promise<string[]> {
  const everyMs = options.everyMs ?? 1000;
  for (let first = true; ; first = false) {
    const existing = new Set(await listTopics());
    const missing = topics.filter((t) => !existing.has(t));
    if (missing.length === 0 || Date.now() >= options.deadline || options.signal?.aborted === true) return missing;
    if (first) options.onWaiting?.(missing);
    await new Promise((resolve) => setTimeout(resolve, Math.min(everyMs, Math.max(0, options.deadline - Date.now()))));
  }
}
