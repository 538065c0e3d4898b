/**
 * The statistical operations that depend on the covariance type, one object per type, spread into the
 * `COVARIANCE` table (`covariance.ts`) beside the layouts, factors, M-steps and kernels: the moments of one
 * component, moving and scaling its statistics, splitting and merging components, the two-sample tests of
 * adaptive forgetting, and the words of messages.
 *
 * Layouts as in `SufficientStats`: s1 K×D about the shift; s2 K×T packed (full), K×D (diag, spherical) or one
 * pooled T (tied), T = D(D+1)/2. Component moments: the mean relative to the shift, the covariance D×D (full,
 * tied) or its D variances (diag, spherical).
 *
 * @module
 */
import { cholesky, logDetFromCholesky, packedSize, Tridiagonal } from './linalg.js';
import type { CovarianceType } from './types.js';

/** Mean and covariance of one component from statistics (the M-step of that component, without regularisation). */
export interface ComponentMoments {
  /** Weight s0_k. */
  readonly n: number;
  /** D values, relative to the shift. */
  readonly mean: Float64Array;
  /** full and tied: D×D; diag and spherical: the D variances. */
  readonly cov: Float64Array;
}

/** The statistics arrays of one accumulator (a `SufficientStats`). */
interface StatsView {
  readonly k: number;
  readonly d: number;
  readonly s0: Float64Array;
  readonly s1: Float64Array;
  readonly s2: Float64Array;
}

/** Per-type statistical operations (see the module comment). */
export interface CovarianceStatistics {
  /** One covariance shared by every component (tied): components own none of their own. */
  readonly shared: boolean;
  /** The covariances are diagonal (diag, spherical): two mixtures of such types compare in the diag layout. */
  readonly isDiagonal: boolean;
  /** Free parameters of one component's own covariance (full T, diag D, spherical 1, tied 0). */
  ownParameters(d: number): number;
  /** s2 values per component (0: one pooled s2 for all). */
  s2Stride(d: number): number;
  /** Multiply-adds of one E-step with statistics over n points (log-densities plus second moments). */
  eStepWork(n: number, k: number, d: number): number;
  /** How messages name component c's covariance, and its path in a model's JSON. */
  describe(c: number): { readonly name: string; readonly path: string };
  /** What a valid covariance of the type is, for messages. */
  readonly valid: string;
  /**
   * Scales the s2 of each component k by factors[k] (tied: the pooled s2 changes by (f_k − 1)·(s0_k·W +
   * s1_k s1_kᵀ/s0_k), W the within scatter per unit weight, before s0 and s1 are scaled).
   *
   * @param within for tied, the within-component scatter per unit weight (packed T), else unused
   */
  scaleS2(st: StatsView, factors: ArrayLike<number>, within: () => Float64Array): void;
  /** Moves component k's s2 as if each of its points were x + δ: δ s1_kᵀ + s1_k δᵀ + s0_k δδᵀ (tied: the pooled one). */
  translateS2(st: StatsView, k: number, delta: ArrayLike<number>): void;
  /**
   * Component k's covariance in the moments' layout: s2_k·inv − m mᵀ (diag, spherical: clamped at 0) plus `reg`
   * on the diagonal; tied: the pooled within scatter `within()` plus `reg`.
   */
  momentCovariance(st: StatsView, k: number, inv: number, mean: Float64Array, reg: number, within: () => Float64Array): Float64Array;
  /**
   * (m_h − m_w)ᵀ C⁻¹ (m_h − m_w) with C the pooled within covariance of the two moments (diag, spherical in O(D),
   * full one Cholesky) or, tied, the shared covariance whose factor is given (0 when it cannot be factored).
   */
  meanQuadratic(d: number, h: ComponentMoments, nh: number, w: ComponentMoments, tied?: { readonly cov: Float64Array; readonly factor: Float64Array | null | undefined }): number;
  /**
   * The likelihood ratio of "one covariance" against "one each" as a function of the history's weight n_h (see
   * `shapeStatistic` in adaptive.ts for the statistic and its cost per type).
   */
  shapeStatistic(d: number, h: ComponentMoments, w: ComponentMoments, tiedCov?: Float64Array): (nh: number) => number;
  /**
   * Whether the within covariance S − f·s²·δδᵀ of a split (S the component's moment covariance, f = a(1 − a),
   * s the length factor of δ) stays positive definite (tied: nothing of its own to split, always).
   */
  splitFits(cov: Float64Array, d: number, f: number, delta: ArrayLike<number>, scale: number): boolean;
  /**
   * The s2 rows of a moment-preserving split of component `from` (weight n, mean m) into `from` (share a, mean
   * μ1) and `to` (mean μ2), both with the within covariance S − f·δδᵀ (`within(x, y)`); tied: nothing to write.
   */
  splitS2(st: StatsView, from: number, to: number, n: number, a: number, mu1: Float64Array, mu2: Float64Array, within: (x: number, y: number) => number): void;
  /**
   * The axis along which component `donor` is split: the principal axis of its covariance (full), its widest
   * variable (diag), or that of its points' scatter on the window (`scatterAxis()`; spherical, tied).
   */
  splitAxis(cov: Float64Array, d: number, donor: number, scatterAxis: () => { vector: Float64Array; value: number } | null): { vector: Float64Array; value: number } | null;
  /** After a split along v: the donor's covariance shrunk by `shrink`·vvᵀ and copied onto `target` (spherical: copied; tied: shared). */
  shrinkAlong(cov: Float64Array, d: number, donor: number, target: number, v: Float64Array, shrink: number): void;
  /** The moment-matched covariance of components i and j merged (weights wi, wj, merged mean mu), or null (tied: shared). */
  mergeCovariance(cov: Float64Array, means: Float64Array, d: number, i: number, j: number, wi: number, wj: number, mu: Float64Array): Float64Array | null;
}

