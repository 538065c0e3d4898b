import type { StatsBlockKernel } from './blocked.js';
import { COVARIANCE } from './covariance.js';
import { BLOCK, compiledPass, EXP_UNDERFLOW, RESP_CUTOFF, type PassArgs } from './kernels.js';
import { SimdLogProb } from './simd.js';

let simdInstance: SimdLogProb | null | undefined;
/** This thread's WebAssembly kernels (null when unavailable). */
function simdKernels(): SimdLogProb | null {
  if (simdInstance === undefined) simdInstance = SimdLogProb.create();
  return simdInstance;
}
import type { SufficientStats } from './stats.js';
import type { CovarianceType, GmmParams } from './types.js';

const LOG_2PI = Math.log(2 * Math.PI);

/**
 * Nats below a point's best component beyond which the WebAssembly kernels stop evaluating a component: one nat
 * past the normalisation's cut-off ({@link RESP_CUTOFF}, or {@link EXP_UNDERFLOW} for exact tails), so that
 * rounding in their bound never drops a component the normalisation would keep.
 */
export const PRUNE_GAP = 1 - RESP_CUTOFF;

/**
 * Everything needed to evaluate log(π_k N(x | μ_k, Σ_k)) fast, derived once per parameter set
 * (scikit-learn's `precisions_cholesky_` idea: factors of the precisions, never inverses).
 *
 * - `logWeights`: K
 * - `means`: K×D
 * - `prec`: `full` K×D×D lower-triangular W_k = L_k⁻¹ (Σ_k = L_k L_kᵀ); `tied` one D×D W;
 *   `diag` K×D values 1/σ_kj; `spherical` K values 1/σ_k
 * - `logDetPrec`: K, log det W_k = −½ log det Σ_k
 */
export interface Precomputed {
  readonly k: number;
  readonly d: number;
  readonly covarianceType: CovarianceType;
  readonly logWeights: Float64Array;
  readonly means: Float64Array;
  readonly prec: Float64Array;
  readonly logDetPrec: Float64Array;
  /** K values: log π_k − ½·D·log 2π + log det W_k (the constant part of each log-density). */
  readonly lc: Float64Array;
}

/** Result of {@link precompute}: the factors, or the first component whose covariance is not positive definite. */
export type PrecomputeResult = { ok: true; value: Precomputed } | { ok: false; component: number };

/** Factorises the covariances of `params`. */
export function precompute(params: GmmParams): PrecomputeResult {
  const { k: K, d: D, covarianceType: type, covariances: cov } = params;
  const logWeights = new Float64Array(K);
  for (let k = 0; k < K; k++) logWeights[k] = Math.log(params.weights[k]);
  const logDetPrec = new Float64Array(K);
  const kind = COVARIANCE[type];
  const prec = new Float64Array(kind.precSize(K, D));
  const failed = kind.factor(cov, K, D, prec, logDetPrec);
  if (failed >= 0) return { ok: false, component: failed };
  const lc = new Float64Array(K);
  for (let k = 0; k < K; k++) lc[k] = logWeights[k] + -0.5 * D * LOG_2PI + logDetPrec[k];
  return { ok: true, value: { k: K, d: D, covarianceType: type, logWeights, means: params.means, prec, logDetPrec, lc } };
}

/** Optional per-point outputs of an E-step. Each buffer, when given, is filled. */
export interface EStepOutputs {
  /** N×K responsibilities. */
  resp?: Float64Array;
  /** N values of log p(x_i). */
  logDensity?: Float64Array;
  /** N argmax labels. */
  labels?: Int32Array;
  /** N responsibilities of the argmax label. */
  maxProb?: Float64Array;
  /**
   * Responsibilities down to e^−746 of the point's best, as a logarithm of one needs (`screenMoves`); by default
   * those below 2⁻⁶⁰ of it are 0 ({@link RESP_CUTOFF}), which nothing else can tell and which lets the kernels stop
   * early on far components.
   */
  exactTails?: boolean;
}

/** Sums over a batch produced by {@link eStep}. */
export interface EStepSums {
  /** Σ_i log p(x_i): marginal log-likelihood (sum, not mean). */
  logLikelihood: number;
  /** Σ_i Σ_k w_ik log(π_k N(x_i | θ_k)): expected complete-data log-likelihood (sum). */
  expected: number;
  /** Index of the point with the lowest log-density (the worst explained). */
  worst: number;
  /** Its log-density (+∞ for an empty batch). */
  worstLogDensity: number;
}

/** Reusable scratch for {@link eStep}: two BLOCK×K buffers, 4·D for differences, D for a centred point. */
export class EStepScratch {
  readonly lp: Float64Array;
  readonly r: Float64Array;
  readonly diff: Float64Array;
  readonly centred: Float64Array;
  readonly sums = new Float64Array(4);
  constructor(
    readonly k: number,
    readonly d: number,
  ) {
    this.lp = new Float64Array(BLOCK * k);
    this.r = new Float64Array(BLOCK * k);
    this.diff = new Float64Array(4 * d);
    this.centred = new Float64Array(d);
  }
}

/**
 * The scratch of this thread's E-steps whose caller brings none (predictions, the probes of birth and death, the
 * chunks of `EStepPool` and its workers), one per shape (K, D) of the last few used: an E-step is synchronous and
 * never re-entered, and nothing of its scratch is read after it returns, so reusing one is safe and saves zeroing
 * 2·256·K values a call.
 */
const SHARED_SCRATCH: EStepScratch[] = [];

