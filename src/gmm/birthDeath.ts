/**
 * Birth and death of components: proposals that move a starved component to where the model is worst.
 *
 * A component is starved when its weight falls far below its share (π_k < minWeight/K): EM, warm-started
 * window after window, rarely moves such a component out of the place it is stuck in (between clusters,
 * on a tail), so a cluster stays merged with another for as long as the stream runs. Spark's
 * StreamingKMeans re-seeds a dying cluster by splitting the largest one; here the proposals are
 *
 * 1. split a donor — one of the components with the largest weighted spread π_j·tr Σ_j — along its
 *    principal axis: the donor and the starved component become the two halves, μ_j ± 0.8·√λ·v, with the
 *    donor's covariance shrunk along v (λ → 0.36 λ; full and diag) and half their summed weight each;
 * 2. seed the starved component on the worst-explained point of the window (the point of lowest density),
 *    with the covariance of the heaviest component.
 *
 * The caller fits each proposal to the window with the statistics of the re-seeded components reset (not
 * carried) and keeps the best only if it beats the current model by a BIC margin (see `StreamingGmm`).
 *
 * @module
 */
import { COVARIANCE } from './covariance.js';
import { eStep, precompute } from './estep.js';
import { cloneParams } from './em.js';
import { reseedComponents } from './mstep.js';
import type { CovarianceType, Dataset, GmmParams } from './types.js';

/** Free parameters of one component of a covariance type (mean, covariance, weight). */
export function componentParameters(type: CovarianceType, d: number): number {
  switch (type) {
    case 'full':
      return d + (d * (d + 1)) / 2 + 1;
    case 'diag':
      return 2 * d + 1;
    case 'spherical':
      return d + 2;
    case 'tied':
      return d + 1;
  }
}

/** Free parameters of a mixture (scikit-learn's `_n_parameters`). */
export function mixtureParameters(type: CovarianceType, k: number, d: number): number {
  const cov = type === 'full' ? (k * d * (d + 1)) / 2 : type === 'diag' ? k * d : type === 'tied' ? (d * (d + 1)) / 2 : k;
  return cov + k * d + k - 1;
}

/** Leading eigenvector and eigenvalue of a symmetric PSD D×D matrix (power iteration from the largest diagonal). */
export function principalAxis(m: Float64Array, d: number): { vector: Float64Array; value: number } {
  let v = new Float64Array(d);
  let start = 0;
  for (let a = 1; a < d; a++) if (m[a * d + a] > m[start * d + start]) start = a;
  v[start] = 1;
  // a small tilt so that the start is not orthogonal to the leading eigenvector
  for (let a = 0; a < d; a++) v[a] += 1e-3 * (a + 1);
  let value = 0;
  const w = new Float64Array(d);
  for (let it = 0; it < 200; it++) {
    for (let a = 0; a < d; a++) {
      let s = 0;
      for (let b = 0; b < d; b++) s += m[a * d + b] * v[b];
      w[a] = s;
    }
    let norm = 0;
    for (let a = 0; a < d; a++) norm += w[a] * w[a];
    norm = Math.sqrt(norm);
    if (!(norm > 0)) break;
    let change = 0;
    for (let a = 0; a < d; a++) {
      const x = w[a] / norm;
      change += Math.abs(x - v[a]);
      w[a] = x;
    }
    [v, value] = [Float64Array.from(w), norm];
    if (change < 1e-10) break;
  }
  return { vector: v, value };
}

/** Responsibility-weighted scatter (D×D) of the window's points about component j's mean. */
function windowScatter(params: GmmParams, data: Dataset, j: number): Float64Array | null {
  const { k: K, d: D } = params;
  const pre = precompute(params);
  if (!pre.ok) return null;
  const resp = new Float64Array(data.n * K);
  eStep(pre.value, data.data, data.n, false, null, { resp });
  const out = new Float64Array(D * D);
  let total = 0;
  for (let i = 0; i < data.n; i++) {
    const w = resp[i * K + j];
    if (w < 1e-12) continue;
    total += w;
    for (let a = 0; a < D; a++) {
      const da = data.data[i * D + a] - params.means[j * D + a];
      for (let b = 0; b <= a; b++) out[a * D + b] += w * da * (data.data[i * D + b] - params.means[j * D + b]);
    }
  }
  if (!(total > 0)) return null;
  for (let a = 0; a < D; a++) {
    for (let b = 0; b <= a; b++) {
      out[a * D + b] /= total;
      out[b * D + a] = out[a * D + b];
    }
  }
  return out;
}

