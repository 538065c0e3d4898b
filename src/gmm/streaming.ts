import { componentDrift, weightDrift, type ComponentDrift, type WeightDrift } from './adaptive.js';
import { matchComponents, permuteComponents } from './align.js';
import { bySpread, componentParameters, mixtureParameters, mostRedundantPair, splitProposal, worstPointProposal } from './birthDeath.js';
import { appendEmptyRow, closestPair, mergeArray, mergeMove, mergeRows, permuteArray, permuteRows, splitMove, windowBic } from './chooseK.js';
import { combineStats, type MeanShrinkage } from './componentStats.js';
import { COVARIANCE } from './covariance.js';
import { componentDistance, componentDistanceMatrix } from './distance.js';
import { DriftDetector, type DriftEvent } from './drift.js';
import { checkDataset, cloneParams, runEM, type RunResult } from './em.js';
import { defaultThreads, eStepWork, pooledEStep, sharedPool, threadsFor, type EStepPool } from './parallel/pool.js';
import { CovarianceError, ModelFormatError, NumericError, StateMismatchError } from './errors.js';
import { EStepScratch, eStep, precompute } from './estep.js';
import { countDistinctRows, dataMean, initialise } from './init.js';
import { paramsFromJSON, paramsToJSON } from './model.js';
import { Rng } from './rng.js';
import { logDensities, meanLogLikelihood, significantlyBetter, splitWindow } from './selection.js';
import { SufficientStats, type SufficientStatsJSON } from './stats.js';
import {
  adaptiveSettings,
  birthDeathSettings,
  checkStateShape,
  forgettingOf,
  kOf,
  resolveStreamingOptions,
  stateDifferences,
  STREAMING_STATE_VERSION,
  type ResolvedStreamingOptions,
  type StreamingOptions,
  type ComponentsStateJSON,
  type StreamingStateJSON,
} from './streamingOptions.js';
import type { CovarianceType, Dataset, GmmParams } from './types.js';

export {
  resolveStreamingOptions,
  stateDifferences,
  streamingOptionsSchema,
  STREAMING_STATE_VERSION,
  type ComponentsStateJSON,
  type Forgetting,
  type KRange,
  type ResolvedStreamingOptions,
  type RestartPolicy,
  type StreamingConfigJSON,
  type StreamingOptions,
  type StreamingStateJSON,
} from './streamingOptions.js';

/** One candidate of a window, as reported. */
export interface WindowCandidate {
  readonly kind: 'warm' | 'cold';
  /** Mean log-likelihood per point on the data it was fitted to (the window, or its fitted part on a restart window with a warm candidate). */
  readonly logLikelihood: number;
  readonly expectedLogLikelihood: number;
  readonly iterations: number;
  /** Mean log-likelihood per point on the held-out part of the window (null when nothing was held out). */
  readonly heldOutLogLikelihood: number | null;
  readonly selected: boolean;
}

/** Outcome of one window. Per-point arrays are in window order. */
export interface WindowFit {
  /** Monotone model version, +1 per update. */
  readonly version: number;
  readonly params: GmmParams;
  /** One label per point (the label of its component, see `labelIds`). */
  readonly labels: Int32Array;
  /** Responsibility of the assigned label, per point. */
  readonly probabilities: Float64Array;
  /** log p(x_i) under the updated model, per point. */
  readonly logDensities: Float64Array;
  /** Mean log-likelihood per point on the window, under the updated model. */
  readonly logLikelihood: number;
  /** Mean expected complete-data log-likelihood per point on the window, under the updated model. */
  readonly expectedLogLikelihood: number;
  /** Mean log-likelihood per point of the window under the previous model (before the update); null on the first window. */
  readonly predictiveLogLikelihood: number | null;
  /** EM iterations of this window's fit (the selected candidate, and its refits after adaptation or re-seeding). */
  readonly iterations: number;
  readonly converged: boolean;
  /** The selected candidate started from the previous model. */
  readonly warmStarted: boolean;
  /** Cold candidates ran on this window (first window, restart policy). */
  readonly restarted: boolean;
  /** Drift alarms raised on this window. */
  readonly drift: DriftEvent[];
  /** Matched distance between the previous model and this one (0 on the first window). */
  readonly modelDistance: number;
  /** The Page-Hinkley statistic on the predictive log-likelihood after this window, and its threshold λ. */
  readonly pageHinkley: { readonly statistic: number; readonly threshold: number };
  /** Every candidate of this window (warm first when there is one). */
  readonly candidates: WindowCandidate[];
  /** Number of components of the updated model. */
  readonly k: number;
  /** The label of each component of `params` (component index → label; 0…K−1 unless K changed on the stream). */
  readonly labelIds: number[];
  /** Labels of the components re-seeded on this window (birth and death). */
  readonly reseeded: number[];
  /** Why each of `reseeded` was: `'starved'` (its weight fell below minWeight/K) or `'redundant'` (it shared its points with another). */
  readonly reseedReasons: ('starved' | 'redundant')[];
  /** Adaptive forgetting on this window: Λ per component, the threshold, and the factor kept of each component's history (null when off, or on a cold or first window). */
  readonly componentDrift: {
    /** The label of each entry of the arrays below (the components as tested, before re-seeding or a change of K). */
    readonly labels: number[];
    /** Per component, Hotelling's statistic of its window mean against its history's (0: not tested). */
    readonly meanStatistics: number[];
    /** Per component, the likelihood ratio of its window covariance against its history's. */
    readonly shapeStatistics: number[];
    readonly meanThreshold: number;
    readonly shapeThreshold: number;
    /** Labels of the components whose history was moved to their window mean (they moved). */
    readonly moved: number[];
    /** Per component, the share of its covariance history kept. */
    readonly forgetting: number[];
    /** The share of the carried weights kept (1 unless the mixing weights changed). */
    readonly weights: number;
  } | null;
  /** A change of K on this window (`k: { min, max }`): the labels split into, or merged. */
  readonly kChange: { readonly kind: 'split' | 'merge'; readonly labels: number[] } | null;
}

/** Per component, the weight of data behind the carried covariances (`shape`) and means (`mean`). */
interface Evidence {
  readonly shape: Float64Array;
  readonly mean: Float64Array;
}

/** A candidate model of a window and what it carries forward. */
interface Fitted {
  readonly kind: 'warm' | 'cold';
  readonly params: GmmParams;
  /** The window's statistics under `params` (unweighted). */
  readonly batch: SufficientStats;
  /** The carried statistics (forgotten by the window's factor) merged in its M-steps, or null. */
  readonly prior: SufficientStats | null;
  /** Per component, the share of its history that shapes it (null: all 1; see `combineStats`). */
  readonly shape: Float64Array | null;
  /** Per component, the factor on its carried weight (null: all 1; NaN: starts afresh). */
  readonly mass: Float64Array | null;
  /** Per component, the weight of data behind `prior`'s covariances and means (≤ prior.s0; null with no prior). */
  readonly evidence: Evidence | null;
  /** Per component, the fraction of the way its history is moved to the window's mean (null: none). */
  readonly translate: Float64Array | null;
  readonly logLikelihood: number;
  readonly expectedLogLikelihood: number;
  readonly iterations: number;
  readonly converged: boolean;
  readonly drift: ComponentDrift | null;
  readonly weights: WeightDrift | null;
  /** The run whose final E-step wrote the per-point outputs, if this candidate's. */
  readonly outputsWritten: boolean;
}

