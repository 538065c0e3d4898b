import { z } from 'zod';
import { COMPONENT_METRICS, matchedMixtureDistance, type ComponentMetric } from './distance.js';
import { PageHinkley, type PageHinkleyJSON } from './pageHinkley.js';
import type { GmmParams } from './types.js';

/** A drift alarm and the statistic behind it. */
export interface DriftEvent {
  readonly windowIndex: number;
  /**
   * `likelihood`: Page-Hinkley on the predictive log-likelihood; `model-distance`: successive models too far
   * apart; `component`: components whose window no longer agrees with their carried history (they moved or
   * changed shape: their history was moved or discounted, see adaptive forgetting in `StreamingGmm`);
   * `weights`: the mixing weights of the window no longer agree with the carried ones.
   */
  readonly kind: 'likelihood' | 'model-distance' | 'component' | 'weights';
  readonly statistic: number;
  readonly threshold: number;
  /** `component` alarms: the labels of the components that moved. */
  readonly components?: readonly number[];
}

/**
 * Options of drift detection, declared once (used by {@link DriftDetector}, `StreamingGmm`'s `drift`,
 * `fitMixture` and `detectDrift`):
 *
 * - `delta`: Page-Hinkley tolerance δ, in nats per point (default 0.1);
 * - `lambda`: Page-Hinkley threshold λ, in nats per point accumulated over windows (default 1);
 * - `minInstances`: windows observed before the first possible likelihood alarm (default 3);
 * - `distanceThreshold`: matched distance between successive models above which a `model-distance` alarm
 *   is raised (default 0.5);
 * - `metric`: distance between matched components (default `'bhattacharyya'`).
 */
export const driftOptionsSchema = z
  .object({
    delta: z.number().min(0, 'must be ≥ 0').optional(),
    lambda: z.number().positive('must be > 0').optional(),
    minInstances: z.number().int('must be an integer').min(1, 'must be at least 1').optional(),
    distanceThreshold: z.number().positive('must be > 0').optional(),
    metric: z.enum(COMPONENT_METRICS as [ComponentMetric, ...ComponentMetric[]]).optional(),
  })
  .strict();

/** Options of {@link DriftDetector} (see {@link driftOptionsSchema} for each field and its default). */
export type DriftOptions = z.input<typeof driftOptionsSchema>;

export const DRIFT_DEFAULTS = Object.freeze({ delta: 0.1, lambda: 1, minInstances: 3, distanceThreshold: 0.5, metric: 'bhattacharyya' as ComponentMetric });

/** Serialised state of a {@link DriftDetector}. */
export interface DriftDetectorJSON {
  readonly options: Required<DriftOptions>;
  readonly pageHinkley: PageHinkleyJSON;
}

/**
 * Model drift, as it happens, from two signals per window:
 *
 * 1. x_t = −(mean predictive log-likelihood of window t under the model of window t−1): a
 *    Page-Hinkley test (Page 1954) raises `likelihood` when x_t's mean increases, i.e. when the
 *    data stops fitting the model;
 * 2. the weight-averaged Bhattacharyya distance between the matched components of successive
 *    models raises `model-distance` above a threshold.
 */
export class DriftDetector {
  readonly options: Required<DriftOptions>;
  private readonly ph: PageHinkley;

  constructor(options: DriftOptions = {}, state?: PageHinkleyJSON) {
    this.options = { ...DRIFT_DEFAULTS, ...stripUndefined(options) };
    this.ph = state
      ? PageHinkley.fromJSON(state)
      : new PageHinkley({ delta: this.options.delta, lambda: this.options.lambda, minInstances: this.options.minInstances, alpha: 1 });
  }

  /** Observes a window's predictive mean log-likelihood; returns the alarm, if any. */
  observeLikelihood(windowIndex: number, predictiveLogLikelihood: number): DriftEvent | null {
    const r = this.ph.update(-predictiveLogLikelihood);
    return r.alarm ? { windowIndex, kind: 'likelihood', statistic: r.statistic, threshold: r.threshold } : null;
  }

  /** The Page-Hinkley statistic m_t now (0 right after an alarm) and its threshold λ. */
  get pageHinkley(): { statistic: number; threshold: number } {
    return { statistic: this.ph.statistic, threshold: this.ph.lambda };
  }

  /** Distance between successive models and the alarm, if above the threshold. Same K required. */
  observeModels(windowIndex: number, previous: GmmParams, next: GmmParams): { distance: number; event: DriftEvent | null } {
    const distance = matchedMixtureDistance(previous, next, this.options.metric);
    const threshold = this.options.distanceThreshold;
    return { distance, event: distance > threshold ? { windowIndex, kind: 'model-distance', statistic: distance, threshold } : null };
  }

  toJSON(): DriftDetectorJSON {
    return { options: this.options, pageHinkley: this.ph.toJSON() };
  }

  static fromJSON(json: DriftDetectorJSON): DriftDetector {
    return new DriftDetector(json.options, json.pageHinkley);
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