/** Components ordered by weighted spread π_j·tr Σ_j, largest first (excluding `except`). */
export function bySpread(params: GmmParams, except: ReadonlySet<number>): number[] {
  const { k: K, d: D } = params;
  const variances = new Float64Array(D);
  const spread: [number, number][] = [];
  for (let j = 0; j < K; j++) {
    if (except.has(j)) continue;
    COVARIANCE[params.covarianceType].diagonal(params.covariances, K, D, j, variances);
    let tr = 0;
    for (let a = 0; a < D; a++) tr += variances[a];
    spread.push([j, params.weights[j] * tr]);
  }
  return spread.sort((x, y) => y[1] - x[1]).map(([j]) => j);
}

/**
 * Proposal 1: component `target` and the donor become the two halves of the donor along its principal axis.
 *
 * @returns new parameters (the input is not modified), or null when the donor has no spread to split
 */
export function splitProposal(params: GmmParams, donor: number, target: number, data: Dataset): GmmParams | null {
  const p = cloneParams(params);
  const { d: D, covarianceType: type } = p;
  let axis: { vector: Float64Array; value: number };
  if (type === 'full') {
    axis = principalAxis(p.covariances.subarray(donor * D * D, (donor + 1) * D * D), D);
  } else if (type === 'diag') {
    let a = 0;
    for (let b = 1; b < D; b++) if (p.covariances[donor * D + b] > p.covariances[donor * D + a]) a = b;
    const vector = new Float64Array(D);
    vector[a] = 1;
    axis = { vector, value: p.covariances[donor * D + a] };
  } else {
    const scatter = windowScatter(params, data, donor);
    if (scatter === null) return null;
    axis = principalAxis(scatter, D);
  }
  if (!(axis.value > 0)) return null;
  const step = 0.8 * Math.sqrt(axis.value);
  const v = axis.vector;
  for (let a = 0; a < D; a++) {
    const m = p.means[donor * D + a];
    p.means[donor * D + a] = m + step * v[a];
    p.means[target * D + a] = m - step * v[a];
  }
  const shrink = step * step; // λ·0.64: the variance along v becomes 0.36·λ
  if (type === 'full') {
    const b0 = donor * D * D;
    for (let a = 0; a < D; a++) for (let b = 0; b < D; b++) p.covariances[b0 + a * D + b] -= shrink * v[a] * v[b];
    p.covariances.copyWithin(target * D * D, b0, b0 + D * D);
  } else if (type === 'diag') {
    for (let a = 0; a < D; a++) p.covariances[donor * D + a] -= shrink * v[a] * v[a];
    p.covariances.copyWithin(target * D, donor * D, donor * D + D);
  } else if (type === 'spherical') {
    p.covariances[target] = p.covariances[donor];
  }
  const half = (p.weights[donor] + p.weights[target]) / 2;
  p.weights[donor] = half;
  p.weights[target] = half;
  return p;
}

/** Proposal 2: component `target` re-seeded on the worst-explained point of the window. */
export function worstPointProposal(params: GmmParams, target: number, data: Dataset): GmmParams | null {
  const pre = precompute(params);
  if (!pre.ok) return null;
  const { worst } = eStep(pre.value, data.data, data.n, false, null);
  const p = cloneParams(params);
  reseedComponents(p, [target], data.data, [worst]);
  return p;
}

/**
 * The most redundant pair of components on a window: the largest cosine similarity of their
 * responsibility vectors, Σ_i r_ia r_ib / √(Σ_i r_ia² · Σ_i r_ib²) (Ueda et al. 2000's merge criterion).
 * Near 0 for components that own different points; large when one sits inside the other's support and
 * explains points the other explains too (e.g. stranded after two clusters crossed).
 *
 * @param resp the responsibilities of `data` under `params` (N×K), when the caller has them; else an E-step computes them
 * @returns the pair (a < b) and its similarity, or null when K < 2 or the covariances cannot be factored
 */
export function mostRedundantPair(params: GmmParams, data: Dataset, resp?: Float64Array): { pair: [number, number]; similarity: number } | null {
  const K = params.k;
  if (K < 2) return null;
  if (resp === undefined) {
    const pre = precompute(params);
    if (!pre.ok) return null;
    resp = new Float64Array(data.n * K);
    eStep(pre.value, data.data, data.n, false, null, { resp });
  }
  const dots = new Float64Array(K * K);
  for (let i = 0; i < data.n; i++) {
    const row = i * K;
    for (let a = 0; a < K; a++) {
      const ra = resp[row + a];
      if (ra < 1e-12) continue;
      for (let b = a; b < K; b++) dots[a * K + b] += ra * resp[row + b];
    }
  }
  let best: [number, number] = [0, 1];
  let similarity = -1;
  for (let a = 0; a < K; a++) {
    for (let b = a + 1; b < K; b++) {
      const den = Math.sqrt(dots[a * K + a] * dots[b * K + b]);
      const c = den > 0 ? dots[a * K + b] / den : 0;
      if (c > similarity) {
        similarity = c;
        best = [a, b];
      }
    }
  }
  return { pair: best, similarity };
}
