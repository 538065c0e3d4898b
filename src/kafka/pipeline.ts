/**
 * `runKafkaPipeline`: runs a {@link Pipeline} between Kafka topics with at-least-once delivery. The runner owns the
 * lifecycle only: resolve the configuration (`config.ts`), make the topics (`topics.ts`), restore the state
 * (`restore.ts`), build the pipeline in its scope, wire the source (`source.ts`) to the delivery (`delivery.ts`),
 * watch the brokers (`retry.ts`), and stop.
 *
 * @module
 */
import { Observable, type Subscription } from 'rxjs';
import { pino } from 'pino';
import { EmstreamError } from '../errors.js';
import { StateMismatchError } from '../gmm/errors.js';
import type { MixtureJSON } from '../gmm/model.js';
import type { RestartPolicy, StreamingStateJSON } from '../gmm/streaming.js';
import type { CovarianceType } from '../gmm/types.js';
import { Instrumentation } from '../instrumentation.js';
import { WindowRecorder } from '../monitoring/recorder.js';
import { fitMixture } from '../operators/fitMixture.js';
import { buildInPipelineScope } from '../operators/pipelineScope.js';
import type { InvalidVector, MixtureUpdate, VectorInput } from '../operators/types.js';
import { windowVectors } from '../operators/windowVectors.js';
import type { Pipeline, PipelineContext } from '../pipeline.js';
import { createKafkaClient, type AdminLike, type ConsumerLike, type KafkaClientLike, type ProducerLike } from './client.js';
import { resolveRunConfig, type RunConfig, type RunKafkaPipelineOptions } from './config.js';
import { AtLeastOnceDelivery } from './delivery.js';
import { InputTopicMissingError, KafkaEdgeError, StateRestoreError } from './errors.js';
import type { EventOffset, KafkaRole } from './events.js';
import { createDecoder } from './formats.js';
import { driftOutput, labelsOutput, messageBytes, messageWindowIndex, stateOutput, windowHistoryOutput, type DeadLetterSource, type WindowOutput } from './messages.js';
import { restoreLatestState, type RestoredModel } from './restore.js';
import { BrokerHealth, describeError, retryBrokerOperation } from './retry.js';
import { fromKafka, type KafkaRecord } from './source.js';
import { ensureTopics, KAFKA_DEFAULT_MAX_MESSAGE_BYTES, topicMaxMessageBytes, waitForTopics } from './topics.js';
import { WorkerProducer } from './workerSender.js';

export type { RunKafkaPipelineOptions } from './config.js';

/** The context `runKafkaPipeline` gives a pipeline's `build`: the usual one plus what it restored. */
export interface KafkaPipelineContext extends PipelineContext {
  /**
   * The latest model of this pipeline id, when the models topic held only a model (a message written before states
   * were saved): pass it as `fitMixture({ initialModel })`. With a whole state, nothing to do (see `initialState`).
   */
  readonly initialModel?: MixtureJSON;
}

/**
 * The model restored at startup from a message without a state (see {@link KafkaPipelineContext.initialModel}).
 *
 * @param context - the context a pipeline's `build` received
 * @returns the model to pass as `fitMixture({ initialModel })`, or `undefined`
 */
export function restoredModelOf(context: PipelineContext): MixtureJSON | undefined {
  return 'initialModel' in context ? (context as KafkaPipelineContext).initialModel : undefined;
}

/** Options of {@link standardPipeline}. */
export interface StandardPipelineOptions {
  /** Points per window. */
  readonly window: number;
  /** Number of components. */
  readonly k: number;
  readonly halfLife?: number;
  readonly restart?: RestartPolicy;
  readonly covarianceType?: CovarianceType;
  readonly dimension?: number;
  readonly seed?: number;
  readonly name?: string;
}

/**
 * The pipeline `emstream run` builds from flags: `windowVectors({ size: window })` → `fitMixture({ k, … })`. Built by
 * `runKafkaPipeline`, it resumes from the restored state (and invalid inputs go to the dead-letter topic) without
 * being told.
 *
 * @param options - window size, K, half-life, restart policy, covariance type, dimension
 * @returns the pipeline
 */
