/**
 * The tasks of the exactly-once mode: one per assigned input partition (Kafka Streams' tasks), each with its own
 * pipeline instance and state, its own transactional producer and its own transactions.
 *
 * @module
 */
import type { Logger } from 'pino';
import { StateMismatchError } from '../../gmm/errors.js';
import type { Instrumentation } from '../../instrumentation.js';
import { WindowRecorder } from '../../monitoring/recorder.js';
import { compareOffsets, partitionKey } from '../../offsets.js';
import type { SharedModelLink } from '../../operators/sharedMember.js';
import type { InvalidVector, VectorInput } from '../../operators/types.js';
import { seekQuietly } from '../client/consumerRestart.js';
import type { AdminLike, ConsumerLike, KafkaClientLike, TopicPartitionOffset } from '../client/ports.js';
import type { TransactionalProducerLike } from '../client/transactions.js';
import type { DeliveryCounters } from '../delivery/delivery.js';
import { ExactlyOnceDelivery } from '../delivery/exactlyOnce.js';
import type { OffsetTracker } from '../delivery/offsets.js';
import { describeError, type KafkaEdgeError } from '../errors.js';
import type { TopicPartitions } from '../events.js';
import { deadLetterSourceOf } from '../messages/deadLetters.js';
import type { WindowOutput } from '../messages/outputs.js';
import type { KafkaRecord, UndecodableMessage } from '../source/record.js';
import type { RestoredModel } from '../state/restore.js';
import { restoredCoverage, type StateStore, type TaskPartition } from '../state/store.js';
import type { RunConfig, RunKafkaPipelineOptions } from './config.js';
import { retryBrokerOperation, type RetryOptions } from './retry.js';
import { asEmstreamError } from './startup.js';
import { PipelineTask } from './task.js';

/** What the tasks need from the run. */
export interface ExactlyOnceTasksOptions<R extends VectorInput> {
  readonly options: RunKafkaPipelineOptions<R>;
  readonly config: RunConfig;
  readonly kafka: KafkaClientLike;
  readonly consumer: ConsumerLike;
  readonly tracker: OffsetTracker;
  /**
   * The source's `skipBelow` (partition key → first offset to emit): a task's start position goes in, so a batch
   * fetched from an earlier offset (before the seek took effect, or from an older committed offset) is not read twice.
   */
  readonly skipBelow: Map<string, string>;
  readonly store: StateStore;
  /** A transactional producer for a transactional id (in the producer thread, or on this one). */
  readonly producerFor: (transactionalId: string) => TransactionalProducerLike;
  /** The outputs of a task's windows, in order (labels, its state message, window history, drift, the caller's). */
  readonly outputsFor: (recorder: WindowRecorder, state: WindowOutput<R>) => WindowOutput<R>[];
  readonly deadLetters: { readonly topic: string; readonly maxMessageBytes: number };
  readonly batchMaxBytes: number;
  /** The input partitions at start, per topic (one partition in all: a state of the whole run is the task's too). */
  readonly inputPartitions: ReadonlyMap<string, readonly number[]>;
  readonly retry: () => RetryOptions;
  readonly instrumentation: Instrumentation;
  readonly health: { ok(): void; failed(operation: string, error: unknown): void };
  readonly logger: Logger;
  /** Told of every dead letter (for the warning when almost everything is dead-lettered). */
  readonly onDeadLetter?: (reason: string, message: string) => void;
  /** Refuses a restored state that does not match the pipeline (the run's error for it). */
  readonly refuse: (restored: RestoredModel | undefined, error: StateMismatchError | { differences: { setting: string; saved: string; requested: string }[] }) => KafkaEdgeError;
  /** A failure that ends the run. */
  readonly onError: (error: unknown) => void;
  /** The shared-model mode: each task's `fitMixture` is a member of this global model (tasks restore no state of their own). */
  readonly sharedModel?: SharedModelLink;
  /** Every task completed after {@link ExactlyOnceTasks.finish}. */
  readonly onComplete: () => void;
}

/** One input partition's task, through its life. */
interface TaskEntry<R extends VectorInput> {
  readonly topic: string;
  readonly partition: number;
  state: 'opening' | 'open' | 'closing';
  task?: PipelineTask<R>;
  delivery?: ExactlyOnceDelivery<R>;
  producer?: TransactionalProducerLike;
  completed: boolean;
}

