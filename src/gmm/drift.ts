/**
 * Drift alarms an operator can trust: one alarm per change, at its onset; a drift that goes on is a state
 * (drifting, from the onset until the model is stable again), with its severity and progress as gauges; every
 * threshold calibrated by simulation to a stated false-alarm rate (`npm run bench -- calibrate`).
 *
 * @module
 */
import { z } from 'zod';
import { COMPONENT_METRICS, matchedMixtureDistance, type ComponentMetric } from './distance.js';
import { ModelFormatError } from './errors.js';
import { PageHinkley, type PageHinkleyJSON } from './pageHinkley.js';
import type { GmmParams } from './types.js';

/** What can raise a drift alarm. */
export type DriftKind = 'likelihood' | 'model-distance' | 'component' | 'weights';

/** The kinds, in the order they are reported. */
export const DRIFT_KINDS: readonly DriftKind[] = ['likelihood', 'model-distance', 'component', 'weights'];

/** A drift alarm: the onset of a change, and the statistic behind it. */
export interface DriftEvent {
  readonly windowIndex: number;
  /**
   * `likelihood`: Page-Hinkley on the predictive log-likelihood (in standard errors of the window's mean);
   * `model-distance`: successive models too far apart; `component`: components whose window no longer agrees
   * with their carried history (−log₁₀ of the Bonferroni-adjusted p-value of their tests); `weights`: the
   * mixing weights of the window no longer agree with the carried ones (−log₁₀ p of the G-test).
   */
  readonly kind: DriftKind;
  readonly statistic: number;
  readonly threshold: number;
  /** `component` alarms: the labels of the components whose change begins here. */
  readonly components?: readonly number[];
}

/**
 * Options of drift detection, declared once (used by {@link DriftDetector}, `StreamingGmm`'s `drift`,
 * `fitMixture` and `detectDrift`). The default thresholds are calibrated by simulation to about one false
 * alarm per 100 stationary windows in all (see {@link DRIFT_DEFAULTS}):
 *
 * - `delta`: Page-Hinkley tolerance δ per window, in standard errors of the window's mean log-likelihood;
 * - `lambda`: Page-Hinkley threshold λ, in standard errors accumulated over windows;
 * - `minInstances`: windows observed before the first possible likelihood alarm (default 3);
 * - `distanceThreshold`: matched distance between successive models above which a `model-distance` alarm
 *   is raised (default 0.5: a component moved by about two standard deviations);
 * - `metric`: distance between matched components (default `'bhattacharyya'`);
 * - `componentThreshold`: −log₁₀ of the Bonferroni-adjusted p-value of the per-component tests (mean and
 *   shape against the carried history) above which a `component` alarm is raised;
 * - `weightsThreshold`: −log₁₀ p of the G-test of the mixing weights above which a `weights` alarm is raised;
 * - `release`: the share of its threshold below which a statistic counts as quiet (default 0.5);
 * - `settle`: consecutive quiet windows after which a drifting kind (and the model) is stable again (default 5).
 */
export const driftOptionsSchema = z
  .object({
    delta: z.number().min(0, 'must be ≥ 0').optional(),
    lambda: z.number().positive('must be > 0').optional(),
    minInstances: z.number().int('must be an integer').min(1, 'must be at least 1').optional(),
    distanceThreshold: z.number().positive('must be > 0').optional(),
    metric: z.enum(COMPONENT_METRICS as [ComponentMetric, ...ComponentMetric[]]).optional(),
    componentThreshold: z.number().positive('must be > 0 (−log10 of a p-value)').optional(),
    weightsThreshold: z.number().positive('must be > 0 (−log10 of a p-value)').optional(),
    release: z.number().gt(0, 'must be in (0, 1)').lt(1, 'must be in (0, 1)').optional(),
    settle: z.number().int('must be an integer').min(1, 'must be at least 1').optional(),
  })
  .strict();