/**
 * Streaming EM for a Gaussian mixture, one window at a time. Pure: no RxJS, no I/O.
 *
 * For window t with points X_t (n×d) and the carried statistics S (per component s0, s1, s2):
 * 1. **Predict**: score X_t under the previous model (the predictive log-likelihood, the first E-step of the
 *    warm run); Page-Hinkley on it raises `likelihood` drift alarms.
 * 2. **Warm candidate**: EM from the previous model with the past statistics, forgotten by a (decay,
 *    `halfLife`: b = 1; stepwise: a = 1 − γ_t, b = γ_t), added to every M-step: θ = M(a·S + b·S(X_t; θ)).
 * 3. **Adaptive forgetting** (`adaptive`), per component, against the weight of data behind its history:
 *    its mean follows the window by positive-part James–Stein shrinkage in every M-step (the history is
 *    translated τ = max(0, 1 − 2D/Λ) of the way to the window mean, Λ Hotelling's statistic); its
 *    covariance history is discounted when a likelihood-ratio test says the window's shape differs; the
 *    carried weights are discounted when a G-test says the window's weights differ. Shape and weight are
 *    set apart (`combineStats`): forgetting a component's history moves its weight onto its window. A
 *    discount refits the warm candidate.
 * 4. **Selection** (first window, and when `restart` says so: every N windows, or on a likelihood alarm):
 *    `restarts` cold candidates compete with the warm one. On a window with a warm candidate all of them are
 *    fitted to the same random 1 − `holdOut` of the window (the warm one with its history) and scored on the
 *    held-out rest by mean log-likelihood: an estimate of how each predicts data it did not see, free of
 *    the in-sample bias that makes a candidate fitted to the window alone look better there. The best cold
 *    candidate replaces the warm one only when it is better beyond noise (a paired test on the held-out
 *    points), since switching drops the history; the winner is refitted on the whole window. On the first window the cold candidates share the data and compete by
 *    `select`. A cold winner's components are matched to the previous model's (Hungarian assignment on the
 *    Bhattacharyya distance), so label k keeps meaning the same cluster, and the history is dropped.
 * 5. **Birth and death** (`birthDeath`): a component whose weight fell below minWeight/K is re-seeded where
 *    the model is worst — splitting one of the two components of largest weighted spread, or on the
 *    worst-explained point — with the statistics of the re-seeded components reset (their weight is put on
 *    the scale of the carried total); the best proposal is kept when it improves the window's log-likelihood
 *    by more than AIC's p nats for the p parameters refitted (the in-sample gain of refitting them), else
 *    that component waits a back-off that doubles up to `maxBackoff` windows. While the stream drifts, the
 *    lighter of the two components whose responsibilities overlap most (cosine > `redundancy`) is a
 *    candidate too. A split's donor keeps its label on the half nearer to where it was.
 * 6. **K on the stream** (`k: { min, max }`): a split of the component of largest weighted spread (K + 1,
 *    a new label) and a merge of the two closest components or of the lightest with its nearest (K − 1,
 *    their statistics summed, the heavier one's label kept) are fitted to the window; the one that lowers
 *    BIC on the window on `patience` windows in a row is made.
 * 7. S ← the combined statistics of the result, the model version increases, the distance between
 *    successive models is measured.
 *
 * State between windows is O(K·D²): the model, the statistics, the detector and a few numbers per
 * component; {@link StreamingGmm.toJSON} saves all of it.
 */
export class StreamingGmm {
  readonly options: ResolvedStreamingOptions;
  private params: GmmParams | null = null;
  private stats: SufficientStats | null = null;
  private drift: DriftDetector;
  private rng: Rng;
  private modelVersion = 0;
  private windows = 0;
  /** Decay per window (decay / halfLife modes). */
  private readonly decay: number;
  /** Resumed from a saved state and no window fitted since. */
  private resumed = false;
  /** Component index → label. */
  private labelIds: number[] = [];
  private nextLabel = 0;
  private cooldown: number[] = [];
  private backoff: number[] = [];
  private splitStreak = 0;
  private mergeStreak = 0;
  /** Per component, the weight of data behind its carried covariances (≤ stats.s0; see adaptive forgetting). */
  private evidence: number[] = [];
  /** Per component, the weight of data behind its carried mean. */
  private meanEvidence: number[] = [];

  constructor(options: StreamingOptions) {
    this.options = resolveStreamingOptions(options);
    const o = this.options;
    this.decay = o.halfLife !== undefined ? Math.exp(Math.log(0.5) / o.halfLife) : (o.decay ?? 1);
    if (o.initialState !== undefined) {
      const state = checkStateShape(o.initialState);
      const differences = stateDifferences(state, options);
      if (differences.length > 0) throw new StateMismatchError(differences);
      if (state.model !== null && state.stats !== null) {
        this.params = paramsFromJSON(state.model);
        this.stats = SufficientStats.fromJSON(state.stats);
        if (this.stats.k !== this.params.k || this.stats.d !== this.params.d || this.stats.covarianceType !== o.covarianceType) {
          throw new ModelFormatError(`the statistics (K=${this.stats.k}, D=${this.stats.d}, ${this.stats.covarianceType}) do not belong to the model (K=${this.params.k}, D=${this.params.d}, ${this.params.covarianceType})`, 'stats');
        }
        this.checkK(this.params.k, 'model.k');
      }
      // The detector keeps its running sums; its thresholds are the ones asked for now.
      const fresh = new DriftDetector(o.drift);
      this.drift = new DriftDetector(o.drift, { ...state.drift.pageHinkley, delta: fresh.options.delta, lambda: fresh.options.lambda, minInstances: fresh.options.minInstances });
      this.rng = state.rng !== undefined ? Rng.fromState(state.rng) : new Rng(o.seed);
      this.modelVersion = state.modelVersion;
      this.windows = state.windows;
      this.resumed = true;
      const K = this.params?.k ?? 0;
      if (state.components !== undefined && this.params !== null) {
        const c = state.components;
        this.restoreComponents({ ...c, evidence: c.evidence ?? Array.from(this.stats!.s0) });
      } else this.resetComponents(K);
      return;
    }
    this.drift = new DriftDetector(o.drift);
    this.rng = new Rng(o.seed);
    if (o.initialModel !== undefined) {
      const p = paramsFromJSON(o.initialModel);
      const kDiffers = typeof o.k === 'number' ? p.k !== o.k : p.k < o.k.min || p.k > o.k.max;
      if (kDiffers || p.covarianceType !== o.covarianceType) {
        throw new StateMismatchError(
          [
            ...(kDiffers ? [{ setting: 'k', saved: String(p.k), requested: typeof o.k === 'number' ? String(o.k) : `${o.k.min}..${o.k.max}` }] : []),
            ...(p.covarianceType !== o.covarianceType ? [{ setting: 'covarianceType', saved: p.covarianceType, requested: o.covarianceType }] : []),
          ],
          'give an initialModel made with the same K and covariance type, or none',
        );
      }
      this.params = p;
      if (o.initialStats !== undefined) {
        this.stats = SufficientStats.fromJSON(o.initialStats as SufficientStatsJSON);
        if (this.stats.k !== p.k || this.stats.d !== p.d || this.stats.covarianceType !== p.covarianceType) {
          throw new ModelFormatError(`the statistics (K=${this.stats.k}, D=${this.stats.d}, ${this.stats.covarianceType}) do not belong to the model (K=${p.k}, D=${p.d}, ${p.covarianceType})`, 'initialStats');
        }
      }
      this.resetComponents(p.k);
    }
  }

