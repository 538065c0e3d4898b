/**
 * `runKafkaPipeline`: runs a {@link Pipeline} between Kafka topics. The run object owns the lifecycle only (start,
 * stop, done, readiness), in the manner of kafkajs's consumer front (`consumer/index.js`) over its runner: the
 * configuration (`config.ts`), the start-up checks (`startup.ts`), the state store (`../state/store.ts`), the fetch
 * loop (`../source/fromKafka.ts`), the offset manager and the delivery (`../delivery/`), the pipeline's task
 * (`task.ts`) and the broker health (`retry.ts`) do the work.
 *
 * @module
 */
import { pino, type Logger } from 'pino';
import type { Subscription } from 'rxjs';
import { StateMismatchError } from '../../gmm/errors.js';
import { Instrumentation } from '../../instrumentation.js';
import { WindowRecorder } from '../../monitoring/recorder.js';
import { partitionKey } from '../../offsets.js';
import type { InvalidVector, VectorInput } from '../../operators/types.js';
import { createKafkaClient } from '../client/kafkajs.js';
import { installReadCommittedFix } from '../client/readCommittedFix.js';
import type { ConsumerLike, KafkaClientLike, ProducerLike, TopicPartitionOffset } from '../client/ports.js';
import { KafkajsTransactionalProducer } from '../client/transactions.js';
import { WorkerProducer } from '../client/workerProducer.js';
import { AtLeastOnceDelivery } from '../delivery/atLeastOnce.js';
import type { DeliveryCounters } from '../delivery/delivery.js';
import { OffsetTracker } from '../delivery/offsets.js';
import { describeError, StateRestoreError, type KafkaEdgeError } from '../errors.js';
import type { EventOffset, KafkaRole, TopicPartitions } from '../events.js';
import { deadLetterSourceOf } from '../messages/deadLetters.js';
import { contributionsOutput } from '../messages/contributions.js';
import { labelsOutput } from '../messages/labels.js';
import { driftOutput, windowHistoryOutput } from '../messages/history.js';
import type { WindowOutput } from '../messages/outputs.js';
import { createDecoder, type VectorDecoder } from '../source/formats.js';
import { fromKafka } from '../source/fromKafka.js';
import type { KafkaRecord, UndecodableMessage } from '../source/record.js';
import type { RestoredModel } from '../state/restore.js';
import { restoredCoverage, StateStore } from '../state/store.js';
import { ReducerRole, statisticsCore } from '../shared/reducer.js';
import { sharedModelOptions, SharedModelRun } from '../shared/sharedModel.js';
import { resolveRunConfig, type RunConfig, type RunKafkaPipelineOptions } from './config.js';
import type { KafkaPipelineCounters, KafkaPipelineHandle, KafkaPipelineResult, StopOptions } from './handle.js';
import { BrokerHealth, retryBrokerOperation, type RetryOptions } from './retry.js';
import { DeadLetterWatch } from './deadLetterWatch.js';
import { ExactlyOnceTasks } from './exactlyOnceTasks.js';
import { asEmstreamError, checkStatsTopic, prepareOutputTopics, waitForInputTopics, type StartupContext } from './startup.js';
import { PipelineTask } from './task.js';

export type { RunKafkaPipelineOptions } from './config.js';
export type { KafkaPipelineCounters, KafkaPipelineHandle, KafkaPipelineResult, StopOptions } from './handle.js';

/** A deferred promise. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Resolves with `promise`, or with `fallback` after `ms` (the promise's rejection is swallowed). */
export async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise.catch(() => fallback), new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** Readiness: connected and assigned, brokers answering, not stuck on backpressure, not stopping. */
class RunReadiness {
  private readonly flags = { assigned: false, brokersFailing: false, stuck: false, stopping: false };
  private current = false;

  /** @param instrumentation - receives `kafka.ready` on each change */
  constructor(private readonly instrumentation: Instrumentation) {}

  get ready(): boolean {
    return this.current;
  }

  /** Sets one condition and emits `kafka.ready` when readiness changed. */
  set(flag: keyof RunReadiness['flags'], value: boolean, reason: string): void {
    this.flags[flag] = value;
    const { assigned, brokersFailing, stuck, stopping } = this.flags;
    const ready = assigned && !brokersFailing && !stuck && !stopping;
    if (ready === this.current) return;
    this.current = ready;
    this.instrumentation.emit('kafka.ready', { ready, reason });
  }
}

