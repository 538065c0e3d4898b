import fc from 'fast-check';
import { Matrix, determinant, inverse } from 'ml-matrix';
import { describe, expect, it } from 'vitest';

import {
  COMPONENT_METRICS,
  bhattacharyya,
  componentCovariance,
  componentDistanceMatrix,
  componentMean,
  gaussianKL,
  matchedMixtureDistance,
  symmetricKL,
  variationalKL,
} from '../../src/gmm/distance.js';
import { permuteComponents } from '../../src/gmm/align.js';
import { COVARIANCE_TYPES, type GmmParams } from '../../src/gmm/types.js';
import { seededUniform, randomSpd, randomMixture } from '../helpers/random.js';

// ---- helpers ------------------------------------------------------------------------------

const f64 = (xs: number[]): Float64Array => Float64Array.from(xs);

function randomVector(rng: () => number, d: number, scale = 3): Float64Array {
  return Float64Array.from({ length: d }, () => scale * (2 * rng() - 1));
}

function toMatrix(flat: Float64Array, d: number): Matrix {
  return Matrix.from1DArray(d, d, Array.from(flat));
}

/** Independent reference: KL with an explicit inverse and LU determinants (ml-matrix). */
function referenceKL(muA: Float64Array, covA: Float64Array, muB: Float64Array, covB: Float64Array, d: number): number {
  const sa = toMatrix(covA, d);
  const sb = toMatrix(covB, d);
  const ib = inverse(sb);
  const diff = Matrix.columnVector(Array.from(muB, (x, i) => x - muA[i]));
  const trace = ib.mmul(sa).trace();
  const maha = diff.transpose().mmul(ib).mmul(diff).get(0, 0);
  return 0.5 * (trace + maha - d + Math.log(determinant(sb)) - Math.log(determinant(sa)));
}

function referenceBhattacharyya(muA: Float64Array, covA: Float64Array, muB: Float64Array, covB: Float64Array, d: number): number {
  const sa = toMatrix(covA, d);
  const sb = toMatrix(covB, d);
  const s = Matrix.add(sa, sb).mul(0.5);
  const diff = Matrix.columnVector(Array.from(muA, (x, i) => x - muB[i]));
  const maha = diff.transpose().mmul(inverse(s)).mmul(diff).get(0, 0);
  return maha / 8 + 0.5 * Math.log(determinant(s) / Math.sqrt(determinant(sa) * determinant(sb)));
}

/** KL(N(μ1, σ1²) ‖ N(μ2, σ2²)) by hand. */
function kl1d(m1: number, s1: number, m2: number, s2: number): number {
  return Math.log(s2 / s1) + (s1 * s1 + (m1 - m2) ** 2) / (2 * s2 * s2) - 0.5;
}

/** Bhattacharyya distance between N(μ1, σ1²) and N(μ2, σ2²) by hand. */
function bhatt1d(m1: number, s1: number, m2: number, s2: number): number {
  const v = s1 * s1 + s2 * s2;
  return (m1 - m2) ** 2 / (4 * v) + 0.5 * Math.log(v / (2 * s1 * s2));
}

const gaussianPair = fc
  .record({ d: fc.integer({ min: 1, max: 5 }), seed: fc.integer() })
  .map(({ d, seed }) => {
    const rng = seededUniform(seed);
    return { d, muA: randomVector(rng, d), covA: randomSpd(rng, d), muB: randomVector(rng, d), covB: randomSpd(rng, d) };
  });

const closeRel = (actual: number, expected: number, rel = 1e-8): void => {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(expected)));
};

// ---- gaussianKL ---------------------------------------------------------------------------

