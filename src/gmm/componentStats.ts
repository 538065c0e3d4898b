/**
 * Per-component operations on sufficient statistics: the moments of one component, scaling the
 * contribution of some components only (per-component forgetting, resets), and assembling the M-step's
 * input from carried and batch statistics with per-component factors.
 *
 * Layouts as in {@link SufficientStats}: s0 K, s1 K×D about the shift c, s2 K×T packed (full), K×D
 * (diag, spherical) or one pooled T (tied), T = D(D+1)/2.
 *
 * @module
 */
import { COVARIANCE } from './covariance.js';
import type { ComponentMoments } from './covarianceStatistics.js';
import { cholesky, packedIndex, packedSize } from './linalg.js';
import type { SufficientStats } from './stats.js';
import type { CovarianceType } from './types.js';

/**
 * Within-component scatter per unit of weight of tied statistics, packed T:
 * W = (s2 − Σ_k s1_k s1_kᵀ / s0_k) / Σ_k s0_k (the tied covariance before regularisation).
 */
export function tiedWithin(stats: SufficientStats): Float64Array {
  const { k: K, d: D, s0, s1, s2 } = stats;
  const T = packedSize(D);
  const w = Float64Array.from(s2.subarray(0, T));
  let total = 0;
  for (let k = 0; k < K; k++) {
    total += s0[k];
    if (!(s0[k] > 0)) continue;
    let p = 0;
    for (let a = 0; a < D; a++) for (let b = 0; b <= a; b++, p++) w[p] -= (s1[k * D + a] * s1[k * D + b]) / s0[k];
  }
  if (total > 0) for (let p = 0; p < T; p++) w[p] /= total;
  return w;
}

/**
 * Multiplies the statistics of component k by factors[k], in place.
 *
 * 1. full, diag, spherical: s0_k, s1_k and s2_k are scaled (they belong to component k alone);
 * 2. tied: s0_k and s1_k are scaled, and the pooled s2 changes by (f_k − 1)(s0_k·W + s1_k s1_kᵀ/s0_k),
 *    W the within-component scatter per unit of weight ({@link tiedWithin}): the component's share of the
 *    pooled scatter is taken to be proportional to its weight, so W itself is unchanged.
 *
 * @param stats statistics to modify
 * @param factors K factors ≥ 0
 */
export function scaleComponents(stats: SufficientStats, factors: ArrayLike<number>): void {
  const { k: K, d: D, s0, s1 } = stats;
  COVARIANCE[stats.covarianceType].scaleS2(stats, factors, () => tiedWithin(stats));
  for (let k = 0; k < K; k++) {
    const f = factors[k];
    if (f === 1) continue;
    s0[k] *= f;
    for (let a = 0; a < D; a++) s1[k * D + a] *= f;
  }
}

/**
 * Moves component k's statistics by δ (D values), in place, as if each of its points were x + δ:
 * s1_k += s0_k·δ and s2 += δ s1_kᵀ + s1_k δᵀ + s0_k δδᵀ (its own block; tied: the pooled one), exactly.
 */
export function translateComponent(stats: SufficientStats, k: number, delta: ArrayLike<number>): void {
  const { d: D, s0, s1 } = stats;
  const w = s0[k];
  COVARIANCE[stats.covarianceType].translateS2(stats, k, delta);
  for (let a = 0; a < D; a++) s1[k * D + a] += w * delta[a];
}

/**
 * Splits component `from`'s statistics between itself and component `to` (whose statistics are overwritten),
 * preserving the moments: the two parts weigh a and 1 − a of it, their means are m + (1 − a)·δ and m − a·δ
 * (m its mean), and they share the within covariance S − a(1 − a)·δδᵀ (S its covariance), so that the two
 * together have exactly its weight, mean and second moment (the split move of Richardson & Green 1997 on
 * sufficient statistics). δ is shortened (halved, up to 20 times) until that covariance stays positive
 * definite. Tied statistics split s0 and s1 only: the pooled scatter is unchanged.
 *
 * @param a the share of `from`, in (0, 1)
 * @param delta the difference of the two means (D values)
 */
