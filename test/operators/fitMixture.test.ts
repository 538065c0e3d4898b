import { from, lastValueFrom, Subject, tap, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  CovarianceError,
  detectDrift,
  EmstreamOptionsError,
  fitGmm,
  fitMixture,
  GaussianMixture,
  Instrumentation,
  matchComponents,
  paramsFromJSON,
  StreamingGmm,
  syntheticStream,
  toLabels,
  windowVectors,
  withInvalid,
  type MixtureUpdate,
  type SyntheticCluster,
  type SyntheticPoint,
} from 'emstream';

const stationary: SyntheticCluster[] = [
  { mean: () => [0, 0], sd: [1, 1], weight: () => 1 },
  { mean: () => [8, 0], sd: [1, 0.5], weight: () => 1 },
  { mean: () => [4, 7], sd: [0.7, 1.2], weight: () => 1 },
];

/** Cluster 1 jumps from (8, 0) to (8, −9) at t = 0.5. */
const shifting: SyntheticCluster[] = [stationary[0], { ...stationary[1], mean: (t) => (t < 0.5 ? [8, 0] : [8, -9]) }, stationary[2]];

async function run(clusters: SyntheticCluster[], windows: number, size: number, options: Parameters<typeof fitMixture>[0], seed = 1): Promise<MixtureUpdate<SyntheticPoint>[]> {
  return lastValueFrom(
    from(syntheticStream(clusters, windows * size, seed)).pipe(windowVectors<SyntheticPoint>({ size }), fitMixture<SyntheticPoint>(options), toArray()),
  );
}

