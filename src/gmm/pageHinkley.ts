/**
 * Page–Hinkley test for an increase in the mean of a stream, used as a drift detector.
 *
 * @module
 */
import { z } from 'zod';
import { parseOptions } from '../options.js';
import { DataError, ModelFormatError } from './errors.js';

/** Options of `PageHinkley`; every field has a default. */
export interface PageHinkleyOptions {
  /**
   * δ, the tolerated increase per observation (≥ 0), in the units of x. Default 0.005 (River's
   * default). Deviations of x above the running mean by less than δ are treated as noise.
   */
  readonly delta?: number;
  /**
   * λ, the alarm threshold (> 0), in the units of x. Default 50 (River's default). After a
   * sustained increase of the mean by c, the statistic grows by roughly c − δ per observation
   * (less as the running mean catches up), so the delay to an alarm is about λ / (c − δ)
   * observations. For x = minus the mean log-likelihood per point of a window (in nats, whose
   * noise is small because it is averaged over the window), λ between 1 and 10 is a more
   * responsive choice; 50 is conservative.
   */
  readonly lambda?: number;
  /**
   * α ∈ (0, 1], forgetting factor of the cumulative sum. Default 1, the classic test; values
   * just below 1 (River uses 0.9999) let old evidence fade.
   */
  readonly alpha?: number;
  /** No alarm before this many observations since the start or the last reset (integer ≥ 1). Default 5. */
  readonly minInstances?: number;
}

/** The result of one `update`. */
export interface PageHinkleyResult {
  /** True if this observation raised an alarm (the detector has then reset itself). */
  readonly alarm: boolean;
  /** m_t after this observation (before the reset that follows an alarm). */
  readonly statistic: number;
  /** λ. */
  readonly threshold: number;
}

/** The JSON form of a `PageHinkley` detector: its options and its state. */
export interface PageHinkleyJSON {
  readonly format: 'emstream.page-hinkley';
  readonly version: 1;
  readonly delta: number;
  readonly lambda: number;
  readonly alpha: number;
  readonly minInstances: number;
  /** Observations since the start or the last reset. */
  readonly n: number;
  /** Running mean of those observations (0 when n = 0). */
  readonly mean: number;
  /** m_t, the clamped cumulative deviation (0 when n = 0). */
  readonly statistic: number;
}

export const PAGE_HINKLEY_DEFAULTS: Readonly<Required<PageHinkleyOptions>> = Object.freeze({
  delta: 0.005,
  lambda: 50,
  alpha: 1,
  minInstances: 5,
});

const pageHinkleySchema = z
  .object({
    delta: z.number().min(0, 'must be a finite number ≥ 0').optional(),
    lambda: z.number().gt(0, 'must be a finite number > 0').optional(),
    alpha: z.number().gt(0, 'must be in (0, 1]').max(1, 'must be in (0, 1]').optional(),
    minInstances: z.number().int('must be an integer ≥ 1').min(1, 'must be an integer ≥ 1').optional(),
  })
  .strict();

/**
 * Page–Hinkley detector of an increase in the mean of x (Page 1954, "Continuous inspection
 * schemes", Biometrika 41; the formulation of River's `drift.PageHinkley` in its "up" mode and of
 * scikit-multiflow, with the CUSUM clamp at 0).
 *
 * For each observation x_t:
 * 1. n ← n + 1 and the running mean mean_t ← mean_{t−1} + (x_t − mean_{t−1}) / n (x_t included).
 * 2. m_t = max(0, α·m_{t−1} + x_t − mean_t − δ).
 * 3. Alarm when n ≥ minInstances and m_t > λ; after an alarm the detector resets itself (n, mean
 *    and m back to 0), so the next observation starts a fresh test.
 *
 * With α = 1, m_t equals S_t − min_{s≤t} S_s for S_t = Σ (x_s − mean_s − δ), S_0 = 0, which is the
 * "sum minus its minimum" form used by River. Only increases are detected: to detect a drop in
 * likelihood, pass minus the log-likelihood.
 *
 * ## Example
 *
 * ```ts
 * import { PageHinkley } from 'emstream';
 *
 * const ph = new PageHinkley({ lambda: 5 });
 * for (const x of [1, 1, 1, 1, 1, 1, 9, 9]) {
 *   const { alarm, statistic } = ph.update(x);
 *   if (alarm) console.log('drift', statistic);
 * }
 * ```
 */
export class PageHinkley {
  readonly delta: number;
  readonly lambda: number;
  readonly alpha: number;
  readonly minInstances: number;
  #n = 0;
  #mean = 0;
  #statistic = 0;

