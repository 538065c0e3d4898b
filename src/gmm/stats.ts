import { DataError, ModelFormatError } from './errors.js';
import { packedSize } from './linalg.js';
import type { CovarianceType } from './types.js';

/**
 * Responsibilities below 2⁻⁶⁰ ≈ 8.7e-19 are not accumulated: such a term changes a statistic of a
 * component holding at least 0.01 of a point's weight by less than half an ulp (it would be absorbed
 * by the addition anyway), so skipping it is invisible at double precision, and on separated data
 * it skips most of the K·D² work per point.
 */
export const SKIP_WEIGHT = 2 ** -60;

/** Serialised form of {@link SufficientStats}. */
export interface SufficientStatsJSON {
  readonly k: number;
  readonly d: number;
  readonly covarianceType: CovarianceType;
  readonly shift: number[];
  readonly s0: number[];
  readonly s1: number[];
  readonly s2: number[];
}

/**
 * Per-component sufficient statistics of a Gaussian mixture, the only input of the M-step.
 *
 * For responsibilities w_ik and a fixed origin c (the `shift`, e.g. the first batch's mean,
 * which keeps the second moments free of catastrophic cancellation):
 *
 * - `s0`: K, s0_k = Σ_i w_ik
 * - `s1`: K×D, s1_k = Σ_i w_ik (x_i − c)
 * - `s2`: depends on the covariance type:
 *   - `full`: K×T packed lower triangles (T = D(D+1)/2) of Σ_i w_ik (x_i − c)(x_i − c)ᵀ
 *   - `diag`, `spherical`: K×D, the diagonals Σ_i w_ik (x_i − c)²
 *   - `tied`: T, the pooled packed lower triangle Σ_k Σ_i w_ik (x_i − c)(x_i − c)ᵀ
 *
 * The statistics are additive (`merge`) and scalable (`scale`, for forgetting), so windows
 * and partitions combine exactly: merging the statistics of two batches equals accumulating
 * their union.
 */
export class SufficientStats {
  readonly s0: Float64Array;
  readonly s1: Float64Array;
  readonly s2: Float64Array;
  readonly shift: Float64Array;
  /** Per-block partial sums of {@link addBlock}, allocated on first use. */
  private scratch: { u: Float64Array; v: Float64Array; c: Float64Array; idx: Int32Array } | null = null;

  constructor(
    readonly k: number,
    readonly d: number,
    readonly covarianceType: CovarianceType,
    shift?: ArrayLike<number>,
  ) {
    this.s0 = new Float64Array(k);
    this.s1 = new Float64Array(k * d);
    this.s2 = new Float64Array(s2Size(covarianceType, k, d));
    this.shift = new Float64Array(d);
    if (shift) {
      if (shift.length !== d) throw new DataError(`the shift of sufficient statistics needs D = ${d} values, got ${shift.length}`);
      this.shift.set(shift);
    }
  }

  /** Total weight Σ_k s0_k. */
  total(): number {
    let t = 0;
    for (let k = 0; k < this.k; k++) t += this.s0[k];
    return t;
  }

  /** Sets every statistic to zero (keeps the shift). */
  reset(): this {
    this.s0.fill(0);
    this.s1.fill(0);
    this.s2.fill(0);
    return this;
  }

  /**
   * Adds one point with its responsibilities. Hot path: no allocation.
   *
   * @param x points buffer, the point at `offset` (D values)
   * @param resp responsibilities buffer, K values at `respOffset`
   * @param centred scratch of D values
   */
  addPoint(x: ArrayLike<number>, offset: number, resp: ArrayLike<number>, respOffset: number, centred: Float64Array): void {
    const { k: K, d: D, s0, s1, s2, shift } = this;
    for (let a = 0; a < D; a++) centred[a] = x[offset + a] - shift[a];
    switch (this.covarianceType) {
      case 'full': {
        const T = (D * (D + 1)) / 2;
        for (let k = 0; k < K; k++) {
          const w = resp[respOffset + k];
          if (w < SKIP_WEIGHT) continue;
          s0[k] += w;
          const b1 = k * D;
          let p = k * T;
          for (let a = 0; a < D; a++) {
            const wa = w * centred[a];
            s1[b1 + a] += wa;
            for (let b = 0; b <= a; b++) s2[p++] += wa * centred[b];
          }
        }
        break;
      }
      case 'diag':
      case 'spherical': {
        for (let k = 0; k < K; k++) {
          const w = resp[respOffset + k];
          if (w < SKIP_WEIGHT) continue;
          s0[k] += w;
          const b = k * D;
          for (let a = 0; a < D; a++) {
            const wa = w * centred[a];
            s1[b + a] += wa;
            s2[b + a] += wa * centred[a];
          }
        }
        break;
      }
      case 'tied': {
        for (let k = 0; k < K; k++) {
          const w = resp[respOffset + k];
          if (w < SKIP_WEIGHT) continue;
          s0[k] += w;
          const b = k * D;
          for (let a = 0; a < D; a++) s1[b + a] += w * centred[a];
        }
        // Σ_k w_ik = 1 for every point, except under hard EM where it is also 1.
        let wsum = 0;
        for (let k = 0; k < K; k++) wsum += resp[respOffset + k];
        let p = 0;
        for (let a = 0; a < D; a++) {
          const wa = wsum * centred[a];
          for (let b = 0; b <= a; b++) s2[p++] += wa * centred[b];
        }
        break;
      }
    }
  }

