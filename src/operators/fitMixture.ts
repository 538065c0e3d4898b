import type { OperatorFunction } from 'rxjs';
import { EmstreamOptionsError } from '../errors.js';
import { resolveStreamingOptions, StreamingGmm, type StreamingOptions } from '../gmm/streaming.js';
import type { Instrumentation } from '../instrumentation.js';
import { inPhase } from '../gmm/stream/profile.js';
import { offThreadBody } from './fitMixtureOffThread.js';
import { operate, operatorSubscriber } from './operate.js';
import { claimPipelineState, claimSharedModel, scopeOnInvalid } from './pipelineScope.js';
import { sharedMember } from './sharedMember.js';
import type { InvalidVector, MixtureUpdate, VectorWindow } from './types.js';
import { concatWindows, dropWindow, emitWindowEvents, endWithoutModel, isUnfittable, lazyUpdate } from './windowUpdate.js';
import { checkNotReleased } from './windowVectors.js';

export { emitModelEvents } from './windowUpdate.js';

/** Options of {@link fitMixture}: the streaming EM options plus instrumentation and a dead-letter path. */
export interface FitMixtureOptions<R = unknown> extends StreamingOptions {
  /**
   * Receives `em.window.fitted`, `em.drift.detected` (the onset of a change), `em.drift.ended`,
   * `em.component.reseeded`, `em.component.reverted`, `em.window.deferred` and `em.window.failed` events.
   */
  readonly instrumentation?: Instrumentation;
  /**
   * Receives every record of a window that cannot be fitted numerically, with reason `'unfittable'` and the
   * error's message; the model stays as it was and the stream goes on. Default: the dead-letter path of the
   * runner that builds the pipeline ({@link buildInPipelineScope}); with neither, such a window errors the
   * stream with the typed error.
   */
  readonly onInvalid?: (invalid: InvalidVector<R>) => void;
  /**
   * Fit each window on a worker thread (default `false`). The calling thread reads and checks the next window while
   * the last one is fitted, so a pipeline whose windows are expensive to assemble (wide vectors) runs on two cores,
   * and the calling thread's event loop is not blocked by a fit. The updates, labels, state and events are those of
   * the fit on the calling thread (bit for bit), in window order, but asynchronous: each arrives when its fit is
   * done, after the window that produced it was pushed, and the output completes after the last one. Windows are
   * queued without bound while the source pushes faster than they are fitted. Each subscription starts its own
   * worker (about 0.1 s), stopped when the subscription ends. Not used by a member of a shared model (it does not fit).
   */
  readonly offThread?: boolean;
}

/**
 * Fits a Gaussian mixture to each window by warm-started EM, carrying sufficient statistics from
 * window to window (see {@link StreamingGmm} for the algorithm).
 *
 * 1. windows start EM from the previous model with the past statistics, scaled by the forgetting
 *    factor (`halfLife`, `decay` or `stepwise`), added to every M-step; components that move or change
 *    shape forget their history adaptively (`adaptive`);
 * 2. the first window, and windows chosen by the `restart` policy, run cold candidates that compete with
 *    the warm one on held-out points of the window; components are matched to the previous model after a
 *    restart, so labels stay stable;
 * 3. starved or redundant components are re-seeded where the model is worst (`birthDeath`); with
 *    `k: { min, max }` components are split and merged by BIC;
 * 4. each window yields one {@link MixtureUpdate}: the model (JSON form), labels and densities per
 *    point, the window's log-likelihoods, the predictive log-likelihood, drift alarms, re-seeded
 *    components, and the state; `em.window.fitted`, `em.drift.detected` and `em.component.reseeded`
 *    are emitted to `instrumentation`.
 *
 * A first window with fewer than K distinct points is deferred: its points join the next window; a stream that
 * ends before K distinct points came emits `em.window.failed` (reason `'too-few-points'`) and sends its records
 * to `onInvalid` (reason `'unfittable'`), or errors with a `DataError` when there is no such handler. A
 * window that cannot be fitted numerically (a `CovarianceError`, `DataError` or `NumericError`, e.g.
 * values so large their squares overflow) is dropped: the model stays as it was, `em.window.failed` is
 * emitted and every record of the window goes to `onInvalid` (or the runner's dead-letter path) with
 * reason `'unfittable'`; with no such handler the stream errors with the typed error.
 * Options are validated when the operator is created. State between windows is O(K·D²); each
 * subscription has its own state, and each update carries it (`state`, the JSON form of
 * {@link StreamingGmm.toJSON}) so a runner can save it; `model` and `state` are made when first read (a copy of the
 * model and statistics is taken with the window, their JSON is not), so updates nobody saves cost no serialisation. Created while a runner builds a pipeline
 * ({@link buildInPipelineScope}, as `runKafkaPipeline` does), the operator resumes from the state the
 * runner restored unless it was given `initialState`, `initialModel` or `initialStats` itself.
 *
 * ## Example
 * ```ts
 * import { from } from 'rxjs';
 * import { windowVectors, fitMixture } from 'emstream';
 *
 * const points = Array.from({ length: 200 }, (_, i) => [i % 2 === 0 ? 0 : 10, Math.sin(i)]);
 * from(points)
 *   .pipe(windowVectors({ size: 100 }), fitMixture({ k: 2, halfLife: 4 }))
 *   .subscribe((u) => console.log(u.windowIndex, u.iterations, u.logLikelihood.toFixed(3)));
 * // → 0 1 4.223
 * // → 1 1 4.226
 * ```
 *
 * @param options streaming EM options (K is required)
 * @returns an operator from windows to model updates
 * @throws EmstreamOptionsError when the options are invalid
 */
