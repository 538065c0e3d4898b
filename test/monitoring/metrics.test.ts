import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterEach, describe, expect, it } from 'vitest';
import { syntheticStream } from '../../src/data/synthetic.js';
import { EmstreamOptionsError } from '../../src/errors.js';
import { Instrumentation } from '../../src/instrumentation.js';
import { MonitoringError } from '../../src/monitoring/errors.js';
import { METRICS, registerMetrics } from '../../src/monitoring/metrics.js';
import { Readiness } from '../../src/monitoring/readiness.js';
import { startMetricsServer, type MetricsServer } from '../../src/monitoring/server.js';
import { fitMixture } from '../../src/operators/fitMixture.js';
import { windowVectors } from '../../src/operators/windowVectors.js';
import { histogram, scrape, value, type Families } from './scrape.js';

const servers: MetricsServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()!.close();
});

async function serve(registry: Registry, readiness?: Readiness): Promise<string> {
  const server = await startMetricsServer({ registry, port: 0, ...(readiness === undefined ? {} : { readiness }) });
  servers.push(server);
  return `${server.url}/metrics`;
}

/** One of every event, with the values the assertions below expect. */
function emitEverything(instr: Instrumentation, now: number): void {
  instr.emit('kafka.connect', { role: 'consumer' });
  instr.emit('kafka.connect', { role: 'producer' });
  instr.emit('kafka.state.restored', { pipelineId: 'p', modelVersion: 3, windowIndex: 2, offsets: [] });
  instr.emit('kafka.state.fresh', { pipelineId: 'p', reason: 'none-saved' });
  instr.emit('kafka.rebalance', { groupId: 'g', assigned: [{ topic: 'in', partitions: [0, 1, 2] }], revoked: [] });
  instr.emit('kafka.fetch', { topic: 'in', partition: 0, messages: 100, highWatermark: '1000', lastOffset: '899' });
  instr.emit('kafka.fetch', { topic: 'in', partition: 1, messages: 50, highWatermark: '60', lastOffset: '59' });
  instr.emit('em.input.rejected', { reason: 'wrong-dimension', message: 'x' });
  instr.emit('em.input.rejected', { reason: 'wrong-dimension', message: 'x' });
  instr.emit('em.window.deferred', { windowIndex: 0, n: 3 });
  for (const [windowIndex, restarted, converged] of [
    [0, true, true],
    [1, false, false],
  ] as const) {
    instr.emit('em.window.fitted', {
      windowIndex,
      version: windowIndex + 1,
      n: 100,
      iterations: windowIndex === 0 ? 7 : 2,
      converged,
      warmStarted: !restarted,
      restarted,
      logLikelihood: -3.5 - windowIndex,
      durationMs: 20,
      expectedLogLikelihood: -3.9,
      predictiveLogLikelihood: windowIndex === 0 ? null : -4.25,
      modelDistance: 0.125,
      pageHinkley: { statistic: 0.75, threshold: 1 },
      driftStatistics: {
        likelihood: { statistic: 0.75, threshold: 3 },
        modelDistance: { statistic: 0.125, threshold: 0.5 },
        component: { statistic: 4.5, threshold: 4, label: 1 },
        weights: { statistic: 1.25, threshold: 2.75 },
      },
      drifting: windowIndex === 0 ? { active: false, since: null, kinds: [], components: [], severity: 0, progress: 0 } : { active: true, since: 1, kinds: ['component'], components: [1], severity: 1.125, progress: 0.375 },
      weights: windowIndex === 0 ? [0.5, 0.3, 0.2] : [0.6, 0.4],
      reseeded: [],
      reverted: windowIndex === 1 ? [2] : [],
      k: windowIndex === 0 ? 3 : 2,
      labelIds: windowIndex === 0 ? [0, 1, 2] : [0, 1],
    });
  }
  instr.emit('em.drift.detected', { windowIndex: 1, kind: 'likelihood', statistic: 1.5, threshold: 1 });
  instr.emit('em.drift.detected', { windowIndex: 1, kind: 'model-distance', statistic: 0.7, threshold: 0.5 });
  instr.emit('em.component.reseeded', { windowIndex: 1, components: [0, 2], reason: 'starved' });
  instr.emit('em.component.reverted', { windowIndex: 1, components: [2] });
  instr.emit('em.drift.ended', { windowIndex: 1, since: 0, windows: 1 });
  instr.emit('em.window.failed', { windowIndex: 2, n: 10, reason: 'covariance', message: 'x' });
  instr.emit('kafka.backpressure.wait', { inFlight: 5000, maxInFlight: 5000, waitedMs: 0, done: false });
  instr.emit('kafka.backpressure.wait', { inFlight: 4000, maxInFlight: 5000, waitedMs: 250, done: true });
  instr.emit('kafka.ack', { messages: 200, bytes: 4096, durationMs: 30 });
  instr.emit('kafka.ack', { messages: 10, bytes: 1024, durationMs: 10 });
  instr.emit('kafka.commit', { offsets: [{ topic: 'in', partition: 0, offset: '900' }] });
  instr.emit('kafka.dead-letter', { reason: 'decode-error', topic: 'in', partition: 0, offset: '5', bytes: 12, truncated: false });
  instr.emit('kafka.retry', { operation: 'connect', attempt: 1, delayMs: 300, error: 'ECONNREFUSED' });
  instr.emit('kafka.consumer.crash', { groupId: 'g', error: 'boom', restart: true });
  instr.emit('kafka.window.acknowledged', {
    windowIndex: 1,
    version: 2,
    labelled: 3,
    acknowledgedAt: now,
    enqueuedAt: now - 5,
    records: [now - 100, now - 300, now - 2000].map((t, i) => ({ vector: [0, 0], key: null, topic: 'in', partition: 0, offset: String(i), timestamp: String(t), headers: {} })),
  });
}

