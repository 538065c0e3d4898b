import { z } from 'zod';
import { parseOptions } from '../options.js';
import { matchComponents, permuteComponents } from './align.js';
import { COMPONENT_METRICS, type ComponentMetric } from './distance.js';
import { DriftDetector, type DriftDetectorJSON, type DriftEvent } from './drift.js';
import { checkDataset, cloneParams, runEM, type RunResult } from './em.js';
import { CovarianceError, ModelFormatError, StateMismatchError, type StateDifference } from './errors.js';
import { EStepScratch, eStep, precompute } from './estep.js';
import { countDistinctRows, dataMean, initialise, INIT_METHODS, type InitMethod } from './init.js';
import { paramsFromJSON, paramsToJSON, type MixtureJSON } from './model.js';
import { Rng, type RngState } from './rng.js';
import { SufficientStats, type SufficientStatsJSON } from './stats.js';
import { COVARIANCE_TYPES, type CovarianceType, type Dataset, type GmmParams } from './types.js';

/** When cold candidates compete with the warm one (the first window always starts cold). */
export type RestartPolicy = 'never' | 'on-drift' | { readonly every: number };

/** Options of {@link StreamingGmm} (and of the `fitMixture` operator). */
export interface StreamingOptions {
  /** Number of components K. */
  readonly k: number;
  /** Default `'full'`. */
  readonly covarianceType?: CovarianceType;
  /** Initialisation of cold candidates. Default `'kmeans++'`. */
  readonly init?: InitMethod;
  /** Cold candidates per restart (and on the first window). Default 3. */
  readonly restarts?: number;
  /** Default `'on-drift'`. */
  readonly restart?: RestartPolicy;
  /** Half-life of past statistics, in windows: decay = 0.5^(1/halfLife). */
  readonly halfLife?: number;
  /** Forgetting factor in (0, 1] applied to past statistics per window; 1 = cumulative (default). */
  readonly decay?: number;
  /** Stepwise EM (Cappé & Moulines 2009; Liang & Klein 2009): s ← (1−γ)s + γ·S(window), γ_t = (t+2)^−α, α ∈ (0.5, 1]. */
  readonly stepwise?: { readonly alpha: number };
  /** EM iterations per window (default 100). */
  readonly maxIterations?: number;
  /** Convergence threshold on the window's mean log-likelihood (default 1e-3). */
  readonly tol?: number;
  /** Default 1e-6. */
  readonly regCovar?: number;
  /** Default 0. */
  readonly seed?: number;
  /** Default `'soft'`. */
  readonly mode?: 'soft' | 'hard';
  /** Objective that picks among candidates (default `'expected'`). */
  readonly select?: 'expected' | 'marginal';
  /** Drift detection (Page-Hinkley on the predictive log-likelihood, matched model distance). */
  readonly drift?: {
    readonly delta?: number;
    readonly lambda?: number;
    readonly minInstances?: number;
    readonly distanceThreshold?: number;
    readonly metric?: ComponentMetric;
  };
  /** Start warm from a saved model (and optionally its statistics), e.g. restored from the models topic. */
  readonly initialModel?: MixtureJSON;
  readonly initialStats?: SufficientStatsJSON;
  /**
   * Resume from a whole saved state ({@link StreamingGmm.toJSON}): model, statistics, drift detector, model
   * version, window count and random stream continue where they were. Refused with a
   * {@link StateMismatchError} when it was made with another K, covariance type or forgetting (and, at the
   * first window, another dimension). Exclusive with `initialModel` / `initialStats`.
   */
  readonly initialState?: StreamingStateJSON;
}

const restartSchema = z.union([
  z.literal('never'),
  z.literal('on-drift'),
  z.object({ every: z.number().int('must be an integer').min(1, 'must be at least 1') }).strict(),
]);

