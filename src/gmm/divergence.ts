/**
 * Divergences between Gaussian components at the cost of their covariance type: the kernels behind
 * `distance.ts` (Bhattacharyya distance, KL and symmetric KL divergence), one per covariance type, picked
 * from the covariance table (`COVARIANCE[type].divergence`, `covariance.ts`).
 *
 * Every covariance of a mixture is factored once ({@link DivergenceKernel.factor}); a pair then costs
 *
 * | type        | factor, per component          | Bhattacharyya, per pair         | KL / symmetric KL, per pair |
 * |-------------|--------------------------------|---------------------------------|-----------------------------|
 * | `diag`      | D reciprocals and logs         | D (closed form, D logs)         | D (closed form, no log)     |
 * | `spherical` | 1                              | D (for ‖Δμ‖²)                   | D                           |
 * | `tied`      | one Cholesky (D³/6)            | D² (one factor of (Σa+Σb)/2 for all pairs) | D²               |
 * | `full`      | one Cholesky (+ Σ⁻¹ for KL)    | D³/6: the factor of (Σa+Σb)/2 is the pair's own | D² (⟨Σb⁻¹, Σa⟩_F) |
 *
 * A full Bhattacharyya distance has no cheaper exact form: ln det((Σa+Σb)/2) needs a factorisation of the
 * pair's average. Two components with bit-identical covariances skip it ((Σ+Σ)/2 = Σ exactly), and their
 * divergences are exactly 0 when the means agree too.
 *
 * Formulas (D dimensions, Δ = μa − μb, Σ̄ = (Σa + Σb)/2):
 * - Bhattacharyya D_B = ⅛ Δᵀ Σ̄⁻¹ Δ + ½ (ln det Σ̄ − ½ (ln det Σa + ln det Σb));
 *   diag: Σ_j ⅛ Δ_j²/v̄_j + ¼ ln((va_j + vb_j)²/(4 va_j vb_j)), v̄ = (va + vb)/2 (the logarithm of a product);
 * - KL(a‖b) = ½ (tr(Σb⁻¹ Σa) + Δᵀ Σb⁻¹ Δ − D + ln det Σb − ln det Σa);
 *   diag: ½ Σ_j (va_j/vb_j + Δ_j²/vb_j − 1) + ½ (ln det Σb − ln det Σa);
 * - symmetric KL J = KL(a‖b) + KL(b‖a) = ½ (tr(Σb⁻¹Σa) + tr(Σa⁻¹Σb)) − D + ½ Δᵀ (Σa⁻¹ + Σb⁻¹) Δ
 *   (the log-determinants cancel).
 * Results are clamped at 0 against roundoff.
 *
 * @module
 */
import { DataError } from './errors.js';
import { cholesky, invertLower, logDetFromCholesky } from './linalg.js';
import type { CovarianceType } from './types.js';

/** The divergences the kernels compute. */
export type Divergence = 'bhattacharyya' | 'kl' | 'symmetric-kl';

/**
 * The covariances of a mixture's K components, factored once.
 *
 * - diag: `cov` K×D variances, `inv` K×D reciprocals, `logDet` K (Σ_j ln v_kj) — these two once a KL needs
 *   them (the Bhattacharyya distance reads the variances alone);
 * - spherical: `cov` K, `inv` K, `logDet` K (D·ln v_k);
 * - full: `cov` K×D×D, `chol` K×D×D lower factors, `logDet` K; `precision` K×D×D (Σ⁻¹) once a KL needs it;
 * - tied: `cov` D×D, `chol` D×D, `logDet` one value; `precision` D×D once needed.
 */
export interface FactoredCovariances {
  readonly type: CovarianceType;
  readonly k: number;
  readonly d: number;
  readonly cov: Float64Array;
  /** Stored variances per component (diag D, spherical 1; 0 for the matrix types). */
  readonly variances: number;
  inv: Float64Array | null;
  readonly chol: Float64Array | null;
  logDet: Float64Array;
  precision: Float64Array | null;
}

/** A pairwise divergence between component i of mixture a and component j of mixture b. */
export type PairDivergence = (i: number, j: number) => number;

