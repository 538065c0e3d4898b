import { readFileSync } from 'node:fs';
import { Subject } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.js';
import { mixtureUpdateSource, type DashboardMessage } from '../../src/dashboard/source.js';
import type { MixtureUpdate } from '../../src/operators/types.js';
import { EmstreamOptionsError } from '../../src/errors.js';
import { chartJsFile } from '../../src/viz/charts.js';
import { EventReader, jumpingUpdates } from './streams.js';

const open: Dashboard[] = [];
const readers: EventReader[] = [];
afterEach(async () => {
  for (const r of readers.splice(0)) r.close();
  while (open.length > 0) await open.pop()!.close();
});

async function start(subject: Subject<MixtureUpdate<unknown>>): Promise<Dashboard> {
  const d = await startDashboard({ source: mixtureUpdateSource(subject, { title: 'Jump <test>', description: 'a cluster jumps & comes back' }), port: 0 });
  open.push(d);
  return d;
}

describe('startDashboard', () => {
  it('serves the page and its assets from the package (nothing from elsewhere)', async () => {
    const d = await start(new Subject());
    expect(d.url).toBe(`http://127.0.0.1:${d.port}/`);
    const page = await fetch(d.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    const html = await page.text();
    expect(html).toContain('<title>Jump &lt;test&gt;</title>');
    expect(html).toContain('a cluster jumps &amp; comes back');
    for (const id of ['mixture', 'likelihood', 'drift', 'weights', 'throughput']) expect(html).toContain(`id="chart-${id}"`);
    const srcs = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]);
    expect(srcs).toEqual(['assets/dashboard.css', 'assets/chart.umd.min.js', 'assets/charts.js', 'assets/dashboard.js']);
    for (const src of srcs) {
      const res = await fetch(new URL(src, d.url));
      expect(res.status, src).toBe(200);
      expect(res.headers.get('content-type'), src).toMatch(src.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
    }
    const chart = Buffer.from(await (await fetch(new URL('assets/chart.umd.min.js', d.url))).arrayBuffer());
    expect(chart.equals(readFileSync(chartJsFile()))).toBe(true);
    expect(chart.toString('utf8', 0, 200)).toMatch(/Chart\.js v4\./);
    expect((await fetch(new URL('nope', d.url))).status).toBe(404);
    expect((await fetch(d.url, { method: 'POST' })).status).toBe(405);
    expect(await (await fetch(new URL('healthz', d.url))).text()).toBe('ok\n');
  });

  it('streams a snapshot, then the windows, drift alarms and pictures as they happen', async () => {
    const { updates } = await jumpingUpdates(2);
    const subject = new Subject<MixtureUpdate<unknown>>();
    const d = await start(subject);
    for (const u of updates.slice(0, 3)) subject.next(u);

    const reader = new EventReader(new URL('events', d.url).href);
    readers.push(reader);
    const res = await reader.response;
    expect(res.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const first = await reader.next();
    expect(first.event).toBe('snapshot');
    const snap = first.data as { rows: { windowIndex: number }[]; mixture: { components: unknown[] }; title: string };
    expect(snap.title).toBe('Jump <test>');
    expect(snap.rows.map((r) => r.windowIndex)).toEqual([0, 1, 2]);
    expect(snap.mixture.components).toHaveLength(2);
    expect(d.clients()).toBe(1);

    for (const u of updates.slice(3)) subject.next(u);
    const seen: string[] = [];
    const windows: number[] = [];
    const drift: number[] = [];
    while (windows.length < updates.length - 3) {
      const e = await reader.next();
      seen.push(e.event);
      if (e.event === 'window') windows.push((e.data as { windowIndex: number }).windowIndex);
      if (e.event === 'drift') drift.push((e.data as { windowIndex: number }).windowIndex);
    }
    expect(windows).toEqual(updates.slice(3).map((u) => u.windowIndex));
    expect(seen.filter((e) => e === 'mixture').length).toBeGreaterThanOrEqual(windows.length);
    subject.complete();
    let status: unknown = null;
    for (;;) {
      const e = await reader.next();
      if (e.event === 'drift') drift.push((e.data as { windowIndex: number }).windowIndex);
      if (e.event === 'status') {
        status = e.data;
        break;
      }
    }
    expect(drift).toEqual(updates.slice(3).flatMap((u) => u.drift.map((x) => x.windowIndex)));
    expect(status).toEqual({ state: 'ended', message: `the stream ended after ${updates.length} windows` });
    const api = (await (await fetch(new URL('api/snapshot', d.url))).json()) as { rows: unknown[]; status: unknown };
    expect(api.rows).toHaveLength(updates.length);
    expect(api.status).toEqual(status);

    await d.close();
    open.pop();
    expect(await reader.endedWithin(2000), 'close ends the event streams').toBe(true);
  });

  it('shows a failing source on the page and keeps what it had', async () => {
    const { updates } = await jumpingUpdates(2);
    const subject = new Subject<DashboardMessage>();
    const d = await startDashboard({ source: { title: 'failing', messages: subject }, port: 0 });
    open.push(d);
    const reader = new EventReader(new URL('events', d.url).href);
    readers.push(reader);
    expect((await reader.next()).event).toBe('snapshot');
    subject.next({ type: 'model', windowIndex: 0, version: 1, model: updates[0].model });
    subject.error(new Error('the broker went away'));
    let e = await reader.next();
    while (e.event !== 'status') e = await reader.next();
    expect(e.data).toEqual({ state: 'failed', message: 'the source failed: the broker went away' });
    expect(d.snapshot().mixture!.components).toHaveLength(2);
  });

  it('validates its options', async () => {
    await expect(startDashboard({ source: { title: 'x' } as never })).rejects.toThrow(EmstreamOptionsError);
    await expect(startDashboard({ source: mixtureUpdateSource(new Subject<MixtureUpdate<unknown>>()), port: -1 })).rejects.toThrow(/startDashboard: invalid options: port/);
  });
});