/** Options of {@link DriftDetector} (see {@link driftOptionsSchema} for each field and its default). */
export type DriftOptions = z.input<typeof driftOptionsSchema>;

/**
 * The defaults. `delta`, `lambda`, `componentThreshold` and `weightsThreshold` were calibrated with
 * `npm run bench -- calibrate` on the stationary streams of the tuning seeds (docs/algorithm.md quotes its
 * output): each kind at most about 0.25 false alarms per 100 stationary windows.
 */
export const DRIFT_DEFAULTS = Object.freeze({
  delta: 0.5,
  lambda: 3.5,
  minInstances: 3,
  distanceThreshold: 0.5,
  metric: 'bhattacharyya' as ComponentMetric,
  componentThreshold: 3.25,
  weightsThreshold: 2.5,
  release: 0.5,
  settle: 5,
});

/** The Page-Hinkley step of a window ({@link DriftDetector.likelihood}). */
export interface LikelihoodStep {
  /** m_t after the window (before the reset that follows an alarm). */
  readonly statistic: number;
  readonly alarm: boolean;
  /** The window alone took m_t above λ (an abrupt change): an alarm even while the likelihood already drifts. */
  readonly abrupt?: boolean;
}

/** What one window tells the detector. */
export interface DriftSignals {
  readonly windowIndex: number;
  /** The window's Page-Hinkley step ({@link DriftDetector.likelihood}; null on the first window). */
  readonly likelihood: LikelihoodStep | null;
  /** Matched distance between the previous model and this one (null on the first window). */
  readonly modelDistance: number | null;
  /** Per tested component: its label and −log₁₀ of the Bonferroni-adjusted p-value of its tests (null: not tested). */
  readonly components: { readonly labels: readonly number[]; readonly scores: readonly number[] } | null;
  /** −log₁₀ p of the G-test of the mixing weights (null: not tested). */
  readonly weights: number | null;
}

/** One kind's statistic on a window and its threshold. */
export interface DriftStatistic {
  readonly statistic: number;
  readonly threshold: number;
}

/** Every statistic that can raise an alarm, on one window, against its threshold. */
export interface DriftStatistics {
  /** The Page-Hinkley statistic (standard errors; its value before the reset when it alarmed) and λ. */
  readonly likelihood: DriftStatistic;
  readonly modelDistance: DriftStatistic;
  /** The largest per-component score and the label it belongs to (null: none tested). */
  readonly component: DriftStatistic & { readonly label: number | null };
  readonly weights: DriftStatistic;
}

/** The drift state after a window. */
export interface DriftState {
  /** A change began (an alarm) and the model has not been stable since. */
  readonly active: boolean;
  /** The window of the onset (null when not drifting). */
  readonly since: number | null;
  /** The kinds still drifting. */
  readonly kinds: DriftKind[];
  /** Labels of the components still drifting. */
  readonly components: number[];
  /** The largest statistic of the window relative to its threshold (≥ 1: above a threshold). */
  readonly severity: number;
  /** The matched model distance travelled since the onset (0 when not drifting). */
  readonly progress: number;
}

/** What a window did to the detector. */
export interface DriftObservation {
  /** Alarms: the onsets of this window. */
  readonly alarms: DriftEvent[];
  /** Page-Hinkley alarmed on this window (whether or not a change was already under way): what `restart: 'on-drift'` acts on. */
  readonly likelihoodAlarm: boolean;
  readonly statistics: DriftStatistics;
  readonly state: DriftState;
  /** The drifting state ended on this window (it was drifting since `since`). */
  readonly ended: { readonly since: number } | null;
}

/** The state of one kind (or one component): drifting since a window, quiet windows in a row. */
interface KindState {
  since: number;
  quiet: number;
}

