/**
 * Durable streaming state: a StreamingGmm resumed from its JSON state continues exactly where the saved one
 * was (same statistics, versions, drift detector and random stream), and a state made under another
 * configuration is refused with a message that names each difference.
 */
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import {
  buildInPipelineScope,
  fitMixture,
  ModelFormatError,
  StateMismatchError,
  StreamingGmm,
  stateDifferences,
  syntheticStream,
  windowVectors,
  type StreamingOptions,
  type StreamingStateJSON,
  type SyntheticCluster,
  type WindowFit,
} from 'emstream';
import { Rng } from '../../src/gmm/rng.js';
import { generate, randomScenario, rotated, scenario, type Scenario } from '../../bench/streams.js';

/** Three clusters; the second jumps at t = 0.5 (so drift alarms and restarts happen). */
const clusters: SyntheticCluster[] = [
  { mean: () => [0, 0], sd: [1, 1], weight: () => 1 },
  { mean: (t) => (t < 0.5 ? [8, 0] : [8, -9]), sd: [1, 0.5], weight: () => 1 },
  { mean: () => [4, 7], sd: [0.7, 1.2], weight: () => 1 },
];

function windows(count: number, size: number, seed: number): { n: number; d: number; data: Float64Array }[] {
  const points = Array.from(syntheticStream(clusters, count * size, seed));
  return Array.from({ length: count }, (_, w) => ({ n: size, d: 2, data: Float64Array.from(points.slice(w * size, (w + 1) * size).flatMap((p) => p.vector)) }));
}

/** What a window's fit says, comparable with toEqual (typed arrays as arrays). */
function summary(f: WindowFit): unknown {
  return {
    version: f.version,
    labels: Array.from(f.labels),
    logLikelihood: f.logLikelihood,
    expected: f.expectedLogLikelihood,
    predictive: f.predictiveLogLikelihood,
    restarted: f.restarted,
    warm: f.warmStarted,
    drift: f.drift,
    distance: f.modelDistance,
    means: Array.from(f.params.means),
    k: f.k,
    labelIds: f.labelIds,
    reseeded: f.reseeded,
    componentDrift: f.componentDrift,
    kChange: f.kChange,
    candidates: f.candidates,
    reverted: f.reverted,
    standardError: f.predictiveStandardError,
    driftStatistics: f.driftStatistics,
    drifting: f.drifting,
    driftEnded: f.driftEnded,
  };
}

const roundTrip = (s: StreamingStateJSON): StreamingStateJSON => JSON.parse(JSON.stringify(s)) as StreamingStateJSON;

