import fc from 'fast-check';
import { CholeskyDecomposition, inverse, Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';

import { fitGmm, runEM } from '../../src/gmm/em.js';
import { EStepScratch, eStep, precompute, type EStepOutputs, type Precomputed } from '../../src/gmm/estep.js';
import { dataMean, initialise, INIT_METHODS } from '../../src/gmm/init.js';
import { cholesky, precisionFactor } from '../../src/gmm/linalg.js';
import { GaussianMixture } from '../../src/gmm/model.js';
import { Rng } from '../../src/gmm/rng.js';
import { SufficientStats } from '../../src/gmm/stats.js';
import { COVARIANCE_TYPES, covarianceSize, type CovarianceType, type Dataset, type GmmParams } from '../../src/gmm/types.js';

/**
 * Property-based checks of the numeric core (River-style conformance, GUIDE §2–3): every
 * property runs over random small data sets (n 20..200, d 1..6, k 1..4) and all four covariance
 * types. Runs are reproducible: every `fc.assert` has a fixed `seed`.
 */

const SEED = 20240611;

interface Case {
  readonly n: number;
  readonly d: number;
  readonly k: number;
  readonly type: CovarianceType;
  readonly seed: number;
}

const caseArb: fc.Arbitrary<Case> = fc.record({
  n: fc.integer({ min: 20, max: 200 }),
  d: fc.integer({ min: 1, max: 6 }),
  k: fc.integer({ min: 1, max: 4 }),
  type: fc.constantFrom(...COVARIANCE_TYPES),
  seed: fc.integer({ min: 0, max: 0x7fffffff }),
});

/**
 * A mixture of well-separated-ish blobs plus noise: `blobs` centres drawn N(0, 4²·I), each point
 * from a random blob with a random per-axis scale in [0.3, 1.3], and 5 % uniform noise over
 * the bounding box [-12, 12]^d.
 */
function makeData(c: { n: number; d: number; seed: number }, blobs = 3): Dataset {
  const rng = new Rng(c.seed);
  const { n, d } = c;
  const centres = Float64Array.from({ length: blobs * d }, () => 4 * rng.normal());
  const scales = Float64Array.from({ length: blobs * d }, () => 0.3 + rng.uniform());
  const data = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    if (rng.uniform() < 0.05) {
      for (let a = 0; a < d; a++) data[i * d + a] = 24 * rng.uniform() - 12;
      continue;
    }
    const z = rng.int(blobs);
    for (let a = 0; a < d; a++) data[i * d + a] = centres[z * d + a] + scales[z * d + a] * rng.normal();
  }
  return { n, d, data };
}

/** Random responsibilities: N×K rows on the simplex (some exact zeros, as under hard EM). */
function randomResp(n: number, k: number, rng: Rng): Float64Array {
  const r = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < k; c++) {
      const u = rng.uniform();
      const v = u < 0.15 ? 0 : u;
      r[i * k + c] = v;
      s += v;
    }
    if (s === 0) {
      r[i * k] = 1;
      s = 1;
    }
    for (let c = 0; c < k; c++) r[i * k + c] /= s;
  }
  return r;
}

/** Is every covariance symmetric positive definite (full/tied: ml-matrix Cholesky; diag/spherical: > 0)? */
function expectValidCovariances(p: GmmParams): void {
  const { k, d, covarianceType: type, covariances } = p;
  expect(covariances.length).toBe(covarianceSize(type, k, d));
  if (type === 'diag' || type === 'spherical') {
    for (const v of covariances) {
      expect(Number.isFinite(v)).toBe(true);
      expect(v).toBeGreaterThan(0);
    }
    return;
  }
  const blocks = type === 'tied' ? 1 : k;
  for (let b = 0; b < blocks; b++) {
    const m = new Matrix(d, d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j < d; j++) {
        const v = covariances[b * d * d + i * d + j];
        expect(v).toBe(covariances[b * d * d + j * d + i]);
        m.set(i, j, v);
      }
    }
    expect(new CholeskyDecomposition(m).isPositiveDefinite()).toBe(true);
  }
}

function expectValidWeights(p: GmmParams): void {
  let s = 0;
  for (const w of p.weights) {
    expect(w).toBeGreaterThanOrEqual(0);
    s += w;
  }
  expect(Math.abs(s - 1)).toBeLessThanOrEqual(1e-12);
}