describe('gaussianKL', () => {
  it('matches the 1-D closed form ln(σ2/σ1) + (σ1² + (μ1−μ2)²)/(2σ2²) − ½', () => {
    const cases: [number, number, number, number][] = [
      [0, 1, 0, 1],
      [1, 2, -0.5, 3],
      [-2, 0.5, 4, 1.5],
      [10, 3, 10, 0.25],
    ];
    for (const [m1, s1, m2, s2] of cases) {
      closeRel(gaussianKL(f64([m1]), f64([s1 * s1]), f64([m2]), f64([s2 * s2]), 1), kl1d(m1, s1, m2, s2), 1e-12);
    }
    // a number worked out by hand: ln 2 + (1 + 1)/8 − ½
    closeRel(gaussianKL(f64([0]), f64([1]), f64([1]), f64([4]), 1), Math.log(2) - 0.25, 1e-14);
  });

  it('is the sum of the per-coordinate 1-D divergences for diagonal covariances', () => {
    const m1 = [0.5, -1, 2];
    const s1 = [1, 0.3, 2];
    const m2 = [1, 1, -1];
    const s2 = [0.7, 1.1, 1.5];
    const diag = (s: number[]): Float64Array => {
      const out = new Float64Array(9);
      s.forEach((x, i) => (out[i * 3 + i] = x * x));
      return out;
    };
    const expected = m1.reduce((acc, _, i) => acc + kl1d(m1[i], s1[i], m2[i], s2[i]), 0);
    closeRel(gaussianKL(f64(m1), diag(s1), f64(m2), diag(s2), 3), expected, 1e-12);
  });

  it('is exactly 0 between identical Gaussians', () => {
    const rng = seededUniform(7);
    for (let d = 1; d <= 6; d++) {
      const mu = randomVector(rng, d);
      const cov = randomSpd(rng, d);
      expect(gaussianKL(mu, cov, mu.slice(), cov.slice(), d)).toBe(0);
    }
  });

  it('is non-negative, positive for distinct Gaussians, and agrees with an explicit-inverse reference (property)', () => {
    fc.assert(
      fc.property(gaussianPair, ({ d, muA, covA, muB, covB }) => {
        const kl = gaussianKL(muA, covA, muB, covB, d);
        expect(kl).toBeGreaterThan(0);
        closeRel(kl, referenceKL(muA, covA, muB, covB, d), 1e-7);
      }),
      { numRuns: 200 },
    );
  });

  it('throws a clear error on a covariance that is not positive definite', () => {
    const id = f64([1, 0, 0, 1]);
    const indefinite = f64([1, 2, 2, 1]);
    const mu = f64([0, 0]);
    expect(() => gaussianKL(mu, indefinite, mu, id, 2)).toThrow(/covariance A is not positive definite/);
    expect(() => gaussianKL(mu, id, mu, indefinite, 2)).toThrow(/covariance B is not positive definite/);
    expect(() => gaussianKL(mu, id, mu, f64([0, 0, 0, 0]), 2)).toThrow(/not positive definite/);
    expect(() => gaussianKL(mu, id, mu, f64([1, NaN, NaN, 1]), 2)).toThrow(/non-finite/);
  });

  it('tolerates roundoff asymmetry in a covariance', () => {
    const mu = f64([0, 0]);
    const cov = f64([2, 0.5, 0.5 + 1e-15, 1]);
    expect(() => gaussianKL(mu, cov, mu, f64([1, 0, 0, 1]), 2)).not.toThrow();
  });
});

describe('symmetricKL', () => {
  it('is KL(A‖B) + KL(B‖A), symmetric, 0 on identical inputs (property)', () => {
    fc.assert(
      fc.property(gaussianPair, ({ d, muA, covA, muB, covB }) => {
        const j = symmetricKL(muA, covA, muB, covB, d);
        closeRel(j, gaussianKL(muA, covA, muB, covB, d) + gaussianKL(muB, covB, muA, covA, d), 1e-12);
        closeRel(symmetricKL(muB, covB, muA, covA, d), j, 1e-12);
        expect(symmetricKL(muA, covA, muA, covA, d)).toBe(0);
      }),
      { numRuns: 100 },
    );
  });

  it('matches the 1-D closed form', () => {
    closeRel(symmetricKL(f64([1]), f64([4]), f64([-1]), f64([0.25]), 1), kl1d(1, 2, -1, 0.5) + kl1d(-1, 0.5, 1, 2), 1e-12);
  });
});

