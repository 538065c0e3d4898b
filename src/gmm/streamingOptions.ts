/**
 * Options of streaming EM ({@link StreamingGmm}, `fitMixture`) and the JSON form of its state.
 *
 * @module
 */
import { z } from 'zod';
import { parseOptions } from '../options.js';
import { driftOptionsSchema, type DriftDetectorJSON, type DriftOptions } from './drift.js';
import { ModelFormatError, type StateDifference } from './errors.js';
import { INIT_METHODS, type InitMethod } from './init.js';
import type { MixtureJSON } from './model.js';
import type { RngState } from './rng.js';
import type { SufficientStatsJSON } from './stats.js';
import type { BirthDeathJSON } from './stream/reseed.js';
import { COVARIANCE_TYPES, type CovarianceType } from './types.js';

/** When cold candidates compete with the warm one (the first window always starts cold). */
export type RestartPolicy = 'never' | 'on-drift' | { readonly every: number };

/** A range for the number of components, chosen on the stream by BIC (opt-in). */
export interface KRange {
  readonly min: number;
  readonly max: number;
  /** Consecutive windows on which a split (or merge) must win by BIC before it is made. Default 2. */
  readonly patience?: number;
}

/** Options of {@link StreamingGmm} (and of the `fitMixture` operator). */
export interface StreamingOptions {
  /**
   * Number of components K, or a range `{ min, max }`: the first window picks K by BIC among cold fits, later
   * windows split a component or merge two when BIC on the window says so on `patience` windows in a row.
   */
  readonly k: number | KRange;
  /** Default `'full'`. */
  readonly covarianceType?: CovarianceType;
  /**
   * Initialisation of cold candidates: a method, or several, each starting `restarts` candidates (the best of all
   * by `select` wins). Default `['kmeans++', 'kmeans']`: on the tuning streams of the quality suite, the first
   * window's best of 10 k-means++ and 10 Lloyd's k-means starts moved the 10th percentile of the ARI gap to the
   * true mixture from −0.068 to −0.062 (−0.067 to −0.058 with another seed) and the stationary re-seeds from 1.05
   * to 0.69 per 100 windows, where 30 k-means++ starts alone did not move it (−0.069). The c-th k-means++ and
   * k-means starts share one k-means++ seeding, and a k-means start whose Lloyd's iterations leave that seeding's
   * assignment as it was (separated clusters) is the k-means++ start and is not fitted twice.
   */
  readonly init?: InitMethod | readonly InitMethod[];
  /**
   * Cold candidates per restart (and on the first window). Default 10: on the tuning streams of the quality suite,
   * 3 left the first window's fit in a worse local optimum more often (median ARI gap to the true mixture −0.018
   * against −0.009); a restart window costs about this many EM runs on 80 % of the window.
   */
  readonly restarts?: number;
  /** Default `'on-drift'`. */
  readonly restart?: RestartPolicy;
  /**
   * Share of a restart window held out to compare the warm candidate with the cold ones on points none of
   * them was fitted to (default 0.2).
   */
  readonly holdOut?: number;
  /** Half-life of past statistics, in windows: decay = 0.5^(1/halfLife). */
  readonly halfLife?: number;
  /** Forgetting factor in (0, 1] applied to past statistics per window; 1 = cumulative (default). */
  readonly decay?: number;
  /** Stepwise EM (Cappé & Moulines 2009; Liang & Klein 2009): s ← (1−γ)s + γ·S(window), γ_t = (t+2)^−α, α ∈ (0.5, 1]. */
  readonly stepwise?: { readonly alpha: number };
  /**
   * Adaptive per-component forgetting (default on): a component whose window no longer agrees with its
   * carried history (likelihood-ratio test at false-alarm probability `alpha`, default 1e-3 per component and
   * window; components with fewer than `minPoints` points, default 10, are not tested) keeps only as much
   * history as the window cannot tell apart. `false` turns it off.
   */
  readonly adaptive?: boolean | { readonly alpha?: number; readonly minPoints?: number };
  /**
   * Birth and death of components (default on): a component whose weight falls below `minWeight`/K (default
   * 0.25/K) is re-seeded where the model is worst when that improves BIC on the window; a proposal that does
   * not is retried after a back-off that doubles up to `maxBackoff` windows (default 64). `false` turns it off.
   */
  readonly birthDeath?: boolean | { readonly minWeight?: number; readonly maxBackoff?: number; readonly redundancy?: number };
  /** EM iterations per window (default 100). */
  readonly maxIterations?: number;
  /** Convergence threshold on the window's mean log-likelihood (default 1e-3). */
  readonly tol?: number;
  /** Default 1e-6. */
  readonly regCovar?: number;
  /** Default 0. */
  readonly seed?: number;
  /**
   * Threads for the E-steps of a window's EM runs (worker threads on shared memory, `sharedPool`). Default:
   * the number of cores for windows large enough to gain (an E-step of at least `MIN_WINDOW_PARALLEL_WORK`
   * multiply-adds, the measured crossover), else the calling thread alone; given, as in a batch fit (from
   * 10⁶ multiply-adds per E-step on); 1 keeps every window on the calling thread. Results equal the
   * one-thread results to rounding, and are bit-identical run after run for the same thread count.
   */
  readonly threads?: number;
  /** Default `'soft'`. */
  readonly mode?: 'soft' | 'hard';
  /** Objective that picks among cold candidates fitted to the same data (the first window; default `'expected'`). */
  readonly select?: 'expected' | 'marginal';
  /** Drift detection (Page-Hinkley on the predictive log-likelihood, matched model distance). */
  readonly drift?: DriftOptions;
  /** Start warm from a saved model (and optionally its statistics), e.g. restored from the models topic. */
  readonly initialModel?: MixtureJSON;
  readonly initialStats?: SufficientStatsJSON;
  /**
   * Resume from a whole saved state ({@link StreamingGmm.toJSON}): model, statistics, drift detector, model
   * version, window count, component labels and counters, and random stream continue where they were.
   * Refused with a {@link StateMismatchError} when it was made with another K, covariance type or forgetting
   * (and, at the first window, another dimension). Exclusive with `initialModel` / `initialStats`.
   */
  readonly initialState?: StreamingStateJSON;
}