export function standardPipeline(options: StandardPipelineOptions): Pipeline<VectorInput> {
  return {
    name: options.name ?? 'standard',
    description: `windows of ${options.window} points → warm-started EM with ${options.k} components`,
    build: (input, context) =>
      input.pipe(
        windowVectors({ size: options.window, dimension: options.dimension, onInvalid: context.onInvalid }),
        fitMixture({
          k: options.k,
          halfLife: options.halfLife,
          restart: options.restart,
          covarianceType: options.covarianceType,
          seed: options.seed,
          instrumentation: context.instrumentation,
          initialModel: restoredModelOf(context),
        }),
      ),
  };
}

/** Live counters of a running pipeline. */
export interface KafkaPipelineCounters {
  /** Messages consumed (decoded or not), not counting those skipped as covered by the restored state. */
  readonly consumed: number;
  /** Labels acknowledged by the broker. */
  readonly labelled: number;
  /** Dead letters enqueued (undecodable or rejected inputs). */
  readonly deadLettered: number;
  /** Model updates acknowledged by the broker. */
  readonly windows: number;
  /** Consumed records whose outputs are not all acknowledged. */
  readonly inFlight: number;
  /** Records skipped because the restored state already covered them (see docs/guarantees.md). */
  readonly skipped: number;
}

/** How a run ended. */
export interface KafkaPipelineResult {
  readonly counters: KafkaPipelineCounters;
  /** Positions committed last (one per partition). */
  readonly committed: readonly { topic: string; partition: number; offset: string }[];
  /** Records consumed but not committed (the open window, handed back): they are re-consumed by the next run. */
  readonly handedBack: number;
}

/** Options of {@link KafkaPipelineHandle.stop}. */
export interface StopOptions {
  /**
   * `false` (default): hand back the open window — its records are not committed and the next run re-reads them.
   * `true`: complete the input so the open window is fitted and labelled, then commit everything.
   */
  readonly finishWindow?: boolean;
}