export const streamingOptionsSchema = z
  .object({
    k: z.number({ error: 'k (the number of components) is required' }).int('must be an integer').min(1, 'must be at least 1'),
    covarianceType: z.enum(COVARIANCE_TYPES as [CovarianceType, ...CovarianceType[]]).default('full'),
    init: z.enum(INIT_METHODS as [InitMethod, ...InitMethod[]]).default('kmeans++'),
    restarts: z.number().int('must be an integer').min(1, 'must be at least 1').default(3),
    restart: restartSchema.default('on-drift'),
    halfLife: z.number().positive('must be > 0 (windows)').optional(),
    decay: z.number().gt(0, 'must be in (0, 1]').max(1, 'must be in (0, 1]').optional(),
    stepwise: z.object({ alpha: z.number().gt(0.5, 'must be in (0.5, 1]').max(1, 'must be in (0.5, 1]') }).strict().optional(),
    maxIterations: z.number().int().min(1, 'must be at least 1').default(100),
    tol: z.number().min(0, 'must be ≥ 0').default(1e-3),
    regCovar: z.number().min(0, 'must be ≥ 0').default(1e-6),
    seed: z.number().int().default(0),
    mode: z.enum(['soft', 'hard']).default('soft'),
    select: z.enum(['expected', 'marginal']).default('expected'),
    drift: z
      .object({
        delta: z.number().min(0).optional(),
        lambda: z.number().positive().optional(),
        minInstances: z.number().int().min(1).optional(),
        distanceThreshold: z.number().positive().optional(),
        metric: z.enum(COMPONENT_METRICS as [ComponentMetric, ...ComponentMetric[]]).optional(),
      })
      .strict()
      .default({}),
    initialModel: z.unknown().optional(),
    initialStats: z.unknown().optional(),
    initialState: z.unknown().optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    const forgetting = [o.halfLife, o.decay, o.stepwise].filter((x) => x !== undefined).length;
    if (forgetting > 1) ctx.addIssue({ code: 'custom', path: ['halfLife'], message: 'give at most one of halfLife, decay and stepwise' });
    if (o.initialState !== undefined && (o.initialModel !== undefined || o.initialStats !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['initialState'], message: 'give either initialState or initialModel/initialStats, not both' });
    }
  });

export type ResolvedStreamingOptions = z.output<typeof streamingOptionsSchema>;

/** Validates streaming options; throws an EmstreamOptionsError listing every issue. */
export function resolveStreamingOptions(options: StreamingOptions, operator = 'fitMixture'): ResolvedStreamingOptions {
  return parseOptions(streamingOptionsSchema, options, operator);
}

/** Outcome of one window. Per-point arrays are in window order. */
export interface WindowFit {
  /** Monotone model version, +1 per update. */
  readonly version: number;
  readonly params: GmmParams;
  /** One label per point. */
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
  /** EM iterations of the selected candidate. */
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
  /** Every candidate of this window (warm first when there is one). */
  readonly candidates: { readonly kind: 'warm' | 'cold'; readonly logLikelihood: number; readonly expectedLogLikelihood: number; readonly iterations: number; readonly selected: boolean }[];
}

/** How past statistics are forgotten: a constant factor per window, or stepwise EM's γ_t = (t+2)^−α. */
export type Forgetting = { readonly kind: 'decay'; readonly decay: number } | { readonly kind: 'stepwise'; readonly alpha: number };

/** What a saved state's statistics depend on: resuming it under another configuration is refused. */
export interface StreamingConfigJSON {
  readonly k: number;
  readonly covarianceType: CovarianceType;
  /** Dimension of the model (null before the first window). */
  readonly d: number | null;
  readonly forgetting: Forgetting;
}

/** Current version of {@link StreamingStateJSON}. Version 1 (no `config`, no `rng`) is still read. */
export const STREAMING_STATE_VERSION = 2;

/**
 * Serialised state of a {@link StreamingGmm}: enough to resume after a restart of the process exactly
 * where it was (same statistics, versions continue, drift detector and random stream continue).
 */
export interface StreamingStateJSON {
  readonly format: 'emstream.streaming-state';
  readonly version: 1 | 2;
  /** Model updates so far (the next window's update has version `modelVersion + 1`). */
  readonly modelVersion: number;
  /** Windows fitted so far. */
  readonly windows: number;
  readonly model: MixtureJSON | null;
  readonly stats: SufficientStatsJSON | null;
  readonly drift: DriftDetectorJSON;
  /** The configuration fingerprint (version 2). */
  readonly config?: StreamingConfigJSON;
  /** The random stream's position (version 2). */
  readonly rng?: RngState;
}

