/**
 * The divergence kernels per covariance type (`divergence.ts`, reached through `COVARIANCE[type].divergence`
 * and `distance.ts`) against the dense computation: every covariance expanded to D×D, inverted and its
 * determinant taken by ml-matrix (LU), the textbook formulas applied. Closed forms for diag and spherical,
 * one factor per component for full and tied, must agree to ~1e-10 for every type, metric and D, also
 * between mixtures of different covariance types.
 */
import { CholeskyDecomposition, Matrix, inverse } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { COVARIANCE } from '../../src/gmm/covariance.js';
import {
  COMPONENT_METRICS,
  componentCovariance,
  componentDistance,
  componentDistanceMatrix,
  componentMean,
  matchedMixtureDistance,
  minCostAssignment,
  variationalKL,
  type ComponentMetric,
} from '../../src/gmm/distance.js';
import { permuteComponents } from '../../src/gmm/align.js';
import { mostRedundantPair } from '../../src/gmm/birthDeath.js';
import { eStep, precompute } from '../../src/gmm/estep.js';
import { COVARIANCE_TYPES, type CovarianceType, type GmmParams } from '../../src/gmm/types.js';
import { randomMixture, seededUniform } from '../helpers/random.js';

const toMatrix = (flat: Float64Array, d: number): Matrix => Matrix.from1DArray(d, d, Array.from(flat));

/** ln det of an SPD matrix from ml-matrix's Cholesky (no overflow of the determinant at larger D). */
function logDet(m: Matrix): number {
  const l = new CholeskyDecomposition(m).lowerTriangularMatrix;
  let s = 0;
  for (let i = 0; i < m.rows; i++) s += 2 * Math.log(l.get(i, i));
  return s;
}

function quad(m: Matrix, v: Float64Array): number {
  const x = Matrix.columnVector(Array.from(v));
  return x.transpose().mmul(inverse(m)).mmul(x).get(0, 0);
}

/** The dense reference of each metric between two Gaussians (ml-matrix inverse and Cholesky log-determinants). */
function dense(metric: ComponentMetric | 'kl', ma: Float64Array, ca: Float64Array, mb: Float64Array, cb: Float64Array, d: number): number {
  const sa = toMatrix(ca, d);
  const sb = toMatrix(cb, d);
  const delta = Float64Array.from(ma, (x, i) => x - mb[i]);
  const kl = (s1: Matrix, s2: Matrix): number => 0.5 * (inverse(s2).mmul(s1).trace() + quad(s2, delta) - d + logDet(s2) - logDet(s1));
  switch (metric) {
    case 'bhattacharyya': {
      const s = Matrix.add(sa, sb).mul(0.5);
      return quad(s, delta) / 8 + 0.5 * (logDet(s) - 0.5 * (logDet(sa) + logDet(sb)));
    }
    case 'kl':
      return kl(sa, sb);
    case 'symmetric-kl':
      return kl(sa, sb) + kl(sb, sa);
    case 'euclidean-means':
      return Math.hypot(...delta);
  }
}

const close = (actual: number, expected: number, rel = 1e-10): void => {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(expected)));
};

/** The dense matrix of `metric` between every component of a and of b. */
function denseMatrix(a: GmmParams, b: GmmParams, metric: ComponentMetric | 'kl'): number[] {
  const out: number[] = [];
  for (let i = 0; i < a.k; i++) {
    for (let j = 0; j < b.k; j++) out.push(dense(metric, componentMean(a, i), componentCovariance(a, i), componentMean(b, j), componentCovariance(b, j), a.d));
  }
  return out;
}