/**
 * Leading eigenvector and eigenvalue of a symmetric PSD D×D matrix (power iteration from the largest diagonal, at
 * most 200 steps, until the iterate moves by less than 1e-10 in L1).
 *
 * Each step's product runs four rows at a time, each row's sum in column order as one row alone would: four
 * independent additions in flight instead of one chain (on a near-isotropic scatter, where the iteration runs all
 * 200 steps, this was most of a probe's split axes). Two buffers alternate; none is allocated per step.
 */
export function principalAxis(m: Float64Array, d: number): { vector: Float64Array; value: number } {
  let v = new Float64Array(d);
  let start = 0;
  for (let a = 1; a < d; a++) if (m[a * d + a] > m[start * d + start]) start = a;
  v[start] = 1;
  // a small tilt so that the start is not orthogonal to the leading eigenvector
  for (let a = 0; a < d; a++) v[a] += 1e-3 * (a + 1);
  let value = 0;
  let w = new Float64Array(d);
  const d4 = d - (d % 4);
  for (let it = 0; it < 200; it++) {
    let a = 0;
    for (; a < d4; a += 4) {
      const r0 = a * d;
      const r1 = r0 + d;
      const r2 = r1 + d;
      const r3 = r2 + d;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let b = 0; b < d; b++) {
        const x = v[b];
        s0 += m[r0 + b] * x;
        s1 += m[r1 + b] * x;
        s2 += m[r2 + b] * x;
        s3 += m[r3 + b] * x;
      }
      w[a] = s0;
      w[a + 1] = s1;
      w[a + 2] = s2;
      w[a + 3] = s3;
    }
    for (; a < d; a++) {
      let s = 0;
      for (let b = 0; b < d; b++) s += m[a * d + b] * v[b];
      w[a] = s;
    }
    let norm = 0;
    for (let b = 0; b < d; b++) norm += w[b] * w[b];
    norm = Math.sqrt(norm);
    if (!(norm > 0)) break;
    let change = 0;
    for (let b = 0; b < d; b++) {
      const x = w[b] / norm;
      change += Math.abs(x - v[b]);
      w[b] = x;
    }
    const next = w;
    w = v;
    v = next;
    value = norm;
    if (change < 1e-10) break;
  }
  return { vector: v, value };
}

