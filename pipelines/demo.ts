/**
 * The in-process demo: a drifting synthetic 2-D stream (three clusters; one moves, one splits half
 * way) through windowVectors → fitMixture, with drift detection inside fitMixture
 * (`restart: 'on-drift'`). Run it with `npm start` or `emstream demo --out DIR`.
 *
 * Composed only from the public API, as a user's service would be.
 */
import { from } from 'rxjs';
import { definePipeline, driftingDemoClusters, fitMixture, syntheticStream, windowVectors, type SyntheticPoint } from 'emstream';

export const DEMO_POINTS = 24_000;
export const DEMO_WINDOW = 500;

export default definePipeline<SyntheticPoint>({
  name: 'demo',
  description: 'drifting synthetic 2-D stream: three clusters, one moves, one splits half way; K = 4, half-life 2 windows',
  source: () => from(syntheticStream(driftingDemoClusters(), DEMO_POINTS, 7)),
  build: (input, ctx) =>
    input.pipe(
      windowVectors<SyntheticPoint>({ size: DEMO_WINDOW, dimension: 2, onInvalid: ctx.onInvalid }),
      fitMixture<SyntheticPoint>({ k: 4, covarianceType: 'full', halfLife: 2, restart: 'on-drift', restarts: 3, seed: 7, instrumentation: ctx.instrumentation }),
    ),
  kafka: { input: 'demo-vectors', models: 'demo-models', labels: 'demo-labels', deadLetters: 'demo-dead-letters', format: 'json-array', dimension: 2 },
});
