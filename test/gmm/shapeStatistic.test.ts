/**
 * The per-window tests of adaptive forgetting at the cost of the covariance type: the covariance
 * likelihood-ratio Λ_Σ(n_h) (`shapeStatistic`, prepared once per component, then O(D) per weight), the
 * Householder reduction it rests on (`Tridiagonal`), Hotelling's mean statistic with a tied factor computed
 * once, all against dense ml-matrix computations.
 */
import { CholeskyDecomposition, Matrix, inverse } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { chiSquareQuantile, componentDrift, driftStatistic, shapeCorrection, shapeDegreesOfFreedom, shapeStatistic } from '../../src/gmm/adaptive.js';
import { Rng } from '../../src/gmm/rng.js';
import { combineStats, componentMoments, meanStatistic, MomentsOf, type ComponentMoments } from '../../src/gmm/componentStats.js';
import { cholesky, Tridiagonal } from '../../src/gmm/linalg.js';
import { SufficientStats } from '../../src/gmm/stats.js';
import { COVARIANCE_TYPES, type CovarianceType } from '../../src/gmm/types.js';
import { randomSpd, seededUniform } from '../helpers/random.js';

const close = (actual: number, expected: number, rel = 1e-10): void => {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(expected)));
};

function logDet(m: Matrix): number {
  const l = new CholeskyDecomposition(m).lowerTriangularMatrix;
  let s = 0;
  for (let i = 0; i < m.rows; i++) s += 2 * Math.log(l.get(i, i));
  return s;
}

describe('Tridiagonal', () => {
  it('ln det(c·A + s·I) and zᵀ(c·A + s·I)⁻¹z in O(D) agree with ml-matrix, D = 1 … 40', () => {
    const rng = seededUniform(1);
    for (const d of [1, 2, 3, 5, 12, 40]) {
      const a = randomSpd(rng, d);
      const tri = Tridiagonal.of(a, d);
      const z = Float64Array.from({ length: d }, () => 2 * rng() - 1);
      const rotated = tri.rotate(z.slice());
      // Qᵀ is orthogonal: the norm is kept
      close(Math.hypot(...rotated), Math.hypot(...z), 1e-13);
      for (const [c, s] of [
        [1, 0],
        [0.3, 0.7],
        [2, 1e-3],
      ]) {
        const m = Matrix.from1DArray(d, d, Array.from(a)).mul(c).add(Matrix.eye(d).mul(s));
        const r = tri.shifted(c, s, rotated)!;
        close(r.logDet, logDet(m));
        const x = Matrix.columnVector(Array.from(z));
        close(r.quadratic, x.transpose().mmul(inverse(m)).mmul(x).get(0, 0));
      }
    }
  });

  it('reads only the lower triangle, and says when a shifted matrix is not positive definite', () => {
    const a = Float64Array.of(2, 99, 99, 1, 3, 99, 0.5, 0.2, 4);
    const sym = Float64Array.of(2, 1, 0.5, 1, 3, 0.2, 0.5, 0.2, 4);
    expect(Tridiagonal.of(a, 3).shifted(1, 0)).toEqual(Tridiagonal.of(sym, 3).shifted(1, 0));
    expect(Tridiagonal.of(sym, 3).shifted(-1, 0)).toBeNull();
  });
});

/** Moments of a random component: n points, a mean, a covariance in the layout componentMoments uses. */
function moments(rng: () => number, type: CovarianceType, d: number, n: number): ComponentMoments {
  const mean = Float64Array.from({ length: d }, () => 2 * rng() - 1);
  const cov = type === 'full' || type === 'tied' ? randomSpd(rng, d) : Float64Array.from({ length: d }, () => 0.2 + rng());
  return { n, mean, cov };
}

/**
 * Λ = n_p ln|C_p| − n_h ln|C_h| − n_w ln|C_w| with C_p = (n_h C_h + n_w C_w)/n_p + (n_h n_w/n_p²)ΔΔᵀ, the
 * matrices dense (spherical: the trace over D times I); tied: (n_h n_w/n_p)·ΔᵀC⁻¹Δ.
 */
