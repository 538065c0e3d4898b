/**
 * `emstream run`: runs a pipeline between Kafka topics until SIGTERM/SIGINT: labels, states on a compacted topic, dead
 * letters; at least once by default (offsets committed as soon as the outputs are acknowledged), exactly once with
 * `--exactly-once` (outputs, state and offsets in one transaction per window); the saved state restored at start
 * unless `--fresh`.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL, fileURLToPath } from 'node:url';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { UsageError } from '../errors.js';
import { onStopSignals } from '../signals.js';
import { Instrumentation } from '../../instrumentation.js';
import { registerMetrics, type EmstreamMetrics } from '../../monitoring/metrics.js';
import { Readiness } from '../../monitoring/readiness.js';
import { startMetricsServer, type MetricsServer } from '../../monitoring/server.js';
import type { RestartPolicy } from '../../gmm/streaming.js';
import { COVARIANCE_TYPES, type CovarianceType } from '../../gmm/types.js';
import { VECTOR_FORMATS, type VectorFormat } from '../../kafka/source/formats.js';
import { runKafkaPipeline } from '../../kafka/run/runner.js';
import { standardPipeline } from '../../kafka/run/standardPipeline.js';
import { type KafkaPipelineHandle, type KafkaPipelineResult } from '../../kafka/run/handle.js';
import type { VectorInput } from '../../operators/types.js';
import type { Pipeline } from '../../pipeline.js';

/** Options of `emstream run`, as parsed by commander. */
interface RunCommandOptions {
  pipeline?: string;
  brokers?: string;
  input?: string;
  models?: string;
  labels?: string;
  deadLetters?: string;
  group?: string;
  fromBeginning?: boolean;
  components?: number;
  window?: number;
  format?: VectorFormat;
  fields?: string[];
  dimension?: number;
  halflife?: number;
  restart?: RestartPolicy;
  covariance?: CovarianceType;
  offThread?: boolean;
  pipelineId?: string;
  restore?: boolean;
  fresh?: boolean;
  commitIntervalMs?: number;
  brokerTimeoutMs?: number;
  inputTimeoutMs?: number;
  sessionTimeoutMs?: number;
  transactionTimeoutMs?: number;
  /** Older spellings (kept with a notice): milliseconds, seconds, seconds, milliseconds. */
  commitInterval?: number;
  brokerTimeout?: number;
  inputTimeout?: number;
  /** ms; 0 turns the maximum wait off (undefined: the default). */
  maxWaitMs?: number;
  /** The same in ms, under the name `--max-wait` (hidden). */
  maxWait?: number;
  sessionTimeout?: number;
  exactlyOnce?: boolean;
  sharedModel?: boolean;
  statsTopic?: string;
  maxStaleness?: number;
  roundMs?: number;
  maxInFlight?: number;
  stateEveryWindows?: number;
  stateIntervalMs?: number;
  includeVector?: boolean;
  producerThread?: boolean;
  kafkajsEncoder?: boolean;
  /** A topic name, `false` for `--no-drift-topic`, undefined for the default. */
  driftTopic?: string | false;
  windowsTopic?: string | false;
  metricsPort?: number;
  metricsHost: string;
  logLevel: string;
}

/** For tests: stop the command with a signal instead of SIGTERM, and see the handle. */
export interface RunCommandHooks {
  readonly signal?: AbortSignal;
  readonly onStarted?: (handle: KafkaPipelineHandle) => void;
  readonly logger?: Logger;
}

/** A usage problem of `emstream run` (exit code 2 in the CLI). */
export class RunUsageError extends UsageError {
  override readonly name: string = 'RunUsageError';
}

/** How to get a broker, appended to the "no brokers" error. */
export const NO_BROKER_HINT =
  'no Kafka broker given: pass --brokers host:port (or set KAFKA_BROKERS). To get one, run `emstream broker` in another terminal ' +
  '(a local single-node Kafka; needs Java 17+ and Maven) and use the address it prints, or `docker compose up` for Kafka and this pipeline in containers';

/**
 * The default of `--max-wait-ms`: a window that normally fills in under 10 s (500 points at 50 per second or
 * more) is never cut, and the tail of an idle topic is labelled within 10 s instead of never; the consumer's own
 * session timeout (10 s) is the same order, so a record waits no longer for its label than a dead member waits
 * to be replaced.
 */