/** ‖L⁻¹(x − y)‖² by forward substitution (L lower, D×D). */
export function lowerSolveNormSq(l: Float64Array, d: number, x: ArrayLike<number>, y: ArrayLike<number>): number {
  const z = new Float64Array(d);
  let q = 0;
  for (let a = 0; a < d; a++) {
    let s = x[a] - y[a];
    for (let b = 0; b < a; b++) s -= l[a * d + b] * z[b];
    z[a] = s / l[a * d + a];
    q += z[a] * z[a];
  }
  return q;
}

/** Pooled within-component covariance (n_h C_h + n_w C_w)/(n_h + n_w), in the layout of the moments (into `out`, by default a new array). */
function pooledWithin(h: ComponentMoments, nh: number, w: ComponentMoments, out: Float64Array = new Float64Array(h.cov.length)): Float64Array {
  for (let i = 0; i < out.length; i++) out[i] = (nh * h.cov[i] + w.n * w.cov[i]) / (nh + w.n);
  return out;
}

/**
 * Two D×D matrices reused by the full-covariance tests (a pooled covariance and its factor), which run for
 * every component of every EM iteration of a warm fit: each use reads its result before the next begins.
 */
const SCRATCH = { matrix: new Float64Array(0), factor: new Float64Array(0) };

function scratch(which: 'matrix' | 'factor', size: number): Float64Array {
  if (SCRATCH[which].length !== size) SCRATCH[which] = new Float64Array(size);
  return SCRATCH[which];
}

/** ln|C| of a D×D SPD matrix (null when it is not positive definite). */
function logDet(c: Float64Array, d: number): number | null {
  const l = cholesky(c, d, 0, scratch('factor', d * d));
  return l === null ? null : logDetFromCholesky(l, d);
}

/** {@link pooledWithin} of D×D covariances, into the scratch matrix, factored into the scratch factor (null when not positive definite). */
function pooledFactor(h: ComponentMoments, nh: number, w: ComponentMoments, d: number): Float64Array | null {
  return cholesky(pooledWithin(h, nh, w, scratch('matrix', d * d)), d, 0, scratch('factor', d * d));
}

/**
 * The full-covariance statistic on the reduced form, from the Cholesky factors L_h of C_h and L_w of C_w:
 * Z = L_w⁻¹ L_h (lower, forward substitution, D³/6), M = Z Zᵀ = L_w⁻¹ C_h L_w⁻ᵀ (its lower triangle, D³/6),
 * M's Householder reduction (2/3·D³ multiply-adds); then O(D) per evaluation.
 */
function reducedFullStatistic(d: number, lh: Float64Array, lw: Float64Array, h: ComponentMoments, w: ComponentMoments): (nh: number) => number {
  const nw = w.n;
  const z = new Float64Array(d * d);
  for (let c = 0; c < d; c++) {
    // column c of Z: L_w z = column c of L_h (zero above row c)
    for (let a = c; a < d; a++) {
      let s = lh[a * d + c];
      for (let t = c; t < a; t++) s -= lw[a * d + t] * z[t * d + c];
      z[a * d + c] = s / lw[a * d + a];
    }
  }
  const m = new Float64Array(d * d);
  for (let a = 0; a < d; a++) {
    for (let b = 0; b <= a; b++) {
      let s = 0;
      for (let t = 0; t <= b; t++) s += z[a * d + t] * z[b * d + t];
      m[a * d + b] = s;
    }
  }
  const u = new Float64Array(d);
  for (let a = 0; a < d; a++) {
    let s = h.mean[a] - w.mean[a];
    for (let t = 0; t < a; t++) s -= lw[a * d + t] * u[t];
    u[a] = s / lw[a * d + a];
  }
  const tri = Tridiagonal.of(m, d);
  tri.rotate(u);
  const lm = tri.shifted(1, 0);
  if (lm === null) return () => 0;
  return (nh) => {
    if (!(nh > 0)) return 0;
    const np = nh + nw;
    const sp = tri.shifted(nh / np, nw / np, u);
    if (sp === null) return 0;
    const b = (nh * nw) / (np * np);
    return Math.max(0, np * (sp.logDet + Math.log1p(b * sp.quadratic)) - nh * lm.logDet);
  };
}