function denseStatistic(type: CovarianceType, d: number, h: ComponentMoments, nh: number, w: ComponentMoments, tiedCov?: Float64Array): number {
  const nw = w.n;
  const np = nh + nw;
  const delta = Matrix.columnVector(Array.from(h.mean, (x, i) => x - w.mean[i]));
  if (type === 'tied') return ((nh * nw) / np) * delta.transpose().mmul(inverse(Matrix.from1DArray(d, d, Array.from(tiedCov!)))).mmul(delta).get(0, 0);
  const asMatrix = (c: Float64Array): Matrix => {
    if (type === 'full') return Matrix.from1DArray(d, d, Array.from(c));
    if (type === 'diag') return Matrix.diag(Array.from(c));
    return Matrix.eye(d).mul(c.reduce((s, x) => s + x, 0) / d);
  };
  const ch = asMatrix(h.cov);
  const cw = asMatrix(w.cov);
  let cp = Matrix.add(ch.clone().mul(nh / np), cw.clone().mul(nw / np)).add(delta.mmul(delta.transpose()).mul((nh * nw) / (np * np)));
  if (type === 'diag') cp = Matrix.diag(cp.diag());
  if (type === 'spherical') cp = Matrix.eye(d).mul(cp.trace() / d);
  return Math.max(0, np * logDet(cp) - nh * logDet(ch) - nw * logDet(cw));
}

describe('shapeStatistic / driftStatistic', () => {
  for (const type of COVARIANCE_TYPES) {
    it(`${type}: every evaluation (the first direct, the next on the reduced form) agrees with the dense statistic`, () => {
      const rng = seededUniform(10 + COVARIANCE_TYPES.indexOf(type));
      for (const d of [1, 2, 6, 20, 48]) {
        const h = moments(rng, type, d, 500);
        const w = moments(rng, type, d, 120);
        const tiedCov = type === 'tied' ? randomSpd(rng, d) : undefined;
        for (const equalMeans of [false, true]) {
          const hh = equalMeans ? { ...h, mean: w.mean } : h;
          const statistic = shapeStatistic(type, d, hh, w, tiedCov);
          for (const nh of [300, 1, 40, 0.001, 1e4, 300]) {
            const want = denseStatistic(type, d, hh, nh, w, tiedCov);
            close(statistic(nh), want, 1e-9);
            close(driftStatistic(type, d, hh, nh, w, tiedCov), want, 1e-9);
          }
          expect(statistic(0)).toBe(0);
        }
      }
    });
  }

  it('full: a history that is not positive definite gives 0, as a window that is not does', () => {
    const w = { n: 50, mean: Float64Array.of(0, 0), cov: Float64Array.of(1, 0, 0, 1) };
    const bad = { n: 50, mean: Float64Array.of(0, 0), cov: Float64Array.of(1, 2, 2, 1) };
    const s = shapeStatistic('full', 2, bad, w);
    expect([s(10), s(20), s(30)]).toEqual([0, 0, 0]);
    expect(shapeStatistic('full', 2, w, bad)(10)).toBe(0);
  });
});

/** Statistics of n random points split between K components by random weights. */
function randomStats(rng: () => number, type: CovarianceType, k: number, d: number, n: number, spread: number): SufficientStats {
  const data = new Float64Array(n * d);
  const resp = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rng() * k);
    for (let a = 0; a < d; a++) data[i * d + a] = 4 * c + spread * (rng() - 0.5) * (a + 1);
    resp[i * k + c] = 1;
  }
  const stats = new SufficientStats(k, d, type, new Float64Array(d)).addBatch(data, n, resp);
  return stats;
}