  private checkK(k: number, path: string): void {
    const o = this.options;
    const ok = typeof o.k === 'number' ? k === o.k : k >= o.k.min && k <= o.k.max;
    if (!ok) throw new ModelFormatError(`K = ${k} is outside the configured ${typeof o.k === 'number' ? o.k : `${o.k.min}..${o.k.max}`}`, path);
  }

  private resetComponents(k: number): void {
    this.labelIds = Array.from({ length: k }, (_, i) => i);
    this.nextLabel = k;
    this.cooldown = new Array<number>(k).fill(0);
    this.backoff = new Array<number>(k).fill(1);
    this.splitStreak = 0;
    this.mergeStreak = 0;
    this.evidence = this.stats !== null && this.stats.k === k ? Array.from(this.stats.s0) : new Array<number>(k).fill(0);
    this.meanEvidence = [...this.evidence];
  }

  /** The per-component bookkeeping (labels, back-offs, streaks, evidence), as saved. */
  private componentsJSON(): ComponentsStateJSON {
    return {
      labels: [...this.labelIds],
      nextLabel: this.nextLabel,
      cooldown: [...this.cooldown],
      backoff: [...this.backoff],
      splitStreak: this.splitStreak,
      mergeStreak: this.mergeStreak,
      evidence: [...this.evidence],
      meanEvidence: [...this.meanEvidence],
    };
  }

  private restoreComponents(c: ComponentsStateJSON): void {
    this.labelIds = [...c.labels];
    this.nextLabel = c.nextLabel;
    this.cooldown = [...c.cooldown];
    this.backoff = [...c.backoff];
    this.splitStreak = c.splitStreak;
    this.mergeStreak = c.mergeStreak;
    this.evidence = [...(c.evidence ?? [])];
    this.meanEvidence = [...(c.meanEvidence ?? this.evidence)];
  }

  /** Windows fitted so far (also the default index of the next one). */
  get windowCount(): number {
    return this.windows;
  }

  /** Current model parameters (null before the first window). */
  get model(): GmmParams | null {
    return this.params;
  }

  /** Model version: number of updates so far. */
  get version(): number {
    return this.modelVersion;
  }

  /** Dimension fixed by the model, if any. */
  get dimension(): number | undefined {
    return this.params?.d;
  }

  /** The label of each component of the current model (component index → label). */
  get labels(): readonly number[] {
    return this.labelIds;
  }

  /** The smallest K a first window may be fitted with. */
  private get minK(): number {
    const k = this.options.k;
    return typeof k === 'number' ? k : k.min;
  }

  /** Whether a window of this data can be fitted (a first window needs K distinct points; with a range, min K). */
  canFit(data: Dataset): boolean {
    if (data.n === 0) return false;
    if (this.params !== null) return true;
    return countDistinctRows(data, this.minK) >= this.minK;
  }

  /** Forgetting factor and batch weight for window t. */
  private factors(t: number): { prior: number; batch: number } {
    const sw = this.options.stepwise;
    if (sw) {
      const gamma = Math.pow(t + 2, -sw.alpha);
      return { prior: 1 - gamma, batch: gamma };
    }
    return { prior: this.decay, batch: 1 };
  }

  /** Decides whether cold candidates run on this window. */
  private wantsRestart(t: number, likelihoodAlarm: boolean): boolean {
    const policy = this.options.restart;
    if (policy === 'never') return false;
    if (policy === 'on-drift') return likelihoodAlarm;
    return t > 0 && t % policy.every === 0;
  }

  /**
   * Fits one window.
   *
   * @param data n×d points of the window (finite values; n ≥ 1)
   * @param windowIndex index reported in drift events (default: windows seen so far)
   * @throws DataError, CovarianceError or NumericError when this window cannot be fitted: the state is
   *   left as it was, so the caller may skip the window and go on
   * @throws StateMismatchError when the window's dimension is not the model's
   */
  update(data: Dataset, windowIndex = this.windows): WindowFit {
    checkDataset(data);
    const previous = this.params;
    if (previous !== null && previous.d !== data.d) {
      throw new StateMismatchError(
        [{ setting: 'd', saved: String(previous.d), requested: String(data.d) }],
        this.resumed ? undefined : 'every window must have the dimension of the model (of the first window, or of initialModel)',
      );
    }
    // A window that cannot be fitted leaves the state as it was (the random stream and the drift
    // detector advance while candidates run), so the stream can skip it and go on.
    const rng = this.rng.getState();
    const drift = this.drift.toJSON();
    const components = this.componentsJSON();
    // Threads when the window is large enough to gain (its E-steps, see `windowThreads`); the window is put
    // into shared memory once, so that no EM run copies it again.
    const k = previous?.k ?? (typeof this.options.k === 'number' ? this.options.k : this.options.k.max);
    this.pool = windowThreads(this.options.threads, data.n, k, data.d, this.options.covarianceType) > 1 ? sharedPool(this.options.threads ?? defaultThreads()) : null;
    const window = this.pool === null ? data : { n: data.n, d: data.d, data: this.pool.share(data.data, data.n, data.d).data };
    try {
      return this.fit(window, windowIndex);
    } catch (err) {
      this.rng = Rng.fromState(rng);
      this.drift = DriftDetector.fromJSON(drift);
      this.restoreComponents(components);
      throw err;
    } finally {
      this.pool = null;
    }
  }

  /** Options of one EM run on this stream (with the window's thread pool, if it uses one). */
  private runOptions(shift: Float64Array): { maxIterations: number; tol: number; regCovar: number; mode: 'soft' | 'hard'; shift: Float64Array; pool: EStepPool | null } {
    const o = this.options;
    return { maxIterations: o.maxIterations, tol: o.tol, regCovar: o.regCovar, mode: o.mode, shift, pool: this.pool };
  }

