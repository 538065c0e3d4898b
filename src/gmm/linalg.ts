import { MIN_SIMD_FACTOR_D, SimdFactor } from './simdFactor.js';

/**
 * Lower Cholesky factor of a symmetric positive-definite D×D matrix: the one factorisation of the
 * numeric core (precisions of the E-step, sampling, distances between Gaussians).
 *
 * 1. Reject a matrix with a non-finite entry (NaN or ±Infinity, e.g. from overflowed statistics).
 * 2. Read it symmetrised, a_ij ← (a_ij + a_ji)/2 (exactly a_ij when the halves agree), so an ulp of
 *    asymmetry from rounding never matters; callers that take matrices from users check symmetry
 *    themselves (see {@link asymmetry}).
 * 3. Cholesky–Banachiewicz, row by row, in the order of JAMA and ml-matrix's `CholeskyDecomposition`
 *    (so results are bit-identical to it): l_jk = (a_jk − Σ_{i<k} l_ki l_ji) / l_kk, then
 *    l_jj = √(a_jj − Σ_{k<j} l_jk²); a pivot that is not positive (or not finite) means the matrix is
 *    not positive definite.
 *
 * From D = 12 the WebAssembly SIMD kernel runs it (`simdFactor.ts`; the same sums in the same order, so the same
 * bits); {@link choleskyJs} is the JavaScript loop. Never throws; no allocation except the result (or `out`).
 *
 * @param a D×D row-major, read at `offset`
 * @param d dimension
 * @param offset where the matrix starts in `a`
 * @param out optional D×D destination (its upper triangle is zeroed)
 * @returns L, D×D row-major lower triangular with a = L·Lᵀ, or `null` when `a` is not positive definite or not finite
 */
export function cholesky(a: ArrayLike<number>, d: number, offset = 0, out?: Float64Array): Float64Array | null {
  const l = out ?? new Float64Array(d * d);
  const simd = d >= MIN_SIMD_FACTOR_D ? SimdFactor.get() : null;
  if (simd !== null) return simd.cholesky(a, d, offset, l) ? l : null;
  return choleskyJs(a, d, offset, l);
}

/** {@link cholesky} in JavaScript (the reference of the WebAssembly kernel, and its fallback). */
export function choleskyJs(a: ArrayLike<number>, d: number, offset = 0, out?: Float64Array): Float64Array | null {
  const l = out ?? new Float64Array(d * d);
  for (let j = 0; j < d; j++) {
    const rj = j * d;
    let dj = 0;
    for (let k = 0; k < j; k++) {
      const rk = k * d;
      let s = 0;
      for (let i = 0; i < k; i++) s += l[rk + i] * l[rj + i];
      const x = a[offset + rj + k];
      const y = a[offset + rk + j];
      const v = x === y ? x : 0.5 * x + 0.5 * y;
      if (!Number.isFinite(v)) return null;
      s = (v - s) / l[rk + k];
      l[rj + k] = s;
      dj += s * s;
    }
    const diag = a[offset + rj + j];
    if (!Number.isFinite(diag)) return null;
    const p = diag - dj;
    if (!(p > 0) || !Number.isFinite(p)) return null;
    l[rj + j] = Math.sqrt(p);
    for (let k = j + 1; k < d; k++) l[rj + k] = 0;
  }
  return l;
}

/** ln det A = 2·Σ_i ln L_ii from the Cholesky factor L of A (D×D row-major). */
export function logDetFromCholesky(l: Float64Array, d: number): number {
  let s = 0;
  for (let i = 0; i < d; i++) s += Math.log(l[i * d + i]);
  return 2 * s;
}

/**
 * Inverse of a lower-triangular matrix by forward substitution (D³/6 flops; D is small).
 *
 * @param l D×D lower triangular, row-major, positive diagonal
 * @param out D×D destination (lower triangular result), row-major; may be offset
 */
export function invertLower(l: Float64Array, d: number, out: Float64Array, outOffset = 0): void {
  // Row by row: x_ij = (δ_ij − Σ_{p=j}^{i−1} l_ip·x_pj) / l_ii, the sum for each j accumulated over p in
  // ascending order (the order of the column-by-column substitution, so the same rounding), reading the rows
  // of x already solved contiguously.
  for (let i = 0; i < d; i++) {
    const ri = outOffset + i * d;
    for (let j = 0; j < i; j++) out[ri + j] = 0;
    for (let p = 0; p < i; p++) {
      const a = l[i * d + p];
      const rp = outOffset + p * d;
      for (let j = 0; j <= p; j++) out[ri + j] -= a * out[rp + j];
    }
    const lii = l[i * d + i];
    for (let j = 0; j < i; j++) out[ri + j] /= lii;
    out[ri + i] = 1 / lii;
    for (let j = i + 1; j < d; j++) out[ri + j] = 0;
  }
}

