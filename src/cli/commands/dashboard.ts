/**
 * `emstream dashboard`: serves the live dashboard until interrupted.
 *
 * Today it shows the in-process demo stream (`--demo`), fitted live at a set pace; reading a Kafka
 * pipeline's window-history, drift and models topics comes with the Kafka edge's topics.
 *
 * @module
 */
import { InvalidArgumentError, type Command } from 'commander';
import { Registry } from 'prom-client';
import { bufferCount, concatMap, from, mergeMap, timer } from 'rxjs';
import demo, { DEMO_WINDOW } from '../../../pipelines/demo.js';
import { startDashboard } from '../../dashboard/server.js';
import { mixtureUpdateSource } from '../../dashboard/source.js';
import { Instrumentation } from '../../instrumentation.js';
import { registerMetrics } from '../../monitoring/metrics.js';
import { startMetricsServer, type MetricsServer } from '../../monitoring/server.js';
import { DEMO_SCENARIO } from './demo.js';

/** Options of `emstream dashboard`, as parsed by commander. */
interface DashboardCommandOptions {
  demo?: boolean;
  port: number;
  host: string;
  pace: number;
  metricsPort?: number;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be an integer port in 0..65535 (0 picks a free one).');
  return n;
}

function parsePace(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 600_000) throw new InvalidArgumentError('must be a whole number of milliseconds in 0..600000.');
  return n;
}

/** Resolves on the first SIGINT or SIGTERM. */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

/**
 * Adds `emstream dashboard --demo [--port P] [--host H] [--pace MS] [--metrics-port P]` to the program.
 *
 * The command:
 * 1. with `--demo`, runs the demo pipeline (pipelines/demo.ts) in process, one window every `--pace`
 *    milliseconds, as the dashboard's source ({@link mixtureUpdateSource});
 * 2. serves the dashboard ({@link startDashboard}) and prints its URL on stdout;
 * 3. with `--metrics-port`, also serves `/metrics`, `/healthz`, `/readyz` for the same pipeline;
 * 4. on SIGINT/SIGTERM closes both and exits 0.
 *
 * @param program - the root `emstream` command
 */
export function registerDashboard(program: Command): void {
  program
    .command('dashboard')
    .description('serve the live dashboard (log-likelihood, drift, weights, throughput, the current mixture) until interrupted')
    .option('--demo', 'show the in-process demo stream (drifting 2-D clusters), fitted live')
    .option('--port <port>', 'port of the dashboard (0 picks a free one)', parsePort, 8080)
    .option('--host <host>', 'interface to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .option('--pace <ms>', 'with --demo: milliseconds between windows', parsePace, 500)
    .option('--metrics-port <port>', 'also serve Prometheus metrics, /healthz and /readyz on this port', parsePort)
    .action(async (opts: DashboardCommandOptions, command: Command) => {
      if (opts.demo !== true) {
        command.error('nothing to show yet: pass --demo to watch the in-process demo stream', { exitCode: 2, code: 'emstream.usage' });
      }
      const instrumentation = new Instrumentation();
      const points = demo.source!().pipe(
        bufferCount(DEMO_WINDOW),
        concatMap((chunk, i) => timer(i === 0 ? 0 : opts.pace).pipe(mergeMap(() => from(chunk)))),
      );
      const updates = demo.build(points, { instrumentation, onInvalid: () => {} });
      const source = mixtureUpdateSource(updates, { title: 'emstream dashboard: the demo stream', description: DEMO_SCENARIO, pipelineId: 'demo', instrumentation });
      const stop = interrupted();
      const registry = new Registry();
      const registration = opts.metricsPort === undefined ? null : registerMetrics(registry, instrumentation);
      let metrics: MetricsServer | null = null;
      try {
        if (opts.metricsPort !== undefined) metrics = await startMetricsServer({ registry, port: opts.metricsPort, host: opts.host });
        const dashboard = await startDashboard({ source, port: opts.port, host: opts.host });
        process.stdout.write(`dashboard: ${dashboard.url}\n`);
        if (metrics !== null) process.stdout.write(`metrics: ${metrics.url}/metrics\n`);
        process.stderr.write(`the demo stream: one window of ${DEMO_WINDOW} points every ${opts.pace} ms; Ctrl-C stops\n`);
        await stop;
        await dashboard.close();
      } finally {
        await metrics?.close();
        registration?.unregister();
      }
    });
}