describe('divergences per covariance type against the dense computation', () => {
  for (const type of COVARIANCE_TYPES) {
    it(`${type}: Bhattacharyya, symmetric KL and Euclidean matrices, D = 1 … 24`, () => {
      const rng = seededUniform(100 + COVARIANCE_TYPES.indexOf(type));
      for (const d of [1, 2, 3, 7, 12, 24]) {
        const a = randomMixture(rng, 3, d, type);
        const b = randomMixture(rng, 4, d, type);
        for (const metric of COMPONENT_METRICS) {
          const got = componentDistanceMatrix(a, b, metric);
          const want = denseMatrix(a, b, metric);
          got.forEach((x, i) => close(x, want[i]));
        }
      }
    });

    it(`${type}: KL(a_i ‖ b_j) from the kernel, and the variational KL of mixtures`, () => {
      const rng = seededUniform(200 + COVARIANCE_TYPES.indexOf(type));
      for (const d of [1, 4, 9, 16]) {
        const a = randomMixture(rng, 3, d, type);
        const b = randomMixture(rng, 2, d, type);
        const kernel = COVARIANCE[type].divergence;
        const fa = kernel.factor(a.covariances, a.k, d, (c) => `a ${c}`);
        const fb = kernel.factor(b.covariances, b.k, d, (c) => `b ${c}`);
        const kl = kernel.pair('kl', fa, a.means, fb, b.means);
        const want = denseMatrix(a, b, 'kl');
        for (let i = 0; i < a.k; i++) for (let j = 0; j < b.k; j++) close(kl(i, j), want[i * b.k + j]);
        // Hershey & Olsen's variational approximation from the dense KLs
        const ff = denseMatrix(a, a, 'kl');
        let expected = 0;
        for (let i = 0; i < a.k; i++) {
          const num = Array.from({ length: a.k }, (_, t) => Math.log(a.weights[t]) - ff[i * a.k + t]);
          const den = Array.from({ length: b.k }, (_, t) => Math.log(b.weights[t]) - want[i * b.k + t]);
          const lse = (xs: number[]): number => {
            const m = Math.max(...xs);
            return m + Math.log(xs.reduce((s, x) => s + Math.exp(x - m), 0));
          };
          expected += a.weights[i] * (lse(num) - lse(den));
        }
        close(variationalKL(a, b), expected);
      }
    });

    it(`${type}: divergences of identical components are exactly 0, with the same means any metric is`, () => {
      const rng = seededUniform(300 + COVARIANCE_TYPES.indexOf(type));
      for (const d of [1, 5, 20]) {
        const a = randomMixture(rng, 3, d, type);
        const copy: GmmParams = { ...a, weights: a.weights.slice(), means: a.means.slice(), covariances: a.covariances.slice() };
        for (const metric of COMPONENT_METRICS) {
          const m = componentDistanceMatrix(a, copy, metric);
          for (let i = 0; i < 3; i++) expect(m[i * 3 + i]).toBe(0);
          // the same object: the upper triangle, mirrored, equal to the separate computation to rounding
          const self = componentDistanceMatrix(a, a, metric);
          self.forEach((x, i) => close(x, m[i], 1e-12));
        }
      }
    });

    it(`${type}: componentDistance factors only the two components, and equals the matrix entry`, () => {
      const rng = seededUniform(400 + COVARIANCE_TYPES.indexOf(type));
      const a = randomMixture(rng, 4, 6, type);
      const b = randomMixture(rng, 3, 6, type);
      for (const metric of COMPONENT_METRICS) {
        const m = componentDistanceMatrix(a, b, metric);
        for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) close(componentDistance(a, i, b, j, metric), m[i * 3 + j], 1e-13);
      }
      expect(() => componentDistance(a, 4, b, 0)).toThrow(/out of range/);
    });
  }

  it('diagonal and spherical covariances at D = 160 agree with the dense formulas', () => {
    const rng = seededUniform(7);
    for (const type of ['diag', 'spherical'] as CovarianceType[]) {
      const a = randomMixture(rng, 2, 160, type);
      const b = randomMixture(rng, 2, 160, type);
      for (const metric of ['bhattacharyya', 'symmetric-kl'] as ComponentMetric[]) {
        const got = componentDistanceMatrix(a, b, metric);
        denseMatrix(a, b, metric).forEach((x, i) => close(got[i], x));
      }
    }
  });

  it('mixtures of different covariance types are compared in the narrowest type that holds both', () => {
    const rng = seededUniform(8);
    const pairs: [CovarianceType, CovarianceType][] = [
      ['diag', 'spherical'],
      ['spherical', 'diag'],
      ['full', 'diag'],
      ['spherical', 'full'],
      ['tied', 'spherical'],
      ['tied', 'full'],
      ['diag', 'tied'],
    ];
    for (const [ta, tb] of pairs) {
      for (const d of [1, 3, 8]) {
        const a = randomMixture(rng, 3, d, ta);
        const b = randomMixture(rng, 2, d, tb);
        for (const metric of COMPONENT_METRICS) {
          const got = componentDistanceMatrix(a, b, metric);
          denseMatrix(a, b, metric).forEach((x, i) => close(got[i], x));
        }
        close(variationalKL(a, b), variationalKL(a, b));
      }
    }
  });

  it('tied mixtures with different shared covariances: one average factor for every pair', () => {
    const rng = seededUniform(9);
    for (const d of [2, 6, 15]) {
      const a = randomMixture(rng, 3, d, 'tied');
      const b = randomMixture(rng, 3, d, 'tied');
      for (const metric of COMPONENT_METRICS) {
        const got = componentDistanceMatrix(a, b, metric);
        denseMatrix(a, b, metric).forEach((x, i) => close(got[i], x));
      }
    }
  });

  it('names the component whose covariance cannot be factored, for every type', () => {
    const rng = seededUniform(10);
    for (const type of COVARIANCE_TYPES) {
      const a = randomMixture(rng, 3, 2, type);
      const bad: GmmParams = { ...a, covariances: a.covariances.slice() };
      if (type === 'full') bad.covariances.set([1, 2, 2, 1], 8);
      else if (type === 'tied') bad.covariances.set([1, 2, 2, 1]);
      else if (type === 'diag') bad.covariances[5] = 0;
      else bad.covariances[2] = -1;
      const component = type === 'tied' ? 0 : 2;
      expect(() => componentDistanceMatrix(a, bad)).toThrow(new RegExp(`mixture b component ${component} covariance is not positive definite`));
      bad.covariances[type === 'full' ? 8 : type === 'tied' ? 0 : type === 'diag' ? 5 : 2] = Number.NaN;
      expect(() => componentDistanceMatrix(a, bad, 'symmetric-kl')).toThrow(/non-finite/);
    }
  });
});