/** The divergence kernel of one covariance type. */
export interface DivergenceKernel {
  /**
   * Factors the covariances of K components (stored in the layout of the type).
   *
   * @param name how to name component c's covariance in an error message
   * @throws DataError naming the component when a covariance is not positive definite or not finite
   */
  factor(cov: Float64Array, k: number, d: number, name: (c: number) => string): FactoredCovariances;
  /**
   * The divergence between component i of a (means `ma`, K_a×D) and component j of b (means `mb`), both
   * factored by this kernel, as a function of (i, j); work shared by every pair (a tied pair's average
   * covariance) is done once, here.
   */
  pair(divergence: Divergence, a: FactoredCovariances, ma: Float64Array, b: FactoredCovariances, mb: Float64Array): PairDivergence;
  /** An upper bound on the largest eigenvalue of component c's covariance (diag: the largest variance; full, tied: Gershgorin's). */
  eigenBound(f: FactoredCovariances, c: number): number;
}

/** Gershgorin's bound on the largest eigenvalue of a symmetric D×D matrix at `o`: max_a Σ_b |m_ab|. */
function gershgorin(m: Float64Array, o: number, d: number): number {
  let best = 0;
  for (let a = 0; a < d; a++) {
    let s = 0;
    for (let b = 0; b < d; b++) s += Math.abs(m[o + a * d + b]);
    if (s > best) best = s;
  }
  return best;
}

function notPositiveDefinite(what: string): DataError {
  return new DataError(`${what} is not positive definite: use a larger regCovar, fewer components, or scale the data`);
}

function nonFinite(what: string, row: number, column: number): DataError {
  return new DataError(`${what} has a non-finite entry at (${row}, ${column}): check the model for NaN or Infinity`);
}

/** Whether `d` values of x at `ox` and y at `oy` are bit-for-bit equal (early exit on the first difference). */
function same(x: Float64Array, ox: number, y: Float64Array, oy: number, n: number): boolean {
  if (x === y && ox === oy) return true;
  for (let i = 0; i < n; i++) if (x[ox + i] !== y[oy + i]) return false;
  return true;
}

/** ‖L⁻¹ v‖² for the lower factor L at `lo` (D×D) and v = `delta` (D): one forward substitution into `y`. */
function mahalanobis(l: Float64Array, lo: number, d: number, delta: Float64Array, y: Float64Array): number {
  let q = 0;
  for (let i = 0; i < d; i++) {
    const row = lo + i * d;
    let s = delta[i];
    for (let c = 0; c < i; c++) s -= l[row + c] * y[c];
    const v = s / l[row + i];
    y[i] = v;
    q += v * v;
  }
  return q;
}

/** Σ_ab P_ab S_ab = tr(P S) for symmetric P (at `po`) and S (at `so`), D×D each. */
function frobenius(p: Float64Array, po: number, s: Float64Array, so: number, d: number): number {
  let t = 0;
  for (let i = 0; i < d * d; i++) t += p[po + i] * s[so + i];
  return t;
}

/** Σ⁻¹ = L⁻ᵀ L⁻¹ (D×D, written at `out[oo..]`) from the lower factor at `l[lo..]`; `w` is D×D scratch. */
function inverseFromCholesky(l: Float64Array, lo: number, d: number, out: Float64Array, oo: number, w: Float64Array): void {
  invertLower(lo === 0 ? l : l.subarray(lo, lo + d * d), d, w);
  for (let a = 0; a < d; a++) {
    for (let b = 0; b <= a; b++) {
      let s = 0;
      for (let c = a; c < d; c++) s += w[c * d + a] * w[c * d + b];
      out[oo + a * d + b] = s;
      out[oo + b * d + a] = s;
    }
  }
}