const restartSchema = z.union([
  z.literal('never'),
  z.literal('on-drift'),
  z.object({ every: z.number().int('must be an integer').min(1, 'must be at least 1') }).strict(),
]);

const kSchema = z.union(
  [
    z.number().int('must be an integer').min(1, 'must be at least 1'),
    z
      .object({
        min: z.number().int('must be an integer').min(1, 'must be at least 1'),
        max: z.number().int('must be an integer').min(1, 'must be at least 1'),
        patience: z.number().int('must be an integer').min(1, 'must be at least 1').default(2),
      })
      .strict()
      .refine((r) => r.min <= r.max, 'min must not exceed max'),
  ],
  { error: 'k (the number of components) is required: a positive integer, or a range { min, max }' },
);

const initMethod = z.enum(INIT_METHODS as [InitMethod, ...InitMethod[]]);

export const streamingOptionsSchema = z
  .object({
    k: kSchema,
    covarianceType: z.enum(COVARIANCE_TYPES as [CovarianceType, ...CovarianceType[]]).default('full'),
    init: z
      .union([initMethod, z.array(initMethod).min(1, 'must name at least one method')])
      .default(['kmeans++', 'kmeans'])
      .transform((m): readonly InitMethod[] => (typeof m === 'string' ? [m] : [...new Set(m)])),
    restarts: z.number().int('must be an integer').min(1, 'must be at least 1').default(10),
    restart: restartSchema.default('on-drift'),
    holdOut: z.number().gt(0, 'must be in (0, 0.5]').max(0.5, 'must be in (0, 0.5]').default(0.2),
    halfLife: z.number().positive('must be > 0 (windows)').optional(),
    decay: z.number().gt(0, 'must be in (0, 1]').max(1, 'must be in (0, 1]').optional(),
    stepwise: z.object({ alpha: z.number().gt(0.5, 'must be in (0.5, 1]').max(1, 'must be in (0.5, 1]') }).strict().optional(),
    adaptive: z
      .union([
        z.boolean(),
        z
          .object({
            alpha: z.number().gt(0, 'must be in (0, 0.5)').lt(0.5, 'must be in (0, 0.5)').optional(),
            minPoints: z.number().min(1, 'must be at least 1').optional(),
          })
          .strict(),
      ])
      .default(true),
    birthDeath: z
      .union([
        z.boolean(),
        z
          .object({
            minWeight: z.number().gt(0, 'must be in (0, 1)').lt(1, 'must be in (0, 1)').optional(),
            maxBackoff: z.number().int('must be an integer').min(1, 'must be at least 1').optional(),
            redundancy: z.number().gt(0, 'must be in (0, 1]').max(1, 'must be in (0, 1]').optional(),
          })
          .strict(),
      ])
      .default(true),
    maxIterations: z.number().int().min(1, 'must be at least 1').default(100),
    tol: z.number().min(0, 'must be ≥ 0').default(1e-3),
    regCovar: z.number().min(0, 'must be ≥ 0').default(1e-6),
    seed: z.number().int().default(0),
    threads: z.number().int('must be an integer').min(1, 'must be at least 1').optional(),
    mode: z.enum(['soft', 'hard']).default('soft'),
    select: z.enum(['expected', 'marginal']).default('expected'),
    drift: driftOptionsSchema.default({}),
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
export function resolveStreamingOptions(options: StreamingOptions, operator = 'StreamingGmm'): ResolvedStreamingOptions {
  return parseOptions(streamingOptionsSchema, options, operator);
}

/** Adaptive forgetting settings of resolved options (null: off). */
export function adaptiveSettings(o: ResolvedStreamingOptions): { alpha: number; minPoints: number } | null {
  if (o.adaptive === false) return null;
  const a = o.adaptive === true ? {} : o.adaptive;
  return { alpha: a.alpha ?? 1e-3, minPoints: a.minPoints ?? 10 };
}

/** Birth/death settings of resolved options (null: off). */
export function birthDeathSettings(o: ResolvedStreamingOptions): { minWeight: number; maxBackoff: number; redundancy: number } | null {
  if (o.birthDeath === false) return null;
  const b = o.birthDeath === true ? {} : o.birthDeath;
  return { minWeight: b.minWeight ?? 0.25, maxBackoff: b.maxBackoff ?? 64, redundancy: b.redundancy ?? 0.3 };
}

/** How past statistics are forgotten: a constant factor per window, or stepwise EM's γ_t = (t+2)^−α. */
export type Forgetting = { readonly kind: 'decay'; readonly decay: number } | { readonly kind: 'stepwise'; readonly alpha: number };

/** What a saved state's statistics depend on: resuming it under another configuration is refused. */
export interface StreamingConfigJSON {
  /** K, or the range it is chosen in. */
  readonly k: number | { readonly min: number; readonly max: number };
  readonly covarianceType: CovarianceType;
  /** Dimension of the model (null before the first window). */
  readonly d: number | null;
  readonly forgetting: Forgetting;
}

/**
 * Current version of {@link StreamingStateJSON}. Versions 1 (no `config`, no `rng`), 2 (no `components`) and 3 (no
 * `birthDeath`, no `alarms`) are still read.
 */
export const STREAMING_STATE_VERSION = 4;

/** Per-component bookkeeping carried between windows (version 3). */
export interface ComponentsStateJSON {
  /** The label of each component (component index → label emitted for its points). */
  readonly labels: number[];
  /** The label the next new component (a split with `k: { min, max }`) gets. */
  readonly nextLabel: number;
  /** Per component: the first window at which it may be re-seeded again. */
  readonly cooldown: number[];
  /** Per component: the current back-off (windows) after a rejected re-seed. */
  readonly backoff: number[];
  /** Consecutive windows on which a split / a merge won by BIC (`k: { min, max }`). */
  readonly splitStreak: number;
  readonly mergeStreak: number;
  /** Per component, the weight of data behind its carried covariance (adaptive forgetting tests against it). */
  readonly evidence?: number[];
  /** Per component, the weight of data behind its carried mean. */
  readonly meanEvidence?: number[];
}

/**
 * Serialised state of a {@link StreamingGmm}: enough to resume after a restart of the process exactly
 * where it was (same statistics, versions continue, drift detector, component labels and counters, and
 * random stream continue).
 */
export interface StreamingStateJSON {
  readonly format: 'emstream.streaming-state';
  readonly version: 1 | 2 | 3 | 4;
  /** Model updates so far (the next window's update has version `modelVersion + 1`). */
  readonly modelVersion: number;
  /** Windows fitted so far. */
  readonly windows: number;
  readonly model: MixtureJSON | null;
  readonly stats: SufficientStatsJSON | null;
  readonly drift: DriftDetectorJSON;
  /** The configuration fingerprint (version ≥ 2). */
  readonly config?: StreamingConfigJSON;
  /** The random stream's position (version ≥ 2). */
  readonly rng?: RngState;
  /** Labels, re-seed back-offs and K-move streaks (version 3; absent: identity labels, no back-off). */
  readonly components?: ComponentsStateJSON;
  /** Birth and death: the probe schedule and a re-seed waiting for its verdict (version 4; absent: nothing pending, first probe due). */
  readonly birthDeath?: BirthDeathJSON;
}

/** The forgetting rule of resolved options. */
export function forgettingOf(o: ResolvedStreamingOptions): Forgetting {
  if (o.stepwise !== undefined) return { kind: 'stepwise', alpha: o.stepwise.alpha };
  return { kind: 'decay', decay: o.halfLife !== undefined ? Math.exp(Math.log(0.5) / o.halfLife) : (o.decay ?? 1) };
}

/** The `k` of resolved options as saved in the fingerprint. */
export function kOf(o: ResolvedStreamingOptions): StreamingConfigJSON['k'] {
  return typeof o.k === 'number' ? o.k : { min: o.k.min, max: o.k.max };
}

function describeK(k: StreamingConfigJSON['k']): string {
  return typeof k === 'number' ? String(k) : `${k.min}..${k.max}`;
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
  const o = resolveStreamingOptions({ ...options, initialState: undefined, initialModel: undefined, initialStats: undefined }, 'stateDifferences');
  const saved: StreamingConfigJSON = state.config ?? {
    k: state.model?.k ?? kOf(o),
    covarianceType: state.model?.covarianceType ?? o.covarianceType,
    d: state.model?.d ?? null,
    forgetting: forgettingOf(o), // version 1 did not record it
  };
  const out: StateDifference[] = [];
  const k = kOf(o);
  if (describeK(saved.k) !== describeK(k)) out.push({ setting: 'k', saved: describeK(saved.k), requested: describeK(k) });
  if (saved.covarianceType !== o.covarianceType) out.push({ setting: 'covarianceType', saved: saved.covarianceType, requested: o.covarianceType });
  const f = forgettingOf(o);
  if (!sameForgetting(saved.forgetting, f)) out.push({ setting: 'forgetting', saved: describeForgetting(saved.forgetting), requested: describeForgetting(f) });
  if (d !== undefined && saved.d !== null && saved.d !== d) out.push({ setting: 'd', saved: String(saved.d), requested: String(d) });
  return out;
}

/** Checks the envelope of a saved state (the model and statistics are checked when they are read). */
export function checkStateShape(json: unknown): StreamingStateJSON {
  const s = json as StreamingStateJSON;
  if (typeof json !== 'object' || json === null || s.format !== 'emstream.streaming-state') throw new ModelFormatError('expected format "emstream.streaming-state"', 'format');
  if (s.version !== 1 && s.version !== 2 && s.version !== 3 && s.version !== 4) throw new ModelFormatError(`unsupported version ${JSON.stringify(s.version)} (this emstream reads 1 to 4)`, 'version');
  if (!Number.isInteger(s.modelVersion) || s.modelVersion < 0) throw new ModelFormatError('must be an integer ≥ 0', 'modelVersion');
  if (!Number.isInteger(s.windows) || s.windows < 0) throw new ModelFormatError('must be an integer ≥ 0', 'windows');
  if ((s.model === null) !== (s.stats === null)) throw new ModelFormatError('model and stats must both be present or both null', s.model === null ? 'model' : 'stats');
  if (typeof s.drift !== 'object' || s.drift === null || typeof s.drift.pageHinkley !== 'object' || s.drift.pageHinkley === null) throw new ModelFormatError('expected the drift detector state { options, pageHinkley }', 'drift');
  if (s.components !== undefined) {
    const c = s.components;
    const k = s.model?.k;
    const ints = (a: unknown, what: string, min = 0): void => {
      if (!Array.isArray(a) || (k !== undefined && a.length !== k) || !a.every((v) => Number.isInteger(v) && v >= min)) {
        throw new ModelFormatError(`expected ${k ?? 'K'} integers ≥ ${min}`, `components.${what}`);
      }
    };
    if (typeof c !== 'object' || c === null) throw new ModelFormatError('expected { labels, nextLabel, cooldown, backoff, splitStreak, mergeStreak }', 'components');
    ints(c.labels, 'labels');
    ints(c.cooldown, 'cooldown');
    ints(c.backoff, 'backoff', 1);
    if (new Set(c.labels).size !== c.labels.length) throw new ModelFormatError('labels must be distinct', 'components.labels');
    if (!Number.isInteger(c.nextLabel) || c.labels.some((l) => l >= c.nextLabel)) throw new ModelFormatError('must be an integer above every label', 'components.nextLabel');
    for (const key of ['splitStreak', 'mergeStreak'] as const) if (!Number.isInteger(c[key]) || c[key] < 0) throw new ModelFormatError('must be an integer ≥ 0', `components.${key}`);
    for (const key of ['evidence', 'meanEvidence'] as const) {
      const v = c[key];
      if (v !== undefined && (!Array.isArray(v) || (k !== undefined && v.length !== k) || !v.every((x) => Number.isFinite(x) && x >= 0))) {
        throw new ModelFormatError(`expected ${k ?? 'K'} finite numbers ≥ 0`, `components.${key}`);
      }
    }
  }
  return s;
}