export const DEFAULT_MAX_WAIT_MS = 10_000;

/** The maximum wait of the run's count windows, from `--max-wait-ms` (or `--max-wait`): undefined when 0 (off). */
function maxWaitOf(opts: RunCommandOptions): number | undefined {
  if (opts.maxWaitMs !== undefined && opts.maxWait !== undefined) throw new RunUsageError('--max-wait and --max-wait-ms both given: give --max-wait-ms only');
  const ms = opts.maxWaitMs ?? opts.maxWait ?? DEFAULT_MAX_WAIT_MS;
  return ms > 0 ? ms : undefined;
}

function positiveInteger(what: string): (value: string) => number {
  return (value) => {
    const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError(`${what} must be a whole number ≥ 1`);
    return n;
  };
}

function nonNegativeInteger(what: string): (value: string) => number {
  return (value) => {
    const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
    if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`${what} must be a whole number ≥ 0`);
    return n;
  };
}

function port(value: string): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be a port in 0..65535 (0 picks a free one)');
  return n;
}

function positiveNumber(what: string): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${what} must be a number > 0`);
    return n;
  };
}

/**
 * The time flags, all in milliseconds; the older spellings (`--commit-interval` in ms, `--broker-timeout` and
 * `--input-timeout` in seconds, `--session-timeout` in ms) are read too, each with a one-line notice.
 *
 * @throws RunUsageError when a flag is given in both spellings
 */
function timeFlags(opts: RunCommandOptions, logger: Logger): { commitIntervalMs?: number; brokerTimeoutMs?: number; inputTimeoutMs?: number; sessionTimeoutMs?: number; transactionTimeoutMs?: number } {
  const pick = (now: number | undefined, old: number | undefined, newFlag: string, oldFlag: string, factor: number): number | undefined => {
    if (old === undefined) return now;
    const ms = Math.round(old * factor);
    if (now !== undefined) throw new RunUsageError(`${oldFlag} and ${newFlag} both given: give ${newFlag} only (every time flag of run is in milliseconds)`);
    logger.warn(`${oldFlag} is now ${newFlag} (every time flag of run is in milliseconds): read as ${newFlag} ${ms}`);
    return ms;
  };
  const out = {
    commitIntervalMs: pick(opts.commitIntervalMs, opts.commitInterval, '--commit-interval-ms', '--commit-interval', 1),
    brokerTimeoutMs: pick(opts.brokerTimeoutMs, opts.brokerTimeout, '--broker-timeout-ms', '--broker-timeout', 1000),
    inputTimeoutMs: pick(opts.inputTimeoutMs, opts.inputTimeout, '--input-timeout-ms', '--input-timeout', 1000),
    sessionTimeoutMs: pick(opts.sessionTimeoutMs, opts.sessionTimeout, '--session-timeout-ms', '--session-timeout', 1),
    transactionTimeoutMs: opts.transactionTimeoutMs,
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

/** The shared-model options from the flags. */
function sharedModelFlags(opts: RunCommandOptions): { sharedModel?: true | { maxStaleness?: number; roundMs?: number }; stats?: string } {
  if (opts.sharedModel !== true) return {};
  const settings = { ...(opts.maxStaleness === undefined ? {} : { maxStaleness: opts.maxStaleness }), ...(opts.roundMs === undefined ? {} : { roundMs: opts.roundMs }) };
  return { sharedModel: Object.keys(settings).length === 0 ? true : settings, ...(opts.statsTopic === undefined ? {} : { stats: opts.statsTopic }) };
}

/** `never`, `on-drift`, `every:N` or `N` (every N windows). */
function parseRestart(value: string): RestartPolicy {
  const v = value.trim();
  if (v === 'never' || v === 'on-drift') return v;
  const m = /^(?:every:)?(\d+)$/.exec(v);
  if (m !== null && Number(m[1]) >= 1) return { every: Number(m[1]) };
  throw new InvalidArgumentError('must be never, on-drift, or every:N (a cold restart every N windows)');
}

function parseFields(value: string): string[] {
  const fields = value.split(',').map((f) => f.trim());
  if (fields.some((f) => f === '')) throw new InvalidArgumentError('must be field names separated by commas, e.g. temperature,humidity');
  return fields;
}

/** Whether a value looks like a pipeline definition. */
function isPipeline(value: unknown): value is Pipeline<VectorInput> {
  return typeof value === 'object' && value !== null && typeof (value as { build?: unknown }).build === 'function' && typeof (value as { name?: unknown }).name === 'string';
}

/**
 * Loads a pipeline given by name or path.
 *
 * 1. A path (contains `/` or ends with `.js`/`.mjs`/`.ts`): resolved from the current directory.
 * 2. A name: the package's built `dist/pipelines/NAME.js` (or `pipelines/NAME.ts` when run from source with tsx).
 * 3. The module's default export must be a pipeline (`definePipeline({...})`).
 *
 * @param spec - a name such as `sensors`, or a path such as `./my-pipeline.js`
 * @returns the pipeline
 * @throws RunUsageError when the module cannot be found or exports no pipeline
 */
export async function loadPipeline(spec: string): Promise<Pipeline<VectorInput>> {
  const isPath = spec.includes('/') || spec.includes('\\') || /\.(m?js|ts)$/.test(spec);
  let candidates: string[];
  if (isPath) candidates = [isAbsolute(spec) ? spec : resolve(process.cwd(), spec)];
  else {
    if (!/^[\w.-]+$/.test(spec)) throw new RunUsageError(`--pipeline ${JSON.stringify(spec)} is neither a pipeline name (letters, digits, - _ .) nor a path to a .js module`);
    // src/cli/commands → package root is three levels up (dist/src/cli/commands → dist).
    candidates = [`../../../pipelines/${spec}.js`, `../../../pipelines/${spec}.ts`].map((rel) => fileURLToPath(new URL(rel, import.meta.url)));
  }
  const file = candidates.find((c) => existsSync(c));
  if (file === undefined) {
    throw new RunUsageError(
      isPath
        ? `pipeline module ${candidates[0]} not found: give the path of a built .js module whose default export is definePipeline({...})`
        : `no pipeline named ${JSON.stringify(spec)} (looked for ${candidates[0]}): build the package (npm run build) or give a path to a .js module`,
    );
  }
  let mod: { default?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  } catch (err) {
    throw new RunUsageError(`could not load the pipeline module ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (!isPipeline(mod.default)) throw new RunUsageError(`${file} has no pipeline as its default export: write \`export default definePipeline({ name, build })\``);
  return mod.default;
}