  /** The thread pool of the window being fitted (null: the calling thread alone). */
  private pool: EStepPool | null = null;

  /** A Fitted from a plain run (no per-component factors). */
  private static fitted(kind: 'warm' | 'cold', run: RunResult, prior: SufficientStats | null, evidence: Evidence | null, outputsWritten: boolean, extra: Partial<Fitted> = {}): Fitted {
    return {
      kind,
      params: run.params,
      batch: run.batchStats,
      prior,
      shape: null,
      mass: null,
      evidence,
      translate: null,
      logLikelihood: run.logLikelihood,
      expectedLogLikelihood: run.expectedLogLikelihood,
      iterations: run.iterations,
      converged: run.converged,
      drift: null,
      weights: null,
      outputsWritten,
      ...extra,
    };
  }

  /**
   * The warm candidate on `data`: EM from `start` with the carried statistics, then adaptive forgetting
   * (steps 2–3 of the class comment).
   */
  private warmFit(data: Dataset, start: GmmParams, prior: SufficientStats | null, evidence: Evidence | null, batchWeight: number, shift: Float64Array, outputs: object): { fitted: Fitted; first: RunResult } {
    const runOpts = this.runOptions(shift);
    const adaptive = adaptiveSettings(this.options);
    if (adaptive === null || prior === null) {
      const run = runEM(data, start, { ...runOpts, prior, batchWeight, rng: this.rng }, outputs);
      return { fitted: StreamingGmm.fitted('warm', run, prior, evidence, true), first: run };
    }
    const K = start.k;
    const minPoints = Math.max(adaptive.minPoints, data.d + 2);
    const shrinkage = (): MeanShrinkage => ({ evidence: evidence?.mean ?? prior.s0, minPoints, regCovar: this.options.regCovar, tau: new Float64Array(K), statistics: new Float64Array(K) });
    const s1 = shrinkage();
    const first = runEM(data, start, { ...runOpts, prior, batchWeight, meanShrinkage: s1, rng: this.rng }, outputs);
    const drift = componentDrift(prior, first.batchStats, batchWeight, { alpha: adaptive.alpha, minPoints, regCovar: this.options.regCovar }, evidence?.shape, evidence?.mean);
    const weights = weightDrift(prior.s0, first.batchStats.s0, batchWeight, adaptive.alpha);
    const kept = (translate: Float64Array, shape: ArrayLike<number> | null): Evidence => ({
      shape: Float64Array.from(evidence?.shape ?? prior.s0, (e, k) => e * (shape?.[k] ?? 1)),
      mean: Float64Array.from(evidence?.mean ?? prior.s0, (e, k) => e * (1 - translate[k]) * (shape?.[k] ?? 1)),
    });
    const shapeChanged = drift.factors.some((f) => f < 1);
    if (!shapeChanged && weights.factor === 1) {
      return { fitted: StreamingGmm.fitted('warm', first, prior, kept(s1.tau, null), true, { drift, weights, translate: s1.tau }), first };
    }
    const shape = drift.factors;
    const mass = new Float64Array(K).fill(weights.factor);
    const s2 = shrinkage();
    const second = runEM(data, first.params, { ...runOpts, prior, batchWeight, shapeFactors: shape, massFactors: mass, meanShrinkage: s2, rng: this.rng }, outputs);
    return {
      fitted: { ...StreamingGmm.fitted('warm', second, prior, kept(s2.tau, shape), true, { drift, weights, shape, mass, translate: s2.tau }), iterations: first.iterations + second.iterations },
      first,
    };
  }

  /** The statistics a fitted candidate carries forward: its prior and batch combined with its factors. */
  private static carried(f: Fitted, batchWeight: number): SufficientStats {
    if (f.prior === null) return batchWeight === 1 ? f.batch.clone() : f.batch.clone().scale(batchWeight);
    const out = f.prior.clone();
    combineStats(out, f.prior, f.batch, batchWeight, f.shape, f.mass, f.batch.clone(), f.translate);
    return out;
  }

  /**
   * Refits a proposal (re-seeded components, or another K) to the window: components in `reset` start
   * without history (shape 0), their weight their window share of the carried total (mass NaN).
   *
   * @param base a candidate whose prior, factors and evidence have K rows of `start`
   */
  private refit(data: Dataset, start: GmmParams, base: Pick<Fitted, 'prior' | 'shape' | 'mass' | 'evidence' | 'translate'>, reset: readonly number[], batchWeight: number, shift: Float64Array): Fitted {
    const runOpts = this.runOptions(shift);
    const { prior } = base;
    if (prior === null) return StreamingGmm.fitted('warm', runEM(data, start, { ...runOpts, rng: this.rng }), null, null, false);
    const K = start.k;
    const shape = base.shape ? Float64Array.from(base.shape) : new Float64Array(K).fill(1);
    const mass = base.mass ? Float64Array.from(base.mass) : new Float64Array(K).fill(1);
    const translate = base.translate ? Float64Array.from(base.translate) : null;
    for (const r of reset) {
      shape[r] = 0;
      mass[r] = Number.NaN;
      if (translate !== null) translate[r] = 0;
    }
    const run = runEM(data, start, { ...runOpts, prior, batchWeight, shapeFactors: shape, massFactors: mass, translate, rng: this.rng });
    const kept = {
      shape: Float64Array.from(base.evidence?.shape ?? prior.s0, (e, k) => e * shape[k]),
      mean: Float64Array.from(base.evidence?.mean ?? prior.s0, (e, k) => e * (1 - (translate?.[k] ?? 0)) * shape[k]),
    };
    return StreamingGmm.fitted('warm', run, prior, kept, false, { shape, mass, translate });
  }