describe('registerMetrics', () => {
  it('registers every metric with Prometheus naming, plus the default process metrics', async () => {
    const registry = new Registry();
    const instr = new Instrumentation();
    const readiness = new Readiness(instr);
    const { names } = registerMetrics(registry, instr, { readiness });
    const families = await scrape(await serve(registry, readiness));
    for (const m of METRICS) {
      const f = families.get(m.name);
      expect(f, m.name).toBeDefined();
      expect(f!.type, m.name).toBe(m.type.toUpperCase());
      expect(f!.help.length, m.name).toBeGreaterThan(10);
      expect(m.name, 'one emstream_ prefix').toMatch(/^emstream_(?!emstream)[a-z0-9_]+$/);
      if (m.type === 'counter') expect(m.name).toMatch(/_total$/);
      else expect(m.name).not.toMatch(/_total$/);
      if (/seconds|latency|fit_seconds/.test(m.name)) expect(m.name).toMatch(/_seconds(_total)?$/);
      expect(m.labels.every((l) => ['reason', 'kind', 'component', 'topic', 'partition', 'operation', 'restart', 'role', 'outcome'].includes(l)), `${m.name} has low-cardinality labels only`).toBe(true);
    }
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
      expect(families.has(name), name).toBe(true);
      expect(names).toContain(name);
    }
    // Before any event: counters at 0, not ready.
    expect(value(families, 'emstream_windows_total')).toBe(0);
    expect(value(families, 'emstream_ready')).toBe(0);
    readiness.close();
  });

  it('moves every metric as the events arrive', async () => {
    const registry = new Registry();
    const instr = new Instrumentation();
    const readiness = new Readiness(instr);
    registerMetrics(registry, instr, { readiness, defaultMetrics: false });
    const url = await serve(registry, readiness);
    const before = await scrape(url);
    const now = Date.now();
    emitEverything(instr, now);
    const after = await scrape(url);

    const v = (name: string, labels?: Record<string, string>): number | undefined => value(after, name, labels);
    // counters
    expect(v('emstream_vectors_in_total')).toBe(200);
    expect(v('emstream_inputs_rejected_total', { reason: 'wrong-dimension' })).toBe(2);
    expect(v('emstream_labels_out_total')).toBe(3);
    expect(v('emstream_dead_letters_total', { reason: 'decode-error' })).toBe(1);
    expect(v('emstream_windows_total')).toBe(2);
    expect(v('emstream_windows_not_converged_total')).toBe(1);
    expect(v('emstream_windows_deferred_total')).toBe(1);
    expect(v('emstream_windows_failed_total', { reason: 'covariance' })).toBe(1);
    expect(v('emstream_restarts_total')).toBe(1);
    expect(v('emstream_drift_events_total', { kind: 'likelihood' })).toBe(1);
    expect(v('emstream_drift_events_total', { kind: 'model-distance' })).toBe(1);
    expect(v('emstream_components_reseeded_total', { reason: 'starved' })).toBe(2);
    expect(v('emstream_components_reverted_total')).toBe(1);
    expect(v('emstream_drift_ended_total')).toBe(1);
    expect(v('emstream_kafka_messages_consumed_total')).toBe(150);
    expect(v('emstream_kafka_produced_messages_total')).toBe(210);
    expect(v('emstream_kafka_produced_bytes_total')).toBe(5120);
    expect(v('emstream_kafka_commits_total')).toBe(1);
    expect(v('emstream_kafka_rebalances_total')).toBe(1);
    expect(v('emstream_kafka_retries_total', { operation: 'connect' })).toBe(1);
    expect(v('emstream_kafka_consumer_crashes_total', { restart: 'true' })).toBe(1);
    expect(v('emstream_kafka_backpressure_waits_total')).toBe(1);
    expect(v('emstream_kafka_backpressure_wait_seconds_total')).toBeCloseTo(0.25, 12);
    expect(v('emstream_state_restores_total', { outcome: 'restored' })).toBe(1);
    expect(v('emstream_state_restores_total', { outcome: 'fresh' })).toBe(1);
    // gauges: the last window's values
    expect(v('emstream_log_likelihood')).toBe(-4.5);
    expect(v('emstream_predictive_log_likelihood')).toBe(-4.25);
    expect(v('emstream_expected_log_likelihood')).toBe(-3.9);
    expect(v('emstream_model_distance')).toBe(0.125);
    expect(v('emstream_page_hinkley_statistic')).toBe(0.75);
    expect(v('emstream_page_hinkley_threshold')).toBe(1);
    expect(v('emstream_drift_statistic', { kind: 'likelihood' })).toBe(0.75);
    expect(v('emstream_drift_statistic', { kind: 'component' })).toBe(4.5);
    expect(v('emstream_drift_statistic', { kind: 'weights' })).toBe(1.25);
    expect(v('emstream_drift_statistic', { kind: 'model-distance' })).toBe(0.125);
    expect(v('emstream_drift_threshold', { kind: 'likelihood' })).toBe(3);
    expect(v('emstream_drift_threshold', { kind: 'component' })).toBe(4);
    expect(v('emstream_drift_threshold', { kind: 'weights' })).toBe(2.75);
    expect(v('emstream_drift_threshold', { kind: 'model-distance' })).toBe(0.5);
    expect(v('emstream_drifting')).toBe(1);
    expect(v('emstream_drift_severity')).toBe(1.125);
    expect(v('emstream_drift_progress')).toBe(0.375);
    expect(v('emstream_component_weight', { component: '0' })).toBe(0.6);
    expect(v('emstream_component_weight', { component: '1' })).toBe(0.4);
    expect(v('emstream_component_weight', { component: '2' }), 'a component that is gone has no series').toBeUndefined();
    expect(v('emstream_components')).toBe(2);
    expect(v('emstream_model_version')).toBe(2);
    expect(v('emstream_window_index')).toBe(1);
    expect(v('emstream_last_window_timestamp_seconds')).toBeGreaterThanOrEqual(Math.floor(now / 1000));
    expect(v('emstream_kafka_consumer_lag_messages', { topic: 'in', partition: '0' })).toBe(100);
    expect(v('emstream_kafka_consumer_lag_messages', { topic: 'in', partition: '1' })).toBe(0);
    expect(v('emstream_kafka_assigned_partitions')).toBe(3);
    expect(v('emstream_kafka_connected', { role: 'consumer' })).toBe(1);
    expect(v('emstream_kafka_connected', { role: 'producer' })).toBe(1);
    expect(v('emstream_records_in_flight')).toBe(4000);
    expect(v('emstream_ready')).toBe(1);
    // histograms
    expect(histogram(after, 'emstream_window_fit_seconds')).toMatchObject({ count: 2, sum: 0.04 });
    expect(histogram(after, 'emstream_em_iterations')).toMatchObject({ count: 2, sum: 9 });
    expect(histogram(after, 'emstream_em_iterations')!.buckets['2']).toBe(1);
    const latency = histogram(after, 'emstream_end_to_end_latency_seconds')!;
    expect(latency.count).toBe(3);
    expect(latency.sum).toBeCloseTo(2.4, 9);
    expect(latency.buckets['0.1']).toBe(1);
    expect(latency.buckets['0.5']).toBe(2);
    expect(histogram(after, 'emstream_kafka_produce_seconds')).toMatchObject({ count: 2, sum: 0.04 });

    // and every metric of the list differs from its value before the events
    const fingerprint = (f: Families, name: string): string => JSON.stringify(f.get(name)?.metrics ?? null);
    for (const m of METRICS) expect(fingerprint(after, m.name), `${m.name} moved`).not.toBe(fingerprint(before, m.name));
    readiness.close();
  });

  it('removes the lag series of a revoked partition, and clears the assignment on disconnect', async () => {
    const registry = new Registry();
    const instr = new Instrumentation();
    registerMetrics(registry, instr, { defaultMetrics: false });
    instr.emit('kafka.rebalance', { groupId: 'g', assigned: [{ topic: 'in', partitions: [0, 1] }], revoked: [] });
    instr.emit('kafka.fetch', { topic: 'in', partition: 0, messages: 1, highWatermark: '10', lastOffset: '4' });
    instr.emit('kafka.fetch', { topic: 'in', partition: 1, messages: 1, highWatermark: '10', lastOffset: '8' });
    instr.emit('kafka.rebalance', { groupId: 'g', assigned: [], revoked: [{ topic: 'in', partitions: [0] }] });
    const url = await serve(registry);
    let f = await scrape(url);
    expect(value(f, 'emstream_kafka_consumer_lag_messages', { topic: 'in', partition: '0' })).toBeUndefined();
    expect(value(f, 'emstream_kafka_consumer_lag_messages', { topic: 'in', partition: '1' })).toBe(1);
    expect(value(f, 'emstream_kafka_assigned_partitions')).toBe(1);
    instr.emit('kafka.disconnect', { role: 'consumer' });
    f = await scrape(url);
    expect(value(f, 'emstream_kafka_assigned_partitions')).toBe(0);
    expect(value(f, 'emstream_kafka_connected', { role: 'consumer' })).toBe(0);
  });

  it('bounds label values that come from the stream', async () => {
    const registry = new Registry();
    const instr = new Instrumentation();
    registerMetrics(registry, instr, { defaultMetrics: false, maxLabelValues: 4 });
    for (let i = 0; i < 10; i++) instr.emit('kafka.dead-letter', { reason: `reason-${i}`, topic: 'in', partition: 0, offset: String(i), bytes: 1, truncated: false });
    const f = await scrape(await serve(registry));
    const series = f.get('emstream_dead_letters_total')!.metrics;
    expect(series.map((s) => s.labels!.reason).sort()).toEqual(['other', 'reason-0', 'reason-1', 'reason-2', 'reason-3']);
    expect(value(f, 'emstream_dead_letters_total', { reason: 'other' })).toBe(6);
  });

  it('refuses a second registration on the same registry; unregister stops listening and frees the names', async () => {
    const registry = new Registry();
    const instr = new Instrumentation();
    const first = registerMetrics(registry, instr);
    expect(() => registerMetrics(registry, instr)).toThrow(MonitoringError);
    expect(() => registerMetrics(registry, instr)).toThrow(/already registered on this registry: call unregister\(\)/);
    first.unregister();
    expect(registry.getMetricsAsArray()).toHaveLength(0);
    instr.emit('em.window.deferred', { windowIndex: 0, n: 1 });
    const second = registerMetrics(registry, instr, { defaultMetrics: false });
    const f = await scrape(await serve(registry));
    expect(value(f, 'emstream_windows_deferred_total')).toBe(0);
    expect(f.has('emstream_ready'), 'no readiness given: no readiness gauge').toBe(false);
    second.unregister();
  });

  it('is listed in docs/monitoring.md, every metric with its type', () => {
    const readme = readFileSync(new URL('../../docs/monitoring.md', import.meta.url), 'utf8');
    for (const m of METRICS) {
      const labels = m.labels.length > 0 ? `{${m.labels.join(', ')}}` : '';
      expect(readme, m.name).toContain(`| \`${m.name}\`${labels} | ${m.type} | ${m.help} |`);
    }
  });

  it('validates its options', () => {
    const registry = new Registry();
    const instr = new Instrumentation();
    expect(() => registerMetrics(registry, instr, { fitBuckets: [0.1, 0.05] })).toThrow(EmstreamOptionsError);
    expect(() => registerMetrics(registry, instr, { fitBuckets: [0.1, 0.05] })).toThrow(/fitBuckets: bucket bounds must increase/);
    expect(() => registerMetrics(registry, instr, { maxLabelValues: 0 })).toThrow(/maxLabelValues: must be at least 1/);
    expect(() => registerMetrics(registry, instr, { colour: 'red' } as never)).toThrow(EmstreamOptionsError);
    expect(registry.getMetricsAsArray(), 'nothing registered by a refused call').toHaveLength(0);
  });

  it('follows a real in-process stream (windowVectors → fitMixture)', async () => {
    const registry = new Registry();
    const instr = new Instrumentation();
    registerMetrics(registry, instr, { defaultMetrics: false });
    const fitted: Record<string, unknown>[] = [];
    instr.on('em.window.fitted', (e) => fitted.push(e as Record<string, unknown>));
    const jump = (t: number): number => (t < 0.5 ? 0 : 9);
    const clusters = [
      { mean: (t: number) => [jump(t), 0], sd: [0.7, 0.7], weight: () => 1 },
      { mean: () => [-6, 5], sd: [1, 0.5], weight: () => 1 },
    ];
    const url = await serve(registry);
    const before = await scrape(url);
    const updates = await lastValueFrom(
      from(syntheticStream(clusters, 4000, 11)).pipe(windowVectors({ size: 200, dimension: 2 }), fitMixture({ k: 2, seed: 3, instrumentation: instr }), toArray()),
    );
    const after = await scrape(url);
    const last = updates[updates.length - 1];
    expect(updates.length).toBe(20);
    expect(value(after, 'emstream_windows_total')).toBe(updates.length);
    expect(value(after, 'emstream_vectors_in_total')).toBe(updates.reduce((a, u) => a + u.window.n, 0));
    expect(value(after, 'emstream_restarts_total')).toBe(updates.filter((u) => u.restarted).length);
    expect(value(after, 'emstream_windows_not_converged_total')).toBe(updates.filter((u) => !u.converged).length);
    expect(value(after, 'emstream_log_likelihood')).toBeCloseTo(last.logLikelihood, 12);
    expect(value(after, 'emstream_model_version')).toBe(last.version);
    expect(value(after, 'emstream_window_index')).toBe(last.windowIndex);
    const drift = updates.flatMap((u) => u.drift);
    expect(drift.length, 'the jump raises drift').toBeGreaterThan(0);
    for (const kind of new Set(drift.map((e) => e.kind))) {
      expect(value(after, 'emstream_drift_events_total', { kind })).toBe(drift.filter((e) => e.kind === kind).length);
    }
    expect(histogram(after, 'emstream_em_iterations')).toMatchObject({ count: updates.length, sum: updates.reduce((a, u) => a + u.iterations, 0) });
    const fit = histogram(after, 'emstream_window_fit_seconds')!;
    expect(fit.count).toBe(updates.length);
    expect(fit.sum).toBeGreaterThan(0);
    expect(histogram(before, 'emstream_window_fit_seconds')!.count).toBe(0);
    // The contract's richer fields feed their gauges wherever the emitter sends them.
    const payload = fitted[fitted.length - 1];
    const gauges: Record<string, string> = {
      predictiveLogLikelihood: 'emstream_predictive_log_likelihood',
      expectedLogLikelihood: 'emstream_expected_log_likelihood',
      modelDistance: 'emstream_model_distance',
    };
    for (const [field, name] of Object.entries(gauges)) {
      if (typeof payload[field] === 'number') expect(value(after, name), name).toBeCloseTo(payload[field], 12);
    }
    if (Array.isArray(payload.weights)) {
      (payload.weights as number[]).forEach((w, k) => expect(value(after, 'emstream_component_weight', { component: String(k) })).toBeCloseTo(w, 12));
    }
  });
});