export function fitMixture<R>(options: FitMixtureOptions<R>): OperatorFunction<VectorWindow<R>, MixtureUpdate<R>> {
  const { instrumentation, onInvalid: ownOnInvalid, offThread, ...given } = options;
  if (offThread !== undefined && typeof offThread !== 'boolean') {
    throw new EmstreamOptionsError('fitMixture', [{ path: 'offThread', message: `must be true or false, got ${JSON.stringify(offThread)}` }]);
  }
  resolveStreamingOptions(given, 'fitMixture');
  const onInvalid: ((invalid: InvalidVector<R>) => void) | undefined = ownOnInvalid ?? scopeOnInvalid();
  const own = given.initialState !== undefined || given.initialModel !== undefined || given.initialStats !== undefined;
  // Built by a runner that shares one model over its consumer group: a member (labels and contributions, no fit).
  const shared = claimSharedModel(!own, given);
  if (shared !== undefined) return sharedMember({ streaming: given, instrumentation, onInvalid }, shared);
  const restored = claimPipelineState(!own);
  const streaming: StreamingOptions = restored === undefined ? given : { ...given, initialState: restored };
  const minK = typeof given.k === 'number' ? given.k : given.k.min;
  if (offThread === true) return operate(offThreadBody<R>({ streaming, minK, instrumentation, onInvalid }));
  return operate((source, subscriber) => {
    const gmm = new StreamingGmm(streaming);
    let deferred: VectorWindow<R> | null = null;
    const subscription = source.subscribe(
      operatorSubscriber<VectorWindow<R>>(subscriber, {
        next(incoming) {
          checkNotReleased(incoming, 'fitMixture');
          const window = deferred ? concatWindows(deferred, incoming) : incoming;
          deferred = null;
          const data = { n: window.n, d: window.d, data: window.points };
          if (window.n === 0) return;
          if (!gmm.canFit(data)) {
            deferred = window;
            instrumentation?.emit('em.window.deferred', { windowIndex: window.index, n: window.n });
            return;
          }
          const started = performance.now();
          let update: MixtureUpdate<R>;
          let weights: Float64Array = new Float64Array(0);
          try {
            const { params, ...fit } = gmm.update(data, window.index);
            weights = params.weights;
            update = inPhase('emission', () => lazyUpdate({ ...fit, windowIndex: window.index, window }, params, gmm.snapshot()));
          } catch (err) {
            if (onInvalid === undefined || !isUnfittable(err)) throw err;
            // The window is dropped (the model is as it was); its records go to the dead-letter path.
            dropWindow(window, err, onInvalid, subscriber, instrumentation);
            return;
          }
          if (instrumentation) {
            const u = update;
            inPhase('emission', () => emitWindowEvents(instrumentation, u, weights, performance.now() - started));
          }
          subscriber.next(update);
        },
        complete() {
          // A stream that ended before a first model could be fitted says so rather than end silently.
          const window = deferred;
          deferred = null;
          endWithoutModel(window, minK, onInvalid, subscriber, instrumentation);
        },
      }),
    );
    return () => {
      subscription.unsubscribe();
      deferred = null;
    };
  });
}