/** The Cholesky factor of {@link precisionFactor}, reused between calls (only read inside it). */
let factorScratch = new Float64Array(0);

/**
 * Precision factor of a full covariance: W = L⁻¹ with Σ = L·Lᵀ, so Σ⁻¹ = Wᵀ·W and the
 * Mahalanobis distance is ‖W(x − μ)‖². (scikit-learn's `precisions_cholesky_` is Wᵀ.)
 *
 * @param cov D×D covariance (read at `offset`)
 * @param out D×D destination for W (lower triangular) at `outOffset`
 * @returns log det W = −½ log det Σ, or `null` when Σ is not positive definite
 */
export function precisionFactor(cov: Float64Array, d: number, offset: number, out: Float64Array, outOffset: number): number | null {
  const simd = d >= MIN_SIMD_FACTOR_D ? SimdFactor.get() : null;
  if (simd !== null) return simd.precisionFactor(cov, d, offset, out, outOffset);
  return precisionFactorJs(cov, d, offset, out, outOffset);
}

/** {@link precisionFactor} in JavaScript (the reference of the WebAssembly kernels, and their fallback). */
export function precisionFactorJs(cov: Float64Array, d: number, offset: number, out: Float64Array, outOffset: number): number | null {
  if (factorScratch.length < d * d) factorScratch = new Float64Array(d * d);
  const l = choleskyJs(cov, d, offset, factorScratch);
  if (l === null) return null;
  invertLower(l, d, out, outOffset);
  let logDet = 0;
  for (let i = 0; i < d; i++) logDet -= Math.log(l[i * d + i]);
  return logDet;
}

/** Index of x_ab (a ≥ b) in a packed lower triangle of a D×D symmetric matrix. */
export function packedIndex(a: number, b: number): number {
  return a >= b ? (a * (a + 1)) / 2 + b : (b * (b + 1)) / 2 + a;
}

/** Number of entries in a packed lower triangle: D(D+1)/2. */
export function packedSize(d: number): number {
  return (d * (d + 1)) / 2;
}

/**
 * Largest relative asymmetry |a_ij − a_ji| / max(|a_ij|, |a_ji|, tiny) of a D×D matrix at `offset`.
 */
export function asymmetry(a: ArrayLike<number>, d: number, offset = 0): number {
  let worst = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < i; j++) {
      const x = a[offset + i * d + j];
      const y = a[offset + j * d + i];
      const scale = Math.max(Math.abs(x), Math.abs(y), Number.MIN_VALUE);
      worst = Math.max(worst, Math.abs(x - y) / scale);
    }
  }
  return worst;
}

/** Relative asymmetry tolerated in user-given covariance matrices (rounding of a JSON round trip or of an inversion). */
export const SYMMETRY_TOLERANCE = 1e-8;

/**
 * A symmetric D×D matrix reduced to tridiagonal form, A = Q·T·Qᵀ (Householder, Golub & Van Loan §8.3.1):
 * `diag` (D) and `off` (D, off[i] = T[i][i−1], off[0] = 0) describe T; {@link Tridiagonal.rotate} applies Qᵀ.
 * Only the lower triangle of A is read. Once reduced (4/3·D³ flops), ln det(c·A + s·I) and
 * vᵀ(c·A + s·I)⁻¹v cost O(D) for any c, s
 * ({@link Tridiagonal.shifted}): the form in which a test statistic is evaluated at many weights.
 *
 * ## Example
 * ```ts
 * import { Tridiagonal } from 'emstream/core';
 *
 * const a = Float64Array.of(4, 1, 0, 1, 3, 1, 0, 1, 2); // 3×3, symmetric positive definite
 * const t = Tridiagonal.of(a, 3);
 * const r = t.shifted(1, 0)!; // ln det A
 * console.log(Math.exp(r.logDet).toFixed(6)); // → 18.000000
 * ```
 */
export class Tridiagonal {
  private constructor(
    readonly d: number,
    readonly diag: Float64Array,
    readonly off: Float64Array,
    /** Householder vectors, reflector j acting on entries j+1…D−1 (stored from offset j·D). */
    private readonly vectors: Float64Array,
    private readonly betas: Float64Array,
  ) {}

