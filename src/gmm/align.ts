import { COVARIANCE } from './covariance.js';
import { type ComponentMetric, assertGmmShapes, componentDistanceMatrix, minCostAssignment } from './distance.js';
import { DataError } from './errors.js';
import type { GmmParams } from './types.js';

/**
 * Alignment of the components of two mixtures, so that label k keeps meaning the same cluster
 * after a refit or a restart (components come back from EM in arbitrary order).
 *
 * @module
 */

/**
 * Match the components of `next` to those of `previous`.
 *
 * 1. Distance matrix between previous's components (rows) and next's (columns), with `metric`
 *    (see `componentDistanceMatrix`; Bhattacharyya by default).
 * 2. Minimum-cost perfect matching (Hungarian assignment via `linear-sum-assignment`, in
 *    minimisation mode).
 * 3. `perm[j]` is the column matched to row j.
 *
 * Use the result with `permuteComponents(next, perm)` to relabel `next` in previous's order.
 *
 * @param previous - the model whose labels are kept, K components
 * @param next - the model to relabel, K components, same D
 * @param metric - component metric
 * @returns perm, length K: next's component perm[j] takes label j (is matched to previous's j)
 * @throws DataError if K or D differ, or a covariance is not positive definite
 */
export function matchComponents(
  previous: GmmParams,
  next: GmmParams,
  metric: ComponentMetric = 'bhattacharyya',
): Int32Array {
  assertGmmShapes(previous, 'previous');
  assertGmmShapes(next, 'next');
  if (previous.k !== next.k) {
    throw new DataError(
      `matchComponents needs the same number of components, got ${previous.k} (previous) and ${next.k} (next)`,
    );
  }
  const k = previous.k;
  return minCostAssignment(componentDistanceMatrix(previous, next, metric), k, k);
}

function gather(src: Float64Array, perm: Int32Array, stride: number): Float64Array {
  const out = new Float64Array(perm.length * stride);
  for (let j = 0; j < perm.length; j++) out.set(src.subarray(perm[j] * stride, (perm[j] + 1) * stride), j * stride);
  return out;
}

/**
 * Reorder the components of a mixture.
 *
 * 1. Check that `perm` is a permutation of 0..K−1.
 * 2. New component j is old component perm[j]: gather weights (K), means (K×D) and covariances
 *    (full K×D×D, diag K×D, spherical K); a tied D×D covariance is shared and copied as is.
 *
 * @param params - the mixture, K components
 * @param perm - length K, a permutation of 0..K−1 (e.g. from `matchComponents`)
 * @returns a new mixture with fresh arrays; `params` is not modified
 * @throws DataError if perm is not a permutation of 0..K−1
 */
export function permuteComponents(params: GmmParams, perm: Int32Array): GmmParams {
  assertGmmShapes(params);
  const k = params.k;
  if (perm.length !== k) throw new DataError(`perm has ${perm.length} entries, expected ${k}`);
  const seen = new Uint8Array(k);
  for (let j = 0; j < k; j++) {
    const p = perm[j];
    if (p < 0 || p >= k || seen[p] === 1) {
      throw new DataError(`perm is not a permutation of 0..${k - 1}: entry ${j} is ${p}`);
    }
    seen[p] = 1;
  }
  const stride = COVARIANCE[params.covarianceType].stride(params.d);
  return {
    k,
    d: params.d,
    covarianceType: params.covarianceType,
    weights: gather(params.weights, perm, 1),
    means: gather(params.means, perm, params.d),
    covariances: stride === 0 ? params.covariances.slice() : gather(params.covariances, perm, stride),
  };
}
