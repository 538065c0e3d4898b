/**
 * The window-history and drift topics on a real broker: one message per window and one per drift alarm, keyed by
 * pipeline id, produced with the labels; their offset ranges match the labels' sources; the topics are created with
 * the delete policy and a time retention, can be renamed or left out; drift is logged at warn; the model message
 * carries the model distance.
 */
import { ConfigResourceTypes } from 'kafkajs';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DRIFT_DEFAULTS } from '../../src/gmm/drift.js';
import { syntheticStream } from '../../src/data/synthetic.js';
import { DEFAULT_DRIFT_RETENTION_MS, DEFAULT_WINDOWS_RETENTION_MS, readDriftMessage, readWindowMessage } from '../../src/kafka/messages/history.js';
import { HEADERS } from '../../src/kafka/messages/headers.js';
import { readLabelMessage } from '../../src/kafka/messages/labels.js';
import { readModelMessage } from '../../src/kafka/state/format.js';
import { runKafkaPipeline } from '../../src/kafka/run/runner.js';
import { standardPipeline } from '../../src/kafka/run/standardPipeline.js';
import type { DriftRecord, WindowRecord } from '../../src/monitoring/history.js';
import { JUMP_WINDOW, WINDOWS, WINDOW_SIZE, jumpingClusters } from '../dashboard/streams.js';
import { produceAll, readAll, sourceOf, testKafka, topicEnd, uniqueTopic, waitFor, type TestMessage } from './helpers.js';

/** Every 97th message is not a vector (dead-lettered at decode), every 89th has the wrong dimension (rejected at the gate). */
function jumpingMessages(): TestMessage[] {
  const out: TestMessage[] = [];
  let i = 0;
  for (const p of syntheticStream(jumpingClusters(2), WINDOWS * WINDOW_SIZE, 3)) {
    out.push({ key: `k${i}`, value: JSON.stringify(p.vector) });
    i++;
    if (i % 97 === 0) out.push({ key: 'bad', value: 'not a vector' });
    if (i % 89 === 0) out.push({ key: 'bad', value: '[1, 2, 3]' });
  }
  return out;
}

async function topicConfig(topic: string, names: string[]): Promise<Record<string, string>> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: names }] });
    return Object.fromEntries(described.resources[0].configEntries.map((e) => [e.configName, e.configValue]));
  } finally {
    await admin.disconnect();
  }
}

