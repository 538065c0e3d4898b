import { Matrix, determinant, inverse } from 'ml-matrix';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { syntheticStream, type SyntheticCluster } from '../../src/data/synthetic.js';
import { EmstreamOptionsError } from '../../src/errors.js';
import { paramsFromJSON, type MixtureJSON } from '../../src/gmm/model.js';
import { componentCovariance, componentMean } from '../../src/gmm/distance.js';
import { componentShifts, driftRecords, offsetRanges, sampleWindow, windowRecord, type WindowRecord } from '../../src/monitoring/history.js';
import { fitMixture } from '../../src/operators/fitMixture.js';
import type { MixtureUpdate } from '../../src/operators/types.js';
import { windowVectors } from '../../src/operators/windowVectors.js';

/** Two clusters in `d` dimensions; the first jumps by 9 along every axis at t = 0.5. */
function jumping(d: number): SyntheticCluster[] {
  const at = (v: number): number[] => Array.from({ length: d }, () => v);
  return [
    { mean: (t) => at(t < 0.5 ? 0 : 9), sd: at(0.7), weight: () => 1 },
    { mean: () => at(-6), sd: at(1), weight: () => 1 },
  ];
}

async function run(d: number, total = 4000, size = 200): Promise<MixtureUpdate<unknown>[]> {
  return lastValueFrom(from(syntheticStream(jumping(d), total, 5)).pipe(windowVectors({ size, dimension: d }), fitMixture({ k: 2, seed: 2 }), toArray())) as Promise<MixtureUpdate<unknown>[]>;
}

/** Bhattacharyya distance from its closed form, with ml-matrix's determinant and inverse. */
function bhattacharyyaReference(ma: number[], ca: number[][], mb: number[], cb: number[][]): number {
  const a = new Matrix(ca);
  const b = new Matrix(cb);
  const s = Matrix.add(a, b).div(2);
  const diff = Matrix.columnVector(ma.map((x, i) => x - mb[i]));
  const maha = diff.transpose().mmul(inverse(s)).mmul(diff).get(0, 0);
  return maha / 8 + 0.5 * Math.log(determinant(s) / Math.sqrt(determinant(a) * determinant(b)));
}

const counts = (u: MixtureUpdate<unknown>) => ({ in: u.window.n + 3, labelled: u.window.n, deadLettered: 3 });

