import { packedSize } from './linalg.js';
import type { CovarianceType } from './types.js';

/**
 * Blocked E-step kernels for any dimension D (the compiled kernels in `kernels.ts` unroll D ≤ 16).
 *
 * Register tiles over several points and several components (or precision rows) per step, so each
 * loaded value feeds several independent sums, and the triangular structure of the precision factor
 * and of the second moments is exploited. Every tile keeps, for each (point, component) sum and each
 * statistic entry, the term order of the plain per-point loop (ascending coordinate, then point
 * order), so the results are bit-identical to the straightforward loops and to the compiled kernels
 * (tested in `test/gmm/kernels.test.ts`).
 *
 * @module
 */

/**
 * Minus half the Mahalanobis terms and the constants, for a block: `LP[i·K + k] = lc_k − ½‖W_k(x_i − μ_k)‖²`.
 *
 * Shapes: `x` points buffer (rows `start .. start + nb − 1`, D values each), `means` K×D, `prec`
 * (see `covariance.ts`), `lc` K, `LP` nb×K, `scratch` at least 4·D values.
 */
export type LogProbKernel = (
  K: number,
  D: number,
  means: Float64Array,
  prec: Float64Array,
  lc: Float64Array,
  x: ArrayLike<number>,
  start: number,
  nb: number,
  LP: Float64Array,
  scratch: Float64Array,
) => void;

/** Diagonal covariances: four points × two components per step. */
export function diagLogProb(K: number, D: number, means: Float64Array, prec: Float64Array, lc: Float64Array, x: ArrayLike<number>, start: number, nb: number, LP: Float64Array): void {
  let k = 0;
  for (; k + 2 <= K; k += 2) {
    const b0 = k * D;
    const b1 = b0 + D;
    const l0 = lc[k];
    const l1 = lc[k + 1];
    let i = 0;
    for (; i + 4 <= nb; i += 4) {
      const o0 = (start + i) * D;
      const o1 = o0 + D;
      const o2 = o1 + D;
      const o3 = o2 + D;
      let q00 = 0;
      let q10 = 0;
      let q20 = 0;
      let q30 = 0;
      let q01 = 0;
      let q11 = 0;
      let q21 = 0;
      let q31 = 0;
      for (let a = 0; a < D; a++) {
        const m0 = means[b0 + a];
        const p0 = prec[b0 + a];
        const m1 = means[b1 + a];
        const p1 = prec[b1 + a];
        const x0 = x[o0 + a];
        const x1 = x[o1 + a];
        const x2 = x[o2 + a];
        const x3 = x[o3 + a];
        let y = (x0 - m0) * p0;
        q00 += y * y;
        y = (x1 - m0) * p0;
        q10 += y * y;
        y = (x2 - m0) * p0;
        q20 += y * y;
        y = (x3 - m0) * p0;
        q30 += y * y;
        y = (x0 - m1) * p1;
        q01 += y * y;
        y = (x1 - m1) * p1;
        q11 += y * y;
        y = (x2 - m1) * p1;
        q21 += y * y;
        y = (x3 - m1) * p1;
        q31 += y * y;
      }
      const r = i * K + k;
      LP[r] = l0 - 0.5 * q00;
      LP[r + 1] = l1 - 0.5 * q01;
      LP[r + K] = l0 - 0.5 * q10;
      LP[r + K + 1] = l1 - 0.5 * q11;
      LP[r + 2 * K] = l0 - 0.5 * q20;
      LP[r + 2 * K + 1] = l1 - 0.5 * q21;
      LP[r + 3 * K] = l0 - 0.5 * q30;
      LP[r + 3 * K + 1] = l1 - 0.5 * q31;
    }
    for (; i < nb; i++) {
      const o = (start + i) * D;
      let q0 = 0;
      let q1 = 0;
      for (let a = 0; a < D; a++) {
        const v = x[o + a];
        const y0 = (v - means[b0 + a]) * prec[b0 + a];
        q0 += y0 * y0;
        const y1 = (v - means[b1 + a]) * prec[b1 + a];
        q1 += y1 * y1;
      }
      LP[i * K + k] = l0 - 0.5 * q0;
      LP[i * K + k + 1] = l1 - 0.5 * q1;
    }
  }
  if (k < K) {
    const b = k * D;
    const l = lc[k];
    let i = 0;
    for (; i + 4 <= nb; i += 4) {
      const o0 = (start + i) * D;
      const o1 = o0 + D;
      const o2 = o1 + D;
      const o3 = o2 + D;
      let q0 = 0;
      let q1 = 0;
      let q2 = 0;
      let q3 = 0;
      for (let a = 0; a < D; a++) {
        const m = means[b + a];
        const p = prec[b + a];
        let y = (x[o0 + a] - m) * p;
        q0 += y * y;
        y = (x[o1 + a] - m) * p;
        q1 += y * y;
        y = (x[o2 + a] - m) * p;
        q2 += y * y;
        y = (x[o3 + a] - m) * p;
        q3 += y * y;
      }
      LP[i * K + k] = l - 0.5 * q0;
      LP[(i + 1) * K + k] = l - 0.5 * q1;
      LP[(i + 2) * K + k] = l - 0.5 * q2;
      LP[(i + 3) * K + k] = l - 0.5 * q3;
    }
    for (; i < nb; i++) {
      const o = (start + i) * D;
      let q = 0;
      for (let a = 0; a < D; a++) {
        const y = (x[o + a] - means[b + a]) * prec[b + a];
        q += y * y;
      }
      LP[i * K + k] = l - 0.5 * q;
    }
  }
}