/** Cholesky factors of `count` D×D matrices, naming the first that fails. */
function factorMatrices(cov: Float64Array, count: number, d: number, name: (c: number) => string): { chol: Float64Array; logDet: Float64Array } {
  const dd = d * d;
  if (cov.length < count * dd) throw new DataError(`${name(0)}: ${cov.length} values, expected ${count}×${d}×${d}`);
  const chol = new Float64Array(count * dd);
  const logDet = new Float64Array(count);
  for (let c = 0; c < count; c++) {
    const l = cholesky(cov, d, c * dd, chol.subarray(c * dd, (c + 1) * dd));
    if (l === null) {
      for (let i = 0; i < dd; i++) if (!Number.isFinite(cov[c * dd + i])) throw nonFinite(name(c), Math.floor(i / d), i % d);
      throw notPositiveDefinite(name(c));
    }
    logDet[c] = logDetFromCholesky(l, d);
  }
  return { chol, logDet };
}

/** Σ⁻¹ of every matrix of `f` (computed once, on first need). */
function precisionOf(f: FactoredCovariances, count: number): Float64Array {
  if (f.precision !== null) return f.precision;
  const { d, chol } = f;
  const dd = d * d;
  const p = new Float64Array(count * dd);
  const w = new Float64Array(dd);
  for (let c = 0; c < count; c++) inverseFromCholesky(chol!, c * dd, d, p, c * dd, w);
  f.precision = p;
  return p;
}

/** Δ = ma_i − mb_j into `out`. */
function difference(ma: Float64Array, i: number, mb: Float64Array, j: number, d: number, out: Float64Array): void {
  for (let t = 0; t < d; t++) out[t] = ma[i * d + t] - mb[j * d + t];
}

/** Checks that `perComponent` variances per component are positive and finite; `inv` and `logDet` follow on demand ({@link varianceTerms}). */
function factorVariances(type: CovarianceType, cov: Float64Array, k: number, d: number, perComponent: number, name: (c: number) => string): FactoredCovariances {
  for (let c = 0; c < k; c++) {
    for (let j = 0; j < perComponent; j++) {
      const v = cov[c * perComponent + j];
      if (!(v > 0 && v < Infinity)) {
        if (!Number.isFinite(v)) throw nonFinite(name(c), j, j);
        throw notPositiveDefinite(name(c));
      }
    }
  }
  return { type, k, d, cov, variances: perComponent, inv: null, chol: null, logDet: new Float64Array(0), precision: null };
}

/** 1/v and Σ ln v (spherical: D·ln v) per component of factored variances, computed on first need. */
function varianceTerms(f: FactoredCovariances): { inv: Float64Array; logDet: Float64Array } {
  if (f.inv === null) {
    const per = f.variances;
    const inv = new Float64Array(f.k * per);
    const logDet = new Float64Array(f.k);
    for (let c = 0; c < f.k; c++) {
      let ld = 0;
      for (let j = 0; j < per; j++) {
        const v = f.cov[c * per + j];
        inv[c * per + j] = 1 / v;
        ld += Math.log(v);
      }
      logDet[c] = per === 1 ? f.d * ld : ld;
    }
    f.inv = inv;
    f.logDet = logDet;
  }
  return { inv: f.inv, logDet: f.logDet };
}

