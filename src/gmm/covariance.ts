import { BLOCKED, SKIP_WEIGHT, type LogProbKernel, type StatsArrays, type StatsBlockKernel } from './blocked.js';
import { DIAG_STATISTICS, FULL_STATISTICS, SPHERICAL_STATISTICS, TIED_STATISTICS, type CovarianceStatistics } from './covarianceStatistics.js';
import { DIAG_DIVERGENCE, FULL_DIVERGENCE, SPHERICAL_DIVERGENCE, TIED_DIVERGENCE, type DivergenceKernel } from './divergence.js';
import { cholesky, packedSize, precisionFactor } from './linalg.js';
import type { CovarianceType } from './types.js';

/**
 * Everything that depends on the covariance type, side by side, one entry per type (scikit-learn keeps
 * each variant's code together and picks it by type; so do we, instead of a `switch` in every file).
 *
 * Layouts (K components, D dimensions, T = D(D+1)/2):
 *
 * | type        | `covariances` (stored, JSON shape) | precision factor `prec`        | statistic `s2`       | free parameters |
 * |-------------|------------------------------------|--------------------------------|----------------------|-----------------|
 * | `full`      | K×D×D                              | K×D×D, lower W_k = L_k⁻¹       | K×T packed triangles | K·T             |
 * | `diag`      | K×D                                | K×D, 1/σ_kj                    | K×D diagonals        | K·D             |
 * | `spherical` | K                                  | K, 1/σ_k                       | K×D diagonals        | K               |
 * | `tied`      | D×D                                | D×D, lower W = L⁻¹             | T, pooled            | T               |
 *
 * Each entry also names its E-step block kernels (log-densities and statistics, any D: `blocked.ts`;
 * the unrolled ones for D ≤ 16 are generated in `kernels.ts`), its divergence kernel (Bhattacharyya,
 * KL between components at the cost of the type: `divergence.ts`) and its statistical operations (moments,
 * moving, scaling, splitting and merging components, the tests of adaptive forgetting, the words of
 * messages: `covarianceStatistics.ts`).
 *
 * ## Example
 * ```ts
 * import { COVARIANCE } from 'emstream/core';
 *
 * COVARIANCE.diag.size(3, 4); // 12 stored values for K = 3, D = 4
 * COVARIANCE.full.parameters(3, 4); // 30 free covariance parameters (BIC)
 * ```
 */