const zero = (): number => 0;

/** Operations shared by the two types whose components own a D×D matrix or D variances. */
function writeWithinRows(st: StatsView, stride: number, packed: boolean, from: number, to: number, n: number, a: number, mu1: Float64Array, mu2: Float64Array, within: (x: number, y: number) => number): void {
  const { d: D, s2 } = st;
  if (packed) {
    let p = 0;
    for (let x = 0; x < D; x++) {
      for (let y = 0; y <= x; y++, p++) {
        const wxy = within(x, y);
        s2[to * stride + p] = (1 - a) * n * (wxy + mu2[x] * mu2[y]);
        s2[from * stride + p] = a * n * (wxy + mu1[x] * mu1[y]);
      }
    }
    return;
  }
  for (let c = 0; c < D; c++) {
    const wcc = within(c, c);
    s2[to * stride + c] = (1 - a) * n * (wcc + mu2[c] * mu2[c]);
    s2[from * stride + c] = a * n * (wcc + mu1[c] * mu1[c]);
  }
}

/** Diagonal s2 rows (diag and spherical): scale rows, translate one, moment variances. */
const diagonalRows = {
  scaleS2(st: StatsView, factors: ArrayLike<number>): void {
    const { k: K, d: D, s2 } = st;
    for (let k = 0; k < K; k++) {
      const f = factors[k];
      if (f === 1) continue;
      for (let p = 0; p < D; p++) s2[k * D + p] *= f;
    }
  },
  translateS2(st: StatsView, k: number, delta: ArrayLike<number>): void {
    const { d: D, s0, s1, s2 } = st;
    const w = s0[k];
    const b1 = k * D;
    for (let a = 0; a < D; a++) s2[b1 + a] += 2 * delta[a] * s1[b1 + a] + w * delta[a] * delta[a];
  },
  momentCovariance(st: StatsView, k: number, inv: number, mean: Float64Array, reg: number): Float64Array {
    const { d: D, s2 } = st;
    const cov = new Float64Array(D);
    for (let a = 0; a < D; a++) cov[a] = Math.max(0, s2[k * D + a] * inv - mean[a] * mean[a]) + reg;
    return cov;
  },
  splitFits(cov: Float64Array, _d: number, f: number, delta: ArrayLike<number>, scale: number): boolean {
    return cov.every((v, c) => v - f * scale * scale * delta[c] * delta[c] > 0);
  },
  splitS2(st: StatsView, from: number, to: number, n: number, a: number, mu1: Float64Array, mu2: Float64Array, within: (x: number, y: number) => number): void {
    writeWithinRows(st, st.d, false, from, to, n, a, mu1, mu2, within);
  },
};

/** Packed full s2 rows and D×D moments: translate, moment covariance, fits (full and tied share some). */
function translatePacked(st: StatsView, k: number, delta: ArrayLike<number>, start: number): void {
  const { d: D, s0, s1, s2 } = st;
  const w = s0[k];
  const b1 = k * D;
  let p = start;
  for (let a = 0; a < D; a++) {
    for (let b = 0; b <= a; b++, p++) s2[p] += delta[a] * s1[b1 + b] + s1[b1 + a] * delta[b] + w * delta[a] * delta[b];
  }
}

function choleskyQuadratic(l: Float64Array | null, d: number, h: ComponentMoments, w: ComponentMoments): number {
  if (l === null) return 0;
  const y = new Float64Array(d);
  for (let a = 0; a < d; a++) {
    let s = h.mean[a] - w.mean[a];
    for (let b = 0; b < a; b++) s -= l[a * d + b] * y[b];
    y[a] = s / l[a * d + a];
  }
  let q = 0;
  for (let a = 0; a < d; a++) q += y[a] * y[a];
  return q;
}

