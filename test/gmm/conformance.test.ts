import { describe, expect, it } from 'vitest';

import { matchComponents, permuteComponents } from '../../src/gmm/align.js';
import { fitGmm, type FitOptions } from '../../src/gmm/em.js';
import { INIT_METHODS, type InitMethod } from '../../src/gmm/init.js';
import { GaussianMixture } from '../../src/gmm/model.js';
import { COVARIANCE_TYPES, type CovarianceType, type Dataset, type GmmParams } from '../../src/gmm/types.js';

/**
 * River-style conformance suite (GUIDE §2): the same checks run over every covariance type ×
 * initialisation method. The reference for recovery is the generating mixture itself: data is
 * drawn with `GaussianMixture.sample` from known parameters.
 */

/** A known, well-separated 3-component mixture in 2-D with the layout of `type`. */
function truth(type: CovarianceType): GmmParams {
  const weights = Float64Array.of(0.5, 0.3, 0.2);
  const means = Float64Array.of(0, 0, 8, 1, 2, 9);
  let covariances: Float64Array;
  switch (type) {
    case 'full':
      covariances = Float64Array.of(1, 0.4, 0.4, 0.8, 0.6, -0.2, -0.2, 1.1, 1.4, 0.5, 0.5, 0.7);
      break;
    case 'tied':
      covariances = Float64Array.of(1, 0.3, 0.3, 0.7);
      break;
    case 'diag':
      covariances = Float64Array.of(1, 0.5, 0.6, 1.2, 1.5, 0.8);
      break;
    case 'spherical':
      covariances = Float64Array.of(1, 0.6, 1.3);
      break;
  }
  return { k: 3, d: 2, covarianceType: type, weights, means, covariances };
}

const bits = (a: Float64Array): string => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

/** Mixture samples per type, shared by the tests (sampling is deterministic). */
const samples = new Map<CovarianceType, Dataset>(
  COVARIANCE_TYPES.map((t) => [t, new GaussianMixture(truth(t)).sample(1500, 11).data] as const),
);