/**
 * The tasks of a run in the exactly-once mode.
 *
 * 1. A partition assigned ({@link rebalance}): pause it; make its transactional producer (id
 *    `<group>/<topic>/<partition>`) and initialize it, which fences the producer of a former owner (its open
 *    transaction aborted, its later sends and commits refused); then — only then, so nothing the former owner had
 *    committed is missed — read its state (key `<pipelineId>/<topic>/<partition>`, read_committed) and the group's
 *    committed offset; build its pipeline from the state; seek to the later of the offset and the state's
 *    coverage; resume.
 * 2. Records and dead letters go to their partition's task; each task's windows go to its
 *    {@link ExactlyOnceDelivery} (one transaction per window, or per few when behind).
 * 3. A partition revoked: its task is closed (the running transaction may finish; what is not committed is dropped:
 *    the new owner reads it again). A task whose producer was fenced is closed the same way and, if the partition
 *    is still assigned a session timeout later (this member was not a zombie after all), opened again from the
 *    committed state.
 */
export class ExactlyOnceTasks<R extends VectorInput> {
  private readonly entries = new Map<string, TaskEntry<R>>();
  private assignment = new Set<string>();
  private finishing = false;
  private stopping = false;
  private readonly closedCounts = { labelled: 0, windows: 0, deadLettered: 0 };
  private readonly reopenTimers = new Set<NodeJS.Timeout>();
  private readonly committed = new Map<string, TopicPartitionOffset>();

  /** @param o - what the tasks need from the run */
  constructor(private readonly o: ExactlyOnceTasksOptions<R>) {}

  /** The transactional id of a partition's task: stable across members and restarts. */
  static transactionalId(group: string, task: TaskPartition): string {
    return `${group}/${task.topic}/${task.partition}`;
  }

  /** Whether records of a partition may flow now (its task is open). */
  readonly accept = (topic: string, partition: number): boolean => this.entries.get(partitionKey(topic, partition))?.state === 'open';

  /** Counters over every task (closed ones included). */
  get counters(): DeliveryCounters {
    const c = { ...this.closedCounts };
    for (const e of this.entries.values()) {
      if (e.delivery === undefined) continue;
      const d = e.delivery.counters;
      c.labelled += d.labelled;
      c.windows += d.windows;
      c.deadLettered += d.deadLettered;
    }
    return c;
  }

  /** The positions committed last, one per partition that committed. */
  positions(): TopicPartitionOffset[] {
    const out = new Map(this.committed);
    for (const e of this.entries.values()) for (const p of e.delivery?.committedNow() ?? []) out.set(partitionKey(p.topic, p.partition), p);
    return [...out.values()];
  }

  /** A record to its partition's task (dropped, and its partition forgotten, when the task is not open). */
  push(record: KafkaRecord): void {
    const entry = this.entries.get(partitionKey(record.topic, record.partition));
    if (entry?.state === 'open') entry.task!.push(record);
    else this.o.tracker.forget(record.topic, record.partition);
  }

  /** An undecodable message to its partition's task's dead letters. */
  deadLetter(message: UndecodableMessage): void {
    const entry = this.entries.get(partitionKey(message.topic, message.partition));
    if (entry?.state === 'open') {
      this.o.onDeadLetter?.(message.failure.reason, message.failure.message);
      entry.delivery!.deadLetter(message, message.failure.reason, message.failure.message);
    } else this.o.tracker.forget(message.topic, message.partition);
  }

  /**
   * A new assignment (kafkajs `GROUP_JOIN`, eager: every partition is listed): close the tasks of partitions revoked,
   * open the tasks of partitions new to this member; tasks of partitions kept go on.
   */
  rebalance(assigned: readonly TopicPartitions[]): void {
    const now = new Set(assigned.flatMap(({ topic, partitions }) => partitions.map((p) => partitionKey(topic, p))));
    this.assignment = now;
    for (const [key, entry] of this.entries) if (!now.has(key)) void this.close(entry, 'revoked');
    const fresh: TaskPartition[] = [];
    for (const { topic, partitions } of assigned) for (const partition of partitions) if (!this.entries.has(partitionKey(topic, partition))) fresh.push({ topic, partition });
    if (fresh.length > 0) void this.open(fresh);
  }