/** |a − b| ≤ rtol·(|b| + floor) elementwise. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, floor = 0): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    const allowed = rtol * (Math.abs(expected[i]) + floor);
    if (!(err <= allowed)) {
      throw new Error(`entry ${i}: ${actual[i]} vs ${expected[i]} (|Δ| = ${err} > ${allowed})`);
    }
  }
}

/** Bitwise equality of two float arrays (distinguishes −0 and +0; NaN payloads too). */
function expectBitIdentical(a: Float64Array | Int32Array, b: Float64Array | Int32Array, what: string): void {
  const ba = Buffer.from(a.buffer, a.byteOffset, a.byteLength);
  const bb = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (!ba.equals(bb)) {
    const i = Array.from(a).findIndex((v, j) => !Object.is(v, b[j]));
    throw new Error(`${what} differ at ${i}: ${a[i]} vs ${b[i]}`);
  }
}

function initFor(data: Dataset, c: Case, method: (typeof INIT_METHODS)[number] = 'kmeans++'): GmmParams {
  return initialise(data, method, { k: c.k, covarianceType: c.type, regCovar: 1e-6, rng: new Rng(c.seed ^ 0x5bd1e995), shift: dataMean(data) });
}

describe('properties of the fitted parameters', () => {
  it('weights sum to 1 and are ≥ 0; covariances are symmetric positive definite', () => {
    fc.assert(
      fc.property(caseArb, fc.constantFrom(...INIT_METHODS), (c, init) => {
        const data = makeData(c);
        const fit = fitGmm(data, { k: c.k, covarianceType: c.type, init, seed: c.seed, maxIterations: 40 });
        expectValidWeights(fit.params);
        expectValidCovariances(fit.params);
        for (const v of fit.params.means) expect(Number.isFinite(v)).toBe(true);
      }),
      { seed: SEED, numRuns: 60 },
    );
  });

  /*
   * EM never decreases the marginal log-likelihood (Dempster, Laird & Rubin 1977): ℓ(θ_{t+1}) ≥ ℓ(θ_t).
   * Slack 1e-9·|ℓ| covers rounding and two deliberate departures from the exact M-step: regCovar
   * added to the diagonal and the 10ε added to every N_k (both make θ_{t+1} a slightly
   * non-maximising point of Q). A run that re-seeded a component is exempt: re-seeding replaces
   * a component by a new one at the worst-explained point, an arbitrary jump outside EM, which
   * can lower ℓ (that is its purpose: leave a degenerate fixed point).
   */
  it('the log-likelihood never decreases across batch EM iterations (tol 0)', () => {
    let checked = 0;
    fc.assert(
      fc.property(caseArb, fc.constantFrom(...INIT_METHODS), (c, init) => {
        const data = makeData(c);
        const start = initFor(data, c, init);
        const run = runEM(data, start, { maxIterations: 30, tol: 0, regCovar: 1e-6, mode: 'soft' });
        expect(run.iterations).toBe(30);
        expect(run.history).toHaveLength(30);
        if (run.reseeded > 0) return;
        checked++;
        const h = [...run.history, run.logLikelihood];
        for (let t = 1; t < h.length; t++) {
          const slack = 1e-9 * Math.abs(h[t - 1]);
          if (!(h[t] >= h[t - 1] - slack)) {
            throw new Error(`ℓ decreased at iteration ${t}: ${h[t - 1]} → ${h[t]} (Δ = ${h[t] - h[t - 1]})`);
          }
        }
      }),
      { seed: SEED + 1, numRuns: 60 },
    );
    expect(checked).toBeGreaterThan(30);
  });
});

