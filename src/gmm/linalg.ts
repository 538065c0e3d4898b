import { CholeskyDecomposition, Matrix } from 'ml-matrix';

/**
 * Lower Cholesky factor of a symmetric D×D matrix, through ml-matrix.
 *
 * @param a D×D row-major (only its lower triangle is read by the factorisation)
 * @param d dimension
 * @returns L, D×D row-major lower triangular with a = L·Lᵀ, or `null` when `a` is not positive definite
 */
export function cholesky(a: Float64Array, d: number, offset = 0): Float64Array | null {
  // Mirror the lower triangle: ml-matrix throws a plain Error on any asymmetry, even one ulp.
  // Callers that accept matrices from users check symmetry themselves (see `asymmetry`).
  const m = new Matrix(d, d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      const v = a[offset + i * d + j];
      m.set(i, j, v);
      m.set(j, i, v);
    }
  }
  const chol = new CholeskyDecomposition(m);
  // ml-matrix does not throw on an indefinite matrix: ask it.
  if (!chol.isPositiveDefinite()) return null;
  const l = chol.lowerTriangularMatrix;
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) out[i * d + j] = l.get(i, j);
    if (!(out[i * d + i] > 0) || !Number.isFinite(out[i * d + i])) return null;
  }
  return out;
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
