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
import { EmstreamError, type ErrorContext } from '../errors.js';
import { installRequestQueueFix } from './requestQueueFix.js';

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
  /** Instrumentation event names (kafkajs `consumer.events`); emstream listens to `CRASH` and `GROUP_JOIN` when the client has them. */
  readonly events?: { readonly CRASH: string; readonly GROUP_JOIN?: string };
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
}

/** A client that makes consumers, producers and admins (kafkajs `Kafka`). */
export interface KafkaClientLike {
  consumer(config: { groupId: string; maxBytesPerPartition?: number; sessionTimeout?: number; heartbeatInterval?: number }): ConsumerLike;
  producer(config?: { allowAutoTopicCreation?: boolean; idempotent?: boolean; maxInFlightRequests?: number }): ProducerLike;
  admin(): AdminLike;
}

/** Context of a {@link KafkaEdgeError}. */
export interface KafkaEdgeErrorContext extends ErrorContext {
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: string;
  readonly groupId?: string;
  /** The operation that failed: `connect`, `produce`, `commit`, `create-topics`, `restore`, `pipeline`, … */
  readonly operation?: string;
}

/**
 * A failure at the Kafka edge (connecting, producing, committing, creating topics) or of the pipeline
 * run by {@link runKafkaPipeline}. Usually retriable: nothing was committed past what was produced, so
 * running again re-consumes from the last commit.
 */
export class KafkaEdgeError extends EmstreamError<KafkaEdgeErrorContext> {
  override readonly name: string = 'KafkaEdgeError';

  /**
   * @param message - what failed, where, and what to do
   * @param context - topic/partition/offset/group and the failed operation
   * @param options - the cause and whether retrying may help (default true)
   */
  constructor(message: string, context: KafkaEdgeErrorContext = {}, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, { cause: options.cause, retriable: options.retriable ?? true, context });
  }
}

/**
 * Creates a kafkajs client whose own log goes to a pino logger.
 *
 * 1. Import kafkajs (lazily, so the rest of the edge stays client-agnostic).
 * 2. Map kafkajs levels (ERROR, WARN, INFO, DEBUG) to pino levels; only WARN and above by default.
 *
 * @param brokers - bootstrap addresses, e.g. `['127.0.0.1:9092']`
 * @param options - client id, logger, and the kafkajs log level name (`'error' | 'warn' | 'info' | 'debug'`)
 * @returns the kafkajs `Kafka` instance, typed as {@link KafkaClientLike}
 */
export async function createKafkaClient(
  brokers: readonly string[],
  options: { clientId?: string; logger?: Logger; logLevel?: 'nothing' | 'error' | 'warn' | 'info' | 'debug' } = {},
): Promise<KafkaClientLike> {
  const { Kafka, logLevel } = await import('kafkajs');
  installRequestQueueFix(); // kafkajs 2.2.4's idle 1 ms timer loop (Node 24's TimeoutNegativeWarning)
  const levels = { nothing: logLevel.NOTHING, error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO, debug: logLevel.DEBUG };
  const logger = options.logger;
  return new Kafka({
    clientId: options.clientId ?? 'emstream',
    brokers: [...brokers],
    logLevel: levels[options.logLevel ?? 'warn'],
    logCreator: () => (entry) => {
      if (logger === undefined) return;
      // The one-time notice about kafkajs 2's default partitioner is not actionable here.
      if (entry.log.message.startsWith('KafkaJS v2.0.0 switched default partitioner')) return;
      const { message, ...rest } = entry.log;
      const fields = { kafkajs: entry.namespace, ...rest };
      if (entry.level <= logLevel.ERROR) logger.error(fields, message);
      else if (entry.level === logLevel.WARN) logger.warn(fields, message);
      else if (entry.level === logLevel.INFO) logger.info(fields, message);
      else logger.debug(fields, message);
    },
  });
}