describe('EM that ends at the converged E-step (the streaming schedule)', () => {
  /**
   * With `endOnConvergedEStep`, the run is the batch schedule cut short: the same iterations up to the E-step that
   * converges, whose parameters, statistics, labels and log-likelihoods are the result. So it returns exactly the
   * parameters of the batch run stopped one M-step earlier, and its outputs are an E-step of those parameters.
   */
  it('returns the parameters the converged E-step scored, with that E-step\'s statistics and labels', () => {
    let checked = 0;
    fc.assert(
      fc.property(caseArb, (c) => {
        const data = makeData(c);
        const start = initFor(data, c, 'kmeans');
        const opts = { maxIterations: 100, tol: 1e-3, regCovar: 1e-6, mode: 'soft' as const };
        const batch = runEM(data, start, opts);
        if (!batch.converged || batch.reseeded > 0) return;
        const labels = new Int32Array(c.n);
        const early = runEM(data, start, { ...opts, endOnConvergedEStep: true }, { labels });
        expect(early.converged).toBe(true);
        // One M-step fewer; the same E-steps up to the converged one.
        expect(early.iterations).toBe(batch.iterations - 1);
        expect(early.history).toEqual(batch.history);
        const cut = runEM(data, start, { ...opts, tol: 0, maxIterations: Math.max(1, batch.iterations - 1) });
        if (batch.iterations > 1) expect(Array.from(early.params.means)).toEqual(Array.from(cut.params.means));
        // Its statistics, log-likelihood and labels are an E-step of the parameters it returns.
        const pre = precompute(early.params);
        if (!pre.ok) throw new Error('returned parameters do not factor');
        const stats = new SufficientStats(c.k, c.d, c.type, early.batchStats.shift);
        const want = new Int32Array(c.n);
        const sums = eStep(pre.value, data.data, c.n, false, stats, { labels: want });
        expect(early.logLikelihood).toBe(sums.logLikelihood / c.n);
        expect(early.expectedLogLikelihood).toBe(sums.expected / c.n);
        expect(Array.from(early.batchStats.s1)).toEqual(Array.from(stats.s1));
        expect(Array.from(labels)).toEqual(Array.from(want));
        checked++;
      }),
      { seed: SEED + 7, numRuns: 60 },
    );
    expect(checked).toBeGreaterThan(30);
  });
});

describe('sufficient statistics are additive and scalable', () => {
  /**
   * The union accumulator and the merged one sum the same terms in a different order; the
   * shift change adds s0·δδᵀ + δ s1ᵀ + s1 δᵀ, whose rounding is relative to the size of the
   * summands, not of the (possibly cancelling) sums. So the floor of the tolerance is the sum
   * of the absolute summands: W·R for s1 and W·R² for s2 (W total weight, R the largest
   * |x − c| over the points and origins involved).
   */
  function compareStats(a: SufficientStats, b: SufficientStats, w: number, r: number): void {
    expectClose(a.s0, b.s0, 1e-10, w);
    expectClose(a.s1, b.s1, 1e-10, w * r);
    expectClose(a.s2, b.s2, 1e-10, w * r * r);
  }

  function spread(data: Dataset, ...origins: Float64Array[]): number {
    let r = 1;
    for (const o of origins) for (let i = 0; i < data.n * data.d; i++) r = Math.max(r, Math.abs(data.data[i] - o[i % data.d]));
    return r;
  }

  const mergeArb = fc.record({
    c: caseArb,
    cut: fc.double({ min: 0.1, max: 0.9, noNaN: true }),
    alpha: fc.double({ min: 0, max: 1, noNaN: true }),
    beta: fc.double({ min: 0.01, max: 2, noNaN: true }),
    offset: fc.double({ min: -5, max: 5, noNaN: true }),
  });

  it('merge(A, B) equals accumulating A ∪ B, with equal or different shifts; scale then merge equals the weighted union', () => {
    fc.assert(
      fc.property(mergeArb, ({ c, cut, alpha, beta, offset }) => {
        const data = makeData(c);
        const { n, d, k } = { ...data, k: c.k };
        const rng = new Rng(c.seed + 1);
        const resp = randomResp(n, k, rng);
        const m = Math.max(1, Math.min(n - 1, Math.round(cut * n)));
        const a = { data: data.data.subarray(0, m * d), resp: resp.subarray(0, m * k) };
        const b = { data: data.data.subarray(m * d), resp: resp.subarray(m * k) };
        const mean = dataMean(data);
        const other = Float64Array.from(mean, (v, j) => v + offset * (j + 1));
        const r = spread(data, mean, other);
        const W = n;

        const union = new SufficientStats(k, d, c.type, mean).addBatch(data.data, n, resp);

        // same shift
        const sa = new SufficientStats(k, d, c.type, mean).addBatch(a.data, m, a.resp);
        const sb = new SufficientStats(k, d, c.type, mean).addBatch(b.data, n - m, b.resp);
        compareStats(sa.clone().merge(sb), union, W, r);
        // merge is symmetric up to rounding
        compareStats(sb.clone().merge(sa), union, W, r);

        // different shifts: B accumulated about `other`, merged into A's origin (and the reverse)
        const sbOther = new SufficientStats(k, d, c.type, other).addBatch(b.data, n - m, b.resp);
        compareStats(sa.clone().merge(sbOther), union, W, r);
        const saOther = new SufficientStats(k, d, c.type, other).addBatch(a.data, m, a.resp);
        const unionOther = new SufficientStats(k, d, c.type, other).addBatch(data.data, n, resp);
        compareStats(saOther.clone().merge(sb), unionOther, W, r);

        // scale then merge == weighted union (responsibilities of A scaled by alpha, of B by beta)
        const weighted = Float64Array.from(resp, (v, i) => v * (i < m * k ? alpha : beta));
        const wUnion = new SufficientStats(k, d, c.type, mean).addBatch(data.data, n, weighted);
        compareStats(sa.clone().scale(alpha).merge(sbOther.clone().scale(beta)), wUnion, W * Math.max(alpha, beta, 1e-300), r);
        // merge(other, factor) is the same as merge(other.scale(factor))
        compareStats(sa.clone().scale(alpha).merge(sbOther, beta), wUnion, W * Math.max(alpha, beta, 1e-300), r);
      }),
      { seed: SEED + 2, numRuns: 150 },
    );
  });
});

