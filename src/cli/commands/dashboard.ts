/**
 * `emstream dashboard`: serves the live dashboard until interrupted, of a Kafka pipeline (its window-history, drift
 * and models topics) or of the in-process demo stream (`--demo`).
 *
 * @module
 */
import { InvalidArgumentError, type Command } from 'commander';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { bufferCount, concatMap, from, mergeMap, tap, timer } from 'rxjs';
import demo, { DEMO_WINDOW } from '../../../pipelines/demo.js';
import { kafkaDashboardSource } from '../../dashboard/kafkaSource.js';
import { brokerAddressProblem } from '../../kafka/run/config.js';
import { startDashboard } from '../../dashboard/server.js';
import { mixtureUpdateSource, type DashboardSource } from '../../dashboard/source.js';
import { Instrumentation } from '../../instrumentation.js';
import { registerMetrics } from '../../monitoring/metrics.js';
import { startMetricsServer, type MetricsServer } from '../../monitoring/server.js';
import { DEMO_SCENARIO } from './demo.js';
import { onStopSignals } from '../signals.js';

/** Options of `emstream dashboard`, as parsed by commander. */
interface DashboardCommandOptions {
  demo?: boolean;
  brokers?: string;
  input?: string;
  windowsTopic?: string;
  driftTopic?: string | false;
  models?: string | false;
  pipelineId?: string;
  logLevel: string;
  port: number;
  host: string;
  pace: number;
  metricsPort?: number;
  brokerTimeoutMs?: number;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be an integer port in 0..65535 (0 picks a free one).');
  return n;
}

function parseMs(value: string): number {
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of milliseconds ≥ 1.');
  return n;
}

function parsePace(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 600_000) throw new InvalidArgumentError('must be a whole number of milliseconds in 0..600000.');
  return n;
}

/** Resolves on the first SIGINT or SIGTERM (also npm's, when started through npx or an npm script: see onStopSignals). */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    const off = onStopSignals(() => {
      off();
      resolve();
    });
  });
}

/** The in-process demo stream as a dashboard source (and its instrumentation, for `--metrics-port`). */
function demoSource(pace: number): { source: DashboardSource; instrumentation: Instrumentation } {
  const instrumentation = new Instrumentation();
  const points = demo.source!().pipe(
    bufferCount(DEMO_WINDOW),
    concatMap((chunk, i) => timer(i === 0 ? 0 : pace).pipe(mergeMap(() => from(chunk)))),
  );
  const updates = demo.build(points, { instrumentation, onInvalid: () => {} });
  const source = mixtureUpdateSource(updates, { title: 'emstream dashboard: the demo stream', description: DEMO_SCENARIO, pipelineId: 'demo', instrumentation });
  return { source, instrumentation };
}

/**
 * Adds `emstream dashboard` to the program:
 * `emstream dashboard --brokers B --input T [--pipeline-id ID] [--windows-topic T] [--drift-topic T] [--models T] [--port P] [--host H]`
 * or `emstream dashboard --demo [--pace MS] [--metrics-port P] [--port P] [--host H]`.
 *
 * The command:
 * 1. with `--brokers`/`--input` (or env `KAFKA_BROKERS`), reads the pipeline's window-history, drift and models
 *    topics (`<input>.windows`, `.drift`, `.models` unless named) from the beginning, then live
 *    ({@link kafkaDashboardSource}); it waits for the topics when the pipeline has not created them yet;
 * 2. with `--demo`, runs the demo pipeline (pipelines/demo.ts) in process, one window every `--pace`
 *    milliseconds ({@link mixtureUpdateSource}); `--metrics-port` also serves its `/metrics`, `/healthz`, `/readyz`
 *    (a Kafka pipeline serves its own: `emstream run --metrics-port`);
 * 3. serves the dashboard ({@link startDashboard}) and prints its URL on stdout;
 * 4. on SIGINT/SIGTERM closes everything and exits 0.
 *
 * @param program - the root `emstream` command
 */