describe('StreamingGmm state', () => {
  const options: StreamingOptions[] = [
    { k: 3, halfLife: 4, restart: 'on-drift', seed: 5 },
    { k: 3, covarianceType: 'diag', decay: 0.9, restart: { every: 3 }, restarts: 2, seed: 9 },
    { k: 3, covarianceType: 'tied', stepwise: { alpha: 0.7 }, restart: { every: 2 }, seed: 2 },
  ];
  for (const o of options) {
    it(`resumed from its JSON state, continues bit for bit (${o.covarianceType ?? 'full'}, restart ${JSON.stringify(o.restart)})`, () => {
      const data = windows(12, 200, 11);
      const straight = new StreamingGmm(o);
      const expected = data.map((w) => summary(straight.update(w)));

      const first = new StreamingGmm(o);
      for (let t = 0; t < 6; t++) first.update(data[t]);
      const saved = roundTrip(first.toJSON());
      expect(saved.modelVersion).toBe(6);
      expect(saved.windows).toBe(6);
      expect(saved.config).toEqual({ k: 3, covarianceType: o.covarianceType ?? 'full', d: 2, forgetting: expect.objectContaining({ kind: o.stepwise ? 'stepwise' : 'decay' }) });

      const resumed = new StreamingGmm({ ...o, initialState: saved });
      expect(resumed.version).toBe(6);
      expect(resumed.toJSON()).toEqual(saved);
      const after = data.slice(6).map((w) => summary(resumed.update(w)));
      expect(after).toEqual(expected.slice(6));
      // The restart policy and the jump make at least one cold restart among the resumed windows, so the
      // random stream was continued, not re-seeded.
      expect(after.some((s) => (s as { restarted: boolean }).restarted)).toBe(true);
    });
  }

  it('a state saved before the first window resumes as a fresh model with the same random stream', () => {
    const o: StreamingOptions = { k: 3, seed: 4 };
    const data = windows(2, 150, 3);
    const a = new StreamingGmm(o);
    const b = new StreamingGmm({ ...o, initialState: roundTrip(new StreamingGmm(o).toJSON()) });
    expect(data.map((w) => summary(b.update(w)))).toEqual(data.map((w) => summary(a.update(w))));
  });

  it('refuses a state made with another K, covariance type, forgetting or dimension, naming each difference', () => {
    const gmm = new StreamingGmm({ k: 3, halfLife: 4 });
    gmm.update(windows(1, 100, 1)[0]);
    const state = roundTrip(gmm.toJSON());
    expect(stateDifferences(state, { k: 3, halfLife: 4 })).toEqual([]);
    expect(stateDifferences(state, { k: 3, halfLife: 4 }, 2)).toEqual([]);
    expect(stateDifferences(state, { k: 4, covarianceType: 'diag', halfLife: 8 }, 3)).toEqual([
      { setting: 'k', saved: '3', requested: '4' },
      { setting: 'covarianceType', saved: 'full', requested: 'diag' },
      { setting: 'forgetting', saved: expect.stringMatching(/^decay 0\.8408/), requested: expect.stringMatching(/^decay 0\.917/) },
      { setting: 'd', saved: '2', requested: '3' },
    ]);
    expect(() => new StreamingGmm({ k: 4, halfLife: 4, initialState: state })).toThrow(StateMismatchError);
    expect(() => new StreamingGmm({ k: 3, initialState: state })).toThrow(/forgetting: saved decay 0\.8408\d*\D.*requested none \(cumulative\).*start fresh/);
    expect(() => new StreamingGmm({ k: 3, stepwise: { alpha: 0.7 }, initialState: state })).toThrow(/requested stepwise α = 0\.7/);
    // The dimension is known only when the first window arrives.
    const resumed = new StreamingGmm({ k: 3, halfLife: 4, initialState: state });
    expect(() => resumed.update({ n: 3, d: 3, data: new Float64Array(9).fill(1) })).toThrow(/d: saved 2, requested 3/);
  });

  it('rejects malformed states with the path of the problem', () => {
    const gmm = new StreamingGmm({ k: 2 });
    gmm.update(windows(1, 60, 2)[0]);
    const good = roundTrip(gmm.toJSON());
    const bad = (patch: Record<string, unknown>): StreamingStateJSON => ({ ...good, ...patch }) as StreamingStateJSON;
    expect(() => new StreamingGmm({ k: 2, initialState: bad({ format: 'other' }) })).toThrow(ModelFormatError);
    expect(() => new StreamingGmm({ k: 2, initialState: bad({ version: 5 }) })).toThrow(/version.*unsupported version 5/);
    expect(() => new StreamingGmm({ k: 2, initialState: bad({ modelVersion: -1 }) })).toThrow(/modelVersion/);
    expect(() => new StreamingGmm({ k: 2, initialState: bad({ stats: null }) })).toThrow(/stats.*both be present/);
    expect(() => new StreamingGmm({ k: 2, initialState: bad({ drift: null }) })).toThrow(/drift/);
    expect(() => new StreamingGmm({ k: 2, initialState: bad({ rng: { seed: 1, state: [1, 2], spare: null } }) })).toThrow(/rng/);
    expect(() => new StreamingGmm({ k: 2, initialState: good, initialModel: good.model! })).toThrow(/either initialState or initialModel/);
  });

  it('reads a version-1 state (no fingerprint, no random stream): model, statistics and versions continue', () => {
    const gmm = new StreamingGmm({ k: 3, halfLife: 4 });
    for (const w of windows(3, 100, 6)) gmm.update(w);
    const { config: _config, rng: _rng, ...v1 } = { ...roundTrip(gmm.toJSON()), version: 1 as const };
    const resumed = new StreamingGmm({ k: 3, halfLife: 4, initialState: v1 });
    expect(resumed.toJSON().stats).toEqual(gmm.toJSON().stats);
    expect(resumed.update(windows(1, 100, 7)[0]).version).toBe(4);
  });
});