  private fit(data: Dataset, windowIndex: number): WindowFit {
    const o = this.options;
    const t = this.windows;
    const { n } = data;
    const previous = this.params;
    const events: DriftEvent[] = [];
    const { prior: priorFactor, batch: batchWeight } = this.factors(t);
    const shift = this.stats?.shift ?? dataMean(data);
    const runOpts = this.runOptions(shift);
    const labels = new Int32Array(n);
    const probabilities = new Float64Array(n);
    const logDensities = new Float64Array(n);
    const outputs = { labels, maxProb: probabilities, logDensity: logDensities };
    // The warm candidate's responsibilities too (birth and death reads them when it is the winner).
    const resp = previous !== null ? new Float64Array(n * previous.k) : null;
    const warmOutputs = resp !== null ? { ...outputs, resp } : outputs;
    const prior = this.stats ? this.stats.clone().scale(priorFactor) : null;
    const priorEvidence = prior === null ? null : { shape: Float64Array.from(this.evidence, (e) => e * priorFactor), mean: Float64Array.from(this.meanEvidence, (e) => e * priorFactor) };

    const reports: WindowCandidate[] = [];
    let predictive: number | null = null;
    // A candidate whose covariance cannot be factored even after re-seeding drops out; the window
    // fails only when every candidate does.
    let failure: CovarianceError | null = null;
    const attempt = <T>(run: () => T): T | null => {
      try {
        return run();
      } catch (err) {
        if (!(err instanceof CovarianceError)) throw err;
        failure = err;
        return null;
      }
    };

    let warm: Fitted | null = null;
    if (previous !== null) {
      // The warm run starts from the previous model, so its first E-step scores the window under
      // that model: history[0] is the predictive log-likelihood, at no extra cost.
      const w = attempt(() => this.warmFit(data, previous, prior, priorEvidence, batchWeight, shift, warmOutputs));
      if (w !== null) {
        warm = w.fitted;
        predictive = w.first.history[0];
      } else predictive = meanLogLikelihood(previous, data);
      if (predictive !== null) {
        const e = this.drift.observeLikelihood(windowIndex, predictive);
        if (e) events.push(e);
      }
    }
    const restart = warm === null || this.wantsRestart(t, events.some((e) => e.kind === 'likelihood'));
    let winner: Fitted;
    if (!restart) {
      winner = warm!;
      reports.push(report(warm!, null, true));
    } else if (warm !== null) {
      winner = this.selectHeldOut(data, warm, previous!, prior, priorEvidence, batchWeight, shift, reports, attempt);
    } else {
      // The first window (or a warm candidate that could not be fitted): cold candidates on the same data.
      const colds: Fitted[] = [];
      for (const k of this.firstKs(data)) {
        for (let c = 0; c < o.restarts; c++) {
          const crng = this.rng.fork();
          const run = attempt(() => runEM(data, initialise(data, o.init, { k, covarianceType: o.covarianceType, regCovar: o.regCovar, rng: crng, shift }), { ...runOpts, rng: crng }));
          if (run !== null) colds.push(StreamingGmm.fitted('cold', run, null, null, false));
        }
      }
      if (colds.length === 0) throw failure ?? new NumericError('no candidate could be fitted to the window', { quantity: 'candidates' });
      // Within a K the candidates share the data and compete by `select`; across K (a range), each K's best
      // competes by BIC on the window.
      const score = (f: Fitted): number => (o.select === 'expected' ? f.expectedLogLikelihood : f.logLikelihood);
      const bic = (f: Fitted): number => windowBic(f.logLikelihood, n, mixtureParameters(o.covarianceType, f.params.k, data.d));
      const bestOfK = new Map<number, number>();
      colds.forEach((f, i) => {
        const b = bestOfK.get(f.params.k);
        if (b === undefined || score(f) > score(colds[b])) bestOfK.set(f.params.k, i);
      });
      let best = -1;
      for (const i of bestOfK.values()) if (best < 0 || bic(colds[i]) < bic(colds[best])) best = i;
      colds.forEach((f, i) => reports.push(report(f, null, i === best)));
      winner = colds[best];
      if (previous !== null && winner.params.k === previous.k) winner = this.matched(winner, previous, data, shift);
      if (previous === null || winner.params.k !== previous.k) this.resetComponents(winner.params.k);
    }

    // The labels of the components as the drift tests saw them (before re-seeding or a change of K).
    const testedLabels = [...this.labelIds];
    // Birth and death, then K on the stream.
    const reseeded = { labels: [] as number[], reasons: [] as ('starved' | 'redundant')[] };
    const bd = birthDeathSettings(o);
    if (bd !== null && winner.params.k > 1) {
      // (soft responsibilities only: hard EM's are 0 or 1)
      const winnerResp = resp !== null && o.mode === 'soft' && winner.outputsWritten && winner.params.k === previous!.k ? resp : null;
      winner = this.birthDeath(data, winner, t, bd, batchWeight, shift, reseeded, events.length > 0 || restart || (winner.drift?.drifted.length ?? 0) > 0 || (winner.weights?.factor ?? 1) < 1, winnerResp);
    }
    let kChange: WindowFit['kChange'] = null;
    let labelsBefore: number[] = [];
    if (typeof o.k !== 'number' && previous !== null) {
      labelsBefore = [...this.labelIds];
      const moved = this.moveK(data, winner, o.k, batchWeight, shift);
      if (moved !== null) {
        winner = moved.fitted;
        kChange = moved.change;
      }
    }

    // Per-point outputs under the final model.
    if (!winner.outputsWritten) {
      const pre = precompute(winner.params);
      if (!pre.ok) throw new CovarianceError({ component: pre.component, covarianceType: o.covarianceType, regCovar: o.regCovar });
      pooledEStep(this.pool, pre.value, data, o.mode === 'hard', null, outputs, new EStepScratch(winner.params.k, data.d));
    }
    if (this.labelIds.some((id, i) => id !== i)) for (let i = 0; i < n; i++) labels[i] = this.labelIds[labels[i]];

    // The statistics carried forward.
    this.stats = StreamingGmm.carried(winner, batchWeight);
    this.evidence = Array.from(winner.batch.s0, (s0, k) => (winner.evidence?.shape[k] ?? 0) + batchWeight * s0);
    this.meanEvidence = Array.from(winner.batch.s0, (s0, k) => (winner.evidence?.mean[k] ?? 0) + batchWeight * s0);

    let modelDistance = 0;
    if (previous !== null) {
      const m = this.observeModels(windowIndex, previous, winner.params, kChange === null ? null : { labels: kChange.labels, before: labelsBefore });
      modelDistance = m.distance;
      if (m.event) events.push(m.event);
    }
    const cd = winner.kind === 'warm' ? winner.drift : null;
    if (cd !== null && cd.drifted.length > 0) {
      // The strongest of the component tests, relative to its threshold.
      let statistic = 0;
      let threshold = cd.meanThreshold;
      for (const k of cd.drifted) {
        if (cd.meanStatistics[k] / cd.meanThreshold > statistic / threshold) [statistic, threshold] = [cd.meanStatistics[k], cd.meanThreshold];
        if (cd.shapeThreshold > 0 && cd.shapeStatistics[k] / cd.shapeThreshold > statistic / threshold) [statistic, threshold] = [cd.shapeStatistics[k], cd.shapeThreshold];
      }
      events.push({ windowIndex, kind: 'component', statistic, threshold, components: cd.drifted.map((k) => testedLabels[k]) });
    }
    const wd = winner.kind === 'warm' ? winner.weights : null;
    if (wd !== null && wd.factor < 1) events.push({ windowIndex, kind: 'weights', statistic: wd.statistic, threshold: wd.threshold });
    this.params = winner.params;
    this.modelVersion++;
    this.windows++;
    this.resumed = false;
    return {
      version: this.modelVersion,
      params: cloneParams(winner.params),
      labels,
      probabilities,
      logDensities,
      logLikelihood: winner.logLikelihood,
      expectedLogLikelihood: winner.expectedLogLikelihood,
      predictiveLogLikelihood: predictive,
      iterations: winner.iterations,
      converged: winner.converged,
      warmStarted: winner.kind === 'warm',
      restarted: restart,
      drift: events,
      modelDistance,
      pageHinkley: this.drift.pageHinkley,
      candidates: reports,
      k: winner.params.k,
      labelIds: [...this.labelIds],
      reseeded: reseeded.labels,
      reseedReasons: reseeded.reasons,
      componentDrift:
        cd === null
          ? null
          : {
              meanStatistics: Array.from(cd.meanStatistics),
              shapeStatistics: Array.from(cd.shapeStatistics),
              meanThreshold: cd.meanThreshold,
              shapeThreshold: cd.shapeThreshold,
              labels: testedLabels,
              moved: cd.drifted.filter((k) => cd.meanStatistics[k] > cd.meanThreshold).map((k) => testedLabels[k]),
              forgetting: Array.from(cd.factors),
              weights: wd?.factor ?? 1,
            },
      kChange,
    };

    function report(f: Fitted, heldOut: number | null, selected: boolean): WindowCandidate {
      return { kind: f.kind, logLikelihood: f.logLikelihood, expectedLogLikelihood: f.expectedLogLikelihood, iterations: f.iterations, heldOutLogLikelihood: heldOut, selected };
    }
  }