export interface CovarianceKind extends CovarianceStatistics {
  readonly type: CovarianceType;
  /** Number of stored covariance values. */
  size(k: number, d: number): number;
  /** Shape of `covariances` (and of its JSON form). */
  shape(k: number, d: number): number[];
  /** The same shape in words, for messages: `K×D×D`, `K×D`, `K`, `D×D`. */
  readonly shapeName: string;
  /** Number of D×D matrices stored (full K, tied 1, else 0): the ones to check for symmetry. */
  matrices(k: number): number;
  /** Number of values of the second-moment statistic `s2`. */
  statsSize(k: number, d: number): number;
  /** Number of precision-factor values. */
  precSize(k: number, d: number): number;
  /** Free covariance parameters (scikit-learn's `_n_parameters`, covariance part). */
  parameters(k: number, d: number): number;
  /**
   * Factors the covariances into `prec` (shape above) and `logDetPrec` (K values, log det W_k = −½ log det Σ_k).
   *
   * @returns −1, or the first component whose covariance is not positive definite
   */
  factor(cov: Float64Array, k: number, d: number, prec: Float64Array, logDetPrec: Float64Array): number;
  /** Writes component c's covariance as a full D×D row-major matrix into `out`. */
  expand(cov: ArrayLike<number>, k: number, d: number, c: number, out: Float64Array): void;
  /** Writes the D variances of component c (the diagonal of its covariance) into `out`, in O(D). */
  diagonal(cov: ArrayLike<number>, k: number, d: number, c: number, out: Float64Array): void;
  /** Covariance values per component in `covariances` (0: one shared by all, tied). */
  stride(d: number): number;
  /** Divergences between components (Bhattacharyya, KL) at the cost of the type. */
  readonly divergence: DivergenceKernel;
  /**
   * The WebAssembly SIMD kernels' layout for the type (`simd.ts`, D > 16): per-component variances (`'variances'`),
   * a lower-triangular precision factor per component or shared (`'factor'`), or none (`null`: the JavaScript kernels).
   */
  readonly simd: 'variances' | 'factor' | null;
  /** Copies component `from`'s covariance onto component `to` (tied: nothing to do). */
  copyComponent(cov: Float64Array, d: number, from: number, to: number): void;
  /**
   * A sampler: `add(z, eps, out, offset)` adds L_z·ε to the D values of `out` at `offset` (Σ_z = L_z L_zᵀ).
   * Factorises once; `null` when a covariance is not positive definite.
   */
  sampler(cov: Float64Array, k: number, d: number): ((z: number, eps: Float64Array, out: Float64Array, offset: number) => void) | null;
  /**
   * M-step for the covariances from the statistics: writes `out` (shape above).
   *
   * @param s0 K raw weights; `nk` K weights + 10ε; `total` Σ nk
   * @param s2 the second-moment statistic (shape above)
   * @param m K×D means relative to the shift
   */
  mStep(s0: Float64Array, nk: Float64Array, total: number, s2: Float64Array, m: Float64Array, k: number, d: number, reg: number, out: Float64Array): void;
  /** Block log-density kernel (any D). */
  readonly logProb: LogProbKernel;
  /** Block statistics kernel (any D). */
  readonly statsBlock: StatsBlockKernel;
  /** Adds one centred point `c` (D values) with its K responsibilities at `resp[ro..]`. */
  addPoint(st: StatsArrays, c: Float64Array, resp: ArrayLike<number>, ro: number): void;
  /**
   * Adds `factor` × another accumulator's `s2` moved by δ = its shift − this shift:
   * s2' = s2 + δ s1ᵀ + s1 δᵀ + s0 δδᵀ (per component; pooled for tied).
   */
  mergeS2(into: Float64Array, other: StatsArrays, delta: Float64Array | null, factor: number): void;
}

/** s0, s1 of one point (every type): components below {@link SKIP_WEIGHT} are skipped. */
function addFirstMoments(st: StatsArrays, c: Float64Array, resp: ArrayLike<number>, ro: number): void {
  const { k: K, d: D, s0, s1 } = st;
  for (let k = 0; k < K; k++) {
    const w = resp[ro + k];
    if (w < SKIP_WEIGHT) continue;
    s0[k] += w;
    for (let a = 0; a < D; a++) s1[k * D + a] += w * c[a];
  }
}

/** Packed lower triangle += w·c cᵀ at offset p. */
function addOuter(s2: Float64Array, p: number, c: Float64Array, w: number, D: number): void {
  for (let a = 0; a < D; a++) {
    const wa = w * c[a];
    for (let b = 0; b <= a; b++) s2[p++] += wa * c[b];
  }
}

/** Packed lower triangle `into[p..] += factor · (s2 + δ s1ᵀ + s1 δᵀ + w δδᵀ)` for one component. */
function mergeTriangle(into: Float64Array, from: Float64Array, p: number, s1: Float64Array, o1: number, w: number, delta: Float64Array | null, factor: number, D: number): void {
  for (let a = 0; a < D; a++) {
    for (let b = 0; b <= a; b++, p++) {
      let v = from[p];
      if (delta !== null) v += delta[a] * s1[o1 + b] + s1[o1 + a] * delta[b] + w * delta[a] * delta[b];
      into[p] += factor * v;
    }
  }
}

function mergeDiagonal(into: Float64Array, other: StatsArrays, delta: Float64Array | null, factor: number): void {
  const { k: K, d: D, s0, s1, s2 } = other;
  for (let k = 0; k < K; k++) {
    for (let a = 0; a < D; a++) {
      let v = s2[k * D + a];
      if (delta !== null) v += 2 * delta[a] * s1[k * D + a] + s0[k] * delta[a] * delta[a];
      into[k * D + a] += factor * v;
    }
  }
}