export function splitComponentRow(stats: SufficientStats, from: number, to: number, a: number, delta: ArrayLike<number>): void {
  const { d: D, s0, s1, s2 } = stats;
  const kind = COVARIANCE[stats.covarianceType];
  const n = s0[from];
  const m = new Float64Array(D);
  for (let c = 0; c < D; c++) m[c] = n > 0 ? s1[from * D + c] / n : 0;
  const f = a * (1 - a);
  let scale = 1;
  if (n > 0) {
    const cov = componentMoments(stats, from, 0).cov;
    for (let attempt = 0; attempt < 20 && !kind.splitFits(cov, D, f, delta, scale); attempt++) scale *= 0.5;
  }
  const mu1 = Float64Array.from(m, (v, c) => v + (1 - a) * scale * delta[c]);
  const mu2 = Float64Array.from(m, (v, c) => v - a * scale * delta[c]);
  // second moments: s2_part = w·(S_within + μμᵀ) with S_within = S − f·δδᵀ, S = s2/n − m mᵀ
  const stride = kind.s2Stride(D);
  kind.splitS2(stats, from, to, n, a, mu1, mu2, (x, y) => (n > 0 ? s2[from * stride + (stride === D ? x : packedIndex(x, y))] / n : 0) - m[x] * m[y] - f * scale * scale * delta[x] * delta[y]);
  s0[to] = (1 - a) * n;
  s0[from] = a * n;
  for (let c = 0; c < D; c++) {
    s1[to * D + c] = (1 - a) * n * mu2[c];
    s1[from * D + c] = a * n * mu1[c];
  }
}

export type { ComponentMoments } from './covarianceStatistics.js';

/**
 * The moments of component k: n = s0_k, m = s1_k / s0_k, and the covariance s2_k / s0_k − m mᵀ (tied: the
 * pooled within-component scatter per unit weight). Regularisation `reg` is added to the diagonal.
 *
 * @param tiedW for tied statistics, {@link tiedWithin} (computed once for all components)
 */
export function componentMoments(stats: SufficientStats, k: number, reg: number, tiedW?: Float64Array): ComponentMoments {
  const { d: D, s0, s1 } = stats;
  const n = s0[k];
  const inv = n > 0 ? 1 / n : 0;
  const mean = new Float64Array(D);
  for (let a = 0; a < D; a++) mean[a] = s1[k * D + a] * inv;
  const cov = COVARIANCE[stats.covarianceType].momentCovariance(stats, k, inv, mean, reg, () => tiedW ?? tiedWithin(stats));
  return { n, mean, cov };
}

/**
 * The moments of every component of one set of statistics, each computed on first need and kept
 * ({@link componentMoments}): the carried history of a window is tested against every EM iteration's window
 * statistics (mean shrinkage) and then once more (the component tests), and it does not change meanwhile.
 *
 * The statistics must not change while this is in use; the moments it returns must not be modified.
 */
export class MomentsOf {
  private readonly cache: (ComponentMoments | undefined)[];

  constructor(
    readonly stats: SufficientStats,
    private readonly reg: number,
  ) {
    this.cache = new Array<ComponentMoments | undefined>(stats.k);
  }

  /** Component k's moments (regularised by `reg`). @param tiedW for tied statistics, {@link tiedWithin} of `stats` */
  get(k: number, tiedW?: Float64Array): ComponentMoments {
    return (this.cache[k] ??= componentMoments(this.stats, k, this.reg, tiedW));
  }
}

/**
 * `h` with its mean moved by `from − to` (the carried history's shift and the window's): both means about the
 * window's origin. `h` itself is not modified.
 */
export function aboutShift(h: ComponentMoments, from: Float64Array, to: Float64Array): ComponentMoments {
  const mean = new Float64Array(h.mean.length);
  for (let a = 0; a < mean.length; a++) mean[a] = h.mean[a] + (from[a] - to[a]);
  return { n: h.n, mean, cov: h.cov };
}

/**
 * Hotelling's two-sample statistic of the means, (n_h n_w / (n_h + n_w))·(m_h − m_w)ᵀ C⁻¹ (m_h − m_w),
 * C the pooled within covariance (≈ χ²_D when the component has not moved): O(D) for diag and spherical,
 * one Cholesky of C for full; for tied C is the shared `tiedCov`, or its lower Cholesky factor `tiedFactor`
 * when the caller factored it once for all components.
 */
export function meanStatistic(type: CovarianceType, d: number, h: ComponentMoments, nh: number, w: ComponentMoments, tiedCov?: Float64Array, tiedFactor?: Float64Array | null): number {
  if (!(nh > 0) || !(w.n > 0)) return 0;
  const scale = (nh * w.n) / (nh + w.n);
  return scale * COVARIANCE[type].meanQuadratic(d, h, nh, w, tiedCov === undefined ? undefined : { cov: tiedCov, factor: tiedFactor });
}

/**
 * The constant of the mean shrinkage: a history moves only by the part of the displacement beyond twice
 * its noise level (E[Λ] = D without drift). With 1 (the unbiased excess) stationary streams lose up to 0.01
 * nats per point to noise-driven moves (32-D); with 2 they lose none, and drifting ones follow as well
 * (measured on the streams of `npm run bench -- quality`).
 */
