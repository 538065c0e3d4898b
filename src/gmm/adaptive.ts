/**
 * Adaptive per-component forgetting: what of a component's carried history is still consistent with the
 * current window.
 *
 * For component k the carried statistics describe a Gaussian (n_h, m_h, C_h) and the window's statistics
 * under the fitted model another (n_w, m_w, C_w), n_h the weight of the data behind the history (which can
 * be less than its statistics weigh, after a discount moved weight onto a window). Three tests, each at
 * false-alarm probability `alpha` per component and window:
 *
 * 1. the mean: Hotelling's two-sample Λ_μ = (n_h n_w / n_p)(m_h − m_w)ᵀ C⁻¹ (m_h − m_w) ≈ χ²_D, C the pooled
 *    within covariance ({@link meanStatistic}); the mean itself follows by shrinkage in every M-step (see
 *    `MeanShrinkage` in componentStats.ts), the test reports the component as moved;
 * 2. the covariance: the generalised likelihood ratio of "one covariance" against "one each" with the
 *    history moved to the window's mean (Anderson 2003, §10.8), Λ_Σ = n_p ln|C_p| − n_h ln|C_h| − n_w ln|C_w|
 *    with C_p = (n_h C_h + n_w C_w)/n_p, ≈ χ² with the covariance's degrees of freedom (full D(D+1)/2, diag
 *    D, spherical 1; tied: not tested, it is shared); above its quantile the covariance history is
 *    discounted by the f that brings Λ_Σ(f·n_h) down to its mean under no change — the history kept is
 *    what the window cannot tell apart from itself;
 * 3. the weights ({@link weightDrift}): a G-test of the window's component weights against the carried
 *    ones, and the same kind of discount of the carried weights.
 *
 * Components that did not move keep all of their history.
 *
 * @module
 */
import { aboutShift, componentMoments, meanStatistic, pooledTied, type ComponentMoments, type MomentsOf } from './componentStats.js';
import { COVARIANCE } from './covariance.js';
import type { SufficientStats } from './stats.js';
import type { CovarianceType } from './types.js';

/** Standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const lo = 0.02425;
  if (p < lo) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - lo) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** χ² quantile with ν degrees of freedom at probability p (Wilson–Hilferty). */
export function chiSquareQuantile(nu: number, p: number): number {
  const z = normalQuantile(p);
  const h = 2 / (9 * nu);
  return nu * Math.pow(Math.max(0, 1 - h + z * Math.sqrt(h)), 3);
}

/** Degrees of freedom of the drift statistic of one component (its mean and its own covariance). */
export function driftDegreesOfFreedom(type: CovarianceType, d: number): number {
  return d + COVARIANCE[type].ownParameters(d);
}

/**
 * Λ for history weight `nh` (moments of the history fixed) against the window: the generalised likelihood
 * ratio n_p ln|C_p| − n_h ln|C_h| − n_w ln|C_w| with C_p = (n_h C_h + n_w C_w)/n_p + (n_h n_w/n_p²) ΔΔᵀ,
 * Δ = m_h − m_w (tied: Hotelling's (n_h n_w/n_p)·ΔᵀC⁻¹Δ with the shared `tiedCov`). One evaluation of
 * {@link shapeStatistic}; prepare that once to evaluate at many weights.
 *
 * @param tiedCov for tied statistics, the shared covariance (D×D)
 */
export function driftStatistic(type: CovarianceType, d: number, h: ComponentMoments, nh: number, w: ComponentMoments, tiedCov?: Float64Array): number {
  return shapeStatistic(type, d, h, w, tiedCov)(nh);
}

/**
 * The statistic of {@link driftStatistic} as a function of the history's weight n_h, prepared once at the
 * cost of the covariance type, then O(D) per evaluation (diag with a few logarithms, spherical and tied O(1)):
 *
 * - diag: with μ_a = h_a/w_a and u_a² = Δ_a²/w_a, Λ = Σ_a n_p ln((n_h μ_a + n_w)/n_p + b u_a²) − n_h Σ_a ln μ_a
 *   (b = n_h n_w/n_p²; the ln w_a cancel), the first sum as the logarithm of a product;
 * - spherical: the same with the traces, D·(n_p ln(v_p/D) − n_h ln(v_h/D) − n_w ln(v_w/D));
 * - full: the first evaluation from the Cholesky factors of C_h, C_w (once) and C_p (D³/2 in all); from the
 *   second on, with C_w = L Lᵀ, M = L⁻¹ C_h L⁻ᵀ reduced once to tridiagonal T = QᵀMQ and u = QᵀL⁻¹Δ,
 *   Λ = n_p (ln det(S) + ln(1 + b·uᵀS⁻¹u)) − n_h ln det M with S = (n_h T + n_w I)/n_p (the ln|C_w| cancel;
 *   the mean difference is a rank-one update, by the matrix determinant lemma): two triangular products and
 *   one Householder reduction (about D³ multiply-adds), then O(D) per weight;
 * - tied: Hotelling's (n_h n_w/n_p)·ΔᵀC⁻¹Δ, one Cholesky of the shared covariance.
 *
 * 0 when a weight is not positive or a covariance cannot be factored.
 *
 * ## Example
 * ```ts
 * import { shapeStatistic } from 'emstream/core';
 *
 * // a window whose component is twice as wide as its history, in 2-D
 * const history = { n: 500, mean: Float64Array.of(0, 0), cov: Float64Array.of(1, 0, 0, 1) };
 * const window = { n: 100, mean: Float64Array.of(0, 0), cov: Float64Array.of(2, 0, 0, 2) };
 * const statistic = shapeStatistic('full', 2, history, window);
 * console.log([500, 100, 10].map((nh) => statistic(nh).toFixed(2)).join(' ')); // → 46.35 23.56 3.63
 * ```
 */