  /** The K values a first window tries: K, or every K of the range that the data's distinct points allow. */
  private firstKs(data: Dataset): number[] {
    const k = this.options.k;
    if (typeof k === 'number') return [this.params?.k ?? k];
    if (this.params !== null) return [this.params.k];
    const distinct = countDistinctRows(data, k.max);
    const out: number[] = [];
    for (let c = k.min; c <= Math.min(k.max, distinct); c++) out.push(c);
    return out;
  }

  /** A cold winner relabelled in the previous model's order, with its statistics recomputed in that order. */
  private matched(f: Fitted, previous: GmmParams, data: Dataset, shift: Float64Array): Fitted {
    const o = this.options;
    const params = permuteComponents(f.params, matchComponents(previous, f.params, o.drift.metric ?? 'bhattacharyya'));
    const pre = precompute(params);
    if (!pre.ok) throw new CovarianceError({ component: pre.component, covarianceType: o.covarianceType, regCovar: o.regCovar });
    const batch = new SufficientStats(params.k, data.d, o.covarianceType, shift);
    const sums = eStep(pre.value, data.data, data.n, o.mode === 'hard', batch, {}, new EStepScratch(params.k, data.d));
    return { ...f, params, batch, logLikelihood: sums.logLikelihood / data.n, expectedLogLikelihood: sums.expected / data.n, outputsWritten: false };
  }

  /**
   * Step 4 with a warm candidate: every candidate is fitted to the same random part of the window and
   * scored on the held-out rest; the winner is refitted on the whole window.
   */
  private selectHeldOut(
    data: Dataset,
    warmFull: Fitted,
    previous: GmmParams,
    prior: SufficientStats | null,
    evidence: Evidence | null,
    batchWeight: number,
    shift: Float64Array,
    reports: WindowCandidate[],
    attempt: <T>(run: () => T) => T | null,
  ): Fitted {
    const o = this.options;
    const K = previous.k;
    const split = splitWindow(data, o.holdOut, this.rng);
    if (split === null || countDistinctRows(split.fit, K) < K) {
      // Too small a window to hold anything out: keep the warm candidate.
      reports.push({ kind: 'warm', logLikelihood: warmFull.logLikelihood, expectedLogLikelihood: warmFull.expectedLogLikelihood, iterations: warmFull.iterations, heldOutLogLikelihood: null, selected: true });
      return warmFull;
    }
    const entries: { kind: 'warm' | 'cold'; fitted: Fitted; heldOut: number; densities: Float64Array | null }[] = [];
    const entry = (kind: 'warm' | 'cold', fitted: Fitted): void => {
      const densities = logDensities(fitted.params, split.test);
      let mean = -Infinity;
      if (densities !== null) {
        mean = 0;
        for (let i = 0; i < densities.length; i++) mean += densities[i] / densities.length;
      }
      entries.push({ kind, fitted, heldOut: mean, densities });
    };
    const warmPart = attempt(() => this.warmFit(split.fit, previous, prior, evidence, batchWeight, shift, {}).fitted);
    if (warmPart !== null) entry('warm', warmPart);
    const runOpts = this.runOptions(shift);
    for (let c = 0; c < o.restarts; c++) {
      const crng = this.rng.fork();
      const run = attempt(() => runEM(split.fit, initialise(split.fit, o.init, { k: K, covarianceType: o.covarianceType, regCovar: o.regCovar, rng: crng, shift }), { ...runOpts, rng: crng }));
      if (run !== null) entry('cold', StreamingGmm.fitted('cold', run, null, null, false));
    }
    // The best cold candidate replaces the warm one only when it predicts the held-out points better beyond noise.
    let best = -1;
    entries.forEach((e, i) => {
      if (e.kind === 'cold' && e.densities !== null && (best < 0 || e.heldOut > entries[best].heldOut)) best = i;
    });
    const warmIndex = entries.findIndex((e) => e.kind === 'warm' && e.densities !== null);
    if (warmIndex >= 0 && (best < 0 || !significantlyBetter(entries[best].densities!, entries[warmIndex].densities!))) best = warmIndex;
    entries.forEach((e, i) =>
      reports.push({
        kind: e.kind,
        logLikelihood: e.fitted.logLikelihood,
        expectedLogLikelihood: e.fitted.expectedLogLikelihood,
        iterations: e.fitted.iterations,
        heldOutLogLikelihood: Number.isFinite(e.heldOut) ? e.heldOut : null,
        selected: i === best,
      }),
    );
    if (best < 0 || entries[best].kind === 'warm') return warmFull;
    // A cold winner: refit on the whole window from its parameters, without history, in the previous order.
    const chosen = entries[best].fitted;
    const run = attempt(() => runEM(data, chosen.params, { ...runOpts, rng: this.rng }));
    if (run === null) return warmFull;
    const refit = StreamingGmm.fitted('cold', run, null, null, false);
    return this.matched({ ...refit, iterations: chosen.iterations + refit.iterations }, previous, data, shift);
  }

  /** A fitted candidate with its components reordered (new j = old perm[j]): parameters, statistics and factors. */
  private static permuted(f: Fitted, perm: Int32Array): Fitted {
    const pa = <T extends Float64Array>(a: T | null): T | null => (a === null ? null : permuteArray(a, perm));
    return {
      ...f,
      params: permuteComponents(f.params, perm),
      batch: permuteRows(f.batch, perm),
      prior: f.prior === null ? null : permuteRows(f.prior, perm),
      shape: pa(f.shape),
      mass: pa(f.mass),
      translate: pa(f.translate),
      evidence: f.evidence === null ? null : { shape: permuteArray(f.evidence.shape, perm), mean: permuteArray(f.evidence.mean, perm) },
      outputsWritten: false,
    };
  }

