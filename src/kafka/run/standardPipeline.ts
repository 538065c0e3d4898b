/**
 * The pipeline `emstream run` builds from flags ({@link standardPipeline}), and what the runner gives a pipeline it
 * builds ({@link KafkaPipelineContext}: the usual context plus a restored model).
 *
 * @module
 */
import type { MixtureJSON } from '../../gmm/model.js';
import type { RestartPolicy } from '../../gmm/streaming.js';
import type { CovarianceType } from '../../gmm/types.js';
import { fitMixture } from '../../operators/fitMixture.js';
import type { VectorInput } from '../../operators/types.js';
import { windowVectors } from '../../operators/windowVectors.js';
import type { Pipeline, PipelineContext } from '../../pipeline.js';

/** The context `runKafkaPipeline` gives a pipeline's `build`: the usual one plus what it restored. */
export interface KafkaPipelineContext extends PipelineContext {
  /**
   * The latest model of this pipeline id, when the models topic held only a model (a message written before states
   * were saved): pass it as `fitMixture({ initialModel })`. With a whole state, nothing to do (see `initialState`).
   */
  readonly initialModel?: MixtureJSON;
}

/**
 * The model restored at startup from a message without a state (see {@link KafkaPipelineContext.initialModel}).
 *
 * @param context - the context a pipeline's `build` received
 * @returns the model to pass as `fitMixture({ initialModel })`, or `undefined`
 */
export function restoredModelOf(context: PipelineContext): MixtureJSON | undefined {
  return 'initialModel' in context ? (context as KafkaPipelineContext).initialModel : undefined;
}

/** Options of {@link standardPipeline}. */
export interface StandardPipelineOptions {
  /** Points per window. */
  readonly window: number;
  /** Number of components. */
  readonly k: number;
  readonly halfLife?: number;
  readonly restart?: RestartPolicy;
  readonly covarianceType?: CovarianceType;
  readonly dimension?: number;
  readonly seed?: number;
  readonly name?: string;
  /** Fit each window on a worker thread (`fitMixture`'s `offThread`). */
  readonly offThread?: boolean;
  /**
   * `windowVectors`' `reuseBuffers` (default `true`): each full window's memory lent, then taken back for a later
   * window. `false` for outputs of your own that read `update.window.points` after the window after it was handled.
   */
  readonly reuseBuffers?: boolean;
}

/**
 * The pipeline `emstream run` builds from flags: `windowVectors({ size: window, reuseBuffers: true })` →
 * `fitMixture({ k, … })` (`reuseBuffers` unless told otherwise). Built by
 * `runKafkaPipeline`, it resumes from the restored state (and invalid inputs go to the dead-letter topic) without
 * being told.
 *
 * @param options - window size, K, half-life, restart policy, covariance type, dimension, fit on a worker thread, lent windows
 * @returns the pipeline
 */
export function standardPipeline(options: StandardPipelineOptions): Pipeline<VectorInput> {
  return {
    name: options.name ?? 'standard',
    description: `windows of ${options.window} points → warm-started EM with ${options.k} components`,
    build: (input, context) =>
      input.pipe(
        // (lent windows: the runner reads each update as it comes, and a fit on a worker takes its window along)
        windowVectors({ size: options.window, dimension: options.dimension, onInvalid: context.onInvalid, reuseBuffers: options.reuseBuffers ?? true }),
        fitMixture({
          k: options.k,
          halfLife: options.halfLife,
          restart: options.restart,
          covarianceType: options.covarianceType,
          seed: options.seed,
          instrumentation: context.instrumentation,
          initialModel: restoredModelOf(context),
          offThread: options.offThread,
        }),
      ),
  };
}
