/**
 * Changing the number of components on a stream (`k: { min, max }`): the split and merge moves, on
 * parameters and on carried statistics, and the BIC that judges them.
 *
 * - split: a new component K is appended and the donor j is split in two along its principal axis
 *   (`splitProposal`); both halves start without history;
 * - merge: components i < j become one at index i with the moment-matched mean and covariance,
 *   π = π_i + π_j, μ = (π_i μ_i + π_j μ_j)/π, Σ = Σ_c π_c (Σ_c + (μ_c − μ)(μ_c − μ)ᵀ)/π; its carried
 *   statistics are the sum of theirs (sufficient statistics add, so the history is kept exactly); j is removed
 *   and the components after it move down by one.
 *
 * @module
 */
import { COVARIANCE } from './covariance.js';
import { componentDistanceMatrix } from './distance.js';
import { splitProposal } from './birthDeath.js';
import { SufficientStats } from './stats.js';
import type { CovarianceType, Dataset, GmmParams } from './types.js';

/** Covariance values per component (0: shared). */
function covStride(type: CovarianceType, d: number): number {
  return COVARIANCE[type].stride(d);
}

/** s2 values per component (0: pooled). */
function s2Stride(type: CovarianceType, d: number): number {
  return COVARIANCE[type].s2Stride(d);
}

/** Parameters with component `from` copied to a new last component K (weights not renormalised). */
export function appendCopy(p: GmmParams, from: number): GmmParams {
  const { k: K, d: D, covarianceType: type } = p;
  const cs = covStride(type, D);
  const weights = new Float64Array(K + 1);
  weights.set(p.weights);
  const means = new Float64Array((K + 1) * D);
  means.set(p.means);
  means.set(p.means.subarray(from * D, from * D + D), K * D);
  const covariances = new Float64Array(cs === 0 ? p.covariances.length : (K + 1) * cs);
  covariances.set(p.covariances);
  if (cs > 0) covariances.set(p.covariances.subarray(from * cs, from * cs + cs), K * cs);
  return { k: K + 1, d: D, covarianceType: type, weights, means, covariances };
}

/** The split move: a new component K and the donor are the two halves of the donor (null when it cannot be split). */
export function splitMove(p: GmmParams, donor: number, data: Dataset): GmmParams | null {
  const ext = appendCopy(p, donor);
  ext.weights[p.k] = 0;
  return splitProposal(ext, donor, p.k, data);
}

/** Statistics with an empty component appended (index K). */
export function appendEmptyRow(s: SufficientStats): SufficientStats {
  const out = new SufficientStats(s.k + 1, s.d, s.covarianceType, s.shift);
  out.s0.set(s.s0);
  out.s1.set(s.s1);
  out.s2.set(s.s2);
  return out;
}

/** The merge move on parameters: i and j (i < j) become one component at i; j is removed. */
export function mergeMove(p: GmmParams, i: number, j: number): GmmParams {
  const { k: K, d: D, covarianceType: type } = p;
  const wi = p.weights[i];
  const wj = p.weights[j];
  const w = wi + wj;
  const mu = new Float64Array(D);
  for (let a = 0; a < D; a++) mu[a] = (wi * p.means[i * D + a] + wj * p.means[j * D + a]) / w;
  const cs = covStride(type, D);
  const cov = COVARIANCE[type].mergeCovariance(p.covariances, p.means, D, i, j, wi, wj, mu);
  const keep = (c: number): boolean => c !== j;
  const weights = new Float64Array(K - 1);
  const means = new Float64Array((K - 1) * D);
  const covariances = new Float64Array(cs === 0 ? p.covariances.length : (K - 1) * cs);
  if (cs === 0) covariances.set(p.covariances);
  let t = 0;
  for (let c = 0; c < K; c++) {
    if (!keep(c)) continue;
    weights[t] = c === i ? w : p.weights[c];
    means.set(c === i ? mu : p.means.subarray(c * D, c * D + D), t * D);
    if (cs > 0) covariances.set(c === i ? cov! : p.covariances.subarray(c * cs, c * cs + cs), t * cs);
    t++;
  }
  return { k: K - 1, d: D, covarianceType: type, weights, means, covariances };
}

/** The merge move on statistics: rows i and j summed into i, row j removed. */
export function mergeRows(s: SufficientStats, i: number, j: number): SufficientStats {
  const { k: K, d: D, covarianceType: type } = s;
  const ss = s2Stride(type, D);
  const out = new SufficientStats(K - 1, D, type, s.shift);
  if (ss === 0) out.s2.set(s.s2);
  let t = 0;
  for (let c = 0; c < K; c++) {
    if (c === j) continue;
    out.s0[t] = s.s0[c] + (c === i ? s.s0[j] : 0);
    for (let a = 0; a < D; a++) out.s1[t * D + a] = s.s1[c * D + a] + (c === i ? s.s1[j * D + a] : 0);
    for (let q = 0; q < ss; q++) out.s2[t * ss + q] = s.s2[c * ss + q] + (c === i ? s.s2[j * ss + q] : 0);
    t++;
  }
  return out;
}

/** Per-component arrays after a merge of i and j (row j removed; row i combined by `combine`). */
export function mergeArray<T extends Float64Array | Int32Array>(a: T, i: number, j: number, combine: (x: number, y: number) => number): T {
  const out = new (a.constructor as new (n: number) => T)(a.length - 1);
  let t = 0;
  for (let c = 0; c < a.length; c++) {
    if (c === j) continue;
    out[t++] = c === i ? combine(a[i], a[j]) : a[c];
  }
  return out;
}

/** The two components closest to each other (Bhattacharyya distance), i < j. */
export function closestPair(p: GmmParams): [number, number] {
  const dist = componentDistanceMatrix(p, p, 'bhattacharyya');
  let best: [number, number] = [0, 1];
  let min = Infinity;
  for (let i = 0; i < p.k; i++) {
    for (let j = i + 1; j < p.k; j++) {
      if (dist[i * p.k + j] < min) {
        min = dist[i * p.k + j];
        best = [i, j];
      }
    }
  }
  return best;
}

/** BIC of a model on n points from its mean log-likelihood per point: −2·n·ℓ + p·ln n. */
export function windowBic(meanLogLikelihood: number, n: number, parameters: number): number {
  return -2 * n * meanLogLikelihood + parameters * Math.log(n);
}

/** Statistics with their components reordered: new component j is old component perm[j] (tied: the pooled s2 is kept). */
export function permuteRows(s: SufficientStats, perm: ArrayLike<number>): SufficientStats {
  const { k: K, d: D, covarianceType: type } = s;
  const ss = s2Stride(type, D);
  const out = new SufficientStats(K, D, type, s.shift);
  if (ss === 0) out.s2.set(s.s2);
  for (let j = 0; j < K; j++) {
    const c = perm[j];
    out.s0[j] = s.s0[c];
    out.s1.set(s.s1.subarray(c * D, c * D + D), j * D);
    if (ss > 0) out.s2.set(s.s2.subarray(c * ss, c * ss + ss), j * ss);
  }
  return out;
}

/** A per-component array reordered: out[j] = a[perm[j]]. */
export function permuteArray<T extends Float64Array>(a: T, perm: ArrayLike<number>): T {
  const out = new (a.constructor as new (n: number) => T)(a.length);
  for (let j = 0; j < a.length; j++) out[j] = a[perm[j]];
  return out;
}
