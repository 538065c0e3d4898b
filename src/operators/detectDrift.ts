import { Observable, type OperatorFunction } from 'rxjs';
import { DriftDetector, driftOptionsSchema, type DriftEvent, type DriftOptions } from '../gmm/drift.js';
import { paramsFromJSON } from '../gmm/model.js';
import type { GmmParams } from '../gmm/types.js';
import { parseOptions } from '../options.js';
import type { MixtureUpdate } from './types.js';

/**
 * Watches model updates for drift and emits a {@link DriftEvent} for each alarm.
 *
 * 1. Page-Hinkley on x_t = −(predictive mean log-likelihood of window t under the previous model):
 *    `likelihood` alarms when the data stops fitting;
 * 2. the matched (Hungarian) weight-averaged distance between successive models: `model-distance`
 *    alarms above `distanceThreshold`.
 * Independent of the detector inside `fitMixture` (which drives `restart: 'on-drift'`), so it can be
 * tuned separately.
 *
 * ## Example
 * ```ts
 * import { from } from 'rxjs';
 * import { windowVectors, fitMixture, detectDrift } from 'emstream';
 *
 * const points = Array.from({ length: 2000 }, (_, i) => [i < 1000 ? 0 : 8, Math.cos(i)]);
 * from(points)
 *   .pipe(windowVectors({ size: 100 }), fitMixture({ k: 1, halfLife: 1 }), detectDrift())
 *   .subscribe((e) => console.log(e.windowIndex, e.kind, e.statistic > e.threshold));
 * // → 10 likelihood true
 * // → 10 model-distance true
 * ```
 *
 * @param options Page-Hinkley δ, λ, minInstances; distance threshold and metric
 * @returns an operator from updates to drift events
 */
export function detectDrift<R>(options: DriftOptions = {}): OperatorFunction<MixtureUpdate<R>, DriftEvent> {
  parseOptions(driftOptionsSchema, options, 'detectDrift');
  return (source) =>
    new Observable<DriftEvent>((subscriber) => {
      const detector = new DriftDetector(options);
      let previous: GmmParams | null = null;
      const sub = source.subscribe({
        next(update) {
          if (update.predictiveLogLikelihood !== null) {
            const e = detector.observeLikelihood(update.windowIndex, update.predictiveLogLikelihood);
            if (e) subscriber.next(e);
          }
          const current = paramsFromJSON(update.model);
          if (previous !== null && previous.k === current.k) {
            const { event } = detector.observeModels(update.windowIndex, previous, current);
            if (event) subscriber.next(event);
          }
          previous = current;
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => subscriber.complete(),
      });
      return () => {
        sub.unsubscribe();
        previous = null;
      };
    });
}