export function sharedScratch(k: number, d: number): EStepScratch {
  for (const s of SHARED_SCRATCH) if (s.k === k && s.d === d) return s;
  const s = new EStepScratch(k, d);
  if (SHARED_SCRATCH.length === 4) SHARED_SCRATCH.shift();
  SHARED_SCRATCH.push(s);
  return s;
}

/**
 * One E-step pass over a batch, fused with the accumulation of sufficient statistics.
 *
 * For each point i:
 * 1. lp_k = log π_k + log N(x_i | μ_k, Σ_k) (kernel by covariance type);
 * 2. log p(x_i) = logsumexp_k lp_k;
 * 3. soft: w_ik = exp(lp_k − log p(x_i)); hard: w_ik = 1 for the argmax, 0 elsewhere;
 * 4. Q += Σ_k w_ik lp_k; `stats` (when given) accumulates (w_i, x_i).
 *
 * No N×K buffer is needed unless `out.resp` is asked for; no allocation per point.
 *
 * @param pre factors of the current parameters
 * @param data N×D row-major points
 * @param n number of points
 * @param hard hard (classification) EM
 * @param stats accumulator to add this batch to, or null
 * @param out optional per-point outputs
 * @param scratch reusable scratch (when omitted, one shared by such calls for this K and D)
 * @param unrolled use the fastest kernels (default): the compiled pass for D ≤ 16, WebAssembly SIMD
 *   beyond; false runs the plain JavaScript blocked kernels (the reference; bit-identical results)
 * @returns sums of the marginal and the expected complete-data log-likelihood
 */
export function eStep(
  pre: Precomputed,
  data: ArrayLike<number>,
  n: number,
  hard: boolean,
  stats: SufficientStats | null,
  out: EStepOutputs = {},
  scratch: EStepScratch = sharedScratch(pre.k, pre.d),
  unrolled = true,
): EStepSums {
  const cut = out.exactTails === true ? EXP_UNDERFLOW : RESP_CUTOFF;
  const pass = unrolled ? compiledPass(pre.covarianceType, pre.d) : null;
  if (pass !== null && (stats === null || stats.covarianceType === pre.covarianceType)) {
    const args: PassArgs = {
      data,
      n,
      k: pre.k,
      means: pre.means,
      prec: pre.prec,
      lc: pre.lc,
      hard,
      cut,
      s0: stats?.s0 ?? null,
      s1: stats?.s1 ?? null,
      s2: stats?.s2 ?? null,
      shift: stats?.shift ?? null,
      resp: out.resp ?? null,
      logDensity: out.logDensity ?? null,
      labels: out.labels ?? null,
      maxProb: out.maxProb ?? null,
      lp: scratch.lp,
      r: scratch.r,
      out: scratch.sums,
    };
    pass(args);
    return { logLikelihood: scratch.sums[0], expected: scratch.sums[1], worst: scratch.sums[2], worstLogDensity: scratch.sums[3] };
  }
  const K = pre.k;
  const D = pre.d;
  const blockLogProb = COVARIANCE[pre.covarianceType].logProb;
  const { means, prec, lc } = pre;
  const simd = unrolled && SimdLogProb.serves(pre.covarianceType, D) ? simdKernels() : null;
  simd?.prepare(pre.covarianceType, K, D, means, prec, lc);
  const simdStats: StatsBlockKernel | undefined =
    simd !== null && stats !== null && stats.covarianceType === pre.covarianceType
      ? (st, x, s0, nb0, r, sc) => simd.statsBlock(st, x, s0, nb0, r, sc)
      : undefined;
  const { lp: LP, r: R, diff } = scratch;
  const { resp, logDensity, labels, maxProb } = out;
  let ll = 0;
  let q = 0;
  let worst = 0;
  let worstValue = Infinity;
  for (let start = 0; start < n; start += BLOCK) {
    const nb = Math.min(BLOCK, n - start);
    if (simd !== null) simd.logProb(data, start, nb, LP, 1 - cut);
    else blockLogProb(K, D, means, prec, lc, data, start, nb, LP, diff);
    for (let i = 0; i < nb; i++) {
      const g = start + i;
      const rb = i * K;
      let best = 0;
      let max = LP[rb];
      for (let k = 1; k < K; k++) {
        const v = LP[rb + k];
        if (v > max) {
          max = v;
          best = k;
        }
      }
      let sum = 0;
      for (let k = 0; k < K; k++) {
        // (exp(0) is 1; below the cut-off a component takes 0: see RESP_CUTOFF)
        const x = LP[rb + k] - max;
        const e = x === 0 ? 1 : x < cut ? 0 : Math.exp(x);
        R[rb + k] = e;
        sum += e;
      }
      // (log 1 = 0 and max + 0 = max: one component holding the point skips the call)
      const logp = sum === 1 ? max : max + Math.log(sum);
      ll += logp;
      if (logp < worstValue) {
        worstValue = logp;
        worst = g;
      }
      if (hard) {
        for (let k = 0; k < K; k++) R[rb + k] = 0;
        R[rb + best] = 1;
        q += LP[rb + best];
      } else {
        const inv = 1 / sum;
        for (let k = 0; k < K; k++) {
          const w = R[rb + k] * inv;
          R[rb + k] = w;
          if (w > 0) q += w * LP[rb + k];
        }
      }
      if (resp !== undefined) for (let k = 0; k < K; k++) resp[g * K + k] = R[rb + k];
      if (logDensity !== undefined) logDensity[g] = logp;
      if (labels !== undefined) labels[g] = best;
      if (maxProb !== undefined) maxProb[g] = hard ? 1 : R[rb + best];
    }
    if (stats !== null) stats.addBlock(data, start, nb, R, simdStats);
  }
  return { logLikelihood: ll, expected: q, worst, worstLogDensity: worstValue };
}