function widestVariable(cov: Float64Array, d: number, c: number): { vector: Float64Array; value: number } {
  let a = 0;
  for (let b = 1; b < d; b++) if (cov[c * d + b] > cov[c * d + a]) a = b;
  const vector = new Float64Array(d);
  vector[a] = 1;
  return { vector, value: cov[c * d + a] };
}

/** `full`: K×D×D covariances, K×T packed s2. */
export const FULL_STATISTICS: CovarianceStatistics = {
  shared: false,
  isDiagonal: false,
  ownParameters: (d) => packedSize(d),
  s2Stride: (d) => packedSize(d),
  eStepWork: (n, k, d) => n * (k * packedSize(d) + packedSize(d)),
  describe: (c) => ({ name: `the covariance of component ${c}`, path: `covariances[${c}]` }),
  valid: 'a symmetric positive definite matrix',
  scaleS2(st, factors) {
    const { k: K, d: D, s2 } = st;
    const T = packedSize(D);
    for (let k = 0; k < K; k++) {
      const f = factors[k];
      if (f === 1) continue;
      for (let p = 0; p < T; p++) s2[k * T + p] *= f;
    }
  },
  translateS2: (st, k, delta) => translatePacked(st, k, delta, k * packedSize(st.d)),
  momentCovariance(st, k, inv, mean, reg) {
    const { d: D, s2 } = st;
    const T = packedSize(D);
    const cov = new Float64Array(D * D);
    let p = k * T;
    for (let a = 0; a < D; a++) {
      for (let b = 0; b <= a; b++, p++) {
        const v = s2[p] * inv - mean[a] * mean[b];
        cov[a * D + b] = v;
        cov[b * D + a] = v;
      }
      cov[a * D + a] += reg;
    }
    return cov;
  },
  meanQuadratic: (d, h, nh, w) => choleskyQuadratic(pooledFactor(h, nh, w, d), d, h, w),
  shapeStatistic(d, h, w) {
    const nw = w.n;
    if (!(nw > 0)) return zero;
    // The first evaluation directly (three Cholesky factors, D³/2): most components are tested once. The
    // bisection's further evaluations on the reduced form (prepared then, about D³ once, O(D) each).
    const lw = cholesky(w.cov, d);
    if (lw === null) return zero;
    let lh: Float64Array | null | undefined;
    let reduced: ((nh: number) => number) | null = null;
    let calls = 0;
    return (nh) => {
      if (!(nh > 0)) return 0;
      lh ??= cholesky(h.cov, d);
      if (lh === null) return 0;
      if (calls++ === 0) {
        const np = nh + nw;
        const between = (nh * nw) / (np * np);
        const cp = scratch('matrix', d * d);
        for (let a = 0; a < d; a++) {
          const da = h.mean[a] - w.mean[a];
          for (let b = 0; b < d; b++) cp[a * d + b] = (nh * h.cov[a * d + b] + nw * w.cov[a * d + b]) / np + between * da * (h.mean[b] - w.mean[b]);
        }
        const lp = logDet(cp, d);
        return lp === null ? 0 : Math.max(0, np * lp - nh * logDetFromCholesky(lh, d) - nw * logDetFromCholesky(lw, d));
      }
      reduced ??= reducedFullStatistic(d, lh, lw, h, w);
      return reduced(nh);
    };
  },
  splitFits: (cov, d, f, delta, scale) => cholesky(Float64Array.from(cov, (v, i) => v - f * scale * scale * delta[Math.floor(i / d)] * delta[i % d]), d) !== null,
  splitS2: (st, from, to, n, a, mu1, mu2, within) => writeWithinRows(st, packedSize(st.d), true, from, to, n, a, mu1, mu2, within),
  splitAxis: (cov, d, donor) => principalAxis(cov.subarray(donor * d * d, (donor + 1) * d * d), d),
  shrinkAlong(cov, d, donor, target, v, shrink) {
    const b0 = donor * d * d;
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[b0 + a * d + b] -= shrink * v[a] * v[b];
    cov.copyWithin(target * d * d, b0, b0 + d * d);
  },
  mergeCovariance(cov, means, D, i, j, wi, wj, mu) {
    const out = new Float64Array(D * D);
    const w = wi + wj;
    for (let a = 0; a < D; a++) {
      for (let b = 0; b < D; b++) {
        let v = 0;
        for (const [c, wc] of [
          [i, wi],
          [j, wj],
        ] as const) {
          v += wc * (cov[c * D * D + a * D + b] + (means[c * D + a] - mu[a]) * (means[c * D + b] - mu[b]));
        }
        out[a * D + b] = v / w;
      }
    }
    return out;
  },
};