/** The forgetting rule of resolved options. */
function forgettingOf(o: ResolvedStreamingOptions): Forgetting {
  if (o.stepwise !== undefined) return { kind: 'stepwise', alpha: o.stepwise.alpha };
  return { kind: 'decay', decay: o.halfLife !== undefined ? Math.exp(Math.log(0.5) / o.halfLife) : (o.decay ?? 1) };
}

function describeForgetting(f: Forgetting): string {
  return f.kind === 'stepwise' ? `stepwise α = ${f.alpha}` : f.decay === 1 ? 'none (cumulative)' : `decay ${f.decay.toPrecision(6)} per window`;
}

function sameForgetting(a: Forgetting, b: Forgetting): boolean {
  if (a.kind === 'stepwise' || b.kind === 'stepwise') return a.kind === b.kind && (a as { alpha: number }).alpha === (b as { alpha: number }).alpha;
  return Math.abs(a.decay - b.decay) <= 1e-12 * Math.max(1, a.decay);
}

/**
 * The settings in which a saved state and the options (and optionally the data's dimension) differ;
 * empty when the state can be resumed.
 *
 * @param state - a saved state ({@link StreamingGmm.toJSON})
 * @param options - the options that would resume it
 * @param d - the dimension of the data, when known
 */
export function stateDifferences(state: StreamingStateJSON, options: StreamingOptions, d?: number): StateDifference[] {
  const o = resolveStreamingOptions({ ...options, initialState: undefined, initialModel: undefined, initialStats: undefined });
  const saved: StreamingConfigJSON = state.config ?? {
    k: state.model?.k ?? o.k,
    covarianceType: state.model?.covarianceType ?? o.covarianceType,
    d: state.model?.d ?? null,
    forgetting: forgettingOf(o), // version 1 did not record it
  };
  const out: StateDifference[] = [];
  if (saved.k !== o.k) out.push({ setting: 'k', saved: String(saved.k), requested: String(o.k) });
  if (saved.covarianceType !== o.covarianceType) out.push({ setting: 'covarianceType', saved: saved.covarianceType, requested: o.covarianceType });
  const f = forgettingOf(o);
  if (!sameForgetting(saved.forgetting, f)) out.push({ setting: 'forgetting', saved: describeForgetting(saved.forgetting), requested: describeForgetting(f) });
  if (d !== undefined && saved.d !== null && saved.d !== d) out.push({ setting: 'd', saved: String(saved.d), requested: String(d) });
  return out;
}

function checkStateShape(json: unknown): StreamingStateJSON {
  const s = json as StreamingStateJSON;
  if (typeof json !== 'object' || json === null || s.format !== 'emstream.streaming-state') throw new ModelFormatError('expected format "emstream.streaming-state"', 'format');
  if (s.version !== 1 && s.version !== 2) throw new ModelFormatError(`unsupported version ${JSON.stringify(s.version)} (this emstream reads 1 and 2)`, 'version');
  if (!Number.isInteger(s.modelVersion) || s.modelVersion < 0) throw new ModelFormatError('must be an integer ≥ 0', 'modelVersion');
  if (!Number.isInteger(s.windows) || s.windows < 0) throw new ModelFormatError('must be an integer ≥ 0', 'windows');
  if ((s.model === null) !== (s.stats === null)) throw new ModelFormatError('model and stats must both be present or both null', s.model === null ? 'model' : 'stats');
  if (typeof s.drift !== 'object' || s.drift === null || typeof s.drift.pageHinkley !== 'object' || s.drift.pageHinkley === null) throw new ModelFormatError('expected the drift detector state { options, pageHinkley }', 'drift');
  return s;
}

