/**
 * The run configuration of `runKafkaPipeline`: its options as a zod schema (validated by `parseOptions` like
 * every other option object), and the resolved configuration (topics, group, format, bounds) the runner uses.
 *
 * @module
 */
import type { Logger } from 'pino';
import { z } from 'zod';
import { parseOptions } from '../../options.js';
import type { Instrumentation } from '../../instrumentation.js';
import type { VectorInput } from '../../operators/types.js';
import type { Pipeline } from '../../pipeline.js';
import type { KafkaClientLike } from '../client/ports.js';
import type { BatchSenderOptions } from '../delivery/batchSender.js';
import type { WindowOutput } from '../messages/outputs.js';
import { VECTOR_FORMATS, type VectorFormat } from '../source/formats.js';

/** Options of `runKafkaPipeline`. Topic and format options default to the pipeline's `kafka` defaults. */
export interface RunKafkaPipelineOptions<R extends VectorInput = VectorInput> {
  /** A client (kafkajs `Kafka` or compatible); or give `brokers`. */
  readonly kafka?: KafkaClientLike;
  /** Bootstrap addresses, used when `kafka` is not given. */
  readonly brokers?: readonly string[];
  readonly clientId?: string;
  /** What to run on the vectors. It receives `KafkaRecord`s (extra fields ride along to the labels). */
  readonly pipeline: Pipeline<R>;
  /** Input topic(s). */
  readonly input?: string | readonly string[];
  /** Compacted topic of model updates and states (default `<input>.models`). */
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
  /** The vectors' dimension (else the pipeline's, else the restored state's, else the majority of the first window). */
  readonly dimension?: number;
  /** Largest accepted input message in bytes (default 1 MiB); larger ones are dead-lettered as `oversized`. */
  readonly maxBytes?: number;
  /** Key of the model messages (default the pipeline's name). */
  readonly pipelineId?: string;
  readonly logger?: Logger;
  /** Stops the pipeline (gracefully, handing back the open window) when it aborts. */
  readonly signal?: AbortSignal;
  readonly instrumentation?: Instrumentation;
  /**
   * Start over on purpose: do not resume from the latest state of `pipelineId` on the models topic (default false:
   * the runner restores it for every pipeline, so the model, its statistics, the drift detector and the versions
   * continue).
   */
  readonly fresh?: boolean;
  /** @deprecated The state is restored by default; `restore: false` is the same as `fresh: true`. */
  readonly restore?: boolean;
  /**
   * Exactly once (default false: at least once). Each window's outputs (labels, dead letters, window history, drift,
   * further `outputs`), its state message and the consumed offsets commit in one Kafka transaction; readers with
   * `read_committed` (kafkajs's default) see each input's label exactly once and never an output of an aborted
   * transaction. Every input partition is a task of its own: its own pipeline instance and model, its own state key on
   * the models topic (`<pipelineId>/<topic>/<partition>`) and its own transactional producer (id
   * `<group>/<topic>/<partition>`), which fences a stalled former owner. See docs/guarantees.md.
   */
  readonly exactlyOnce?: boolean;
  /**
   * With `exactlyOnce`: how long the transaction coordinator lets a transaction stay open before aborting it, in ms
   * (default `brokerTimeoutMs` + 60 000). A transaction is open from a window's first send to its commit, and at most
   * `brokerTimeoutMs` on top while the brokers are away, so it must exceed `brokerTimeoutMs` (checked at start); at
   * most the brokers' `transaction.max.timeout.ms` (15 min by default).
   */
  readonly transactionTimeoutMs?: number;
  /**
   * One model for the whole consumer group (default false: each member — each partition's task, exactly once — fits
   * its own). Every member labels its windows with the latest global model and publishes the windows' statistics
   * under it to the statistics topic (`stats`); one member, the one Kafka assigns the statistics topic's single
   * partition in the group `<group>.reducer`, merges them into the next global model and publishes it with its state
   * on the models topic (key: the pipeline id). `true`, or the mode's settings. See docs/scaling.md.
   */
  readonly sharedModel?: boolean | SharedModelOptions;
  /** The statistics topic of the shared-model mode (default `<input>.stats`); it must have one partition. */
  readonly stats?: string;
  /** Most consumed records not yet fully acknowledged (default 20 000); must exceed a window. */
  readonly maxInFlight?: number;
  /** Commit at least this often while positions move, in ms (default 1000); 0 commits only on acknowledgements and at the end. */
  readonly commitIntervalMs?: number;
  /** Commit as soon as acknowledged outputs move a position (default true): the replay after a crash is about what is in flight. */
  readonly commitOnAcknowledge?: boolean;
  /**
   * At least once: write the state message every this many windows (default 1: every window). The inputs are
   * committed only as far as the last state written covers, and a state is written at every other commit too (the
   * `stateIntervalMs` or `commitIntervalMs` timer, a rebalance, a stop), so a restart resumes from exactly the
   * committed offsets with the state of that point; after a crash up to this many windows are read (and labelled)
   * again. With `exactlyOnce` every transaction holds the state of its window.
   */
  readonly stateEveryWindows?: number;
  /** At least once: also write the state when this many ms passed since the last one and windows are waiting for it (default 1000; 0: by count only). */
  readonly stateIntervalMs?: number;
  /**
   * How long the brokers may be unavailable (at start, or while running: sends, commits and the consumer all
   * retrying with backoff) before the run ends with a `BrokerUnavailableError`, in ms (default 120 000: long enough
   * for a broker restart).
   */
  readonly brokerTimeoutMs?: number;
  /**
   * How long to wait at start for input topics that do not exist yet (a service started before its producer),
   * in ms (default 120 000); then the run ends with an `InputTopicMissingError`. emstream never creates its input.
   */
  readonly inputTimeoutMs?: number;
  /**
   * The maximum wait of count windows, in ms: the pipeline's `windowVectors` count windows that set no `maxWaitMs`
   * of their own close this long after their first record, so the tail of a slow or idle topic is labelled
   * (default none: a window waits for its points; `emstream run` sets 10 000).
   */
  readonly maxWaitMs?: number;
  /** Consumer session timeout in ms (default 10 000): a member that dies is replaced by a survivor about this much later. */
  readonly sessionTimeoutMs?: number;
  /** Consumer heartbeat interval in ms (default 1000; below a third of the session timeout). */
  readonly heartbeatIntervalMs?: number;
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
  /** `max.message.bytes` of a created models topic (default 16 MiB: a state holds K·D² statistics). */
  readonly modelsMaxMessageBytes?: number;
  /**
   * `max.message.bytes` of a created dead-letter topic (default: the input topic's plus 64 KiB, so any input fits
   * with its headers). Dead letters over the dead-letter topic's actual limit are cut to fit, with a header.
   */
  readonly deadLettersMaxMessageBytes?: number;
  /** More outputs per window, produced and acknowledged with the labels and the state. */
  readonly outputs?: readonly WindowOutput<R>[];
  /**
   * Topic of drift alarms, one message per alarm keyed by pipeline id (default `<input>.drift`, created with the delete
   * policy and `driftRetentionMs`); `false`: none. Alarms are logged at warn either way.
   */
  readonly drift?: string | false;
  /** Topic of the window history, one small message per window keyed by pipeline id (default `<input>.windows`); `false`: none. */
  readonly windows?: string | false;
  /** `retention.ms` of a created drift topic (default 30 days). */
  readonly driftRetentionMs?: number;
  /** `retention.ms` of a created window-history topic (default 7 days). */
  readonly windowsRetentionMs?: number;
  /** The sample of each window's points in its window-history message (default 100 points and 400 coordinates at most; `false`: none). */
  readonly windowSample?: { readonly maxPoints?: number; readonly maxValues?: number } | false;
}