  /**
   * Adds a batch.
   *
   * @param data N×D row-major points
   * @param n number of points
   * @param resp N×K row-major responsibilities
   */
  addBatch(data: ArrayLike<number>, n: number, resp: ArrayLike<number>): this {
    const centred = new Float64Array(this.d);
    for (let i = 0; i < n; i++) this.addPoint(data, i * this.d, resp, i * this.k, centred);
    return this;
  }

  /**
   * Adds a block of points, component by component, summing each component's block statistics
   * first and adding them once (the order of the compiled E-step kernels, see kernels.ts).
   *
   * @param data points buffer; the block is rows start..start+nb−1 (D values each)
   * @param resp nb×K responsibilities of the block (row 0 is point `start`)
   */
  addBlock(data: ArrayLike<number>, start: number, nb: number, resp: ArrayLike<number>): this {
    const { k: K, d: D, s0, s1, s2, shift } = this;
    const T = packedSize(D);
    const full = this.covarianceType === 'full';
    const tied = this.covarianceType === 'tied';
    const sc = (this.scratch ??= { u: new Float64Array(D), v: new Float64Array(full || tied ? T : D), c: new Float64Array(4 * D), idx: new Int32Array(0) });
    if (sc.idx.length < nb) sc.idx = new Int32Array(nb);
    const { u, v, c, idx } = sc;
    for (let k = 0; k < K; k++) {
      let t0 = 0;
      u.fill(0);
      v.fill(0);
      if (full) {
        // Points that contribute, in order; then four at a time, so each partial v_ab is loaded
        // and stored once per four points. Every partial receives its terms in point order, so the
        // result is bit-identical to adding the points one by one.
        let m = 0;
        for (let i = 0; i < nb; i++) if (resp[i * K + k] >= SKIP_WEIGHT) idx[m++] = i;
        let j = 0;
        for (; j + 4 <= m; j += 4) {
          const w0 = resp[idx[j] * K + k];
          const w1 = resp[idx[j + 1] * K + k];
          const w2 = resp[idx[j + 2] * K + k];
          const w3 = resp[idx[j + 3] * K + k];
          for (let q = 0; q < 4; q++) {
            const o = (start + idx[j + q]) * D;
            for (let a = 0; a < D; a++) c[q * D + a] = data[o + a] - shift[a];
          }
          t0 += w0;
          t0 += w1;
          t0 += w2;
          t0 += w3;
          let p = 0;
          for (let a = 0; a < D; a++) {
            const wa0 = w0 * c[a];
            const wa1 = w1 * c[D + a];
            const wa2 = w2 * c[2 * D + a];
            const wa3 = w3 * c[3 * D + a];
            u[a] += wa0;
            u[a] += wa1;
            u[a] += wa2;
            u[a] += wa3;
            for (let b = 0; b <= a; b++, p++) {
              let t = v[p];
              t += wa0 * c[b];
              t += wa1 * c[D + b];
              t += wa2 * c[2 * D + b];
              t += wa3 * c[3 * D + b];
              v[p] = t;
            }
          }
        }
        for (; j < m; j++) {
          const w = resp[idx[j] * K + k];
          const o = (start + idx[j]) * D;
          for (let a = 0; a < D; a++) c[a] = data[o + a] - shift[a];
          t0 += w;
          let p = 0;
          for (let a = 0; a < D; a++) {
            const wa = w * c[a];
            u[a] += wa;
            for (let b = 0; b <= a; b++) v[p++] += wa * c[b];
          }
        }
      } else {
        for (let i = 0; i < nb; i++) {
          const w = resp[i * K + k];
          if (w < SKIP_WEIGHT) continue;
          const o = (start + i) * D;
          for (let a = 0; a < D; a++) c[a] = data[o + a] - shift[a];
          t0 += w;
          if (tied) {
            for (let a = 0; a < D; a++) u[a] += w * c[a];
          } else {
            for (let a = 0; a < D; a++) {
              const wa = w * c[a];
              u[a] += wa;
              v[a] += wa * c[a];
            }
          }
        }
      }
      s0[k] += t0;
      for (let a = 0; a < D; a++) s1[k * D + a] += u[a];
      if (full) for (let p = 0; p < T; p++) s2[k * T + p] += v[p];
      else if (!tied) for (let a = 0; a < D; a++) s2[k * D + a] += v[a];
    }
    if (tied) {
      v.fill(0);
      for (let i = 0; i < nb; i++) {
        let wsum = 0;
        for (let k = 0; k < K; k++) wsum += resp[i * K + k];
        const o = (start + i) * D;
        for (let a = 0; a < D; a++) c[a] = data[o + a] - shift[a];
        let p = 0;
        for (let a = 0; a < D; a++) {
          const wa = wsum * c[a];
          for (let b = 0; b <= a; b++) v[p++] += wa * c[b];
        }
      }
      for (let p = 0; p < T; p++) s2[p] += v[p];
    }
    return this;
  }

