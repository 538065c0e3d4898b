import type { StatsBlockKernel, StatsScratch } from './blocked.js';
import { COVARIANCE, type CovarianceKind } from './covariance.js';
import { DataError, ModelFormatError } from './errors.js';
import type { CovarianceType } from './types.js';

/**
 * Responsibilities below 2⁻⁶⁰ ≈ 8.7e-19 are not accumulated: such a term changes a statistic of a
 * component holding at least 0.01 of a point's weight by less than half an ulp (it would be absorbed
 * by the addition anyway), so skipping it is invisible at double precision, and on separated data
 * it skips most of the K·D² work per point.
 */
export { SKIP_WEIGHT } from './blocked.js';

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

/** The sums of {@link SufficientStats} as plain typed arrays ({@link SufficientStats.copy}): shapes as there. */
export interface StatsCopy {
  readonly k: number;
  readonly d: number;
  readonly covarianceType: CovarianceType;
  readonly shift: Float64Array;
  readonly s0: Float64Array;
  readonly s1: Float64Array;
  readonly s2: Float64Array;
}

/** The JSON form of sufficient statistics (of a {@link SufficientStats} or its {@link StatsCopy}). */
export function statsToJSON(s: StatsCopy): SufficientStatsJSON {
  return {
    k: s.k,
    d: s.d,
    covarianceType: s.covarianceType,
    shift: Array.from(s.shift),
    s0: Array.from(s.s0),
    s1: Array.from(s.s1),
    s2: Array.from(s.s2),
  };
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
  private scratch: StatsScratch | null = null;
  /** The covariance type's entry of the table. */
  private readonly kind: CovarianceKind;

  constructor(
    readonly k: number,
    readonly d: number,
    readonly covarianceType: CovarianceType,
    shift?: ArrayLike<number>,
  ) {
    this.s0 = new Float64Array(k);
    this.s1 = new Float64Array(k * d);
    this.s2 = new Float64Array(COVARIANCE[covarianceType].statsSize(k, d));
    this.kind = COVARIANCE[covarianceType];
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
    const { d: D, shift } = this;
    for (let a = 0; a < D; a++) centred[a] = x[offset + a] - shift[a];
    this.kind.addPoint(this, centred, resp, respOffset);
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
   * first and adding them once (the order of the compiled E-step kernels, see kernels.ts), with the
   * blocked kernel of the covariance type (`blocked.ts`).
   *
   * @param data points buffer; the block is rows start..start+nb−1 (D values each)
   * @param resp nb×K responsibilities of the block (row 0 is point `start`)
   * @param kernel another kernel with the same result (the E-step passes its WebAssembly one)
   */
  addBlock(data: ArrayLike<number>, start: number, nb: number, resp: ArrayLike<number>, kernel: StatsBlockKernel = this.kind.statsBlock): this {
    const D = this.d;
    const sc = (this.scratch ??= {
      u: new Float64Array(D),
      v: new Float64Array(this.kind.statsSize(1, D)),
      c: new Float64Array(4 * D),
      idx: new Int32Array(0),
    });
    if (sc.idx.length < nb) sc.idx = new Int32Array(Math.max(nb, 256));
    kernel(this, data, start, nb, resp, sc);
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
    for (let k = 0; k < K; k++) {
      const w0 = other.s0[k];
      this.s0[k] += factor * w0;
      for (let a = 0; a < D; a++) {
        const m1 = other.s1[k * D + a];
        this.s1[k * D + a] += factor * (shifted ? m1 + w0 * delta[a] : m1);
      }
    }
    this.kind.mergeS2(this.s2, other, shifted ? delta : null, factor);
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
    return statsToJSON(this);
  }

  /** A copy of the sums as plain typed arrays (structured-cloneable: it can be posted to another thread). */
  copy(): StatsCopy {
    return { k: this.k, d: this.d, covarianceType: this.covarianceType, shift: this.shift.slice(), s0: this.s0.slice(), s1: this.s1.slice(), s2: this.s2.slice() };
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

function scaleInPlace(a: Float64Array, f: number): void {
  for (let i = 0; i < a.length; i++) a[i] *= f;
}