function addPointDiagonal(st: StatsArrays, c: Float64Array, resp: ArrayLike<number>, ro: number): void {
  const { k: K, d: D, s0, s1, s2 } = st;
  for (let k = 0; k < K; k++) {
    const w = resp[ro + k];
    if (w < SKIP_WEIGHT) continue;
    s0[k] += w;
    const b = k * D;
    for (let a = 0; a < D; a++) {
      const wa = w * c[a];
      s1[b + a] += wa;
      s2[b + a] += wa * c[a];
    }
  }
}

/** Nested arrays of `a` (row-major) in the given shape. */
export function nest(a: ArrayLike<number>, shape: readonly number[], offset = 0): number[] | number[][] | number[][][] {
  if (shape.length === 1) return Array.from({ length: shape[0] }, (_, i) => a[offset + i]);
  const inner = shape.slice(1);
  const stride = inner.reduce((x, y) => x * y, 1);
  return Array.from({ length: shape[0] }, (_, i) => nest(a, inner, offset + i * stride)) as number[][] | number[][][];
}

function expandFull(cov: ArrayLike<number>, d: number, offset: number, out: Float64Array): void {
  for (let i = 0; i < d * d; i++) out[i] = cov[offset + i];
}

function expandDiagonal(d: number, value: (a: number) => number, out: Float64Array): void {
  out.fill(0, 0, d * d);
  for (let a = 0; a < d; a++) out[a * d + a] = value(a);
}

/** Lower-triangular sampler over factors L (D×D each). */
function triangularSampler(factors: Float64Array[], d: number, pick: (z: number) => number) {
  return (z: number, eps: Float64Array, out: Float64Array, offset: number): void => {
    const l = factors[pick(z)];
    for (let a = 0; a < d; a++) {
      let v = out[offset + a];
      for (let b = 0; b <= a; b++) v += l[a * d + b] * eps[b];
      out[offset + a] = v;
    }
  };
}

const full: CovarianceKind = {
  ...FULL_STATISTICS,
  type: 'full',
  size: (k, d) => k * d * d,
  shape: (k, d) => [k, d, d],
  shapeName: 'K×D×D',
  matrices: (k) => k,
  statsSize: (k, d) => k * packedSize(d),
  precSize: (k, d) => k * d * d,
  parameters: (k, d) => k * packedSize(d),
  factor(cov, k, d, prec, logDetPrec) {
    for (let c = 0; c < k; c++) {
      const ld = precisionFactor(cov, d, c * d * d, prec, c * d * d);
      if (ld === null) return c;
      logDetPrec[c] = ld;
    }
    return -1;
  },
  expand: (cov, _k, d, c, out) => expandFull(cov, d, c * d * d, out),
  diagonal: (cov, _k, d, c, out) => {
    for (let a = 0; a < d; a++) out[a] = cov[c * d * d + a * d + a];
  },
  stride: (d) => d * d,
  divergence: FULL_DIVERGENCE,
  simd: 'factor',
  copyComponent: (cov, d, from, to) => void cov.copyWithin(to * d * d, from * d * d, (from + 1) * d * d),
  sampler(cov, k, d) {
    const factors: Float64Array[] = [];
    for (let c = 0; c < k; c++) {
      const l = cholesky(cov, d, c * d * d);
      if (l === null) return null;
      factors.push(l);
    }
    return triangularSampler(factors, d, (z) => z);
  },
  mStep(s0, nk, _total, s2, m, K, D, reg, out) {
    const T = packedSize(D);
    for (let k = 0; k < K; k++) {
      const inv = 1 / nk[k];
      const f = 2 - s0[k] * inv;
      const cb = k * D * D;
      let p = k * T;
      for (let a = 0; a < D; a++) {
        for (let b = 0; b <= a; b++, p++) {
          const v = s2[p] * inv - f * m[k * D + a] * m[k * D + b];
          out[cb + a * D + b] = v;
          out[cb + b * D + a] = v;
        }
        out[cb + a * D + a] += reg;
      }
    }
  },
  logProb: BLOCKED.full.logProb,
  statsBlock: BLOCKED.full.stats,
  addPoint(st, c, resp, ro) {
    const { k: K, d: D, s0, s1, s2 } = st;
    const T = packedSize(D);
    for (let k = 0; k < K; k++) {
      const w = resp[ro + k];
      if (w < SKIP_WEIGHT) continue;
      s0[k] += w;
      const b1 = k * D;
      let p = k * T;
      for (let a = 0; a < D; a++) {
        const wa = w * c[a];
        s1[b1 + a] += wa;
        for (let b = 0; b <= a; b++) s2[p++] += wa * c[b];
      }
    }
  },
  mergeS2(into, other, delta, factor) {
    const { k: K, d: D } = other;
    const T = packedSize(D);
    for (let k = 0; k < K; k++) mergeTriangle(into, other.s2, k * T, other.s1, k * D, other.s0[k], delta, factor, D);
  },
};

