import { checkDriftJSON, DriftDetector, type DriftDetectorJSON, type DriftEvent, type DriftState, type DriftStatistics, type LikelihoodStep } from './drift.js';
import { chiSquareLog10Survival } from './special.js';
import { checkDataset, cloneParams } from './em.js';
import { defaultThreads, eStepWork, pooledEStep, sharedPool, threadsFor, type EStepPool } from './parallel/pool.js';
import { CovarianceError, ModelFormatError, StateMismatchError } from './errors.js';
import { precompute } from './estep.js';
import { countDistinctRows, dataMean } from './init.js';
import { paramsFromJSON, paramsToJSON } from './model.js';
import { Rng, type RngState } from './rng.js';
import { logDensities as pointLogDensities } from './selection.js';
import { shapeDegreesOfFreedom, type ComponentDrift } from './adaptive.js';
import { statsToJSON, SufficientStats, type StatsCopy, type SufficientStatsJSON } from './stats.js';
import { COVARIANCE } from './covariance.js';
import { ComponentBook } from './stream/book.js';
import { carriedStats, evidenceAfter, History, type Candidate, type Evidence } from './stream/candidate.js';
import { BicKChange, type KChange } from './stream/kChange.js';
import { checkBirthDeathJSON, HeldOutBirthDeath, type ReseedReason, type Reseeds, type ReseedVerdict } from './stream/reseed.js';
import { heldOutSelection, reportOf, type SelectionPolicy, type WindowCandidate } from './stream/select.js';
import { warmFit, type WarmFitPolicy } from './stream/warmFit.js';
import { WindowContext } from './stream/window.js';
import { countWindow, enterPhase, inPhase, leavePhase } from './stream/profile.js';
import {
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
  type StreamingConfigJSON,
  type StreamingStateJSON,
} from './streamingOptions.js';
import { birthDeathToJSON, type BirthDeathCopy, type BirthDeathJSON } from './stream/reseed.js';
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
export type { WindowCandidate } from './stream/select.js';

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
  /** The standard error of `predictiveLogLikelihood` (the spread of the points' log-densities / √n; null on the first window). */
  readonly predictiveStandardError: number | null;
  /** Every statistic that can raise a drift alarm, on this window, against its threshold. */
  readonly driftStatistics: DriftStatistics;
  /** The drift state after this window: drifting from the onset of a change until the model is stable again, its severity and progress. */
  readonly drifting: DriftState;
  /** The drifting state ended on this window (it began at `since`); null otherwise. */
  readonly driftEnded: { readonly since: number } | null;
  /** Every candidate of this window (warm first when there is one). */
  readonly candidates: WindowCandidate[];
  /** Number of components of the updated model. */
  readonly k: number;
  /** The label of each component of `params` (component index → label; 0…K−1 unless K changed on the stream). */
  readonly labelIds: number[];
  /** Labels of the components re-seeded on this window (birth and death). */
  readonly reseeded: number[];
  /** Why each of `reseeded` was: `'starved'` (its weight fell below minWeight/K) or `'redundant'` (others explain its points). */
  readonly reseedReasons: ReseedReason[];
  /**
   * Labels whose re-seed of the previous window was reverted on this window: the model with it did not predict
   * this window (data it was not seeded from) better beyond noise, so the model without it continued.
   */
  readonly reverted: number[];
  /** Adaptive forgetting on this window: Λ per component, the threshold, and the factor kept of each component's history (null when off, or on a cold or first window). */
  readonly componentDrift: {
    /** The label of each entry of the arrays below (the components as tested, before re-seeding or a change of K). */
    readonly labels: number[];
    /** Per component, Hotelling's statistic of its window mean against its history's (0: not tested). */
    readonly meanStatistics: number[];
    /** Per component, the likelihood ratio of its window covariance against its history's. */
    readonly shapeStatistics: number[];
    /**
     * Per component, what its tests say as a `component` alarm statistic: −log₁₀ of the Bonferroni-adjusted
     * p-value of its mean and shape tests (0: not tested, or re-seeded on this window or the last).
     */
    readonly scores: number[];
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
  readonly kChange: KChange | null;
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
  /** Per component, the weight of data behind the carried covariances and means (≤ stats.s0; see adaptive forgetting). */
  private evidence: Evidence = { shape: new Float64Array(0), mean: new Float64Array(0) };
  /** Per component: label, re-seed cool-down and back-off. */
  private book: ComponentBook = ComponentBook.identity(0);
  private drift: DriftDetector;
  private rng: Rng;
  private modelVersion = 0;
  private windows = 0;
  /** Decay per window (decay / halfLife modes). */
  private readonly decay: number;
  /** Resumed from a saved state and no window fitted since. */
  private resumed = false;
  /** The thread pool of the window being fitted (null: the calling thread alone). */
  private pool: EStepPool | null = null;
  private readonly warm: WarmFitPolicy = warmFit;
  private readonly selection: SelectionPolicy = heldOutSelection(warmFit);
  private birthDeath: HeldOutBirthDeath | null;
  private kChange: BicKChange;

  constructor(options: StreamingOptions) {
    this.options = resolveStreamingOptions(options);
    const o = this.options;
    this.decay = o.halfLife !== undefined ? Math.exp(Math.log(0.5) / o.halfLife) : (o.decay ?? 1);
    this.birthDeath = this.newBirthDeath();
    this.kChange = new BicKChange(this.warm);
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
      // The detector keeps its running sums and drifting kinds; its thresholds are the ones asked for now. Before
      // version 4 its Page-Hinkley sums were in nats, not standard errors: it starts afresh.
      if (state.version >= 4) checkDriftJSON(state.drift);
      this.drift = state.version >= 4 ? new DriftDetector(o.drift, state.drift) : new DriftDetector(o.drift);
      this.rng = state.rng !== undefined ? Rng.fromState(state.rng) : new Rng(o.seed);
      this.modelVersion = state.modelVersion;
      this.windows = state.windows;
      this.resumed = true;
      if (state.components !== undefined && this.params !== null) this.restoreComponents(state.components);
      else this.resetComponents(this.params?.k ?? 0);
      if (state.birthDeath !== undefined) this.birthDeath = this.newBirthDeath(checkBirthDeathJSON(state.birthDeath, this.params?.k));
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

  /** The birth-and-death policy of the options (null: off), continuing a saved one. */
  private newBirthDeath(saved?: BirthDeathJSON): HeldOutBirthDeath | null {
    const bd = birthDeathSettings(this.options);
    return bd === null ? null : new HeldOutBirthDeath(this.warm, bd, saved);
  }

  private checkK(k: number, path: string): void {
    const o = this.options;
    const ok = typeof o.k === 'number' ? k === o.k : k >= o.k.min && k <= o.k.max;
    if (!ok) throw new ModelFormatError(`K = ${k} is outside the configured ${typeof o.k === 'number' ? o.k : `${o.k.min}..${o.k.max}`}`, path);
  }

  /** A fresh book of K rows; the evidence is what the statistics weigh. */
  private resetComponents(k: number): void {
    this.book = ComponentBook.identity(k);
    this.kChange.reset();
    const s0 = this.stats !== null && this.stats.k === k ? Float64Array.from(this.stats.s0) : new Float64Array(k);
    this.evidence = { shape: s0, mean: Float64Array.from(s0) };
  }

  /** The per-component bookkeeping (labels, back-offs, streaks, evidence), as saved. */
  private componentsJSON(): ComponentsStateJSON {
    return {
      ...this.book.toJSON(),
      ...this.kChange.toJSON(),
      evidence: Array.from(this.evidence.shape),
      meanEvidence: Array.from(this.evidence.mean),
    };
  }

  private restoreComponents(c: ComponentsStateJSON): void {
    this.book = ComponentBook.fromJSON(c);
    this.kChange = new BicKChange(this.warm, c);
    const shape = Float64Array.from(c.evidence ?? this.stats!.s0);
    this.evidence = { shape, mean: c.meanEvidence !== undefined ? Float64Array.from(c.meanEvidence) : Float64Array.from(shape) };
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
    return this.book.labels();
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
    countWindow();
    return inPhase('validation', () => this.guardedFit(data, windowIndex));
  }

  /** Checks the window, keeps what a failed window rolls back to, and fits it. */
  private guardedFit(data: Dataset, windowIndex: number): WindowFit {
    checkDataset(data);
    const previous = this.params;
    if (previous !== null && previous.d !== data.d) {
      throw new StateMismatchError(
        [{ setting: 'd', saved: String(previous.d), requested: String(data.d) }],
        this.resumed ? undefined : 'every window must have the dimension of the model (of the first window, or of initialModel)',
      );
    }
    // A window that cannot be fitted leaves the state as it was (the random stream, the drift detector and
    // the book advance while candidates run), so the stream can skip it and go on.
    const rng = this.rng.getState();
    const drift = this.drift.toJSON();
    const book = this.book.clone();
    const streaks = this.kChange.toJSON();
    const model = { params: this.params, stats: this.stats, evidence: this.evidence };
    const birthDeath = this.birthDeath?.snapshot();
    // Threads when the window is large enough to gain (its E-steps, see `windowThreads`); the window is put
    // into the pool's shared memory once, so that no EM run copies it again (nothing keeps it past this update).
    const k = previous?.k ?? (typeof this.options.k === 'number' ? this.options.k : this.options.k.max);
    this.pool = windowThreads(this.options.threads, data.n, k, data.d, this.options.covarianceType) > 1 ? sharedPool(this.options.threads ?? defaultThreads()) : null;
    const window = this.pool === null ? data : { n: data.n, d: data.d, data: this.pool.shareWindow(data.data, data.n, data.d).data };
    try {
      return this.fit(window, windowIndex);
    } catch (err) {
      this.rng = Rng.fromState(rng);
      this.drift = DriftDetector.fromJSON(drift);
      this.book = book;
      this.kChange = new BicKChange(this.warm, streaks);
      ({ params: this.params, stats: this.stats, evidence: this.evidence } = model);
      this.birthDeath = this.newBirthDeath(birthDeath?.());
      throw err;
    } finally {
      this.pool = null;
    }
  }

  /** The carried history as the window's candidates start from it: the statistics and evidence forgotten by the window's factor. */
  private carriedHistory(priorFactor: number): History | null {
    if (this.stats === null) return null;
    const prior = this.stats.clone().scale(priorFactor);
    return new History(prior, { shape: this.evidence.shape.map((e) => e * priorFactor), mean: this.evidence.mean.map((e) => e * priorFactor) });
  }

  /**
   * The window loop: predict and warm fit, select, birth and death, K, outputs, carry, drift.
   */
  private fit(data: Dataset, windowIndex: number): WindowFit {
    const o = this.options;
    const t = this.windows;
    const { n } = data;
    const { prior: priorFactor, batch: batchWeight } = this.factors(t);
    const w = new WindowContext(o, data, t, windowIndex, batchWeight, priorFactor, this.stats?.shift ?? dataMean(data), this.rng, this.pool);
    // 0. The re-seed of the last window, judged on this one: kept, or the model without it continues.
    let verdict: ReseedVerdict | null = null;
    if (this.params !== null && this.birthDeath !== null) {
      const bd = this.birthDeath;
      const judged = inPhase('birthDeath', () => bd.judge(w, { params: this.params!, stats: this.stats, evidence: this.evidence }, this.book));
      verdict = judged.verdict;
      ({ params: this.params, stats: this.stats, evidence: this.evidence } = judged.model);
    }
    const previous = this.params;
    const labels = new Int32Array(n);
    const probabilities = new Float64Array(n);
    const logDensities = new Float64Array(n);
    const outputs = { labels, maxProb: probabilities, logDensity: logDensities };
    // The warm candidate's responsibilities too (birth and death reads them when it is the winner).
    const resp = previous !== null ? new Float64Array(n * previous.k) : null;
    const warmOutputs = resp !== null ? { ...outputs, resp } : outputs;
    const history = inPhase('carry', () => this.carriedHistory(priorFactor));
    const reports: WindowCandidate[] = [];

    // 1–3. Predict, and the warm candidate: its first E-step scores the window under the previous model (the
    // spread of the points' log-densities, from its last E-step, gives the standard error of that mean).
    let predictive: number | null = null;
    let standardError: number | null = null;
    let likelihood: LikelihoodStep | null = null;
    let warm: Candidate | null = null;
    if (previous !== null) {
      const fitted = inPhase('em', () => w.attempt(() => this.warm.fit(w, data, previous, history, warmOutputs)));
      if (fitted !== null) {
        warm = fitted.candidate;
        predictive = fitted.first.history[0];
        standardError = inPhase('predict', () => standardErrorOf(logDensities));
      } else {
        const densities = inPhase('predict', () => pointLogDensities(previous, data));
        predictive = densities === null ? null : meanOf(densities);
        standardError = densities === null ? null : standardErrorOf(densities);
      }
      const step = { logLikelihood: predictive, standardError: standardError ?? 0 };
      if (step.logLikelihood !== null) likelihood = inPhase('predict', () => this.drift.likelihood({ logLikelihood: step.logLikelihood!, standardError: step.standardError }));
    }

    // 4. Selection.
    const restart = warm === null || this.selection.wantsRestart(w, likelihood?.alarm ?? false);
    let winner: Candidate;
    if (!restart) {
      winner = warm!;
      reports.push(reportOf(winner, null, true));
    } else if (warm !== null) {
      const warmCandidate = warm;
      winner = inPhase('selection', () => this.selection.heldOut(w, warmCandidate, previous!, history, reports));
    } else {
      winner = inPhase('selection', () => this.selection.cold(w, previous, reports));
      if (previous === null || winner.params.k !== previous.k) this.resetComponents(winner.params.k);
    }
    if (winner.kind === 'cold') this.birthDeath?.replaced(w);
    else if (likelihood?.alarm ?? false) this.birthDeath?.changed(w, this.book);

    // The labels of the components as the drift tests saw them (before re-seeding or a change of K).
    const testedLabels = this.book.labels();
    // 5. Birth and death.
    let reseeded: Reseeds = { labels: [], reasons: [], moved: [] };
    if (this.birthDeath !== null && winner.params.k > 1) {
      // (soft responsibilities only: hard EM's are 0 or 1)
      const winnerResp = resp !== null && o.mode === 'soft' && winner.outputsWritten && winner.params.k === previous!.k ? resp : null;
      const drifting = (likelihood?.alarm ?? false) || restart || (winner.drift?.drifted.length ?? 0) > 0 || (winner.weights?.factor ?? 1) < 1;
      const bd = this.birthDeath;
      const current = winner;
      const r = inPhase('birthDeath', () => bd.apply(w, current, this.book, drifting, winnerResp));
      winner = r.candidate;
      reseeded = r.reseeded;
    }
    // 6. K on the stream (not on a window that re-seeded: the re-seed waits for its verdict first).
    let kChange: KChange | null = null;
    let labelsBefore: number[] = [];
    if (typeof o.k !== 'number' && previous !== null && reseeded.labels.length === 0) {
      labelsBefore = this.book.labels();
      const current = winner;
      const range = o.k;
      const moved = inPhase('kChange', () => this.kChange.apply(w, current, this.book, range));
      if (moved !== null) {
        winner = moved.candidate;
        kChange = moved.change;
      }
    }

    // Per-point outputs under the final model.
    const final = winner;
    inPhase('labels', () => {
      if (!final.outputsWritten) {
        const pre = precompute(final.params);
        if (!pre.ok) throw new CovarianceError({ component: pre.component, covarianceType: o.covarianceType, regCovar: o.regCovar });
        pooledEStep(this.pool, pre.value, data, o.mode === 'hard', null, outputs);
      }
      if (!this.book.isIdentity()) {
        const ids = this.book.labels();
        for (let i = 0; i < n; i++) labels[i] = ids[labels[i]];
      }
    });

    // 7. The statistics carried forward.
    inPhase('carry', () => {
      this.stats = carriedStats(final, batchWeight);
      this.evidence = evidenceAfter(final, batchWeight);
    });

    // 8. Drift: every statistic against its threshold; an alarm at the onset of a change. A re-seed is reported as
    // such, never as drift: the model distance leaves out the components it refitted on this window or the last;
    // the component and weights tests (the warm candidate's, of the model before any re-seed of this window)
    // leave out those of a re-seed kept on this window, whose history is one window old.
    enterPhase('drift');
    const excluded = [...reseeded.moved, ...(verdict?.kept ? verdict.moved : [])];
    const untested = verdict?.kept ? verdict.moved : [];
    let modelDistance = 0;
    if (previous !== null) {
      const changed = kChange === null ? excluded : [...kChange.labels, ...excluded];
      modelDistance = this.modelDistanceOf(previous, winner.params, changed.length === 0 ? null : { labels: changed, before: kChange === null ? this.book.labels() : labelsBefore });
    }
    // The warm candidate's tests of the previous model against the window, whichever candidate won (a cold winner's
    // components are matched to the previous labels).
    const tested = winner.kind === 'warm' ? winner : warm;
    const scores = tested?.drift == null ? null : componentScores(tested.drift, testedLabels, untested, data.d, o.covarianceType);
    const wd = tested?.weights ?? null;
    // (what was kept: the winner's own forgetting, when it is the warm candidate)
    const cd = winner.kind === 'warm' ? winner.drift : null;
    const observation = this.drift.observe({
      windowIndex,
      likelihood,
      modelDistance: previous === null ? null : modelDistance,
      components: scores,
      weights: wd === null || winner.params.k < 2 || untested.length > 0 ? null : chiSquareLog10Survival(wd.statistic, winner.params.k - 1),
    });
    leavePhase();
    enterPhase('emission');
    this.params = winner.params;
    this.modelVersion++;
    this.windows++;
    this.resumed = false;
    const result: WindowFit = {
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
      drift: observation.alarms,
      modelDistance,
      pageHinkley: this.drift.pageHinkley,
      predictiveStandardError: standardError,
      driftStatistics: observation.statistics,
      drifting: observation.state,
      driftEnded: observation.ended,
      candidates: reports,
      k: winner.params.k,
      labelIds: this.book.labels(),
      reseeded: reseeded.labels,
      reseedReasons: reseeded.reasons,
      reverted: verdict !== null && !verdict.kept ? verdict.labels : [],
      componentDrift: cd === null ? null : componentDriftReport(cd, testedLabels, scores!, winner.weights?.factor ?? 1),
      kChange,
    };
    leavePhase();
    return result;
  }

  /** Distance between successive models; after a change of K or a re-seed, over the labels neither touched. */
  private modelDistanceOf(previous: GmmParams, next: GmmParams, change: { labels: readonly number[]; before: readonly number[] } | null): number {
    if (change === null) return this.drift.modelDistance(previous, next);
    const ids = this.book.labels();
    const common = ids.filter((l) => !change.labels.includes(l));
    if (common.length === 0) return 0;
    const prevSub = subMixture(previous, common.map((l) => change.before.indexOf(l)));
    const nextSub = subMixture(next, common.map((l) => ids.indexOf(l)));
    return this.drift.modelDistance(prevSub, nextSub);
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
    return this.snapshot()();
  }

  /**
   * The whole state as it is now, kept without serialising it: the returned function makes its JSON form
   * ({@link StreamingGmm.toJSON}) when called, however many windows later. Costs copies of the model and the
   * statistics (O(K·D²) memory copies), not their conversion to JSON numbers.
   *
   * ## Example
   * ```ts
   * import { StreamingGmm } from 'emstream';
   *
   * const window = { n: 4, d: 1, data: Float64Array.of(0, 0.1, 5, 5.1) };
   * const gmm = new StreamingGmm({ k: 2, halfLife: 5, seed: 1 });
   * gmm.update(window);
   * const first = gmm.snapshot();
   * gmm.update(window);
   * console.log(first().modelVersion, gmm.toJSON().modelVersion); // → 1 2
   * ```
   */
  snapshot(): () => StreamingStateJSON {
    const copy = this.copy();
    return () => stateToJSON(copy);
  }

  /**
   * The whole state as it is now in typed copies (structured-cloneable: a worker thread posts it with each window),
   * made into JSON by {@link stateToJSON}. Costs O(K·D²) memory copies.
   */
  copy(): StreamingStateCopy {
    return {
      modelVersion: this.modelVersion,
      windows: this.windows,
      params: this.params === null ? null : cloneParams(this.params),
      stats: this.stats === null ? null : this.stats.copy(),
      drift: this.drift.toJSON(),
      config: { k: kOf(this.options), covarianceType: this.options.covarianceType, d: this.params?.d ?? null, forgetting: forgettingOf(this.options) },
      rng: this.rng.getState(),
      components: this.componentsJSON(),
      birthDeath: this.birthDeath === null ? null : this.birthDeath.copy(),
    };
  }
}

/** The streaming state in typed copies ({@link StreamingGmm.copy}); {@link stateToJSON} makes its JSON form. */
export interface StreamingStateCopy {
  readonly modelVersion: number;
  readonly windows: number;
  readonly params: GmmParams | null;
  readonly stats: StatsCopy | null;
  readonly drift: DriftDetectorJSON;
  readonly config: StreamingConfigJSON;
  readonly rng: RngState;
  readonly components: ComponentsStateJSON;
  readonly birthDeath: BirthDeathCopy | null;
}

/** The JSON form ({@link StreamingStateJSON}, what `initialState` resumes from) of a {@link StreamingStateCopy}. */
export function stateToJSON(c: StreamingStateCopy): StreamingStateJSON {
  return {
    format: 'emstream.streaming-state',
    version: STREAMING_STATE_VERSION as 4,
    modelVersion: c.modelVersion,
    windows: c.windows,
    model: c.params === null ? null : paramsToJSON(c.params),
    stats: c.stats === null ? null : statsToJSON(c.stats),
    drift: c.drift,
    config: c.config,
    rng: c.rng,
    components: c.components,
    ...(c.birthDeath === null ? {} : { birthDeath: birthDeathToJSON(c.birthDeath) }),
  };
}

/**
 * The update's `componentDrift` report of a window's (or round's) component tests: the statistics and thresholds, per
 * tested label its score (0 for a label not scored), the labels whose mean moved, the forgetting factors.
 *
 * @param cd - the tests of the tested components (index k is `labels[k]`)
 * @param labels - the labels of the tested components
 * @param scores - the scores of {@link componentScores}
 * @param weightsFactor - the forgetting factor of the weights (1 when they were kept)
 */
export function componentDriftReport(cd: ComponentDrift, labels: number[], scores: { labels: number[]; scores: number[] }, weightsFactor: number): NonNullable<WindowFit['componentDrift']> {
  return {
    meanStatistics: Array.from(cd.meanStatistics),
    shapeStatistics: Array.from(cd.shapeStatistics),
    meanThreshold: cd.meanThreshold,
    shapeThreshold: cd.shapeThreshold,
    labels,
    scores: labels.map((l) => scores.scores[scores.labels.indexOf(l)] ?? 0),
    moved: cd.drifted.filter((k) => cd.meanStatistics[k] > cd.meanThreshold).map((k) => labels[k]),
    forgetting: Array.from(cd.factors),
    weights: weightsFactor,
  };
}

/**
 * The per-component drift scores of a window: for each tested component (not excluded), −log₁₀ of the
 * Bonferroni-adjusted p-value of its tests, max(−log₁₀ p_mean, −log₁₀ p_shape) − log₁₀(tests), the tests being
 * the mean (χ²_D) and shape (χ² with the covariance's degrees of freedom) tests of every tested component.
 */
export function componentScores(cd: ComponentDrift, labels: readonly number[], excluded: readonly number[], d: number, type: CovarianceType): { labels: number[]; scores: number[] } {
  const nuShape = cd.shapeThreshold > 0 ? shapeDegreesOfFreedom(type, d) : 0;
  const tested: number[] = [];
  for (let k = 0; k < labels.length; k++) if (cd.meanStatistics[k] > 0 && !excluded.includes(labels[k])) tested.push(k);
  const tests = tested.length * (nuShape > 0 ? 2 : 1);
  const correction = tests > 0 ? Math.log10(tests) : 0;
  return {
    labels: tested.map((k) => labels[k]),
    scores: tested.map((k) => Math.max(0, Math.max(chiSquareLog10Survival(cd.meanStatistics[k], d), nuShape > 0 ? chiSquareLog10Survival(cd.shapeStatistics[k], nuShape) : 0) - correction)),
  };
}

/** Mean of an array. */
function meanOf(a: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i];
  return s / a.length;
}

/** The standard error of the mean of the points' log-densities: their standard deviation / √n (0 with fewer than two). */
function standardErrorOf(a: Float64Array): number {
  const n = a.length;
  if (n < 2) return 0;
  const m = meanOf(a);
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (a[i] - m) * (a[i] - m);
  return Math.sqrt(ss / (n - 1) / n);
}

/** The mixture of the components `idx` of p, in that order, weights renormalised. */
export function subMixture(p: GmmParams, idx: readonly number[]): GmmParams {
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