/**
 * Runs a pipeline between Kafka topics: consumer → decode (dead letters on failure) → `pipeline.build` → labels,
 * state messages and dead letters → commit. Every thrown (or rejected) error is an `EmstreamError`.
 *
 * 1. Resolve the configuration ({@link resolveRunConfig}: a zod schema; topics, group and format from the options,
 *    then the pipeline's `kafka` defaults, then derived names). Wait (up to `inputTimeoutMs`) for input topics that
 *    do not exist yet, then create the missing output topics (models compacted and sized for states; dead letters
 *    sized from the input topic), retrying while the brokers are unavailable.
 * 2. Restore the latest state of the pipeline id from the models topic (unless `fresh`) and build the pipeline
 *    inside `buildInPipelineScope`: its `fitMixture` resumes from it (versions, statistics, drift detector
 *    continue), and its `windowVectors` gets the dead-letter path. A state of another configuration is refused
 *    with a {@link StateRestoreError} naming each difference, before anything is consumed. Records the state already
 *    covers (its `offsets`) are skipped: a state can be newer than the group's committed offsets.
 * 3. Consume with {@link fromKafka}: each message is registered with the delivery's tracker, decoded through the
 *    one input gate, and emitted; an undecodable one goes to the dead-letter topic with its reason and coordinates.
 * 4. Each update goes to the {@link AtLeastOnceDelivery}: labels, the state message (model, whole state, covered
 *    offsets), the window-history message and one drift message per alarm ({@link WindowRecorder}: offsets, counts,
 *    fit time, lag; alarms are also logged at warn) and any further `outputs`, batched together; once acknowledged
 *    its records are finished, and positions are committed right away (and at least every `commitIntervalMs`).
 *    With `exactlyOnce`, each assigned input partition is a task of its own instead ({@link ExactlyOnceTasks}: its
 *    pipeline, its state, its transactional producer), and each window's outputs, state and offset commit in one
 *    transaction (`ExactlyOnceDelivery`).
 * 5. Brokers unavailable (at start or while running): sends, commits and the consumer retry with backoff; after
 *    `brokerTimeoutMs` without an answer the run ends with a `BrokerUnavailableError` (never alive and idle).
 * 6. `stop()` stops fetching, flushes, commits what is acknowledged and disconnects, each step bounded in time; the
 *    open window is handed back uncommitted (or finished first with `finishWindow`). A failure stops the same way
 *    and rejects `done`; nothing unacknowledged is ever committed, so a restart re-processes it.
 *
 * ## Example
 * ```ts
 * import { runKafkaPipeline, standardPipeline } from 'emstream';
 *
 * const run = await runKafkaPipeline({
 *   brokers: ['127.0.0.1:9092'],
 *   pipeline: standardPipeline({ window: 500, k: 3 }),
 *   input: 'points', group: 'points-gmm', fromBeginning: true, format: 'json-array',
 * });
 * process.once('SIGTERM', () => void run.stop());
 * console.log(await run.done); // { counters: { consumed, labelled, … }, committed, handedBack }
 * ```
 *
 * @param options - client, pipeline, topics, format, bounds
 * @returns the handle of the running pipeline, once it is consuming
 * @throws EmstreamOptionsError when the options are incomplete or inconsistent
 * @throws BrokerUnavailableError when the brokers cannot be reached within `brokerTimeoutMs`
 * @throws StateRestoreError when the saved state does not match the pipeline
 * @throws KafkaEdgeError when topics cannot be created or the clients cannot connect
 */
export async function runKafkaPipeline<R extends VectorInput>(options: RunKafkaPipelineOptions<R>): Promise<KafkaPipelineHandle> {
  const config = resolveRunConfig(options);
  return new KafkaPipelineRun<R>(options, config).start();
}

/**
 * How a run delivers: the at-least-once mode (one task for every input partition, batched sends, commits of what is
 * acknowledged) or the exactly-once mode (one task per input partition, transactions). The run object is the same.
 */
interface RunMode {
  /** The offset manager the source registers records with. */
  readonly tracker: OffsetTracker;
  readonly counters: DeliveryCounters;
  /** Whether records of a partition may flow now (undefined: always). */
  readonly accept?: (topic: string, partition: number) => boolean;
  push(record: KafkaRecord): void;
  deadLetter(message: UndecodableMessage): void;
  /** After a rebalance, with every partition now assigned. */
  rebalance(assigned: readonly TopicPartitions[]): void;
  /** Completes the pipelines' input (their open windows are fitted and delivered). */
  finish(): void;
  /** Resolves when what was handed to the delivery is acknowledged (committed, exactly once). */
  flush(): Promise<void>;
  /** The last commit (bounded); returns the positions committed. */
  close(timeoutMs: number): Promise<TopicPartitionOffset[]>;
  abort(error: KafkaEdgeError): void;
  /** Drops the pipelines. */
  stop(): void;
}

/** At least once: one task, an {@link AtLeastOnceDelivery}. */
class AtLeastOnceMode<R extends VectorInput> implements RunMode {
  readonly tracker: OffsetTracker;

  /**
   * @param covered - the shared-model mode: the first offset of a partition the global statistics do not count yet
   * @param skipBelow - the source's first offsets to emit (a partition newly assigned skips what the global model counts)
   */
  constructor(
    private readonly task: PipelineTask<R>,
    private readonly delivery: AtLeastOnceDelivery<R>,
    private readonly onDeadLetter: (reason: string, message: string) => void,
    private readonly covered?: (topic: string, partition: number) => string | undefined,
    private readonly skipBelow?: Map<string, string>,
  ) {
    this.tracker = delivery.tracker;
  }