describe('fitMixture', () => {
  it('validates its options when created, with a typed error', () => {
    expect(() => fitMixture({ k: 0 })).toThrow(EmstreamOptionsError);
    expect(() => fitMixture({ k: 2, decay: 1.5 })).toThrow(/decay: must be in \(0, 1\]/);
    expect(() => fitMixture({ k: 2, halfLife: 2, decay: 0.5 })).toThrow(/at most one of halfLife, decay and stepwise/);
    expect(() => fitMixture({ k: 2, restart: { every: 0 } })).toThrow(EmstreamOptionsError);
    expect(() => fitMixture({ k: 2, stepwise: { alpha: 0.4 } })).toThrow(/alpha/);
    expect(() => fitMixture({ k: 2, bogus: 1 } as never)).toThrow(/bogus/);
  });

  it('emits one update per window with one label per point, in window order', async () => {
    const updates = await run(stationary, 6, 300, { k: 3, seed: 3 });
    expect(updates.map((u) => u.windowIndex)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(updates.map((u) => u.version)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const u of updates) {
      expect(u.labels.length).toBe(300);
      expect(u.window.records.length).toBe(300);
      const model = GaussianMixture.fromJSON(u.model);
      expect(Array.from(model.predict({ n: u.window.n, d: 2, data: u.window.points }))).toEqual(Array.from(u.labels));
      expect(u.logLikelihood).toBeCloseTo(model.score({ n: u.window.n, d: 2, data: u.window.points }), 12);
      expect(Number.isFinite(u.expectedLogLikelihood)).toBe(true);
      expect(u.expectedLogLikelihood).toBeLessThanOrEqual(u.logLikelihood + 1e-12);
    }
    expect(updates[0].warmStarted).toBe(false);
    expect(updates[0].restarted).toBe(true);
    expect(updates[0].predictiveLogLikelihood).toBeNull();
    // 10 restarts from each of the two default seedings, k-means++ and k-means; on these separated clusters some
    // k-means starts repeat their k-means++ start (Lloyd's iterations change nothing) and are not fitted twice
    const colds = updates[0].candidates.filter((c) => c.kind === 'cold');
    expect(colds.length).toBeGreaterThan(10);
    expect(colds.length).toBeLessThan(20);
    expect(updates.slice(1).every((u) => u.warmStarted && u.predictiveLogLikelihood !== null)).toBe(true);
  });

  it('makes model and state on demand: read after the stream ended, they are those of their window', async () => {
    // On a geometry whose birth and death re-seeds (a trial in the state), with a range of K moving the book.
    const opts = { k: { min: 2, max: 4 }, seed: 3, halfLife: 3 } as const;
    const points = Array.from(syntheticStream(shifting, 12 * 200, 2));
    const eager: { model: unknown; state: unknown }[] = [];
    const seen = await lastValueFrom(
      from(points).pipe(
        windowVectors<SyntheticPoint>({ size: 200 }),
        fitMixture<SyntheticPoint>(opts),
        // read at once, as JSON text (what a runner writes), window by window
        tap((u) => eager.push({ model: JSON.parse(JSON.stringify(u.model)), state: JSON.parse(JSON.stringify(u.state)) })),
        toArray(),
      ),
    );
    const late = await lastValueFrom(from(points).pipe(windowVectors<SyntheticPoint>({ size: 200 }), fitMixture<SyntheticPoint>(opts), toArray()));
    expect(late).toHaveLength(12);
    late.forEach((u, w) => {
      expect(JSON.parse(JSON.stringify(u.state))).toEqual(eager[w].state);
      expect(JSON.parse(JSON.stringify(u.model))).toEqual(eager[w].model);
      expect(u.state.modelVersion).toBe(w + 1);
      // read twice: the same object
      expect(u.state).toBe(u.state);
    });
    expect(seen.map((u) => u.state.modelVersion)).toEqual(late.map((u) => u.state.modelVersion));
    // and the state restores: a model resumed from a late-read state continues as the stream did
    const resumed = new StreamingGmm({ ...opts, initialState: late[5].state });
    const next = late[6].window;
    expect(resumed.update({ n: next.n, d: next.d, data: next.points }).params).toEqual(paramsFromJSON(late[6].model));
  });

  it('needs fewer EM iterations on warm-started windows than a cold start on the same windows', async () => {
    // overlapping clusters, where a cold EM needs many iterations
    const overlapping: SyntheticCluster[] = [
      { mean: () => [0, 0], sd: [1, 1.5], weight: () => 1, rho: 0.5 },
      { mean: () => [2.5, 0], sd: [1, 1], weight: () => 1 },
      { mean: () => [1, 2.5], sd: [1.4, 0.8], weight: () => 1, rho: -0.3 },
    ];
    const updates = await run(overlapping, 10, 500, { k: 3, seed: 5, restart: 'never', tol: 1e-4 });
    const warm = updates.slice(1).map((u) => u.iterations);
    const cold = updates.slice(1).map((u) => fitGmm({ n: u.window.n, d: 2, data: u.window.points }, { k: 3, seed: u.windowIndex, tol: 1e-4 }).iterations);
    const mean = (a: number[]): number => a.reduce((s, x) => s + x, 0) / a.length;
    expect(mean(warm)).toBeLessThan(mean(cold));
    expect(mean(cold)).toBeGreaterThan(10);
  });

  it('follows an abrupt shift within 3 windows with halfLife 1, flags drift there and not on stationary windows', async () => {
    const updates = await run(shifting, 20, 500, { k: 3, seed: 2, halfLife: 1 });
    const shiftAt = 10;
    const flagged = updates.filter((u) => u.drift.length > 0).map((u) => u.windowIndex);
    expect(flagged.length).toBeGreaterThan(0);
    expect(flagged.every((w) => w >= shiftAt && w < shiftAt + 3)).toBe(true);
    const follows = updates.slice(shiftAt, shiftAt + 3).findIndex((u) => {
      const p = paramsFromJSON(u.model);
      return Array.from({ length: 3 }, (_, k) => [p.means[2 * k], p.means[2 * k + 1]]).some(([x, y]) => Math.hypot(x - 8, y + 9) < 0.5);
    });
    expect(follows).toBeGreaterThanOrEqual(0);
    const last = paramsFromJSON(updates[updates.length - 1].model);
    const nearest = Math.min(...Array.from({ length: 3 }, (_, k) => Math.hypot(last.means[2 * k] - 8, last.means[2 * k + 1] + 9)));
    expect(nearest).toBeLessThan(0.3);
  });

  it('on stationary data fewer than 1% of points change cluster between consecutive models', async () => {
    const updates = await run(stationary, 12, 1000, { k: 3, seed: 4, halfLife: 4 });
    expect(updates.every((u) => u.drift.length === 0)).toBe(true);
    for (let t = 1; t < updates.length; t++) {
      const data = { n: updates[t].window.n, d: 2, data: updates[t].window.points };
      const before = GaussianMixture.fromJSON(updates[t - 1].model).predict(data);
      const after = updates[t].labels;
      let changed = 0;
      for (let i = 0; i < data.n; i++) if (before[i] !== after[i]) changed++;
      expect(changed / data.n).toBeLessThan(0.01);
    }
  });

  it('never permutes labels on a restart: components keep their identity', async () => {
    const updates = await run(stationary, 12, 500, { k: 3, seed: 9, restart: { every: 2 }, restarts: 4 });
    const restarted = updates.filter((u) => u.restarted && u.windowIndex > 0);
    expect(restarted.length).toBe(5);
    for (let t = 1; t < updates.length; t++) {
      const perm = matchComponents(paramsFromJSON(updates[t - 1].model), paramsFromJSON(updates[t].model));
      expect(Array.from(perm)).toEqual([0, 1, 2]);
    }
  });

  it('routes bad vectors out, counts them, and fits the rest of the window', async () => {
    const { onInvalid, invalid$, complete } = withInvalid<number[]>();
    const rejected: string[] = [];
    invalid$.subscribe((x) => rejected.push(x.reason));
    const good = Array.from(syntheticStream(stationary, 600, 3), (p) => p.vector);
    const input: number[][] = [...good.slice(0, 100), [Number.NaN, 1], [1, 2, 3], ...good.slice(100), ['x' as unknown as number, 1]];
    const updates = await lastValueFrom(from(input).pipe(windowVectors<number[]>({ size: 200, onInvalid }), fitMixture<number[]>({ k: 3 }), toArray()));
    complete();
    expect(rejected).toEqual(['non-finite', 'wrong-dimension', 'not-numeric']);
    expect(updates.reduce((s, u) => s + u.window.n, 0)).toBe(600);
    expect(updates[0].window.rejected).toBe(2);
  });

  it('defers a first window with fewer than K distinct points to the next window', async () => {
    const events: number[] = [];
    const instrumentation = new Instrumentation();
    instrumentation.on('em.window.deferred', (e) => events.push(e.windowIndex));
    const points = [[1, 1], [1, 1], ...Array.from(syntheticStream(stationary, 300, 1), (p) => p.vector)];
    const updates = await lastValueFrom(from(points).pipe(windowVectors<number[]>({ size: 2 }), fitMixture<number[]>({ k: 3, instrumentation }), toArray()));
    expect(events).toEqual([0]);
    expect(updates[0].window.n).toBe(4);
    expect(updates.reduce((s, u) => s + u.window.n, 0)).toBe(302);
  });

  it('forwards source errors and stops its work on unsubscribe', async () => {
    const subject = new Subject<number[]>();
    const seen: MixtureUpdate<number[]>[] = [];
    let error: unknown = null;
    const sub = subject.pipe(windowVectors<number[]>({ size: 50 }), fitMixture<number[]>({ k: 2 })).subscribe({ next: (u) => seen.push(u), error: (e) => (error = e) });
    for (const p of syntheticStream(stationary, 100, 1)) subject.next(p.vector);
    expect(seen).toHaveLength(2);
    subject.error(new Error('boom'));
    expect((error as Error).message).toBe('boom');
    expect(sub.closed).toBe(true);
    const subject2 = new Subject<number[]>();
    const seen2: unknown[] = [];
    const sub2 = subject2.pipe(windowVectors<number[]>({ size: 50 }), fitMixture<number[]>({ k: 2 })).subscribe((u) => seen2.push(u));
    sub2.unsubscribe();
    for (const p of syntheticStream(stationary, 100, 1)) subject2.next(p.vector);
    expect(seen2).toHaveLength(0);
    expect(subject2.observed).toBe(false);
  });

  it('carries O(K·D²) state: forgetting keeps the statistics bounded at n / (1 − a)', () => {
    const gmm = new StreamingGmm({ k: 3, halfLife: 2, restart: 'never', seed: 1 });
    const pts = Array.from(syntheticStream(stationary, 30 * 200, 11), (p) => p.vector);
    let stateSize = 0;
    for (let t = 0; t < 30; t++) {
      const data = new Float64Array(400);
      pts.slice(t * 200, t * 200 + 200).forEach((v, i) => data.set(v, 2 * i));
      gmm.update({ n: 200, d: 2, data });
      const size = JSON.stringify(gmm.toJSON()).length;
      if (t > 0) expect(size).toBeLessThan(stateSize * 1.2);
      stateSize = Math.max(stateSize, size);
    }
    const a = Math.pow(0.5, 1 / 2);
    const total = (gmm.toJSON().stats!.s0 as number[]).reduce((s, x) => s + x, 0);
    expect(total).toBeCloseTo((200 * (1 - Math.pow(a, 30))) / (1 - a), 6);
  });

  it('errors the stream with a typed CovarianceError only when no candidate can be fitted', async () => {
    // regCovar 0 and a constant second column: no candidate can factor a covariance
    const points = Array.from({ length: 100 }, (_, i) => [i < 50 ? i % 7 : 20 + (i % 5), 5]);
    const result = lastValueFrom(from(points).pipe(windowVectors<number[]>({ size: 100 }), fitMixture<number[]>({ k: 2, regCovar: 0 }), toArray()));
    await expect(result).rejects.toBeInstanceOf(CovarianceError);
    await expect(result).rejects.toThrow(/larger regCovar/);
  });

  it('supports stepwise EM with γ_t = (t+2)^−α', async () => {
    const updates = await run(stationary, 8, 400, { k: 3, seed: 1, stepwise: { alpha: 0.7 } });
    expect(updates).toHaveLength(8);
    expect(updates.every((u) => Number.isFinite(u.logLikelihood))).toBe(true);
    expect(updates[7].logLikelihood).toBeGreaterThan(-5);
  });

  it('emits instrumentation events and isolates throwing listeners', async () => {
    const instrumentation = new Instrumentation();
    const fitted: number[] = [];
    const listenerErrors: unknown[] = [];
    instrumentation.on('em.window.fitted', (e) => fitted.push(e.windowIndex));
    instrumentation.on('em.window.fitted', () => {
      throw new Error('listener bug');
    });
    instrumentation.onListenerError((e) => listenerErrors.push(e));
    const updates = await run(stationary, 3, 200, { k: 3, instrumentation });
    expect(updates).toHaveLength(3);
    expect(fitted).toEqual([0, 1, 2]);
    expect(listenerErrors).toHaveLength(3);
  });
});

describe('toLabels', () => {
  it('emits one PointLabel per point with its record, window and model version', async () => {
    const labels = await lastValueFrom(
      from(syntheticStream(stationary, 900, 2)).pipe(windowVectors<SyntheticPoint>({ size: 300 }), fitMixture<SyntheticPoint>({ k: 3 }), toLabels(), toArray()),
    );
    expect(labels).toHaveLength(900);
    expect(labels.map((l) => l.record.seq)).toEqual(Array.from({ length: 900 }, (_, i) => i));
    expect(labels[0].windowIndex).toBe(0);
    expect(labels[899].modelVersion).toBe(3);
    expect(labels.every((l) => l.probability > 0 && l.probability <= 1 && Number.isFinite(l.logDensity))).toBe(true);
    // the clustering recovers the generating clusters (up to a relabelling)
    const pairs = new Map<string, number>();
    for (const l of labels) pairs.set(`${l.record.truth}->${l.label}`, (pairs.get(`${l.record.truth}->${l.label}`) ?? 0) + 1);
    const dominant = [...pairs.values()].sort((a, b) => b - a).slice(0, 3).reduce((s, x) => s + x, 0);
    expect(dominant / 900).toBeGreaterThan(0.98);
  });
});

describe('detectDrift', () => {
  it('flags the shift and nothing on stationary windows', async () => {
    const events = await lastValueFrom(
      from(syntheticStream(shifting, 20 * 500, 2)).pipe(windowVectors<SyntheticPoint>({ size: 500 }), fitMixture<SyntheticPoint>({ k: 3, halfLife: 1, restart: 'never' }), detectDrift(), toArray()),
    );
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.windowIndex >= 10 && e.windowIndex < 13)).toBe(true);
    expect(events.some((e) => e.kind === 'likelihood')).toBe(true);
  });

  it('validates its options when created', () => {
    expect(() => detectDrift({ lambda: -1 })).toThrow(EmstreamOptionsError);
  });
});