  /** Opens the tasks of new partitions (paused until open). */
  private async open(parts: readonly TaskPartition[]): Promise<void> {
    const { consumer, config, logger } = this.o;
    if (this.stopping) return;
    const entries = parts.map((p): TaskEntry<R> => ({ ...p, state: 'opening', completed: false }));
    for (const e of entries) this.entries.set(partitionKey(e.topic, e.partition), e);
    consumer.pause(parts.map(({ topic, partition }) => ({ topic, partitions: [partition] })));
    try {
      // 1. Fence: initialize each task's transactional id (a former owner's open transaction is aborted).
      await Promise.all(
        entries.map(async (e) => {
          const producer = this.o.producerFor(ExactlyOnceTasks.transactionalId(config.group, e));
          e.producer = producer;
          await retryBrokerOperation('transaction-init', () => producer.connect(), this.o.retry());
        }),
      );
      // 2. Then the states and the committed offsets (nothing committed by a former owner can come after this).
      const keys = entries.map((e) => this.o.store.key(e));
      const single = this.singlePartitionInput();
      // A member of a shared model has no state of its own: the global model is followed by the run.
      const states =
        this.o.sharedModel !== undefined
          ? new Map<string, RestoredModel>()
          : await retryBrokerOperation('restore', () => this.o.store.restore(single === undefined ? keys : [...keys, this.o.store.key()], Math.max(5000, config.brokerTimeoutMs)), this.o.retry());
      const offsets = await retryBrokerOperation('fetch-offsets', () => this.committedOffsets(parts), this.o.retry());
      for (const e of entries) {
        if (this.stopping || this.entries.get(partitionKey(e.topic, e.partition)) !== e || !this.assignment.has(partitionKey(e.topic, e.partition))) {
          await e.producer?.disconnect().catch(() => undefined);
          if (this.entries.get(partitionKey(e.topic, e.partition)) === e) this.entries.delete(partitionKey(e.topic, e.partition));
          continue;
        }
        let restored = config.fresh || this.o.sharedModel !== undefined ? undefined : states.get(this.o.store.key(e));
        // A state of the whole run (at-least-once on a one-partition input) continues as this partition's task.
        if (restored === undefined && !config.fresh && this.o.sharedModel === undefined && single !== undefined && single.topic === e.topic && single.partition === e.partition) restored = states.get(this.o.store.key());
        this.start(e, restored, offsets.get(partitionKey(e.topic, e.partition)));
      }
    } catch (err) {
      if (this.stopping) return;
      logger.error({ error: describeError(err), partitions: parts }, 'could not open the tasks of the partitions assigned');
      this.o.onError(asEmstreamError(err, 'open-tasks', `could not open the tasks of ${parts.map((p) => `${p.topic}/${p.partition}`).join(', ')}`));
    }
  }

  /** The one input partition, when the input has exactly one. */
  private singlePartitionInput(): TaskPartition | undefined {
    const all = [...this.o.inputPartitions].flatMap(([topic, partitions]) => partitions.map((partition) => ({ topic, partition })));
    return all.length === 1 ? all[0] : undefined;
  }