describe('point order does not matter', () => {
  it('permuting the points gives the same parameters from the same initial parameters (1e-9)', () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: 0, max: 1 << 30 }), (c, permSeed) => {
        const data = makeData(c);
        const start = initFor(data, c);
        const rng = new Rng(permSeed);
        const perm = Array.from({ length: c.n }, (_, i) => i);
        for (let i = c.n - 1; i > 0; i--) {
          const j = rng.int(i + 1);
          [perm[i], perm[j]] = [perm[j], perm[i]];
        }
        const permuted = new Float64Array(c.n * c.d);
        perm.forEach((src, i) => permuted.set(data.data.subarray(src * c.d, src * c.d + c.d), i * c.d));
        const opts = { maxIterations: 20, tol: 0, regCovar: 1e-6, mode: 'soft' as const };
        const r1 = runEM(data, start, opts);
        const r2 = runEM({ n: c.n, d: c.d, data: permuted }, start, opts);
        // Re-seeding picks extra points with rng.int(n): an index, which permuting changes.
        fc.pre(r1.reseeded === 0 && r2.reseeded === 0);
        expectClose(r2.params.weights, r1.params.weights, 1e-9, 1e-3);
        let scale = 1;
        for (const v of r1.params.means) scale = Math.max(scale, Math.abs(v));
        expectClose(r2.params.means, r1.params.means, 1e-9, scale);
        let cscale = 0;
        for (const v of r1.params.covariances) cscale = Math.max(cscale, Math.abs(v));
        expectClose(r2.params.covariances, r1.params.covariances, 1e-9, cscale);
        expectClose([r2.logLikelihood, r2.expectedLogLikelihood], [r1.logLikelihood, r1.expectedLogLikelihood], 1e-9);
      }),
      { seed: SEED + 3, numRuns: 60 },
    );
  });
});

describe('serialisation round-trips exactly', () => {
  it('GaussianMixture: toJSON/fromJSON and JSON.stringify → JSON.parse → fromJSON', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const data = makeData(c);
        const { model } = GaussianMixture.fit(data, { k: c.k, covarianceType: c.type, seed: c.seed, maxIterations: 20 });
        const direct = GaussianMixture.fromJSON(model.toJSON());
        const viaText = GaussianMixture.fromJSON(JSON.parse(JSON.stringify(model)));
        for (const back of [direct, viaText]) {
          expect(back.k).toBe(model.k);
          expect(back.d).toBe(model.d);
          expect(back.covarianceType).toBe(model.covarianceType);
          expectBitIdentical(back.params.weights, model.params.weights, 'weights');
          expectBitIdentical(back.params.means, model.params.means, 'means');
          expectBitIdentical(back.params.covariances, model.params.covariances, 'covariances');
          expect(back.toJSON()).toEqual(model.toJSON());
          expectBitIdentical(back.scoreSamples(data), model.scoreSamples(data), 'scoreSamples');
        }
      }),
      { seed: SEED + 4, numRuns: 40 },
    );
  });

  it('SufficientStats: toJSON/fromJSON and JSON.stringify → JSON.parse → fromJSON', () => {
    fc.assert(
      fc.property(caseArb, fc.double({ min: -3, max: 3, noNaN: true }), (c, offset) => {
        const data = makeData(c);
        const shift = Float64Array.from(dataMean(data), (v) => v + offset);
        const stats = new SufficientStats(c.k, c.d, c.type, shift).addBatch(data.data, c.n, randomResp(c.n, c.k, new Rng(c.seed)));
        const direct = SufficientStats.fromJSON(stats.toJSON());
        const viaText = SufficientStats.fromJSON(JSON.parse(JSON.stringify(stats)));
        for (const back of [direct, viaText]) {
          expect([back.k, back.d, back.covarianceType]).toEqual([stats.k, stats.d, stats.covarianceType]);
          expectBitIdentical(back.shift, stats.shift, 'shift');
          expectBitIdentical(back.s0, stats.s0, 's0');
          expectBitIdentical(back.s1, stats.s1, 's1');
          expectBitIdentical(back.s2, stats.s2, 's2');
        }
      }),
      { seed: SEED + 5, numRuns: 60 },
    );
  });
});