/** The definition: the whole matrix, the Hungarian assignment, the weight-averaged matched distances. */
function matchedByAssignment(a: GmmParams, b: GmmParams, metric: ComponentMetric): number {
  const k = a.k;
  const dist = componentDistanceMatrix(a, b, metric);
  const perm = minCostAssignment(dist, k, k);
  let num = 0;
  let den = 0;
  for (let j = 0; j < k; j++) {
    const w = 0.5 * (a.weights[j] + b.weights[perm[j]]);
    num += w * dist[j * k + perm[j]];
    den += w;
  }
  return num / den;
}

describe('matchedMixtureDistance: the identity certificate gives the assignment result exactly', () => {
  it('for successive models (small moves), permuted ones and crowded ones, every type and metric', () => {
    const rng = seededUniform(11);
    for (const type of COVARIANCE_TYPES) {
      for (const d of [1, 4, 16]) {
        const a = randomMixture(rng, 5, d, type);
        // a small move of every component: the identity is optimal and certified
        const moved: GmmParams = { ...a, means: a.means.map((x) => x + 0.05 * (rng() - 0.5)), covariances: a.covariances.map((x) => x * (1 + 0.01 * rng())) };
        // crowded: components on top of each other (the bounds certify nothing, the assignment decides)
        const crowded: GmmParams = { ...a, means: a.means.map((x) => 0.01 * x) };
        const crowdedMoved: GmmParams = { ...crowded, means: crowded.means.map((x) => x + 0.01 * (rng() - 0.5)) };
        for (const metric of COMPONENT_METRICS) {
          expect(matchedMixtureDistance(a, moved, metric)).toBe(matchedByAssignment(a, moved, metric));
          const permuted = permuteComponents(moved, Int32Array.from([3, 0, 4, 1, 2]));
          expect(matchedMixtureDistance(a, permuted, metric)).toBe(matchedByAssignment(a, permuted, metric));
          expect(matchedMixtureDistance(crowded, crowdedMoved, metric)).toBe(matchedByAssignment(crowded, crowdedMoved, metric));
        }
      }
    }
  });
});

describe('mostRedundantPair', () => {
  it('gives the same pair and similarity from the caller’s responsibilities as from its own E-step', () => {
    const rng = seededUniform(12);
    for (const type of COVARIANCE_TYPES) {
      const params = randomMixture(rng, 4, 3, type);
      const n = 300;
      const data = { n, d: 3, data: Float64Array.from({ length: n * 3 }, () => 8 * rng()) };
      const pre = precompute(params);
      if (!pre.ok) throw new Error('random mixture must factor');
      const resp = new Float64Array(n * 4);
      eStep(pre.value, data.data, n, false, null, { resp });
      expect(mostRedundantPair(params, data, resp)).toEqual(mostRedundantPair(params, data));
    }
  });
});
