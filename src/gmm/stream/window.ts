/**
 * What every policy of the streaming loop knows about the window being fitted.
 *
 * @module
 */
import { CovarianceError } from '../errors.js';
import type { EStepPool } from '../parallel/pool.js';
import type { Rng } from '../rng.js';
import type { ResolvedStreamingOptions } from '../streamingOptions.js';
import type { Dataset } from '../types.js';

/** Options of one EM run on the window (with the window's thread pool, if it uses one). */
export interface WindowRunOptions {
  readonly maxIterations: number;
  readonly tol: number;
  readonly regCovar: number;
  readonly mode: 'soft' | 'hard';
  readonly shift: Float64Array;
  readonly pool: EStepPool | null;
  /** Always true: a window's fit ends at the E-step that converges (`runEM`'s `endOnConvergedEStep`). */
  readonly endOnConvergedEStep: true;
}

/** The window being fitted and what its fits share. */
export class WindowContext {
  /** Options of one EM run on this window. */
  readonly run: WindowRunOptions;
  /** The last covariance failure a candidate dropped out with (see {@link WindowContext.attempt}). */
  failure: CovarianceError | null = null;

  /**
   * @param data n×d points of the window
   * @param t windows fitted before this one
   * @param windowIndex the index reported in events
   * @param batchWeight weight of the window's statistics (1, or stepwise EM's γ_t)
   * @param priorFactor the factor on the carried statistics (decay, or stepwise EM's 1 − γ_t)
   * @param shift the statistics' origin
   * @param rng the model's random stream
   */
  constructor(
    readonly options: ResolvedStreamingOptions,
    readonly data: Dataset,
    readonly t: number,
    readonly windowIndex: number,
    readonly batchWeight: number,
    readonly priorFactor: number,
    readonly shift: Float64Array,
    readonly rng: Rng,
    pool: EStepPool | null,
  ) {
    const o = options;
    this.run = { maxIterations: o.maxIterations, tol: o.tol, regCovar: o.regCovar, mode: o.mode, shift, pool, endOnConvergedEStep: true };
  }

  /** The same window context on other data (a part of the window: candidates fitted to it, judged on the rest). */
  withData(data: Dataset): WindowContext {
    return new WindowContext(this.options, data, this.t, this.windowIndex, this.batchWeight, this.priorFactor, this.shift, this.rng, this.run.pool);
  }

  /** Runs a candidate's fit; a covariance that cannot be factored drops the candidate (null) and is remembered. */
  attempt<T>(fit: () => T): T | null {
    try {
      return fit();
    } catch (err) {
      if (!(err instanceof CovarianceError)) throw err;
      this.failure = err;
      return null;
    }
  }
}
