import { BLOCK, compiledPass, type PassArgs } from './kernels.js';
import { precisionFactor } from './linalg.js';
import type { SufficientStats } from './stats.js';
import type { CovarianceType, GmmParams } from './types.js';

const LOG_2PI = Math.log(2 * Math.PI);

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
  let prec: Float64Array;
  switch (type) {
    case 'full': {
      prec = new Float64Array(K * D * D);
      for (let k = 0; k < K; k++) {
        const ld = precisionFactor(cov, D, k * D * D, prec, k * D * D);
        if (ld === null) return { ok: false, component: k };
        logDetPrec[k] = ld;
      }
      break;
    }
    case 'tied': {
      prec = new Float64Array(D * D);
      const ld = precisionFactor(cov, D, 0, prec, 0);
      if (ld === null) return { ok: false, component: 0 };
      logDetPrec.fill(ld);
      break;
    }
    case 'diag': {
      prec = new Float64Array(K * D);
      for (let k = 0; k < K; k++) {
        let ld = 0;
        for (let j = 0; j < D; j++) {
          const v = cov[k * D + j];
          if (!(v > 0) || !Number.isFinite(v)) return { ok: false, component: k };
          prec[k * D + j] = 1 / Math.sqrt(v);
          ld -= 0.5 * Math.log(v);
        }
        logDetPrec[k] = ld;
      }
      break;
    }
    case 'spherical': {
      prec = new Float64Array(K);
      for (let k = 0; k < K; k++) {
        const v = cov[k];
        if (!(v > 0) || !Number.isFinite(v)) return { ok: false, component: k };
        prec[k] = 1 / Math.sqrt(v);
        logDetPrec[k] = -0.5 * D * Math.log(v);
      }
      break;
    }
  }
  const lc = new Float64Array(K);
  for (let k = 0; k < K; k++) lc[k] = logWeights[k] + -0.5 * D * LOG_2PI + logDetPrec[k];
  return { ok: true, value: { k: K, d: D, covarianceType: type, logWeights, means: params.means, prec, logDetPrec, lc } };
}

/**
 * Block kernel signature: writes LP[i·K + k] = log(π_k N(x_{start+i} | μ_k, Σ_k)) for the nb points
 * of a block (LP: nb×K). `scratch` has 4·D entries. No allocation.
 */
type BlockLogProb = (p: Precomputed, x: ArrayLike<number>, start: number, nb: number, LP: Float64Array, scratch: Float64Array) => void;

function diagBlockLogProb(p: Precomputed, x: ArrayLike<number>, start: number, nb: number, LP: Float64Array): void {
  const { k: K, d: D, means, prec, lc } = p;
  for (let i = 0; i < nb; i++) {
    const off = (start + i) * D;
    for (let k = 0; k < K; k++) {
      const b = k * D;
      let sq = 0;
      for (let a = 0; a < D; a++) {
        const y = (x[off + a] - means[b + a]) * prec[b + a];
        sq += y * y;
      }
      LP[i * K + k] = lc[k] - 0.5 * sq;
    }
  }
}

function sphericalBlockLogProb(p: Precomputed, x: ArrayLike<number>, start: number, nb: number, LP: Float64Array): void {
  const { k: K, d: D, means, prec, lc } = p;
  for (let i = 0; i < nb; i++) {
    const off = (start + i) * D;
    for (let k = 0; k < K; k++) {
      const b = k * D;
      let sq = 0;
      for (let a = 0; a < D; a++) {
        const y = x[off + a] - means[b + a];
        sq += y * y;
      }
      const pk = prec[k];
      LP[i * K + k] = lc[k] - 0.5 * sq * pk * pk;
    }
  }
}

/**
 * log(π_k N(x_i | μ_k, Σ_k)) for a block of points, full or tied covariance, four points at a time
 * per component: each precision entry is loaded once for four independent sums, which breaks the
 * add-latency chain of a single dot product. Per point, the arithmetic and its order are those of
 * the compiled kernels in kernels.ts (so results are bit-identical).
 *
 * @param LP nb×K output, row i = point start + i
 * @param diff4 scratch of 4·D values
 */