  get counters(): DeliveryCounters {
    return this.delivery.counters;
  }

  push(record: KafkaRecord): void {
    this.task.push(record);
  }

  deadLetter(message: UndecodableMessage): void {
    this.onDeadLetter(message.failure.reason, message.failure.message);
    this.delivery.deadLetter(message, message.failure.reason, message.failure.message);
  }

  rebalance(assigned: readonly TopicPartitions[]): void {
    // Shared model: a partition new to this member starts after what the global statistics already count (those
    // records were labelled and contributed by the member that had it: their labels were acknowledged first).
    if (this.covered !== undefined && this.skipBelow !== undefined) {
      for (const { topic, partitions } of assigned) {
        for (const partition of partitions) {
          const from = this.covered(topic, partition);
          if (from !== undefined && this.tracker.nextOffset(topic, partition) === undefined) this.skipBelow.set(partitionKey(topic, partition), from);
        }
      }
    }
    // Kept partitions' acknowledged progress, committed under the new generation.
    void this.delivery.commit().catch(() => undefined);
  }

  finish(): void {
    this.task.finish();
  }

  flush(): Promise<void> {
    return this.delivery.flush();
  }

  close(timeoutMs: number): Promise<TopicPartitionOffset[]> {
    return this.delivery.close(timeoutMs);
  }

  abort(error: KafkaEdgeError): void {
    this.delivery.abort(error);
  }

  stop(): void {
    this.task.close();
  }
}

/** Exactly once: a task per input partition ({@link ExactlyOnceTasks}). */
class ExactlyOnceMode<R extends VectorInput> implements RunMode {
  readonly accept: (topic: string, partition: number) => boolean;

  constructor(
    private readonly tasks: ExactlyOnceTasks<R>,
    readonly tracker: OffsetTracker,
  ) {
    this.accept = tasks.accept;
  }

  get counters(): DeliveryCounters {
    return this.tasks.counters;
  }

  push(record: KafkaRecord): void {
    this.tasks.push(record);
  }

  deadLetter(message: UndecodableMessage): void {
    this.tasks.deadLetter(message);
  }

  rebalance(assigned: readonly TopicPartitions[]): void {
    this.tasks.rebalance(assigned);
  }

  finish(): void {
    this.tasks.finish();
  }

  flush(): Promise<void> {
    return this.tasks.flush();
  }

  close(timeoutMs: number): Promise<TopicPartitionOffset[]> {
    return this.tasks.closeAll(timeoutMs);
  }

  abort(error: KafkaEdgeError): void {
    this.tasks.abort(error);
  }

  stop(): void {
    // the tasks' pipelines are closed with them
  }
}

/** `retention.ms` of a created statistics topic: a day (the reducer reads contributions within rounds of milliseconds). */
const STATS_RETENTION_MS = 24 * 3600 * 1000;

/** The window-history and drift outputs of one recorder (one per task in the exactly-once mode). */
function monitoringOutputsFor<R>(config: RunConfig, recorder: Pick<WindowRecorder, 'observe'>): WindowOutput<R>[] {
  return [
    ...(config.windows === null ? [] : [windowHistoryOutput<R>(config.windows, (o) => recorder.observe(o.update, o.windowIndex).window!, { retentionMs: config.windowsRetentionMs })]),
    ...(config.drift === null ? [] : [driftOutput<R>(config.drift, (o) => recorder.observe(o.update, o.windowIndex).drift, { retentionMs: config.driftRetentionMs })]),
  ];
}

/** One run of a pipeline: the lifecycle front (start, stop, done, readiness) over the pieces that do the work. */
class KafkaPipelineRun<R extends VectorInput> {
  private readonly logger: Logger;
  private readonly instrumentation: Instrumentation;
  private readonly started = Date.now();
  private readonly retry: RetryOptions;
  private readonly done = deferred<KafkaPipelineResult>();
  private readonly readiness: RunReadiness;
  private readonly counts = { consumed: 0, skipped: 0 };
  private readonly sourceAbort = new AbortController();
  private readonly sourceEnded = deferred<void>();
  private finishing: Promise<KafkaPipelineResult> | undefined;
  private finishWindow = false;
  private restored: RestoredModel | undefined;
  private shared: SharedModelRun | undefined;
  private health: BrokerHealth | undefined;
  private mode: RunMode | undefined;
  private producer: (ProducerLike & { resume?: () => void }) | undefined;
  private consumer: ConsumerLike | undefined;
  private source: Subscription | undefined;

  /**
   * @param options - the caller's options
   * @param config - the resolved configuration
   */
  constructor(
    private readonly options: RunKafkaPipelineOptions<R>,
    private readonly config: RunConfig,
  ) {
    this.logger = (options.logger ?? pino({ level: 'silent' })).child({ pipeline: config.pipelineId });
    this.instrumentation = options.instrumentation ?? new Instrumentation();
    this.readiness = new RunReadiness(this.instrumentation);
    // Start-up: while the brokers do not answer, one warning per retry; past the budget, the error that ends the start.
    this.retry = { deadline: this.started + config.brokerTimeoutMs, budgetMs: config.brokerTimeoutMs, brokers: config.brokers, instrumentation: this.instrumentation, logger: this.logger, signal: options.signal };
    this.done.promise.catch(() => undefined); // callers may only use stop()
  }

