/**
 * The ports of the Kafka edge: the small, structural slice of a Kafka client that emstream uses.
 *
 * kafkajs 2.2.4 satisfies these interfaces as is (`new Kafka({...})` is a {@link KafkaClientLike}); so
 * does the KafkaJS-compatible API of `@confluentinc/kafka-javascript` (`KafkaJS.Kafka`), whose consumer,
 * producer and admin have the same method names and payloads. Nothing in `src/kafka` outside `client/`
 * imports a Kafka client at run time: the adapter (`client/kafkajs.ts`) alone creates clients.
 *
 * @module
 */

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
  /**
   * The offset of the last record of the fetched batch, counting what a read_committed fetch filters out (control
   * records, aborted records): where reading goes on from. kafkajs has it; without it, the last message's offset.
   */
  lastOffset?(): string;
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
  /** Stops fetching the given topics, or only the given partitions of them (the consumer stays in its group, so commits still work). */
  pause(topics: { topic: string; partitions?: number[] }[]): void;
  /** Fetches again what {@link pause} stopped. Optional (needed by the exactly-once mode, which pauses a partition until its task is open). */
  resume?(topics: { topic: string; partitions?: number[] }[]): void;
  commitOffsets(offsets: TopicPartitionOffset[]): Promise<void>;
  /**
   * Moves the fetch position of an assigned partition (applied at the next fetch; with `autoCommit: false` nothing is
   * committed). Optional: without it, a partition kept through a rebalance is re-read from its last commit.
   */
  seek?(position: TopicPartitionOffset): void;
  /** Instrumentation event names (kafkajs `consumer.events`); emstream listens to `CRASH`, `GROUP_JOIN` and `REBALANCING` when the client has them. */
  readonly events?: { readonly CRASH: string; readonly GROUP_JOIN?: string; readonly REBALANCING?: string; readonly HEARTBEAT?: string; readonly END_BATCH_PROCESS?: string };
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
    /** `consumer.end_batch_process`: the batch's partition and last offset (also for a batch whose records were all filtered out). */
    readonly topic?: string;
    readonly partition?: number;
    readonly lastOffset?: string;
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
  /**
   * Begins a transaction (kafkajs `producer.transaction()`: the first call initializes the transactional id, which
   * fences any earlier producer with the same id). Only on a producer made with a `transactionalId`.
   */
  transaction?(): Promise<TransactionLike>;
}

/** Consumed positions committed in a transaction: the offset of the next record to read, per partition. */
export interface TransactionOffsets {
  readonly consumerGroupId: string;
  readonly topics: { readonly topic: string; readonly partitions: { readonly partition: number; readonly offset: string }[] }[];
}

/** An open transaction (kafkajs `Transaction`). */
export interface TransactionLike {
  sendBatch(batch: { topicMessages: { topic: string; messages: ProducedMessage[] }[] }): Promise<unknown>;
  /** Adds consumed positions to the transaction (`AddOffsetsToTxn`, then `TxnOffsetCommit`). */
  sendOffsets(offsets: TransactionOffsets): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
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
  /** A group's committed offsets (kafkajs `fetchOffsets`): `-1` where the group has none. Optional (the exactly-once mode needs it). */
  fetchOffsets?(options: { groupId: string; topics: string[] }): Promise<{ topic: string; partitions: { partition: number; offset: string }[] }[]>;
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
    /** `false` (kafkajs's default): read_committed, records of aborted transactions are never seen. */
    readUncommitted?: boolean;
    maxBytesPerPartition?: number;
    /** Longest a fetch waits for data, in ms (kafkajs default 5000; also how long its fetch loop sleeps while every partition is paused). */
    maxWaitTimeInMs?: number;
    sessionTimeout?: number;
    heartbeatInterval?: number;
    rebalanceTimeout?: number;
    retry?: ClientRetryOptions;
  }): ConsumerLike;
  producer(config?: {
    allowAutoTopicCreation?: boolean;
    idempotent?: boolean;
    maxInFlightRequests?: number;
    retry?: ClientRetryOptions;
    /** Makes a transactional producer (with `idempotent: true` and `maxInFlightRequests: 1`). */
    transactionalId?: string;
    /** How long the coordinator lets a transaction stay open before aborting it, in ms (kafkajs default 60 000). */
    transactionTimeout?: number;
  }): ProducerLike;
  admin(config?: { retry?: ClientRetryOptions }): AdminLike;
}
