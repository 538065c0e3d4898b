/**
 * Birth and death that holds: a re-seed is made where the likelihood gains most, judged by the next window
 * (data it was not seeded from), reverted when it does not help, backed off, and never reported as drift. The
 * screen of moves and the moment-preserving split are checked against direct computations.
 */
import { describe, expect, it } from 'vitest';
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { GaussianMixture, paramsFromJSON, StreamingGmm, type CovarianceType, type GmmParams } from 'emstream';
import { principalAxis, screenMoves, splitProposal } from '../../src/gmm/birthDeath.js';
import { mergeMove } from '../../src/gmm/chooseK.js';
import { combineStats, componentMoments, splitComponentRow } from '../../src/gmm/componentStats.js';
import { eStep, precompute } from '../../src/gmm/estep.js';
import { adjustedRandIndex } from '../../src/gmm/metrics.js';
import { Rng } from '../../src/gmm/rng.js';
import { SufficientStats } from '../../src/gmm/stats.js';
import { generate, mean, randomScenario, scenario, scoreTruth, type Scenario } from '../../bench/streams.js';

/** A random SPD covariance A·Aᵀ/D + floor·I. */
function randomCov(rng: Rng, d: number, scale: number, floor: number): number[] {
  const a = Array.from({ length: d * d }, () => rng.normal());
  const out = new Array<number>(d * d).fill(0);
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) for (let k = 0; k < d; k++) out[i * d + j] += (scale * a[i * d + k] * a[j * d + k]) / d + (i === j && k === 0 ? floor : 0);
  return out;
}

/**
 * The geometry that showed the fault: a stationary 8-D stream of K = 8 overlapping full-covariance clusters
 * (true weights 5–21 %), whose first cold fit (3 candidates) leaves a component starved; before, it was re-seeded
 * every third window, starved again each time and raised a model-distance alarm each time.
 */
function overlapping8d(seed: number, windows: number): Scenario {
  const r = new Rng(1000 + seed);
  const means = Array.from({ length: 8 }, () => Array.from({ length: 8 }, () => 1.2 * r.normal()));
  const covs = Array.from({ length: 8 }, () => randomCov(r, 8, 0.8, 0.15));
  const weights = [0.21, 0.17, 0.15, 0.13, 0.11, 0.09, 0.07, 0.05];
  return { name: `overlapping-8d-${seed}`, description: '', d: 8, k: 8, covarianceType: 'full', windows, size: 1000, seed, clusters: weights.map((w, c) => ({ mean: () => means[c], cov: covs[c], weight: () => w })) };
}

describe('birth and death on the geometry that thrashed', () => {
  for (const [seed, options] of [
    [3, { restarts: 3 }],
    [9, { restarts: 3, halfLife: 2 }],
  ] as const) {
    it(`seed ${seed} ${JSON.stringify(options)}: every component in use, at most one re-seed per 50 windows, none of them an alarm`, () => {
      const s = overlapping8d(seed, 100);
      const data = generate(s);
      const gmm = new StreamingGmm({ k: 8, seed: 1, ...options });
      const ari: number[] = [];
      const fits = data.windows.map((w, t) => {
        const window = { n: 1000, d: 8, data: w };
        if (t > 0) ari.push(adjustedRandIndex(data.truth[t], new GaussianMixture(gmm.model!).predict(window)));
        return gmm.update(window);
      });
      const reseeds = fits.flatMap((f, t) => f.reseeded.map(() => t));
      expect(reseeds.length).toBeLessThanOrEqual(2);
      // recovered or stayed put: from window 10 on, the labels of all eight components are used
      for (const f of fits.slice(10)) expect(new Set(f.labels).size).toBe(8);
      // a re-seed (and its verdict on the next window) never raises an alarm
      for (const t of reseeds) {
        expect(fits[t].drift).toEqual([]);
        expect(fits[t + 1]?.drift ?? []).toEqual([]);
      }
      expect(fits.flatMap((f) => f.drift).filter((e) => e.kind === 'model-distance')).toEqual([]);
      // and the labels are about as good as the true mixture's (before: 0.852 against 0.910 on seed 3)
      expect(mean(ari)).toBeGreaterThan(mean(scoreTruth(data).ari) - 0.04);
    });
  }
});