/** Spherical covariances: four points × two components per step; the precision multiplies the sum. */
export function sphericalLogProb(K: number, D: number, means: Float64Array, prec: Float64Array, lc: Float64Array, x: ArrayLike<number>, start: number, nb: number, LP: Float64Array): void {
  let k = 0;
  for (; k + 2 <= K; k += 2) {
    const b0 = k * D;
    const b1 = b0 + D;
    const l0 = lc[k];
    const l1 = lc[k + 1];
    let i = 0;
    for (; i + 4 <= nb; i += 4) {
      const o0 = (start + i) * D;
      const o1 = o0 + D;
      const o2 = o1 + D;
      const o3 = o2 + D;
      let q00 = 0;
      let q10 = 0;
      let q20 = 0;
      let q30 = 0;
      let q01 = 0;
      let q11 = 0;
      let q21 = 0;
      let q31 = 0;
      for (let a = 0; a < D; a++) {
        const m0 = means[b0 + a];
        const m1 = means[b1 + a];
        const x0 = x[o0 + a];
        const x1 = x[o1 + a];
        const x2 = x[o2 + a];
        const x3 = x[o3 + a];
        let y = x0 - m0;
        q00 += y * y;
        y = x1 - m0;
        q10 += y * y;
        y = x2 - m0;
        q20 += y * y;
        y = x3 - m0;
        q30 += y * y;
        y = x0 - m1;
        q01 += y * y;
        y = x1 - m1;
        q11 += y * y;
        y = x2 - m1;
        q21 += y * y;
        y = x3 - m1;
        q31 += y * y;
      }
      // the reference computes lc − ½·sq·p·p, i.e. ((½·sq)·p)·p
      const r = i * K + k;
      const p0 = prec[k];
      const p1 = prec[k + 1];
      LP[r] = l0 - 0.5 * q00 * p0 * p0;
      LP[r + 1] = l1 - 0.5 * q01 * p1 * p1;
      LP[r + K] = l0 - 0.5 * q10 * p0 * p0;
      LP[r + K + 1] = l1 - 0.5 * q11 * p1 * p1;
      LP[r + 2 * K] = l0 - 0.5 * q20 * p0 * p0;
      LP[r + 2 * K + 1] = l1 - 0.5 * q21 * p1 * p1;
      LP[r + 3 * K] = l0 - 0.5 * q30 * p0 * p0;
      LP[r + 3 * K + 1] = l1 - 0.5 * q31 * p1 * p1;
    }
    for (; i < nb; i++) {
      const o = (start + i) * D;
      let q0 = 0;
      let q1 = 0;
      for (let a = 0; a < D; a++) {
        const v = x[o + a];
        const y0 = v - means[b0 + a];
        q0 += y0 * y0;
        const y1 = v - means[b1 + a];
        q1 += y1 * y1;
      }
      LP[i * K + k] = l0 - 0.5 * q0 * prec[k] * prec[k];
      LP[i * K + k + 1] = l1 - 0.5 * q1 * prec[k + 1] * prec[k + 1];
    }
  }
  for (; k < K; k++) {
    const b = k * D;
    const pk = prec[k];
    for (let i = 0; i < nb; i++) {
      const o = (start + i) * D;
      let q = 0;
      for (let a = 0; a < D; a++) {
        const y = x[o + a] - means[b + a];
        q += y * y;
      }
      LP[i * K + k] = lc[k] - 0.5 * q * pk * pk;
    }
  }
}