/**
 * Adds `emstream run` to the program.
 *
 * The command:
 * 1. refuses to start without brokers (`--brokers` or `KAFKA_BROKERS`), saying how to get one;
 * 2. loads `--pipeline NAME|PATH`, or builds the standard pipeline windowVectors(--window) → fitMixture(-k, --halflife,
 *    --restart, --covariance) from flags;
 * 3. runs it with `runKafkaPipeline` (flags override the pipeline's Kafka defaults), logging JSON lines (pino) on stderr
 *    (drift alarms at warn, with the window, version, statistic, input offsets and the components that moved); the
 *    window history and drift alarms also go to their topics (`--windows-topic`, `--drift-topic`, or `--no-…`);
 * 3b. with `--metrics-port`, serves `/metrics` (every metric of `registerMetrics`, records in flight read at scrape
 *    time), `/healthz` and `/readyz` (connected, assigned, not stuck on backpressure) from the run's instrumentation,
 *    from before the brokers are reached until the run ends;
 * 4. on SIGTERM/SIGINT stops gracefully: stop fetching, flush outputs, commit, disconnect (a second signal exits at once),
 *    and prints the counters as one JSON line on stdout. Started by `npx`/`npm`, whose `sh -c` does not pass
 *    SIGTERM on, it stops the same way when that shell goes away ({@link onStopSignals}).
 *
 * Usage problems (no brokers, a broker address without a port, no input topic, a binary format without
 * `--dimension`, a transaction timeout not above the broker timeout, …) exit 2 at once; while the brokers do not
 * answer, one warning per retry; brokers unavailable past `--broker-timeout-ms`, a saved state that does not match
 * (`--fresh` starts over) and other failures exit 1, with one line on stderr. Every time flag is in milliseconds
 * (`--commit-interval-ms`, `--broker-timeout-ms`, `--input-timeout-ms`, `--session-timeout-ms`,
 * `--transaction-timeout-ms`); the older spellings are read with a one-line notice.
 *
 * @param program - the root `emstream` command
 * @param hooks - for tests: an abort signal instead of process signals, a callback with the running handle, a logger
 */
