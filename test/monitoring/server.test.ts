import { createServer } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { EmstreamOptionsError } from '../../src/errors.js';
import { Instrumentation } from '../../src/instrumentation.js';
import { MonitoringError } from '../../src/monitoring/errors.js';
import { registerMetrics } from '../../src/monitoring/metrics.js';
import { Readiness } from '../../src/monitoring/readiness.js';
import { startMetricsServer, type MetricsServer } from '../../src/monitoring/server.js';

const servers: MetricsServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()!.close();
});

describe('Readiness', () => {
  it('is ready when connected, assigned and not stuck on backpressure, and says why not otherwise', () => {
    let now = 1_000_000;
    const instr = new Instrumentation();
    const r = new Readiness(instr, { stuckAfterMs: 5000, now: () => now });
    expect(r.report()).toEqual({ ready: false, reasons: ['the consumer is not connected'] });
    instr.emit('kafka.connect', { role: 'producer' });
    expect(r.report().ready).toBe(false);
    instr.emit('kafka.connect', { role: 'consumer' });
    expect(r.report()).toEqual({ ready: false, reasons: ['no partitions are assigned to the consumer'] });
    instr.emit('kafka.rebalance', { groupId: 'g', assigned: [{ topic: 'in', partitions: [0, 1] }], revoked: [] });
    expect(r.report()).toEqual({ ready: true, reasons: [] });
    expect(r.assignedPartitions()).toBe(2);

    instr.emit('kafka.backpressure.wait', { inFlight: 10, maxInFlight: 10, waitedMs: 0, done: false });
    now += 5000;
    expect(r.report().ready, 'a wait as long as the limit is not yet stuck').toBe(true);
    now += 1500;
    expect(r.report()).toEqual({ ready: false, reasons: ['stuck on backpressure: waiting for in-flight records for 6.5 s (limit 5.0 s)'] });
    instr.emit('kafka.backpressure.wait', { inFlight: 9, maxInFlight: 10, waitedMs: 6500, done: true });
    expect(r.report().ready).toBe(true);

    instr.emit('kafka.ready', { ready: false, reason: 'fetch loop stalled' });
    expect(r.report()).toEqual({ ready: false, reasons: ['the Kafka edge reports not ready: fetch loop stalled'] });
    instr.emit('kafka.ready', { ready: true, reason: 'ok' });
    expect(r.report().ready).toBe(true);

    instr.emit('kafka.rebalance', { groupId: 'g', assigned: [], revoked: [{ topic: 'in', partitions: [0, 1] }] });
    expect(r.report().reasons).toEqual(['no partitions are assigned to the consumer']);
    instr.emit('kafka.rebalance', { groupId: 'g', assigned: [{ topic: 'in', partitions: [1] }], revoked: [] });
    instr.emit('kafka.consumer.crash', { groupId: 'g', error: 'retriable', restart: true });
    expect(r.report().ready, 'a crash the client restarts from is not fatal').toBe(true);
    instr.emit('kafka.consumer.crash', { groupId: 'g', error: 'group authorization failed', restart: false });
    expect(r.report().reasons).toEqual(['the consumer crashed and will not restart: group authorization failed']);
    instr.emit('kafka.disconnect', { role: 'consumer' });
    expect(r.report().reasons).toContain('the consumer is not connected');
    r.close();
    instr.emit('kafka.connect', { role: 'consumer' });
    expect(r.report().reasons, 'closed: no longer listening').toContain('the consumer is not connected');
  });

  it('validates its options', () => {
    expect(() => new Readiness(new Instrumentation(), { stuckAfterMs: 0 })).toThrow(EmstreamOptionsError);
    expect(() => new Readiness(new Instrumentation(), { stuckAfterMs: 0 })).toThrow(/stuckAfterMs: must be at least 1 ms/);
  });
});

describe('startMetricsServer', () => {
  it('serves /metrics, /healthz and /readyz', async () => {
    const instr = new Instrumentation();
    const readiness = new Readiness(instr);
    const registry = new Registry();
    registerMetrics(registry, instr, { readiness, defaultMetrics: false });
    const server = await startMetricsServer({ registry, readiness, port: 0 });
    servers.push(server);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}`);

    const metrics = await fetch(`${server.url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toBe(registry.contentType);
    expect(await metrics.text()).toContain('# TYPE emstream_windows_total counter');

    const health = await fetch(`${server.url}/healthz`);
    expect([health.status, await health.text()]).toEqual([200, 'ok\n']);

    let ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ ready: false, reasons: ['the consumer is not connected'] });
    instr.emit('kafka.connect', { role: 'consumer' });
    instr.emit('kafka.rebalance', { groupId: 'g', assigned: [{ topic: 'in', partitions: [0] }], revoked: [] });
    ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, reasons: [] });

    const head = await fetch(`${server.url}/healthz`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
    const missing = await fetch(`${server.url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toMatch(/try \/metrics/);
    const post = await fetch(`${server.url}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    readiness.close();
  });

  it('answers ready without a readiness (an in-process pipeline), or as a function says', async () => {
    const registry = new Registry();
    const plain = await startMetricsServer({ registry, port: 0 });
    servers.push(plain);
    expect((await fetch(`${plain.url}/readyz`)).status).toBe(200);
    const fn = await startMetricsServer({ registry, port: 0, readiness: () => ({ ready: false, reasons: ['warming up'] }) });
    servers.push(fn);
    const r = await fetch(`${fn.url}/readyz`);
    expect([r.status, await r.json()]).toEqual([503, { ready: false, reasons: ['warming up'] }]);
  });

  it('says what to do when the port is taken, and validates its options', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const error = await startMetricsServer({ registry: new Registry(), port }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(MonitoringError);
      expect((error as MonitoringError).message).toBe(`port ${port} on 127.0.0.1 is already in use: pick another port, or 0 for a free one`);
      expect((error as MonitoringError).retriable).toBe(true);
      expect((error as MonitoringError).context).toMatchObject({ port, host: '127.0.0.1', code: 'EADDRINUSE' });
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
    await expect(startMetricsServer({ registry: new Registry(), port: 70000 })).rejects.toThrow(/port: must be in \[0, 65535\]/);
    await expect(startMetricsServer({ registry: {} as Registry })).rejects.toThrow(/registry: must be a prom-client Registry/);
  });
});