/** Diagonal covariances: every divergence in O(D) per pair. */
export const DIAG_DIVERGENCE: DivergenceKernel = {
  factor: (cov, k, d, name) => factorVariances('diag', cov, k, d, d, name),
  pair(divergence, a, ma, b, mb) {
    const d = a.d;
    const va = a.cov;
    const vb = b.cov;
    if (divergence === 'bhattacharyya') {
      // ½ (ln v̄ − ½ (ln va + ln vb)) = ¼ ln r with r = v̄²/(va·vb) = (va + vb)²/(4·va·vb) ≥ 1 (1 exactly when
      // va = vb): the logarithm of a running product, taken when it grows large (D logs become a few)
      return (i, j) => {
        let maha = 0;
        let logs = 0;
        let prod = 1;
        for (let t = 0; t < d; t++) {
          const x = ma[i * d + t] - mb[j * d + t];
          const p = va[i * d + t];
          const q = vb[j * d + t];
          const sum = p + q;
          maha += (2 * x * x) / sum;
          const r = (sum * sum) / (4 * p * q);
          if (r < 1e100) {
            prod *= r;
            if (prod > 1e200) {
              logs += Math.log(prod);
              prod = 1;
            }
          } else logs += Math.log(r);
        }
        return Math.max(0, maha / 8 + 0.25 * (logs + Math.log(prod)));
      };
    }
    const { inv: ia, logDet: la } = varianceTerms(a);
    const { inv: ib, logDet: lb } = varianceTerms(b);
    if (divergence === 'kl') {
      return (i, j) => {
        let s = 0;
        for (let t = 0; t < d; t++) {
          const x = ma[i * d + t] - mb[j * d + t];
          s += va[i * d + t] / vb[j * d + t] + x * x * ib[j * d + t];
        }
        return Math.max(0, 0.5 * (s - d + lb[j] - la[i]));
      };
    }
    return (i, j) => {
      let s = 0;
      for (let t = 0; t < d; t++) {
        const x = ma[i * d + t] - mb[j * d + t];
        const p = va[i * d + t];
        const q = vb[j * d + t];
        s += p / q + q / p - 2 + x * x * (ia[i * d + t] + ib[j * d + t]);
      }
      return Math.max(0, 0.5 * s);
    };
  },
  eigenBound(f, c) {
    let best = 0;
    for (let t = 0; t < f.d; t++) best = Math.max(best, f.cov[c * f.d + t]);
    return best;
  },
};

/** Spherical covariances σ²·I: closed forms, O(D) per pair (for ‖Δμ‖²). */
export const SPHERICAL_DIVERGENCE: DivergenceKernel = {
  factor: (cov, k, d, name) => factorVariances('spherical', cov, k, d, 1, name),
  pair(divergence, a, ma, b, mb) {
    const d = a.d;
    const sq = (i: number, j: number): number => {
      let s = 0;
      for (let t = 0; t < d; t++) {
        const x = ma[i * d + t] - mb[j * d + t];
        s += x * x;
      }
      return s;
    };
    const { inv: ia, logDet: la } = varianceTerms(a);
    const { inv: ib, logDet: lb } = varianceTerms(b);
    if (divergence === 'bhattacharyya') {
      return (i, j) => {
        const v = 0.5 * (a.cov[i] + b.cov[j]);
        return Math.max(0, sq(i, j) / (8 * v) + 0.5 * (d * Math.log(v) - 0.5 * (la[i] + lb[j])));
      };
    }
    if (divergence === 'kl') return (i, j) => Math.max(0, 0.5 * (d * (a.cov[i] / b.cov[j]) + sq(i, j) * ib[j] - d + lb[j] - la[i]));
    return (i, j) => {
      const p = a.cov[i];
      const q = b.cov[j];
      return Math.max(0, 0.5 * (d * (p / q + q / p - 2) + sq(i, j) * (ia[i] + ib[j])));
    };
  },
  eigenBound: (f, c) => f.cov[c],
};