export const JAMES_STEIN_C = 2;

/**
 * How far each component's history follows its window mean (positive-part James–Stein shrinkage of the
 * displacement): with Λ_k Hotelling's statistic of the window mean against the history mean,
 * τ_k = max(0, 1 − c·D/Λ_k), c = {@link JAMES_STEIN_C}. A displacement no larger than noise (Λ ≈ D) moves
 * nothing; one many times the noise moves the history almost all the way.
 */
export interface MeanShrinkage {
  /** Per component, the weight of data behind the carried mean (units of prior.s0). */
  readonly evidence: ArrayLike<number>;
  /** Components with fewer window or history points than this do not move. */
  readonly minPoints: number;
  readonly regCovar: number;
  /** Out: K fractions τ_k of the last call. */
  readonly tau: Float64Array;
  /** Out: K Hotelling statistics of the last call. */
  readonly statistics: Float64Array;
  /** The carried history's moments, when the caller keeps them across calls (they must be of `prior`, with `regCovar`). */
  readonly priorMoments?: MomentsOf;
}

/** The tied within-scatters of the past and the window, their pooled covariance and its factor. */
export interface PooledTied {
  /** The past's within-scatter per unit weight (packed T), for tied statistics. */
  readonly tiedP: Float64Array | undefined;
  /** The window's (packed T). */
  readonly tiedB: Float64Array | undefined;
  /** The shared covariance C (D×D): the two weighted by their effective sizes, plus regCovar on the diagonal. */
  readonly tiedCov: Float64Array | undefined;
  /** Its lower Cholesky factor (null when C is not positive definite). */
  readonly tiedFactor: Float64Array | null | undefined;
}

/**
 * For tied statistics, the pooled covariance of the past (effective size Σ s0 / batchWeight) and the
 * window (Σ s0), C = (n_h·W_h + n_w·W_w) / (n_h + n_w) + regCovar·I, and its factor: what the mean and
 * drift tests share over all components. Every field undefined for the other covariance types.
 */
export function pooledTied(prior: SufficientStats, batch: SufficientStats, batchWeight: number, regCovar: number): PooledTied {
  const { d: D, covarianceType: type } = batch;
  if (!COVARIANCE[type].shared) return { tiedP: undefined, tiedB: undefined, tiedCov: undefined, tiedFactor: undefined };
  const tiedP = tiedWithin(prior);
  const tiedB = tiedWithin(batch);
  const ph = prior.total() / batchWeight;
  const pw = batch.total();
  const tiedCov = new Float64Array(D * D);
  let p = 0;
  for (let a = 0; a < D; a++) {
    for (let b = 0; b <= a; b++, p++) {
      const v = ph + pw > 0 ? (ph * tiedP[p] + pw * tiedB[p]) / (ph + pw) : 0;
      tiedCov[a * D + b] = v;
      tiedCov[b * D + a] = v;
    }
    tiedCov[a * D + a] += regCovar;
  }
  return { tiedP, tiedB, tiedCov, tiedFactor: cholesky(tiedCov, D) };
}

function shrinkMeans(prior: SufficientStats, batch: SufficientStats, batchWeight: number, shrink: MeanShrinkage): void {
  const { k: K, d: D, covarianceType: type } = batch;
  const { tiedP, tiedB, tiedCov, tiedFactor } = pooledTied(prior, batch, batchWeight, shrink.regCovar);
  for (let k = 0; k < K; k++) {
    shrink.statistics[k] = 0;
    const nh = Math.min(prior.s0[k], shrink.evidence[k]) / batchWeight;
    if (!(batch.s0[k] >= shrink.minPoints) || !(nh >= shrink.minPoints)) continue;
    const w = componentMoments(batch, k, shrink.regCovar, tiedB);
    const moments = shrink.priorMoments?.stats === prior ? shrink.priorMoments : null;
    const h = aboutShift(moments !== null ? moments.get(k, tiedP) : componentMoments(prior, k, shrink.regCovar, tiedP), prior.shift, batch.shift);
    const lambda = meanStatistic(type, D, h, nh, w, tiedCov, tiedFactor);
    shrink.statistics[k] = lambda;
    if (lambda > JAMES_STEIN_C * D) shrink.tau[k] = 1 - (JAMES_STEIN_C * D) / lambda;
  }
}

/**
 * The carried total that a component starting afresh (mass NaN) takes its window share of: the prior's total,
 * or, when the other components' weights are forgotten (mass factors g_k < 1), the total as forgotten — Σ g_k·s0_k
 * over them, and their average factor on the rows that start afresh — so that a fresh component does not outweigh
 * the others by their forgetting.
 */