const tied: CovarianceKind = {
  ...TIED_STATISTICS,
  type: 'tied',
  size: (_k, d) => d * d,
  shape: (_k, d) => [d, d],
  shapeName: 'D×D',
  matrices: () => 1,
  statsSize: (_k, d) => packedSize(d),
  precSize: (_k, d) => d * d,
  parameters: (_k, d) => packedSize(d),
  factor(cov, _k, d, prec, logDetPrec) {
    const ld = precisionFactor(cov, d, 0, prec, 0);
    if (ld === null) return 0;
    logDetPrec.fill(ld);
    return -1;
  },
  expand: (cov, _k, d, _c, out) => expandFull(cov, d, 0, out),
  diagonal: (cov, _k, d, _c, out) => {
    for (let a = 0; a < d; a++) out[a] = cov[a * d + a];
  },
  stride: () => 0,
  divergence: TIED_DIVERGENCE,
  simd: 'factor',
  copyComponent: () => {},
  sampler(cov, _k, d) {
    const l = cholesky(cov, d, 0);
    return l === null ? null : triangularSampler([l], d, () => 0);
  },
  mStep(_s0, nk, total, s2, m, K, D, reg, out) {
    let p = 0;
    for (let a = 0; a < D; a++) {
      for (let b = 0; b <= a; b++, p++) {
        let v = s2[p];
        for (let k = 0; k < K; k++) v -= nk[k] * m[k * D + a] * m[k * D + b];
        v /= total;
        out[a * D + b] = v;
        out[b * D + a] = v;
      }
      out[a * D + a] += reg;
    }
  },
  logProb: BLOCKED.tied.logProb,
  statsBlock: BLOCKED.tied.stats,
  addPoint(st, c, resp, ro) {
    addFirstMoments(st, c, resp, ro);
    // Σ_k w_ik = 1 for every point (soft and hard EM)
    let wsum = 0;
    for (let k = 0; k < st.k; k++) wsum += resp[ro + k];
    addOuter(st.s2, 0, c, wsum, st.d);
  },
  mergeS2(into, other, delta, factor) {
    const { k: K, d: D } = other;
    let total = 0;
    const s1sum = new Float64Array(D);
    for (let k = 0; k < K; k++) {
      total += other.s0[k];
      for (let a = 0; a < D; a++) s1sum[a] += other.s1[k * D + a];
    }
    mergeTriangle(into, other.s2, 0, s1sum, 0, total, delta, factor, D);
  },
};