  /** Tells `kafka.connect` / `kafka.disconnect`. */
  private readonly connection = (role: KafkaRole, connected: boolean): void => {
    this.instrumentation.emit(connected ? 'kafka.connect' : 'kafka.disconnect', { role });
  };

  /**
   * Starts the run: configuration checks, topics, restore, the pipeline's task, clients, then consuming.
   *
   * @returns the handle, once consuming
   */
  async start(): Promise<KafkaPipelineHandle> {
    const { config, options, logger } = this;
    // Restores and readers are read_committed: keep kafkajs from returning records of aborted transactions, also
    // with a client of the caller's (the fix is kafkajs's own filter fed the list in the order it expects).
    installReadCommittedFix();
    const kafka: KafkaClientLike =
      options.kafka ??
      (await createKafkaClient(config.brokers!, { clientId: config.clientId, logger, forwardLogsAs: 'debug', retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 } }));
    const startup: StartupContext = { kafka, config, retry: this.retry, logger, signal: options.signal, connection: this.connection };

    // 1. Topics: the input must exist (waited for); the outputs are created; their limits size dead letters and batches.
    const inputPartitions = await waitForInputTopics(startup);
    // The window-history and drift records come from the run's recorder (made once the state is restored).
    const recording: { recorder?: WindowRecorder } = {};
    const monitoringOutputs = monitoringOutputsFor<R>(config, { observe: (update, windowIndex) => recording.recorder!.observe(update, windowIndex) });
    const extraOutputs = [...monitoringOutputs, ...(options.outputs ?? [])];
    const shared = config.shared;
    // The shared model's statistics topic: one partition (its one consumer in <group>.reducer is the reducer).
    const statsTopic: WindowOutput<unknown>[] = shared === null ? [] : [{ topic: shared.stats, settings: { partitions: 1, maxMessageBytes: config.modelsMaxMessageBytes, retentionMs: STATS_RETENTION_MS }, messages: () => undefined }];
    const limitOf = await prepareOutputTopics(startup, [...(extraOutputs as WindowOutput<unknown>[]), ...statsTopic]);
    if (shared !== null) await checkStatsTopic(startup, shared.stats);
    const store = new StateStore({ kafka, topic: config.models, pipelineId: config.pipelineId, maxMessageBytes: limitOf(config.models), createdMaxMessageBytes: config.modelsMaxMessageBytes, logger });
    const labels = labelsOutput<R>(config.labels, { includeVector: config.includeVector });
    // A member of a shared model writes labels and contributions (the reducer writes the state, drift and history).
    const outputs: WindowOutput<R>[] =
      shared === null ? [labels, store.output<R>(), ...extraOutputs] : [labels, contributionsOutput<R>(shared.stats, { maxMessageBytes: limitOf(shared.stats) }), ...(options.outputs ?? [])];
    // Batches are counted by an upper bound of their bytes (short strings at 3 bytes a character): below every output topic's limit.
    const batchMaxBytes = Math.max(64 * 1024, Math.min(768 * 1024, ...outputs.map((o) => limitOf(o.topic) - 4096), limitOf(config.deadLetters) - 4096));
    const deadLetters = { topic: config.deadLetters, maxMessageBytes: limitOf(config.deadLetters) };
    this.health = new BrokerHealth({
      budgetMs: config.brokerTimeoutMs,
      brokers: config.brokers,
      onExhausted: (err) => {
        this.mode?.abort(err);
        void this.shutdown(err).catch(() => undefined);
      },
      onChange: (failing) => this.readiness.set('brokersFailing', failing, failing ? 'brokers-unavailable' : 'brokers-answer'),
    });
    // A fetch waits at most 500 ms for data: kafkajs's fetch loop also sleeps that long while every partition is paused
    // (a task opening, a stop), and its default (5 s) would add that much to each.
    const consumer = kafka.consumer({ groupId: config.group, sessionTimeout: config.sessionTimeoutMs, heartbeatInterval: config.heartbeatIntervalMs, maxWaitTimeInMs: 500 });
    this.consumer = consumer;
    const onError = (err: unknown): void => void this.shutdown(err).catch(() => undefined);
    const watch = new DeadLetterWatch({ logger, consumed: () => this.counts.consumed, topic: config.deadLetters });
    const onDeadLetter = (reason: string, message: string): void => watch.note(reason, message);
    const onComplete = (): void => void this.shutdown().catch(() => undefined);
    let stateDimension: number | undefined;
    // Per partition, the first offset to emit: at least once, after what the restored state covers; exactly once,
    // each task's start position.
    const skipBelow = new Map<string, string>();
    // 1b. The shared model: the global model followed, the reducer role taken when Kafka gives it to this member.
    let sharedRestored: RestoredModel | undefined;
    if (shared !== null) sharedRestored = await this.startShared(kafka, store, { deadLetters, batchMaxBytes, onError });

