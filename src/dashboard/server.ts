/**
 * The live dashboard server: one page, its assets, and server-sent events.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Subscription } from 'rxjs';
import { z } from 'zod';
import { closeServer, listen } from '../monitoring/server.js';
import { parseOptions } from '../options.js';
import { CHART_JS_ASSET, CHARTS_SCRIPT, chartJsFile } from '../viz/charts.js';
import { DASHBOARD_SCRIPT, DASHBOARD_STYLE, renderDashboardHtml } from './page.js';
import type { DashboardSource } from './source.js';
import { DashboardState, type DashboardDelta, type DashboardSnapshot } from './state.js';

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** What to show. */
  readonly source: DashboardSource;
  /** Port; 0 picks a free one (default 8080). */
  readonly port?: number;
  /** Interface (default `127.0.0.1`; `0.0.0.0` to let other machines open it). */
  readonly host?: string;
  /** Windows kept for the timelines (default 10 000). */
  readonly maxWindows?: number;
  /** A comment is sent on idle event streams this often, so proxies keep them open (default 15 000 ms). */
  readonly heartbeatMs?: number;
  /** A page that falls this many bytes behind is disconnected (it reconnects and gets a snapshot; default 8 MiB). */
  readonly maxBufferedBytes?: number;
}

/** A running dashboard. */
export interface Dashboard {
  /** `http://host:port/` */
  readonly url: string;
  readonly port: number;
  /** Everything received so far (what a new page gets first). */
  snapshot(): DashboardSnapshot;
  /** Pages connected to the event stream. */
  clients(): number;
  /** Stops the source, ends the event streams and stops listening. */
  close(): Promise<void>;
}

const optionsSchema = z
  .object({
    source: z.custom<DashboardSource>(
      (v) => typeof v === 'object' && v !== null && typeof (v as DashboardSource).title === 'string' && typeof (v as DashboardSource).messages?.subscribe === 'function',
      'must be a DashboardSource ({ title, messages })',
    ),
    port: z.number().int('must be an integer').min(0, 'must be in [0, 65535]').max(65535, 'must be in [0, 65535]').default(8080),
    host: z.string().min(1, 'must not be empty').default('127.0.0.1'),
    maxWindows: z.number().int('must be an integer').min(1, 'must be at least 1').default(10_000),
    heartbeatMs: z.number().int('must be an integer').min(100, 'must be at least 100 ms').default(15_000),
    maxBufferedBytes: z.number().int('must be an integer').min(1024, 'must be at least 1024').default(8 * 1024 * 1024),
  })
  .strict();

const HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'",
};

/** One server-sent event. */
function sse(delta: DashboardDelta): string {
  return `event: ${delta.event}\ndata: ${JSON.stringify(delta.data)}\n\n`;
}

