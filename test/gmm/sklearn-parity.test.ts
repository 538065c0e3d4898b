import { describe, expect, it } from 'vitest';
import { runEM, paramsFromInitial } from '../../src/gmm/em.js';
import { precompute } from '../../src/gmm/estep.js';
import { GaussianMixture } from '../../src/gmm/model.js';
import type { CovarianceType } from '../../src/gmm/types.js';
import { flat, loadCsv, loadJson, worstRelative } from '../helpers/fixtures.js';

/**
 * Parity with scikit-learn's GaussianMixture from fixed initial parameters
 * (fixtures made by test/fixtures/make_fixtures.py; see test/fixtures/README.md).
 */
interface Fixture {
  dataset: string;
  k: number;
  d: number;
  covarianceType: CovarianceType;
  nIter: number;
  regCovar: number;
  init: { weights: number[]; means: number[][]; covariances: unknown };
  result: {
    weights: number[];
    means: number[][];
    covariances: unknown;
    precisionsCholesky: unknown;
    lowerBound: number;
    lowerBounds?: number[];
    score: number;
    scoreSamples: number[];
    predictProba: number[][];
    predict: number[];
    bic: number;
    aic: number;
  };
}

const index = loadJson<{ fixtures: string[] }>('index.json').fixtures.filter((f) => !f.includes('trace'));
const RTOL = 1e-8;

/** scikit-learn's precisions_cholesky_ is Wᵀ (upper); ours is W = L⁻¹ (lower). */
function sklearnPrecChol(prec: Float64Array, type: CovarianceType, k: number, d: number): Float64Array {
  if (type === 'diag' || type === 'spherical') return prec;
  const out = new Float64Array(prec.length);
  const blocks = type === 'tied' ? 1 : k;
  for (let b = 0; b < blocks; b++) for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) out[b * d * d + i * d + j] = prec[b * d * d + j * d + i];
  return out;
}

describe('parity with scikit-learn GaussianMixture', () => {
  it('has fixtures for every covariance type', () => {
    expect(index.length).toBeGreaterThanOrEqual(24);
  });

  for (const file of index) {
    it(file, () => {
      const fx = loadJson<Fixture>(file);
      const data = loadCsv(fx.dataset);
      const init = paramsFromInitial(fx.init as never, fx.k, fx.d, fx.covarianceType);
      const run = runEM(data, init, { maxIterations: fx.nIter, tol: 0, regCovar: fx.regCovar, mode: 'soft' });
      expect(run.iterations).toBe(fx.nIter);
      expect(worstRelative(run.params.weights, fx.result.weights, RTOL)).toBeLessThanOrEqual(1);
      expect(worstRelative(run.params.means, flat(fx.result.means), RTOL)).toBeLessThanOrEqual(1);
      expect(worstRelative(run.params.covariances, flat(fx.result.covariances), RTOL)).toBeLessThanOrEqual(1);
      const pre = precompute(run.params);
      if (!pre.ok) throw new Error('not PD');
      expect(worstRelative(sklearnPrecChol(pre.value.prec, fx.covarianceType, fx.k, fx.d), flat(fx.result.precisionsCholesky), RTOL)).toBeLessThanOrEqual(1);
      // lower_bound_ is the mean log-likelihood of the last iteration's E-step (before its M-step).
      expect(worstRelative([run.history[run.history.length - 1]], [fx.result.lowerBound], RTOL)).toBeLessThanOrEqual(1);
      if (fx.result.lowerBounds) expect(worstRelative(run.history, fx.result.lowerBounds, RTOL)).toBeLessThanOrEqual(1);
      expect(worstRelative([run.logLikelihood], [fx.result.score], RTOL)).toBeLessThanOrEqual(1);

      const model = new GaussianMixture(run.params);
      expect(worstRelative([model.score(data)], [fx.result.score], RTOL)).toBeLessThanOrEqual(1);
      expect(worstRelative(model.scoreSamples(data).subarray(0, fx.result.scoreSamples.length), fx.result.scoreSamples, RTOL)).toBeLessThanOrEqual(1);
      // Responsibilities are probabilities: compared absolutely. (On offset3d, scikit-learn's own
      // log-densities carry ~1e-9 of cancellation error from X·U − μ·U, which becomes ~2e-8
      // *relative* error on responsibilities of 1e-4; we compute W(x − μ) and do not inherit it.)
      const proba = model.predictProba(data).subarray(0, fx.result.predictProba.length * fx.k);
      const expected = flat(fx.result.predictProba);
      expect(Math.max(...expected.map((v, i) => Math.abs(v - proba[i])))).toBeLessThan(1e-9);
      expect(Array.from(model.predict(data))).toEqual(fx.result.predict);
      expect(worstRelative([model.bic(data), model.aic(data)], [fx.result.bic, fx.result.aic], RTOL)).toBeLessThanOrEqual(1);
    });
  }

  it('follows scikit-learn iteration by iteration (blobs5d, full, 10 iterations)', () => {
    const fx = loadJson<Fixture & { trace: { meanLogLikelihood: number[]; finalScore: number } }>('sklearn_blobs5d_full_trace.json');
    const data = loadCsv(fx.dataset);
    const init = paramsFromInitial(fx.init as never, fx.k, fx.d, fx.covarianceType);
    const run = runEM(data, init, { maxIterations: fx.nIter, tol: 0, regCovar: fx.regCovar, mode: 'soft' });
    expect(worstRelative(run.history, fx.trace.meanLogLikelihood, RTOL)).toBeLessThanOrEqual(1);
    expect(worstRelative([run.logLikelihood], [fx.trace.finalScore], RTOL)).toBeLessThanOrEqual(1);
  });
});
