import type { OperatorFunction } from 'rxjs';
import { operate, operatorSubscriber } from './operate.js';
import type { MixtureUpdate, PointLabel } from './types.js';

/**
 * Flattens each model update into one {@link PointLabel} per point, in window order, each carrying
 * its original record (so a label can be traced back to its input, e.g. its Kafka offset).
 *
 * ## Example
 * ```ts
 * import { from } from 'rxjs';
 * import { windowVectors, fitMixture, toLabels } from 'emstream';
 *
 * from([[0, 0], [0, 1], [9, 9], [9, 8]])
 *   .pipe(windowVectors({ size: 4 }), fitMixture({ k: 2 }), toLabels())
 *   .subscribe((p) => console.log(p.record.join(','), p.label, p.probability.toFixed(3)));
 * // → 0,0 0 1.000
 * // → 0,1 0 1.000
 * // → 9,9 1 1.000
 * // → 9,8 1 1.000
 * ```
 *
 * @returns an operator from updates to labelled points
 */
export function toLabels<R>(): OperatorFunction<MixtureUpdate<R>, PointLabel<R>> {
  return operate((source, subscriber) =>
    source.subscribe(
      operatorSubscriber<MixtureUpdate<R>>(subscriber, {
        next(update) {
          const { records } = update.window;
          const { labels, probabilities, logDensities, windowIndex, version } = update;
          for (let i = 0; i < labels.length && !subscriber.closed; i++) {
            subscriber.next({
              record: records[i],
              windowIndex,
              modelVersion: version,
              label: labels[i],
              probability: probabilities[i],
              logDensity: logDensities[i],
            });
          }
        },
      }),
    ),
  );
}
