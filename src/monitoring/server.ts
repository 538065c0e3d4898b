/**
 * The HTTP endpoint of a pipeline's monitoring: `/metrics`, `/healthz`, `/readyz`.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { z } from 'zod';
import { parseOptions } from '../options.js';
import { MonitoringError } from './errors.js';
import type { ReadinessReport } from './readiness.js';

/** Options of {@link startMetricsServer}. */
export interface MetricsServerOptions {
  /** The registry whose metrics `/metrics` serves. */
  readonly registry: Registry;
  /** Port to listen on; 0 picks a free one (default 9464). */
  readonly port?: number;
  /** Interface to listen on (default `127.0.0.1`; `0.0.0.0` for every interface). */
  readonly host?: string;
  /**
   * What `/readyz` answers: a {@link Readiness} (or anything with `report()`), or a function. Without
   * it `/readyz` answers ready as soon as the server listens (an in-process pipeline has no Kafka to wait for).
   */
  readonly readiness?: { report(): ReadinessReport } | (() => ReadinessReport);
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** `http://host:port` (without a trailing slash). */
  readonly url: string;
  readonly port: number;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

const optionsSchema = z
  .object({
    registry: z.custom<Registry>((v) => typeof v === 'object' && v !== null && typeof (v as Registry).metrics === 'function', 'must be a prom-client Registry'),
    port: z.number().int('must be an integer').min(0, 'must be in [0, 65535]').max(65535, 'must be in [0, 65535]').default(9464),
    host: z.string().min(1, 'must not be empty').default('127.0.0.1'),
    readiness: z
      .custom<MetricsServerOptions['readiness']>(
        (v) => typeof v === 'function' || (typeof v === 'object' && v !== null && typeof (v as { report?: unknown }).report === 'function'),
        'must be a Readiness or a function returning { ready, reasons }',
      )
      .optional(),
  })
  .strict();

/**
 * Listens on `host:port` and serves the registry and the pipeline's health.
 *
 * Routes (GET or HEAD):
 * 1. `/metrics`: the registry in the Prometheus text format (`registry.contentType`);
 * 2. `/healthz`: `200 ok` while the process serves requests (liveness);
 * 3. `/readyz`: `200` with `{"ready":true,"reasons":[]}` when ready, `503` with the reasons when not
 *    (connected, partitions assigned, not stuck on backpressure: see {@link Readiness});
 * 4. anything else `404`, other methods `405`.
 *
 * ## Example
 * ```ts
 * import { Registry } from 'prom-client';
 * import { Instrumentation, Readiness, registerMetrics, startMetricsServer } from 'emstream';
 *
 * const instrumentation = new Instrumentation();
 * const readiness = new Readiness(instrumentation);
 * const registry = new Registry();
 * registerMetrics(registry, instrumentation, { readiness });
 * const server = await startMetricsServer({ registry, readiness, port: 0 });
 * // not ready until the consumer is connected and assigned:
 * console.log((await fetch(`${server.url}/readyz`)).status); // → 503
 * await server.close();
 * readiness.close();
 * ```
 *
 * @param options - registry, port, host, readiness
 * @returns the running server
 * @throws EmstreamOptionsError when the options are invalid
 * @throws MonitoringError when the port cannot be listened on (in use, not permitted)
 */
export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const o = parseOptions(optionsSchema, options, 'startMetricsServer');
  const readiness = o.readiness;
  const report = (): ReadinessReport => (readiness === undefined ? { ready: true, reasons: [] } : typeof readiness === 'function' ? readiness() : readiness.report());
  const server = createServer((req, res) => {
    handle(req, res, o.registry, report).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', `metrics could not be collected: ${err instanceof Error ? err.message : String(err)}\n`);
      else res.destroy();
    });
  });
  const port = await listen(server, o.port, o.host);
  const shownHost = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    close: () => closeServer(server),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, registry: Registry, report: () => ReadinessReport): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed: use GET\n');
    return;
  }
  switch (path) {
    case '/metrics':
      send(res, 200, registry.contentType, await registry.metrics());
      return;
    case '/healthz':
      send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
      return;
    case '/readyz': {
      const r = report();
      send(res, r.ready ? 200 : 503, 'application/json; charset=utf-8', `${JSON.stringify({ ready: r.ready, reasons: r.reasons })}\n`);
      return;
    }
    default:
      send(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz or /readyz\n');
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

/**
 * Listens and resolves with the bound port, or rejects with a {@link MonitoringError} that says what to do.
 *
 * @internal shared with the dashboard server
 */
export function listen(server: Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      const what =
        err.code === 'EADDRINUSE'
          ? `port ${port} on ${host} is already in use: pick another port, or 0 for a free one`
          : err.code === 'EACCES'
            ? `port ${port} on ${host} needs privileges: use a port above 1023`
            : err.code === 'EADDRNOTAVAIL' || err.code === 'ENOTFOUND'
              ? `${host} is not an address of this machine: use 127.0.0.1, 0.0.0.0 or one of its interfaces`
              : `cannot listen on ${host}:${port}: ${err.message}`;
      reject(new MonitoringError(what, { cause: err, retriable: err.code === 'EADDRINUSE', context: { host, port, code: err.code } }));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(port, host);
  });
}

/** Closes a server and its open connections. @internal */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) {
      resolve();
      return;
    }
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