/** Full covariances: components factored once; KL in O(D²) per pair, Bhattacharyya one D³/6 factor per pair. */
export const FULL_DIVERGENCE: DivergenceKernel = {
  factor(cov, k, d, name) {
    const { chol, logDet } = factorMatrices(cov, k, d, name);
    return { type: 'full', k, d, cov, variances: 0, inv: null, chol, logDet, precision: null };
  },
  pair(divergence, a, ma, b, mb) {
    const d = a.d;
    const dd = d * d;
    const delta = new Float64Array(d);
    const y = new Float64Array(d);
    const la = a.chol!;
    const lb = b.chol!;
    if (divergence === 'bhattacharyya') {
      const avg = new Float64Array(dd);
      const lavg = new Float64Array(dd);
      return (i, j) => {
        difference(ma, i, mb, j, d, delta);
        if (same(a.cov, i * dd, b.cov, j * dd, dd)) return Math.max(0, mahalanobis(la, i * dd, d, delta, y) / 8);
        for (let t = 0; t < dd; t++) avg[t] = 0.5 * (a.cov[i * dd + t] + b.cov[j * dd + t]);
        if (cholesky(avg, d, 0, lavg) === null) throw notPositiveDefinite('the average covariance (Σa + Σb)/2');
        const ld = logDetFromCholesky(lavg, d);
        return Math.max(0, mahalanobis(lavg, 0, d, delta, y) / 8 + 0.5 * (ld - 0.5 * (a.logDet[i] + b.logDet[j])));
      };
    }
    const pb = precisionOf(b, b.k);
    if (divergence === 'kl') {
      return (i, j) => {
        difference(ma, i, mb, j, d, delta);
        const maha = mahalanobis(lb, j * dd, d, delta, y);
        if (same(a.cov, i * dd, b.cov, j * dd, dd)) return Math.max(0, 0.5 * maha);
        return Math.max(0, 0.5 * (frobenius(pb, j * dd, a.cov, i * dd, d) + maha - d + b.logDet[j] - a.logDet[i]));
      };
    }
    const pa = precisionOf(a, a.k);
    return (i, j) => {
      difference(ma, i, mb, j, d, delta);
      const maha = mahalanobis(la, i * dd, d, delta, y) + mahalanobis(lb, j * dd, d, delta, y);
      if (same(a.cov, i * dd, b.cov, j * dd, dd)) return Math.max(0, 0.5 * maha);
      return Math.max(0, 0.5 * (frobenius(pb, j * dd, a.cov, i * dd, d) + frobenius(pa, i * dd, b.cov, j * dd, d) + maha) - d);
    };
  },
  eigenBound: (f, c) => gershgorin(f.cov, c * f.d * f.d, f.d),
};

/** One covariance shared by the components: one factor per mixture, O(D²) per pair. */
export const TIED_DIVERGENCE: DivergenceKernel = {
  factor(cov, k, d, name) {
    const { chol, logDet } = factorMatrices(cov, 1, d, name);
    return { type: 'tied', k, d, cov, variances: 0, inv: null, chol, logDet, precision: null };
  },
  pair(divergence, a, ma, b, mb) {
    const d = a.d;
    const delta = new Float64Array(d);
    const y = new Float64Array(d);
    const shared = same(a.cov, 0, b.cov, 0, d * d);
    const la = a.chol!;
    const lb = b.chol!;
    if (divergence === 'bhattacharyya') {
      if (shared) {
        return (i, j) => {
          difference(ma, i, mb, j, d, delta);
          return Math.max(0, mahalanobis(la, 0, d, delta, y) / 8);
        };
      }
      // the pairs share one average covariance: one factor for all of them
      const avg = Float64Array.from({ length: d * d }, (_, t) => 0.5 * (a.cov[t] + b.cov[t]));
      const lavg = cholesky(avg, d);
      if (lavg === null) throw notPositiveDefinite('the average covariance (Σa + Σb)/2');
      const constant = 0.5 * (logDetFromCholesky(lavg, d) - 0.5 * (a.logDet[0] + b.logDet[0]));
      return (i, j) => {
        difference(ma, i, mb, j, d, delta);
        return Math.max(0, mahalanobis(lavg, 0, d, delta, y) / 8 + constant);
      };
    }
    if (divergence === 'kl') {
      const constant = shared ? 0 : frobenius(precisionOf(b, 1), 0, a.cov, 0, d) - d + b.logDet[0] - a.logDet[0];
      return (i, j) => {
        difference(ma, i, mb, j, d, delta);
        return Math.max(0, 0.5 * (mahalanobis(lb, 0, d, delta, y) + constant));
      };
    }
    const constant = shared ? 0 : frobenius(precisionOf(b, 1), 0, a.cov, 0, d) + frobenius(precisionOf(a, 1), 0, b.cov, 0, d) - 2 * d;
    return (i, j) => {
      difference(ma, i, mb, j, d, delta);
      const maha = shared ? 2 * mahalanobis(la, 0, d, delta, y) : mahalanobis(la, 0, d, delta, y) + mahalanobis(lb, 0, d, delta, y);
      return Math.max(0, 0.5 * (maha + constant));
    };
  },
  eigenBound: (f) => gershgorin(f.cov, 0, f.d),
};