describe('StreamingGmm state: what the adaptive stream carries', () => {
  /** Resumes at every window of the stream and checks that the rest continues bit for bit. */
  function resumesEverywhere(o: StreamingOptions, data: { n: number; d: number; data: Float64Array }[]): WindowFit[] {
    const straight = new StreamingGmm(o);
    const fits = data.map((w) => straight.update(w));
    const expected = fits.map(summary);
    for (let cut = 1; cut < data.length; cut++) {
      const first = new StreamingGmm(o);
      for (let t = 0; t < cut; t++) first.update(data[t]);
      const saved = roundTrip(first.toJSON());
      expect(saved.version).toBe(4);
      const resumed = new StreamingGmm({ ...o, initialState: saved });
      expect(resumed.toJSON()).toEqual(saved);
      expect(data.slice(cut).map((w) => summary(resumed.update(w)))).toEqual(expected.slice(cut));
    }
    return fits;
  }

  it('k: { min, max }: the current K, labels and split/merge streaks survive a restart', () => {
    const s: Scenario = {
      name: 'k',
      description: '',
      d: 2,
      k: 2,
      covarianceType: 'full',
      windows: 12,
      size: 300,
      seed: 3,
      clusters: [
        { mean: () => [0, 0], cov: rotated(1, 0.6, 20), weight: () => 1 },
        { mean: () => [6, 0], cov: rotated(1, 0.8, -30), weight: () => 1 },
        { mean: () => [3, 6], cov: rotated(0.8, 0.8, 0), weight: (t) => (t < 0.4 ? 0 : 1) },
      ],
    };
    const stream = generate(s);
    const data = stream.windows.map((w) => ({ n: 300, d: 2, data: w }));
    const fits = resumesEverywhere({ k: { min: 1, max: 4 }, halfLife: 6, seed: 2 }, data);
    // the stream did change K, so the streaks and the new label were carried
    expect(fits[0].k).toBe(2);
    expect(fits[fits.length - 1].k).toBe(3);
    expect(fits[fits.length - 1].labelIds).toEqual([0, 1, 2]);
    const state = new StreamingGmm({ k: { min: 1, max: 4 }, halfLife: 6, seed: 2 });
    for (const w of data) state.update(w);
    expect(state.toJSON().config!.k).toEqual({ min: 1, max: 4 });
    expect(state.toJSON().components!.nextLabel).toBe(3);
    // another range is another configuration
    expect(() => new StreamingGmm({ k: { min: 1, max: 5 }, halfLife: 6, initialState: roundTrip(state.toJSON()) })).toThrow(/k: saved 1\.\.4, requested 1\.\.5/);
    expect(() => new StreamingGmm({ k: 3, halfLife: 6, initialState: roundTrip(state.toJSON()) })).toThrow(/k: saved 1\.\.4, requested 3/);
  });

  it('birth and death: a re-seed waiting for its verdict, back-offs and cool-downs survive a restart', () => {
    // Two streams drawn by the quality suite's generator (maxD 6: not suite streams), first fitted from k-means++
    // starts: one whose re-seed (window 1) the next window reverts, one that keeps it.
    for (const [seed, reverted] of [
      [571, true],
      [9, false],
    ] as const) {
      const s = randomScenario(seed, { maxD: 6, maxSize: 900 });
      const stream = generate({ ...s, windows: 3 });
      const data = stream.windows.map((w) => ({ n: s.size, d: s.d, data: w }));
      const fits = resumesEverywhere({ k: s.k, covarianceType: s.covarianceType, seed: 1, init: 'kmeans++' }, data);
      expect(fits[1].reseeded).toHaveLength(1);
      expect(fits[2].reverted).toEqual(reverted ? fits[1].reseeded : []);
    }
    // a genuinely small cluster: every proposal is rejected, and the growing back-off is what is carried
    const small = generate({
      name: 'small',
      description: '',
      d: 2,
      k: 3,
      covarianceType: 'full',
      windows: 10,
      size: 300,
      seed: 9,
      clusters: [
        { mean: () => [0, 0], cov: rotated(1, 0.7, 0), weight: () => 0.5 },
        { mean: () => [6, 0], cov: rotated(1, 0.7, 0), weight: () => 0.45 },
        { mean: () => [3, 7], cov: rotated(0.5, 0.5, 0), weight: () => 0.05 },
      ],
    });
    const o: StreamingOptions = { k: 3, seed: 1, restart: 'never' };
    resumesEverywhere(o, small.windows.map((w) => ({ n: 300, d: 2, data: w })));
    const g = new StreamingGmm(o);
    for (const w of small.windows) g.update({ n: 300, d: 2, data: w });
    expect(Math.max(...g.toJSON().components!.backoff)).toBeGreaterThan(1);
  });

  it('adaptive forgetting on a drifting stream: the per-component evidence survives a restart', () => {
    const stream = generate(scenario('gradual-2d', { windows: 16, size: 300 }));
    const data = stream.windows.map((w) => ({ n: 300, d: 2, data: w }));
    const fits = resumesEverywhere({ k: 3, seed: 4, restart: { every: 4 } }, data);
    expect(fits.some((f) => f.drift.some((e) => e.kind === 'component'))).toBe(true);
    const state = new StreamingGmm({ k: 3, seed: 4 });
    for (const w of data) state.update(w);
    const c = state.toJSON().components!;
    // a component that moved carries less evidence for its mean than its statistics weigh
    const s0 = state.toJSON().stats!.s0;
    expect(c.meanEvidence!.some((e, k) => e < s0[k] * 0.99)).toBe(true);
  });

  it('reads a version-2 state (no components): identity labels, no back-off, evidence from the statistics', () => {
    const gmm = new StreamingGmm({ k: 3, halfLife: 4, seed: 1 });
    for (const w of windows(3, 100, 6)) gmm.update(w);
    const { components: _components, ...v2 } = { ...roundTrip(gmm.toJSON()), version: 2 as const };
    const resumed = new StreamingGmm({ k: 3, halfLife: 4, initialState: v2 });
    expect(resumed.toJSON().components).toEqual({ labels: [0, 1, 2], nextLabel: 3, cooldown: [0, 0, 0], backoff: [1, 1, 1], splitStreak: 0, mergeStreak: 0, evidence: v2.stats!.s0, meanEvidence: v2.stats!.s0 });
    expect(resumed.update(windows(1, 100, 7)[0]).version).toBe(4);
  });

  it('rejects malformed component bookkeeping with its path', () => {
    const gmm = new StreamingGmm({ k: 2 });
    gmm.update(windows(1, 60, 2)[0]);
    const good = roundTrip(gmm.toJSON());
    const bad = (patch: Record<string, unknown>): StreamingStateJSON => ({ ...good, components: { ...good.components!, ...patch } }) as StreamingStateJSON;
    expect(() => new StreamingGmm({ k: 2, initialState: bad({ labels: [0] }) })).toThrow(/components\.labels/);
    expect(() => new StreamingGmm({ k: 2, initialState: bad({ labels: [1, 1] }) })).toThrow(/labels must be distinct/);
    expect(() => new StreamingGmm({ k: 2, initialState: bad({ nextLabel: 1 }) })).toThrow(/components\.nextLabel/);
    expect(() => new StreamingGmm({ k: 2, initialState: bad({ backoff: [0, 1] }) })).toThrow(/components\.backoff/);
    expect(() => new StreamingGmm({ k: 2, initialState: bad({ evidence: [1, -1] }) })).toThrow(/components\.evidence/);
  });
});