/** Serialised state of a {@link DriftDetector}. */
export interface DriftDetectorJSON {
  readonly options: Required<DriftOptions>;
  readonly pageHinkley: PageHinkleyJSON;
  /** Drifting kinds and components, the onset and the distance travelled since (absent before version 4 of the streaming state). */
  readonly alarms?: {
    readonly kinds: { readonly kind: DriftKind; readonly since: number; readonly quiet: number }[];
    readonly components: { readonly label: number; readonly since: number; readonly quiet: number }[];
    readonly since: number | null;
    readonly progress: number;
  };
}

/**
 * Drift, as it happens: an alarm at the onset of each change, a drifting state while it lasts.
 *
 * For each window:
 * 1. four statistics against their thresholds: Page-Hinkley (Page 1954) on x_t = −(predictive mean
 *    log-likelihood), its deviations from their running mean divided by the window's standard error (so δ and λ
 *    mean the same at every D and window size); the matched distance between successive models; the largest
 *    per-component score (−log₁₀ of the Bonferroni-adjusted p-value of the mean and shape tests of adaptive
 *    forgetting); −log₁₀ p of the G-test of the weights;
 * 2. a kind (for `component`: a component) that is stable and goes above its threshold raises an alarm and
 *    is drifting from then on; while drifting it raises no further alarm (but for a Page-Hinkley alarm that the
 *    window alone raised, its own deviation above λ: an abrupt change on top of a drift); after `settle` windows
 *    in a row below `release` × its threshold it is stable again. While the model already drifts, the weights and
 *    the model distance move with the change under way: their onsets join it without an alarm; a likelihood onset
 *    or a component not yet drifting is a change of its own and raises one;
 * 3. the model is drifting while any kind is: from the first onset to the end of the last, with the largest
 *    relative statistic of the window as its severity and the model distance travelled since the onset as
 *    its progress.
 *
 * ## Example
 * ```ts
 * import { DriftDetector } from 'emstream';
 *
 * const detector = new DriftDetector();
 * const window = (i: number, ll: number) => {
 *   const likelihood = detector.likelihood({ logLikelihood: ll, standardError: 0.05 });
 *   return detector.observe({ windowIndex: i, likelihood, modelDistance: 0, components: null, weights: null });
 * };
 * for (let i = 0; i < 8; i++) window(i, -3 + 0.01 * Math.sin(i));
 * const jump = window(8, -4);
 * console.log(jump.alarms.map((a) => a.kind), jump.state.active); // → [ 'likelihood' ] true
 * ```
 */
export class DriftDetector {
  readonly options: Required<DriftOptions>;
  private readonly ph: PageHinkley;
  private kinds = new Map<DriftKind, KindState>();
  private components = new Map<number, KindState>();
  private since: number | null = null;
  private progress = 0;

  /**
   * @param options thresholds (defaults {@link DRIFT_DEFAULTS})
   * @param state a saved detector's state ({@link DriftDetector.toJSON}): the Page-Hinkley sums and the drifting kinds continue
   */
  constructor(options: DriftOptions = {}, state?: Omit<DriftDetectorJSON, 'options'>) {
    this.options = { ...DRIFT_DEFAULTS, ...stripUndefined(options) };
    const o = this.options;
    const ph = { delta: o.delta, lambda: o.lambda, minInstances: o.minInstances, alpha: 1 };
    this.ph = state ? PageHinkley.fromJSON({ ...state.pageHinkley, ...ph }) : new PageHinkley(ph);
    const a = state?.alarms;
    if (a !== undefined) {
      for (const k of a.kinds) this.kinds.set(k.kind, { since: k.since, quiet: k.quiet });
      for (const c of a.components) this.components.set(c.label, { since: c.since, quiet: c.quiet });
      this.since = a.since;
      this.progress = a.progress;
    }
  }

  /** The Page-Hinkley statistic m_t now (0 right after an alarm) and its threshold λ. */
  get pageHinkley(): { statistic: number; threshold: number } {
    return { statistic: this.ph.statistic, threshold: this.ph.lambda };
  }