/**
 * Full (or tied) covariances: s_j = Σ_{a ≤ j} W_ja (x_a − μ_a) and ‖W(x − μ)‖² = Σ_j s_j², four points
 * × two rows of W per step over the lower triangle only (W is lower triangular). Differences are kept
 * interleaved (`scratch[4a + q]` for point q of the tile) so a tile's four values are adjacent.
 */
export function fullLogProb(
  K: number,
  D: number,
  means: Float64Array,
  prec: Float64Array,
  lc: Float64Array,
  x: ArrayLike<number>,
  start: number,
  nb: number,
  LP: Float64Array,
  diff: Float64Array,
  tied = false,
): void {
  for (let k = 0; k < K; k++) {
    const mb = k * D;
    const wb = tied ? 0 : k * D * D;
    const lck = lc[k];
    let i = 0;
    for (; i + 4 <= nb; i += 4) {
      const o = (start + i) * D;
      for (let a = 0; a < D; a++) {
        const m = means[mb + a];
        diff[4 * a] = x[o + a] - m;
        diff[4 * a + 1] = x[o + D + a] - m;
        diff[4 * a + 2] = x[o + 2 * D + a] - m;
        diff[4 * a + 3] = x[o + 3 * D + a] - m;
      }
      let q0 = 0;
      let q1 = 0;
      let q2 = 0;
      let q3 = 0;
      let j = 0;
      for (; j + 2 <= D; j += 2) {
        const r0 = wb + j * D;
        const r1 = r0 + D;
        let s00 = 0;
        let s01 = 0;
        let s02 = 0;
        let s03 = 0;
        let s10 = 0;
        let s11 = 0;
        let s12 = 0;
        let s13 = 0;
        for (let a = 0; a <= j; a++) {
          const w0 = prec[r0 + a];
          const w1 = prec[r1 + a];
          const d0 = diff[4 * a];
          const d1 = diff[4 * a + 1];
          const d2 = diff[4 * a + 2];
          const d3 = diff[4 * a + 3];
          s00 += w0 * d0;
          s01 += w0 * d1;
          s02 += w0 * d2;
          s03 += w0 * d3;
          s10 += w1 * d0;
          s11 += w1 * d1;
          s12 += w1 * d2;
          s13 += w1 * d3;
        }
        const w1 = prec[r1 + j + 1];
        const e = 4 * (j + 1);
        s10 += w1 * diff[e];
        s11 += w1 * diff[e + 1];
        s12 += w1 * diff[e + 2];
        s13 += w1 * diff[e + 3];
        q0 += s00 * s00;
        q0 += s10 * s10;
        q1 += s01 * s01;
        q1 += s11 * s11;
        q2 += s02 * s02;
        q2 += s12 * s12;
        q3 += s03 * s03;
        q3 += s13 * s13;
      }
      if (j < D) {
        const r0 = wb + j * D;
        let s0 = 0;
        let s1 = 0;
        let s2 = 0;
        let s3 = 0;
        for (let a = 0; a <= j; a++) {
          const w = prec[r0 + a];
          s0 += w * diff[4 * a];
          s1 += w * diff[4 * a + 1];
          s2 += w * diff[4 * a + 2];
          s3 += w * diff[4 * a + 3];
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
      for (let a = 0; a < D; a++) diff[a] = x[o + a] - means[mb + a];
      let sq = 0;
      for (let j = 0; j < D; j++) {
        const row = wb + j * D;
        let s = 0;
        for (let a = 0; a <= j; a++) s += prec[row + a] * diff[a];
        sq += s * s;
      }
      LP[i * K + k] = lck - 0.5 * sq;
    }
  }
}

/** {@link fullLogProb} for the one shared precision factor of `tied`. */
export function tiedLogProb(K: number, D: number, means: Float64Array, prec: Float64Array, lc: Float64Array, x: ArrayLike<number>, start: number, nb: number, LP: Float64Array, diff: Float64Array): void {
  fullLogProb(K, D, means, prec, lc, x, start, nb, LP, diff, true);
}

/**
 * Adds Σ_q w_q c_q c_qᵀ (packed lower triangle, `v`: T values) for a tile of four centred points held
 * interleaved in `c` (`c[4a + q]`), two rows of the triangle per step; each entry receives its four
 * terms in point order.
 */
export function outer4(v: Float64Array, c: Float64Array, w0: number, w1: number, w2: number, w3: number, D: number): void {
  let a = 0;
  for (; a + 2 <= D; a += 2) {
    const ca = 4 * a;
    const x0 = w0 * c[ca];
    const x1 = w1 * c[ca + 1];
    const x2 = w2 * c[ca + 2];
    const x3 = w3 * c[ca + 3];
    const y0 = w0 * c[ca + 4];
    const y1 = w1 * c[ca + 5];
    const y2 = w2 * c[ca + 6];
    const y3 = w3 * c[ca + 7];
    const p0 = (a * (a + 1)) / 2;
    const p1 = p0 + a + 1;
    for (let b = 0; b <= a; b++) {
      const cb = 4 * b;
      const c0 = c[cb];
      const c1 = c[cb + 1];
      const c2 = c[cb + 2];
      const c3 = c[cb + 3];
      let t = v[p0 + b];
      t += x0 * c0;
      t += x1 * c1;
      t += x2 * c2;
      t += x3 * c3;
      v[p0 + b] = t;
      let u = v[p1 + b];
      u += y0 * c0;
      u += y1 * c1;
      u += y2 * c2;
      u += y3 * c3;
      v[p1 + b] = u;
    }
    let u = v[p1 + a + 1];
    u += y0 * c[ca + 4];
    u += y1 * c[ca + 5];
    u += y2 * c[ca + 6];
    u += y3 * c[ca + 7];
    v[p1 + a + 1] = u;
  }
  if (a < D) {
    const ca = 4 * a;
    const x0 = w0 * c[ca];
    const x1 = w1 * c[ca + 1];
    const x2 = w2 * c[ca + 2];
    const x3 = w3 * c[ca + 3];
    const p0 = (a * (a + 1)) / 2;
    for (let b = 0; b <= a; b++) {
      const cb = 4 * b;
      let t = v[p0 + b];
      t += x0 * c[cb];
      t += x1 * c[cb + 1];
      t += x2 * c[cb + 2];
      t += x3 * c[cb + 3];
      v[p0 + b] = t;
    }
  }
}

/** Adds w·c cᵀ (packed lower triangle) for one centred point `c` (stride 1). */
export function outer1(v: Float64Array, c: Float64Array, w: number, D: number): void {
  let p = 0;
  for (let a = 0; a < D; a++) {
    const wa = w * c[a];
    for (let b = 0; b <= a; b++) v[p++] += wa * c[b];
  }
}

/** Per-block scratch of the statistics kernels. */
export interface StatsScratch {
  /** D values. */
  u: Float64Array;
  /** T (full, tied) or D values. */
  v: Float64Array;
  /** 4·D values. */
  c: Float64Array;
  /** at least nb indices. */
  idx: Int32Array;
}

/** The arrays a statistics kernel updates (see `SufficientStats`). */
export interface StatsArrays {
  readonly k: number;
  readonly d: number;
  readonly s0: Float64Array;
  readonly s1: Float64Array;
  readonly s2: Float64Array;
  readonly shift: Float64Array;
}

/** Responsibilities below 2⁻⁶⁰ are not accumulated (see `SKIP_WEIGHT` in stats.ts). */
export const SKIP_WEIGHT = 2 ** -60;

/**
 * Adds a block: rows start..start+nb−1 of `data` with their nb×K responsibilities `resp`, component by
 * component; each component's block sums are formed in `scratch` and added once.
 */
export type StatsBlockKernel = (st: StatsArrays, data: ArrayLike<number>, start: number, nb: number, resp: ArrayLike<number>, sc: StatsScratch) => void;

/** Lists the points of the block whose responsibility for k is not skipped; returns their count. */
function contributing(resp: ArrayLike<number>, K: number, k: number, nb: number, idx: Int32Array): number {
  let m = 0;
  for (let i = 0; i < nb; i++) if (resp[i * K + k] >= SKIP_WEIGHT) idx[m++] = i;
  return m;
}

/** Centres four rows into `c` interleaved (`c[4a + q]`). */
function centre4(data: ArrayLike<number>, o0: number, o1: number, o2: number, o3: number, shift: Float64Array, c: Float64Array, D: number): void {
  for (let a = 0; a < D; a++) {
    const s = shift[a];
    c[4 * a] = data[o0 + a] - s;
    c[4 * a + 1] = data[o1 + a] - s;
    c[4 * a + 2] = data[o2 + a] - s;
    c[4 * a + 3] = data[o3 + a] - s;
  }
}

/** Full: s0, s1 and the packed second moments, four contributing points per tile. */
export function fullStatsBlock(st: StatsArrays, data: ArrayLike<number>, start: number, nb: number, resp: ArrayLike<number>, sc: StatsScratch): void {
  const { k: K, d: D, s0, s1, s2, shift } = st;
  const T = packedSize(D);
  const { u, v, c, idx } = sc;
  for (let k = 0; k < K; k++) {
    const m = contributing(resp, K, k, nb, idx);
    if (m === 0) continue;
    let t0 = 0;
    u.fill(0);
    v.fill(0);
    let j = 0;
    for (; j + 4 <= m; j += 4) {
      const w0 = resp[idx[j] * K + k];
      const w1 = resp[idx[j + 1] * K + k];
      const w2 = resp[idx[j + 2] * K + k];
      const w3 = resp[idx[j + 3] * K + k];
      centre4(data, (start + idx[j]) * D, (start + idx[j + 1]) * D, (start + idx[j + 2]) * D, (start + idx[j + 3]) * D, shift, c, D);
      t0 += w0;
      t0 += w1;
      t0 += w2;
      t0 += w3;
      for (let a = 0; a < D; a++) {
        let t = u[a];
        t += w0 * c[4 * a];
        t += w1 * c[4 * a + 1];
        t += w2 * c[4 * a + 2];
        t += w3 * c[4 * a + 3];
        u[a] = t;
      }
      outer4(v, c, w0, w1, w2, w3, D);
    }
    for (; j < m; j++) {
      const w = resp[idx[j] * K + k];
      const o = (start + idx[j]) * D;
      for (let a = 0; a < D; a++) c[a] = data[o + a] - shift[a];
      t0 += w;
      for (let a = 0; a < D; a++) u[a] += w * c[a];
      outer1(v, c, w, D);
    }
    s0[k] += t0;
    for (let a = 0; a < D; a++) s1[k * D + a] += u[a];
    for (let p = 0; p < T; p++) s2[k * T + p] += v[p];
  }
}

/** Diagonal and spherical: s0, s1 and the diagonal second moments (K×D). */
export function diagStatsBlock(st: StatsArrays, data: ArrayLike<number>, start: number, nb: number, resp: ArrayLike<number>, sc: StatsScratch): void {
  const { k: K, d: D, s0, s1, s2, shift } = st;
  const { u, v, idx } = sc;
  for (let k = 0; k < K; k++) {
    const m = contributing(resp, K, k, nb, idx);
    if (m === 0) continue;
    let t0 = 0;
    u.fill(0, 0, D);
    v.fill(0, 0, D);
    let j = 0;
    for (; j + 2 <= m; j += 2) {
      const w0 = resp[idx[j] * K + k];
      const w1 = resp[idx[j + 1] * K + k];
      const o0 = (start + idx[j]) * D;
      const o1 = (start + idx[j + 1]) * D;
      t0 += w0;
      t0 += w1;
      for (let a = 0; a < D; a++) {
        const s = shift[a];
        const c0 = data[o0 + a] - s;
        const c1 = data[o1 + a] - s;
        const wa0 = w0 * c0;
        const wa1 = w1 * c1;
        u[a] = u[a] + wa0 + wa1;
        v[a] = v[a] + wa0 * c0 + wa1 * c1;
      }
    }
    for (; j < m; j++) {
      const w = resp[idx[j] * K + k];
      const o = (start + idx[j]) * D;
      t0 += w;
      for (let a = 0; a < D; a++) {
        const c0 = data[o + a] - shift[a];
        const wa = w * c0;
        u[a] += wa;
        v[a] += wa * c0;
      }
    }
    s0[k] += t0;
    for (let a = 0; a < D; a++) {
      s1[k * D + a] += u[a];
      s2[k * D + a] += v[a];
    }
  }
}

/** Tied: s0, s1 per component, and the pooled second moments Σ_i (Σ_k w_ik) c_i c_iᵀ. */
export function tiedStatsBlock(st: StatsArrays, data: ArrayLike<number>, start: number, nb: number, resp: ArrayLike<number>, sc: StatsScratch): void {
  const { k: K, d: D, s0, s1, s2, shift } = st;
  const T = packedSize(D);
  const { u, v, c, idx } = sc;
  for (let k = 0; k < K; k++) {
    const m = contributing(resp, K, k, nb, idx);
    if (m === 0) continue;
    let t0 = 0;
    u.fill(0, 0, D);
    for (let j = 0; j < m; j++) {
      const w = resp[idx[j] * K + k];
      const o = (start + idx[j]) * D;
      t0 += w;
      for (let a = 0; a < D; a++) u[a] += w * (data[o + a] - shift[a]);
    }
    s0[k] += t0;
    for (let a = 0; a < D; a++) s1[k * D + a] += u[a];
  }
  v.fill(0);
  const wsum = (i: number): number => {
    let s = 0;
    for (let k = 0; k < K; k++) s += resp[i * K + k];
    return s;
  };
  let i = 0;
  for (; i + 4 <= nb; i += 4) {
    const o = (start + i) * D;
    centre4(data, o, o + D, o + 2 * D, o + 3 * D, shift, c, D);
    outer4(v, c, wsum(i), wsum(i + 1), wsum(i + 2), wsum(i + 3), D);
  }
  for (; i < nb; i++) {
    const o = (start + i) * D;
    for (let a = 0; a < D; a++) c[a] = data[o + a] - shift[a];
    outer1(v, c, wsum(i), D);
  }
  for (let p = 0; p < T; p++) s2[p] += v[p];
}

/** The blocked kernels per covariance type. */
export const BLOCKED: Readonly<Record<CovarianceType, { logProb: LogProbKernel; stats: StatsBlockKernel }>> = {
  full: { logProb: fullLogProb, stats: fullStatsBlock },
  tied: { logProb: tiedLogProb, stats: tiedStatsBlock },
  diag: { logProb: diagLogProb, stats: diagStatsBlock },
  spherical: { logProb: sphericalLogProb, stats: diagStatsBlock },
};