export function shapeStatistic(type: CovarianceType, d: number, h: ComponentMoments, w: ComponentMoments, tiedCov?: Float64Array): (nh: number) => number {
  return COVARIANCE[type].shapeStatistic(d, h, w, tiedCov);
}

export { lowerSolveNormSq } from './covarianceStatistics.js';

/** Settings of adaptive forgetting. */
export interface AdaptiveForgettingOptions {
  /** False-alarm probability of each test per component and window. */
  readonly alpha: number;
  /** Components with less window (or history) weight than this many points are not tested. */
  readonly minPoints: number;
  readonly regCovar: number;
}

/** The drift tests of every component of one window. */
export interface ComponentDrift {
  /** K values of the mean statistic Λ_μ (0 for untested components). */
  readonly meanStatistics: Float64Array;
  /** K values of the covariance statistic Λ_Σ (0 for untested components, and for tied covariances). */
  readonly shapeStatistics: Float64Array;
  /** χ²_D(1 − alpha). */
  readonly meanThreshold: number;
  /** χ²_ν(1 − alpha), ν the covariance's degrees of freedom (0 for tied: not tested). */
  readonly shapeThreshold: number;
  /** K factors f_k ∈ [0, 1]: the share of a component's covariance history kept (1: kept). */
  readonly factors: Float64Array;
  /** Components that moved or changed shape. */
  readonly drifted: number[];
}

/** Degrees of freedom of the covariance of one component. */
export function shapeDegreesOfFreedom(type: CovarianceType, d: number): number {
  return driftDegreesOfFreedom(type, d) - d;
}

/**
 * Box's small-sample correction of the covariance likelihood ratio of two groups (Box 1949; Anderson 2003,
 * §10.8): Λ_Σ·(1 − c), c = (2D² + 3D − 1) / (6(D + 1)) · (1/n_h + 1/n_w − 1/(n_h + n_w)), brings its mean back to
 * the χ² degrees of freedom when a component holds few points for its dimension (at D = 64 and 125 points a
 * window, the uncorrected statistic is about 20 % high, and every other stationary window discounted a history).
 * Full covariances only: for the others c is O(1/n) with a small constant, and 1 is returned.
 */
export function shapeCorrection(type: CovarianceType, d: number, nh: number, nw: number): number {
  if (type !== 'full' || !(nh > 0) || !(nw > 0)) return 1;
  const c = ((2 * d * d + 3 * d - 1) / (6 * (d + 1))) * (1 / nh + 1 / nw - 1 / (nh + nw));
  return Math.max(0, 1 - c);
}

/**
 * Tests every component of a window against its carried history and says what to keep of it.
 *
 * 1. moments of each component from the carried statistics `prior` (already scaled by the forgetting
 *    factor) and from the window's `batch`; the history's weight in window units is evidence / batchWeight
 *    (the weight of the data behind the statistics, which may be less than their weight), counted apart
 *    for the mean (`meanEvidence`) and for the covariance (`evidence`);
 * 2. the mean: Hotelling's Λ_μ ({@link meanStatistic}) above χ²_D(1 − alpha) means the component moved:
 *    its history will be translated to the window's mean (translate = 1);
 * 3. the covariance: the likelihood-ratio Λ_Σ of the window against the history moved to the window's
 *    mean ({@link shapeStatistic} with equal means, times {@link shapeCorrection}: ≈ χ² with the covariance's
 *    degrees of freedom); above
 *    its χ²(1 − alpha), the covariance history is discounted by the f_k that brings Λ_Σ(f·n_h) down to its
 *    mean under no change (bisection; Λ grows with the history's weight). The statistic is prepared once per
 *    component (for full covariances one Cholesky and one Householder reduction), then each of the
 *    bisection's evaluations is O(D).
 *
 * @param prior carried statistics as merged into the M-step
 * @param batch the window's statistics under the fitted parameters
 * @param evidence per component, the weight of data behind the carried covariances (default prior.s0)
 * @param meanEvidence per component, the weight of data behind the carried means (default `evidence`)
 * @param priorMoments `prior`'s moments when the caller keeps them (with `options.regCovar`)
 */