  /** Whether a change is under way (an alarm was raised and the model has not been stable since). */
  get drifting(): boolean {
    return this.since !== null;
  }

  /** The matched distance between two successive models (same K), in the detector's metric. */
  modelDistance(previous: GmmParams, next: GmmParams): number {
    return matchedMixtureDistance(previous, next, this.options.metric);
  }

  /**
   * Step 1 of a window, before its fit: Page-Hinkley on the window's predictive mean log-likelihood (under the
   * previous model), deviations in units of its standard error. Its alarm is what `restart: 'on-drift'` acts on.
   *
   * @param predictive the mean log-likelihood per point and its standard error (sd of the points' log-densities / √n)
   */
  likelihood(predictive: { readonly logLikelihood: number; readonly standardError: number }): LikelihoodStep {
    const se = predictive.standardError;
    const before = this.ph.statistic;
    const r = this.ph.update(-predictive.logLikelihood, se > 0 && Number.isFinite(se) ? se : 1);
    return { statistic: r.statistic, alarm: r.alarm, abrupt: r.alarm && r.statistic - before > this.options.lambda };
  }

  /** Observes one window (see the class comment for the steps); its likelihood step first ({@link DriftDetector.likelihood}). */
  observe(s: DriftSignals): DriftObservation {
    const o = this.options;
    const t = s.windowIndex;
    const alarms: DriftEvent[] = [];
    const phStatistic = s.likelihood?.statistic ?? this.ph.statistic;
    const likelihoodAlarm = s.likelihood?.alarm ?? false;
    const abrupt = s.likelihood?.abrupt ?? false;
    let best = { score: 0, label: null as number | null };
    if (s.components !== null) {
      s.components.scores.forEach((score, i) => {
        if (score > best.score) best = { score, label: s.components!.labels[i] };
      });
    }
    const statistics: DriftStatistics = {
      likelihood: { statistic: phStatistic, threshold: o.lambda },
      modelDistance: { statistic: s.modelDistance ?? 0, threshold: o.distanceThreshold },
      component: { statistic: best.score, threshold: o.componentThreshold, label: best.label },
      weights: { statistic: s.weights ?? 0, threshold: o.weightsThreshold },
    };
    // While the model drifts, the weights and the model distance move with the change under way: their onsets
    // join it without an alarm of their own. A likelihood or a new component's onset is a change of its own.
    const drifting = this.since !== null;
    const step = (kind: DriftKind, relative: number, raised: boolean, event: () => DriftEvent): void => {
      const st = this.kinds.get(kind);
      if (st === undefined) {
        if (!raised) return;
        this.kinds.set(kind, { since: t, quiet: 0 });
        if (!(drifting && (kind === 'weights' || kind === 'model-distance'))) alarms.push(event());
        return;
      }
      st.quiet = relative >= o.release || raised ? 0 : st.quiet + 1;
      if (st.quiet >= o.settle) this.kinds.delete(kind);
      // A likelihood alarm that the window alone raised is a new change, even while the last one drifts.
      if (kind === 'likelihood' && raised && abrupt) alarms.push(event());
    };
    const rel = (x: DriftStatistic): number => x.statistic / x.threshold;
    step('likelihood', rel(statistics.likelihood), likelihoodAlarm, () => ({ windowIndex: t, kind: 'likelihood', ...statistics.likelihood }));
    const distance = statistics.modelDistance;
    step('model-distance', rel(distance), distance.statistic > distance.threshold, () => ({ windowIndex: t, kind: 'model-distance', ...distance }));
    // Components: each its own state; an alarm names the components whose change begins on this window.
    const started: number[] = [];
    if (s.components !== null) {
      const seen = new Set<number>();
      s.components.labels.forEach((label, i) => {
        seen.add(label);
        const score = s.components!.scores[i];
        const st = this.components.get(label);
        if (st === undefined) {
          if (score > o.componentThreshold) {
            this.components.set(label, { since: t, quiet: 0 });
            started.push(label);
          }
          return;
        }
        st.quiet = score >= o.release * o.componentThreshold ? 0 : st.quiet + 1;
        if (st.quiet >= o.settle) this.components.delete(label);
      });
      // A drifting component no longer tested (re-seeded, merged away) settles like a quiet one.
      for (const [label, st] of this.components) if (!seen.has(label) && ++st.quiet >= o.settle) this.components.delete(label);
    } else {
      for (const [label, st] of this.components) if (++st.quiet >= o.settle) this.components.delete(label);
    }
    if (started.length > 0) {
      const top = Math.max(...started.map((l) => s.components!.scores[s.components!.labels.indexOf(l)]));
      alarms.push({ windowIndex: t, kind: 'component', statistic: top, threshold: o.componentThreshold, components: started });
    }
    const weights = statistics.weights;
    step('weights', rel(weights), weights.statistic > weights.threshold, () => ({ windowIndex: t, kind: 'weights', ...weights }));
    // The model's state.
    const active = this.kinds.size > 0 || this.components.size > 0;
    let ended: { since: number } | null = null;
    if (active) {
      if (this.since === null) {
        this.since = t;
        this.progress = 0;
      } else this.progress += s.modelDistance ?? 0;
    } else if (this.since !== null) {
      ended = { since: this.since };
      this.since = null;
      this.progress = 0;
    }
    const severity = Math.max(rel(statistics.likelihood), rel(statistics.modelDistance), rel(statistics.component), rel(statistics.weights));
    const state: DriftState = {
      active,
      since: this.since,
      kinds: DRIFT_KINDS.filter((k) => this.kinds.has(k) || (k === 'component' && this.components.size > 0)),
      components: [...this.components.keys()].sort((a, b) => a - b),
      severity: Number.isFinite(severity) ? severity : 0,
      progress: this.progress,
    };
    return { alarms, likelihoodAlarm, statistics, state, ended };
  }