/** What `diag` and `spherical` statistics share: K×D diagonal s2, one covariance row per component. */
const diagonalCommon = {
  shared: false,
  isDiagonal: true,
  s2Stride: (d: number) => d,
  eStepWork: (n: number, k: number, d: number) => n * 2 * k * d,
  describe: (c: number) => ({ name: `the covariance of component ${c}`, path: `covariances[${c}]` }),
  valid: 'positive variances',
  ...diagonalRows,
} as const;

/** `diag`: K×D variances, K×D diagonal s2. */
export const DIAG_STATISTICS: CovarianceStatistics = {
  ...diagonalCommon,
  ownParameters: (d) => d,
  meanQuadratic(d, h, nh, w) {
    const c = pooledWithin(h, nh, w);
    let q = 0;
    for (let a = 0; a < d; a++) {
      const diff = h.mean[a] - w.mean[a];
      q += (diff * diff) / c[a];
    }
    return q;
  },
  shapeStatistic(d, h, w) {
    const nw = w.n;
    if (!(nw > 0)) return zero;
    const mu = new Float64Array(d);
    const u2 = new Float64Array(d);
    let logMu = 0;
    for (let a = 0; a < d; a++) {
      if (!(h.cov[a] > 0) || !(w.cov[a] > 0)) return zero;
      mu[a] = h.cov[a] / w.cov[a];
      const da = h.mean[a] - w.mean[a];
      u2[a] = (da * da) / w.cov[a];
      logMu += Math.log(mu[a]);
    }
    return (nh) => {
      if (!(nh > 0)) return 0;
      const np = nh + nw;
      const b = (nh * nw) / (np * np);
      const fh = nh / np;
      const fw = nw / np;
      let logs = 0;
      let prod = 1;
      for (let a = 0; a < d; a++) {
        prod *= fh * mu[a] + fw + b * u2[a];
        if (prod > 1e150 || prod < 1e-150) {
          logs += Math.log(prod);
          prod = 1;
        }
      }
      return Math.max(0, np * (logs + Math.log(prod)) - nh * logMu);
    };
  },
  splitAxis: (cov, d, donor) => widestVariable(cov, d, donor),
  shrinkAlong(cov, d, donor, target, v, shrink) {
    for (let a = 0; a < d; a++) cov[donor * d + a] -= shrink * v[a] * v[a];
    cov.copyWithin(target * d, donor * d, donor * d + d);
  },
  mergeCovariance(cov, means, D, i, j, wi, wj, mu) {
    const out = new Float64Array(D);
    const w = wi + wj;
    for (let a = 0; a < D; a++) {
      out[a] = (wi * (cov[i * D + a] + (means[i * D + a] - mu[a]) ** 2) + wj * (cov[j * D + a] + (means[j * D + a] - mu[a]) ** 2)) / w;
    }
    return out;
  },
};

