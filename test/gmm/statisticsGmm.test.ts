/**
 * The reducer's step of the shared-model mode: `StatisticsGmm` makes the next model from rounds of statistics that
 * "members" computed under the current one (here: an E-step of each round's points under the model, as
 * `windowContributions` does, and a seeded sample of the points). Checked against closed forms (one round is one
 * M-step of online EM), against `StreamingGmm` on the same stream, and on streams that change: one alarm per change,
 * a restart on the sample, birth and death judged on the next round, labels that keep their cluster.
 */
import { describe, expect, it } from 'vitest';
import { EmstreamOptionsError } from '../../src/errors.js';
import { EStepScratch, eStep, precompute } from '../../src/gmm/estep.js';
import { DataError } from '../../src/gmm/errors.js';
import { mStep } from '../../src/gmm/mstep.js';
import { Rng } from '../../src/gmm/rng.js';
import { SufficientStats } from '../../src/gmm/stats.js';
import { StatisticsGmm, type StatisticsRound } from '../../src/gmm/stream/statistics.js';
import { StreamingGmm, type StreamingOptions, type WindowFit } from '../../src/gmm/streaming.js';
import type { Dataset, GmmParams } from '../../src/gmm/types.js';

const D = 2;

/** n points of the mixture with these centres (equal weights, unit spread), seeded. */
function points(centres: readonly (readonly number[])[], n: number, rng: Rng): Dataset {
  const data = new Float64Array(n * D);
  for (let i = 0; i < n; i++) {
    const c = centres[i % centres.length];
    for (let a = 0; a < D; a++) data[i * D + a] = c[a] + rng.normal();
  }
  return { n, d: D, data };
}

/**
 * What the members of a round send, summed: the statistics of the points under the model (about the reducer's
 * origin), their count, Σ log p and Σ (log p)², and a seeded sample of at most `sampleSize` points.
 */
function roundOf(gmm: StatisticsGmm, data: Dataset, rng: Rng, sampleSize = 400): StatisticsRound {
  const model = gmm.model!;
  const pre = precompute(model);
  if (!pre.ok) throw new Error('not factorable');
  const stats = new SufficientStats(model.k, model.d, model.covarianceType, gmm.shift!);
  const logDensity = new Float64Array(data.n);
  const sums = eStep(pre.value, data.data, data.n, false, stats, { logDensity }, new EStepScratch(model.k, model.d));
  let squares = 0;
  for (const l of logDensity) squares += l * l;
  const m = Math.min(sampleSize, data.n);
  const sample = new Float64Array(m * D);
  for (let j = 0; j < m; j++) {
    const i = rng.int(data.n);
    sample.set(data.data.subarray(i * D, i * D + D), j * D);
  }
  return { stats, count: data.n, windows: 1, logLikelihood: sums.logLikelihood, logLikelihoodSquares: squares, sample: { n: m, d: D, data: sample } };
}

/** The label of the component whose mean is nearest to `at`. */
function labelNear(fit: WindowFit, at: readonly number[]): number {
  let best = 0;
  let bestDistance = Infinity;
  for (let k = 0; k < fit.k; k++) {
    let s = 0;
    for (let a = 0; a < D; a++) s += (fit.params.means[k * D + a] - at[a]) ** 2;
    if (s < bestDistance) [best, bestDistance] = [k, s];
  }
  return fit.labelIds[best];
}

/** The largest distance from a centre to the nearest component mean. */
function worstCentre(p: GmmParams, centres: readonly (readonly number[])[]): number {
  return Math.max(...centres.map((c) => Math.min(...Array.from({ length: p.k }, (_, k) => Math.hypot(...c.map((x, a) => p.means[k * D + a] - x))))));
}

const THREE = [
  [0, 0],
  [6, 0],
  [0, 6],
];