describe('Rng state', () => {
  it('continues the same draws, including a cached normal', () => {
    const a = new Rng(123);
    for (let i = 0; i < 7; i++) a.uniform();
    a.normal(); // leaves a spare
    const b = Rng.fromState(JSON.parse(JSON.stringify(a.getState())));
    const draw = (r: Rng): number[] => [r.normal(), r.uniform(), r.normal(), r.int(1000), r.fork().uniform()];
    expect(draw(b)).toEqual(draw(a));
  });
});

describe('fitMixture in a pipeline scope', () => {
  const stream = (count: number, seed: number) => from(syntheticStream(clusters, count, seed));

  it('every update carries the state after it; a fitMixture built in a scope resumes from the restored state', async () => {
    const o = { k: 3, halfLife: 4, seed: 8 };
    const first = await lastValueFrom(stream(1000, 1).pipe(windowVectors({ size: 200 }), fitMixture(o), toArray()));
    const last = first[first.length - 1];
    expect(last.state.modelVersion).toBe(5);
    expect(last.state.model).toEqual(last.model);

    const restored = roundTrip(last.state);
    const { result, mixtures, stateClaimed } = buildInPipelineScope({ initialState: restored }, () =>
      stream(600, 2).pipe(windowVectors({ size: 200 }), fitMixture(o), toArray()),
    );
    expect({ mixtures, stateClaimed }).toEqual({ mixtures: 1, stateClaimed: true });
    const resumed = await lastValueFrom(result);
    expect(resumed.map((u) => u.version)).toEqual([6, 7, 8]);
    expect(resumed[0].predictiveLogLikelihood).not.toBeNull();
    expect(resumed[0].warmStarted).toBe(true);
    // Same as resuming by hand.
    const byHand = await lastValueFrom(stream(600, 2).pipe(windowVectors({ size: 200 }), fitMixture({ ...o, initialState: restored }), toArray()));
    expect(resumed.map((u) => u.state)).toEqual(byHand.map((u) => u.state));
  });

  it('only the first fitMixture without a model of its own claims the state; outside a scope nothing is claimed', async () => {
    const gmm = new StreamingGmm({ k: 2 });
    gmm.update(windows(1, 50, 3)[0]);
    const state = roundTrip(gmm.toJSON());
    const report = buildInPipelineScope({ initialState: state }, () => [fitMixture({ k: 2, initialModel: state.model! }), fitMixture({ k: 2 }), fitMixture({ k: 2 })]);
    expect(report.mixtures).toBe(3);
    expect(report.stateClaimed).toBe(true);
    const versions = await Promise.all(report.result.map((op) => lastValueFrom(stream(100, 4).pipe(windowVectors({ size: 100 }), op, toArray())).then((u) => u[0].version)));
    expect(versions).toEqual([1, 2, 1]);
    const outside = await lastValueFrom(stream(100, 4).pipe(windowVectors({ size: 100 }), fitMixture({ k: 2 }), toArray()));
    expect(outside[0].version).toBe(1);
    expect(buildInPipelineScope({}, () => fitMixture({ k: 2 })).stateClaimed).toBe(false);
  });
});