function fullBlockLogProb(p: Precomputed, x: ArrayLike<number>, start: number, nb: number, LP: Float64Array, diff4: Float64Array): void {
  const { k: K, d: D, means, prec, lc } = p;
  const tied = p.covarianceType === 'tied';
  for (let k = 0; k < K; k++) {
    const mb = k * D;
    const wb = tied ? 0 : k * D * D;
    const lck = lc[k];
    let i = 0;
    for (; i + 4 <= nb; i += 4) {
      const o = (start + i) * D;
      for (let a = 0; a < D; a++) {
        const m = means[mb + a];
        diff4[a] = x[o + a] - m;
        diff4[D + a] = x[o + D + a] - m;
        diff4[2 * D + a] = x[o + 2 * D + a] - m;
        diff4[3 * D + a] = x[o + 3 * D + a] - m;
      }
      let q0 = 0;
      let q1 = 0;
      let q2 = 0;
      let q3 = 0;
      for (let j = 0; j < D; j++) {
        const row = wb + j * D;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let a = 0; a <= j; a++) {
          const w = prec[row + a];
          s0 += w * diff4[a];
          s1 += w * diff4[D + a];
          s2 += w * diff4[2 * D + a];
          s3 += w * diff4[3 * D + a];
        }
        q0 += s0 * s0;
        q1 += s1 * s1;
        q2 += s2 * s2;
        q3 += s3 * s3;
      }
      LP[i * K + k] = lck - 0.5 * q0;
      LP[(i + 1) * K + k] = lck - 0.5 * q1;
      LP[(i + 2) * K + k] = lck - 0.5 * q2;
      LP[(i + 3) * K + k] = lck - 0.5 * q3;
    }
    for (; i < nb; i++) {
      const o = (start + i) * D;
      for (let a = 0; a < D; a++) diff4[a] = x[o + a] - means[mb + a];
      let sq = 0;
      for (let j = 0; j < D; j++) {
        const row = wb + j * D;
        let s = 0;
        for (let a = 0; a <= j; a++) s += prec[row + a] * diff4[a];
        sq += s * s;
      }
      LP[i * K + k] = lck - 0.5 * sq;
    }
  }
}

/** Generic block log-density kernels keyed by covariance type (the path for D above the compiled kernels'). */
export const BLOCK_LOG_PROB: Readonly<Record<CovarianceType, BlockLogProb>> = {
  full: fullBlockLogProb,
  tied: fullBlockLogProb,
  diag: diagBlockLogProb,
  spherical: sphericalBlockLogProb,
};

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
}

/** Sums over a batch produced by {@link eStep}. */
export interface EStepSums {
  /** Σ_i log p(x_i): marginal log-likelihood (sum, not mean). */
  logLikelihood: number;
  /** Σ_i Σ_k w_ik log(π_k N(x_i | θ_k)): expected complete-data log-likelihood (sum). */
  expected: number;
  /** Index of the point with the lowest log-density (the worst explained). */
  worst: number;
}

/** Reusable scratch for {@link eStep}: two BLOCK×K buffers, 4·D for differences, D for a centred point. */
export class EStepScratch {
  readonly lp: Float64Array;
  readonly r: Float64Array;
  readonly diff: Float64Array;
  readonly centred: Float64Array;
  readonly sums = new Float64Array(3);
  constructor(k: number, d: number) {
    this.lp = new Float64Array(BLOCK * k);
    this.r = new Float64Array(BLOCK * k);
    this.diff = new Float64Array(4 * d);
    this.centred = new Float64Array(d);
  }
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
 * @param scratch reusable scratch (allocated when omitted)
 * @returns sums of the marginal and the expected complete-data log-likelihood
 */
export function eStep(
  pre: Precomputed,
  data: ArrayLike<number>,
  n: number,
  hard: boolean,
  stats: SufficientStats | null,
  out: EStepOutputs = {},
  scratch: EStepScratch = new EStepScratch(pre.k, pre.d),
  unrolled = true,
): EStepSums {
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
    return { logLikelihood: scratch.sums[0], expected: scratch.sums[1], worst: scratch.sums[2] };
  }
  const K = pre.k;
  const blockLogProb = BLOCK_LOG_PROB[pre.covarianceType];
  const { lp: LP, r: R, diff } = scratch;
  const { resp, logDensity, labels, maxProb } = out;
  let ll = 0;
  let q = 0;
  let worst = 0;
  let worstValue = Infinity;
  for (let start = 0; start < n; start += BLOCK) {
    const nb = Math.min(BLOCK, n - start);
    blockLogProb(pre, data, start, nb, LP, diff);
    for (let i = 0; i < nb; i++) {
      const g = start + i;
      const rb = i * K;
      let best = 0;
      let max = -Infinity;
      for (let k = 0; k < K; k++) {
        const v = LP[rb + k];
        if (k === 0 || v > max) {
          max = v;
          best = k;
        }
      }
      let sum = 0;
      for (let k = 0; k < K; k++) {
        const e = Math.exp(LP[rb + k] - max);
        R[rb + k] = e;
        sum += e;
      }
      const logp = max + Math.log(sum);
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
    if (stats !== null) stats.addBlock(data, start, nb, R);
  }
  return { logLikelihood: ll, expected: q, worst };
}