describe('windowRecord', () => {
  it('carries the window’s figures, what the caller measured, and never a NaN', async () => {
    const updates = await run(2);
    const records: WindowRecord[] = updates.map((u) =>
      windowRecord(u, counts(u), { pipelineId: 'p1', fittedAt: 1700000000000 + u.windowIndex, fitSeconds: 0.25, lag: 12, offsets: [{ topic: 'in', partition: 0, first: '0', last: '199' }] }),
    );
    updates.forEach((u, i) => {
      const r = records[i];
      expect(r).toMatchObject({
        format: 'emstream.window',
        version: 1,
        pipelineId: 'p1',
        windowIndex: u.windowIndex,
        modelVersion: u.version,
        fittedAt: 1700000000000 + u.windowIndex,
        n: u.window.n,
        k: 2,
        d: 2,
        logLikelihood: u.logLikelihood,
        expectedLogLikelihood: u.expectedLogLikelihood,
        predictiveLogLikelihood: u.predictiveLogLikelihood,
        modelDistance: u.modelDistance,
        distanceThreshold: 0.5,
        iterations: u.iterations,
        converged: u.converged,
        warmStarted: u.warmStarted,
        restarted: u.restarted,
        weights: u.model.weights,
        drift: u.drift.map((e) => e.kind),
        counts: { in: u.window.n + 3, labelled: u.window.n, deadLettered: 3 },
        fitSeconds: 0.25,
        lag: 12,
        offsets: [{ topic: 'in', partition: 0, first: '0', last: '199' }],
      });
      expect(r.pageHinkley.threshold).toBe(3.5);
      // The detector resets after an alarm: the record keeps the alarm's statistic, else the detector's.
      const alarm = u.drift.find((e) => e.kind === 'likelihood');
      expect(r.pageHinkley.statistic).toBe(alarm !== undefined ? alarm.statistic : u.state.drift.pageHinkley.statistic);
      expect(JSON.stringify(r)).not.toMatch(/NaN|Infinity/);
      expect(JSON.parse(JSON.stringify(r))).toEqual(r);
    });
    expect(records[0].predictiveLogLikelihood, 'no previous model on the first window').toBeNull();
    const alarmed = records.find((r) => r.drift.includes('likelihood'));
    expect(alarmed, 'the jump raises a likelihood alarm').toBeDefined();
    expect(alarmed!.pageHinkley.statistic!).toBeGreaterThan(alarmed!.pageHinkley.threshold!);
  });

  it('keeps a bounded sample of real rows with their labels', async () => {
    for (const d of [2, 12]) {
      const updates = await run(d, 6000, 1000);
      const u = updates[3];
      const r = windowRecord(u, counts(u), { pipelineId: 'p', sample: { maxPoints: 150, maxValues: 600 } });
      const s = r.sample!;
      const m = Math.min(150, Math.floor(600 / d));
      expect(s.points).toHaveLength(m);
      expect(s).toMatchObject({ d, of: 1000 });
      s.points.forEach((row, j) => {
        // one real row of stratum j, with its label
        const start = Math.floor((j * 1000) / m);
        const end = Math.floor(((j + 1) * 1000) / m);
        const i = Array.from({ length: end - start }, (_, t) => start + t).find((r) => row.every((x, c) => Math.abs(x - u.window.points[r * d + c]) <= 1e-5 * Math.max(1, Math.abs(x))));
        expect(row).toHaveLength(d);
        expect(i, `row ${j} is a row of the window between ${start} and ${end}`).toBeDefined();
        expect(s.labels[j]).toBe(u.labels[i!]);
      });
      expect(JSON.stringify(r).length).toBeLessThan(16 * 1024);
    }
  });

  it('samples without aliasing: points that alternate between two clusters show both', () => {
    const n = 1000;
    const points = Float64Array.from({ length: n * 2 }, (_, i) => (Math.floor(i / 2) % 2 === 0 ? 0 : 10) + (i % 2) * 0.001 * i);
    const labels = Int32Array.from({ length: n }, (_, i) => i % 2);
    for (const m of [100, 250, 500]) {
      const s = sampleWindow(points, n, 2, labels, m, 10_000)!;
      const ones = s.labels.filter((l) => l === 1).length;
      expect(ones / m, `${m} rows`).toBeGreaterThan(0.35);
      expect(ones / m, `${m} rows`).toBeLessThan(0.65);
      expect(sampleWindow(points, n, 2, labels, m, 10_000), 'reproducible').toEqual(s);
    }
  });

  it('bounds the message whatever the window size and dimension', () => {
    const n = 20_000;
    const d = 64;
    const points = Float64Array.from({ length: n * d }, (_, i) => Math.sin(i) * 1234.56789);
    const s = sampleWindow(points, n, d, new Int32Array(n), 200, 1000)!;
    expect(s.points).toHaveLength(15);
    expect(JSON.stringify(s).length).toBeLessThan(1000 * 13);
    expect(sampleWindow(points, 0, d, new Int32Array(0), 200, 1000)).toBeNull();
    expect(sampleWindow(points, 5, 2000, new Int32Array(5), 200, 1000)!.points, 'at least one row').toHaveLength(1);
  });

  it('can leave the sample out and validates its options', async () => {
    const [u] = await run(2, 400);
    expect(windowRecord(u, counts(u), { pipelineId: 'p', sample: false }).sample).toBeNull();
    expect(() => windowRecord(u, counts(u), { pipelineId: '' })).toThrow(EmstreamOptionsError);
    expect(() => windowRecord(u, counts(u), { pipelineId: '' })).toThrow(/windowRecord: invalid options: pipelineId: must not be empty/);
    expect(() => windowRecord(u, counts(u), { pipelineId: 'p', sample: { maxPoints: 0 } })).toThrow(/sample.maxPoints: must be at least 1/);
  });
});