export function componentDrift(
  prior: SufficientStats,
  batch: SufficientStats,
  batchWeight: number,
  options: AdaptiveForgettingOptions,
  evidence?: ArrayLike<number>,
  meanEvidence?: ArrayLike<number>,
  priorMoments?: MomentsOf,
): ComponentDrift {
  const { k: K, d: D, covarianceType: type } = batch;
  const meanThreshold = chiSquareQuantile(D, 1 - options.alpha);
  const nuShape = shapeDegreesOfFreedom(type, D);
  const shapeThreshold = nuShape > 0 ? chiSquareQuantile(nuShape, 1 - options.alpha) : 0;
  const meanStatistics = new Float64Array(K);
  const shapeStatistics = new Float64Array(K);
  const factors = new Float64Array(K).fill(1);
  const drifted: number[] = [];
  const { tiedP, tiedB, tiedCov, tiedFactor } = pooledTied(prior, batch, batchWeight, options.regCovar);
  const moments = priorMoments?.stats === prior ? priorMoments : null;
  for (let k = 0; k < K; k++) {
    const w = componentMoments(batch, k, options.regCovar, tiedB);
    const kept = moments !== null ? moments.get(k, tiedP) : componentMoments(prior, k, options.regCovar, tiedP);
    const nh = Math.min(kept.n, evidence?.[k] ?? kept.n) / batchWeight;
    const nhm = Math.min(kept.n, meanEvidence?.[k] ?? evidence?.[k] ?? kept.n) / batchWeight;
    if (!(w.n >= options.minPoints) || !(nh >= options.minPoints)) continue;
    // both means about the batch's origin
    const h = aboutShift(kept, prior.shift, batch.shift);
    const lm = meanStatistic(type, D, h, nhm, w, tiedCov, tiedFactor);
    meanStatistics[k] = lm;
    if (nuShape > 0) {
      const moved: ComponentMoments = { n: h.n, mean: w.mean, cov: h.cov };
      const raw = shapeStatistic(type, D, moved, w);
      const statistic = (n: number): number => raw(n) * shapeCorrection(type, D, n, w.n);
      const ls = statistic(nh);
      shapeStatistics[k] = ls;
      if (ls > shapeThreshold) {
        let lo = 0;
        let hi = 1;
        for (let it = 0; it < 40; it++) {
          const mid = 0.5 * (lo + hi);
          if (statistic(mid * nh) > nuShape) hi = mid;
          else lo = mid;
        }
        factors[k] = lo;
      }
    }
    if (lm > meanThreshold || factors[k] < 1) drifted.push(k);
  }
  return { meanStatistics, shapeStatistics, meanThreshold, shapeThreshold, factors, drifted };
}

/** The test of the mixing weights of one window against the carried ones. */
export interface WeightDrift {
  /** The G statistic 2·Σ o·ln(o/e) of window and history counts (≈ χ² with K − 1 degrees of freedom). */
  readonly statistic: number;
  readonly threshold: number;
  /** The factor kept of the carried weights (1: kept). */
  readonly factor: number;
}

function gStatistic(window: ArrayLike<number>, history: ArrayLike<number>, scale: number): number {
  let nw = 0;
  let nh = 0;
  for (let k = 0; k < window.length; k++) {
    nw += window[k];
    nh += scale * history[k];
  }
  const total = nw + nh;
  if (!(nw > 0) || !(nh > 0)) return 0;
  let g = 0;
  for (let k = 0; k < window.length; k++) {
    const w = window[k];
    const h = scale * history[k];
    const e = (w + h) / total;
    if (w > 0) g += w * Math.log(w / (nw * e));
    if (h > 0) g += h * Math.log(h / (nh * e));
  }
  return Math.max(0, 2 * g);
}

/**
 * Tests whether the window's mixing weights agree with the carried ones, and the factor on the carried
 * weights that brings the G statistic (a likelihood-ratio test of equal proportions, ≈ χ²_{K−1}) down to
 * its mean K − 1 when it exceeds χ²_{K−1}(1 − alpha): the weights then follow the window, as fast as the
 * evidence says, while each component's shape keeps its own history.
 *
 * @param history carried weight per component (prior.s0, forgotten), in the units of `batchWeight`·counts
 * @param window the window's weight per component (batch.s0)
 */
export function weightDrift(history: ArrayLike<number>, window: ArrayLike<number>, batchWeight: number, alpha: number): WeightDrift {
  const K = window.length;
  const nu = Math.max(1, K - 1);
  const threshold = chiSquareQuantile(nu, 1 - alpha);
  if (K < 2) return { statistic: 0, threshold, factor: 1 };
  const scale = 1 / batchWeight;
  const statistic = gStatistic(window, history, scale);
  if (!(statistic > threshold)) return { statistic, threshold, factor: 1 };
  let lo = 0;
  let hi = 1;
  for (let it = 0; it < 40; it++) {
    const mid = 0.5 * (lo + hi);
    if (gStatistic(window, history, mid * scale) > nu) hi = mid;
    else lo = mid;
  }
  return { statistic, threshold, factor: lo };
}