describe.each(COVARIANCE_TYPES)('conformance: %s covariance', (type) => {
  const data = samples.get(type)!;

  describe.each(INIT_METHODS as InitMethod[])('init %s', (init) => {
    const base: FitOptions = { k: 3, covarianceType: type, init, restarts: 3, seed: 42 };

    it('same seed → bit-identical parameters and candidates', () => {
      const a = fitGmm(data, base);
      const b = fitGmm(data, base);
      expect(bits(b.params.weights)).toBe(bits(a.params.weights));
      expect(bits(b.params.means)).toBe(bits(a.params.means));
      expect(bits(b.params.covariances)).toBe(bits(a.params.covariances));
      expect(b.candidates).toEqual(a.candidates);
      expect(b.history).toEqual(a.history);
      expect(b.selected).toBe(a.selected);
      expect(Object.is(a.logLikelihood, b.logLikelihood)).toBe(true);
    });

    it('different seeds are allowed to differ, and each gives a valid fit', () => {
      const starts: string[] = [];
      for (const seed of [1, 2]) {
        const r = fitGmm(data, { ...base, seed, tol: 0, maxIterations: 3 });
        starts.push(JSON.stringify(r.candidates.map((c) => c.logLikelihood)));
        expect(r.candidates).toHaveLength(3);
        expect(r.params.weights.reduce((s, w) => s + w, 0)).toBeCloseTo(1, 12);
        for (const v of [...r.params.means, ...r.params.covariances]) expect(Number.isFinite(v)).toBe(true);
      }
      // Random responsibilities always depend on the seed (the k-means-based starts may land on
      // the same partition, hence the same parameters, from different seeds).
      if (init === 'random') expect(starts[1]).not.toBe(starts[0]);
    });

    it('recovers the generating means (after matching components)', () => {
      const t = truth(type);
      // From 'random' (random responsibilities, as scikit-learn's) every component starts near
      // the global mean: a plateau where the default tol 1e-3 stops EM after 2 iterations, and
      // tied EM needs ~300 iterations to leave it. So 'random' runs a fixed 400 iterations.
      const r = fitGmm(data, init === 'random' ? { ...base, tol: 0, maxIterations: 400 } : { ...base, tol: 1e-6, maxIterations: 500 });
      const perm = matchComponents(t, r.params);
      const aligned = permuteComponents(r.params, perm);
      // 1500 points, unit-scale covariances: the standard error of a mean is ≈ 0.05.
      for (let i = 0; i < t.means.length; i++) expect(Math.abs(aligned.means[i] - t.means[i])).toBeLessThan(0.2);
      for (let c = 0; c < 3; c++) expect(Math.abs(aligned.weights[c] - t.weights[c])).toBeLessThan(0.04);
      for (let i = 0; i < t.covariances.length; i++) expect(Math.abs(aligned.covariances[i] - t.covariances[i])).toBeLessThan(0.25);
    });

    it('restarts: 5 candidates with both objectives, exactly one selected, the maximiser of the selection objective', () => {
      for (const select of ['expected', 'marginal'] as const) {
        const r = fitGmm(data, { ...base, restarts: 5, select, seed: 3 });
        expect(r.candidates).toHaveLength(5);
        expect(r.candidates.map((c) => c.index)).toEqual([0, 1, 2, 3, 4]);
        for (const c of r.candidates) {
          expect(Number.isFinite(c.logLikelihood)).toBe(true);
          expect(Number.isFinite(c.expectedLogLikelihood)).toBe(true);
          expect(c.init).toBe(init);
          expect(c.iterations).toBeGreaterThanOrEqual(1);
        }
        expect(r.candidates.filter((c) => c.selected)).toHaveLength(1);
        const chosen = r.candidates[r.selected];
        expect(chosen.selected).toBe(true);
        const key = select === 'expected' ? 'expectedLogLikelihood' : 'logLikelihood';
        expect(chosen[key]).toBe(Math.max(...r.candidates.map((c) => c[key])));
        // the reported run is the selected candidate's
        expect(r.logLikelihood).toBe(chosen.logLikelihood);
        expect(r.expectedLogLikelihood).toBe(chosen.expectedLogLikelihood);
        expect(r.iterations).toBe(chosen.iterations);
        expect(r.options.select).toBe(select);
      }
    });

    it('expected ≤ marginal log-likelihood for soft EM (Q = ℓ − H, H ≥ 0)', () => {
      const r = fitGmm(data, { ...base, restarts: 4 });
      for (const c of r.candidates) expect(c.expectedLogLikelihood).toBeLessThanOrEqual(c.logLikelihood + 1e-12 * Math.abs(c.logLikelihood));
      // and on the model: expectedScore ≤ score
      const m = new GaussianMixture(r.params);
      expect(m.expectedScore(data)).toBeLessThanOrEqual(m.score(data) + 1e-12);
      expect(m.expectedScore(data)).toBeCloseTo(r.expectedLogLikelihood, 12);
    });

    it('tol 0 runs exactly maxIterations', () => {
      const r = fitGmm(data, { ...base, restarts: 2, tol: 0, maxIterations: 7 });
      expect(r.iterations).toBe(7);
      expect(r.history).toHaveLength(7);
      expect(r.converged).toBe(false);
      for (const c of r.candidates) {
        expect(c.iterations).toBe(7);
        expect(c.converged).toBe(false);
      }
    });

    it('predict / predictProba / scoreSamples / score / bic / aic are consistent', () => {
      const r = fitGmm(data, base);
      const m = new GaussianMixture(r.params);
      const n = data.n;
      const proba = m.predictProba(data);
      const labels = m.predict(data);
      const logp = m.scoreSamples(data);
      expect(proba).toHaveLength(n * 3);
      for (let i = 0; i < n; i++) {
        let s = 0;
        let best = 0;
        for (let c = 0; c < 3; c++) {
          const p = proba[i * 3 + c];
          expect(p).toBeGreaterThanOrEqual(0);
          expect(p).toBeLessThanOrEqual(1);
          s += p;
          if (p > proba[i * 3 + best]) best = c;
        }
        expect(Math.abs(s - 1)).toBeLessThan(1e-12);
        expect(labels[i]).toBe(best);
      }
      const mean = logp.reduce((a, b) => a + b, 0) / n;
      expect(m.score(data)).toBeCloseTo(mean, 12);
      expect(m.score(data)).toBeCloseTo(r.logLikelihood, 12);
      const p = m.nParameters();
      const expectedP = { full: 3 * 3 + 6 + 2, diag: 6 + 6 + 2, spherical: 3 + 6 + 2, tied: 3 + 6 + 2 }[type];
      expect(p).toBe(expectedP);
      expect(m.bic(data) - m.aic(data)).toBeCloseTo(p * (Math.log(n) - 2), 8);
      expect(m.bic(data)).toBeCloseTo(-2 * n * m.score(data) + p * Math.log(n), 8);
      // nested-array input gives the same answers as a Dataset
      const rows = Array.from({ length: 20 }, (_, i) => Array.from(data.data.subarray(i * 2, i * 2 + 2)));
      expect(Array.from(m.scoreSamples(rows))).toEqual(Array.from(logp.subarray(0, 20)));
    });
  });

  it('sample(n, seed) is reproducible and its empirical moments approach the parameters (n = 20000)', () => {
    const t = truth(type);
    const model = new GaussianMixture(t);
    const a = model.sample(500, 5);
    const b = model.sample(500, 5);
    expect(bits(a.data.data)).toBe(bits(b.data.data));
    expect(Array.from(a.labels)).toEqual(Array.from(b.labels));
    expect(bits(model.sample(500, 6).data.data)).not.toBe(bits(a.data.data));

    const n = 20000;
    const { data, labels } = model.sample(n, 123);
    expect(data.n).toBe(n);
    expect(data.d).toBe(2);
    const count = [0, 0, 0];
    const sum = new Float64Array(6);
    for (let i = 0; i < n; i++) {
      const z = labels[i];
      count[z]++;
      sum[z * 2] += data.data[i * 2];
      sum[z * 2 + 1] += data.data[i * 2 + 1];
    }
    const mean = sum.map((s, j) => s / count[Math.floor(j / 2)]);
    const cov = new Float64Array(12); // K×2×2 per-component sample covariances
    for (let i = 0; i < n; i++) {
      const z = labels[i];
      const dx = data.data[i * 2] - mean[z * 2];
      const dy = data.data[i * 2 + 1] - mean[z * 2 + 1];
      cov[z * 4] += dx * dx;
      cov[z * 4 + 1] += dx * dy;
      cov[z * 4 + 2] += dx * dy;
      cov[z * 4 + 3] += dy * dy;
    }
    for (let z = 0; z < 3; z++) for (let j = 0; j < 4; j++) cov[z * 4 + j] /= count[z];
    // weights: binomial standard error ≤ 0.0036; means and covariances: ≤ 0.02 and ≤ 0.03.
    for (let z = 0; z < 3; z++) expect(Math.abs(count[z] / n - t.weights[z])).toBeLessThan(0.015);
    for (let j = 0; j < 6; j++) expect(Math.abs(mean[j] - t.means[j])).toBeLessThan(0.06);
    const expectedCov = new Float64Array(12);
    for (let z = 0; z < 3; z++) {
      const c = t.covariances;
      const m =
        type === 'full'
          ? [c[z * 4], c[z * 4 + 1], c[z * 4 + 2], c[z * 4 + 3]]
          : type === 'tied'
            ? [c[0], c[1], c[2], c[3]]
            : type === 'diag'
              ? [c[z * 2], 0, 0, c[z * 2 + 1]]
              : [c[z], 0, 0, c[z]];
      expectedCov.set(m, z * 4);
    }
    for (let j = 0; j < 12; j++) expect(Math.abs(cov[j] - expectedCov[j])).toBeLessThan(0.1);
  });
});