  /**
   * After a split of `donor` into `donor` and `other`, the donor's label stays with the half nearer (Bhattacharyya)
   * to where the donor was: the two are swapped when `other` is nearer.
   */
  private static keepDonorIdentity(f: Fitted, before: GmmParams, donor: number, other: number): Fitted {
    const distance = (c: number): number => componentDistance(before, donor, f.params, c, 'bhattacharyya');
    if (!(distance(other) < distance(donor))) return f;
    const perm = Int32Array.from({ length: f.params.k }, (_, i) => i);
    perm[donor] = other;
    perm[other] = donor;
    return StreamingGmm.permuted(f, perm);
  }

  /** Step 5: starved components re-seeded where the model is worst, when BIC on the window agrees. */
  private birthDeath(
    data: Dataset,
    fitted: Fitted,
    t: number,
    settings: { minWeight: number; maxBackoff: number; redundancy: number },
    batchWeight: number,
    shift: Float64Array,
    reseeded: { labels: number[]; reasons: ('starved' | 'redundant')[] },
    drifting: boolean,
    resp: Float64Array | null,
  ): Fitted {
    const o = this.options;
    const K = fitted.params.k;
    const threshold = settings.minWeight / K;
    const starved: number[] = [];
    for (let k = 0; k < K; k++) if (fitted.params.weights[k] < threshold && this.cooldown[k] <= t) starved.push(k);
    starved.sort((a, b) => fitted.params.weights[a] - fitted.params.weights[b]);
    if (drifting) {
      // While the stream moves, a component can be stranded inside another's support (after two clusters
      // crossed): the lighter of a redundant pair is a candidate too.
      const r = mostRedundantPair(fitted.params, data, resp ?? undefined);
      if (r !== null && r.similarity > settings.redundancy) {
        const [a, b] = r.pair;
        const lighter = fitted.params.weights[a] <= fitted.params.weights[b] ? a : b;
        if (!starved.includes(lighter) && this.cooldown[lighter] <= t) starved.push(lighter);
      }
    }
    const reasonOf = (k: number): 'starved' | 'redundant' => (fitted.params.weights[k] < threshold ? 'starved' : 'redundant');
    if (starved.length === 0) return fitted;
    // AIC's correction of the in-sample gain of refitting p parameters to the window: p nats.
    const penalty1 = componentParameters(o.covarianceType, data.d) / data.n;
    let current = fitted;
    const used = new Set<number>(starved);
    for (const k of starved) {
      const proposals: { params: GmmParams; reset: number[] }[] = [];
      for (const donor of bySpread(current.params, used).slice(0, 2)) {
        const p = splitProposal(current.params, donor, k, data);
        if (p !== null) proposals.push({ params: p, reset: [donor, k] });
      }
      const worst = worstPointProposal(current.params, k, data);
      if (worst !== null) proposals.push({ params: worst, reset: [k] });
      let best: Fitted | null = null;
      let bestGain = -Infinity;
      let bestReset: number[] = [];
      const before = current.params;
      for (const prop of proposals) {
        let trial: Fitted;
        try {
          trial = this.refit(data, prop.params, current, prop.reset, batchWeight, shift);
        } catch (err) {
          if (err instanceof CovarianceError) continue;
          throw err;
        }
        const gain = trial.logLikelihood - current.logLikelihood - penalty1 * prop.reset.length;
        if (gain > bestGain) {
          bestGain = gain;
          best = trial;
          bestReset = prop.reset;
        }
      }
      if (best !== null && bestGain > 0) {
        if (bestReset.length === 2) best = StreamingGmm.keepDonorIdentity(best, before, bestReset[0], k);
        current = { ...best, kind: current.kind, drift: current.drift, weights: current.weights, iterations: current.iterations + best.iterations };
        reseeded.labels.push(this.labelIds[k]);
        reseeded.reasons.push(reasonOf(k));
        for (const r of bestReset) used.add(r);
        this.backoff[k] = 1;
        this.cooldown[k] = t + 3;
      } else {
        this.backoff[k] = Math.min(settings.maxBackoff, this.backoff[k] * 2);
        this.cooldown[k] = t + this.backoff[k];
      }
    }
    return current;
  }

  /** Step 6: a split or a merge when BIC on the window has preferred it on `patience` windows in a row. */
  private moveK(data: Dataset, fitted: Fitted, range: { min: number; max: number; patience: number }, batchWeight: number, shift: Float64Array): { fitted: Fitted; change: NonNullable<WindowFit['kChange']> } | null {
    const o = this.options;
    const { d } = data;
    const n = data.n;
    const K = fitted.params.k;
    const bic = (f: Fitted): number => windowBic(f.logLikelihood, n, mixtureParameters(o.covarianceType, f.params.k, d));
    const base = bic(fitted);
    let split: { fitted: Fitted; donor: number } | null = null;
    if (K < range.max) {
      const donor = bySpread(fitted.params, new Set()).at(0);
      const start = donor === undefined ? null : splitMove(fitted.params, donor, data);
      if (start !== null && donor !== undefined) {
        try {
          const base = {
            prior: fitted.prior ? appendEmptyRow(fitted.prior) : null,
            shape: fitted.shape ? Float64Array.of(...fitted.shape, 1) : null,
            mass: fitted.mass ? Float64Array.of(...fitted.mass, 1) : null,
            evidence: fitted.evidence ? { shape: Float64Array.of(...fitted.evidence.shape, 0), mean: Float64Array.of(...fitted.evidence.mean, 0) } : null,
            translate: fitted.translate ? Float64Array.of(...fitted.translate, 0) : null,
          };
          split = { fitted: StreamingGmm.keepDonorIdentity(this.refit(data, start, base, [donor, K], batchWeight, shift), fitted.params, donor, K), donor };
        } catch (err) {
          if (!(err instanceof CovarianceError)) throw err;
        }
      }
    }
    let merge: { fitted: Fitted; pair: [number, number] } | null = null;
    if (K > range.min && K > 1) {
      // The two closest components, and the lightest with its nearest (a cluster that faded away).
      const dist = componentDistanceMatrix(fitted.params, fitted.params, 'bhattacharyya');
      const pairs: [number, number][] = [closestPair(fitted.params)];
      let lightest = 0;
      for (let c = 1; c < K; c++) if (fitted.params.weights[c] < fitted.params.weights[lightest]) lightest = c;
      let nearest = lightest === 0 ? 1 : 0;
      for (let c = 0; c < K; c++) if (c !== lightest && dist[lightest * K + c] < dist[lightest * K + nearest]) nearest = c;
      const second: [number, number] = [Math.min(lightest, nearest), Math.max(lightest, nearest)];
      if (second[0] !== pairs[0][0] || second[1] !== pairs[0][1]) pairs.push(second);
      for (const pair of pairs) {
        const [i, j] = pair;
        try {
          const wi = fitted.prior?.s0[i] ?? 0;
          const wj = fitted.prior?.s0[j] ?? 0;
          const mean = (x: number, y: number): number => (wi + wj > 0 ? (wi * x + wj * y) / (wi + wj) : 0.5 * (x + y));
          const base = {
            prior: fitted.prior ? mergeRows(fitted.prior, i, j) : null,
            shape: fitted.shape ? mergeArray(fitted.shape, i, j, mean) : null,
            mass: fitted.mass ? mergeArray(fitted.mass, i, j, mean) : null,
            evidence: fitted.evidence ? { shape: mergeArray(fitted.evidence.shape, i, j, (x, y) => x + y), mean: mergeArray(fitted.evidence.mean, i, j, (x, y) => x + y) } : null,
            translate: fitted.translate ? mergeArray(fitted.translate, i, j, (x, y) => Math.max(x, y)) : null,
          };
          const f = this.refit(data, mergeMove(fitted.params, i, j), base, [], batchWeight, shift);
          if (merge === null || bic(f) < bic(merge.fitted)) merge = { fitted: f, pair };
        } catch (err) {
          if (!(err instanceof CovarianceError)) throw err;
        }
      }
    }
    const splitGain = split === null ? Infinity : bic(split.fitted) - base;
    const mergeGain = merge === null ? Infinity : bic(merge.fitted) - base;
    this.splitStreak = splitGain < 0 ? this.splitStreak + 1 : 0;
    this.mergeStreak = mergeGain < 0 ? this.mergeStreak + 1 : 0;
    const doSplit = split !== null && this.splitStreak >= range.patience && (this.mergeStreak < range.patience || splitGain <= mergeGain);
    const doMerge = !doSplit && merge !== null && this.mergeStreak >= range.patience;
    if (doSplit) {
      const label = this.nextLabel++;
      this.labelIds.push(label);
      this.cooldown.push(this.windows + 3);
      this.backoff.push(1);
      this.splitStreak = 0;
      this.mergeStreak = 0;
      return { fitted: { ...split!.fitted, kind: fitted.kind, iterations: fitted.iterations + split!.fitted.iterations }, change: { kind: 'split', labels: [this.labelIds[split!.donor], label] } };
    }
    if (doMerge) {
      const [i, j] = merge!.pair;
      // The merged component (at index i) keeps the label of the heavier of the two.
      const [kept, gone] = fitted.params.weights[i] >= fitted.params.weights[j] ? [i, j] : [j, i];
      const labels = [this.labelIds[kept], this.labelIds[gone]];
      this.labelIds[i] = labels[0];
      this.labelIds.splice(j, 1);
      this.cooldown.splice(j, 1);
      this.backoff.splice(j, 1);
      this.splitStreak = 0;
      this.mergeStreak = 0;
      return { fitted: { ...merge!.fitted, kind: fitted.kind, iterations: fitted.iterations + merge!.fitted.iterations }, change: { kind: 'merge', labels } };
    }
    return null;
  }