describe('componentDrift at the cost of the covariance type', () => {
  it('the discount factors are the root of Λ_Σ(f·n_h) = ν found by bisection on the dense statistic (with Box’s correction)', () => {
    const rng = seededUniform(20);
    for (const type of ['full', 'diag', 'spherical'] as CovarianceType[]) {
      const d = 5;
      // the window's components spread 3× wider than their history: the shape test fires
      const prior = randomStats(rng, type, 3, d, 3000, 1);
      const batch = randomStats(rng, type, 3, d, 600, 3);
      const drift = componentDrift(prior, batch, 1, { alpha: 1e-3, minPoints: 10, regCovar: 1e-6 });
      const nu = shapeDegreesOfFreedom(type, d);
      for (let k = 0; k < 3; k++) {
        const wm = componentMoments(batch, k, 1e-6);
        const hm = componentMoments(prior, k, 1e-6);
        const moved = { n: hm.n, mean: wm.mean, cov: hm.cov };
        expect(drift.shapeStatistics[k]).toBeGreaterThan(drift.shapeThreshold);
        const dense = (nh: number): number => denseStatistic(type, d, moved, nh, wm) * shapeCorrection(type, d, nh, wm.n);
        close(drift.shapeStatistics[k], dense(hm.n), 1e-9);
        let lo = 0;
        let hi = 1;
        for (let it = 0; it < 40; it++) {
          const mid = 0.5 * (lo + hi);
          if (dense(mid * hm.n) > nu) hi = mid;
          else lo = mid;
        }
        close(drift.factors[k], lo, 1e-9);
        expect(drift.factors[k]).toBeLessThan(1);
      }
    }
  });

  it('with Box’s correction, Λ_Σ of two samples of one Gaussian has the χ² mean of its degrees of freedom at D = 32 with 100 points (uncorrected: well above)', () => {
    const d = 32;
    const nu = shapeDegreesOfFreedom('full', d);
    const rng = new Rng(5);
    const sample = (n: number): ComponentMoments => {
      const x = Float64Array.from({ length: n * d }, () => rng.normal());
      const mean = new Float64Array(d);
      for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) mean[a] += x[i * d + a] / n;
      const cov = new Float64Array(d * d);
      for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a * d + b] += ((x[i * d + a] - mean[a]) * (x[i * d + b] - mean[b])) / n;
      return { n, mean, cov };
    };
    const raw: number[] = [];
    const corrected: number[] = [];
    for (let r = 0; r < 20; r++) {
      const h = sample(1000);
      const w = sample(100);
      const value = shapeStatistic('full', d, { n: h.n, mean: w.mean, cov: h.cov }, w)(h.n);
      raw.push(value);
      corrected.push(value * shapeCorrection('full', d, h.n, w.n));
    }
    const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
    expect(mean(raw)).toBeGreaterThan(1.1 * nu);
    expect(Math.abs(mean(corrected) / nu - 1)).toBeLessThan(0.03);
    // and the test at alpha = 1e-3 fires on none of them
    expect(corrected.filter((v) => v > chiSquareQuantile(nu, 1 - 1e-3)).length).toBe(0);
  });

  it('tied: Hotelling’s statistic with the shared factor computed once equals the one that factors per call', () => {
    const rng = seededUniform(21);
    const d = 4;
    const cov = randomSpd(rng, d);
    const h = moments(rng, 'tied', d, 200);
    const w = moments(rng, 'tied', d, 80);
    const once = meanStatistic('tied', d, h, 150, w, cov, cholesky(cov, d));
    expect(once).toBe(meanStatistic('tied', d, h, 150, w, cov));
    close(once, denseStatistic('tied', d, h, 150, w, cov));
  });
});

describe('MomentsOf: the carried history’s moments shared within a window', () => {
  it('the mean shrinkage and the component tests give the same bits with them as without, and leave them unchanged', () => {
    const rng = seededUniform(22);
    for (const type of COVARIANCE_TYPES) {
      const d = 14;
      const k = 3;
      const shifted = (stats: SufficientStats, by: number): SufficientStats => {
        const shift = Float64Array.from({ length: d }, (_, a) => by * (a + 1));
        const out = new SufficientStats(k, d, type, shift);
        out.merge(stats, 1);
        return out;
      };
      const prior = shifted(randomStats(rng, type, k, d, 3000, 1), 0.3);
      const batch = shifted(randomStats(rng, type, k, d, 600, 3), -0.2);
      const options = { alpha: 1e-3, minPoints: 10, regCovar: 1e-6 };
      const evidence = Float64Array.from(prior.s0, (v) => 0.8 * v);
      const moments = new MomentsOf(prior, options.regCovar);
      const plain = componentDrift(prior, batch, 2, options, evidence, prior.s0);
      for (let round = 0; round < 2; round++) {
        const shared = componentDrift(prior, batch, 2, options, evidence, prior.s0, moments);
        expect(Array.from(shared.meanStatistics)).toEqual(Array.from(plain.meanStatistics));
        expect(Array.from(shared.shapeStatistics)).toEqual(Array.from(plain.shapeStatistics));
        expect(Array.from(shared.factors)).toEqual(Array.from(plain.factors));
      }
      expect(plain.meanStatistics.some((v) => v > 0)).toBe(true);
      const shrink = (priorMoments?: MomentsOf) => ({ evidence: prior.s0, minPoints: 10, regCovar: options.regCovar, tau: new Float64Array(k), statistics: new Float64Array(k), priorMoments });
      const into = [prior.clone(), prior.clone()];
      const shrinks = [shrink(), shrink(moments)];
      for (let i = 0; i < 2; i++) combineStats(into[i], prior, batch, 2, null, null, prior.clone(), null, shrinks[i]);
      expect(Array.from(shrinks[1].statistics)).toEqual(Array.from(shrinks[0].statistics));
      expect(Array.from(shrinks[1].tau)).toEqual(Array.from(shrinks[0].tau));
      expect(Array.from(into[1].s1)).toEqual(Array.from(into[0].s1));
      expect(Array.from(into[1].s2)).toEqual(Array.from(into[0].s2));
      for (let c = 0; c < k; c++) {
        const fresh = componentMoments(prior, c, options.regCovar);
        expect(Array.from(moments.get(c).mean)).toEqual(Array.from(fresh.mean));
        expect(Array.from(moments.get(c).cov)).toEqual(Array.from(fresh.cov));
      }
    }
  });
});