  /** The group's committed offset of each partition (absent: none). */
  private async committedOffsets(parts: readonly TaskPartition[]): Promise<Map<string, string>> {
    const { kafka, config } = this.o;
    const admin: AdminLike = kafka.admin();
    await admin.connect();
    try {
      if (admin.fetchOffsets === undefined) return new Map();
      const topics = [...new Set(parts.map((p) => p.topic))];
      const found = await admin.fetchOffsets({ groupId: config.group, topics });
      const out = new Map<string, string>();
      for (const { topic, partitions } of found) for (const { partition, offset } of partitions) if (!offset.startsWith('-')) out.set(partitionKey(topic, partition), offset);
      return out;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** Builds a task from its restored state, seeks its partition and lets records flow. */
  private start(e: TaskEntry<R>, restored: RestoredModel | undefined, committed: string | undefined): void {
    const { config, options, tracker, logger, instrumentation, consumer } = this.o;
    const state = restored?.state;
    const stateDimension = state?.config?.d ?? state?.model?.d ?? undefined;
    if (state !== undefined && stateDimension !== undefined && config.dimension !== undefined && stateDimension !== config.dimension) {
      this.o.onError(this.o.refuse(restored, { differences: [{ setting: 'd', saved: String(stateDimension), requested: String(config.dimension) }] }));
      return;
    }
    const coverage = restoredCoverage(restored, [e.topic]).filter((o) => o.partition === e.partition);
    const made: { delivery?: ExactlyOnceDelivery<R> } = {};
    const recorder = new WindowRecorder({
      pipelineId: config.pipelineId,
      windows: config.windows !== null,
      drift: config.drift !== null,
      instrumentation,
      previousModel: restored?.model ?? null,
      deadLettered: () => made.delivery?.counters.deadLettered ?? 0,
      sample: config.windowSample,
      logger,
    });
    const delivery: ExactlyOnceDelivery<R> = new ExactlyOnceDelivery<R>({
      producer: e.producer!,
      tracker,
      task: { topic: e.topic, partition: e.partition },
      group: config.group,
      outputs: this.o.outputsFor(recorder, this.o.store.output<R>(e)),
      deadLetters: this.o.deadLetters,
      pipelineId: config.pipelineId,
      initialCoverage: coverage,
      batch: { maxBatchBytes: this.o.batchMaxBytes, ...options.producerBatch },
      instrumentation,
      health: this.o.health,
      logger,
      onError: (err) => this.o.onError(err),
      onLost: () => void this.lost(e),
    });
    made.delivery = delivery;
    const task = new PipelineTask<R>({
      pipeline: options.pipeline,
      restored,
      delivery,
      recorder,
      instrumentation,
      onInvalid: (invalid: InvalidVector<unknown>) => {
        this.o.onDeadLetter?.(invalid.reason, invalid.message);
        delivery.deadLetter(deadLetterSourceOf(invalid.record), invalid.reason, invalid.message);
      },
      onError: (err) => this.o.onError(err),
      onComplete: () => {
        e.completed = true;
        this.checkComplete();
      },
      logger,
      sharedModel: this.o.sharedModel,
      maxWaitMs: config.maxWaitMs,
    });
    try {
      task.start();
    } catch (err) {
      task.close();
      this.o.onError(err instanceof StateMismatchError ? this.o.refuse(restored, err) : asEmstreamError(err, 'pipeline', `could not build the pipeline ${JSON.stringify(options.pipeline.name)}`));
      return;
    }
    e.task = task;
    e.delivery = delivery;
    // Where the partition goes on: after what the state and the committed offset cover (they agree but for dead
    // letters, which commit offsets without a state, and a state written by the at-least-once mode).
    let position = committed;
    for (const o of coverage) if (position === undefined || compareOffsets(o.offset, position) > 0) position = o.offset;
    tracker.forget(e.topic, e.partition);
    if (position !== undefined) {
      this.o.skipBelow.set(partitionKey(e.topic, e.partition), position);
      seekQuietly(consumer, { topic: e.topic, partition: e.partition, offset: position }, logger);
    }
    e.state = 'open';
    consumer.resume?.([{ topic: e.topic, partitions: [e.partition] }]);
    const where = { task: { topic: e.topic, partition: e.partition }, from: position ?? (config.fromBeginning ? 'earliest' : 'latest') };
    if (this.o.sharedModel !== undefined) {
      logger.info({ ...where, modelVersion: this.o.sharedModel.current()?.version ?? null }, 'task opened: a member of the shared model (labels with the global model, contributes its windows)');
    } else if (restored === undefined) {
      instrumentation.emit('kafka.state.fresh', { pipelineId: config.pipelineId, reason: config.fresh ? 'fresh-requested' : 'none-saved' });
      logger.info({ ...where, reason: config.fresh ? 'fresh-requested' : 'none-saved' }, 'task opened without a saved state: starting fresh');
    } else {
      instrumentation.emit('kafka.state.restored', { pipelineId: config.pipelineId, modelVersion: restored.message.modelVersion, windowIndex: restored.message.windowIndex, offsets: [...coverage] });
      logger.info({ ...where, key: restored.key, modelVersion: restored.message.modelVersion, windowIndex: restored.message.windowIndex, withState: state !== undefined }, 'restored the saved state: the stream continues from it');
    }
    if (this.finishing) task.finish();
  }

  /** A task's producer was fenced or cannot go on: close the task; open it again later if the partition is still ours. */
  private async lost(e: TaskEntry<R>): Promise<void> {
    const key = partitionKey(e.topic, e.partition);
    await this.close(e, 'lost');
    if (this.stopping || this.finishing) return;
    const timer = setTimeout(() => {
      this.reopenTimers.delete(timer);
      if (this.stopping || this.finishing || this.entries.has(key) || !this.assignment.has(key)) return;
      this.o.logger.info({ task: { topic: e.topic, partition: e.partition } }, 'the partition is still assigned to this member: its task opens again from the committed state');
      void this.open([{ topic: e.topic, partition: e.partition }]);
    }, this.o.config.sessionTimeoutMs);
    this.reopenTimers.add(timer);
  }

  /** Closes a task: pause its partition, drop its pipeline and what is not committed, disconnect its producer. */
  private async close(e: TaskEntry<R>, why: 'revoked' | 'lost' | 'stopping'): Promise<void> {
    if (e.state === 'closing') return;
    const key = partitionKey(e.topic, e.partition);
    const wasOpen = e.state === 'open';
    e.state = 'closing';
    if (why !== 'revoked') {
      try {
        this.o.consumer.pause([{ topic: e.topic, partitions: [e.partition] }]);
      } catch {
        // not assigned any more
      }
    }
    e.task?.close();
    const delivery = e.delivery;
    if (delivery !== undefined) {
      const positions = await delivery.close(5000);
      e.delivery = undefined;
      const d = delivery.counters;
      this.closedCounts.labelled += d.labelled;
      this.closedCounts.windows += d.windows;
      this.closedCounts.deadLettered += d.deadLettered;
      for (const p of positions) this.committed.set(partitionKey(p.topic, p.partition), p);
    } else await e.producer?.disconnect().catch(() => undefined);
    this.o.tracker.forget(e.topic, e.partition);
    this.o.skipBelow.delete(key);
    if (this.entries.get(key) === e) this.entries.delete(key);
    if (wasOpen && why !== 'stopping') this.o.logger.info({ task: { topic: e.topic, partition: e.partition }, why }, why === 'revoked' ? 'task closed: its partition was revoked' : 'task closed: its producer was fenced or cannot go on');
    // Assigned again while it was closing (a later rebalance gave it back): open it afresh.
    if (why === 'revoked' && !this.stopping && !this.finishing && this.assignment.has(key) && !this.entries.has(key)) void this.open([{ topic: e.topic, partition: e.partition }]);
    this.checkComplete();
  }

  /** Completes every task's input: each fits and delivers its open window, then completes. */
  finish(): void {
    this.finishing = true;
    for (const e of this.entries.values()) if (e.state === 'open') e.task!.finish();
    this.checkComplete();
  }

  private checkComplete(): void {
    if (!this.finishing || this.stopping) return;
    for (const e of this.entries.values()) if (e.state === 'opening' || (e.state === 'open' && !e.completed)) return;
    this.o.onComplete();
  }

  /** Resolves when every open task's queued outputs are committed. */
  async flush(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => (e.state === 'open' ? e.delivery!.flush() : undefined)));
  }

  /** Closes every task (bounded), their producers disconnected; returns the positions committed last. */
  async closeAll(timeoutMs: number): Promise<TopicPartitionOffset[]> {
    this.stopping = true;
    for (const t of this.reopenTimers) clearTimeout(t);
    this.reopenTimers.clear();
    await Promise.all([...this.entries.values()].map((e) => this.closeWithin(e, timeoutMs)));
    return this.positions();
  }

  private async closeWithin(e: TaskEntry<R>, timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.close(e, 'stopping'), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
  }

  /** Fails every task's delivery for good (brokers away past the budget). */
  abort(error: KafkaEdgeError): void {
    for (const e of this.entries.values()) e.delivery?.abort(error);
  }
}