/**
 * Streaming EM for a Gaussian mixture, one window at a time. Pure: no RxJS, no I/O.
 *
 * For window t with points X_t (n×d) and the carried statistics S (K×… accumulators):
 * 1. score X_t under the previous model: the predictive log-likelihood; feed it to the drift detector;
 * 2. the warm candidate runs EM from the previous model, with the past statistics scaled by the
 *    forgetting factor a added to every M-step: θ = M(a·S + b·S(X_t; θ)) (decay: b = 1; stepwise:
 *    a = 1 − γ_t, b = γ_t);
 * 3. on the first window, and when the restart policy says so, `restarts` cold candidates are fitted
 *    on X_t alone; the candidate with the best expected complete-data log-likelihood on X_t wins;
 * 4. a cold winner's components are matched to the previous model's (Hungarian assignment on the
 *    Bhattacharyya distance), so label k keeps meaning the same cluster, and the past statistics
 *    are dropped; a warm winner keeps them;
 * 5. S ← a·S + b·S(X_t; θ), the model version increases, the distance between successive models is measured.
 *
 * State between windows is O(K·D²): the model, the statistics and the detector.
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
        if (this.stats.k !== o.k || this.stats.d !== this.params.d || this.stats.covarianceType !== o.covarianceType) {
          throw new ModelFormatError(`the statistics (K=${this.stats.k}, D=${this.stats.d}, ${this.stats.covarianceType}) do not belong to the model (K=${this.params.k}, D=${this.params.d}, ${this.params.covarianceType})`, 'stats');
        }
      }
      // The detector keeps its running sums; its thresholds are the ones asked for now.
      const fresh = new DriftDetector(o.drift);
      this.drift = new DriftDetector(o.drift, { ...state.drift.pageHinkley, delta: fresh.options.delta, lambda: fresh.options.lambda, minInstances: fresh.options.minInstances });
      this.rng = state.rng !== undefined ? Rng.fromState(state.rng) : new Rng(o.seed);
      this.modelVersion = state.modelVersion;
      this.windows = state.windows;
      this.resumed = true;
      return;
    }
    this.drift = new DriftDetector(o.drift);
    this.rng = new Rng(o.seed);
    if (o.initialModel !== undefined) {
      const p = paramsFromJSON(o.initialModel);
      if (p.k !== o.k || p.covarianceType !== o.covarianceType) {
        throw new StateMismatchError(
          [
            ...(p.k !== o.k ? [{ setting: 'k', saved: String(p.k), requested: String(o.k) }] : []),
            ...(p.covarianceType !== o.covarianceType ? [{ setting: 'covarianceType', saved: p.covarianceType, requested: o.covarianceType }] : []),
          ],
          'give an initialModel made with the same K and covariance type, or none',
        );
      }
      this.params = p;
      if (o.initialStats !== undefined) this.stats = SufficientStats.fromJSON(o.initialStats as SufficientStatsJSON);
    }
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

  /** Whether a window of this data can be fitted (a first window needs K distinct points). */
  canFit(data: Dataset): boolean {
    if (data.n === 0) return false;
    if (this.params !== null) return true;
    return countDistinctRows(data, this.options.k) >= this.options.k;
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
    try {
      return this.fit(data, windowIndex);
    } catch (err) {
      this.rng = Rng.fromState(rng);
      this.drift = DriftDetector.fromJSON(drift);
      throw err;
    }
  }

  private fit(data: Dataset, windowIndex: number): WindowFit {
    const o = this.options;
    const t = this.windows;
    const { n } = data;
    const previous = this.params;
    const events: DriftEvent[] = [];
    const { prior: priorFactor, batch: batchWeight } = this.factors(t);
    const shift = this.stats?.shift ?? dataMean(data);
    const runOpts = { maxIterations: o.maxIterations, tol: o.tol, regCovar: o.regCovar, mode: o.mode, shift } as const;
    const score = (r: RunResult): number => (o.select === 'expected' ? r.expectedLogLikelihood : r.logLikelihood);
    const labels = new Int32Array(n);
    const probabilities = new Float64Array(n);
    const logDensities = new Float64Array(n);
    const outputs = { labels, maxProb: probabilities, logDensity: logDensities };

    type Candidate = { kind: 'warm' | 'cold'; run: RunResult };
    const candidates: Candidate[] = [];
    let predictive: number | null = null;
    // A candidate whose covariance cannot be factored even after re-seeding drops out; the window
    // fails only when every candidate does.
    let failure: CovarianceError | null = null;
    const attempt = (kind: 'warm' | 'cold', run: () => RunResult): void => {
      try {
        candidates.push({ kind, run: run() });
      } catch (err) {
        if (!(err instanceof CovarianceError)) throw err;
        failure = err;
      }
    };
    if (previous !== null) {
      // The warm run starts from the previous model, so its first E-step scores the window under
      // that model: history[0] is the predictive log-likelihood, at no extra cost.
      const prior = this.stats ? this.stats.clone().scale(priorFactor) : null;
      attempt('warm', () => runEM(data, previous, { ...runOpts, prior, batchWeight, rng: this.rng }, outputs));
      if (candidates.length > 0) predictive = candidates[0].run.history[0];
      else {
        const pre = precompute(previous);
        if (pre.ok) predictive = eStep(pre.value, data.data, n, false, null).logLikelihood / n;
      }
      if (predictive !== null) {
        const e = this.drift.observeLikelihood(windowIndex, predictive);
        if (e) events.push(e);
      }
    }
    const restart = candidates.length === 0 || this.wantsRestart(t, events.some((e) => e.kind === 'likelihood'));
    if (restart) {
      for (let c = 0; c < o.restarts; c++) {
        const crng = this.rng.fork();
        attempt('cold', () => runEM(data, initialise(data, o.init, { k: o.k, covarianceType: o.covarianceType, regCovar: o.regCovar, rng: crng, shift }), { ...runOpts, rng: crng }));
      }
    }
    if (candidates.length === 0) throw failure ?? new Error('internal: no candidate ran');
    let best = 0;
    for (let c = 1; c < candidates.length; c++) if (score(candidates[c].run) > score(candidates[best].run)) best = c;
    const winner = candidates[best];
    let params = winner.run.params;
    let batch = winner.run.batchStats;
    let sums = { logLikelihood: winner.run.logLikelihood * n, expected: winner.run.expectedLogLikelihood * n };
    if (winner.kind === 'cold') {
      // Match a cold winner's components to the previous model's, then label the window under it
      // (the warm run's outputs, if any, are overwritten).
      if (previous !== null) params = permuteComponents(params, matchComponents(previous, params, o.drift.metric ?? 'bhattacharyya'));
      const pre = precompute(params);
      if (!pre.ok) throw new Error('internal: the selected parameters are not factorable');
      batch = new SufficientStats(o.k, data.d, o.covarianceType, shift);
      sums = eStep(pre.value, data.data, n, o.mode === 'hard', batch, outputs, new EStepScratch(o.k, data.d));
    }

    if (winner.kind === 'warm' && this.stats !== null) this.stats.scale(priorFactor).merge(batch, batchWeight);
    else this.stats = batchWeight === 1 ? batch : batch.clone().scale(batchWeight);

    let modelDistance = 0;
    if (previous !== null) {
      const m = this.drift.observeModels(windowIndex, previous, params);
      modelDistance = m.distance;
      if (m.event) events.push(m.event);
    }
    this.params = params;
    this.modelVersion++;
    this.windows++;
    this.resumed = false;
    return {
      version: this.modelVersion,
      params: cloneParams(params),
      labels,
      probabilities,
      logDensities,
      logLikelihood: sums.logLikelihood / n,
      expectedLogLikelihood: sums.expected / n,
      predictiveLogLikelihood: predictive,
      iterations: winner.run.iterations,
      converged: winner.run.converged,
      warmStarted: winner.kind === 'warm',
      restarted: restart,
      drift: events,
      modelDistance,
      candidates: candidates.map((c, i) => ({
        kind: c.kind,
        logLikelihood: c.run.logLikelihood,
        expectedLogLikelihood: c.run.expectedLogLikelihood,
        iterations: c.run.iterations,
        selected: i === best,
      })),
    };
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
   * console.log(a.update(window).version, b.update(window).version); // 2 2
   * ```
   */
  toJSON(): StreamingStateJSON {
    return {
      format: 'emstream.streaming-state',
      version: STREAMING_STATE_VERSION as 2,
      modelVersion: this.modelVersion,
      windows: this.windows,
      model: this.params ? paramsToJSON(this.params) : null,
      stats: this.stats ? this.stats.toJSON() : null,
      drift: this.drift.toJSON(),
      config: { k: this.options.k, covarianceType: this.options.covarianceType, d: this.params?.d ?? null, forgetting: forgettingOf(this.options) },
      rng: this.rng.getState(),
    };
  }
}