describe('driftRecords', () => {
  it('describes each alarm and how the matched components moved', async () => {
    const updates = await run(3);
    const windows = updates.map((u, i) => ({ u, records: driftRecords(u, i === 0 ? null : updates[i - 1].model, { pipelineId: 'p', detectedAt: 42 }) }));
    for (const { u, records } of windows) expect(records.map((r) => r.kind)).toEqual(u.drift.map((e) => e.kind));
    const hit = windows.find((w) => w.records.length > 0)!;
    expect(hit, 'the jump raises drift').toBeDefined();
    expect(hit.u.windowIndex, 'not before the jump (window 10)').toBeGreaterThanOrEqual(10);
    const previous: MixtureJSON = updates[updates.indexOf(hit.u) - 1].model;
    const a = paramsFromJSON(previous);
    const b = paramsFromJSON(hit.u.model);
    const rows = (p: typeof a, k: number): number[][] => {
      const c = componentCovariance(p, k);
      return Array.from({ length: p.d }, (_, i) => Array.from(c.subarray(i * p.d, (i + 1) * p.d)));
    };
    for (const r of hit.records) {
      expect(r).toMatchObject({ format: 'emstream.drift', version: 1, pipelineId: 'p', windowIndex: hit.u.windowIndex, modelVersion: hit.u.version, detectedAt: 42, offsets: null });
      const e = hit.u.drift.find((x) => x.kind === r.kind)!;
      expect([r.statistic, r.threshold]).toEqual([e.statistic, e.threshold]);
      expect(r.components.map((c) => c.index).sort()).toEqual([0, 1]);
      for (const c of r.components) {
        const ma = Array.from(componentMean(a, c.index));
        const mb = Array.from(componentMean(b, c.index));
        expect(c.meanShift).toBeCloseTo(Math.hypot(...ma.map((x, j) => mb[j] - x)), 10);
        expect(c.weightChange).toBeCloseTo(b.weights[c.index] - a.weights[c.index], 12);
        expect(c.distance!).toBeCloseTo(bhattacharyyaReference(ma, rows(a, c.index), mb, rows(b, c.index)), 8);
        expect(c.moved).toBe(c.distance! > 0.5);
      }
      // The component that jumped is the one that was near the origin, and it comes first.
      const jumped = [0, 1].reduce((best, k) => (Math.hypot(...componentMean(a, k)) < Math.hypot(...componentMean(a, best)) ? k : best));
      expect(r.components[0].index).toBe(jumped);
      expect(r.components[0].moved).toBe(true);
      expect(r.components[0].meanShift).toBeGreaterThan(3);
    }
  });

  it('is empty without alarms, and has no component shifts without a previous model', async () => {
    const updates = await run(2, 1000);
    const quiet = updates.find((u, i) => i > 0 && u.drift.length === 0)!;
    expect(driftRecords(quiet, updates[0].model, { pipelineId: 'p' })).toEqual([]);
    const fake = { ...updates[1], drift: [{ windowIndex: 1, kind: 'likelihood' as const, statistic: 2, threshold: 1 }] };
    const [r] = driftRecords(fake, null, { pipelineId: 'p' });
    expect(r.components).toEqual([]);
    expect(r.detectedAt).toBeGreaterThan(0);
    expect(() => driftRecords(fake, null, { pipelineId: 'p', offsets: [{ topic: 'in', partition: -1, first: '0', last: '1' }] })).toThrow(/offsets.0.partition/);
    // components cannot be matched across a change of K
    const three: MixtureJSON = { ...updates[0].model, k: 3, weights: [0.2, 0.3, 0.5], means: [...updates[0].model.means, [1, 1]], covariances: [...(updates[0].model.covariances as number[][][]), [[1, 0], [0, 1]]] };
    expect(componentShifts(updates[0].model, three, 'bhattacharyya', 0.5)).toEqual([]);
  });
});

describe('offsetRanges', () => {
  it('gives the first and last offset of each partition, compared as numbers (beyond 2^53 too)', () => {
    const r = (partition: number, offset: string, topic = 't'): object => ({ vector: [0], topic, partition, offset });
    const records = [r(0, '9'), r(1, '100'), r(0, '10'), [1, 2], r(0, '8'), r(1, '99'), r(0, '11'), { vector: [0] }, r(0, '12', 'u'), r(2, '9007199254740993'), r(2, '9007199254740992')];
    expect(offsetRanges(records)).toEqual([
      { topic: 't', partition: 0, first: '8', last: '11' },
      { topic: 't', partition: 1, first: '99', last: '100' },
      { topic: 'u', partition: 0, first: '12', last: '12' },
      { topic: 't', partition: 2, first: '9007199254740992', last: '9007199254740993' },
    ]);
    expect(offsetRanges([[1, 2], { vector: [1] }]), 'no record with coordinates').toBeNull();
    expect(offsetRanges([]), 'an empty window').toBeNull();
  });
});