/**
 * Serves a live dashboard of a {@link DashboardSource}.
 *
 * 1. Subscribe to the source; every message goes through a {@link DashboardState} (bounded history,
 *    fixed projection and limits of the mixture picture) that says what to push.
 * 2. `GET /` is the page; `/assets/*` its script, style and Chart.js (from the installed package:
 *    nothing is loaded from elsewhere, so it works offline); `/api/snapshot` the state as JSON;
 *    `/healthz` `ok`.
 * 3. `GET /events` is a server-sent event stream: a `snapshot` first, then `window`, `drift`,
 *    `mixture` and `status` events as they happen (a page that reconnects gets a new snapshot; a page
 *    that falls too far behind is disconnected and reconnects).
 * 4. When the source ends or fails the page says so and what was received stays.
 *
 * ## Example
 * ```ts
 * import { from } from 'rxjs';
 * import { windowVectors, fitMixture, mixtureUpdateSource, startDashboard } from 'emstream';
 *
 * const points = Array.from({ length: 300 }, (_, i) => [i % 2 === 0 ? 0 : 10, Math.sin(i)]);
 * const source = mixtureUpdateSource(from(points).pipe(windowVectors({ size: 100 }), fitMixture({ k: 2 })), { title: 'two blobs' });
 * const dashboard = await startDashboard({ source, port: 0 });
 * console.log(dashboard.url, dashboard.snapshot().rows.length); // → http://127.0.0.1:…/ 3
 * await dashboard.close();
 * ```
 *
 * @param options - source, port, host, limits
 * @returns the running dashboard
 * @throws EmstreamOptionsError when the options are invalid
 * @throws MonitoringError when the port cannot be listened on, or Chart.js is not installed
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const o = parseOptions(optionsSchema, options, 'startDashboard');
  const chartJs = readFileSync(chartJsFile());
  const state = new DashboardState({ title: o.source.title, description: o.source.description, maxWindows: o.maxWindows });
  const html = renderDashboardHtml(o.source.title, o.source.description ?? '');
  const clients = new Set<ServerResponse>();

  const broadcast = (deltas: readonly DashboardDelta[]): void => {
    if (deltas.length === 0 || clients.size === 0) return;
    const text = deltas.map(sse).join('');
    for (const res of clients) {
      if (res.writableLength > o.maxBufferedBytes) {
        clients.delete(res);
        res.destroy();
        continue;
      }
      res.write(text);
    }
  };

  const assets: Record<string, { type: string; body: string | Buffer }> = {
    [`/assets/${CHART_JS_ASSET}`]: { type: 'text/javascript; charset=utf-8', body: chartJs },
    '/assets/charts.js': { type: 'text/javascript; charset=utf-8', body: CHARTS_SCRIPT },
    '/assets/dashboard.js': { type: 'text/javascript; charset=utf-8', body: DASHBOARD_SCRIPT },
    '/assets/dashboard.css': { type: 'text/css; charset=utf-8', body: DASHBOARD_STYLE },
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed: use GET\n');
      return;
    }
    const send = (status: number, type: string, body: string | Buffer, cache = 'no-store'): void => {
      res.writeHead(status, { ...HEADERS, 'Content-Type': type, 'Cache-Control': cache, 'Content-Length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (path === '/' || path === '/index.html') return send(200, 'text/html; charset=utf-8', html);
    if (path === '/api/snapshot') return send(200, 'application/json; charset=utf-8', JSON.stringify(state.snapshot()));
    if (path === '/healthz') return send(200, 'text/plain; charset=utf-8', 'ok\n');
    if (path === '/favicon.ico') {
      res.writeHead(204, HEADERS).end();
      return;
    }
    const asset = assets[path];
    if (asset !== undefined) return send(200, asset.type, asset.body, 'public, max-age=300');
    if (path === '/events') {
      res.writeHead(200, { ...HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
      if (req.method === 'HEAD') {
        res.end();
        return;
      }
      res.write(`retry: 2000\n\n${sse({ event: 'snapshot', data: state.snapshot() })}`);
      clients.add(res);
      const forget = (): void => {
        clients.delete(res);
      };
      req.on('close', forget);
      res.on('error', forget);
      return;
    }
    send(404, 'text/plain; charset=utf-8', 'not found: the dashboard is at /\n');
  };

  const server = createServer((req, res) => {
    try {
      handle(req, res);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`dashboard error: ${err instanceof Error ? err.message : String(err)}\n`);
      else res.destroy();
    }
  });
  const port = await listen(server, o.port, o.host);
  const heartbeat = setInterval(() => {
    for (const res of clients) res.write(': keep-alive\n\n');
  }, o.heartbeatMs);
  heartbeat.unref();

  let subscription: Subscription | null = null;
  subscription = o.source.messages.subscribe({
    next: (message) => {
      try {
        broadcast(state.apply(message));
      } catch (err) {
        broadcast(state.end(err));
        subscription?.unsubscribe();
      }
    },
    error: (err: unknown) => broadcast(state.end(err)),
    complete: () => broadcast(state.end()),
  });

  const shownHost = o.host.includes(':') ? `[${o.host}]` : o.host;
  return {
    url: `http://${shownHost}:${port}/`,
    port,
    snapshot: () => state.snapshot(),
    clients: () => clients.size,
    async close() {
      subscription?.unsubscribe();
      await o.source.close?.().catch(() => undefined);
      clearInterval(heartbeat);
      for (const res of clients) res.end();
      clients.clear();
      await closeServer(server);
    },
  };
}