describe('fitMixture instrumentation (EVENTS.md)', () => {
  it('em.window.fitted carries the contract payload; a re-seed and its reversal are reported by label, never as drift', async () => {
    const { generate, randomScenario } = await import('../../bench/streams.js');
    // A stationary stream drawn by the quality suite's generator (maxD 6: not a suite stream) whose re-seed on window 1
    // the next window reverts.
    const s = randomScenario(571, { maxD: 6, maxSize: 900 });
    const data = generate({ ...s, windows: 7 });
    const windows = data.windows.map((points, index) => ({ index, n: s.size, d: s.d, points, records: Array.from({ length: s.size }, (_, i) => index * s.size + i), rejected: 0 }));
    const instrumentation = new Instrumentation();
    const fitted: Record<string, unknown>[] = [];
    const reseeded: unknown[] = [];
    const reverted: unknown[] = [];
    const alarms: unknown[] = [];
    instrumentation.on('em.window.fitted', (e) => fitted.push(e));
    instrumentation.on('em.component.reseeded', (e) => reseeded.push(e));
    instrumentation.on('em.component.reverted', (e) => reverted.push(e));
    instrumentation.on('em.drift.detected', (e) => alarms.push(e));
    expect(instrumentation.listening('em.window.fitted')).toBe(true);
    expect(instrumentation.listening('em.window.failed')).toBe(false);
    const updates = await lastValueFrom(from(windows).pipe(fitMixture<number>({ k: s.k, covarianceType: s.covarianceType, seed: 1, init: 'kmeans++', instrumentation }), toArray()));
    expect(fitted).toHaveLength(7);
    for (const [i, e] of fitted.entries()) {
      const u = updates[i];
      expect(e).toEqual({
        windowIndex: i,
        version: i + 1,
        n: s.size,
        iterations: u.iterations,
        converged: u.converged,
        warmStarted: i > 0,
        restarted: i === 0,
        logLikelihood: u.logLikelihood,
        durationMs: expect.any(Number),
        expectedLogLikelihood: u.expectedLogLikelihood,
        predictiveLogLikelihood: i === 0 ? null : u.predictiveLogLikelihood,
        modelDistance: u.modelDistance,
        pageHinkley: { statistic: expect.any(Number), threshold: 3.5 },
        driftStatistics: {
          likelihood: { statistic: u.driftStatistics.likelihood.statistic, threshold: 3.5 },
          modelDistance: { statistic: u.modelDistance, threshold: 0.5 },
          component: { statistic: u.driftStatistics.component.statistic, threshold: 3.25, label: u.driftStatistics.component.label },
          weights: { statistic: u.driftStatistics.weights.statistic, threshold: 2.5 },
        },
        drifting: { active: false, since: null, kinds: [], components: [], severity: expect.any(Number), progress: 0 },
        weights: u.model.weights,
        reseeded: u.reseeded,
        reverted: u.reverted,
        k: s.k,
        labelIds: Array.from({ length: s.k }, (_, j) => j),
      });
    }
    // the re-seed of window 1 is judged by window 2, which reverts it; neither raises a drift alarm
    expect(s.dynamics).toBe('stationary');
    expect(updates[1].reseeded).toHaveLength(1);
    expect(reseeded).toEqual([{ windowIndex: 1, components: updates[1].reseeded, reason: updates[1].reseedReasons[0] }]);
    expect(reverted).toEqual([{ windowIndex: 2, components: updates[1].reseeded }]);
    expect(alarms).toEqual([]);
  });

  it('em.drift.detected at the onset of a change, em.drift.ended when the model is stable again', async () => {
    const { generate, scenario } = await import('../../bench/streams.js');
    const data = generate(scenario('jump-2d'));
    const windows = data.windows.map((points, index) => ({ index, n: 500, d: 2, points, records: [] as number[], rejected: 0 }));
    const instrumentation = new Instrumentation();
    const detected: { windowIndex: number; kind: string }[] = [];
    const ended: unknown[] = [];
    instrumentation.on('em.drift.detected', (e) => detected.push(e));
    instrumentation.on('em.drift.ended', (e) => ended.push(e));
    const updates = await lastValueFrom(from(windows).pipe(fitMixture<number>({ k: 3, seed: 1, instrumentation }), toArray()));
    // the jump (window 20) is flagged on its window; the model drifts from there until it has been stable for `settle` windows
    expect(detected.map((e) => e.windowIndex)).toContain(20);
    expect(detected.every((e) => e.windowIndex >= 20 && e.windowIndex <= 21)).toBe(true);
    expect(ended).toHaveLength(1);
    const end = ended[0] as { windowIndex: number; since: number; windows: number };
    expect(end.since).toBe(20);
    expect(end.windows).toBe(end.windowIndex - 20);
    expect(updates[end.windowIndex].driftEnded).toEqual({ since: 20 });
    for (const u of updates) expect(u.drifting.active).toBe(u.windowIndex >= 20 && u.windowIndex < end.windowIndex);
  });
});
