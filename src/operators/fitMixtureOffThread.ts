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
import { checkNotReleased, ownedWindow } from './windowVectors.js';

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
 *    the next, as on the calling thread); updates are emitted in window order when their fits come back. While no
 *    model exists, the windows after one sent to make the first model wait for its answer: if that fit fails, they
 *    are taken as on the calling thread (a window of too few distinct points waits for the next, it is not fitted
 *    without a model). The
 *    window's points move to the worker and back when `windowVectors` made them (its windows own their buffers, or
 *    lend them with `reuseBuffers`, which then takes new memory for a later window): the update's `window` holds
 *    them, the window object that came in is left with an empty `points`. A lent window held for a first model is
 *    copied first. Any other window's points are copied (its maker may hold them, reuse them or write them again),
 *    and the update's `window` is that window, as on the calling thread.
 * 2. An unfittable window's records go to `onInvalid` as on the calling thread; any other error of a fit errors the
 *    output, as does a worker that cannot start or dies (`ThreadPoolError`). A saved state or model the options
 *    refuse errors the output when it is subscribed, as on the calling thread.
 * 3. The source's completion completes the output after the last update, and its error errors it after the updates
 *    of the windows it sent before (as on the calling thread); unsubscribing stops the worker.
 */
export function offThreadBody<R>(settings: OffThreadSettings<R>): (source: Observable<VectorWindow<R>>, subscriber: Subscriber<MixtureUpdate<R>>) => TeardownLogic {
  const { streaming, minK, instrumentation, onInvalid } = settings;
  return (source, subscriber) => {
    // A saved state or model is checked here too, as on the calling thread: one these options refuse errors the output
    // when it is subscribed (a runner refuses it before it consumes anything), and no worker is started for it.
    if (streaming.initialState !== undefined || streaming.initialModel !== undefined) new StreamingGmm(streaming);
    const fitter = new WindowFitter(streaming, (err) => subscriber.error(err));
    let deferred: VectorWindow<R> | null = null;
    // A model exists (restored, or fitted on a window): a window is fitted however few distinct points it has.
    const initiallyModelled = streaming.initialState?.model != null || streaming.initialModel !== undefined;
    let fitted = false;
    // The windows that came while the fit that would make the first model was in flight (null: none is): taken when
    // its answer says whether there is a model.
    let held: VectorWindow<R>[] | null = null;
    let completed = false;
    // The source's error, held until the windows it sent before it are answered.
    let failed: { readonly error: unknown } | null = null;

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
          if (onInvalid === undefined || !isUnfittable(outcome.error)) throw outcome.error;
          dropWindow(returned(window, outcome.points), outcome.error, onInvalid, subscriber, instrumentation);
        }
        // The windows held for this answer, as they came (a failed first fit leaves no model: they are checked again).
        const waiting = held;
        held = null;
        for (const w of waiting ?? []) {
          if (subscriber.closed) return;
          accept(w);
        }
        finish();
      });

    const accept = (incoming: VectorWindow<R>): void => {
      checkNotReleased(incoming, 'fitMixture');
      if (held !== null) {
        // (a lent window of windowVectors' reuseBuffers is taken back once the next one was handled: one held longer is copied)
        held.push(ownedWindow(incoming));
        return;
      }
      const window = deferred ? concatWindows(deferred, incoming) : incoming;
      deferred = null;
      if (window.n === 0) return;
      const modelled = initiallyModelled || fitted;
      if (!modelled && countDistinctRows({ n: window.n, d: window.d, data: window.points }, minK) < minK) {
        deferred = window;
        instrumentation?.emit('em.window.deferred', { windowIndex: window.index, n: window.n });
        return;
      }
      // This fit makes the first model, or fails: the next windows wait for its answer.
      if (!modelled) held = [];
      // Only points whose buffer windowVectors or this operator (joining a deferred window) made are moved (a lent one
      // too: windowVectors then takes new memory for a later window): a window built elsewhere may be held, reused or
      // written again by its maker after the push, so it is copied.
      const owned = window !== incoming || isChecked(window.points);
      fitter.fit({ n: window.n, d: window.d, data: window.points }, window.index, owned, answer(window));
    };

    const subscription = source.subscribe(
      operatorSubscriber<VectorWindow<R>>(subscriber, {
        next: accept,
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
      held = null;
    };
  };
}

/** The window with its points back from the worker (they were moved there: the window it was sent as is empty). */
function returned<R>(window: VectorWindow<R>, points: Float64Array | undefined): VectorWindow<R> {
  return points === undefined ? window : { ...window, points };
}