    if (config.exactlyOnce) {
      // 2. Exactly once: one task per assigned input partition, each restoring its own state once its producer is fenced in.
      const worker = config.producerInWorker ? new WorkerProducer({ brokers: config.brokers!, clientId: config.clientId, logLevel: 'warn', allowAutoTopicCreation: false, fastEncoder: config.fastProduceEncoder, logger, forwardLogsAs: 'debug' }) : undefined;
      // The producer thread hosts the tasks' transactional producers (on this thread, they are made per task).
      this.producer = worker;
      const tracker = new OffsetTracker();
      this.mode = new ExactlyOnceMode(
        new ExactlyOnceTasks<R>({
          options,
          config,
          kafka,
          consumer,
          tracker,
          skipBelow,
          store,
          producerFor: (id) => (worker !== undefined ? worker.transactional(id, config.transactionTimeoutMs) : new KafkajsTransactionalProducer(kafka, { transactionalId: id, transactionTimeoutMs: config.transactionTimeoutMs })),
          outputsFor: (recorder, state) => (shared === null ? [labels, state, ...monitoringOutputsFor(config, recorder), ...(options.outputs ?? [])] : outputs),
          sharedModel: this.shared?.link,
          deadLetters,
          batchMaxBytes,
          inputPartitions,
          retry: () => ({ ...this.retry, deadline: Date.now() + config.brokerTimeoutMs }),
          instrumentation: this.instrumentation,
          health: this.health,
          logger,
          onDeadLetter,
          refuse: (restored, error) => stateRefused(config, restored, error instanceof StateMismatchError ? error.context.differences : error.differences, error),
          onError,
          onComplete,
        }),
        tracker,
      );
      logger.info({ transactionTimeoutMs: config.transactionTimeoutMs }, 'exactly once: one task per input partition, each window committed in a transaction with its state and offsets');
    } else {
      // 2. The saved state, checked against this pipeline before anything is consumed.
      const restored = shared !== null ? sharedRestored : config.fresh ? undefined : await this.restore(store);
      this.restored = restored;
      const state = restored?.state;
      stateDimension = state?.config?.d ?? state?.model?.d ?? undefined;
      if (state !== undefined && stateDimension !== undefined && config.dimension !== undefined && stateDimension !== config.dimension) {
        throw stateRefused(config, restored!, [{ setting: 'd', saved: String(stateDimension), requested: String(config.dimension) }]);
      }
      const coverage = restoredCoverage(restored, config.input);
      for (const o of coverage) skipBelow.set(partitionKey(o.topic, o.partition), o.offset);

      // 3. The producer, the delivery, the pipeline's task.
      this.producer = config.producerInWorker
        ? new WorkerProducer({ brokers: config.brokers!, clientId: config.clientId, logLevel: 'warn', allowAutoTopicCreation: false, fastEncoder: config.fastProduceEncoder, logger, forwardLogsAs: 'debug' })
        : kafka.producer({ allowAutoTopicCreation: false });
      const delivery = new AtLeastOnceDelivery<R>({
        producer: this.producer,
        commit: (offsets) => consumer.commitOffsets(offsets),
        outputs,
        deadLetters,
        pipelineId: config.pipelineId,
        commitOnAcknowledge: config.commitOnAcknowledge,
        commitIntervalMs: config.commitIntervalMs,
        stateSchedule: { everyWindows: config.stateEveryWindows, intervalMs: config.stateIntervalMs },
        // The worker sends one batch at a time in order whatever is outstanding: a second batch waiting there saves a round trip.
        batch: { maxBatchBytes: batchMaxBytes, ...(config.producerInWorker ? { maxConcurrentSends: 2 } : {}), ...options.producerBatch },
        initialCoverage: coverage,
        instrumentation: this.instrumentation,
        health: this.health,
        logger,
        onError: (err) => onError(err),
      });
      // Window-history and drift records; drift alarms are logged at warn whether or not their topic is on.
      const recorder = new WindowRecorder({
        pipelineId: config.pipelineId,
        windows: config.windows !== null,
        drift: config.drift !== null,
        instrumentation: this.instrumentation,
        previousModel: restored?.model ?? null,
        deadLettered: () => delivery.counters.deadLettered,
        sample: config.windowSample,
        logger,
      });
      recording.recorder = recorder;
      const onInvalid = (invalid: InvalidVector<unknown>): void => {
        onDeadLetter(invalid.reason, invalid.message);
        delivery.deadLetter(deadLetterSourceOf(invalid.record), invalid.reason, invalid.message);
      };
      const task = new PipelineTask<R>({ pipeline: options.pipeline, restored, delivery, recorder, instrumentation: this.instrumentation, onInvalid, onError, onComplete, logger, sharedModel: this.shared?.link, maxWaitMs: config.maxWaitMs });
      this.startTask(task, restored, coverage);
      this.mode = new AtLeastOnceMode(task, delivery, onDeadLetter, this.shared === undefined ? undefined : (topic, partition) => this.shared!.view.current()?.covered(topic, partition), skipBelow);
    }
    const decode = createDecoder({ format: config.format, fields: config.fields, dimension: config.dimension ?? stateDimension, maxBytes: config.maxBytes });