/** `spherical`: one variance per component, K×D diagonal s2. */
export const SPHERICAL_STATISTICS: CovarianceStatistics = {
  ...diagonalCommon,
  ownParameters: () => 1,
  meanQuadratic(d, h, nh, w) {
    const c = pooledWithin(h, nh, w);
    let q = 0;
    let mean = 0;
    for (let a = 0; a < d; a++) mean += c[a] / d;
    for (let a = 0; a < d; a++) {
      const diff = h.mean[a] - w.mean[a];
      q += (diff * diff) / mean;
    }
    return q;
  },
  shapeStatistic(d, h, w) {
    const nw = w.n;
    if (!(nw > 0)) return zero;
    let vh = 0;
    let vw = 0;
    let dd = 0;
    for (let a = 0; a < d; a++) {
      const da = h.mean[a] - w.mean[a];
      vh += h.cov[a];
      vw += w.cov[a];
      dd += da * da;
    }
    if (!(vh > 0) || !(vw > 0)) return zero;
    const lh = Math.log(vh / d);
    const lw = Math.log(vw / d);
    return (nh) => {
      if (!(nh > 0)) return 0;
      const np = nh + nw;
      const vp = (nh * vh + nw * vw) / np + ((nh * nw) / (np * np)) * dd;
      return Math.max(0, d * (np * Math.log(vp / d) - nh * lh - nw * lw));
    };
  },
  splitAxis: (_cov, _d, _donor, scatterAxis) => scatterAxis(),
  shrinkAlong(cov, _d, donor, target) {
    cov[target] = cov[donor];
  },
  mergeCovariance(cov, means, D, i, j, wi, wj, mu) {
    const w = wi + wj;
    let si = 0;
    let sj = 0;
    for (let a = 0; a < D; a++) {
      si += (means[i * D + a] - mu[a]) ** 2;
      sj += (means[j * D + a] - mu[a]) ** 2;
    }
    return Float64Array.of((wi * (cov[i] + si / D) + wj * (cov[j] + sj / D)) / w);
  },
};

/** `tied`: one D×D covariance shared by all, one pooled packed s2. */
export const TIED_STATISTICS: CovarianceStatistics = {
  shared: true,
  isDiagonal: false,
  ownParameters: () => 0,
  s2Stride: () => 0,
  eStepWork: (n, k, d) => n * (k * packedSize(d) + packedSize(d)),
  describe: () => ({ name: 'the tied covariance', path: 'covariances' }),
  valid: 'a symmetric positive definite matrix',
  scaleS2(st, factors, within) {
    const { k: K, d: D, s0, s1, s2 } = st;
    const w = within();
    for (let k = 0; k < K; k++) {
      const f = factors[k];
      if (f === 1 || !(s0[k] > 0)) continue;
      let p = 0;
      for (let a = 0; a < D; a++) {
        for (let b = 0; b <= a; b++, p++) s2[p] += (f - 1) * (s0[k] * w[p] + (s1[k * D + a] * s1[k * D + b]) / s0[k]);
      }
    }
  },
  translateS2: (st, k, delta) => translatePacked(st, k, delta, 0),
  momentCovariance(st, _k, _inv, _mean, reg, within) {
    const D = st.d;
    const w = within();
    const cov = new Float64Array(D * D);
    let p = 0;
    for (let a = 0; a < D; a++) {
      for (let b = 0; b <= a; b++, p++) {
        cov[a * D + b] = w[p];
        cov[b * D + a] = w[p];
      }
      cov[a * D + a] += reg;
    }
    return cov;
  },
  meanQuadratic: (d, h, _nh, w, tied) => choleskyQuadratic(tied!.factor !== undefined ? tied!.factor : cholesky(tied!.cov, d), d, h, w),
  shapeStatistic(d, h, w, tiedCov) {
    const nw = w.n;
    if (!(nw > 0)) return zero;
    const l = cholesky(tiedCov!, d);
    if (l === null) return zero;
    const q = lowerSolveNormSq(l, d, h.mean, w.mean);
    return (nh) => (nh > 0 ? ((nh * nw) / (nh + nw)) * q : 0);
  },
  splitFits: () => true,
  splitS2: () => {},
  splitAxis: (_cov, _d, _donor, scatterAxis) => scatterAxis(),
  shrinkAlong: () => {},
  mergeCovariance: () => null,
};

/** The statistics object of each covariance type (spread into `COVARIANCE`). */
export const COVARIANCE_STATISTICS: Readonly<Record<CovarianceType, CovarianceStatistics>> = { full: FULL_STATISTICS, diag: DIAG_STATISTICS, spherical: SPHERICAL_STATISTICS, tied: TIED_STATISTICS };
