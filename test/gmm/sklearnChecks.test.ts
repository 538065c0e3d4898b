/**
 * Behaviour scikit-learn's own test suite (sklearn/mixture/tests/test_gaussian_mixture.py) asks of the batch
 * API: user-given initial weights are checked (test_check_weights), a user-given initial covariance that is
 * not positive definite is rejected (test_check_precisions), and a warm start that continues a fit detects
 * convergence (test_convergence_detected_with_warm_start).
 */
import { describe, expect, it } from 'vitest';
import { DataError, fitGmm, GaussianMixture, type Dataset, type FitOptions } from 'emstream';
import { paramsFromInitial } from '../../src/gmm/em.js';
import { Rng } from '../../src/gmm/rng.js';

/** make_blobs-like data: K centres in a box, unit spread, seeded. */
function blobs(n: number, d: number, k: number, seed: number): Dataset {
  const rng = new Rng(seed);
  const centres = Array.from({ length: k * d }, () => 20 * rng.uniform() - 10);
  const data = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    const c = i % k;
    for (let a = 0; a < d; a++) data[i * d + a] = centres[c * d + a] + rng.normal();
  }
  return { n, d, data };
}

const X = blobs(300, 2, 3, 1);
const means = [
  [-5, -5],
  [0, 0],
  [5, 5],
];
const identity = [
  [1, 0],
  [0, 1],
];
const fit = (init: FitOptions['init'], extra: Partial<FitOptions> = {}) => () => fitGmm(X, { k: 3, init, ...extra });

describe('initial weights (test_check_weights)', () => {
  const covariances = [identity, identity, identity];

  it('rejects a (K, 1) array instead of (K,)', () => {
    expect(fit({ weights: [[0.2], [0.3], [0.5]] as unknown as number[], means, covariances })).toThrow(DataError);
    expect(fit({ weights: [[0.2], [0.3], [0.5]] as unknown as number[], means, covariances })).toThrow(/initial weights have shape \(3, 1\); expected \(3,\)/);
    expect(fit({ weights: [0.5, 0.5], means, covariances })).toThrow(/initial weights hold 2 values; expected K = 3/);
  });

  it('rejects values outside [0, 1]', () => {
    expect(fit({ weights: [-0.1, 0.6, 0.5], means, covariances })).toThrow(/must be in \[0, 1\], but range from -0\.1 to 0\.6/);
    expect(fit({ weights: [1.2, -0.1, -0.1], means, covariances })).toThrow(/must be in \[0, 1\]/);
  });

  it('rejects weights that do not sum to 1 instead of renormalising them', () => {
    expect(fit({ weights: [0.2, 0.3, 0.6], means, covariances })).toThrow(/must sum to 1, but sum to 1\.1.*normalise them/);
    expect(fit({ weights: [1, 1, 1], means, covariances })).toThrow(/sum to 3/);
  });

  it('accepts weights that sum to 1 within 1e-8 (1e-6 for float32) and uses them as given', () => {
    const weights = [0.2, 0.3, 0.5 + 5e-9];
    expect(Array.from(paramsFromInitial({ weights, means, covariances }, 3, 2, 'full').weights)).toEqual(weights);
    expect(fit({ weights: Float32Array.of(0.1, 0.2, 0.7), means, covariances })).not.toThrow();
    expect(fit({ weights: [0.2, 0.3, 0.5 + 2e-8], means, covariances })).toThrow(/sum to 1/);
  });
});

describe('initial covariances (test_check_precisions)', () => {
  const weights = [0.2, 0.3, 0.5];
  const notPd = [
    [1, 2],
    [2, 1],
  ];

  it('rejects a full covariance that is not positive definite, naming the component and that it was given', () => {
    const run = fit({ weights, means, covariances: [identity, notPd, identity] });
    expect(run).toThrow(DataError);
    expect(run).toThrow(/the given initial full covariance of component 1 is not positive definite: give a symmetric positive definite matrix \(initial values are used as given, not re-seeded\)/);
    try {
      run();
    } catch (err) {
      expect((err as DataError).context).toMatchObject({ component: 1 });
    }
  });

  it('diag, spherical and tied: a zero or negative variance, an indefinite tied matrix', () => {
    expect(fit({ weights, means, covariances: [[1, 1], [1, 0], [1, 1]] }, { covarianceType: 'diag' })).toThrow(/initial diag covariance of component 1 is not positive definite: give positive variances/);
    expect(fit({ weights, means, covariances: [1, 1, -1] }, { covarianceType: 'spherical' })).toThrow(/initial spherical covariance of component 2/);
    expect(fit({ weights, means, covariances: notPd }, { covarianceType: 'tied' })).toThrow(/the given initial tied covariance is not positive definite/);
  });

  it('valid initial parameters still fit', () => {
    const r = fitGmm(X, { k: 3, init: { weights, means, covariances: [identity, identity, identity] } });
    expect(r.converged).toBe(true);
  });
});

describe('warm start (test_convergence_detected_with_warm_start)', () => {
  it.each([1, 2, 50])('continuing a fit of maxIterations %i detects convergence', (maxIterations) => {
    let result = fitGmm(X, { k: 3, maxIterations, seed: 0 });
    let fits = 1;
    while (!result.converged && fits < 100) {
      result = fitGmm(X, { k: 3, maxIterations, init: result.params, lowerBound: result.lowerBound });
      fits++;
    }
    expect(result.converged).toBe(true);
    expect(result.iterations).toBeLessThanOrEqual(maxIterations);
    // Without the lower bound, one iteration per fit never converges: it has nothing to compare with.
    if (maxIterations === 1) {
      const again = fitGmm(X, { k: 3, maxIterations: 1, init: result.params });
      expect(again.converged).toBe(false);
    }
  });

  it('lowerBound is the last lower bound of the fit and needs initial parameters', () => {
    const r = fitGmm(X, { k: 3, seed: 2 });
    expect(r.lowerBound).toBe(r.history[r.history.length - 1]);
    expect(() => fitGmm(X, { k: 3, lowerBound: r.lowerBound })).toThrow(/lowerBound: continues a previous fit: give that fit's parameters as init too/);
    const { model } = GaussianMixture.fit(X, { k: 3, init: r.params, lowerBound: r.lowerBound, maxIterations: 1 });
    expect(model.k).toBe(3);
  });
});
