/**
 * The small, structural slice of a Kafka client that emstream's Kafka edge uses.
 *
 * kafkajs 2.2.4 satisfies these interfaces as is (`new Kafka({...})` is a {@link KafkaClientLike}); so
 * does the KafkaJS-compatible API of `@confluentinc/kafka-javascript` (`KafkaJS.Kafka`), whose consumer,
 * producer and admin have the same method names and payloads. Nothing in `src/kafka` except
 * {@link createKafkaClient} imports kafkajs at run time.
 *
 * @module
 */
import type { Logger } from 'pino';
import { installRequestQueueFix } from './requestQueueFix.js';

export { KafkaEdgeError, type KafkaEdgeErrorContext } from './errors.js';

/** A header value as clients deliver it. */
export type HeaderValue = Buffer | string | (Buffer | string)[] | undefined;

/** One consumed message (kafkajs `KafkaMessage`). Offsets and timestamps are decimal strings. */
export interface ConsumedMessageLike {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly offset: string;
  readonly timestamp: string;
  readonly headers?: Readonly<Record<string, HeaderValue>>;
}

/** One fetched batch of a single topic-partition (kafkajs `Batch`). */
export interface BatchLike {
  readonly topic: string;
  readonly partition: number;
  /** The partition's end offset when fetched (kafkajs has it; other clients may not). */
  readonly highWatermark?: string;
  readonly messages: readonly ConsumedMessageLike[];
}

/** What `eachBatch` receives (kafkajs `EachBatchPayload`). */
export interface EachBatchPayloadLike {
  readonly batch: BatchLike;
  /** Moves the in-memory fetch position past `offset` (nothing is committed by this). */
  resolveOffset(offset: string): void;
  /** Sends a heartbeat if one is due; must be called during long batches. */
  heartbeat(): Promise<void>;
  isRunning(): boolean;
  /** True when a rebalance made this batch obsolete. */
  isStale(): boolean;
}

/** The `run` configuration emstream passes. */
export interface ConsumerRunConfigLike {
  readonly autoCommit?: boolean;
  readonly eachBatchAutoResolve?: boolean;
  readonly partitionsConsumedConcurrently?: number;
  readonly eachBatch: (payload: EachBatchPayloadLike) => Promise<void>;
}

/** A committed position: the offset of the next message to read (last processed + 1). */
export interface TopicPartitionOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** The consumer methods emstream uses (kafkajs `Consumer`). */
export interface ConsumerLike {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(subscription: { topics: string[]; fromBeginning?: boolean }): Promise<void>;
  run(config: ConsumerRunConfigLike): Promise<void>;
  stop(): Promise<void>;
  /** Stops fetching the given topics (the consumer stays in its group, so commits still work). */
  pause(topics: { topic: string }[]): void;
  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void>;
  /**
   * Moves the fetch position of an assigned partition (applied at the next fetch; with `autoCommit: false` nothing is
   * committed). Optional: without it, a partition kept through a rebalance is re-read from its last commit.
   */
  seek?(position: TopicPartitionOffset): void;
  /** Instrumentation event names (kafkajs `consumer.events`); emstream listens to `CRASH`, `GROUP_JOIN` and `REBALANCING` when the client has them. */
  readonly events?: { readonly CRASH: string; readonly GROUP_JOIN?: string; readonly REBALANCING?: string; readonly HEARTBEAT?: string };
  /**
   * Adds an instrumentation listener (kafkajs `consumer.on`); returns its remover. Optional: without it a crash
   * cannot be surfaced, and partitions lost in a rebalance are only forgotten when they are consumed again.
   */
  on?(eventName: string, listener: (event: ConsumerEventLike) => void): () => void;
}

/**
 * The consumer events emstream reads (kafkajs): `consumer.crash` — the consumer stopped on `error` and restarts
 * itself only when `restart` is true; `consumer.group_join` — `memberAssignment` lists the partitions now assigned.
 */
export interface ConsumerEventLike {
  readonly payload: {
    readonly error?: Error;
    readonly groupId?: string;
    readonly memberId?: string;
    readonly restart?: boolean;
    readonly memberAssignment?: Readonly<Record<string, readonly number[]>>;
  };
}

/** A header map for produced messages. */
export type ProducedHeaders = Record<string, string | Buffer>;

/** One message to produce (kafkajs `Message`). */
export interface ProducedMessage {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: ProducedHeaders;
  partition?: number;
  timestamp?: string;
}

/** The producer methods emstream uses (kafkajs `Producer`). */
export interface ProducerLike {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  sendBatch(batch: { topicMessages: { topic: string; messages: ProducedMessage[] }[]; acks?: number }): Promise<unknown>;
}

/** A topic to create (kafkajs `ITopicConfig`). */
export interface TopicSpec {
  topic: string;
  numPartitions?: number;
  replicationFactor?: number;
  configEntries?: { name: string; value: string }[];
}