  /** Distance between successive models; after a change of K, over the labels neither move touched. */
  private observeModels(windowIndex: number, previous: GmmParams, next: GmmParams, change: { labels: readonly number[]; before: readonly number[] } | null): { distance: number; event: DriftEvent | null } {
    if (change === null) return this.drift.observeModels(windowIndex, previous, next);
    const common = this.labelIds.filter((l) => !change.labels.includes(l));
    if (common.length === 0) return { distance: 0, event: null };
    const prevSub = subMixture(previous, common.map((l) => change.before.indexOf(l)));
    const nextSub = subMixture(next, common.map((l) => this.labelIds.indexOf(l)));
    return this.drift.observeModels(windowIndex, prevSub, nextSub);
  }

  /**
   * The whole state, JSON-serialisable: pass it as `initialState` to continue exactly where this one is.
   *
   * ## Example
   * ```ts
   * import { StreamingGmm } from 'emstream';
   *
   * const window = { n: 4, d: 1, data: Float64Array.of(0, 0.1, 5, 5.1) };
   * const a = new StreamingGmm({ k: 2, halfLife: 5, seed: 1 });
   * a.update(window);
   * const b = new StreamingGmm({ k: 2, halfLife: 5, seed: 1, initialState: JSON.parse(JSON.stringify(a.toJSON())) });
   * console.log(a.update(window).version, b.update(window).version); // → 2 2
   * ```
   */
  toJSON(): StreamingStateJSON {
    return {
      format: 'emstream.streaming-state',
      version: STREAMING_STATE_VERSION as 3,
      modelVersion: this.modelVersion,
      windows: this.windows,
      model: this.params ? paramsToJSON(this.params) : null,
      stats: this.stats ? this.stats.toJSON() : null,
      drift: this.drift.toJSON(),
      config: { k: kOf(this.options), covarianceType: this.options.covarianceType, d: this.params?.d ?? null, forgetting: forgettingOf(this.options) },
      rng: this.rng.getState(),
      components: this.componentsJSON(),
    };
  }
}

/** The mixture of the components `idx` of p, in that order, weights renormalised. */
function subMixture(p: GmmParams, idx: readonly number[]): GmmParams {
  const { d: D, covarianceType: type } = p;
  const cs = COVARIANCE[type].stride(D);
  const weights = new Float64Array(idx.length);
  const means = new Float64Array(idx.length * D);
  const covariances = new Float64Array(cs === 0 ? p.covariances.length : idx.length * cs);
  if (cs === 0) covariances.set(p.covariances);
  let total = 0;
  idx.forEach((c, t) => {
    weights[t] = p.weights[c];
    total += p.weights[c];
    means.set(p.means.subarray(c * D, c * D + D), t * D);
    if (cs > 0) covariances.set(p.covariances.subarray(c * cs, c * cs + cs), t * cs);
  });
  for (let t = 0; t < idx.length; t++) weights[t] /= total;
  return { k: idx.length, d: D, covarianceType: type, weights, means, covariances };
}

/**
 * With the default thread count, below this many multiply-adds per E-step ({@link eStepWork}) a window's EM
 * stays on the calling thread: the crossover of whole streaming windows measured with
 * `npm run bench -- threads` (see docs/benchmarks.md), above the single E-step's `MIN_PARALLEL_WORK` since a
 * window's EM hands over several short E-steps.
 */
export const MIN_WINDOW_PARALLEL_WORK = 2e7;

/**
 * Threads a window of n points uses for its E-steps.
 *
 * 1. `threads` not given (the default): the number of cores when an E-step of the window is at least
 *    {@link MIN_WINDOW_PARALLEL_WORK} multiply-adds, else 1;
 * 2. `threads` given: as a batch fit, `threadsFor(threads, …)` (1 below `MIN_PARALLEL_WORK`);
 * 3. never more than one per block of 256 points.
 */
export function windowThreads(threads: number | undefined, n: number, k: number, d: number, type: CovarianceType): number {
  if (threads !== undefined) return threadsFor(threads, n, k, d, type);
  return eStepWork(n, k, d, type) < MIN_WINDOW_PARALLEL_WORK ? 1 : threadsFor(defaultThreads(), n, k, d, type);
}
