/**
 * `runKafkaPipeline`: runs a {@link Pipeline} between Kafka topics with at-least-once delivery.
 *
 * @module
 */
import { Observable, type Subscription } from 'rxjs';
import { pino, type Logger } from 'pino';
import { EmstreamError, EmstreamOptionsError } from '../errors.js';
import type { MixtureJSON } from '../gmm/model.js';
import type { RestartPolicy } from '../gmm/streaming.js';
import type { CovarianceType } from '../gmm/types.js';
import { Instrumentation } from '../instrumentation.js';
import { fitMixture } from '../operators/fitMixture.js';
import type { MixtureUpdate, VectorInput } from '../operators/types.js';
import { windowVectors } from '../operators/windowVectors.js';
import type { Pipeline, PipelineContext } from '../pipeline.js';
import { createKafkaClient, KafkaEdgeError, type HeaderValue, type KafkaClientLike } from './client.js';
import { createDecoder, VECTOR_FORMATS, type VectorFormat } from './formats.js';
import { OffsetTracker } from './offsets.js';
import { restoreLatestModel, type RestoredModel } from './restore.js';
import { BatchSender, deadLetterMessage, ensureTopics, toKafka, type BatchSenderOptions } from './sink.js';
import { fromKafka, type KafkaRecord } from './source.js';
import { WorkerProducer } from './workerSender.js';

/** The context `runKafkaPipeline` gives a pipeline's `build`: the usual one plus the restored model, if any. */
export interface KafkaPipelineContext extends PipelineContext {
  /** The latest model of this pipeline id read from the models topic at startup (pass as `fitMixture({ initialModel })`). */
  readonly initialModel?: MixtureJSON;
}

/**
 * The model restored at startup, when the pipeline runs under `runKafkaPipeline` with `restore: true`.
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
 * The pipeline `emstream run` builds from flags: `windowVectors({ size: window })` → `fitMixture({ k, … })`,
 * invalid inputs to the dead-letter path, warm start from a restored model when there is one.
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

/** Options of {@link runKafkaPipeline}. Topic and format options default to the pipeline's `kafka` defaults. */
export interface RunKafkaPipelineOptions<R extends VectorInput = VectorInput> {
  /** A client (kafkajs `Kafka` or compatible); or give `brokers`. */
  readonly kafka?: KafkaClientLike;
  /** Bootstrap addresses, used when `kafka` is not given. */
  readonly brokers?: readonly string[];
  readonly clientId?: string;
  /** What to run on the vectors. It receives {@link KafkaRecord}s (extra fields must ride along to the labels). */
  readonly pipeline: Pipeline<R>;
  /** Input topic(s). */
  readonly input?: string | readonly string[];
  /** Compacted topic of model updates (default `<input>.models`). */
  readonly models?: string;
  /** Topic of labels (default `<input>.labels`). */
  readonly labels?: string;
  /** Topic of rejected messages (default `<input>.dead-letters`). */
  readonly deadLetters?: string;
  /** Consumer group (default `emstream-<pipelineId>`). */
  readonly group?: string;
  /** Read from the earliest offset when the group has no commit (default false). */
  readonly fromBeginning?: boolean;
  readonly format?: VectorFormat;
  readonly fields?: readonly string[];
  readonly dimension?: number;
  /** Largest accepted message in bytes (default 1 MiB). */
  readonly maxBytes?: number;
  /** Key of the model messages (default the pipeline's name). */
  readonly pipelineId?: string;
  readonly logger?: Logger;
  /** Stops the pipeline (gracefully, handing back the open window) when it aborts. */
  readonly signal?: AbortSignal;
  readonly instrumentation?: Instrumentation;
  /** Read the latest model of `pipelineId` from the models topic before starting (default false). */
  readonly restore?: boolean;
  /** Most consumed records not yet fully acknowledged (default 20 000); must exceed a window. */
  readonly maxInFlight?: number;
  /** Commit period in ms (default 1000). */
  readonly commitIntervalMs?: number;
  /**
   * Produce the outputs from a worker thread with its own kafkajs client made from `brokers` (default: true when
   * no `kafka` client is given, false otherwise): encoding produce requests then runs on another core instead of
   * competing with decoding and EM. Needs `brokers` (a client object cannot be handed to a thread); `kafka`, if
   * given, is still used for the consumer, admin and restore. Batching, ordering and acknowledgements are the same.
   */
  readonly producerInWorker?: boolean;
  /**
   * With `producerInWorker`: encode uncompressed produce requests with emstream's encoder, the same bytes as
   * kafkajs's for what its producer sends, about 10× less CPU per message (default true). Set false to use kafkajs's own.
   */
  readonly fastProduceEncoder?: boolean;
  /**
   * Batching of the produced messages. With `producerInWorker`, `maxConcurrentSends` (default 2) counts batches
   * handed to the worker and not yet acknowledged; the worker still sends them one at a time, in order.
   */
  readonly producerBatch?: Pick<BatchSenderOptions, 'maxBatchMessages' | 'maxBatchBytes' | 'lingerMs' | 'maxConcurrentSends'>;
  /** Write each input vector into its label message (default false). */
  readonly includeVector?: boolean;
  /** Create missing output topics (default true). */
  readonly createTopics?: boolean;
  /** Partitions of created output topics (default 1). */
  readonly topicPartitions?: number;
  /** Replication factor of created output topics (default 1). */
  readonly replicationFactor?: number;
}