const diag: CovarianceKind = {
  ...DIAG_STATISTICS,
  type: 'diag',
  size: (k, d) => k * d,
  shape: (k, d) => [k, d],
  shapeName: 'K×D',
  matrices: () => 0,
  statsSize: (k, d) => k * d,
  precSize: (k, d) => k * d,
  parameters: (k, d) => k * d,
  factor(cov, k, d, prec, logDetPrec) {
    for (let c = 0; c < k; c++) {
      let ld = 0;
      for (let j = 0; j < d; j++) {
        const v = cov[c * d + j];
        if (!(v > 0) || !Number.isFinite(v)) return c;
        prec[c * d + j] = 1 / Math.sqrt(v);
        ld -= 0.5 * Math.log(v);
      }
      logDetPrec[c] = ld;
    }
    return -1;
  },
  expand: (cov, _k, d, c, out) => expandDiagonal(d, (a) => cov[c * d + a], out),
  diagonal: (cov, _k, d, c, out) => {
    for (let a = 0; a < d; a++) out[a] = cov[c * d + a];
  },
  stride: (d) => d,
  divergence: DIAG_DIVERGENCE,
  simd: 'variances',
  copyComponent: (cov, d, from, to) => void cov.copyWithin(to * d, from * d, (from + 1) * d),
  sampler(cov, k, d) {
    for (let i = 0; i < k * d; i++) if (!(cov[i] > 0)) return null;
    return (z, eps, out, offset) => {
      for (let a = 0; a < d; a++) out[offset + a] += Math.sqrt(cov[z * d + a]) * eps[a];
    };
  },
  mStep(s0, nk, _total, s2, m, K, D, reg, out) {
    for (let k = 0; k < K; k++) {
      const inv = 1 / nk[k];
      const f = 2 - s0[k] * inv;
      for (let a = 0; a < D; a++) out[k * D + a] = s2[k * D + a] * inv - f * m[k * D + a] * m[k * D + a] + reg;
    }
  },
  logProb: BLOCKED.diag.logProb,
  statsBlock: BLOCKED.diag.stats,
  addPoint: addPointDiagonal,
  mergeS2: mergeDiagonal,
};

const spherical: CovarianceKind = {
  ...SPHERICAL_STATISTICS,
  type: 'spherical',
  size: (k) => k,
  shape: (k) => [k],
  shapeName: 'K',
  matrices: () => 0,
  statsSize: (k, d) => k * d,
  precSize: (k) => k,
  parameters: (k) => k,
  factor(cov, k, d, prec, logDetPrec) {
    for (let c = 0; c < k; c++) {
      const v = cov[c];
      if (!(v > 0) || !Number.isFinite(v)) return c;
      prec[c] = 1 / Math.sqrt(v);
      logDetPrec[c] = -0.5 * d * Math.log(v);
    }
    return -1;
  },
  expand: (cov, _k, d, c, out) => expandDiagonal(d, () => cov[c], out),
  diagonal: (cov, _k, d, c, out) => void out.fill(cov[c], 0, d),
  stride: () => 1,
  divergence: SPHERICAL_DIVERGENCE,
  simd: null,
  copyComponent: (cov, _d, from, to) => {
    cov[to] = cov[from];
  },
  sampler(cov, k, d) {
    for (let i = 0; i < k; i++) if (!(cov[i] > 0)) return null;
    return (z, eps, out, offset) => {
      const s = Math.sqrt(cov[z]);
      for (let a = 0; a < d; a++) out[offset + a] += s * eps[a];
    };
  },
  mStep(s0, nk, _total, s2, m, K, D, reg, out) {
    for (let k = 0; k < K; k++) {
      const inv = 1 / nk[k];
      const f = 2 - s0[k] * inv;
      let mean = 0;
      for (let a = 0; a < D; a++) mean += s2[k * D + a] * inv - f * m[k * D + a] * m[k * D + a] + reg;
      out[k] = mean / D;
    }
  },
  logProb: BLOCKED.spherical.logProb,
  statsBlock: BLOCKED.spherical.stats,
  addPoint: addPointDiagonal,
  mergeS2: mergeDiagonal,
};

/** The table: one {@link CovarianceKind} per covariance type. */
export const COVARIANCE: Readonly<Record<CovarianceType, CovarianceKind>> = { full, tied, diag, spherical };

/** Number of covariance values stored for a covariance type. */
export function covarianceSize(type: CovarianceType, k: number, d: number): number {
  return COVARIANCE[type].size(k, d);
}