    // 4. Connect (retrying while the brokers are unavailable), then consume.
    const producer = this.producer;
    try {
      if (producer !== undefined) {
        await retryBrokerOperation('connect', () => producer.connect(), this.retry);
        this.connection('producer', true);
      }
      await retryBrokerOperation('connect', () => consumer.connect(), this.retry);
      this.connection('consumer', true);
    } catch (err) {
      this.mode.stop();
      if (producer !== undefined) await within(producer.disconnect(), 5000, undefined);
      if (this.shared !== undefined) await within(this.shared.stop(false), 10_000, undefined);
      throw asEmstreamError(err, 'connect', 'could not connect to the Kafka brokers');
    }
    this.health.start();
    this.consume(consumer, decode, skipBelow);

    const onAbort = (): void => void this.shutdown().catch(() => undefined);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    if (options.signal?.aborted) onAbort();
    logger.info(
      { ...config, brokers: undefined, format: config.format, dimension: config.dimension ?? stateDimension, restored: this.restored?.message.modelVersion, startupMs: Date.now() - this.started },
      'pipeline started',
    );
    return this.handle();
  }

  /**
   * The shared-model mode's start: learn the pipeline's `fitMixture` options, follow the global model (restoring the
   * latest), and join the reducer group (the role comes when Kafka assigns this member the statistics topic).
   *
   * @returns the global state restored (at least once: what it counts is skipped)
   */
  private async startShared(kafka: KafkaClientLike, store: StateStore, o: { deadLetters: { topic: string; maxMessageBytes: number }; batchMaxBytes: number; onError: (err: unknown) => void }): Promise<RestoredModel | undefined> {
    const { config, options, logger } = this;
    const shared = config.shared!;
    const streaming = sharedModelOptions(options.pipeline);
    const seedProducer = kafka.producer({ allowAutoTopicCreation: false });
    await retryBrokerOperation('connect', () => seedProducer.connect(), this.retry);
    const run = new SharedModelRun({ kafka, shared, store, pipelineId: config.pipelineId, fresh: config.fresh, startTimeoutMs: config.brokerTimeoutMs, seedProducer, logger, onError: o.onError });
    this.shared = run;
    const restored = await retryBrokerOperation('restore', () => run.start(), this.retry).catch(async (err: unknown) => {
      await within(run.stop(false), 10_000, undefined);
      throw asEmstreamError(err, 'restore', `could not read the global model of ${JSON.stringify(config.pipelineId)} from ${JSON.stringify(config.models)}`);
    });
    const reducer = new ReducerRole({
      kafka,
      config,
      shared,
      store,
      streaming,
      makeCore: statisticsCore,
      // A few messages a round: the reducer's transactional producer stays on this thread.
      producerFor: (id) => new KafkajsTransactionalProducer(kafka, { transactionalId: id, transactionTimeoutMs: config.transactionTimeoutMs }),
      // The round's window history and drift alarms: the reducer decides drift, once, for the group.
      outputs: monitoringOutputsFor<KafkaRecord>(config, new WindowRecorder({ pipelineId: config.pipelineId, windows: config.windows !== null, drift: config.drift !== null, previousModel: restored?.model ?? null, sample: config.windowSample, logger })),
      deadLetters: o.deadLetters,
      batchMaxBytes: o.batchMaxBytes,
      freshFrom: config.fresh ? run.view.startedAt : undefined,
      retry: () => ({ ...this.retry, deadline: Date.now() + config.brokerTimeoutMs }),
      instrumentation: this.instrumentation,
      health: this.health!,
      logger,
      onError: o.onError,
      refuse: (r, error) => stateRefused(config, r, error.context.differences, error),
    });
    run.reducer = reducer;
    try {
      await reducer.start();
    } catch (err) {
      await within(run.stop(false), 10_000, undefined);
      throw asEmstreamError(err, 'connect', 'could not join the reducer group of the shared model');
    }
    logger.info(
      { statsTopic: shared.stats, reducerGroup: shared.reducerGroup, modelVersion: run.view.current()?.version ?? null, maxStaleness: shared.maxStaleness },
      'shared model: this member labels with the global model and contributes its windows\' statistics',
    );
    return restored;
  }

  /** Reads the latest state of the pipeline id (retried while the brokers are unavailable). */
  private async restore(store: StateStore): Promise<RestoredModel | undefined> {
    const { config } = this;
    const found = await retryBrokerOperation('restore', () => store.restore([store.key()], Math.max(5000, this.retry.deadline - Date.now())), this.retry).catch((err: unknown) => {
      throw asEmstreamError(err, 'restore', `could not read the state of ${JSON.stringify(config.pipelineId)} from ${JSON.stringify(config.models)}`);
    });
    return found.get(store.key());
  }

  /**
   * Builds and subscribes the pipeline's task; once it accepted the restored state (or started fresh), says so.
   *
   * @throws StateRestoreError when the pipeline refuses the restored state
   */
  private startTask(task: PipelineTask<R>, restored: RestoredModel | undefined, coverage: readonly EventOffset[]): void {
    const { config, logger, instrumentation } = this;
    let report;
    try {
      report = task.start();
    } catch (err) {
      task.close();
      if (err instanceof StateMismatchError) throw stateRefused(config, restored, err.context.differences, err);
      throw asEmstreamError(err, 'pipeline', `could not build the pipeline ${JSON.stringify(this.options.pipeline.name)}`);
    }
    const state = restored?.state;
    if (this.shared !== undefined) {
      logger.info(
        { models: config.models, modelVersion: restored?.message.modelVersion ?? null, skipping: coverage.length > 0 ? coverage : undefined },
        restored === undefined ? 'a member of the shared model: no global model yet (the first windows seed it)' : 'a member of the shared model: labels with the global model; records it already counts are skipped',
      );
      return;
    }
    if (restored === undefined) {
      instrumentation.emit('kafka.state.fresh', { pipelineId: config.pipelineId, reason: config.fresh ? 'fresh-requested' : 'none-saved' });
      logger.info({ models: config.models, reason: config.fresh ? 'fresh-requested' : 'none-saved' }, config.fresh ? 'starting fresh (--fresh): the saved state is not used' : 'no saved state: starting fresh');
      return;
    }
    instrumentation.emit('kafka.state.restored', { pipelineId: config.pipelineId, modelVersion: restored.message.modelVersion, windowIndex: restored.message.windowIndex, offsets: [...coverage] });
    if (state !== undefined && !report.stateClaimed) {
      logger.warn(
        { mixtures: report.mixtures, modelVersion: restored.message.modelVersion },
        report.mixtures === 0
          ? 'the pipeline creates no fitMixture: the restored state is not used'
          : "the pipeline's fitMixture was given a model or state of its own: the restored state is not used (start with --fresh to silence this)",
      );
      return;
    }
    logger.info(
      { models: config.models, modelVersion: restored.message.modelVersion, windowIndex: restored.message.windowIndex, offsets: coverage, withState: state !== undefined },
      state !== undefined ? 'restored the saved state: the stream continues from it' : 'restored a model without a state (an older message): warm start from it',
    );
  }

  /** Subscribes the source: records into the task; the end of the input completes it only when the open window is finished. */
  private consume(consumer: ConsumerLike, decode: VectorDecoder, skipBelow: Map<string, string>): void {
    const { config, logger, instrumentation } = this;
    const mode = this.mode!;
    const source$ = fromKafka(consumer, {
      topics: config.input,
      fromBeginning: config.fromBeginning,
      decode: (value, where) => {
        this.counts.consumed++;
        return decode(value, where);
      },
      onDecodeError: (m) => mode.deadLetter(m),
      tracker: mode.tracker,
      accept: mode.accept,
      maxInFlight: config.maxInFlight,
      commitIntervalMs: 0, // the delivery commits
      signal: this.sourceAbort.signal,
      logger,
      instrumentation,
      skipBelow,
      readOnce: true,
      health: this.health,
      restartWithinMs: config.brokerTimeoutMs,
      onSkipped: (n) => (this.counts.skipped += n),
      onRebalance: (change) => {
        this.readiness.set('assigned', true, 'assigned');
        mode.rebalance(change.assigned);
      },
      onStuck: (stuck) => this.readiness.set('stuck', stuck, stuck ? 'backpressure' : 'flowing'),
    });
    this.source = source$.subscribe({
      next: (record: KafkaRecord) => mode.push(record),
      error: (err: unknown) => void this.shutdown(err).catch(() => undefined),
      complete: () => {
        this.sourceEnded.resolve();
        // Completes the pipeline's input only when the open window should be finished; otherwise it is handed back.
        if (this.finishWindow) mode.finish();
      },
    });
  }

  /** Live counters. */
  private readonly counters: KafkaPipelineCounters = liveCounters(this.counts, () => this.mode);

  private snapshot(): KafkaPipelineCounters {
    const mode = this.mode!;
    return { ...mode.counters, consumed: this.counts.consumed, inFlight: mode.tracker.inFlight, skipped: this.counts.skipped };
  }

  private async disconnect(): Promise<void> {
    await within(this.consumer!.disconnect().then(() => this.connection('consumer', false)), 10_000, undefined);
    if (this.producer !== undefined) await within(this.producer.disconnect().then(() => this.connection('producer', false)), 10_000, undefined);
  }

  /** Ends the run: stop fetching, flush (unless failed), commit what is acknowledged, disconnect; every step bounded. */
  private shutdown(failure?: unknown): Promise<KafkaPipelineResult> {
    if (this.finishing !== undefined) return this.finishing;
    this.finishing = (async () => {
      const { logger, config } = this;
      const mode = this.mode!;
      this.readiness.set('stopping', true, 'stopping');
      this.sourceAbort.abort();
      await within(this.sourceEnded.promise, 10_000, undefined);
      logger.debug('stopping: the source ended');
      let error = failure;
      if (error === undefined) {
        // Bounded by the broker health (which aborts the delivery when the brokers stay away).
        try {
          await mode.flush();
        } catch (err) {
          error = err;
        }
      }
      logger.debug({ failed: error !== undefined }, 'stopping: outputs flushed');
      this.health!.stop();
      let committed: KafkaPipelineResult['committed'] = [];
      try {
        committed = await mode.close(5000);
      } catch (err) {
        logger.warn({ error: describeError(err) }, 'final offset commit failed: the next run re-processes from the previous commit');
      }
      logger.debug({ committed }, 'stopping: last commit made');
      this.source?.unsubscribe();
      mode.stop();
      // The reducer merges what it has read before it leaves the role (bounded).
      if (this.shared !== undefined) await within(this.shared.stop(error === undefined), 15_000, undefined);
      await this.disconnect();
      logger.debug('stopping: disconnected');
      const result: KafkaPipelineResult = { counters: this.snapshot(), committed, handedBack: mode.tracker.inFlight };
      if (error !== undefined) {
        const wrapped = error instanceof StateMismatchError ? stateRefused(config, this.restored, error.context.differences, error) : asEmstreamError(error, 'pipeline', `the pipeline ${JSON.stringify(config.pipelineId)} failed`);
        logger.error({ error: wrapped.message, ...result.counters }, 'pipeline stopped on an error');
        this.done.reject(wrapped);
        throw wrapped;
      }
      logger.info({ ...result.counters, handedBack: result.handedBack, committed }, 'pipeline stopped');
      this.done.resolve(result);
      return result;
    })();
    return this.finishing;
  }

  /** The handle given to the caller. */
  private handle(): KafkaPipelineHandle {
    const { config, readiness } = this;
    return {
      config: { input: config.input, models: config.models, labels: config.labels, deadLetters: config.deadLetters, drift: config.drift, windows: config.windows, group: config.group, pipelineId: config.pipelineId, maxWaitMs: config.maxWaitMs },
      restored: this.restored,
      counters: this.counters,
      sharedModel: this.shared === undefined ? undefined : sharedModelStatus(this.shared),
      get ready() {
        return readiness.ready;
      },
      done: this.done.promise,
      stop: (stopOptions: StopOptions = {}) => {
        if (this.finishing === undefined && stopOptions.finishWindow) this.finishWindow = true;
        if (this.finishWindow && this.finishing === undefined) {
          // Complete the input: the pipeline fits the open window, the delivery flushes, then `complete` shuts down.
          this.sourceAbort.abort();
          return this.done.promise;
        }
        return this.shutdown();
      },
    };
  }
}

