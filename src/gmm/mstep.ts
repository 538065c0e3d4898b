import type { SufficientStats } from './stats.js';
import { COVARIANCE } from './covariance.js';
import type { GmmParams } from './types.js';

/** 10·ε added to every N_k, as scikit-learn does, so an empty component never divides by zero. */
export const NK_EPS = 10 * Number.EPSILON;

/** A component whose share of the total weight is at or below this is empty and gets re-seeded. */
export const EMPTY_FRACTION = 1e-10;

/** Options of {@link mStep}. */
export interface MStepOptions {
  /** Added to the diagonal of every covariance (scikit-learn's `reg_covar`). */
  readonly regCovar: number;
  /** Keep these weights instead of estimating them (K). */
  readonly fixedWeights?: Float64Array | null;
  /** Keep these covariances instead of estimating them (shape of the covariance type). */
  readonly fixedCovariances?: Float64Array | null;
}

/** Result of {@link mStep}. */
export interface MStepResult {
  readonly params: GmmParams;
  /** Components whose weight vanished: their parameters are placeholders until re-seeded. */
  readonly empty: number[];
}

/**
 * Weighted maximum-likelihood parameters from sufficient statistics (the M-step). Reads only
 * the accumulator.
 *
 * With N_k = s0_k + 10ε and m_k = s1_k / N_k (the mean relative to the shift c):
 * 1. π_k = N_k / Σ_j N_j;
 * 2. μ_k = c + m_k;
 * 3. Σ_k = s2_k / N_k − (2 − s0_k/N_k)·m_k m_kᵀ + regCovar·I, which is exactly
 *    Σ_i w_ik (x_i − μ_k)(x_i − μ_k)ᵀ / N_k + regCovar·I (scikit-learn's estimator);
 *    `diag` keeps the diagonal, `spherical` its mean, `tied` pools:
 *    (Σ_i (x_i − c)(x_i − c)ᵀ − Σ_k N_k m_k m_kᵀ) / Σ_k N_k + regCovar·I.
 *
 * @param stats accumulated statistics
 * @param options regularisation and fixed parameters
 * @returns the parameters and the list of empty components
 */
export function mStep(stats: SufficientStats, options: MStepOptions): MStepResult {
  const { k: K, d: D, covarianceType: type, s0, s1, s2, shift } = stats;
  const reg = options.regCovar;
  const nk = new Float64Array(K);
  let total = 0;
  let rawTotal = 0;
  for (let k = 0; k < K; k++) {
    nk[k] = s0[k] + NK_EPS;
    total += nk[k];
    rawTotal += s0[k];
  }
  const empty: number[] = [];
  for (let k = 0; k < K; k++) if (!(s0[k] > EMPTY_FRACTION * rawTotal)) empty.push(k);

  const weights = new Float64Array(K);
  if (options.fixedWeights) weights.set(options.fixedWeights);
  else for (let k = 0; k < K; k++) weights[k] = nk[k] / total;

  const means = new Float64Array(K * D);
  const m = new Float64Array(K * D); // means relative to the shift
  for (let k = 0; k < K; k++) {
    for (let a = 0; a < D; a++) {
      m[k * D + a] = s1[k * D + a] / nk[k];
      means[k * D + a] = shift[a] + m[k * D + a];
    }
  }

  const covariances = new Float64Array(COVARIANCE[type].size(K, D));
  if (options.fixedCovariances) {
    covariances.set(options.fixedCovariances);
    return { params: { k: K, d: D, covarianceType: type, weights, means, covariances }, empty };
  }
  COVARIANCE[type].mStep(s0, nk, total, s2, m, K, D, reg, covariances);
  return { params: { k: K, d: D, covarianceType: type, weights, means, covariances }, empty };
}

/**
 * Re-seeds components in place (they were empty, or their covariance could not be factored).
 *
 * For each component k in `components`, in order:
 * 1. its mean becomes the next point of `points` (the worst-explained points first);
 * 2. its covariance becomes a copy of the heaviest component's (tied: unchanged);
 * 3. it takes half of the heaviest component's weight (the weights still sum to 1).
 *
 * @param params parameters to modify (their arrays are mutated)
 * @param components indices to re-seed
 * @param data N×D points
 * @param points indices into `data` to use as new means, at least as many as `components`
 */
export function reseedComponents(params: GmmParams, components: readonly number[], data: ArrayLike<number>, points: readonly number[]): void {
  const { d: D, k: K, weights, means, covariances, covarianceType: type } = params;
  components.forEach((k, idx) => {
    let heaviest = -1;
    for (let j = 0; j < K; j++) if (j !== k && (heaviest < 0 || weights[j] > weights[heaviest])) heaviest = j;
    const p = points[idx % points.length];
    for (let a = 0; a < D; a++) means[k * D + a] = data[p * D + a];
    if (heaviest < 0) return;
    const half = (weights[heaviest] + weights[k]) / 2;
    weights[heaviest] = half;
    weights[k] = half;
    COVARIANCE[type].copyComponent(covariances, D, heaviest, k);
  });
}