export function registerRun(program: Command, hooks: RunCommandHooks = {}): void {
  program
    .command('run')
    .description('run a streaming pipeline between Kafka topics: vectors in → labels, model updates (compacted topic), dead letters out')
    .option('--pipeline <name|path>', 'a pipeline by name (dist/pipelines/NAME.js, e.g. sensors, embeddings) or a path to a .js module; default: the standard pipeline from -k/--window')
    .option('--brokers <host:port,...>', 'Kafka bootstrap addresses (default: env KAFKA_BROKERS)')
    .option('--input <topic>', 'input topic of vectors')
    .option('--models <topic>', 'compacted topic of model updates (default <input>.models)')
    .option('--labels <topic>', 'topic of labels, one per input (default <input>.labels)')
    .option('--dead-letters <topic>', 'topic of rejected messages (default <input>.dead-letters)')
    .option('--drift-topic <topic>', 'topic of drift alarms, one message per alarm (default <input>.drift)')
    .option('--no-drift-topic', 'write no drift topic (alarms are still logged at warn)')
    .option('--windows-topic <topic>', 'topic of the window history, one small message per window (default <input>.windows)')
    .option('--no-windows-topic', 'write no window-history topic')
    .option('--group <id>', 'consumer group (default emstream-<pipeline id>)')
    .option('--from-beginning', 'read from the earliest offset when the group has no committed offset')
    .option('-k, --components <k>', 'number of mixture components (standard pipeline)', positiveInteger('k'))
    .option('--window <n>', 'points per window (standard pipeline; default 500)', positiveInteger('the window size'))
    .addOption(new Option('--format <format>', 'message format').choices([...VECTOR_FORMATS]))
    .option('--fields <a,b,...>', 'field names for --format json-object (the vector is these fields, in order)', parseFields)
    .option('--dimension <d>', 'vector dimension (required for float32le/float64le)', positiveInteger('the dimension'))
    .option('--halflife <windows>', 'half-life of past statistics, in windows (standard pipeline)', positiveNumber('the half-life'))
    .option('--restart <policy>', 'cold restarts: never, on-drift (default), every:N (standard pipeline)', parseRestart)
    .addOption(new Option('--covariance <type>', 'covariance type (standard pipeline)').choices([...COVARIANCE_TYPES]))
    .option('--off-thread', 'fit each window on a worker thread: the next window is read meanwhile and the consumer is never blocked by a fit (standard pipeline)')
    .option('--pipeline-id <id>', 'key of the model messages (default: the pipeline name)')
    .option('--fresh', 'start over: do not resume from the saved state of the pipeline id on the models topic (resuming is the default)')
    .option('--restore', 'resume from the saved state (the default; kept for older scripts)')
    .option('--max-in-flight <n>', 'most consumed records not yet fully acknowledged (default max(20000, 4 × window))', positiveInteger('the in-flight bound'))
    .option('--exactly-once', 'exactly once: each window\'s outputs, its state and the consumed offsets commit in one transaction; read the outputs with read_committed (one model per input partition)')
    .option('--shared-model', 'one model for the whole consumer group: members label with the global model and contribute their windows\' statistics; one member (Kafka assigns it) merges them')
    .option('--stats-topic <topic>', 'with --shared-model: the statistics topic, one partition (default <input>.stats)')
    .option('--max-staleness <versions>', 'with --shared-model: most model versions a contribution may lag and still be merged (default 8)', nonNegativeInteger('the staleness bound'))
    .option('--round-ms <ms>', 'with --shared-model: how long the reducer gathers contributions before the next model (default 200)', positiveInteger('the round length'))
    .option('--state-every-windows <n>', 'at least once: write the state every n windows (default 1); commits go as far as the last state, so a restart resumes exactly there', positiveInteger('the state interval'))
    .option('--state-interval-ms <ms>', 'at least once: also write the state when this long passed since the last one (default 1000; 0: by count only)', nonNegativeInteger('the state interval'))
    .option('--commit-interval-ms <ms>', 'at least once: commit at least this often (default 1000; outputs are committed as soon as acknowledged anyway)', nonNegativeInteger('the commit interval'))
    .option('--broker-timeout-ms <ms>', 'how long the brokers may be unavailable (at start or while running) before the run exits 1 (default 120000)', positiveInteger('the broker timeout'))
    .option('--input-timeout-ms <ms>', 'how long to wait at start for input topics that do not exist yet before exiting 1 (default 120000)', nonNegativeInteger('the input timeout'))
    .option(
      '--max-wait-ms <ms>',
      `close a count window this long after its first record, so the tail of a slow topic is labelled (0: wait for a full window; default ${DEFAULT_MAX_WAIT_MS})`,
      nonNegativeInteger('the maximum wait'),
    )
    .addOption(new Option('--max-wait <ms>').argParser(nonNegativeInteger('the maximum wait')).hideHelp())
    .option('--session-timeout-ms <ms>', 'consumer session timeout: a dead member is replaced about this much later (default 10000)', positiveInteger('the session timeout'))
    .option('--transaction-timeout-ms <ms>', 'with --exactly-once: how long a transaction may stay open; above --broker-timeout-ms (default broker timeout + 60000)', positiveInteger('the transaction timeout'))
    .addOption(new Option('--commit-interval <ms>').argParser(nonNegativeInteger('the commit interval')).hideHelp())
    .addOption(new Option('--broker-timeout <seconds>').argParser(positiveNumber('the broker timeout')).hideHelp())
    .addOption(new Option('--input-timeout <seconds>').argParser(positiveNumber('the input timeout')).hideHelp())
    .addOption(new Option('--session-timeout <ms>').argParser(positiveInteger('the session timeout')).hideHelp())
    .option('--include-vector', 'also write each input vector into its label message')
    .option('--producer-thread', 'produce the outputs from a worker thread with its own Kafka client (the default)')
    .option('--no-producer-thread', 'produce the outputs from the main thread')
    .option('--kafkajs-encoder', "in the producer thread, encode produce requests with kafkajs's own encoder instead of emstream's (same bytes, about 10× the CPU)")
    .option('--metrics-port <port>', 'serve Prometheus /metrics, /healthz and /readyz on this port (0 picks a free one; the URL is logged)', port)
    .option('--metrics-host <host>', 'interface of the metrics endpoint (0.0.0.0 lets another machine scrape it)', '127.0.0.1')
    .addOption(new Option('--log-level <level>', 'log level of the JSON log on stderr').choices(['fatal', 'error', 'warn', 'info', 'debug', 'silent']).default('info'))
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  emstream broker                      # in another terminal: prints 127.0.0.1:PORT\n' +
        '  emstream run --brokers 127.0.0.1:9092 --input points --format json-array -k 3 --window 500 --from-beginning\n' +
        '  emstream run --pipeline sensors --brokers 127.0.0.1:9092\n' +
        '  emstream run --brokers 127.0.0.1:9092 --input points -k 3 --exactly-once       # read its outputs with read_committed\n' +
        '  emstream run --brokers 127.0.0.1:9092 --input points -k 3 --shared-model       # start it on several machines: one model for the group\n' +
        '  emstream run --brokers 127.0.0.1:9092 --input points -k 3 --metrics-port 9464   # Prometheus scrapes :9464/metrics\n' +
        '  emstream dashboard --brokers 127.0.0.1:9092 --input points                      # the live dashboard of that run\n',
    )
    .action(async (opts: RunCommandOptions) => {
      const brokers = (opts.brokers ?? process.env.KAFKA_BROKERS ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      if (brokers.length === 0) throw new RunUsageError(NO_BROKER_HINT);

      let pipeline: Pipeline<VectorInput>;
      const window = opts.window ?? 500;
      if (opts.pipeline !== undefined) {
        pipeline = await loadPipeline(opts.pipeline);
      } else {
        if (opts.components === undefined) throw new RunUsageError('give -k (number of components) for the standard pipeline, or --pipeline NAME|PATH');
        pipeline = standardPipeline({ window, k: opts.components, halfLife: opts.halflife, restart: opts.restart, covarianceType: opts.covariance, dimension: opts.dimension, offThread: opts.offThread });
      }
      const logger = hooks.logger ?? pino({ level: opts.logLevel, base: { cmd: 'run' } }, pino.destination(2));
      const times = timeFlags(opts, logger);
      if (opts.sharedModel !== true && (opts.statsTopic !== undefined || opts.maxStaleness !== undefined || opts.roundMs !== undefined)) {
        throw new RunUsageError('--stats-topic, --max-staleness and --round-ms apply to the shared-model mode only: add --shared-model, or drop them');
      }
      if (opts.fresh === true && opts.restore === true) throw new RunUsageError('--fresh and --restore contradict each other: give one (resuming the saved state is the default)');
      if (opts.pipeline !== undefined && [opts.components, opts.window, opts.halflife, opts.restart, opts.covariance, opts.offThread].some((v) => v !== undefined)) {
        logger.warn('-k, --window, --halflife, --restart, --covariance and --off-thread shape the standard pipeline only; they are ignored with --pipeline');
      }

      const stop = new AbortController();
      let signals = 0;
      const onSignal = (signal: NodeJS.Signals): void => {
        signals++;
        if (signals > 1) {
          logger.warn(`${signal} again: exiting without a final commit (the uncommitted records are re-read on restart)`);
          process.exit(130);
        }
        logger.info(`${signal}: stopping gracefully (flush, commit, disconnect)`);
        stop.abort();
      };
      hooks.signal?.addEventListener('abort', () => stop.abort(), { once: true });
      // SIGTERM and SIGINT, and the SIGTERM of npx/npm that their `sh -c` does not pass on (see onStopSignals)
      const offSignals = hooks.signal === undefined ? onStopSignals(onSignal) : () => {};
      let result: KafkaPipelineResult;
      // Monitoring: metrics, readiness and their endpoint listen to the run's instrumentation (nothing in the hot path).
      const instrumentation = new Instrumentation();
      // A window that could not be fitted (its records are dead-lettered) is one warn line, with why.
      instrumentation.on('em.window.failed', (e) => logger.warn({ windowIndex: e.windowIndex, n: e.n, reason: e.reason }, e.message));
      let running: KafkaPipelineHandle | undefined;
      let readiness: Readiness | undefined;
      let registration: EmstreamMetrics | undefined;
      let metricsServer: MetricsServer | undefined;
      try {
        if (opts.metricsPort !== undefined) {
          readiness = new Readiness(instrumentation);
          const registry = new Registry();
          registration = registerMetrics(registry, instrumentation, { readiness, inFlight: () => running?.counters.inFlight ?? 0 });
          metricsServer = await startMetricsServer({ registry, readiness, port: opts.metricsPort, host: opts.metricsHost });
          logger.info({ metrics: `${metricsServer.url}/metrics`, readyz: `${metricsServer.url}/readyz` }, `metrics on ${metricsServer.url}/metrics`);
        }
        const handle = await runKafkaPipeline({
          brokers,
          pipeline,
          input: opts.input,
          models: opts.models,
          labels: opts.labels,
          deadLetters: opts.deadLetters,
          group: opts.group,
          fromBeginning: opts.fromBeginning ?? false,
          format: opts.format,
          fields: opts.fields,
          dimension: opts.dimension,
          pipelineId: opts.pipelineId,
          fresh: opts.fresh ?? false,
          maxInFlight: opts.maxInFlight ?? Math.max(20_000, 4 * window),
          ...(opts.stateEveryWindows === undefined ? {} : { stateEveryWindows: opts.stateEveryWindows }),
          ...(opts.stateIntervalMs === undefined ? {} : { stateIntervalMs: opts.stateIntervalMs }),
          ...times,
          maxWaitMs: maxWaitOf(opts),
          exactlyOnce: opts.exactlyOnce ?? false,
          ...sharedModelFlags(opts),
          includeVector: opts.includeVector ?? false,
          producerInWorker: opts.producerThread,
          fastProduceEncoder: !(opts.kafkajsEncoder ?? false),
          drift: opts.driftTopic,
          windows: opts.windowsTopic,
          instrumentation,
          logger,
          signal: stop.signal,
        });
        running = handle;
        hooks.onStarted?.(handle);
        const progress = setInterval(() => logger.info({ ...handle.counters }, 'progress'), 10_000);
        try {
          result = await handle.done;
        } finally {
          clearInterval(progress);
        }
      } finally {
        offSignals();
        await metricsServer?.close();
        registration?.unregister();
        readiness?.close();
      }
      process.stdout.write(`${JSON.stringify({ ...result.counters, handedBack: result.handedBack, committed: result.committed })}\n`);
    });
}