describe('a re-seed is a hypothesis', () => {
  it('the next window reverts one that does not predict it better: the model without it continues, the victim backs off', () => {
    // A stationary stream drawn by the quality suite's generator (with maxD 6: not one of the suite's own streams)
    // whose re-seed on window 1 (after a first fit from k-means++ starts only) does not hold.
    const s = randomScenario(571, { maxD: 6, maxSize: 900 });
    expect(s.dynamics).toBe('stationary');
    const data = generate({ ...s, windows: 3 });
    const window = (t: number) => ({ n: s.size, d: s.d, data: data.windows[t] });
    const gmm = new StreamingGmm({ k: s.k, covarianceType: s.covarianceType, seed: 1, init: 'kmeans++' });
    gmm.update(window(0));
    const made = gmm.update(window(1));
    expect(made.reseeded).toHaveLength(1);
    const saved = gmm.toJSON();
    const trial = saved.birthDeath!.trial!;
    expect(trial.labels).toEqual(made.reseeded);
    expect(trial.window).toBe(1);
    // the model emitted on window 1 has the re-seed; the one kept aside does not
    expect(trial.model).not.toEqual(saved.model);
    const verdict = gmm.update(window(2));
    expect(verdict.reverted).toEqual(made.reseeded);
    // window 2 was fitted from the model without the re-seed: its predictive log-likelihood is that model's
    expect(verdict.predictiveLogLikelihood).toBeCloseTo(new GaussianMixture(paramsFromJSON(trial.model)).score(window(2)), 10);
    const row = gmm.toJSON().components!;
    const victim = row.labels.indexOf(made.reseeded[0]);
    expect(row.backoff[victim]).toBeGreaterThanOrEqual(2);
    expect(row.cooldown[victim]).toBeGreaterThan(2);
    expect(gmm.toJSON().birthDeath!.trial).toBeNull();
  });

  it('with many parameters per point (D = 32, full, K = 11), a starved component is re-seeded on the first window and kept: moves are compared with the model refitted to the same half', () => {
    // The suite's stream 80: the first cold fit leaves two components starved. The model as it is was fitted to every
    // point of the window; compared with it, a move fitted to part of the window lost about a nat per point on the
    // held-out rest whatever it was, and the two components stayed empty for the whole stream.
    const s = randomScenario(80);
    expect([s.d, s.k, s.covarianceType]).toEqual([32, 11, 'full']);
    const data = generate({ ...s, windows: 2 });
    const gmm = new StreamingGmm({ k: s.k, covarianceType: s.covarianceType, seed: 1 });
    const first = gmm.update({ n: s.size, d: s.d, data: data.windows[0] });
    expect(first.reseeded).toHaveLength(1);
    expect(first.reseedReasons).toEqual(['starved']);
    const next = gmm.update({ n: s.size, d: s.d, data: data.windows[1] });
    expect(next.reverted).toEqual([]);
    expect(next.drift).toEqual([]);
  });

  it('a split is judged on points its start never saw: on stationary windows in 12 and 48 dimensions, no re-seed passes the held-out check only to be reverted by the next window', () => {
    // The held-out check refits each move on one half of the window and scores it on the other. A split used to start
    // from the screen's two-component fit to the whole window, other half included: in many dimensions that start
    // predicted the other half 0.02 nats per point better than the model as it is, and the next window 0.03 worse.
    // Tuning streams 114 (D = 48, spherical, K = 9; its windows before a death at 15) and 18 (D = 12, diag, K = 13,
    // stationary): 5 and 2 re-seeds made and reverted before; none now.
    for (const [seed, windows] of [
      [114, 15],
      [18, 50],
    ] as const) {
      const s = randomScenario(seed);
      expect(s.changeWindow === null || s.changeWindow >= windows, `s${seed}: stationary over its first ${windows} windows`).toBe(true);
      const data = generate({ ...s, windows });
      const gmm = new StreamingGmm({ k: s.k, covarianceType: s.covarianceType, seed: 1 });
      const fits = data.windows.map((w) => gmm.update({ n: s.size, d: s.d, data: w }));
      const reverted = fits.flatMap((f) => f.reverted);
      expect(reverted, `s${seed}: re-seeds reverted`).toEqual([]);
      // after the first two windows (a cold fit's starved components), at most one re-seed per 50 stationary windows
      expect(fits.slice(2).flatMap((f) => f.reseeded).length, `s${seed}: re-seeds after window 1`).toBeLessThanOrEqual(1);
    }
  });

  it('on the window of a jump, a component the jump starved is re-seeded at once (back-offs forgotten) and kept', () => {
    // jump-2d drawn with seed 12: with k-means++ restarts, the warm candidate wins the jump window with the moved
    // cluster's component starved
    const data = generate({ ...scenario('jump-2d'), seed: 12 });
    const gmm = new StreamingGmm({ k: 3, seed: 1, init: 'kmeans++' });
    const fits = data.windows.slice(0, 23).map((w) => gmm.update({ n: 500, d: 2, data: w }));
    expect(fits[20].drift.map((e) => e.kind)).toContain('likelihood');
    expect(fits[20].warmStarted).toBe(true);
    expect(fits[20].reseeded).toHaveLength(1);
    expect(fits[21].reverted).toEqual([]);
    // every cluster has its component from then on: no weight below 0.25
    for (const f of fits.slice(20)) expect(Math.min(...f.params.weights)).toBeGreaterThan(0.25);
  });

  it('a genuinely small cluster is never re-seeded: removing it costs more than any split gains', () => {
    const s: Scenario = {
      name: 'small',
      description: '',
      d: 2,
      k: 3,
      covarianceType: 'full',
      windows: 30,
      size: 500,
      seed: 9,
      clusters: [
        { mean: () => [0, 0], cov: [1, 0, 0, 0.5], weight: () => 0.5 },
        { mean: () => [6, 0], cov: [1, 0, 0, 0.5], weight: () => 0.475 },
        { mean: () => [3, 7], cov: [0.25, 0, 0, 0.25], weight: () => 0.025 },
      ],
    };
    const data = generate(s);
    const gmm = new StreamingGmm({ k: 3, seed: 1 });
    const fits = data.windows.map((w) => gmm.update({ n: 500, d: 2, data: w }));
    expect(fits.every((f) => f.reseeded.length === 0)).toBe(true);
    expect(Math.min(...fits[29].params.weights)).toBeGreaterThan(0.015);
    expect(Math.min(...fits[29].params.weights)).toBeLessThan(0.04);
  });
});