describe('window-history and drift topics', () => {
  it('writes one message per window and per alarm, keyed by pipeline id, whose offset ranges match the labels', async () => {
    const kafka = testKafka();
    const input = uniqueTopic('mon');
    const messages = jumpingMessages();
    await produceAll(kafka, input, messages);
    const bad = messages.filter((m) => m.key === 'bad').length;
    const N = messages.length - bad;
    expect(N).toBe(WINDOWS * WINDOW_SIZE);

    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    const run = await runKafkaPipeline({
      kafka,
      pipeline: standardPipeline({ window: WINDOW_SIZE, k: 2, halfLife: 3, seed: 1, dimension: 2 }),
      input,
      fromBeginning: true,
      pipelineId: 'mon-test',
      logger,
    });
    expect(run.config).toMatchObject({ drift: `${input}.drift`, windows: `${input}.windows` });
    await waitFor(() => run.counters.labelled === N && run.counters.deadLettered === bad, 60_000, 'every vector labelled and every bad one dead-lettered');
    await run.stop();

    // The topics: delete policy, time retention.
    expect(await topicConfig(`${input}.windows`, ['cleanup.policy', 'retention.ms'])).toEqual({ 'cleanup.policy': 'delete', 'retention.ms': String(DEFAULT_WINDOWS_RETENTION_MS) });
    expect(await topicConfig(`${input}.drift`, ['cleanup.policy', 'retention.ms'])).toEqual({ 'cleanup.policy': 'delete', 'retention.ms': String(DEFAULT_DRIFT_RETENTION_MS) });

    const windowMessages = await readAll(kafka, `${input}.windows`);
    const driftMessages = await readAll(kafka, `${input}.drift`);
    const labelMessages = await readAll(kafka, `${input}.labels`);
    const deadLetters = await readAll(kafka, `${input}.dead-letters`);
    expect(labelMessages).toHaveLength(N);
    expect(deadLetters).toHaveLength(bad);
    for (const m of [...windowMessages, ...driftMessages]) {
      expect(m.key).toBe('mon-test');
      expect(m.headers[HEADERS.pipelineId]).toBe('mon-test');
    }

    // One window message per window, in order, with every field.
    const windows: WindowRecord[] = windowMessages.map((m) => readWindowMessage(m.value));
    expect(windows.map((w) => w.windowIndex)).toEqual(Array.from({ length: WINDOWS }, (_, i) => i));
    for (const [i, w] of windows.entries()) {
      expect(w).toMatchObject({ format: 'emstream.window', version: 1, pipelineId: 'mon-test', modelVersion: i + 1, n: WINDOW_SIZE, k: 2, d: 2, restarted: i === 0 ? true : w.restarted });
      for (const field of ['logLikelihood', 'expectedLogLikelihood', 'modelDistance'] as const) expect(Number.isFinite(w[field]), `${field} of window ${i}`).toBe(true);
      if (i === 0) expect(w.predictiveLogLikelihood).toBeNull();
      else expect(Number.isFinite(w.predictiveLogLikelihood)).toBe(true);
      expect(w.pageHinkley.threshold).toBe(DRIFT_DEFAULTS.lambda);
      expect(w.pageHinkley.statistic).toBeGreaterThanOrEqual(0);
      expect(w.iterations).toBeGreaterThanOrEqual(1);
      expect(Array.isArray(w.reseeded)).toBe(true);
      expect(w.weights).toHaveLength(2);
      expect(w.weights[0] + w.weights[1]).toBeCloseTo(1, 9);
      expect(w.counts.labelled).toBe(WINDOW_SIZE);
      expect(w.counts.in).toBe(w.counts.labelled + w.counts.deadLettered);
      expect(w.fitSeconds).toBeGreaterThan(0);
      expect(w.lag).toBeGreaterThanOrEqual(0);
      expect(w.sample!.points).toHaveLength(100);
      expect(w.offsets).toHaveLength(1);
    }
    // Every input offset is counted once: window w takes in the offsets after the previous window's last, up to its own.
    expect(windows.reduce((a, w) => a + w.counts.deadLettered, 0)).toBe(bad);
    let previousLast = -1;
    for (const w of windows) {
      const last = Number(w.offsets![0].last);
      expect(w.counts.in, `window ${w.windowIndex} takes in offsets ${previousLast + 1}…${last}`).toBe(last - previousLast);
      previousLast = last;
    }
    expect(previousLast, 'the last window ends at the last vector').toBe(messages.map((m) => m.key !== 'bad').lastIndexOf(true));

    // The offset range of each window is that of the labels it wrote.
    const labelsByWindow = new Map<number, number[]>();
    for (const m of labelMessages) {
      const { windowIndex } = readLabelMessage(m.value);
      const list = labelsByWindow.get(windowIndex) ?? [];
      list.push(sourceOf(m).offset);
      labelsByWindow.set(windowIndex, list);
    }
    for (const w of windows) {
      const offsets = labelsByWindow.get(w.windowIndex)!;
      expect(offsets).toHaveLength(w.counts.labelled);
      expect(w.offsets).toEqual([{ topic: input, partition: 0, first: String(Math.min(...offsets)), last: String(Math.max(...offsets)) }]);
    }

    // Drift: one message per alarm (the jump's among them), with the window's offsets and the component that jumped.
    const drift: DriftRecord[] = driftMessages.map((m) => readDriftMessage(m.value));
    expect(drift.length).toBeGreaterThan(0);
    expect(drift.map((d) => `${d.windowIndex}:${d.kind}`)).toEqual(windows.flatMap((w) => w.drift.map((kind) => `${w.windowIndex}:${kind}`)));
    const jump = drift.filter((d) => d.windowIndex === JUMP_WINDOW);
    // the stationary windows before the jump: at most one false alarm (the defaults aim at about 1 per 100 windows)
    expect(drift.filter((d) => d.windowIndex < JUMP_WINDOW).length).toBeLessThanOrEqual(1);
    expect(jump.map((d) => d.kind)).toContain('likelihood');
    for (const d of drift) {
      const w = windows[d.windowIndex];
      expect(d).toMatchObject({ format: 'emstream.drift', version: 1, pipelineId: 'mon-test', modelVersion: w.modelVersion, offsets: w.offsets });
      expect(d.statistic!).toBeGreaterThan(d.threshold!);
      expect(d.components).toHaveLength(2);
      for (const c of d.components) expect(Object.keys(c).sort()).toEqual(['distance', 'index', 'label', 'meanShift', 'moved', 'weightChange']);
    }
    // The first cluster jumped by 8 along two axes (8√2 ≈ 11.3): the moved component's mean shifted about that much.
    const moved = jump[0].components.filter((c) => c.moved);
    expect(moved).toHaveLength(1);
    expect(moved[0].meanShift).toBeGreaterThan(8);
    expect(moved[0].meanShift).toBeLessThan(14);
    expect(Math.abs(moved[0].weightChange)).toBeLessThan(0.1);

    // Drift alarms logged at warn with that context.
    const warned = lines.filter((l) => l.level === 40 && String(l.msg).startsWith('drift detected'));
    expect(warned.map((l) => `${String(l.windowIndex)}:${String(l.kind)}`)).toEqual(drift.map((d) => `${d.windowIndex}:${d.kind}`));
    expect(warned.find((l) => l.windowIndex === JUMP_WINDOW)).toMatchObject({ pipeline: 'mon-test', modelVersion: jump[0].modelVersion, offsets: jump[0].offsets, moved: [{ label: moved[0].label }] });

    // The model message carries the model distance and Page-Hinkley of its window.
    const models = await readAll(kafka, `${input}.models`);
    const latest = readModelMessage(models[models.length - 1].value).message;
    const lastWindow = windows[windows.length - 1];
    expect(latest.windowIndex).toBe(lastWindow.windowIndex);
    expect(latest.modelDistance).toBe(lastWindow.modelDistance);
    expect(latest.pageHinkley).toEqual({ statistic: lastWindow.pageHinkley.statistic, threshold: DRIFT_DEFAULTS.lambda });
  });

  it('renames or leaves out the topics', async () => {
    const kafka = testKafka();
    const input = uniqueTopic('mon-opt');
    const points = [...syntheticStream(jumpingClusters(2), 6 * WINDOW_SIZE, 3)];
    await produceAll(kafka, input, (i) => ({ value: JSON.stringify(points[i].vector) }), points.length);
    const drift = `${input}.alarms`;
    const run = await runKafkaPipeline({
      kafka,
      pipeline: standardPipeline({ window: WINDOW_SIZE, k: 2, seed: 1 }),
      input,
      fromBeginning: true,
      windows: false,
      drift,
      driftRetentionMs: 3_600_000,
    });
    expect(run.config).toMatchObject({ drift, windows: null });
    await waitFor(() => run.counters.labelled === points.length, 60_000, 'every vector labelled');
    await run.stop();
    expect(await topicEnd(kafka, `${input}.windows`), 'no window-history topic').toBe(0);
    const admin = kafka.admin();
    await admin.connect();
    const topics = await admin.listTopics();
    await admin.disconnect();
    expect(topics).toContain(drift);
    expect(topics).not.toContain(`${input}.windows`);
    expect(topics).not.toContain(`${input}.drift`);
    expect(await topicConfig(drift, ['cleanup.policy', 'retention.ms'])).toEqual({ 'cleanup.policy': 'delete', 'retention.ms': '3600000' });
  });

  it('refuses an output topic that is another output or the input', async () => {
    const kafka = testKafka();
    await expect(runKafkaPipeline({ kafka, pipeline: standardPipeline({ window: 10, k: 2 }), input: 'a', drift: 'a.labels' })).rejects.toThrow(/drift: is the topic "a\.labels", already the labels topic/);
    await expect(runKafkaPipeline({ kafka, pipeline: standardPipeline({ window: 10, k: 2 }), input: 'a', windows: 'a' })).rejects.toThrow(/windows: is the input topic "a"/);
  });
});
