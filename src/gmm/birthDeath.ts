/**
 * Birth and death of components: the screen of moves (where a re-seed would gain most) and the proposals
 * that start them.
 *
 * A component is starved when its weight falls far below its share (π_k < minWeight/K): EM, warm-started
 * window after window, rarely moves such a component out of the place it is stuck in (between clusters, on a
 * tail), and two components that split one cluster while a third covers two stay so for as long as the stream
 * runs. {@link screenMoves} measures, in log-likelihood on the window, what removing or merging each component
 * would cost and what splitting each would gain (Ueda et al.'s split-and-merge criteria); the proposals are
 *
 * 1. split a donor in two (`splitProposal`: along its principal axis, the donor and the victim the two halves,
 *    μ_j ± 0.8·√λ·v, the donor's covariance shrunk along v, half their summed weight each);
 * 2. seed the victim on the worst-explained point of the window (`worstPointProposal`), with the covariance
 *    of the heaviest component.
 *
 * The streaming loop fits the best of them on part of the window, scores them on the rest, and lets the next
 * window judge the one it makes (src/gmm/stream/reseed.ts).
 *
 * @module
 */
import { COVARIANCE } from './covariance.js';
import { eStep, precompute } from './estep.js';
import { cloneParams } from './em.js';
import { mStep, reseedComponents } from './mstep.js';
import { SufficientStats } from './stats.js';
import type { CovarianceType, Dataset, GmmParams } from './types.js';

/** Free parameters of one component of a covariance type (mean, its own covariance, weight). */
export function componentParameters(type: CovarianceType, d: number): number {
  return d + COVARIANCE[type].ownParameters(d) + 1;
}

/** Free parameters of a mixture (scikit-learn's `_n_parameters`). */
export function mixtureParameters(type: CovarianceType, k: number, d: number): number {
  return COVARIANCE[type].parameters(k, d) + k * d + k - 1;
}

import { principalAxis } from './covarianceStatistics.js';

export { principalAxis };

/**
 * The principal axis of the responsibility-weighted scatter of the window's points about component j's mean (what
 * spherical and tied components split along). With at least D/2 weighted points, the D×D scatter is formed and its
 * axis found ({@link principalAxis}); with fewer (a component of 60 points in 384 dimensions), the axis of the m × m
 * Gram matrix of the weighted centred points is found and mapped back (the same eigenvalue; m² a step instead of D²).
 */