describe('bhattacharyya', () => {
  it('matches the 1-D closed form (μ1−μ2)²/(4(σ1²+σ2²)) + ½ ln((σ1²+σ2²)/(2σ1σ2))', () => {
    const cases: [number, number, number, number][] = [
      [0, 1, 0, 1],
      [0, 1, 2, 1],
      [1, 2, -0.5, 3],
      [-2, 0.5, 4, 1.5],
    ];
    for (const [m1, s1, m2, s2] of cases) {
      closeRel(bhattacharyya(f64([m1]), f64([s1 * s1]), f64([m2]), f64([s2 * s2]), 1), bhatt1d(m1, s1, m2, s2), 1e-12);
    }
    // equal unit variances, means 2 apart: 4 / 8 = ½ exactly
    expect(bhattacharyya(f64([0]), f64([1]), f64([2]), f64([1]), 1)).toBeCloseTo(0.5, 15);
  });

  it('is symmetric, non-negative, 0 on identical inputs, and agrees with a reference (property)', () => {
    fc.assert(
      fc.property(gaussianPair, ({ d, muA, covA, muB, covB }) => {
        const b = bhattacharyya(muA, covA, muB, covB, d);
        expect(b).toBeGreaterThan(0);
        closeRel(b, referenceBhattacharyya(muA, covA, muB, covB, d), 1e-7);
        closeRel(bhattacharyya(muB, covB, muA, covA, d), b, 1e-12);
        expect(bhattacharyya(muA, covA, muA, covA, d)).toBe(0);
      }),
      { numRuns: 200 },
    );
  });

  it('throws on a covariance that is not positive definite', () => {
    expect(() => bhattacharyya(f64([0]), f64([-1]), f64([0]), f64([1]), 1)).toThrow(/positive definite/);
  });
});

// ---- components ---------------------------------------------------------------------------

describe('componentCovariance / componentMean', () => {
  const means = f64([1, 2, 3, 4]); // K=2, D=2
  const base = { k: 2, d: 2, weights: f64([0.5, 0.5]), means };

  it('expands every covariance type to a full D×D matrix', () => {
    const full: GmmParams = { ...base, covarianceType: 'full', covariances: f64([1, 0.1, 0.1, 2, 3, 0.2, 0.2, 4]) };
    const diag: GmmParams = { ...base, covarianceType: 'diag', covariances: f64([1, 2, 3, 4]) };
    const spherical: GmmParams = { ...base, covarianceType: 'spherical', covariances: f64([1.5, 2.5]) };
    const tied: GmmParams = { ...base, covarianceType: 'tied', covariances: f64([1, 0.3, 0.3, 2]) };
    expect(Array.from(componentCovariance(full, 1))).toEqual([3, 0.2, 0.2, 4]);
    expect(Array.from(componentCovariance(diag, 1))).toEqual([3, 0, 0, 4]);
    expect(Array.from(componentCovariance(spherical, 1))).toEqual([2.5, 0, 0, 2.5]);
    expect(Array.from(componentCovariance(tied, 0))).toEqual([1, 0.3, 0.3, 2]);
    expect(Array.from(componentCovariance(tied, 1))).toEqual([1, 0.3, 0.3, 2]);
    const out = new Float64Array(4).fill(9);
    expect(componentCovariance(diag, 0, out)).toBe(out);
    expect(Array.from(out)).toEqual([1, 0, 0, 2]);
  });

  it('returns copies that do not alias the parameters', () => {
    const full: GmmParams = { ...base, covarianceType: 'full', covariances: f64([1, 0, 0, 1, 1, 0, 0, 1]) };
    const c = componentCovariance(full, 0);
    c[0] = 100;
    expect(full.covariances[0]).toBe(1);
    const m = componentMean(full, 1);
    expect(Array.from(m)).toEqual([3, 4]);
    m[0] = 100;
    expect(full.means[2]).toBe(3);
  });

  it('rejects an out-of-range component', () => {
    const diag: GmmParams = { ...base, covarianceType: 'diag', covariances: f64([1, 2, 3, 4]) };
    expect(() => componentMean(diag, 2)).toThrow(/out of range/);
    expect(() => componentCovariance(diag, -1)).toThrow(/out of range/);
  });
});