describe('compiled (unrolled) E-step pass vs the generic kernels', () => {
  /** Random parameters for d up to 16 (the largest unrolled dimension), built directly. */
  function randomParams(k: number, d: number, type: CovarianceType, rng: Rng): GmmParams {
    const w = Float64Array.from({ length: k }, () => 0.05 + rng.uniform());
    const s = w.reduce((a, b) => a + b, 0);
    for (let i = 0; i < k; i++) w[i] /= s;
    const means = Float64Array.from({ length: k * d }, () => 3 * rng.normal());
    const covariances = new Float64Array(covarianceSize(type, k, d));
    const spd = (off: number): void => {
      const a = Float64Array.from({ length: d * d }, () => rng.normal());
      for (let i = 0; i < d; i++) {
        for (let j = 0; j < d; j++) {
          let v = 0;
          for (let t = 0; t < d; t++) v += a[i * d + t] * a[j * d + t];
          covariances[off + i * d + j] = v / d + (i === j ? 0.3 : 0);
        }
      }
    };
    if (type === 'full') for (let c = 0; c < k; c++) spd(c * d * d);
    else if (type === 'tied') spd(0);
    else for (let i = 0; i < covariances.length; i++) covariances[i] = 0.2 + 2 * rng.uniform();
    return { k, d, covarianceType: type, weights: w, means, covariances };
  }

  function run(pre: Precomputed, data: Dataset, hard: boolean, shift: Float64Array, unrolled: boolean) {
    const { n } = data;
    const { k, d } = pre;
    const stats = new SufficientStats(k, d, pre.covarianceType, shift);
    const out: Required<Omit<EStepOutputs, 'exactTails'>> = {
      resp: new Float64Array(n * k),
      logDensity: new Float64Array(n),
      labels: new Int32Array(n),
      maxProb: new Float64Array(n),
    };
    const sums = eStep(pre, data.data, n, hard, stats, out, new EStepScratch(k, d), unrolled);
    // also without statistics (the scoring path)
    const bare = eStep(pre, data.data, n, hard, null, {}, new EStepScratch(k, d), unrolled);
    return { sums, stats, out, bare };
  }

  const passArb = fc.record({
    n: fc.integer({ min: 1, max: 120 }),
    d: fc.integer({ min: 1, max: 16 }),
    k: fc.integer({ min: 1, max: 5 }),
    type: fc.constantFrom(...COVARIANCE_TYPES),
    hard: fc.boolean(),
    seed: fc.integer({ min: 0, max: 0x7fffffff }),
  });

  it('gives bit-identical sums, statistics and outputs (every covariance type, d ≤ 16, soft and hard)', () => {
    fc.assert(
      fc.property(passArb, (c) => {
        const rng = new Rng(c.seed);
        const params = randomParams(c.k, c.d, c.type, rng);
        const data = makeData({ n: c.n, d: c.d, seed: c.seed + 7 });
        const pre = precompute(params);
        if (!pre.ok) throw new Error('random parameters must be positive definite');
        const shift = Float64Array.from({ length: c.d }, () => rng.normal());
        const g = run(pre.value, data, c.hard, shift, false);
        const u = run(pre.value, data, c.hard, shift, true);
        for (const [x, y] of [
          [g.sums, u.sums],
          [g.bare, u.bare],
        ] as const) {
          expect(Object.is(x.logLikelihood, y.logLikelihood)).toBe(true);
          expect(Object.is(x.expected, y.expected)).toBe(true);
          expect(x.worst).toBe(y.worst);
        }
        expect(Object.is(g.sums.logLikelihood, g.bare.logLikelihood)).toBe(true);
        expectBitIdentical(u.stats.s0, g.stats.s0, 's0');
        expectBitIdentical(u.stats.s1, g.stats.s1, 's1');
        expectBitIdentical(u.stats.s2, g.stats.s2, 's2');
        expectBitIdentical(u.out.resp, g.out.resp, 'resp');
        expectBitIdentical(u.out.logDensity, g.out.logDensity, 'logDensity');
        expectBitIdentical(u.out.labels, g.out.labels, 'labels');
        expectBitIdentical(u.out.maxProb, g.out.maxProb, 'maxProb');
      }),
      { seed: SEED + 6, numRuns: 200 },
    );
  });

  it('covers every (covariance type, d) pair from 1 to 16 at least once', () => {
    const rng = new Rng(99);
    for (const type of COVARIANCE_TYPES) {
      for (let d = 1; d <= 16; d++) {
        const k = 1 + (d % 4);
        const params = randomParams(k, d, type, rng);
        const pre = precompute(params);
        if (!pre.ok) throw new Error('random parameters must be positive definite');
        const data = makeData({ n: 37, d, seed: d * 31 });
        const shift = dataMean(data);
        for (const hard of [false, true]) {
          const g = run(pre.value, data, hard, shift, false);
          const u = run(pre.value, data, hard, shift, true);
          expect(Object.is(u.sums.logLikelihood, g.sums.logLikelihood)).toBe(true);
          expect(Object.is(u.sums.expected, g.sums.expected)).toBe(true);
          expect(u.sums.worst).toBe(g.sums.worst);
          expectBitIdentical(u.stats.s1, g.stats.s1, `s1 ${type} d=${d}`);
          expectBitIdentical(u.stats.s2, g.stats.s2, `s2 ${type} d=${d}`);
          expectBitIdentical(u.out.resp, g.out.resp, `resp ${type} d=${d}`);
        }
      }
    }
  });
});