function windowScatterAxis(params: GmmParams, data: Dataset, j: number): { vector: Float64Array; value: number } | null {
  const { k: K, d: D } = params;
  const pre = precompute(params);
  if (!pre.ok) return null;
  const resp = new Float64Array(data.n * K);
  eStep(pre.value, data.data, data.n, false, null, { resp });
  const rows: number[] = [];
  let total = 0;
  for (let i = 0; i < data.n; i++) {
    const w = resp[i * K + j];
    if (w < 1e-12) continue;
    total += w;
    rows.push(i);
  }
  if (!(total > 0)) return null;
  const m = rows.length;
  if (2 * m >= D) {
    const out = new Float64Array(D * D);
    const centred = new Float64Array(D);
    for (const i of rows) {
      const w = resp[i * K + j];
      for (let a = 0; a < D; a++) centred[a] = data.data[i * D + a] - params.means[j * D + a];
      for (let a = 0; a < D; a++) {
        const wa = w * centred[a];
        const row = a * D;
        for (let b = 0; b <= a; b++) out[row + b] += wa * centred[b];
      }
    }
    for (let a = 0; a < D; a++) {
      for (let b = 0; b <= a; b++) {
        out[a * D + b] /= total;
        out[b * D + a] = out[a * D + b];
      }
    }
    return principalAxis(out, D);
  }
  // Y: row t = √(w_t / total)·(x_t − μ_j), so S = YᵀY; S and the m × m Gram matrix G = YYᵀ share their nonzero
  // eigenvalues, and S's eigenvector is Yᵀu for G's eigenvector u: the iteration runs on G (m² a step).
  const y = new Float64Array(m * D);
  rows.forEach((i, t) => {
    const f = Math.sqrt(resp[i * K + j] / total);
    for (let a = 0; a < D; a++) y[t * D + a] = f * (data.data[i * D + a] - params.means[j * D + a]);
  });
  const gram = new Float64Array(m * m);
  for (let t = 0; t < m; t++) {
    for (let u = 0; u <= t; u++) {
      let s = 0;
      for (let a = 0; a < D; a++) s += y[t * D + a] * y[u * D + a];
      gram[t * m + u] = s;
      gram[u * m + t] = s;
    }
  }
  const axis = principalAxis(gram, m);
  const vector = new Float64Array(D);
  for (let t = 0; t < m; t++) {
    const c = axis.vector[t];
    for (let a = 0; a < D; a++) vector[a] += c * y[t * D + a];
  }
  let norm = 0;
  for (let a = 0; a < D; a++) norm += vector[a] * vector[a];
  norm = Math.sqrt(norm);
  if (!(norm > 0)) return null;
  for (let a = 0; a < D; a++) vector[a] /= norm;
  return { vector, value: axis.value };
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
  const kind = COVARIANCE[type];
  const axis = kind.splitAxis(p.covariances, D, donor, () => windowScatterAxis(params, data, donor));
  if (axis === null || !(axis.value > 0)) return null;
  const step = 0.8 * Math.sqrt(axis.value);
  const v = axis.vector;
  for (let a = 0; a < D; a++) {
    const m = p.means[donor * D + a];
    p.means[donor * D + a] = m + step * v[a];
    p.means[target * D + a] = m - step * v[a];
  }
  // λ·0.64: the variance along v becomes 0.36·λ
  kind.shrinkAlong(p.covariances, D, donor, target, v, step * step);
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

/** The screen of birth-and-death moves on one window ({@link screenMoves}). */
export interface MoveScreen {
  /**
   * K values: the log-likelihood the window loses when component v is removed and its weight shared out,
   * −Σ_i ln(Σ_{k≠v} r_ik) + n·ln(1 − π_v) (nats): near 0 for a component whose points others explain as well
   * (starved, or redundant), large for one that alone explains its points.
   */
  readonly removeCost: Float64Array;
  /**
   * K values: what splitting component j in two gains on its own points, Σ_i r_ij·(ln q_j(x_i) − ln N_j(x_i))
   * with q_j a two-component fit of the points weighted by r_ij, minus the free parameters of the added
   * component (AIC's correction of the in-sample gain); 0 when it cannot be split.
   */
  readonly splitGain: Float64Array;
  /** Per component, the two-component fit of its points behind `splitGain` (null: not split). */
  readonly halves: (GmmParams | null)[];
  /**
   * K values: the log-likelihood the window loses when component v is merged into the component it shares most
   * points with (`mergeInto[v]`; the merged component has their summed weight and moments),
   * −Σ_i ln(1 − r_iv − r_ij + (π_v + π_j)·N_m(x_i)/p(x_i)): near 0 for two components that split one cluster,
   * where removing either alone costs all the points it holds.
   */
  readonly mergeCost: Float64Array;
  /** K values: the partner of each component's merge (−1: none). */
  readonly mergeInto: Int32Array;
}

/** Points needed under a component before its split is screened. */
const MIN_SPLIT_POINTS = 8;

/**
 * Points a split is screened on at most: a component holding more is screened on this many of its points, evenly
 * spaced through the window, so the screen costs the same for any window size.
 */
export const MAX_SPLIT_ROWS = 256;

/** A local split fit stops when an iteration gains less than this many nats per unit of weight (scikit-learn's tol). */
const SPLIT_TOL = 1e-3;

/**
 * The two-component fit of component j's points on `data` (step 2 of {@link screenMoves}): its points weighted by
 * r_ij (those above 10⁻³; at most {@link MAX_SPLIT_ROWS} of them, evenly spaced, weighted up to the component's
 * mass), two starts (the halves along its principal axis, and two distant points), up to `iterations` local EM
 * steps, and the gain of the best over component j alone on those points less the added component's free
 * parameters (0 at least). Null when j holds too few points or its covariance cannot be factored.
 *
 * @param resp n×K responsibilities of `data` under `params`
 */
export function localSplit(params: GmmParams, data: Dataset, resp: Float64Array, j: number, regCovar: number, iterations = 10): { gain: number; halves: GmmParams | null } | null {
  const { k: K, d: D, covarianceType: type } = params;
  const n = data.n;
  const rows: number[] = [];
  let mass = 0;
  for (let i = 0; i < n; i++) {
    const r = resp[i * K + j];
    if (r > 1e-3) {
      rows.push(i);
      mass += r;
    }
  }
  if (mass < MIN_SPLIT_POINTS) return null;
  // At most MAX_SPLIT_ROWS of them, evenly spaced through the window, weighted up to the component's mass.
  const stride = Math.max(1, rows.length / MAX_SPLIT_ROWS);
  const m = Math.min(rows.length, MAX_SPLIT_ROWS);
  const sub = new Float64Array(m * D);
  const w = new Float64Array(m);
  let taken = 0;
  for (let t = 0; t < m; t++) {
    const i = rows[Math.floor(t * stride)];
    sub.set(data.data.subarray(i * D, i * D + D), t * D);
    w[t] = resp[i * K + j];
    taken += w[t];
  }
  // The fit on m points of weight scaled by s has s times their in-sample optimism: the correction scales too.
  const scale = m < rows.length ? mass / taken : 1;
  if (scale !== 1) for (let t = 0; t < m; t++) w[t] *= scale;
  const local: Dataset = { n: m, d: D, data: sub };
  const alone = componentMixture(params, [j]);
  const preAlone = precompute(alone);
  if (!preAlone.ok) return null;
  const baseDensity = new Float64Array(m);
  eStep(preAlone.value, sub, m, false, null, { logDensity: baseDensity });
  // Two starts: the halves along the principal axis, and two distant points of the component (the heaviest
  // and the one farthest from it in its metric): two clusters side by side along a minor axis are found by the second.
  const starts: GmmParams[] = [];
  const axis = splitProposal(componentMixture(params, [j, j]), 0, 1, local);
  if (axis !== null) starts.push(axis);
  const pair = distantPair(baseDensity, w, sub, m, D);
  if (pair !== null) {
    const seeded = componentMixture(params, [j, j]);
    seeded.means.set(sub.subarray(pair[0] * D, pair[0] * D + D), 0);
    seeded.means.set(sub.subarray(pair[1] * D, pair[1] * D + D), D);
    starts.push(seeded);
  }
  let gain = 0;
  let halves: GmmParams | null = null;
  for (const start of starts) {
    const fit = localSplitGain(start, alone, sub, m, w, baseDensity, regCovar, iterations);
    if (fit.gain > gain) {
      gain = fit.gain;
      halves = fit.params;
    }
  }
  return { gain: Math.max(0, gain - scale * componentParameters(type, D)), halves };
}

/**
 * Screens every birth-and-death move of a window in likelihood units, in the manner of split-and-merge EM
 * (Ueda et al. 2000, whose merge and split criteria these are, measured as log-likelihoods):
 *
 * 1. removal: from the responsibilities, the exact loss of removing each component (its weight shared out
 *    in proportion), Σ_{k≠v} r_ik summed for the component that holds most of a point: O(n·K);
 *    merge: the exact loss of merging each component into the one whose points it shares most (moments
 *    preserved, Ueda's merge candidate): one component density over the window per component;
 * 2. split: for each component j, its points weighted by r_ij (those above 10⁻³; at most {@link MAX_SPLIT_ROWS}
 *    of them, evenly spaced, weighted up to the component's mass), two halves started along its principal axis
 *    (`splitProposal`) and two distant points, up to `iterations` local EM steps on those weighted points
 *    (stopped when a step gains under 10⁻³ nats per unit weight; tied: the shared covariance kept), and the gain
 *    of the two-component fit over component j alone on them, less the added component's free parameters: at
 *    most 2·`iterations` E-steps of two components over min(n, K·{@link MAX_SPLIT_ROWS}) points in all.
 *
 * A move re-seeds a component v where splitting j gains most: its estimated gain is splitGain[j] −
 * min(removeCost[v], mergeCost[v]). The screen only ranks moves; the caller fits the best ones and judges them
 * on held-out data.
 *
 * @param params the model (K components)
 * @param data the window (n×D)
 * @param resp n×K responsibilities of `data` under `params`, with exact tails (`EStepOutputs.exactTails`: the
 *   removal and merge costs take logarithms of sums of small ones)
 * @param regCovar added to the diagonals of the local fits
 */
export function screenMoves(params: GmmParams, data: Dataset, resp: Float64Array, regCovar: number, iterations = 10): MoveScreen {
  const K = params.k;
  const n = data.n;
  const removeCost = new Float64Array(K);
  for (let i = 0; i < n; i++) {
    // 1 − r_iv, but for the one component that holds more than half of the point, the sum of the others'
    // responsibilities: 1 − r_iv would cancel to nothing where it alone explains the point.
    const row = i * K;
    let top = -1;
    for (let k = 0; k < K; k++) if (resp[row + k] > 0.5) top = k;
    for (let v = 0; v < K; v++) {
      let rest = 1 - resp[row + v];
      if (v === top) {
        rest = 0;
        for (let k = 0; k < K; k++) if (k !== v) rest += resp[row + k];
      }
      removeCost[v] -= Math.log(Math.max(1e-300, rest));
    }
  }
  for (let v = 0; v < K; v++) removeCost[v] += n * Math.log(Math.max(1e-300, 1 - params.weights[v]));
  const splitGain = new Float64Array(K);
  const halves: (GmmParams | null)[] = new Array<GmmParams | null>(K).fill(null);
  for (let j = 0; j < K; j++) {
    const split = localSplit(params, data, resp, j, regCovar, iterations);
    if (split === null) continue;
    halves[j] = split.halves;
    splitGain[j] = split.gain;
  }
  const { mergeCost, mergeInto } = mergeCosts(params, data, resp);
  return { removeCost, splitGain, halves, mergeCost, mergeInto };
}

/** The parameters with component `from` merged into `into` (summed weight, moments preserved); `from` left as it was. */
export function mergedInto(params: GmmParams, into: number, from: number): GmmParams {
  const { d: D, covarianceType: type } = params;
  const out = cloneParams(params);
  const wi = params.weights[into];
  const wf = params.weights[from];
  const w = wi + wf;
  const mu = new Float64Array(D);
  for (let a = 0; a < D; a++) mu[a] = (wi * params.means[into * D + a] + wf * params.means[from * D + a]) / w;
  const cov = COVARIANCE[type].mergeCovariance(params.covariances, params.means, D, into, from, wi, wf, mu);
  out.weights[into] = w;
  out.means.set(mu, into * D);
  const cs = COVARIANCE[type].stride(D);
  if (cs > 0 && cov !== null) out.covariances.set(cov, into * cs);
  return out;
}

/** {@link MoveScreen.mergeCost} and {@link MoveScreen.mergeInto}. */
function mergeCosts(params: GmmParams, data: Dataset, resp: Float64Array): { mergeCost: Float64Array; mergeInto: Int32Array } {
  const K = params.k;
  const n = data.n;
  const mergeCost = new Float64Array(K).fill(Infinity);
  const mergeInto = new Int32Array(K).fill(-1);
  const pre = precompute(params);
  if (!pre.ok) return { mergeCost, mergeInto };
  const logP = new Float64Array(n);
  eStep(pre.value, data.data, n, false, null, { logDensity: logP });
  // the partner: the component sharing most responsibility with v
  const shared = new Float64Array(K * K);
  for (let i = 0; i < n; i++) {
    const row = i * K;
    for (let a = 0; a < K; a++) {
      const ra = resp[row + a];
      if (ra < 1e-6) continue;
      for (let b = a + 1; b < K; b++) shared[a * K + b] += ra * resp[row + b];
    }
  }
  const logM = new Float64Array(n);
  for (let v = 0; v < K; v++) {
    let j = -1;
    for (let c = 0; c < K; c++) {
      if (c === v) continue;
      const s = shared[Math.min(v, c) * K + Math.max(v, c)];
      if (j < 0 || s > shared[Math.min(v, j) * K + Math.max(v, j)]) j = c;
    }
    if (j < 0) continue;
    const merged = componentMixture(mergedInto(params, j, v), [j]);
    const preM = precompute(merged);
    if (!preM.ok) continue;
    eStep(preM.value, data.data, n, false, null, { logDensity: logM });
    const w = params.weights[v] + params.weights[j];
    let cost = 0;
    for (let i = 0; i < n; i++) {
      const rest = Math.max(0, 1 - resp[i * K + v] - resp[i * K + j]);
      cost -= Math.log(Math.max(1e-300, rest + w * Math.exp(logM[i] - logP[i])));
    }
    mergeCost[v] = cost;
    mergeInto[v] = j;
  }
  return { mergeCost, mergeInto };
}

/**
 * The in-sample gain of a two-component fit over one component on weighted points: up to `iterations` EM steps
 * from `start`, fewer when a step gains under {@link SPLIT_TOL} per unit weight (tied: the shared covariance kept), then Σ_i w_i (ln q(x_i) − ln N(x_i)), `baseDensity` = ln N(x_i).
 */
function localSplitGain(start: GmmParams, alone: GmmParams, sub: Float64Array, m: number, w: Float64Array, baseDensity: Float64Array, regCovar: number, iterations: number): { gain: number; params: GmmParams } {
  const { d: D, covarianceType: type } = start;
  let current = start;
  const r2 = new Float64Array(m * 2);
  const density = new Float64Array(m);
  let gain = 0;
  let scored = start;
  let mass = 0;
  for (let t = 0; t < m; t++) mass += w[t];
  for (let it = 0; it <= iterations; it++) {
    const pre = precompute(current);
    if (!pre.ok) break;
    eStep(pre.value, sub, m, false, null, { resp: r2, logDensity: density });
    const previous = gain;
    gain = 0;
    for (let t = 0; t < m; t++) gain += w[t] * (density[t] - baseDensity[t]);
    scored = current;
    if (it === iterations || (it > 0 && gain - previous < SPLIT_TOL * mass)) break;
    for (let t = 0; t < m; t++) {
      r2[2 * t] *= w[t];
      r2[2 * t + 1] *= w[t];
    }
    const stats = new SufficientStats(2, D, type, alone.means.subarray(0, D));
    stats.addBlock(sub, 0, m, r2);
    if (!(stats.s0[0] > 1) || !(stats.s0[1] > 1)) break;
    current = mStep(stats, { regCovar, fixedCovariances: COVARIANCE[type].stride(D) === 0 ? alone.covariances : null }).params;
  }
  return { gain, params: scored };
}

/**
 * Two distant points of a component: the weighted point nearest its centre (highest density, weight ≥ ½ of the
 * largest) and, from it, the weighted point farthest in the component's metric (lowest density among those
 * nearer to it than to the centre's opposite side: the largest Euclidean distance weighted by the point's weight).
 */
function distantPair(density: Float64Array, w: Float64Array, sub: Float64Array, m: number, D: number): [number, number] | null {
  let wmax = 0;
  for (let t = 0; t < m; t++) wmax = Math.max(wmax, w[t]);
  // a heavy point far out: the lowest density among the points of weight ≥ ½ the largest
  let a = -1;
  for (let t = 0; t < m; t++) if (w[t] >= 0.5 * wmax && (a < 0 || density[t] < density[a])) a = t;
  if (a < 0) return null;
  // the heavy point farthest from it
  let b = -1;
  let far = 0;
  for (let t = 0; t < m; t++) {
    if (w[t] < 0.5 * wmax) continue;
    let s = 0;
    for (let c = 0; c < D; c++) s += (sub[t * D + c] - sub[a * D + c]) ** 2;
    if (s > far) {
      far = s;
      b = t;
    }
  }
  return b < 0 ? null : [a, b];
}

/** The mixture of components `idx` of `params` (repeats allowed), equal weights. */
function componentMixture(params: GmmParams, idx: readonly number[]): GmmParams {
  const { d: D, covarianceType: type } = params;
  const kind = COVARIANCE[type];
  const cs = kind.stride(D);
  const m = idx.length;
  const means = new Float64Array(m * D);
  const covariances = new Float64Array(cs === 0 ? params.covariances.length : m * cs);
  if (cs === 0) covariances.set(params.covariances);
  idx.forEach((c, t) => {
    means.set(params.means.subarray(c * D, c * D + D), t * D);
    if (cs > 0) covariances.set(params.covariances.subarray(c * cs, c * cs + cs), t * cs);
  });
  return { k: m, d: D, covarianceType: type, weights: new Float64Array(m).fill(1 / m), means, covariances };
}