describe('componentDistanceMatrix', () => {
  it('is Ka×Kb row-major and agrees with the pairwise functions, for every covariance type and metric', () => {
    const rng = seededUniform(42);
    for (const type of COVARIANCE_TYPES) {
      const a = randomMixture(rng, 3, 2, type);
      const b = randomMixture(rng, 2, 2, type);
      const pair = {
        bhattacharyya,
        'symmetric-kl': symmetricKL,
        'euclidean-means': (ma: Float64Array, _ca: Float64Array, mb: Float64Array) => Math.hypot(ma[0] - mb[0], ma[1] - mb[1]),
      } as const;
      for (const metric of COMPONENT_METRICS) {
        const m = componentDistanceMatrix(a, b, metric);
        expect(m.length).toBe(6);
        for (let i = 0; i < 3; i++) {
          for (let j = 0; j < 2; j++) {
            const expected = pair[metric](componentMean(a, i), componentCovariance(a, i), componentMean(b, j), componentCovariance(b, j), 2);
            closeRel(m[i * 2 + j], expected, 1e-12);
          }
        }
      }
      expect(Array.from(componentDistanceMatrix(a, b))).toEqual(Array.from(componentDistanceMatrix(a, b, 'bhattacharyya')));
    }
  });

  it('rejects different dimensions, wrong shapes and unknown metrics', () => {
    const rng = seededUniform(1);
    const a = randomMixture(rng, 2, 2, 'diag');
    const b = randomMixture(rng, 2, 3, 'diag');
    expect(() => componentDistanceMatrix(a, b)).toThrow(/different dimensions/);
    expect(() => componentDistanceMatrix(a, { ...a, means: new Float64Array(3) })).toThrow(/means has 3 values/);
    // @ts-expect-error: not a metric
    expect(() => componentDistanceMatrix(a, a, 'manhattan')).toThrow(/unknown metric/);
  });

  it('names the offending component when a covariance is not positive definite', () => {
    const rng = seededUniform(3);
    const a = randomMixture(rng, 3, 2, 'diag');
    const bad: GmmParams = { ...a, covariances: f64([1, 1, 1, 1, 0, 1]) };
    expect(() => componentDistanceMatrix(a, bad)).toThrow(/mixture b component 2 covariance is not positive definite/);
    // the Euclidean metric ignores covariances
    expect(() => componentDistanceMatrix(a, bad, 'euclidean-means')).not.toThrow();
  });
});

// ---- mixtures -----------------------------------------------------------------------------

