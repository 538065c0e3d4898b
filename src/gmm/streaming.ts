import { z } from 'zod';
import { parseOptions } from '../options.js';
import { matchComponents, permuteComponents } from './align.js';
import { COMPONENT_METRICS, type ComponentMetric } from './distance.js';
import { DriftDetector, type DriftDetectorJSON, type DriftEvent } from './drift.js';
import { checkDataset, cloneParams, runEM, type RunResult } from './em.js';
import { CovarianceError } from './errors.js';
import { EStepScratch, eStep, precompute } from './estep.js';
import { countDistinctRows, dataMean, initialise, INIT_METHODS, type InitMethod } from './init.js';
import { paramsFromJSON, paramsToJSON, type MixtureJSON } from './model.js';
import { Rng } from './rng.js';
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
  })
  .strict()
  .superRefine((o, ctx) => {
    const forgetting = [o.halfLife, o.decay, o.stepwise].filter((x) => x !== undefined).length;
    if (forgetting > 1) ctx.addIssue({ code: 'custom', path: ['halfLife'], message: 'give at most one of halfLife, decay and stepwise' });
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

/** Serialised state of a {@link StreamingGmm}: enough to resume after a restart of the process. */
export interface StreamingStateJSON {
  readonly format: 'emstream.streaming-state';
  readonly version: 1;
  readonly modelVersion: number;
  readonly windows: number;
  readonly model: MixtureJSON | null;
  readonly stats: SufficientStatsJSON | null;
  readonly drift: DriftDetectorJSON;
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
  private readonly drift: DriftDetector;
  private readonly rng: Rng;
  private modelVersion = 0;
  private windows = 0;
  /** Decay per window (decay / halfLife modes). */
  private readonly decay: number;

  constructor(options: StreamingOptions) {
    this.options = resolveStreamingOptions(options);
    const o = this.options;
    this.decay = o.halfLife !== undefined ? Math.exp(Math.log(0.5) / o.halfLife) : (o.decay ?? 1);
    this.drift = new DriftDetector(o.drift);
    this.rng = new Rng(o.seed);
    if (o.initialModel !== undefined) {
      const p = paramsFromJSON(o.initialModel);
      if (p.k !== o.k || p.covarianceType !== o.covarianceType) {
        throw new RangeError(`initialModel has K=${p.k} ${p.covarianceType}, but the options ask for K=${o.k} ${o.covarianceType}`);
      }
      this.params = p;
      if (o.initialStats !== undefined) this.stats = SufficientStats.fromJSON(o.initialStats as SufficientStatsJSON);
    }
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
   */
  update(data: Dataset, windowIndex = this.windows): WindowFit {
    checkDataset(data);
    const o = this.options;
    const t = this.windows;
    const { n } = data;
    const previous = this.params;
    if (previous !== null && previous.d !== data.d) throw new RangeError(`window has dimension ${data.d} but the model has ${previous.d}`);
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

  toJSON(): StreamingStateJSON {
    return {
      format: 'emstream.streaming-state',
      version: 1,
      modelVersion: this.modelVersion,
      windows: this.windows,
      model: this.params ? paramsToJSON(this.params) : null,
      stats: this.stats ? this.stats.toJSON() : null,
      drift: this.drift.toJSON(),
    };
  }
}