  /**
   * Reduces `a` (D×D row-major, symmetric; read at `offset`, not modified).
   *
   * 1. For j = 0…D−3: the reflector H_j = I − β v vᵀ that zeroes column j below its subdiagonal,
   *    v built from x = A[j+1…, j] (α = −sign(x₀)‖x‖, v = x − α e₁, β = 2/vᵀv);
   * 2. the trailing block B ← H_j B H_j as B − v wᵀ − w vᵀ with p = βBv, w = p − ½β(pᵀv)v;
   * 3. T's diagonal and subdiagonal are what is left.
   */
  static of(a: ArrayLike<number>, d: number, offset = 0): Tridiagonal {
    const m = new Float64Array(d * d);
    for (let i = 0; i < d * d; i++) m[i] = a[offset + i];
    const vectors = new Float64Array(d * d);
    const betas = new Float64Array(d);
    const off = new Float64Array(d);
    const p = new Float64Array(d);
    for (let j = 0; j + 2 < d; j++) {
      let norm = 0;
      for (let i = j + 1; i < d; i++) norm += m[i * d + j] * m[i * d + j];
      norm = Math.sqrt(norm);
      const x0 = m[(j + 1) * d + j];
      if (norm === 0) {
        off[j + 1] = 0;
        continue;
      }
      const alpha = x0 > 0 ? -norm : norm;
      const v = vectors.subarray(j * d, (j + 1) * d);
      let vv = 0;
      for (let i = j + 1; i < d; i++) {
        v[i] = m[i * d + j] - (i === j + 1 ? alpha : 0);
        vv += v[i] * v[i];
      }
      off[j + 1] = alpha;
      if (vv === 0) continue;
      const beta = 2 / vv;
      betas[j] = beta;
      // p = β·B·v over the trailing block (its lower triangle, B symmetric), then w = p − ½β(pᵀv)v (in p)
      for (let r = j + 1; r < d; r++) p[r] = 0;
      for (let r = j + 1; r < d; r++) {
        const row = r * d;
        const vr = v[r];
        let s = m[row + r] * vr;
        for (let c = j + 1; c < r; c++) {
          const x = m[row + c];
          s += x * v[c];
          p[c] += x * vr;
        }
        p[r] += s;
      }
      let pv = 0;
      for (let r = j + 1; r < d; r++) {
        p[r] *= beta;
        pv += p[r] * v[r];
      }
      const half = 0.5 * beta * pv;
      for (let r = j + 1; r < d; r++) p[r] -= half * v[r];
      // B ← B − v pᵀ − p vᵀ, lower triangle
      for (let r = j + 1; r < d; r++) {
        const row = r * d;
        const vr = v[r];
        const pr = p[r];
        for (let c = j + 1; c <= r; c++) m[row + c] -= vr * p[c] + pr * v[c];
      }
    }
    const diag = new Float64Array(d);
    for (let i = 0; i < d; i++) diag[i] = m[i * d + i];
    if (d >= 2) off[d - 1] = m[(d - 1) * d + d - 2];
    return new Tridiagonal(d, diag, off, vectors, betas);
  }

  /** v ← Qᵀ·v in place (D values): the vector in T's basis, so that vᵀ f(A) v = (Qᵀv)ᵀ f(T) (Qᵀv). */
  rotate(v: Float64Array): Float64Array {
    const d = this.d;
    for (let j = 0; j + 2 < d; j++) {
      const beta = this.betas[j];
      if (beta === 0) continue;
      const h = this.vectors.subarray(j * d, (j + 1) * d);
      let s = 0;
      for (let i = j + 1; i < d; i++) s += h[i] * v[i];
      s *= beta;
      for (let i = j + 1; i < d; i++) v[i] -= s * h[i];
    }
    return v;
  }

  /**
   * ln det(c·T + s·I) and zᵀ(c·T + s·I)⁻¹z by the LDLᵀ factorisation of the tridiagonal matrix (O(D),
   * stable without pivoting for a positive-definite one); `z` in T's basis ({@link rotate}), or null.
   *
   * @returns `{ logDet, quadratic }`, or null when c·T + s·I is not positive definite
   */
  shifted(c: number, s: number, z: Float64Array | null = null): { logDet: number; quadratic: number } | null {
    const d = this.d;
    let logDet = 0;
    let quadratic = 0;
    let prevD = 1;
    let prevY = 0;
    let prod = 1;
    for (let i = 0; i < d; i++) {
      const e = i === 0 ? 0 : c * this.off[i];
      const l = i === 0 ? 0 : e / prevD;
      const di = c * this.diag[i] + s - l * e;
      if (!(di > 0) || !Number.isFinite(di)) return null;
      if (z !== null) {
        const y = z[i] - l * prevY;
        quadratic += (y * y) / di;
        prevY = y;
      }
      prod *= di;
      if (prod > 1e150 || prod < 1e-150) {
        logDet += Math.log(prod);
        prod = 1;
      }
      prevD = di;
    }
    return { logDet: logDet + Math.log(prod), quadratic };
  }
}