describe('matchedMixtureDistance', () => {
  it('is 0 between a mixture and any relabelling of it, for every covariance type', () => {
    const rng = seededUniform(11);
    for (const type of COVARIANCE_TYPES) {
      const a = randomMixture(rng, 4, 3, type);
      const b = permuteComponents(a, Int32Array.from([2, 0, 3, 1]));
      for (const metric of COMPONENT_METRICS) expect(matchedMixtureDistance(a, b, metric)).toBe(0);
    }
  });

  it('is the weight-averaged matched distance (worked 1-D example)', () => {
    // components N(0,1) w=.25, N(10,1) w=.75; b shifts both means by 1 and swaps their order.
    const a: GmmParams = { k: 2, d: 1, covarianceType: 'spherical', weights: f64([0.25, 0.75]), means: f64([0, 10]), covariances: f64([1, 1]) };
    const b: GmmParams = { k: 2, d: 1, covarianceType: 'spherical', weights: f64([0.75, 0.25]), means: f64([11, 1]), covariances: f64([1, 1]) };
    // each matched pair: Bhattacharyya 1²/(4·2) = 1/8, Euclidean 1
    expect(matchedMixtureDistance(a, b)).toBeCloseTo(0.125, 14);
    expect(matchedMixtureDistance(a, b, 'euclidean-means')).toBeCloseTo(1, 14);
    // unequal shifts: 1 for the w=.25 component, 3 for the w=.75 one (weights agree across models)
    const c: GmmParams = { ...b, means: f64([13, 1]) };
    expect(matchedMixtureDistance(a, c, 'euclidean-means')).toBeCloseTo(0.25 * 1 + 0.75 * 3, 14);
  });

  it('grows with the shift of the means', () => {
    const rng = seededUniform(5);
    const a = randomMixture(rng, 3, 2, 'full');
    const shifted = (s: number): GmmParams => ({ ...a, means: a.means.map((x) => x + s) });
    const d1 = matchedMixtureDistance(a, shifted(0.5));
    const d2 = matchedMixtureDistance(a, shifted(1));
    expect(d1).toBeGreaterThan(0);
    expect(d2).toBeGreaterThan(d1);
  });

  it('requires the same number of components', () => {
    const rng = seededUniform(2);
    expect(() => matchedMixtureDistance(randomMixture(rng, 2, 2, 'diag'), randomMixture(rng, 3, 2, 'diag'))).toThrow(/same number of components/);
  });
});

describe('variationalKL', () => {
  it('is exactly 0 for a mixture against itself, for every covariance type (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        fc.constantFrom(...COVARIANCE_TYPES),
        fc.integer(),
        (k, d, type, seed) => {
          const a = randomMixture(seededUniform(seed), k, d, type);
          expect(variationalKL(a, a)).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('reduces to the Gaussian KL for single-component mixtures', () => {
    const rng = seededUniform(9);
    const a = randomMixture(rng, 1, 3, 'full');
    const b = randomMixture(rng, 1, 3, 'full');
    closeRel(variationalKL(a, b), gaussianKL(a.means, a.covariances, b.means, b.covariances, 3), 1e-12);
  });

  it('is invariant to relabelling and positive for a different mixture, also with different K', () => {
    const rng = seededUniform(13);
    const a = randomMixture(rng, 3, 2, 'diag');
    const b = randomMixture(rng, 3, 2, 'diag');
    const c = randomMixture(rng, 2, 2, 'diag');
    closeRel(variationalKL(a, permuteComponents(b, Int32Array.from([1, 2, 0]))), variationalKL(a, b), 1e-12);
    expect(variationalKL(a, b)).toBeGreaterThan(0);
    expect(variationalKL(a, c)).toBeGreaterThan(0);
    expect(Number.isFinite(variationalKL(c, a))).toBe(true);
  });

  it('for well-separated components approaches Σ π_a ln(π_a/ω_a) + Σ π_a KL(f_a‖g_a)', () => {
    // far-apart components: the cross terms vanish, leaving the weights' KL plus matched KLs.
    const f: GmmParams = { k: 2, d: 1, covarianceType: 'spherical', weights: f64([0.3, 0.7]), means: f64([0, 100]), covariances: f64([1, 2]) };
    const g: GmmParams = { k: 2, d: 1, covarianceType: 'spherical', weights: f64([0.6, 0.4]), means: f64([0.5, 101]), covariances: f64([1.5, 1]) };
    const expected =
      0.3 * Math.log(0.3 / 0.6) + 0.7 * Math.log(0.7 / 0.4) + 0.3 * kl1d(0, 1, 0.5, Math.sqrt(1.5)) + 0.7 * kl1d(100, Math.sqrt(2), 101, 1);
    closeRel(variationalKL(f, g), expected, 1e-10);
  });
});
