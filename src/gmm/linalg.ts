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
 * Never throws; no allocation except the result (or `out`).
 *
 * @param a D×D row-major, read at `offset`
 * @param d dimension
 * @param offset where the matrix starts in `a`
 * @param out optional D×D destination (its upper triangle is zeroed)
 * @returns L, D×D row-major lower triangular with a = L·Lᵀ, or `null` when `a` is not positive definite or not finite
 */
export function cholesky(a: ArrayLike<number>, d: number, offset = 0, out?: Float64Array): Float64Array | null {
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
  for (let j = 0; j < d; j++) {
    // column j of L⁻¹: solve L·x = e_j
    for (let i = 0; i < d; i++) {
      if (i < j) {
        out[outOffset + i * d + j] = 0;
        continue;
      }
      let s = i === j ? 1 : 0;
      for (let p = j; p < i; p++) s -= l[i * d + p] * out[outOffset + p * d + j];
      out[outOffset + i * d + j] = s / l[i * d + i];
    }
  }
}

/**
 * Precision factor of a full covariance: W = L⁻¹ with Σ = L·Lᵀ, so Σ⁻¹ = Wᵀ·W and the
 * Mahalanobis distance is ‖W(x − μ)‖². (scikit-learn's `precisions_cholesky_` is Wᵀ.)
 *
 * @param cov D×D covariance (read at `offset`)
 * @param out D×D destination for W (lower triangular) at `outOffset`
 * @returns log det W = −½ log det Σ, or `null` when Σ is not positive definite
 */
export function precisionFactor(cov: Float64Array, d: number, offset: number, out: Float64Array, outOffset: number): number | null {
  const l = cholesky(cov, d, offset);
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