/** Settings of the shared-model mode ({@link RunKafkaPipelineOptions.sharedModel}). */
export interface SharedModelOptions {
  /**
   * The most model versions a contribution may lag the global model and still be merged (default 8): a contribution
   * computed under version v reaching the reducer when the model is at V is merged when V − v ≤ maxStaleness, else
   * dropped and counted (its points stay labelled).
   */
  readonly maxStaleness?: number;
  /** Points of each contribution sampled for the reducer's held-out checks (restarts, birth and death, K) (default 32). */
  readonly samplePoints?: number;
  /** How long the reducer gathers contributions before it makes the next global model, in ms (default 200). */
  readonly roundMs?: number;
  /** How long a member waits for the first global model before the run ends, in ms (default `brokerTimeoutMs`). */
  readonly modelTimeoutMs?: number;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const isFunction = (v: unknown): boolean => typeof v === 'function';
const topicName = z.string({ error: 'must be a topic name' }).min(1, 'must not be empty').regex(/^[A-Za-z0-9._-]+$/, 'may contain only letters, digits, ".", "_" and "-"');
/** `host:port` (a name, an IPv4 address or a bracketed IPv6 address, and a port in 1..65535). */
const BROKER_ADDRESS = /^(?:\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):(\d{1,5})$/;

/**
 * Why a bootstrap address is not `host:port`, or `undefined` when it is.
 *
 * @param address - e.g. `127.0.0.1:9092`
 */
export function brokerAddressProblem(address: string): string | undefined {
  const m = BROKER_ADDRESS.exec(address);
  if (m === null) {
    return /:\d*$/.test(address) || address.includes(':')
      ? `${JSON.stringify(address)} is not host:port (e.g. 127.0.0.1:9092; an IPv6 address goes in brackets, [::1]:9092)`
      : `${JSON.stringify(address)} has no port: give host:port, e.g. ${address}:9092`;
  }
  const port = Number(m[1]);
  return port >= 1 && port <= 65535 ? undefined : `${JSON.stringify(address)} has port ${port}, outside 1..65535`;
}

const brokerAddress = z.string().superRefine((v, ctx) => {
  const problem = brokerAddressProblem(v);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
});

const positiveInt = (what: string) => z.number({ error: `must be a number (${what})` }).int(`must be a whole number (${what})`).min(1, `must be at least 1 (${what})`);

/** The zod schema of {@link RunKafkaPipelineOptions} (structure and ranges; cross-field checks in {@link resolveRunConfig}). */
export const runOptionsSchema = z
  .object({
    kafka: z.custom<KafkaClientLike>((v) => isObject(v) && isFunction(v.consumer) && isFunction(v.producer) && isFunction(v.admin), 'must be a Kafka client (kafkajs `new Kafka({...})`)').optional(),
    brokers: z.array(brokerAddress, { error: 'must be a list of host:port addresses, e.g. ["127.0.0.1:9092"]' }).optional(),
    clientId: z.string().min(1).optional(),
    pipeline: z.custom<Pipeline<VectorInput>>((v) => isObject(v) && typeof v.name === 'string' && isFunction(v.build), 'must be a pipeline: definePipeline({ name, build })'),
    input: z.union([topicName, z.array(topicName).min(1, 'give at least one input topic')]).optional(),
    models: topicName.optional(),
    labels: topicName.optional(),
    deadLetters: topicName.optional(),
    group: z.string().min(1).optional(),
    fromBeginning: z.boolean().optional(),
    format: z.enum(VECTOR_FORMATS, { error: `must be one of ${VECTOR_FORMATS.join(', ')}` }).optional(),
    fields: z.array(z.string().min(1, 'field names must not be empty')).min(1, 'name at least one field').optional(),
    dimension: positiveInt('coordinates per vector').optional(),
    maxBytes: positiveInt('bytes').optional(),
    pipelineId: z.string().min(1).optional(),
    logger: z.custom<Logger>((v) => isObject(v) && isFunction(v.info) && isFunction(v.child), 'must be a pino logger').optional(),
    signal: z.custom<AbortSignal>((v) => v instanceof AbortSignal, 'must be an AbortSignal').optional(),
    instrumentation: z.custom<Instrumentation>((v) => isObject(v) && isFunction(v.emit) && isFunction(v.on), 'must be an Instrumentation').optional(),
    fresh: z.boolean().optional(),
    restore: z.boolean().optional(),
    sharedModel: z
      .union([
        z.boolean(),
        z
          .object({
            maxStaleness: z.number().int('must be a whole number of versions').min(0, 'must be ≥ 0 versions').optional(),
            samplePoints: z.number().int('must be a whole number of points').min(0, 'must be ≥ 0 points').max(4096, 'must be at most 4096 points').optional(),
            roundMs: z.number().int('must be a whole number of ms').min(10, 'must be at least 10 ms').optional(),
            modelTimeoutMs: z.number().int('must be a whole number of ms').min(1000, 'must be at least 1000 ms').optional(),
          })
          .strict(),
      ], { error: 'must be true, false or { maxStaleness?, samplePoints?, roundMs?, modelTimeoutMs? }' })
      .optional(),
    stats: topicName.optional(),
    maxInFlight: positiveInt('records').optional(),
    commitIntervalMs: z.number().min(0, 'must be ≥ 0 ms').optional(),
    commitOnAcknowledge: z.boolean().optional(),
    stateEveryWindows: positiveInt('windows').optional(),
    stateIntervalMs: z.number().min(0, 'must be ≥ 0 ms').optional(),
    brokerTimeoutMs: z.number().positive('must be > 0 ms').optional(),
    inputTimeoutMs: z.number().min(0, 'must be ≥ 0 ms').optional(),
    maxWaitMs: z.number().positive('must be > 0 ms').optional(),
    sessionTimeoutMs: z.number().int().min(1000, 'must be at least 1000 ms').optional(),
    heartbeatIntervalMs: z.number().int().min(100, 'must be at least 100 ms').optional(),
    exactlyOnce: z.boolean().optional(),
    transactionTimeoutMs: z.number().int('must be a whole number of ms').min(1000, 'must be at least 1000 ms').optional(),
    producerInWorker: z.boolean().optional(),
    fastProduceEncoder: z.boolean().optional(),
    producerBatch: z
      .object({
        maxBatchMessages: positiveInt('messages').optional(),
        maxBatchBytes: positiveInt('bytes').optional(),
        lingerMs: z.number().min(0).optional(),
        maxConcurrentSends: positiveInt('sends').optional(),
      })
      .strict()
      .optional(),
    includeVector: z.boolean().optional(),
    createTopics: z.boolean().optional(),
    topicPartitions: positiveInt('partitions').optional(),
    replicationFactor: positiveInt('replicas').optional(),
    modelsMaxMessageBytes: positiveInt('bytes').optional(),
    deadLettersMaxMessageBytes: positiveInt('bytes').optional(),
    outputs: z.array(z.custom<WindowOutput<unknown>>((v) => isObject(v) && typeof v.topic === 'string' && isFunction(v.messages), 'must be a WindowOutput { topic, messages }')).optional(),
    drift: z.union([topicName, z.literal(false)], { error: 'must be a topic name, or false for no drift topic' }).optional(),
    windows: z.union([topicName, z.literal(false)], { error: 'must be a topic name, or false for no window-history topic' }).optional(),
    driftRetentionMs: positiveInt('ms').optional(),
    windowsRetentionMs: positiveInt('ms').optional(),
    windowSample: z
      .union([z.literal(false), z.object({ maxPoints: positiveInt('points').optional(), maxValues: positiveInt('coordinates').optional() }).strict()], {
        error: 'must be false or { maxPoints?, maxValues? }',
      })
      .optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    // Cross-field checks, with the pipeline's Kafka defaults applied.
    const issue = (path: string, message: string): void => ctx.addIssue({ code: 'custom', path: [path], message });
    const defaults = o.pipeline.kafka ?? {};
    const input = o.input ?? defaults.input;
    const format = o.format ?? defaults.format ?? 'json-array';
    const fields = o.fields ?? defaults.fields;
    const dimension = o.dimension ?? defaults.dimension;
    if (input === undefined) issue('input', 'give the input topic (--input), or set kafka.input in the pipeline');
    const hasBrokers = o.brokers !== undefined && o.brokers.length > 0;
    if (o.kafka === undefined && !hasBrokers) issue('brokers', 'give a client (kafka) or bootstrap addresses (brokers), e.g. ["127.0.0.1:9092"]');
    if (o.producerInWorker === true && !hasBrokers) issue('producerInWorker', 'the producer thread makes its own client: give brokers too, or set producerInWorker: false');
    if ((format === 'float32le' || format === 'float64le') && dimension === undefined) {
      issue('dimension', `is required for the binary format ${format} (coordinates per message), e.g. --dimension 16`);
    }
    if (fields !== undefined && format !== 'json-object') issue('fields', `only apply to the json-object format, not ${format}: drop fields or use --format json-object`);
    if (fields !== undefined && dimension !== undefined && fields.length !== dimension) issue('dimension', `is ${dimension} but ${fields.length} fields are named: they must agree`);
    const session = o.sessionTimeoutMs ?? 10_000;
    if (o.heartbeatIntervalMs !== undefined && o.heartbeatIntervalMs * 3 > session) {
      issue('heartbeatIntervalMs', `must be at most a third of sessionTimeoutMs (${session} ms), got ${o.heartbeatIntervalMs}`);
    }
    if (o.fresh === true && o.restore === true) issue('fresh', 'fresh: true and restore: true contradict each other: drop restore (restoring is the default)');
    if (o.stats !== undefined && (o.sharedModel === undefined || o.sharedModel === false)) issue('stats', 'applies to the shared-model mode only: add sharedModel: true (--shared-model), or drop it');
    if (o.transactionTimeoutMs !== undefined && o.exactlyOnce !== true) issue('transactionTimeoutMs', 'applies to the exactly-once mode only: add exactlyOnce: true (--exactly-once), or drop it');
    if (o.exactlyOnce === true && o.transactionTimeoutMs !== undefined) {
      const budget = o.brokerTimeoutMs ?? 120_000;
      if (o.transactionTimeoutMs <= budget) {
        issue(
          'transactionTimeoutMs',
          `is ${o.transactionTimeoutMs} ms, not more than brokerTimeoutMs (${budget} ms): a transaction waiting for unavailable brokers would be aborted by the coordinator before the run gives up; ` +
            `raise it above ${budget} ms (the default is brokerTimeoutMs + 60000) or lower brokerTimeoutMs`,
        );
      }
      if (o.transactionTimeoutMs <= session) issue('transactionTimeoutMs', `must exceed sessionTimeoutMs (${session} ms), got ${o.transactionTimeoutMs}`);
    }
    if (input !== undefined) {
      const base = typeof input === 'string' ? input : input[0];
      const taken = new Map<string, string>();
      const names: [string, string | false | undefined][] = [
        ['labels', o.labels ?? defaults.labels ?? `${base}.labels`],
        ['models', o.models ?? defaults.models ?? `${base}.models`],
        ['deadLetters', o.deadLetters ?? defaults.deadLetters ?? `${base}.dead-letters`],
        ['drift', o.drift ?? defaults.drift ?? `${base}.drift`],
        ['windows', o.windows ?? defaults.windows ?? `${base}.windows`],
        ['stats', o.sharedModel === undefined || o.sharedModel === false ? undefined : (o.stats ?? `${base}.stats`)],
      ];
      for (const [option, topic] of names) {
        if (topic === false || topic === undefined) continue;
        const other = taken.get(topic);
        if (other !== undefined) issue(option, `is the topic ${JSON.stringify(topic)}, already the ${other} topic: give each output its own topic`);
        else taken.set(topic, option);
        if ((typeof input === 'string' ? [input] : input).includes(topic)) issue(option, `is the input topic ${JSON.stringify(topic)}: an output cannot be an input`);
      }
    }
  });

/** The configuration a run uses: every default applied, topics and group resolved. */
export interface RunConfig {
  readonly input: readonly string[];
  readonly models: string;
  readonly labels: string;
  readonly deadLetters: string;
  readonly group: string;
  readonly pipelineId: string;
  readonly clientId: string;
  readonly brokers: readonly string[] | undefined;
  readonly format: VectorFormat;
  readonly fields: readonly string[] | undefined;
  readonly dimension: number | undefined;
  readonly maxBytes: number | undefined;
  readonly fromBeginning: boolean;
  readonly fresh: boolean;
  readonly maxInFlight: number;
  readonly commitIntervalMs: number;
  readonly commitOnAcknowledge: boolean;
  readonly stateEveryWindows: number;
  readonly stateIntervalMs: number;
  readonly brokerTimeoutMs: number;
  readonly inputTimeoutMs: number;
  /** The maximum wait of the pipeline's count windows (undefined: none). */
  readonly maxWaitMs: number | undefined;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly exactlyOnce: boolean;
  /** The transaction timeout of the exactly-once mode, in ms. */
  readonly transactionTimeoutMs: number;
  readonly producerInWorker: boolean;
  readonly fastProduceEncoder: boolean;
  readonly includeVector: boolean;
  readonly createTopics: boolean;
  readonly topicPartitions: number;
  readonly replicationFactor: number;
  readonly modelsMaxMessageBytes: number;
  readonly deadLettersMaxMessageBytes: number | undefined;
  /** The drift topic, or null for none. */
  readonly drift: string | null;
  /** The window-history topic, or null for none. */
  readonly windows: string | null;
  readonly driftRetentionMs: number | undefined;
  readonly windowsRetentionMs: number | undefined;
  readonly windowSample: { readonly maxPoints: number; readonly maxValues: number } | false;
  /** The shared-model mode's settings, or null when each member fits its own model. */
  readonly shared: SharedModelConfig | null;
}

/** The resolved settings of the shared-model mode. */
export interface SharedModelConfig {
  /** The statistics topic (one partition). */
  readonly stats: string;
  /** The reducer's consumer group: `<group>.reducer`. */
  readonly reducerGroup: string;
  readonly maxStaleness: number;
  readonly samplePoints: number;
  readonly roundMs: number;
  readonly modelTimeoutMs: number;
}

/** Default {@link RunKafkaPipelineOptions.modelsMaxMessageBytes}: 16 MiB. */
export const DEFAULT_MODELS_MAX_MESSAGE_BYTES = 16 << 20;

/**
 * Validates the options of a run and resolves its configuration.
 *
 * 1. The schema ({@link runOptionsSchema} through `parseOptions`): types and ranges, unknown options, and the
 *    cross-field checks (an input topic, brokers or a client, brokers for a worker producer, a dimension for the
 *    binary formats, fields only with `json-object` and agreeing with the dimension, the heartbeat interval).
 * 2. Defaults: options first, then the pipeline's `kafka` defaults, then derived names (`<input>.labels`, …).
 *
 * @param options - what the caller gave
 * @returns the resolved configuration
 * @throws EmstreamOptionsError listing every problem, each with its option and the fix
 */
export function resolveRunConfig<R extends VectorInput>(options: RunKafkaPipelineOptions<R>): RunConfig {
  const o = parseOptions(runOptionsSchema, options, 'runKafkaPipeline');
  const defaults = o.pipeline.kafka ?? {};
  const inputOption = (o.input ?? defaults.input)!;
  const input = typeof inputOption === 'string' ? [inputOption] : [...inputOption];
  const fields = o.fields ?? defaults.fields;
  const dimension = o.dimension ?? defaults.dimension;
  const sessionTimeoutMs = o.sessionTimeoutMs ?? 10_000;
  const pipelineId = o.pipelineId ?? o.pipeline.name;
  const base = input[0];
  const drift = o.drift ?? defaults.drift ?? `${base}.drift`;
  const windows = o.windows ?? defaults.windows ?? `${base}.windows`;
  return {
    input,
    models: o.models ?? defaults.models ?? `${base}.models`,
    labels: o.labels ?? defaults.labels ?? `${base}.labels`,
    deadLetters: o.deadLetters ?? defaults.deadLetters ?? `${base}.dead-letters`,
    group: o.group ?? defaults.group ?? `emstream-${pipelineId}`,
    pipelineId,
    clientId: o.clientId ?? `emstream-${pipelineId}`,
    brokers: o.brokers,
    format: o.format ?? defaults.format ?? 'json-array',
    fields,
    dimension: dimension ?? (fields !== undefined ? fields.length : undefined),
    maxBytes: o.maxBytes,
    fromBeginning: o.fromBeginning ?? false,
    fresh: o.fresh ?? o.restore === false,
    maxInFlight: o.maxInFlight ?? 20_000,
    commitIntervalMs: o.commitIntervalMs ?? 1000,
    commitOnAcknowledge: o.commitOnAcknowledge ?? true,
    stateEveryWindows: o.stateEveryWindows ?? 1,
    stateIntervalMs: o.stateIntervalMs ?? 1000,
    brokerTimeoutMs: o.brokerTimeoutMs ?? 120_000,
    inputTimeoutMs: o.inputTimeoutMs ?? 120_000,
    maxWaitMs: o.maxWaitMs,
    sessionTimeoutMs,
    heartbeatIntervalMs: o.heartbeatIntervalMs ?? Math.min(1000, Math.floor(sessionTimeoutMs / 3)),
    exactlyOnce: o.exactlyOnce ?? false,
    transactionTimeoutMs: o.transactionTimeoutMs ?? (o.brokerTimeoutMs ?? 120_000) + 60_000,
    producerInWorker: o.producerInWorker ?? o.kafka === undefined,
    fastProduceEncoder: o.fastProduceEncoder ?? true,
    includeVector: o.includeVector ?? false,
    createTopics: o.createTopics ?? true,
    topicPartitions: o.topicPartitions ?? 1,
    replicationFactor: o.replicationFactor ?? 1,
    modelsMaxMessageBytes: o.modelsMaxMessageBytes ?? DEFAULT_MODELS_MAX_MESSAGE_BYTES,
    deadLettersMaxMessageBytes: o.deadLettersMaxMessageBytes,
    drift: drift === false ? null : drift,
    windows: windows === false ? null : windows,
    driftRetentionMs: o.driftRetentionMs,
    windowsRetentionMs: o.windowsRetentionMs,
    windowSample: o.windowSample === false ? false : { maxPoints: o.windowSample?.maxPoints ?? 100, maxValues: o.windowSample?.maxValues ?? 400 },
    shared: sharedConfig(o.sharedModel, o.stats ?? `${base}.stats`, o.group ?? defaults.group ?? `emstream-${pipelineId}`, o.brokerTimeoutMs ?? 120_000),
  };
}

/** Defaults of {@link SharedModelOptions}. */
export const SHARED_MODEL_DEFAULTS = { maxStaleness: 8, samplePoints: 32, roundMs: 200 } as const;

/** The shared-model settings resolved (null when the mode is off). */
function sharedConfig(option: boolean | SharedModelOptions | undefined, stats: string, group: string, brokerTimeoutMs: number): SharedModelConfig | null {
  if (option === undefined || option === false) return null;
  const o = option === true ? {} : option;
  return {
    stats,
    reducerGroup: `${group}.reducer`,
    maxStaleness: o.maxStaleness ?? SHARED_MODEL_DEFAULTS.maxStaleness,
    samplePoints: o.samplePoints ?? SHARED_MODEL_DEFAULTS.samplePoints,
    roundMs: o.roundMs ?? SHARED_MODEL_DEFAULTS.roundMs,
    modelTimeoutMs: o.modelTimeoutMs ?? brokerTimeoutMs,
  };
}
