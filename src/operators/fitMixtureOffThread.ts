/**
 * `fitMixture({ offThread: true })`: the same windows, fits, updates and events as on the calling thread, with each
 * window's fit on a worker thread ({@link WindowFitter}) so that the calling thread reads and checks the next window
 * meanwhile.
 *
 * @module
 */
import type { Observable, Subscriber, TeardownLogic } from 'rxjs';
import { isChecked } from '../gmm/checked.js';
import { countDistinctRows } from '../gmm/init.js';
import { WindowFitter, type WindowOutcome } from '../gmm/parallel/windowFitter.js';
import { stateToJSON, StreamingGmm, type StreamingOptions } from '../gmm/streaming.js';
import type { Instrumentation } from '../instrumentation.js';
import { guarded, operatorSubscriber } from './operate.js';
import type { InvalidVector, MixtureUpdate, VectorWindow } from './types.js';
import { concatWindows, dropWindow, emitWindowEvents, endWithoutModel, isUnfittable, lazyUpdate } from './windowUpdate.js';

/** What the off-thread fit needs from `fitMixture`. */
export interface OffThreadSettings<R> {
  /** The streaming options (validated; with the restored state when a runner restored one). */
  readonly streaming: StreamingOptions;
  /** The least K (a first window needs that many distinct points). */
  readonly minK: number;
  readonly instrumentation: Instrumentation | undefined;
  readonly onInvalid: ((invalid: InvalidVector<R>) => void) | undefined;
}

/**
 * The body of `fitMixture` with the fit on a worker thread (for `operate`).
 *
 * 1. A window is sent to the worker as soon as it arrives (a first window with fewer than K distinct points waits for
 *    the next, as on the calling thread); updates are emitted in window order when their fits come back. The
 *    window's points move to the worker and back when `windowVectors` made them (its windows own their buffers):
 *    the update's `window` holds them, the window object that came in is left with an empty `points`. Any other
 *    window's points are copied (its maker may hold them, reuse them or write them again), and the update's
 *    `window` is that window, as on the calling thread.
 * 2. An unfittable window's records go to `onInvalid` as on the calling thread; any other error of a fit errors the
 *    output, as does a worker that cannot start or dies (`ThreadPoolError`). A saved state or model the options
 *    refuse errors the output when it is subscribed, as on the calling thread.
 * 3. The source's completion completes the output after the last update, and its error errors it after the updates
 *    of the windows it sent before (as on the calling thread); unsubscribing stops the worker.
 *
 * A window sent while the first window's fit was in flight, when that fit then failed, has no model to start from:
 * if it has fewer than K distinct points, its records go to `onInvalid` (on the calling thread it would have waited
 * for the next window).
 */
export function offThreadBody<R>(settings: OffThreadSettings<R>): (source: Observable<VectorWindow<R>>, subscriber: Subscriber<MixtureUpdate<R>>) => TeardownLogic {
  const { streaming, minK, instrumentation, onInvalid } = settings;
  return (source, subscriber) => {
    // A saved state or model is checked here too, as on the calling thread: one these options refuse errors the output
    // when it is subscribed (a runner refuses it before it consumes anything), and no worker is started for it.
    if (streaming.initialState !== undefined || streaming.initialModel !== undefined) new StreamingGmm(streaming);
    const fitter = new WindowFitter(streaming, (err) => subscriber.error(err));
    let deferred: VectorWindow<R> | null = null;
    // Whether a window with K distinct points was sent: the worker then has (or will try to have) a model.
    const initiallyModelled = streaming.initialState?.model != null || streaming.initialModel !== undefined;
    let modelSent = initiallyModelled;
    let completed = false;
    // The source's error, held until the windows it sent before it are answered.
    let failed: { readonly error: unknown } | null = null;
    let fitted = false;

    const finish = (): void => {
      if (fitter.inFlight > 0 || subscriber.closed) return;
      if (failed !== null) {
        subscriber.error(failed.error);
        return;
      }
      if (!completed) return;
      const window = deferred;
      deferred = null;
      endWithoutModel(window, minK, onInvalid, subscriber, instrumentation);
    };

    const answer = (window: VectorWindow<R>) => (outcome: WindowOutcome) =>
      guarded(subscriber, () => {
        if (subscriber.closed) return;
        if (outcome.ok) {
          const { params, ...fit } = outcome.fit;
          const state = outcome.state;
          const update = lazyUpdate<R>({ ...fit, windowIndex: window.index, window: returned(window, outcome.points) }, params, () => stateToJSON(state));
          fitted = true;
          if (instrumentation) emitWindowEvents(instrumentation, update, params.weights, outcome.durationMs);
          subscriber.next(update);
        } else {
          // No model yet and nothing in flight: the next window must have K distinct points again.
          if (!fitted && fitter.inFlight === 0) modelSent = initiallyModelled;
          if (onInvalid === undefined || !isUnfittable(outcome.error)) throw outcome.error;
          dropWindow(returned(window, outcome.points), outcome.error, onInvalid, subscriber, instrumentation);
        }
        finish();
      });

    const subscription = source.subscribe(
      operatorSubscriber<VectorWindow<R>>(subscriber, {
        next(incoming) {
          const window = deferred ? concatWindows(deferred, incoming) : incoming;
          deferred = null;
          if (window.n === 0) return;
          if (!modelSent && countDistinctRows({ n: window.n, d: window.d, data: window.points }, minK) < minK) {
            deferred = window;
            instrumentation?.emit('em.window.deferred', { windowIndex: window.index, n: window.n });
            return;
          }
          modelSent = true;
          // Only points whose buffer windowVectors or this operator (joining a deferred window) made are moved: a
          // window built elsewhere may be held, reused or written again by its maker after the push, so it is copied.
          const owned = window !== incoming || isChecked(window.points);
          fitter.fit({ n: window.n, d: window.d, data: window.points }, window.index, owned, answer(window));
        },
        error(err) {
          failed = { error: err };
          finish();
        },
        complete() {
          completed = true;
          finish();
        },
      }),
    );
    return () => {
      subscription.unsubscribe();
      fitter.close();
      deferred = null;
    };
  };
}

/** The window with its points back from the worker (they were moved there: the window it was sent as is empty). */
function returned<R>(window: VectorWindow<R>, points: Float64Array | undefined): VectorWindow<R> {
  return points === undefined ? window : { ...window, points };
}