function carriedTotal(prior: SufficientStats, mass: ArrayLike<number> | null): number {
  if (mass === null) return prior.total();
  let kept = 0;
  let keptRaw = 0;
  let fresh = 0;
  let forgotten = false;
  for (let k = 0; k < prior.k; k++) {
    const g = mass[k];
    if (Number.isNaN(g)) fresh += prior.s0[k];
    else {
      if (g !== 1) forgotten = true;
      kept += g * prior.s0[k];
      keptRaw += prior.s0[k];
    }
  }
  if (!forgotten) return prior.total();
  return kept + (keptRaw > 0 ? (fresh * kept) / keptRaw : fresh);
}

/**
 * The M-step's input: carried and batch statistics combined with per-component factors that set, apart,
 * how much of a component's history shapes it and how much of it weighs.
 *
 * For component k with carried statistics P_k (already forgotten by the window's factor), batch statistics
 * B_k and batch weight b:
 * 1. shape: the component's mean and covariance come from f_k·P_k + b·B_k (f_k = shape[k], default 1);
 * 2. mass: its total weight is M_k = h_k + b·B_k.s0 with h_k = g_k·P_k.s0 (g_k = mass[k], default 1), or,
 *    where g_k is NaN (a component that starts afresh), h_k = B_k.s0·ΣP.s0/ΣB.s0: its share of the window
 *    times the carried total;
 * 3. combined_k = r_k·(f_k·P_k + b·B_k) with r_k = M_k / (f_k·P_k.s0 + b·B_k.s0): scaling a component's
 *    statistics changes its weight, not its mean or covariance;
 * 4. where translate[k] = τ_k > 0 (or, with `shrink`, τ_k from {@link MeanShrinkage} on these very statistics),
 *    P_k is first moved by τ_k of the way to B_k's mean ({@link translateComponent}): the component keeps its
 *    covariance history while its mean follows the window (a cluster that moves).
 * With every f_k = g_k = 1 and no translation this is P + b·B.
 *
 * @param into destination (same shape as `batch`), overwritten
 * @param scratch a statistics object of the same shape (overwritten)
 */
export function combineStats(
  into: SufficientStats,
  prior: SufficientStats,
  batch: SufficientStats,
  batchWeight: number,
  shape: ArrayLike<number> | null,
  mass: ArrayLike<number> | null,
  scratch: SufficientStats,
  translate: ArrayLike<number> | null = null,
  shrink: MeanShrinkage | null = null,
): void {
  into.s0.set(prior.s0);
  into.s1.set(prior.s1);
  into.s2.set(prior.s2);
  into.shift.set(prior.shift);
  if (shape === null && mass === null && translate === null && shrink === null) {
    into.merge(batch, batchWeight);
    return;
  }
  if (shrink !== null) {
    shrink.tau.fill(0);
    shrinkMeans(prior, batch, batchWeight, shrink);
    translate = shrink.tau;
  }
  if (translate !== null) {
    // The history of a component that moves is moved to where the window has it: its covariance history
    // is kept, its mean is the window's.
    const D = batch.d;
    const delta = new Float64Array(D);
    for (let k = 0; k < batch.k; k++) {
      const tau = translate[k];
      if (!(tau > 0) || !(prior.s0[k] > 0) || !(batch.s0[k] > 0)) continue;
      for (let a = 0; a < D; a++) delta[a] = tau * (batch.shift[a] + batch.s1[k * D + a] / batch.s0[k] - (prior.shift[a] + prior.s1[k * D + a] / prior.s0[k]));
      translateComponent(into, k, delta);
    }
  }
  const K = batch.k;
  const priorTotal = carriedTotal(prior, mass);
  const batchTotal = batch.total();
  const pf = new Float64Array(K);
  const bf = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const f = shape?.[k] ?? 1;
    const g = mass?.[k] ?? 1;
    const wb = batchWeight * batch.s0[k];
    const history = Number.isNaN(g) ? (batchTotal > 0 ? (batch.s0[k] * priorTotal) / batchTotal : 0) : g * prior.s0[k];
    const denominator = f * prior.s0[k] + wb;
    const r = denominator > 0 ? (history + wb) / denominator : 1;
    pf[k] = r * f;
    bf[k] = r * batchWeight;
  }
  scaleComponents(into, pf);
  scratch.s0.set(batch.s0);
  scratch.s1.set(batch.s1);
  scratch.s2.set(batch.s2);
  scratch.shift.set(batch.shift);
  scaleComponents(scratch, bf);
  into.merge(scratch, 1);
}