  /** Multiplies every statistic by `factor` (forgetting: factor in [0, 1]). */
  scale(factor: number): this {
    scaleInPlace(this.s0, factor);
    scaleInPlace(this.s1, factor);
    scaleInPlace(this.s2, factor);
    return this;
  }

  /**
   * Adds `factor` × another accumulator of the same shape. The other's statistics are moved
   * to this accumulator's origin first, so accumulators with different shifts merge exactly.
   */
  merge(other: SufficientStats, factor = 1): this {
    if (other.k !== this.k || other.d !== this.d || other.covarianceType !== this.covarianceType) {
      throw new DataError(
        `cannot merge sufficient statistics of shape ${other.covarianceType} K=${other.k} D=${other.d} into ${this.covarianceType} K=${this.k} D=${this.d}`,
      );
    }
    const { k: K, d: D } = this;
    // δ = c_other − c_this; moments about c_this: s1' = s1 + s0·δ; s2' = s2 + δ s1ᵀ + s1 δᵀ + s0 δδᵀ
    const delta = new Float64Array(D);
    let shifted = false;
    for (let a = 0; a < D; a++) {
      delta[a] = other.shift[a] - this.shift[a];
      if (delta[a] !== 0) shifted = true;
    }
    const T = packedSize(D);
    for (let k = 0; k < K; k++) {
      const w0 = other.s0[k];
      this.s0[k] += factor * w0;
      for (let a = 0; a < D; a++) {
        const m1 = other.s1[k * D + a];
        this.s1[k * D + a] += factor * (shifted ? m1 + w0 * delta[a] : m1);
      }
    }
    const s1At = (k: number, a: number) => other.s1[k * D + a];
    switch (this.covarianceType) {
      case 'full':
        for (let k = 0; k < K; k++) {
          let p = k * T;
          for (let a = 0; a < D; a++) {
            for (let b = 0; b <= a; b++, p++) {
              let v = other.s2[p];
              if (shifted) v += delta[a] * s1At(k, b) + s1At(k, a) * delta[b] + other.s0[k] * delta[a] * delta[b];
              this.s2[p] += factor * v;
            }
          }
        }
        break;
      case 'diag':
      case 'spherical':
        for (let k = 0; k < K; k++) {
          for (let a = 0; a < D; a++) {
            let v = other.s2[k * D + a];
            if (shifted) v += 2 * delta[a] * s1At(k, a) + other.s0[k] * delta[a] * delta[a];
            this.s2[k * D + a] += factor * v;
          }
        }
        break;
      case 'tied': {
        let total = 0;
        const s1sum = new Float64Array(D);
        for (let k = 0; k < K; k++) {
          total += other.s0[k];
          for (let a = 0; a < D; a++) s1sum[a] += s1At(k, a);
        }
        let p = 0;
        for (let a = 0; a < D; a++) {
          for (let b = 0; b <= a; b++, p++) {
            let v = other.s2[p];
            if (shifted) v += delta[a] * s1sum[b] + s1sum[a] * delta[b] + total * delta[a] * delta[b];
            this.s2[p] += factor * v;
          }
        }
        break;
      }
    }
    return this;
  }

  /** A deep copy. */
  clone(): SufficientStats {
    const c = new SufficientStats(this.k, this.d, this.covarianceType, this.shift);
    c.s0.set(this.s0);
    c.s1.set(this.s1);
    c.s2.set(this.s2);
    return c;
  }

  toJSON(): SufficientStatsJSON {
    return {
      k: this.k,
      d: this.d,
      covarianceType: this.covarianceType,
      shift: Array.from(this.shift),
      s0: Array.from(this.s0),
      s1: Array.from(this.s1),
      s2: Array.from(this.s2),
    };
  }

  static fromJSON(json: SufficientStatsJSON): SufficientStats {
    for (const key of ['shift', 's0', 's1', 's2'] as const) {
      if (!Array.isArray(json[key]) || !json[key].every((v) => typeof v === 'number' && Number.isFinite(v))) {
        throw new ModelFormatError(`sufficient statistics: ${key} must be an array of finite numbers`, key);
      }
    }
    const s = new SufficientStats(json.k, json.d, json.covarianceType, json.shift);
    if (json.s0.length !== s.s0.length || json.s1.length !== s.s1.length || json.s2.length !== s.s2.length) {
      throw new ModelFormatError(`sufficient statistics JSON does not match K=${json.k} D=${json.d} ${json.covarianceType} (lengths of s0, s1, s2)`, 's0');
    }
    s.s0.set(json.s0);
    s.s1.set(json.s1);
    s.s2.set(json.s2);
    return s;
  }
}

function s2Size(type: CovarianceType, k: number, d: number): number {
  switch (type) {
    case 'full':
      return k * packedSize(d);
    case 'diag':
    case 'spherical':
      return k * d;
    case 'tied':
      return packedSize(d);
  }
}

function scaleInPlace(a: Float64Array, f: number): void {
  for (let i = 0; i < a.length; i++) a[i] *= f;
}
