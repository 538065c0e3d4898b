import type { OperatorFunction } from 'rxjs';
import { DriftDetector, driftOptionsSchema, type DriftEvent, type DriftOptions } from '../gmm/drift.js';
import { paramsFromJSON } from '../gmm/model.js';
import type { GmmParams } from '../gmm/types.js';
import { parseOptions } from '../options.js';
import { operate, operatorSubscriber } from './operate.js';
import type { MixtureUpdate } from './types.js';

/**
 * Watches model updates for drift and emits a {@link DriftEvent} at the onset of each change (the same rules
 * as the detector inside `fitMixture`, with thresholds of its own).
 *
 * 1. Page-Hinkley on x_t = −(predictive mean log-likelihood of window t under the previous model), deviations
 *    in standard errors of the window's mean (`predictiveStandardError`): `likelihood` when the data stops fitting;
 * 2. the matched (Hungarian) weight-averaged distance between successive models (the update's own, which leaves
 *    out re-seeded components, when the metric is the fit's): `model-distance` above `distanceThreshold`;
 * 3. the update's per-component scores (`componentDrift.scores`) above `componentThreshold`: `component`;
 * 4. its weights statistic (`driftStatistics.weights`) above `weightsThreshold`: `weights`.
 * A kind (a component) that alarmed is drifting, and raises no further alarm, until it has been below
 * `release` × its threshold for `settle` windows. Independent of the detector inside `fitMixture` (which drives
 * `restart: 'on-drift'`), so it can be tuned separately.
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
 * // → 10 component true
 * ```
 *
 * @param options Page-Hinkley δ, λ, minInstances; distance threshold and metric; component and weights
 *   thresholds; release and settle
 * @returns an operator from updates to drift events
 */
export function detectDrift<R>(options: DriftOptions = {}): OperatorFunction<MixtureUpdate<R>, DriftEvent> {
  parseOptions(driftOptionsSchema, options, 'detectDrift');
  return operate((source, subscriber) => {
    const detector = new DriftDetector(options);
    let previous: GmmParams | null = null;
    const subscription = source.subscribe(
      operatorSubscriber<MixtureUpdate<R>>(subscriber, {
        next(update) {
          const likelihood =
            update.predictiveLogLikelihood === null ? null : detector.likelihood({ logLikelihood: update.predictiveLogLikelihood, standardError: update.predictiveStandardError ?? 0 });
          const current = paramsFromJSON(update.model);
          let modelDistance: number | null = null;
          if (previous !== null) {
            const sameMetric = update.state.drift.options.metric === detector.options.metric;
            modelDistance = sameMetric ? update.modelDistance : previous.k === current.k ? detector.modelDistance(previous, current) : 0;
          }
          previous = current;
          const cd = update.componentDrift;
          const { alarms } = detector.observe({
            windowIndex: update.windowIndex,
            likelihood,
            modelDistance,
            components: cd === null ? null : { labels: cd.labels.filter((_, i) => cd.scores[i] > 0), scores: cd.scores.filter((x) => x > 0) },
            weights: cd === null ? null : update.driftStatistics.weights.statistic,
          });
          for (const e of alarms) subscriber.next(e);
        },
      }),
    );
    return () => {
      subscription.unsubscribe();
      previous = null;
    };
  });
}