describe('StatisticsGmm: the next model from merged statistics', () => {
  it('one round is one M-step of online EM: θ = M(a·S + R), S carried as a·S + R, a the forgetting of the round\'s windows (closed form)', () => {
    const rng = new Rng(1);
    const halfLife = 4;
    const gmm = new StatisticsGmm({ k: 3, halfLife, adaptive: false, birthDeath: false, restart: 'never', seed: 1 });
    gmm.seed(points(THREE, 600, rng));
    expect(gmm.version).toBe(1);
    const a = Math.exp(Math.log(0.5) / halfLife);
    let carried: SufficientStats | null = null;
    for (let r = 0; r < 3; r++) {
      // (the second round holds half a window's worth of points: half a window's forgetting)
      const round = { ...roundOf(gmm, points(THREE, 900, rng), rng), windows: r === 1 ? 0.5 : 1 };
      const expected = round.stats.clone();
      if (carried !== null) expected.merge(carried.clone().scale(Math.pow(a, round.windows)));
      const fit = gmm.merge(round);
      const { params } = mStep(expected, { regCovar: 1e-6 });
      for (const key of ['weights', 'means', 'covariances'] as const) {
        Array.from(params[key]).forEach((x, i) => expect(fit.params[key][i]).toBeCloseTo(x, 10));
      }
      expect(fit.version).toBe(r + 2);
      expect(fit.warmStarted).toBe(true);
      expect(fit.predictiveLogLikelihood).toBeCloseTo(round.logLikelihood / round.count, 12);
      carried = expected;
    }
  });

  it('on a stationary stream the rounds reach the mixture StreamingGmm fits to the same points, without alarms', () => {
    const options: StreamingOptions = { k: 3, halfLife: 20, seed: 3 };
    for (const seed of [11, 12, 13]) {
      const rng = new Rng(seed);
      const shared = new StatisticsGmm(options);
      const single = new StreamingGmm(options);
      const first = points(THREE, 1000, rng);
      shared.seed(first);
      single.update(first);
      let alarms = 0;
      for (let r = 0; r < 30; r++) {
        const window = points(THREE, 1000, rng);
        alarms += shared.merge(roundOf(shared, window, rng)).drift.length;
        single.update(window);
      }
      expect(alarms, `seed ${seed}: alarms on 30 stationary rounds`).toBe(0);
      expect(worstCentre(shared.model!, THREE)).toBeLessThan(0.1);
      const a = shared.model!;
      const b = single.model!;
      // Component by component (nearest means): weights within 0.02, means within 0.05.
      for (let k = 0; k < 3; k++) {
        const j = [0, 1, 2].reduce((best, c) => (Math.hypot(a.means[k * D] - b.means[c * D], a.means[k * D + 1] - b.means[c * D + 1]) < Math.hypot(a.means[k * D] - b.means[best * D], a.means[k * D + 1] - b.means[best * D + 1]) ? c : best), 0);
        expect(Math.abs(a.weights[k] - b.weights[j])).toBeLessThan(0.02);
        expect(Math.hypot(a.means[k * D] - b.means[j * D], a.means[k * D + 1] - b.means[j * D + 1])).toBeLessThan(0.05);
      }
    }
  });

  /** 15 stationary rounds of THREE, then 12 of `after`: the fits after the change, and the labels of THREE's clusters before it. */
  function jump(after: readonly (readonly number[])[], seed: number): { fits: WindowFit[]; labels: number[] } {
    const rng = new Rng(seed);
    // (k-means++ restarts only: the seeds below were drawn for them; with both seedings seed 26's warm step wins the
    // restart and EM, not the matching, orders the moved components)
    const gmm = new StatisticsGmm({ k: 3, halfLife: 10, seed, init: 'kmeans++' });
    gmm.seed(points(THREE, 1000, rng));
    let before: WindowFit | null = null;
    for (let r = 0; r < 15; r++) {
      before = gmm.merge(roundOf(gmm, points(THREE, 1000, rng), rng));
      expect(before.drift, `seed ${seed}: no alarm on stationary round ${r}`).toEqual([]);
    }
    const labels = THREE.map((c) => labelNear(before!, c));
    expect(new Set(labels).size).toBe(3);
    const fits: WindowFit[] = [];
    for (let r = 0; r < 12; r++) fits.push(gmm.merge(roundOf(gmm, points(after, 1000, rng), rng)));
    const likelihoodAlarms = fits.flatMap((f, r) => f.drift.filter((e) => e.kind === 'likelihood').map(() => r));
    expect(likelihoodAlarms, `seed ${seed}: one likelihood alarm, on the round of the jump`).toEqual([0]);
    // The alarm's round restarts: cold candidates fitted to the sample compete with the warm step.
    expect(fits[0].restarted).toBe(true);
    expect(fits[0].candidates.filter((c) => c.kind === 'cold').length).toBe(10);
    expect(fits[0].candidates.filter((c) => c.selected).length).toBe(1);
    expect(worstCentre(fits[fits.length - 1].params, after)).toBeLessThan(0.2);
    expect(fits.every((f) => f.labelIds.length === 3)).toBe(true);
    return { fits, labels };
  }

  it('a cluster jumps: one likelihood alarm, at the jump; the warm step follows it (adaptive forgetting) and every cluster keeps its label', () => {
    const moved = [
      [0, 0],
      [6, 0],
      [-8, 14],
    ];
    for (const seed of [21, 22, 23, 24]) {
      const { fits, labels } = jump(moved, seed);
      expect(moved.map((c) => labelNear(fits[fits.length - 1], c)), `seed ${seed}: labels`).toEqual(labels);
    }
  });

  it('the whole mixture jumps: one likelihood alarm; a cold fit on the sample wins the restart (or a re-seed completes the warm step), labels matched to the previous ones', () => {
    const moved = THREE.map(([x, y]) => [x + 20, y + 20]);
    let coldWins = 0;
    for (const seed of [25, 26, 27, 28]) {
      const { fits, labels } = jump(moved, seed);
      const selected = fits[0].candidates.find((c) => c.selected)!;
      expect(selected.kind === 'cold').toBe(!fits[0].warmStarted);
      if (!fits[0].warmStarted) coldWins++;
      // Where the warm step was not beaten beyond noise on the held-out sample points, birth and death moved the
      // component the warm step left behind; either way the new mixture is in place by the next round.
      else expect(fits[0].reseeded.length, `seed ${seed}: a re-seed completes the warm step`).toBe(1);
      expect(worstCentre(fits[1].params, moved), `seed ${seed}`).toBeLessThan(0.3);
      expect(fits.slice(1).every((f) => f.warmStarted)).toBe(true);
      // Hungarian matching on the Bhattacharyya distance: each cluster's label goes with it.
      expect(moved.map((c) => labelNear(fits[fits.length - 1], c)), `seed ${seed}: labels`).toEqual(labels);
    }
    expect(coldWins).toBeGreaterThanOrEqual(2);
  });

  it('birth and death: a re-seed the next round does not support is reverted; a component doubling up on a cluster is re-seeded, from the sample, on a cluster that appears, and the next round keeps it', () => {
    const TWO = THREE.slice(0, 2);
    let reverts = 0;
    let cleanReverts = 0;
    for (const seed of [31, 32, 33, 36]) {
      const rng = new Rng(seed);
      // No restarts: birth and death alone must move the component.
      const gmm = new StatisticsGmm({ k: 3, halfLife: 5, restart: 'never', seed });
      gmm.seed(points(TWO, 1000, rng));
      // Three components on two clusters: the probes try a better place for one; the rare move that passes the held-out
      // check (seed 36; 4 of 320 such rounds over seeds 31–70) the next round reverts (the model without it continues,
      // the round's statistics taken from the sample under that model).
      const early: WindowFit[] = [];
      for (let r = 0; r < 8; r++) early.push(gmm.merge(roundOf(gmm, points(TWO, 1000, rng), rng)));
      reverts += early.filter((f) => f.reverted.length > 0).length;
      // (a round that reverts and makes no new re-seed has the model without it: both clusters where they are)
      const clean = early.filter((e) => e.reverted.length > 0 && e.reseeded.length === 0);
      cleanReverts += clean.length;
      for (const f of clean) expect(worstCentre(f.params, TWO), `seed ${seed}: after a revert`).toBeLessThan(0.3);
      const fits: WindowFit[] = [];
      for (let r = 0; r < 20; r++) fits.push(gmm.merge(roundOf(gmm, points(THREE, 1000, rng), rng)));
      const made = fits.findIndex((f) => f.reseeded.length > 0);
      expect(made, `seed ${seed}: a re-seed once the third cluster appears`).toBeGreaterThanOrEqual(0);
      expect(made).toBeLessThan(3);
      // Judged by the next round (data it was not seeded from): kept, not reverted.
      expect(fits[made + 1].reverted, `seed ${seed}: the next round keeps it`).toEqual([]);
      expect(worstCentre(fits[fits.length - 1].params, THREE), `seed ${seed}: every cluster has a component`).toBeLessThan(0.2);
      expect(fits.flatMap((f) => f.drift.filter((e) => e.kind === 'likelihood')).length, `seed ${seed}: one likelihood alarm`).toBe(1);
      expect(fits[fits.length - 1].labelIds.slice().sort()).toEqual([0, 1, 2]);
    }
    expect(reverts, 'reverted re-seeds on the two-cluster rounds').toBeGreaterThan(0);
    expect(cleanReverts).toBeGreaterThan(0);
  });

  it('its state is a streaming state: saved and resumed, it goes on exactly; StreamingGmm reads it', () => {
    const rng = new Rng(41);
    const options: StreamingOptions = { k: 3, halfLife: 8, seed: 5 };
    const gmm = new StatisticsGmm(options);
    gmm.seed(points(THREE, 800, rng));
    for (let r = 0; r < 6; r++) gmm.merge(roundOf(gmm, points(THREE, 800, rng), rng));
    const saved = JSON.parse(JSON.stringify(gmm.toJSON()));
    const resumed = new StatisticsGmm({ ...options, initialState: saved });
    expect(resumed.version).toBe(gmm.version);
    expect(resumed.labels).toEqual(gmm.labels);
    const round = roundOf(gmm, points(THREE, 800, rng), rng);
    const a = gmm.merge(round);
    const b = resumed.merge(round);
    expect(b.version).toBe(a.version);
    expect(Array.from(b.params.means)).toEqual(Array.from(a.params.means));
    expect(b.drift).toEqual(a.drift);
    expect(JSON.stringify(resumed.toJSON())).toBe(JSON.stringify(gmm.toJSON()));
    expect(new StreamingGmm({ ...options, initialState: saved }).version).toBe(saved.modelVersion);
  });

  it('refuses a range of K with a typed error that says why and what to do', () => {
    try {
      new StatisticsGmm({ k: { min: 2, max: 5 } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(EmstreamOptionsError);
      const e = err as EmstreamOptionsError;
      expect(e.context.issues[0].path).toBe('k');
      expect(e.message).toMatch(/range of K \(2\.\.5\) is not supported .*shared-model mode.*give a fixed k/);
    }
  });

  it('a round it cannot merge leaves the state as it was; a round of another shape or before a model is refused', () => {
    const rng = new Rng(51);
    const gmm = new StatisticsGmm({ k: 3, halfLife: 8, seed: 5 });
    expect(() => gmm.merge(roundOf({ model: null } as unknown as StatisticsGmm, points(THREE, 10, rng), rng))).toThrow();
    const empty: StatisticsRound = { stats: new SufficientStats(3, D, 'full', new Float64Array(D)), count: 0, windows: 1, logLikelihood: 0, logLikelihoodSquares: 0, sample: { n: 0, d: D, data: new Float64Array(0) } };
    expect(() => gmm.merge(empty)).toThrow(DataError);
    gmm.seed(points(THREE, 800, rng));
    const before = JSON.stringify(gmm.toJSON());
    expect(() => gmm.merge({ ...empty, stats: new SufficientStats(2, D, 'full', gmm.shift!) })).toThrow(/does not fit the model/);
    // A component whose merged second moments are not positive definite: the step fails, nothing changes.
    const bad = roundOf(gmm, points(THREE, 800, rng), rng);
    bad.stats.s2.fill(-1e6);
    expect(() => gmm.merge(bad)).toThrow();
    expect(JSON.stringify(gmm.toJSON())).toBe(before);
    expect(() => gmm.seed(points(THREE, 100, rng))).toThrow(/exists already/);
  });
});
