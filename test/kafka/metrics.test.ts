/**
 * `emstream run --metrics-port` on a real broker, in a child process: `/metrics` scraped and parsed with a Prometheus
 * text-format parser while the stream moves (every metric of the issue present and moving, the figures equal to the
 * window-history topic's), `/readyz` 200 while consuming and 503 while the brokers cannot be reached.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { generate, scenario } from '../../bench/streams.js';
import { readWindowMessage } from '../../src/kafka/messages/history.js';
import { kafkaBrokers } from '../helpers/kafka.js';
import { histogram, scrape, value, type Families } from '../monitoring/scrape.js';
import { killChildren, produceAll, readAll, spawnRun, testKafka, topicEnd, uniqueTopic, waitFor, type TestMessage } from './helpers.js';

afterEach(killChildren);

const WINDOW = 1000;
/** The 8-D, K = 8 stream of the benchmarks: a component starves and is re-seeded on window 1, a cluster jumps on window 6. */
const data = generate(scenario('jump-8d', { windows: 12 }));
const vectors = (from: number, to: number): TestMessage[] =>
  data.windows.slice(from, to).flatMap((w) => Array.from({ length: WINDOW }, (_, i) => ({ value: JSON.stringify(Array.from(w.subarray(i * 8, i * 8 + 8))) })));

/** Series of a family (labels → value), for the labelled metrics. */
function series(families: Families, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of families.get(name)?.metrics ?? []) out.set(JSON.stringify(m.labels ?? {}), Number(m.value));
  return out;
}

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function readyz(base: string): Promise<{ status: number; body: { ready: boolean; reasons: string[] } }> {
  const res = await fetch(`${base}/readyz`);
  return { status: res.status, body: (await res.json()) as { ready: boolean; reasons: string[] } };
}