describe('the precision factor W = L⁻¹ of a full covariance', () => {
  /** Column-by-column forward substitution, L·x = e_j for each j: the textbook order of the sums. */
  function invertByColumns(l: Float64Array, d: number): Float64Array {
    const out = new Float64Array(d * d);
    for (let j = 0; j < d; j++) {
      for (let i = j; i < d; i++) {
        let s = i === j ? 1 : 0;
        for (let p = j; p < i; p++) s -= l[i * d + p] * out[p * d + j];
        out[i * d + j] = s / l[i * d + i];
      }
    }
    return out;
  }

  it('is the inverse of the Cholesky factor (ml-matrix), bit for bit the column-by-column substitution, for D up to 40', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 2 ** 30 }), (d, seed) => {
        const rng = new Rng(seed);
        const b = Float64Array.from({ length: d * d }, () => rng.normal());
        const cov = new Float64Array(d * d);
        for (let i = 0; i < d; i++) {
          for (let j = 0; j < d; j++) {
            let s = i === j ? 0.5 : 0;
            for (let k = 0; k < d; k++) s += b[i * d + k] * b[j * d + k];
            cov[i * d + j] = s;
          }
        }
        const w = new Float64Array(d * d + 3).fill(Number.NaN);
        const logDet = precisionFactor(cov, d, 0, w, 3);
        expect(Array.from(w.subarray(3))).toEqual(Array.from(invertByColumns(cholesky(cov, d)!, d)));
        const lower = new CholeskyDecomposition(new Matrix(Array.from({ length: d }, (_, i) => Array.from(cov.subarray(i * d, i * d + d))))).lowerTriangularMatrix;
        expectClose(w.subarray(3), Float64Array.from(inverse(lower).to1DArray()), 1e-7, 1);
        let halfLogDet = 0;
        for (let i = 0; i < d; i++) halfLogDet += Math.log(lower.get(i, i));
        expect(logDet).toBeCloseTo(-halfLogDet, 8);
      }),
      { seed: SEED, numRuns: 60 },
    );
  });
});