  toJSON(): DriftDetectorJSON {
    return {
      options: this.options,
      pageHinkley: this.ph.toJSON(),
      alarms: {
        kinds: [...this.kinds].map(([kind, s]) => ({ kind, since: s.since, quiet: s.quiet })),
        components: [...this.components].map(([label, s]) => ({ label, since: s.since, quiet: s.quiet })),
        since: this.since,
        progress: this.progress,
      },
    };
  }

  static fromJSON(json: DriftDetectorJSON): DriftDetector {
    return new DriftDetector(json.options, json);
  }
}

/** Checks the drift detector's part of a saved state (version 4: with its drifting kinds). */
export function checkDriftJSON(json: DriftDetectorJSON): void {
  const a = json.alarms;
  if (a === undefined) return;
  const entry = (e: { since: number; quiet: number }): boolean => Number.isInteger(e.since) && e.since >= 0 && Number.isInteger(e.quiet) && e.quiet >= 0;
  if (typeof a !== 'object' || a === null || !Array.isArray(a.kinds) || !Array.isArray(a.components)) throw new ModelFormatError('expected { kinds, components, since, progress }', 'drift.alarms');
  if (!a.kinds.every((k) => DRIFT_KINDS.includes(k.kind) && entry(k))) throw new ModelFormatError(`expected kinds of ${DRIFT_KINDS.join(', ')} with since and quiet integers ≥ 0`, 'drift.alarms.kinds');
  if (!a.components.every((c) => Number.isInteger(c.label) && c.label >= 0 && entry(c))) throw new ModelFormatError('expected labels with since and quiet integers ≥ 0', 'drift.alarms.components');
  if (!(a.since === null || (Number.isInteger(a.since) && a.since >= 0))) throw new ModelFormatError('must be null or an integer ≥ 0', 'drift.alarms.since');
  if (!(Number.isFinite(a.progress) && a.progress >= 0)) throw new ModelFormatError('must be a finite number ≥ 0', 'drift.alarms.progress');
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