describe('emstream run --metrics-port', () => {
  it('--help lists the monitoring flags', async () => {
    const help = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '--help'], { cwd: fileURLToPath(new URL('../..', import.meta.url)) }, (error, stdout) => (error === null ? resolve(stdout) : reject(error))),
    );
    for (const flag of ['--metrics-port <port>', '--metrics-host <host>', '--drift-topic <topic>', '--no-drift-topic', '--windows-topic <topic>', '--no-windows-topic']) expect(help, flag).toContain(flag);
  });

  it('serves every metric of the run, moving as the stream moves; /readyz is 200 while consuming', async () => {
    const kafka = testKafka();
    const input = uniqueTopic('metrics');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: input, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();
    const history = `${input}.history`;
    const run = spawnRun([
      '--brokers', kafkaBrokers().join(','), '--input', input, '-k', '8', '--window', String(WINDOW), '--from-beginning',
      '--max-in-flight', '2500', '--metrics-port', '0', '--windows-topic', history, '--no-drift-topic',
    ]);
    const started = await run.waitForLog((e) => typeof e.metrics === 'string', 60_000, 'the metrics endpoint');
    const url = started.metrics as string;
    const base = url.replace(/\/metrics$/, '');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await waitFor(async () => (await readyz(base)).status === 200, 60_000, '/readyz 200 (connected and assigned)');
    expect((await readyz(base)).body).toEqual({ ready: true, reasons: [] });

    // S0: consuming, nothing in yet.
    const s0 = await scrape(url);
    expect(value(s0, 'emstream_windows_total')).toBe(0);
    expect(value(s0, 'emstream_ready')).toBe(1);
    expect(value(s0, 'emstream_kafka_assigned_partitions')).toBe(1);

    // S1: windows 0-3 (the first is a cold start).
    await produceAll(kafka, input, vectors(0, 4));
    await waitFor(async () => value(await scrape(url), 'emstream_labels_out_total') === 4 * WINDOW, 60_000, 'four windows labelled');
    const s1 = await scrape(url);
    expect((await readyz(base)).status).toBe(200);

    // S2: the consumer is held (SIGSTOP) while windows 4-11 and 30 bad messages pile up (the cluster jumps on window 6),
    // then let go: lag and records in flight are seen above 0 while it catches up.
    run.kill('SIGSTOP');
    const bad: TestMessage[] = [...Array.from({ length: 20 }, () => ({ value: 'not json' })), ...Array.from({ length: 10 }, () => ({ value: '[1, 2]' }))];
    const later = vectors(4, 12);
    await produceAll(kafka, input, [...later.slice(0, 3000), ...bad, ...later.slice(3000)]);
    run.kill('SIGCONT');
    let maxLag = 0;
    let maxInFlight = 0;
    let s2: Families = s1;
    await waitFor(
      async () => {
        s2 = await scrape(url);
        maxLag = Math.max(maxLag, value(s2, 'emstream_kafka_consumer_lag_messages', { topic: input, partition: '0' }) ?? 0);
        maxInFlight = Math.max(maxInFlight, value(s2, 'emstream_records_in_flight') ?? 0);
        return value(s2, 'emstream_labels_out_total') === 12 * WINDOW && [...series(s2, 'emstream_dead_letters_total').values()].reduce((a, b) => a + b, 0) === 30;
      },
      120_000,
      'twelve windows labelled and thirty dead letters',
    );
    await waitFor(async () => value((s2 = await scrape(url)), 'emstream_records_in_flight') === 0, 30_000, 'nothing in flight');

    const v = (f: Families, name: string, labels?: Record<string, string>): number => value(f, name, labels) ?? NaN;
    // counters: vectors in, labels out, dead letters by reason, windows, restarts, drift by kind, re-seeded components
    expect([v(s0, 'emstream_vectors_in_total'), v(s1, 'emstream_vectors_in_total'), v(s2, 'emstream_vectors_in_total')]).toEqual([0, 4000, 12000]);
    expect([v(s0, 'emstream_labels_out_total'), v(s1, 'emstream_labels_out_total'), v(s2, 'emstream_labels_out_total')]).toEqual([0, 4000, 12000]);
    expect([v(s1, 'emstream_windows_total'), v(s2, 'emstream_windows_total')]).toEqual([4, 12]);
    expect(series(s1, 'emstream_dead_letters_total').size).toBe(0);
    expect(Object.fromEntries(series(s2, 'emstream_dead_letters_total'))).toEqual({ '{"reason":"not-json"}': 20, '{"reason":"wrong-dimension"}': 10 });
    expect([v(s0, 'emstream_restarts_total'), v(s1, 'emstream_restarts_total'), v(s2, 'emstream_restarts_total')], 'the cold start, then the restart on the jump').toEqual([0, 1, 2]);
    // (the re-seed of window 1 is reported as such, never as a drift alarm)
    expect(Object.fromEntries(series(s1, 'emstream_drift_events_total'))).toEqual({});
    const drift2 = Object.fromEntries(series(s2, 'emstream_drift_events_total'));
    expect(drift2['{"kind":"likelihood"}']).toBe(1);
    // one alarm per kind for the one change (the jump), none repeated while it drifts
    for (const [kind, count] of Object.entries(drift2)) expect(count, kind).toBe(1);
    expect(drift2['{"kind":"model-distance"}']).toBe(1);
    expect(v(s2, 'emstream_kafka_messages_consumed_total')).toBe(12030);
    expect(v(s2, 'emstream_kafka_commits_total')).toBeGreaterThan(v(s1, 'emstream_kafka_commits_total'));
    expect(v(s2, 'emstream_kafka_produced_messages_total')).toBeGreaterThan(v(s1, 'emstream_kafka_produced_messages_total'));

    // gauges: the figures of the last window, as on the window-history topic
    const windows = (await readAll(kafka, history)).map((m) => readWindowMessage(m.value));
    // re-seeds, by reason, as many as the window history records
    const reseededOnTopic = windows.reduce((a, w) => a + w.reseeded.length, 0);
    const reseededCounted = [...series(s2, 'emstream_components_reseeded_total').values()].reduce((a, b) => a + b, 0);
    expect(series(s0, 'emstream_components_reseeded_total').size).toBe(0);
    expect(reseededCounted).toBe(reseededOnTopic);
    console.log(`[metrics] re-seeded components: ${reseededCounted}`);
    expect(windows.map((w) => w.windowIndex)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    const at = (s: Families, w: (typeof windows)[number]): void => {
      expect(v(s, 'emstream_log_likelihood')).toBe(w.logLikelihood);
      expect(v(s, 'emstream_predictive_log_likelihood')).toBe(w.predictiveLogLikelihood);
      expect(v(s, 'emstream_expected_log_likelihood')).toBe(w.expectedLogLikelihood);
      expect(v(s, 'emstream_model_distance')).toBe(w.modelDistance);
      expect(v(s, 'emstream_page_hinkley_statistic')).toBe(w.pageHinkley.statistic);
      expect(v(s, 'emstream_page_hinkley_threshold')).toBe(w.pageHinkley.threshold);
      w.weights.forEach((weight, k) => expect(v(s, 'emstream_component_weight', { component: String(k) })).toBe(weight));
      expect(v(s, 'emstream_window_index')).toBe(w.windowIndex);
      expect(v(s, 'emstream_model_version')).toBe(w.modelVersion);
    };
    at(s1, windows[3]);
    at(s2, windows[11]);
    expect(v(s2, 'emstream_predictive_log_likelihood')).not.toBe(v(s1, 'emstream_predictive_log_likelihood'));
    expect(v(s2, 'emstream_components')).toBe(8);
    expect(maxLag, 'consumer lag seen while catching up').toBeGreaterThan(0);
    expect(v(s2, 'emstream_kafka_consumer_lag_messages', { topic: input, partition: '0' }), 'and 0 once caught up').toBe(0);
    expect(maxInFlight, 'records in flight seen while catching up').toBeGreaterThan(0);
    expect(maxInFlight).toBeLessThanOrEqual(2500 + 1000);

    // histograms: window fit seconds, EM iterations, end-to-end latency
    const fit = [histogram(s1, 'emstream_window_fit_seconds')!, histogram(s2, 'emstream_window_fit_seconds')!];
    expect(fit.map((h) => h.count)).toEqual([4, 12]);
    expect(fit[1].sum).toBeCloseTo(windows.reduce((a, w) => a + w.fitSeconds!, 0), 6);
    const iterations = [histogram(s1, 'emstream_em_iterations')!, histogram(s2, 'emstream_em_iterations')!];
    expect(iterations.map((h) => [h.count, h.sum])).toEqual([
      [4, windows.slice(0, 4).reduce((a, w) => a + w.iterations, 0)],
      [12, windows.reduce((a, w) => a + w.iterations, 0)],
    ]);
    const latency = [histogram(s1, 'emstream_end_to_end_latency_seconds')!, histogram(s2, 'emstream_end_to_end_latency_seconds')!];
    expect(latency.map((h) => h.count)).toEqual([4000, 12000]);
    expect(latency[1].sum).toBeGreaterThan(latency[0].sum);
    // Node's default process metrics
    expect(v(s2, 'process_cpu_user_seconds_total')).toBeGreaterThan(v(s0, 'process_cpu_user_seconds_total'));
    expect(v(s2, 'nodejs_heap_size_used_bytes')).toBeGreaterThan(0);

    // the flags: the window history renamed, no drift topic
    expect(await topicEnd(kafka, `${input}.windows`)).toBe(0);
    expect(await topicEnd(kafka, `${input}.drift`)).toBe(0);

    run.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
    await expect(fetch(`${base}/healthz`), 'the endpoint closes with the run').rejects.toThrow();
  });

  it('/readyz is 503 while the brokers cannot be reached (and says why); /healthz stays 200', async () => {
    const port = await closedPort();
    const run = spawnRun(['--brokers', `127.0.0.1:${port}`, '--input', uniqueTopic('nobroker'), '-k', '2', '--metrics-port', '0', '--broker-timeout-ms', '60000']);
    const url = (await run.waitForLog((e) => typeof e.metrics === 'string', 60_000, 'the metrics endpoint')).metrics as string;
    const base = url.replace(/\/metrics$/, '');
    await waitFor(async () => (value(await scrape(url), 'emstream_kafka_retries_total', { operation: 'connect' }) ?? 0) >= 1, 30_000, 'a retry of the unreachable brokers');
    const r = await readyz(base);
    expect(r.status).toBe(503);
    expect(r.body.ready).toBe(false);
    expect(r.body.reasons).toContain('the consumer is not connected');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect(value(await scrape(url), 'emstream_ready')).toBe(0);
    run.kill('SIGTERM');
    expect((await run.exited).code).not.toBeNull();
  });
});