export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description('serve the live dashboard of a Kafka pipeline (log-likelihood, drift, weights, throughput and lag, the current mixture) until interrupted')
    .option('--brokers <host:port,...>', 'Kafka bootstrap addresses (default: env KAFKA_BROKERS)')
    .option('--input <topic>', "the pipeline's input topic: its window-history, drift and models topics are <input>.windows, .drift, .models")
    .option('--windows-topic <topic>', 'window-history topic (default <input>.windows)')
    .option('--drift-topic <topic>', 'drift topic (default <input>.drift)')
    .option('--no-drift-topic', 'do not read a drift topic')
    .option('--models <topic>', 'models topic (default <input>.models)')
    .option('--no-models', 'do not read the models topic (no mixture picture)')
    .option('--pipeline-id <id>', 'show this pipeline id (default: the first one seen on the topics)')
    .option('--demo', 'show the in-process demo stream (drifting 2-D clusters), fitted live, instead of a Kafka pipeline')
    .option('--port <port>', 'port of the dashboard (0 picks a free one)', parsePort, 8080)
    .option('--host <host>', 'interface to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--pace <ms>', 'with --demo: milliseconds between windows', parsePace, 500)
    .option('--metrics-port <port>', 'with --demo: also serve Prometheus metrics, /healthz and /readyz on this port', parsePort)
    .option('--broker-timeout-ms <ms>', 'how long the brokers may not answer before the dashboard exits 1 (default 120000; one warning per retry meanwhile)', parseMs)
    .option('--log-level <level>', 'log level of the JSON log on stderr (Kafka mode)', 'info')
    .addHelpText(
      'after',
      '\nExamples:\n' +
        '  emstream run --brokers 127.0.0.1:9092 --input points -k 3 --from-beginning   # a pipeline (writes points.windows, .drift, .models)\n' +
        '  emstream dashboard --brokers 127.0.0.1:9092 --input points                   # its dashboard on http://127.0.0.1:8080/\n' +
        '  emstream dashboard --demo                                                   # the in-process demo stream\n',
    )
    .action(async (opts: DashboardCommandOptions, command: Command) => {
      const usage = (message: string): never => command.error(message, { exitCode: 2, code: 'emstream.usage' });
      const brokers = (opts.brokers ?? (opts.demo === true ? '' : (process.env.KAFKA_BROKERS ?? '')))
        .split(',')
        .map((b) => b.trim())
        .filter((b) => b !== '');
      if (opts.demo === true && (brokers.length > 0 || opts.input !== undefined)) usage('--demo shows the in-process demo stream: drop --brokers/--input, or drop --demo to watch a Kafka pipeline');
      if (opts.demo !== true) {
        if (brokers.length === 0 || (opts.input === undefined && opts.windowsTopic === undefined)) {
          usage('give --brokers host:port (or KAFKA_BROKERS) and --input TOPIC of the pipeline to watch, or --demo for the in-process demo stream');
        }
        if (opts.input === undefined && ((opts.driftTopic === undefined) || (opts.models === undefined))) {
          usage('without --input, name every topic: --windows-topic, --drift-topic (or --no-drift-topic) and --models (or --no-models)');
        }
        if (opts.metricsPort !== undefined) usage('--metrics-port applies to --demo: a Kafka pipeline serves its own metrics (emstream run --metrics-port P)');
        for (const b of brokers) {
          const problem = brokerAddressProblem(b);
          if (problem !== undefined) usage(`--brokers: ${problem}`);
        }
      }
      let source: DashboardSource;
      let instrumentation: Instrumentation | undefined;
      if (opts.demo === true) ({ source, instrumentation } = demoSource(opts.pace));
      else {
        const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'silent'];
        if (!logLevels.includes(opts.logLevel)) usage(`--log-level must be one of ${logLevels.join(', ')}`);
        const logger = pino({ level: opts.logLevel, base: { cmd: 'dashboard' } }, pino.destination(2));
        source = kafkaDashboardSource({
          brokers,
          ...(opts.input === undefined ? {} : { input: opts.input }),
          ...(opts.windowsTopic === undefined ? {} : { windows: opts.windowsTopic }),
          ...(opts.driftTopic === undefined ? {} : { drift: opts.driftTopic }),
          ...(opts.models === undefined ? {} : { models: opts.models }),
          ...(opts.pipelineId === undefined ? {} : { pipelineId: opts.pipelineId }),
          ...(opts.brokerTimeoutMs === undefined ? {} : { brokerTimeoutMs: opts.brokerTimeoutMs }),
          logger,
        });
      }
      // A source that fails (brokers that never answer) ends the command: one line and exit 1, not a silent page.
      const failed = new Promise<never>((_, reject) => {
        const inner = source;
        source = { ...inner, messages: inner.messages.pipe(tap({ error: (err: unknown) => reject(err) })) } as DashboardSource;
      });
      failed.catch(() => undefined);
      const stop = interrupted();
      const registry = new Registry();
      const registration = opts.metricsPort === undefined || instrumentation === undefined ? null : registerMetrics(registry, instrumentation);
      let metrics: MetricsServer | null = null;
      try {
        if (registration !== null) metrics = await startMetricsServer({ registry, port: opts.metricsPort, host: opts.host });
        const dashboard = await startDashboard({ source, port: opts.port, host: opts.host });
        process.stdout.write(`dashboard: ${dashboard.url}\n`);
        if (metrics !== null) process.stdout.write(`metrics: ${metrics.url}/metrics\n`);
        process.stderr.write(
          opts.demo === true ? `the demo stream: one window of ${DEMO_WINDOW} points every ${opts.pace} ms; Ctrl-C stops\n` : `${source.description ?? ''} Ctrl-C stops\n`,
        );
        try {
          await Promise.race([stop, failed]);
        } finally {
          await dashboard.close();
        }
      } finally {
        await metrics?.close();
        registration?.unregister();
      }
    });
}