/** The admin methods emstream uses (kafkajs `Admin`). */
export interface AdminLike {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  listTopics(): Promise<string[]>;
  createTopics(options: { topics: TopicSpec[]; waitForLeaders?: boolean }): Promise<boolean>;
  fetchTopicOffsets(topic: string): Promise<{ partition: number; offset: string; high: string; low: string }[]>;
  /** Topic configs (kafkajs `describeConfigs`); used to read `max.message.bytes`. Optional: the broker default is assumed without it. */
  describeConfigs?(options: {
    resources: { type: number; name: string; configNames?: string[] }[];
    includeSynonyms: boolean;
  }): Promise<{ resources: { resourceName: string; configEntries: { configName: string; configValue: string }[] }[] }>;
}

/** Retry settings of a client (kafkajs `RetryOptions`). */
export interface ClientRetryOptions {
  readonly retries?: number;
  readonly initialRetryTime?: number;
  readonly maxRetryTime?: number;
  readonly restartOnFailure?: (error: Error) => Promise<boolean>;
}

/** A client that makes consumers, producers and admins (kafkajs `Kafka`). */
export interface KafkaClientLike {
  consumer(config: {
    groupId: string;
    maxBytesPerPartition?: number;
    sessionTimeout?: number;
    heartbeatInterval?: number;
    rebalanceTimeout?: number;
    retry?: ClientRetryOptions;
  }): ConsumerLike;
  producer(config?: { allowAutoTopicCreation?: boolean; idempotent?: boolean; maxInFlightRequests?: number; retry?: ClientRetryOptions }): ProducerLike;
  admin(config?: { retry?: ClientRetryOptions }): AdminLike;
}

/** Options of {@link createKafkaClient}. */
export interface CreateKafkaClientOptions {
  readonly clientId?: string;
  /** Receives kafkajs's own log lines. */
  readonly logger?: Logger;
  /** The kafkajs log level (default `'warn'`). */
  readonly logLevel?: 'nothing' | 'error' | 'warn' | 'info' | 'debug';
  /**
   * `'levels'` (default): kafkajs ERROR/WARN/INFO/DEBUG go to the pino levels of the same name. `'debug'`: every
   * kafkajs line goes to `debug` — for a runner that reports what matters itself (retries, crashes, rebalances), so
   * an unreachable broker does not print a dozen lines per attempt.
   */
  readonly forwardLogsAs?: 'levels' | 'debug';
  /** kafkajs `retry` of every client made (connections, requests). */
  readonly retry?: ClientRetryOptions;
  /** kafkajs `connectionTimeout` in ms (default 1000). */
  readonly connectionTimeout?: number;
}

/**
 * Forwards one kafkajs log entry to a pino logger: without the stack (unless `EMSTREAM_DEBUG=1`) and without
 * kafkajs 2's one-time partitioner notice.
 */
export function forwardKafkajsLog(
  logger: Logger | undefined,
  level: 'error' | 'warn' | 'info' | 'debug',
  namespace: string,
  log: { message: string } & Record<string, unknown>,
): void {
  if (logger === undefined) return;
  if (log.message.startsWith('KafkaJS v2.0.0 switched default partitioner')) return;
  const { message, stack, ...rest } = log;
  const fields: Record<string, unknown> = { kafkajs: namespace, ...rest };
  if (stack !== undefined && process.env.EMSTREAM_DEBUG === '1') fields.stack = stack;
  logger[level](fields, message);
}

/**
 * Creates a kafkajs client whose own log goes to a pino logger.
 *
 * 1. Import kafkajs (lazily, so the rest of the edge stays client-agnostic).
 * 2. Map kafkajs levels (ERROR, WARN, INFO, DEBUG) to pino levels (or all to `debug`); only WARN and above by
 *    default; stacks are dropped unless `EMSTREAM_DEBUG=1`.
 *
 * ## Example
 * ```ts
 * import { createKafkaClient } from 'emstream';
 *
 * const kafka = await createKafkaClient(['127.0.0.1:9092'], { clientId: 'my-service' });
 * const admin = kafka.admin();
 * ```
 *
 * @param brokers - bootstrap addresses, e.g. `['127.0.0.1:9092']`
 * @param options - client id, logger, kafkajs log level, how to forward its lines, retry settings
 * @returns the kafkajs `Kafka` instance, typed as {@link KafkaClientLike}
 */
export async function createKafkaClient(brokers: readonly string[], options: CreateKafkaClientOptions = {}): Promise<KafkaClientLike> {
  const { Kafka, logLevel } = await import('kafkajs');
  installRequestQueueFix(); // kafkajs 2.2.4's idle 1 ms timer loop (Node 24's TimeoutNegativeWarning)
  const levels = { nothing: logLevel.NOTHING, error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO, debug: logLevel.DEBUG };
  const logger = options.logger;
  const asDebug = options.forwardLogsAs === 'debug';
  return new Kafka({
    clientId: options.clientId ?? 'emstream',
    brokers: [...brokers],
    logLevel: levels[options.logLevel ?? 'warn'],
    connectionTimeout: options.connectionTimeout,
    retry: options.retry === undefined ? undefined : { ...options.retry },
    logCreator: () => (entry) => {
      const level = asDebug ? 'debug' : entry.level <= logLevel.ERROR ? 'error' : entry.level === logLevel.WARN ? 'warn' : entry.level === logLevel.INFO ? 'info' : 'debug';
      forwardKafkajsLog(logger, level, entry.namespace, entry.log);
    },
  }) as unknown as KafkaClientLike;
}