/** Window 1 of the suite's stream 102, the model fitted on window 0, and the screen of moves of that window. */
function screened() {
  const s = randomScenario(102);
  const data = generate({ ...s, windows: 2 });
  const window = { n: s.size, d: s.d, data: data.windows[1] };
  const gmm = new StreamingGmm({ k: s.k, covarianceType: s.covarianceType, seed: 1 });
  gmm.update({ n: s.size, d: s.d, data: data.windows[0] });
  const params = gmm.model!;
  const pre = precompute(params);
  if (!pre.ok) throw new Error('not factorable');
  const resp = new Float64Array(s.size * params.k);
  const { logLikelihood } = eStep(pre.value, window.data, window.n, false, null, { resp, exactTails: true });
  return { s, window, params, logLikelihood, screen: screenMoves(params, window, resp, 1e-6) };
}

describe('the screen of moves', () => {
  it('the cost of removing a component is the exact log-likelihood the window loses without it', () => {
    const { s, window, params, logLikelihood, screen } = screened();
    for (let v = 0; v < params.k; v++) {
      // the mixture without v, its weight shared out in proportion
      const keep = Array.from({ length: params.k }, (_, c) => c).filter((c) => c !== v);
      const without: GmmParams = {
        k: keep.length,
        d: params.d,
        covarianceType: params.covarianceType,
        weights: Float64Array.from(keep, (c) => params.weights[c] / (1 - params.weights[v])),
        means: Float64Array.from(keep.flatMap((c) => Array.from(params.means.subarray(c * s.d, (c + 1) * s.d)))),
        covariances: Float64Array.from(keep.flatMap((c) => Array.from(params.covariances.subarray(c * s.d * s.d, (c + 1) * s.d * s.d)))),
      };
      const lost = logLikelihood - new GaussianMixture(without).score(window) * window.n;
      expect(Math.abs(screen.removeCost[v] - lost)).toBeLessThan(1e-9 * Math.max(1, Math.abs(lost)));
    }
    // a component over two true clusters is the one whose split gains most (window 1 of this stream)
    expect(Math.max(...screen.splitGain)).toBeGreaterThan(0);
    expect(screen.halves.filter((h) => h !== null).every((h) => h!.k === 2)).toBe(true);
  });

  it('on a window larger than the screen takes (2 × 4000 points): one Gaussian is not split, a component over two clusters is, about as much as on all its points', () => {
    const rng = new Rng(7);
    const n = 4000;
    const gauss = (shift: number) => Float64Array.from({ length: 2 * n }, (_, i) => rng.normal() + (i % 2 === 0 && i >= n ? shift : 0));
    const one: GmmParams = { k: 2, d: 2, covarianceType: 'full', weights: Float64Array.of(0.5, 0.5), means: Float64Array.of(0, 0, 20, 20), covariances: Float64Array.of(1, 0, 0, 1, 1, 0, 0, 1) };
    const screen = (params: GmmParams, data: Float64Array) => {
      const pre = precompute(params);
      if (!pre.ok) throw new Error('not factorable');
      const resp = new Float64Array(n * params.k);
      eStep(pre.value, data, n, false, null, { resp, exactTails: true });
      return screenMoves(params, { n, d: 2, data }, resp, 1e-6);
    };
    // component 0 holds every point (n ≫ MAX_SPLIT_ROWS): one Gaussian, nothing to gain beyond the fit's optimism
    expect(screen(one, gauss(0)).splitGain[0]).toBe(0);
    // two clusters 6 apart under one wide component: the split gains about n·ln-ratio, as on every point
    const two: GmmParams = { ...one, means: Float64Array.of(3, 0, 20, 20), covariances: Float64Array.of(10, 0, 0, 1, 1, 0, 0, 1) };
    const data = gauss(6);
    const gain = screen(two, data).splitGain[0];
    const halves = new GaussianMixture({ ...two, means: Float64Array.of(0, 0, 6, 0), covariances: Float64Array.of(1, 0, 0, 1, 1, 0, 0, 1) });
    const exact = (halves.score({ n, d: 2, data }) - new GaussianMixture({ ...two, weights: Float64Array.of(1 - 1e-12, 1e-12) }).score({ n, d: 2, data })) * n;
    expect(gain).toBeGreaterThan(0.8 * exact);
    expect(gain).toBeLessThan(1.2 * exact);
  });

  it('a spherical component of fewer points than dimensions (80 in 200-D) splits along its scatter’s principal axis, as the D×D scatter gives it', () => {
    const rng = new Rng(11);
    const d = 200;
    const n = 80;
    const direction = Float64Array.from({ length: d }, () => rng.normal());
    const length = Math.hypot(...direction);
    const data = new Float64Array(n * d);
    for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) data[i * d + a] = 0.3 * rng.normal() + ((i % 2 === 0 ? 3 : -3) * direction[a]) / length;
    const means = new Float64Array(2 * d).fill(0);
    means[d] = 100; // component 1 far away: component 0 holds every point
    const params: GmmParams = { k: 2, d, covarianceType: 'spherical', weights: Float64Array.of(0.99, 0.01), means, covariances: Float64Array.of(9.1, 1) };
    const split = splitProposal(params, 0, 1, { n, d, data })!;
    const shift = Float64Array.from({ length: d }, (_, a) => split.means[a] - split.means[d + a]);
    // the D×D scatter about component 0's mean, and its principal axis
    const scatter = new Float64Array(d * d);
    for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) scatter[a * d + b] += (data[i * d + a] * data[i * d + b]) / n;
    const axis = principalAxis(scatter, d);
    const cos = (u: ArrayLike<number>, v: ArrayLike<number>) => {
      let uv = 0;
      for (let a = 0; a < d; a++) uv += u[a] * v[a];
      return Math.abs(uv) / (Math.hypot(...Array.from(u)) * Math.hypot(...Array.from(v)));
    };
    expect(cos(shift, axis.vector)).toBeGreaterThan(1 - 1e-9);
    expect(cos(shift, direction)).toBeGreaterThan(0.98);
    // the halves sit 0.8·√λ either side of the mean, λ the scatter's largest eigenvalue
    expect(Math.hypot(...Array.from(shift)) / 2).toBeCloseTo(0.8 * Math.sqrt(axis.value), 6);
  });

  it('principalAxis: the leading eigenpair as ml-matrix gives it, and bit for bit the row-by-row power iteration (any D, four rows a step or not)', () => {
    /** The power iteration one row at a time, as it was written first: the reference for the four-row product. */
    const rowByRow = (m: Float64Array, d: number) => {
      let v = new Float64Array(d);
      let start = 0;
      for (let a = 1; a < d; a++) if (m[a * d + a] > m[start * d + start]) start = a;
      v[start] = 1;
      for (let a = 0; a < d; a++) v[a] += 1e-3 * (a + 1);
      let value = 0;
      for (let it = 0; it < 200; it++) {
        const w = new Float64Array(d);
        for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) w[a] += m[a * d + b] * v[b];
        const norm = Math.sqrt(w.reduce((s, x) => s + x * x, 0));
        if (!(norm > 0)) break;
        let change = 0;
        for (let a = 0; a < d; a++) {
          w[a] /= norm;
          change += Math.abs(w[a] - v[a]);
        }
        [v, value] = [w, norm];
        if (change < 1e-10) break;
      }
      return { vector: v, value };
    };
    const rng = new Rng(5);
    for (const d of [1, 2, 3, 4, 5, 7, 8, 13, 33]) {
      for (const isotropic of [true, false]) {
        // near-isotropic scatter (the iteration runs all 200 steps) or one with a clear leading direction
        const m = Float64Array.from(randomCov(rng, d, isotropic ? 0.05 : 1, 1));
        if (!isotropic) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) m[a * d + b] += 4 * (a + 1) * (b + 1) / (d * d);
        const got = principalAxis(m, d);
        const ref = rowByRow(m, d);
        expect(Object.is(got.value, ref.value), `D = ${d}: eigenvalue`).toBe(true);
        expect(Array.from(got.vector), `D = ${d}: eigenvector`).toEqual(Array.from(ref.vector));
        if (isotropic) continue;
        const eig = new EigenvalueDecomposition(new Matrix(Array.from({ length: d }, (_, a) => Array.from(m.subarray(a * d, a * d + d)))), { assumeSymmetric: true });
        const top = eig.realEigenvalues.indexOf(Math.max(...eig.realEigenvalues));
        expect(got.value).toBeCloseTo(eig.realEigenvalues[top], 8);
        const u = eig.eigenvectorMatrix.getColumn(top);
        const dot = u.reduce((s, x, a) => s + x * got.vector[a], 0);
        expect(Math.abs(dot)).toBeCloseTo(1, 8);
      }
    }
  });

  it('the cost of merging a component into its partner is the exact log-likelihood the window loses', () => {
    const { window, params, logLikelihood, screen } = screened();
    for (let v = 0; v < params.k; v++) {
      const j = screen.mergeInto[v];
      expect(j).toBeGreaterThanOrEqual(0);
      expect(j).not.toBe(v);
      const lost = logLikelihood - new GaussianMixture(mergeMove(params, Math.min(v, j), Math.max(v, j))).score(window) * window.n;
      expect(Math.abs(screen.mergeCost[v] - lost)).toBeLessThan(1e-8 * Math.max(1, Math.abs(lost)));
    }
  });

  it('two components splitting one cluster while a third holds two: the merge and split is made, kept, and not an alarm', () => {
    // clusters A (at the origin), B and C (4.5 apart); the model starts with components 0 and 1 halving A and 2 over B
    // and C: removing 0 or 1 costs more than splitting 2 gains, merging them gains
    const s: Scenario = {
      name: 'merge-split',
      description: '',
      d: 2,
      k: 3,
      covarianceType: 'full',
      windows: 6,
      size: 600,
      seed: 5,
      clusters: [
        { mean: () => [0, 0], cov: [1, 0, 0, 1], weight: () => 0.4 },
        { mean: () => [8, 0], cov: [1, 0, 0, 1], weight: () => 0.3 },
        { mean: () => [8, 4.5], cov: [1, 0, 0, 1], weight: () => 0.3 },
      ],
    };
    const data = generate(s);
    const initialModel = {
      format: 'emstream.gmm' as const,
      version: 1 as const,
      covarianceType: 'full' as const,
      k: 3,
      d: 2,
      weights: [0.2, 0.2, 0.6],
      means: [
        [-1.2, 0],
        [1.2, 0],
        [8, 2.25],
      ],
      covariances: [
        [
          [0.3, 0],
          [0, 1],
        ],
        [
          [0.3, 0],
          [0, 1],
        ],
        [
          [1, 0],
          [0, 6.06],
        ],
      ],
    };
    const gmm = new StreamingGmm({ k: 3, seed: 1, initialModel, restart: 'never' });
    const ari: number[] = [];
    const fits = data.windows.map((w, t) => {
      const window = { n: s.size, d: 2, data: w };
      ari.push(adjustedRandIndex(data.truth[t], new GaussianMixture(gmm.model!).predict(window)));
      return gmm.update(window);
    });
    const made = fits.findIndex((f) => f.reseeded.length > 0);
    expect(made).toBeGreaterThanOrEqual(0);
    expect(made).toBeLessThanOrEqual(1);
    expect(fits[made + 1].reverted).toEqual([]);
    expect(fits.flatMap((f) => f.drift)).toEqual([]);
    // from the window after the move on, the labels are about the true mixture's, and the component left on A has
    // A's weight at once: it took the victim's weight and history (a removal would leave it to regrow window by window)
    for (const a of ari.slice(made + 1)) expect(a).toBeGreaterThan(0.95);
    for (const f of fits.slice(made)) {
      const onA = [0, 1, 2].reduce((b, c) => (Math.hypot(f.params.means[2 * c], f.params.means[2 * c + 1]) < Math.hypot(f.params.means[2 * b], f.params.means[2 * b + 1]) ? c : b));
      expect(Math.abs(f.params.weights[onA] - 0.4)).toBeLessThan(0.015);
    }
  });

  it('a component that starts afresh takes its window share of the carried total as forgotten, not as it was', () => {
    const rng = new Rng(8);
    const prior = new SufficientStats(3, 2, 'full', [0, 0]);
    const batch = new SufficientStats(3, 2, 'full', [0, 0]);
    const x = Float64Array.from({ length: 400 * 2 }, () => rng.normal());
    const r = Float64Array.from({ length: 400 * 3 }, (_, i) => [0.5, 0.3, 0.2][i % 3]);
    prior.addBatch(x, 400, r);
    prior.scale(10);
    batch.addBatch(x, 400, r);
    const out = new SufficientStats(3, 2, 'full', [0, 0]);
    // components 0 and 1 keep a hundredth of their carried weight (their weights drifted); 2 starts afresh
    combineStats(out, prior, batch, 1, null, [0.01, 0.01, Number.NaN], batch.clone());
    const forgotten = 0.01 * (prior.s0[0] + prior.s0[1]);
    const fresh = (batch.s0[2] / batch.total()) * (forgotten / 0.8);
    expect(out.s0[0]).toBeCloseTo(0.01 * prior.s0[0] + batch.s0[0], 9);
    expect(out.s0[2]).toBeCloseTo(fresh + batch.s0[2], 9);
    // its weight is its window share (0.2), not ten times the others' as with the unforgotten total
    expect(out.s0[2] / out.total()).toBeCloseTo(0.2, 9);
    // without forgetting, the prior's own total (unchanged)
    combineStats(out, prior, batch, 1, null, [1, 1, Number.NaN], batch.clone());
    expect(out.s0[2]).toBeCloseTo((batch.s0[2] / batch.total()) * prior.total() + batch.s0[2], 9);
  });

  for (const type of ['full', 'diag', 'spherical', 'tied'] as CovarianceType[]) {
    it(`a split of ${type} statistics preserves the component's weight, first and second moments`, () => {
      const rng = new Rng(4);
      const d = 3;
      const k = 3;
      const stats = new SufficientStats(k, d, type, [0.5, -0.25, 1]);
      const x = Float64Array.from({ length: 200 * d }, () => rng.normal());
      const resp = Float64Array.from({ length: 200 * k }, (_, i) => (i % k === 0 ? 0.7 : 0.15));
      stats.addBatch(x, 200, resp);
      const before = stats.clone();
      splitComponentRow(stats, 0, 2, 0.3, [1.5, -0.5, 0.25]);
      expect(stats.s0[0] + stats.s0[2]).toBeCloseTo(before.s0[0], 10);
      expect(stats.s0[0] / before.s0[0]).toBeCloseTo(0.3, 12);
      for (let a = 0; a < d; a++) expect(stats.s1[a] + stats.s1[2 * d + a]).toBeCloseTo(before.s1[a], 9);
      const stride = stats.s2.length / (type === 'tied' ? 1 : k);
      if (type !== 'tied') for (let p = 0; p < stride; p++) expect(stats.s2[p] + stats.s2[2 * stride + p]).toBeCloseTo(before.s2[p], 9);
      else expect(Array.from(stats.s2)).toEqual(Array.from(before.s2));
      // the halves' means differ by δ (shortened only if the within covariance would not be positive definite)
      const m0 = componentMoments(stats, 0, 0).mean;
      const m2 = componentMoments(stats, 2, 0).mean;
      expect(m0[0] - m2[0]).toBeCloseTo(1.5, 9);
    });
  }
});