/** Live counters of a running pipeline. */
export interface KafkaPipelineCounters {
  /** Messages consumed (decoded or not). */
  readonly consumed: number;
  /** Labels acknowledged by the broker. */
  readonly labelled: number;
  /** Dead letters enqueued (undecodable or rejected inputs). */
  readonly deadLettered: number;
  /** Model updates acknowledged by the broker. */
  readonly windows: number;
  /** Consumed records whose outputs are not all acknowledged. */
  readonly inFlight: number;
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
  readonly config: { readonly input: readonly string[]; readonly models: string; readonly labels: string; readonly deadLetters: string; readonly group: string; readonly pipelineId: string };
  /** The model restored at startup, if any. */
  readonly restored: RestoredModel | undefined;
  /** Live counters. */
  readonly counters: KafkaPipelineCounters;
  /** Graceful stop: stop fetching, flush outputs, commit what is acknowledged, disconnect. Idempotent. */
  stop(options?: StopOptions): Promise<KafkaPipelineResult>;
  /** Settles when the run ends: after `stop()`, or rejected with the error that ended it. */
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

/** Source coordinates and bytes of whatever was rejected (a KafkaRecord, usually). */
interface RejectedSource {
  topic?: unknown;
  partition?: unknown;
  offset?: unknown;
  key?: string | Buffer | null;
  value?: Buffer | string | null;
  headers?: Readonly<Record<string, HeaderValue>>;
}

function asRejected(record: unknown): RejectedSource {
  if (typeof record !== 'object' || record === null || Array.isArray(record) || ArrayBuffer.isView(record)) {
    return { value: JSON.stringify(Array.isArray(record) ? record : ArrayBuffer.isView(record) ? Array.from(record as Float64Array) : (record ?? null)) };
  }
  const r = record as RejectedSource & { vector?: unknown };
  let value = r.value;
  if (value === undefined) {
    // The original bytes were not kept: write the vector as JSON.
    const v = r.vector;
    value = JSON.stringify(ArrayBuffer.isView(v) ? Array.from(v as Float64Array) : (v ?? null));
  }
  return { topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, value, headers: r.headers };
}

/**
 * Runs a pipeline between Kafka topics: consumer → decode (dead letters on failure) → `pipeline.build` → labels,
 * model updates and dead letters → commit.
 *
 * 1. Resolve the topics, group and format (options, then the pipeline's `kafka` defaults, then derived names),
 *    create the missing output topics (models compacted), optionally restore the latest model.
 * 2. Consume with {@link fromKafka}: each message is registered with an {@link OffsetTracker}, decoded, and
 *    emitted; an undecodable one goes to the dead-letter topic with its reason and source coordinates.
 * 3. The pipeline's `onInvalid` (from `windowVectors`) sends rejected records to the dead-letter topic too.
 * 4. Each model update goes out through {@link toKafka} (labels + model message, batched); once acknowledged,
 *    every record of the window's partitions up to the window's last offset is finished (dead letters finish when
 *    their own send is acknowledged). Finished prefixes are committed (offset + 1) every `commitIntervalMs`.
 * 5. `stop()` stops fetching, flushes, commits what is acknowledged and disconnects; the open window is handed
 *    back uncommitted (or finished first with `finishWindow`). A failure (a send, the pipeline) stops the same
 *    way and rejects `done`; nothing unacknowledged is ever committed, so a restart re-processes it.
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
 * @throws KafkaEdgeError when the brokers cannot be reached or topics cannot be created
 */
export async function runKafkaPipeline<R extends VectorInput>(options: RunKafkaPipelineOptions<R>): Promise<KafkaPipelineHandle> {
  const { pipeline } = options;
  const defaults = pipeline.kafka ?? {};
  const inputOption = options.input ?? defaults.input;
  const input = inputOption === undefined ? [] : typeof inputOption === 'string' ? [inputOption] : [...inputOption];
  const format = options.format ?? defaults.format ?? 'json-array';
  const issues: { path: string; message: string }[] = [];
  if (input.length === 0) issues.push({ path: 'input', message: 'give the input topic (--input), or set kafka.input in the pipeline' });
  if (options.kafka === undefined && (options.brokers === undefined || options.brokers.length === 0)) {
    issues.push({ path: 'brokers', message: 'give a client (kafka) or bootstrap addresses (brokers), e.g. ["127.0.0.1:9092"]' });
  }
  const producerInWorker = options.producerInWorker ?? options.kafka === undefined;
  if (producerInWorker && (options.brokers === undefined || options.brokers.length === 0)) {
    issues.push({ path: 'producerInWorker', message: 'the producer thread makes its own client: give brokers too, or set producerInWorker: false' });
  }
  if (!(VECTOR_FORMATS as readonly string[]).includes(format)) issues.push({ path: 'format', message: `must be one of ${VECTOR_FORMATS.join(', ')}` });
  if (issues.length > 0) throw new EmstreamOptionsError('runKafkaPipeline', issues);

  const base = input[0];
  const pipelineId = options.pipelineId ?? pipeline.name;
  const config = {
    input,
    models: options.models ?? defaults.models ?? `${base}.models`,
    labels: options.labels ?? defaults.labels ?? `${base}.labels`,
    deadLetters: options.deadLetters ?? defaults.deadLetters ?? `${base}.dead-letters`,
    group: options.group ?? defaults.group ?? `emstream-${pipelineId}`,
    pipelineId,
  };
  const fields = options.fields ?? defaults.fields;
  const dimension = options.dimension ?? defaults.dimension;
  const decodeVector = createDecoder({ format, fields, dimension, maxBytes: options.maxBytes });
  const logger = (options.logger ?? pino({ level: 'silent' })).child({ pipeline: pipelineId });
  const instrumentation = options.instrumentation ?? new Instrumentation();

  const clientId = options.clientId ?? `emstream-${pipelineId}`;
  const kafka = options.kafka ?? (await createKafkaClient(options.brokers!, { clientId, logger }));

  if (options.createTopics ?? true) {
    const admin = kafka.admin();
    try {
      await admin.connect();
      const settings = { numPartitions: options.topicPartitions, replicationFactor: options.replicationFactor };
      await ensureTopics(
        admin,
        [
          { topic: config.labels, ...settings },
          { topic: config.models, compacted: true, ...settings },
          { topic: config.deadLetters, ...settings },
        ],
        logger,
      );
    } catch (err) {
      if (err instanceof EmstreamError) throw err;
      throw new KafkaEdgeError(`could not reach the Kafka brokers to create the output topics: ${err instanceof Error ? err.message : String(err)}; check --brokers (start one with \`emstream broker\`)`, { operation: 'connect' }, { cause: err });
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  const restored = options.restore ? await restoreLatestModel(kafka, { topic: config.models, pipelineId, logger }) : undefined;

  const producer = producerInWorker
    ? new WorkerProducer({ brokers: options.brokers!, clientId, logLevel: 'warn', allowAutoTopicCreation: false, fastEncoder: options.fastProduceEncoder, logger })
    : kafka.producer({ allowAutoTopicCreation: false });
  const consumer = kafka.consumer({ groupId: config.group });
  try {
    await producer.connect();
    await consumer.connect();
  } catch (err) {
    await producer.disconnect().catch(() => undefined);
    throw new KafkaEdgeError(`could not connect to the Kafka brokers: ${err instanceof Error ? err.message : String(err)}; check --brokers`, { operation: 'connect', groupId: config.group }, { cause: err });
  }

  const counts = { consumed: 0, labelled: 0, deadLettered: 0, windows: 0 };
  const tracker = new OffsetTracker({ commit: (offsets) => consumer.commitOffsets(offsets) });
  const counters: KafkaPipelineCounters = {
    get consumed() {
      return counts.consumed;
    },
    get labelled() {
      return counts.labelled;
    },
    get deadLettered() {
      return counts.deadLettered;
    },
    get windows() {
      return counts.windows;
    },
    get inFlight() {
      return tracker.inFlight;
    },
  };
  const snapshot = (): KafkaPipelineCounters => ({ ...counts, inFlight: tracker.inFlight });

  const done = deferred<KafkaPipelineResult>();
  done.promise.catch(() => undefined); // callers may only use stop()
  let finishing: Promise<KafkaPipelineResult> | undefined;
  let finishWindow = false;
  const sourceAbort = new AbortController();
  const sourceEnded = deferred<void>();
  const running: { subscription?: Subscription } = {};

  // The worker sends one batch at a time in order whatever is outstanding: a second batch waiting there saves a round trip.
  const sender = new BatchSender(producer, { ...(producerInWorker ? { maxConcurrentSends: 2 } : {}), ...options.producerBatch, logger, onError: (err) => void shutdown(err).catch(() => undefined) });

  const deadLetter = (source: RejectedSource, reason: string, message: string): void => {
    counts.deadLettered++;
    instrumentation.emit('em.input.rejected', { reason, message });
    logger.debug({ reason, topic: source.topic, partition: source.partition, offset: source.offset }, message);
    const { topic, partition, offset } = source;
    const traceable = typeof topic === 'string' && typeof partition === 'number' && (typeof offset === 'string' || typeof offset === 'number');
    if (traceable) tracker.claim(topic, partition, offset);
    sender.enqueue([{ topic: config.deadLetters, message: deadLetterMessage(source, reason, message, pipelineId) }], () => {
      if (traceable) tracker.markDone(topic, partition, offset);
    });
  };

  const source$ = fromKafka(consumer, {
    topics: input,
    fromBeginning: options.fromBeginning ?? false,
    decode: (value, where) => {
      counts.consumed++;
      return decodeVector(value, where);
    },
    onDecodeError: (m) => deadLetter(m, m.failure.reason, m.failure.message),
    tracker,
    maxInFlight: options.maxInFlight ?? 20_000,
    commitIntervalMs: options.commitIntervalMs ?? 1000,
    signal: sourceAbort.signal,
    logger,
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

  const context: KafkaPipelineContext = {
    instrumentation,
    onInvalid: (invalid) => deadLetter(asRejected(invalid.record), invalid.reason, invalid.message),
    initialModel: restored?.model,
  };

  /** Once a window's outputs are acknowledged: finish its records, per partition up to its last offset. */
  const acknowledged = (update: MixtureUpdate<R>): void => {
    counts.windows++;
    counts.labelled += update.labels.length;
    const last = new Map<string, { topic: string; partition: number; offset: number }>();
    for (const record of update.window.records) {
      const r = record as { topic?: unknown; partition?: unknown; offset?: unknown };
      if (typeof r.topic !== 'string' || typeof r.partition !== 'number' || r.offset === undefined) continue;
      const offset = Number(r.offset);
      const id = `${r.partition}:${r.topic}`;
      const prev = last.get(id);
      if (prev === undefined || offset > prev.offset) last.set(id, { topic: r.topic, partition: r.partition, offset });
    }
    for (const { topic, partition, offset } of last.values()) tracker.markDoneThrough(topic, partition, offset);
    logger.debug({ windowIndex: update.windowIndex, version: update.version, n: update.window.n, logLikelihood: update.logLikelihood }, 'window acknowledged');
  };

  const disconnect = async (): Promise<void> => {
    await consumer.disconnect().catch((err: unknown) => logger.warn({ err }, 'consumer disconnect failed'));
    await producer.disconnect().catch((err: unknown) => logger.warn({ err }, 'producer disconnect failed'));
  };

  /** Ends the run: stop fetching, flush (unless failed), commit what is acknowledged, disconnect. */
  function shutdown(failure?: unknown): Promise<KafkaPipelineResult> {
    if (finishing !== undefined) return finishing;
    finishing = (async () => {
      sourceAbort.abort();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([sourceEnded.promise, new Promise((r) => (timer = setTimeout(r, 30_000)))]);
      clearTimeout(timer);
      let error = failure;
      if (error === undefined) {
        try {
          await sender.flush();
        } catch (err) {
          error = err;
        }
      }
      let committed: KafkaPipelineResult['committed'] = [];
      try {
        await tracker.commit();
        committed = tracker.committable();
      } catch (err) {
        logger.warn({ err }, 'final offset commit failed: the next run re-processes from the previous commit');
      }
      running.subscription?.unsubscribe();
      await disconnect();
      const result: KafkaPipelineResult = { counters: snapshot(), committed, handedBack: tracker.inFlight };
      if (error !== undefined) {
        const wrapped =
          error instanceof EmstreamError
            ? error
            : new KafkaEdgeError(`the pipeline ${JSON.stringify(pipelineId)} failed: ${error instanceof Error ? error.message : String(error)}`, { operation: 'pipeline' }, { cause: error, retriable: false });
        logger.error({ err: wrapped, ...result.counters }, 'pipeline stopped on an error');
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
    built = pipeline.build(gated$ as unknown as Observable<R>, context);
  } catch (err) {
    await disconnect();
    throw err;
  }
  const updates$ = built.pipe(toKafka<R>(sender, { labels: config.labels, models: config.models, pipelineId, includeVector: options.includeVector }));
  running.subscription = updates$.subscribe({
    next: acknowledged,
    error: (err: unknown) => void shutdown(err).catch(() => undefined),
    complete: () => void shutdown().catch(() => undefined),
  });

  const onAbort = (): void => void shutdown().catch(() => undefined);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  logger.info({ ...config, format, dimension, restored: restored?.message.modelVersion }, 'pipeline started');

  return {
    config,
    restored,
    counters,
    done: done.promise,
    stop: (stopOptions: StopOptions = {}) => {
      if (finishing === undefined && stopOptions.finishWindow) finishWindow = true;
      if (finishWindow && finishing === undefined) {
        // Complete the input: the pipeline fits the open window, toKafka flushes, then `complete` shuts down.
        sourceAbort.abort();
        return done.promise;
      }
      return shutdown();
    },
  };
}