/** A running pipeline. */
export interface KafkaPipelineHandle {
  /** Topics and group in use. */
  readonly config: {
    readonly input: readonly string[];
    readonly models: string;
    readonly labels: string;
    readonly deadLetters: string;
    /** The drift topic, or null when disabled. */
    readonly drift: string | null;
    /** The window-history topic, or null when disabled. */
    readonly windows: string | null;
    readonly group: string;
    readonly pipelineId: string;
    /** The maximum wait of the pipeline's count windows in ms (undefined: none). */
    readonly maxWaitMs: number | undefined;
  };
  /** The state message restored at startup, if any. */
  readonly restored: RestoredModel | undefined;
  /** Live counters. */
  readonly counters: KafkaPipelineCounters;
  /** Whether the run is ready (connected, partitions assigned, brokers answering, not stuck on backpressure). */
  readonly ready: boolean;
  /** Graceful stop: stop fetching, flush outputs, commit what is acknowledged, disconnect. Idempotent. */
  stop(options?: StopOptions): Promise<KafkaPipelineResult>;
  /** Settles when the run ends: after `stop()`, or rejected with the error that ended it (always an `EmstreamError`). */
  readonly done: Promise<KafkaPipelineResult>;
}

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
async function within<T>(promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise.catch(() => fallback), new Promise<T>((resolve) => (timer = setTimeout(() => resolve(fallback), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The dead-letter source of whatever the pipeline rejected: a KafkaRecord (with its original bytes), or a bare value. */
function rejectedSource(record: unknown): DeadLetterSource {
  if (typeof record !== 'object' || record === null || Array.isArray(record) || ArrayBuffer.isView(record)) {
    return { value: JSON.stringify(Array.isArray(record) ? record : ArrayBuffer.isView(record) ? Array.from(record as Float64Array) : (record ?? null)) };
  }
  const r = record as { topic?: unknown; partition?: unknown; offset?: unknown; key?: string | Buffer | null; value?: Buffer | string | null; vector?: unknown };
  let value = r.value;
  if (value === undefined) {
    // The original bytes were not kept: write the vector as JSON.
    const v = r.vector;
    value = JSON.stringify(ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : (v ?? null));
  }
  return { topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, value };
}

/** A state output whose messages may not exceed the models topic's limit (a clear error instead of the broker's). */
function checkedStateOutput<R>(topic: string, limit: number, settings: number): WindowOutput<R> {
  const inner = stateOutput<R>(topic, { maxMessageBytes: settings });
  return {
    ...inner,
    messages: (outcome, into) => {
      const start = into.length;
      inner.messages(outcome, into);
      for (let i = start; i < into.length; i++) {
        const bytes = messageBytes(into[i].message) + 61;
        if (bytes > limit) {
          const { k, d, covarianceType } = outcome.update.model;
          throw new KafkaEdgeError(
            `the state message of pipeline ${JSON.stringify(outcome.pipelineId)} (K=${k}, D=${d}, ${covarianceType}) is ${bytes} bytes, more than max.message.bytes ${limit} of the models topic ${JSON.stringify(topic)}: ` +
              `raise it (kafka-configs.sh --alter --entity-type topics --entity-name ${topic} --add-config max.message.bytes=${Math.ceil(bytes * 1.5)}), or use a cheaper covariance type (diag)`,
            { topic, operation: 'produce' },
            { retriable: false },
          );
        }
      }
    },
  };
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
 *    with a {@link StateRestoreError} naming each difference. Records the state already covers (its `offsets`) are
 *    skipped: a state can be newer than the group's committed offsets.
 * 3. Consume with {@link fromKafka}: each message is registered with the delivery's tracker, decoded through the
 *    one input gate, and emitted; an undecodable one goes to the dead-letter topic with its reason and coordinates.
 * 4. Each update goes to the {@link AtLeastOnceDelivery}: labels, the state message (model, whole state, covered
 *    offsets), the window-history message and one drift message per alarm ({@link WindowRecorder}: offsets, counts,
 *    fit time, lag; alarms are also logged at warn) and any further `outputs`, batched together; once acknowledged
 *    its records are finished, and positions are committed right away (and at least every `commitIntervalMs`).
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
  const config: RunConfig = resolveRunConfig(options);
  const { pipeline } = options;
  const { pipelineId } = config;
  const logger = (options.logger ?? pino({ level: 'silent' })).child({ pipeline: pipelineId });
  const instrumentation = options.instrumentation ?? new Instrumentation();
  const started = Date.now();
  // Start-up: brokers that never answer end the start with one line (the notice that retrying began is at debug).
  const retry = { deadline: started + config.brokerTimeoutMs, budgetMs: config.brokerTimeoutMs, brokers: config.brokers, instrumentation, logger, signal: options.signal, noticeLevel: 'debug' as const };
  const connected = (role: KafkaRole): void => instrumentation.emit('kafka.connect', { role });
  const disconnected = (role: KafkaRole): void => instrumentation.emit('kafka.disconnect', { role });

  const kafka: KafkaClientLike =
    options.kafka ??
    (await createKafkaClient(config.brokers!, { clientId: config.clientId, logger, forwardLogsAs: 'debug', retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 } }));

  // 1. The input topics must exist (a service may start before its producer: wait for them, within a bound).
  const inputAdmin: AdminLike = kafka.admin();
  let missing: string[];
  try {
    const fail = (err: unknown): never => {
      throw asEmstreamError(err, 'input-topics', 'could not look up the input topics');
    };
    await retryBrokerOperation('connect', () => inputAdmin.connect(), retry).catch(fail);
    connected('admin');
    let polls = 0;
    missing = await waitForTopics(
      // The first look is within the start-up budget; later ones (while waiting) get the whole budget each.
      () => retryBrokerOperation('input-topics', () => inputAdmin.listTopics(), polls++ === 0 ? retry : { ...retry, deadline: Date.now() + config.brokerTimeoutMs }).catch(fail),
      config.input,
      {
        deadline: Date.now() + config.inputTimeoutMs,
        signal: options.signal,
        onWaiting: (topics) => logger.warn({ topics, waitMs: config.inputTimeoutMs }, `waiting up to ${Math.round(config.inputTimeoutMs / 1000)} s for the input topic(s) to be created`),
      },
    );
  } finally {
    await inputAdmin.disconnect().catch(() => undefined);
    disconnected('admin');
  }
  if (missing.length > 0) throw new InputTopicMissingError(missing, config.inputTimeoutMs);

  // 2. Output topics, and the limits that size dead letters and batches.
  const outputs: WindowOutput<R>[] = [];
  // The window-history and drift outputs (records built by a WindowRecorder once the state is restored).
  const recording: { recorder?: WindowRecorder } = {};
  const recordsOf = (update: MixtureUpdate<R>, windowIndex: number) => recording.recorder!.observe(update, windowIndex);
  const monitoringOutputs: WindowOutput<R>[] = [
    ...(config.windows === null ? [] : [windowHistoryOutput<R>(config.windows, (o) => recordsOf(o.update, o.windowIndex).window!, { retentionMs: config.windowsRetentionMs })]),
    ...(config.drift === null ? [] : [driftOutput<R>(config.drift, (o) => recordsOf(o.update, o.windowIndex).drift, { retentionMs: config.driftRetentionMs })]),
  ];
  const extraOutputs = [...monitoringOutputs, ...(options.outputs ?? [])];
  const limits = await retryBrokerOperation(
    'create-topics',
    async () => {
      const admin: AdminLike = kafka.admin();
      await admin.connect();
      connected('admin');
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
              ...extraOutputs.map((o) => ({ topic: o.topic, compacted: o.settings?.compacted, maxMessageBytes: o.settings?.maxMessageBytes, retentionMs: o.settings?.retentionMs, ...settings })),
            ],
            logger,
          );
        }
        return await topicMaxMessageBytes(admin, [config.labels, config.models, config.deadLetters, ...extraOutputs.map((o) => o.topic)]);
      } finally {
        await admin.disconnect().catch(() => undefined);
        disconnected('admin');
      }
    },
    retry,
  ).catch((err: unknown) => {
    throw asEmstreamError(err, 'create-topics', 'could not create the output topics');
  });
  const limitOf = (topic: string): number => limits.get(topic) ?? KAFKA_DEFAULT_MAX_MESSAGE_BYTES;
  outputs.push(labelsOutput<R>(config.labels, { includeVector: config.includeVector }));
  outputs.push(checkedStateOutput<R>(config.models, limitOf(config.models), config.modelsMaxMessageBytes));
  outputs.push(...extraOutputs);

  // 3. The saved state.
  let restored: RestoredModel | undefined;
  if (!config.fresh) {
    restored = await retryBrokerOperation('restore', () => restoreLatestState(kafka, { topic: config.models, pipelineId, logger, timeoutMs: Math.max(5000, retry.deadline - Date.now()) }), retry).catch(
      (err: unknown) => {
        throw asEmstreamError(err, 'restore', `could not read the state of ${JSON.stringify(pipelineId)} from ${JSON.stringify(config.models)}`);
      },
    );
  }
  const state: StreamingStateJSON | undefined = restored?.state;
  const stateDimension = state?.config?.d ?? state?.model?.d ?? undefined;
  if (state !== undefined && stateDimension !== undefined && config.dimension !== undefined && stateDimension !== config.dimension) {
    throw stateRefused(config, restored!, [{ setting: 'd', saved: String(stateDimension), requested: String(config.dimension) }]);
  }
  const restoredOffsets: readonly EventOffset[] = state === undefined ? [] : restored!.offsets.filter((o) => config.input.includes(o.topic));
  if (restored === undefined) {
    instrumentation.emit('kafka.state.fresh', { pipelineId, reason: config.fresh ? 'fresh-requested' : 'none-saved' });
    logger.info({ models: config.models, reason: config.fresh ? 'fresh-requested' : 'none-saved' }, config.fresh ? 'starting fresh (--fresh): the saved state is not used' : 'no saved state: starting fresh');
  } else {
    instrumentation.emit('kafka.state.restored', { pipelineId, modelVersion: restored.message.modelVersion, windowIndex: restored.message.windowIndex, offsets: [...restoredOffsets] });
    logger.info(
      { models: config.models, modelVersion: restored.message.modelVersion, windowIndex: restored.message.windowIndex, offsets: restoredOffsets, withState: state !== undefined },
      state !== undefined ? 'restored the saved state: the stream continues from it' : 'restored a model without a state (an older message): warm start from it',
    );
  }

  // 4. Clients, delivery, source; the pipeline built in the runner's scope.
  const decodeVector = createDecoder({ format: config.format, fields: config.fields, dimension: config.dimension ?? stateDimension, maxBytes: config.maxBytes });
  const producer: ProducerLike & { resume?: () => void } = config.producerInWorker
    ? new WorkerProducer({
        brokers: config.brokers!,
        clientId: config.clientId,
        logLevel: 'warn',
        allowAutoTopicCreation: false,
        fastEncoder: config.fastProduceEncoder,
        logger,
        forwardLogsAs: 'debug',
      })
    : kafka.producer({ allowAutoTopicCreation: false });
  const consumer: ConsumerLike = kafka.consumer({ groupId: config.group, sessionTimeout: config.sessionTimeoutMs, heartbeatInterval: config.heartbeatIntervalMs });

  const done = deferred<KafkaPipelineResult>();
  done.promise.catch(() => undefined); // callers may only use stop()
  let finishing: Promise<KafkaPipelineResult> | undefined;
  let finishWindow = false;
  const sourceAbort = new AbortController();
  const sourceEnded = deferred<void>();
  const running: { subscription?: Subscription } = {};
  const counts = { consumed: 0, skipped: 0 };

  // Readiness: connected and assigned, brokers answering, not stuck on backpressure, not stopping.
  const readiness = { assigned: false, brokersFailing: false, stuck: false, stopping: false, ready: false };
  const updateReady = (reason: string): void => {
    const ready = readiness.assigned && !readiness.brokersFailing && !readiness.stuck && !readiness.stopping;
    if (ready === readiness.ready) return;
    readiness.ready = ready;
    instrumentation.emit('kafka.ready', { ready, reason });
  };

  const health = new BrokerHealth({
    budgetMs: config.brokerTimeoutMs,
    brokers: config.brokers,
    onExhausted: (err) => {
      delivery.abort(err);
      void shutdown(err).catch(() => undefined);
    },
    onChange: (failing) => {
      readiness.brokersFailing = failing;
      updateReady(failing ? 'brokers-unavailable' : 'brokers-answer');
    },
  });

  // Batches are counted by an upper bound of their bytes (short strings at 3 bytes a character): below every output topic's limit.
  const batchMaxBytes = Math.max(64 * 1024, Math.min(768 * 1024, ...outputs.map((o) => limitOf(o.topic) - 4096), limitOf(config.deadLetters) - 4096));
  const delivery: AtLeastOnceDelivery<R> = new AtLeastOnceDelivery<R>({
    producer,
    commit: (offsets) => consumer.commitOffsets(offsets),
    outputs,
    deadLetters: { topic: config.deadLetters, maxMessageBytes: limitOf(config.deadLetters) },
    pipelineId,
    commitOnAcknowledge: config.commitOnAcknowledge,
    commitIntervalMs: config.commitIntervalMs,
    // The worker sends one batch at a time in order whatever is outstanding: a second batch waiting there saves a round trip.
    batch: { maxBatchBytes: batchMaxBytes, ...(config.producerInWorker ? { maxConcurrentSends: 2 } : {}), ...options.producerBatch },
    initialCoverage: restoredOffsets,
    instrumentation,
    health,
    logger,
    onError: (err) => void shutdown(err).catch(() => undefined),
  });

  // Window-history and drift records; drift alarms are logged at warn whether or not their topic is on.
  const recorder = new WindowRecorder({
    pipelineId,
    windows: config.windows !== null,
    drift: config.drift !== null,
    instrumentation,
    previousModel: restored?.model ?? null,
    deadLettered: () => delivery.counters.deadLettered,
    sample: config.windowSample,
    logger,
  });
  recording.recorder = recorder;

  const skipBelow = new Map(restoredOffsets.map((o) => [`${o.partition}:${o.topic}`, Number(o.offset)]));
  const source$ = fromKafka(consumer, {
    topics: config.input,
    fromBeginning: config.fromBeginning,
    decode: (value, where) => {
      counts.consumed++;
      return decodeVector(value, where);
    },
    onDecodeError: (m) => delivery.deadLetter(m, m.failure.reason, m.failure.message),
    tracker: delivery.tracker,
    maxInFlight: config.maxInFlight,
    commitIntervalMs: 0, // the delivery commits
    signal: sourceAbort.signal,
    logger,
    instrumentation,
    skipBelow,
    health,
    onSkipped: (n) => (counts.skipped += n),
    onRebalance: () => {
      readiness.assigned = true;
      updateReady('assigned');
      // Kept partitions' acknowledged progress, committed under the new generation.
      void delivery.commit().catch(() => undefined);
    },
    onStuck: (stuck) => {
      readiness.stuck = stuck;
      updateReady(stuck ? 'backpressure' : 'flowing');
    },
  });
  // Completes the pipeline's input only when the open window should be finished; otherwise it is handed back.
  const gated$ = new Observable<KafkaRecord>((subscriber) =>
    source$.subscribe({
      next: (record) => subscriber.next(record),
      error: (err: unknown) => subscriber.error(err),
      complete: () => {
        sourceEnded.resolve();
        if (finishWindow) subscriber.complete();
      },
    }),
  );

  const onInvalid = (invalid: InvalidVector<unknown>): void => delivery.deadLetter(rejectedSource(invalid.record), invalid.reason, invalid.message);
  const context: KafkaPipelineContext = {
    instrumentation,
    onInvalid,
    ...(restored !== undefined && state === undefined ? { initialModel: restored.model } : {}),
    ...(state !== undefined ? { initialState: state } : {}),
  };

  const counters: KafkaPipelineCounters = {
    get consumed() {
      return counts.consumed;
    },
    get labelled() {
      return delivery.counters.labelled;
    },
    get deadLettered() {
      return delivery.counters.deadLettered;
    },
    get windows() {
      return delivery.counters.windows;
    },
    get inFlight() {
      return delivery.tracker.inFlight;
    },
    get skipped() {
      return counts.skipped;
    },
  };
  const snapshot = (): KafkaPipelineCounters => ({ ...delivery.counters, consumed: counts.consumed, inFlight: delivery.tracker.inFlight, skipped: counts.skipped });

  const disconnect = async (): Promise<void> => {
    await within(consumer.disconnect().then(() => disconnected('consumer')), 10_000, undefined);
    await within(producer.disconnect().then(() => disconnected('producer')), 10_000, undefined);
  };

  /** Ends the run: stop fetching, flush (unless failed), commit what is acknowledged, disconnect; every step bounded. */
  function shutdown(failure?: unknown): Promise<KafkaPipelineResult> {
    if (finishing !== undefined) return finishing;
    finishing = (async () => {
      readiness.stopping = true;
      updateReady('stopping');
      sourceAbort.abort();
      await within(sourceEnded.promise, 10_000, undefined);
      let error = failure;
      if (error === undefined) {
        // Bounded by the broker health (which aborts the delivery when the brokers stay away).
        try {
          await delivery.flush();
        } catch (err) {
          error = err;
        }
      }
      health.stop();
      let committed: KafkaPipelineResult['committed'] = [];
      try {
        committed = await delivery.close(5000);
      } catch (err) {
        logger.warn({ error: describeError(err) }, 'final offset commit failed: the next run re-processes from the previous commit');
      }
      running.subscription?.unsubscribe();
      recorder.close();
      await disconnect();
      const result: KafkaPipelineResult = { counters: snapshot(), committed, handedBack: delivery.tracker.inFlight };
      if (error !== undefined) {
        const wrapped = error instanceof StateMismatchError ? stateRefused(config, restored, error.context.differences, error) : asEmstreamError(error, 'pipeline', `the pipeline ${JSON.stringify(pipelineId)} failed`);
        logger.error({ error: wrapped.message, ...result.counters }, 'pipeline stopped on an error');
        done.reject(wrapped);
        throw wrapped;
      }
      logger.info({ ...result.counters, handedBack: result.handedBack, committed }, 'pipeline stopped');
      done.resolve(result);
      return result;
    })();
    return finishing;
  }

  let built: Observable<MixtureUpdate<R>>;
  try {
    // The pipeline receives KafkaRecords: records of R (a VectorInput) whose extra fields ride along.
    const report = buildInPipelineScope({ initialState: state, onInvalid, maxWaitMs: config.maxWaitMs }, () => pipeline.build(gated$ as unknown as Observable<R>, context));
    built = report.result;
    if (state !== undefined && !report.stateClaimed) {
      logger.warn(
        { mixtures: report.mixtures, modelVersion: restored!.message.modelVersion },
        report.mixtures === 0
          ? 'the pipeline creates no fitMixture: the restored state is not used'
          : "the pipeline's fitMixture was given a model or state of its own: the restored state is not used (start with --fresh to silence this)",
      );
    }
  } catch (err) {
    throw asEmstreamError(err, 'pipeline', `could not build the pipeline ${JSON.stringify(pipeline.name)}`);
  }

  // 5. Connect (retrying while the brokers are unavailable), then run.
  try {
    await retryBrokerOperation('connect', () => producer.connect(), retry);
    connected('producer');
    await retryBrokerOperation('connect', () => consumer.connect(), retry);
    connected('consumer');
  } catch (err) {
    await within(producer.disconnect(), 5000, undefined);
    throw asEmstreamError(err, 'connect', 'could not connect to the Kafka brokers');
  }
  health.start();

  let startupError: unknown;
  let subscribing = true;
  running.subscription = built.subscribe({
    next: (update) => {
      try {
        recorder.observe(update, messageWindowIndex(update));
        delivery.window(update);
      } catch (err) {
        void shutdown(err).catch(() => undefined);
      }
    },
    error: (err: unknown) => {
      if (subscribing) startupError = err;
      void shutdown(err).catch(() => undefined);
    },
    complete: () => void shutdown().catch(() => undefined),
  });
  subscribing = false;
  if (startupError !== undefined) {
    // The pipeline refused to start (a restored state it cannot resume, say): report it from here.
    await done.promise.catch(() => undefined);
    throw await done.promise.then(
      () => asEmstreamError(startupError, 'pipeline', 'the pipeline failed'),
      (e: unknown) => e,
    );
  }

  const onAbort = (): void => void shutdown().catch(() => undefined);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  logger.info(
    { ...config, brokers: undefined, format: config.format, dimension: config.dimension ?? stateDimension, restored: restored?.message.modelVersion, startupMs: Date.now() - started },
    'pipeline started',
  );

  return {
    config: { input: config.input, models: config.models, labels: config.labels, deadLetters: config.deadLetters, drift: config.drift, windows: config.windows, group: config.group, pipelineId, maxWaitMs: config.maxWaitMs },
    restored,
    counters,
    get ready() {
      return readiness.ready;
    },
    done: done.promise,
    stop: (stopOptions: StopOptions = {}) => {
      if (finishing === undefined && stopOptions.finishWindow) finishWindow = true;
      if (finishWindow && finishing === undefined) {
        // Complete the input: the pipeline fits the open window, the delivery flushes, then `complete` shuts down.
        sourceAbort.abort();
        return done.promise;
      }
      return shutdown();
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

/** Any error as an EmstreamError (a KafkaEdgeError saying what failed when it is not one already). */
function asEmstreamError(err: unknown, operation: string, what: string): EmstreamError {
  if (err instanceof EmstreamError) return err;
  return new KafkaEdgeError(`${what}: ${describeError(err)}`, { operation }, { cause: err, retriable: false });
}