  /**
   * @param options - see `PageHinkleyOptions`; defaults δ = 0.005, λ = 50, α = 1, minInstances = 5
   * @throws EmstreamOptionsError on an invalid option
   */
  constructor(options: PageHinkleyOptions = {}) {
    parseOptions(pageHinkleySchema, options, 'PageHinkley');
    this.delta = options.delta ?? PAGE_HINKLEY_DEFAULTS.delta;
    this.lambda = options.lambda ?? PAGE_HINKLEY_DEFAULTS.lambda;
    this.alpha = options.alpha ?? PAGE_HINKLEY_DEFAULTS.alpha;
    this.minInstances = options.minInstances ?? PAGE_HINKLEY_DEFAULTS.minInstances;
  }

  /** Observations since the start or the last reset. */
  get n(): number {
    return this.#n;
  }

  /** Running mean of the observations since the start or the last reset. */
  get mean(): number {
    return this.#mean;
  }

  /** Current m_t (0 right after a reset). */
  get statistic(): number {
    return this.#statistic;
  }

  /**
   * Feed one observation (see the class comment for the steps).
   *
   * @param x - the observation, finite (e.g. minus the mean log-likelihood of a window)
   * @param scale - the deviation x_t − mean_t is measured in units of `scale` (e.g. the standard error of x_t),
   *   so δ and λ are in those units: m_t = max(0, α·m_{t−1} + (x_t − mean_t)/scale − δ). Default 1.
   * @returns whether it raised an alarm, m_t and λ
   * @throws DataError if x or scale is not finite, or scale is not positive (the state is left unchanged)
   */
  update(x: number, scale = 1): PageHinkleyResult {
    if (!Number.isFinite(x)) throw new DataError(`PageHinkley.update: x must be finite, got ${x}`);
    if (!(scale > 0) || !Number.isFinite(scale)) throw new DataError(`PageHinkley.update: scale must be a finite number > 0, got ${scale}`);
    this.#n += 1;
    this.#mean += (x - this.#mean) / this.#n;
    this.#statistic = Math.max(0, scale === 1 ? this.alpha * this.#statistic + x - this.#mean - this.delta : this.alpha * this.#statistic + (x - this.#mean) / scale - this.delta);
    const statistic = this.#statistic;
    const alarm = this.#n >= this.minInstances && statistic > this.lambda;
    if (alarm) this.reset();
    return { alarm, statistic, threshold: this.lambda };
  }

  /** Forget all observations (options are kept). */
  reset(): void {
    this.#n = 0;
    this.#mean = 0;
    this.#statistic = 0;
  }

  /** Options and state, for checkpointing. */
  toJSON(): PageHinkleyJSON {
    return {
      format: 'emstream.page-hinkley',
      version: 1,
      delta: this.delta,
      lambda: this.lambda,
      alpha: this.alpha,
      minInstances: this.minInstances,
      n: this.#n,
      mean: this.#mean,
      statistic: this.#statistic,
    };
  }

  /**
   * Restore a detector from `toJSON()` output.
   *
   * @param json - a `PageHinkleyJSON` (e.g. parsed from a checkpoint)
   * @returns a detector that continues exactly where the saved one stopped
   * @throws ModelFormatError naming the field when the format, the options or the state are invalid
   */
  static fromJSON(json: PageHinkleyJSON): PageHinkley {
    if (json?.format !== 'emstream.page-hinkley' || json.version !== 1) {
      throw new ModelFormatError('PageHinkley.fromJSON: expected { format: "emstream.page-hinkley", version: 1, ... }', 'format');
    }
    const options = { delta: json.delta, lambda: json.lambda, alpha: json.alpha, minInstances: json.minInstances };
    const checked = pageHinkleySchema.safeParse(options);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      throw new ModelFormatError(`PageHinkley.fromJSON: ${issue.path.join('.')} ${issue.message}`, issue.path.join('.'));
    }
    const ph = new PageHinkley(options);
    if (!(Number.isInteger(json.n) && json.n >= 0)) {
      throw new ModelFormatError(`PageHinkley.fromJSON: n must be an integer ≥ 0, got ${json.n}`, 'n');
    }
    if (!Number.isFinite(json.mean)) throw new ModelFormatError(`PageHinkley.fromJSON: mean must be finite, got ${json.mean}`, 'mean');
    if (!(Number.isFinite(json.statistic) && json.statistic >= 0)) {
      throw new ModelFormatError(`PageHinkley.fromJSON: statistic must be a finite number ≥ 0, got ${json.statistic}`, 'statistic');
    }
    ph.#n = json.n;
    ph.#mean = json.mean;
    ph.#statistic = json.statistic;
    return ph;
  }
}