/** The shared-model status of a member, read live. */
function sharedModelStatus(shared: SharedModelRun): { readonly reducer: boolean; readonly version: number | null } {
  return {
    get reducer() {
      return shared.reducer?.holdsRole ?? false;
    },
    get version() {
      return shared.view.current()?.version ?? null;
    },
  };
}

/** Counters read live from the run's counts and its delivery. */
function liveCounters(counts: { readonly consumed: number; readonly skipped: number }, delivery: () => RunMode | undefined): KafkaPipelineCounters {
  return {
    get consumed() {
      return counts.consumed;
    },
    get labelled() {
      return delivery()?.counters.labelled ?? 0;
    },
    get deadLettered() {
      return delivery()?.counters.deadLettered ?? 0;
    },
    get windows() {
      return delivery()?.counters.windows ?? 0;
    },
    get inFlight() {
      return delivery()?.tracker.inFlight ?? 0;
    },
    get skipped() {
      return counts.skipped;
    },
  };
}

/** The refusal of a saved state that does not match this pipeline: what differs and how to start fresh. */
function stateRefused(config: RunConfig, restored: RestoredModel | undefined, differences: readonly { setting: string; saved: string; requested: string }[], cause?: unknown): StateRestoreError {
  const what = differences.map((d) => `${d.setting}: saved ${d.saved}, requested ${d.requested}`).join('; ');
  const version = restored?.message.modelVersion;
  return new StateRestoreError(
    `the saved state of pipeline ${JSON.stringify(config.pipelineId)} on ${JSON.stringify(config.models)}${version === undefined ? '' : ` (model version ${version})`} does not match this pipeline (${what}): ` +
      `run with --fresh (fresh: true) to start over from a new model, use another --pipeline-id, or run with the configuration the state was made with`,
    { pipelineId: config.pipelineId, topic: config.models, differences, modelVersion: version, operation: 'restore' },
    cause,
  );
}
