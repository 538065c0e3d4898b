/**
 * What `fitMixture` does with a window around its fit, on the calling thread or with the fit on a worker thread
 * (`fitMixtureOffThread`): join a deferred first window to the next, make the update (its model and state on
 * demand), emit its events, send the records of an unfittable window to the dead-letter path, end a stream that
 * never had a model.
 *
 * @module
 */
import type { Subscriber } from 'rxjs';
import { CovarianceError, DataError, NumericError } from '../gmm/errors.js';
import { paramsToJSON, type MixtureJSON } from '../gmm/model.js';
import type { StreamingStateJSON } from '../gmm/streaming.js';
import type { GmmParams } from '../gmm/types.js';
import type { Instrumentation } from '../instrumentation.js';
import type { InvalidVector, MixtureUpdate, VectorWindow } from './types.js';

/** The typed errors of a window that cannot be fitted (as opposed to a wrong configuration or a bug). */
export function isUnfittable(err: unknown): err is CovarianceError | DataError | NumericError {
  return err instanceof CovarianceError || err instanceof DataError || err instanceof NumericError;
}

/** Concatenates two windows (a deferred one and the next). */
export function concatWindows<R>(a: VectorWindow<R>, b: VectorWindow<R>): VectorWindow<R> {
  if (a.n > 0 && b.n > 0 && a.d !== b.d) throw new DataError(`windows of dimension ${a.d} and ${b.d} cannot be combined: every window must have the same dimension`);
  const d = a.n > 0 ? a.d : b.d;
  const points = new Float64Array((a.n + b.n) * d);
  points.set(a.points.subarray(0, a.n * d), 0);
  points.set(b.points.subarray(0, b.n * d), a.n * d);
  return { index: b.index, n: a.n + b.n, d, points, records: [...a.records, ...b.records], rejected: a.rejected + b.rejected };
}

/**
 * The update of a window with its model and state made on demand: `model` (the JSON form of `params`) and `state`
 * (the JSON form of `snapshot`) are computed when first read, then kept, so a consumer that reads neither (or reads
 * the state only every N windows) pays for no serialisation.
 */
export function lazyUpdate<R>(fields: Omit<MixtureUpdate<R>, 'model' | 'state'>, params: GmmParams, snapshot: () => StreamingStateJSON): MixtureUpdate<R> {
  let model: MixtureJSON | undefined;
  let state: StreamingStateJSON | undefined;
  return Object.defineProperties(fields as MixtureUpdate<R>, {
    model: { enumerable: true, configurable: true, get: () => (model ??= paramsToJSON(params)) },
    state: { enumerable: true, configurable: true, get: () => (state ??= snapshot()) },
  });
}

/** The instrumentation events of one fitted window. */
export function emitWindowEvents<R>(instrumentation: Instrumentation, update: MixtureUpdate<R>, weights: Float64Array, durationMs: number): void {
  if (instrumentation.listening('em.window.fitted')) {
    instrumentation.emit('em.window.fitted', {
      windowIndex: update.windowIndex,
      version: update.version,
      n: update.window.n,
      iterations: update.iterations,
      converged: update.converged,
      warmStarted: update.warmStarted,
      restarted: update.restarted,
      logLikelihood: update.logLikelihood,
      durationMs,
      expectedLogLikelihood: update.expectedLogLikelihood,
      predictiveLogLikelihood: update.predictiveLogLikelihood,
      modelDistance: update.modelDistance,
      pageHinkley: { ...update.pageHinkley },
      driftStatistics: {
        likelihood: { ...update.driftStatistics.likelihood },
        modelDistance: { ...update.driftStatistics.modelDistance },
        component: { ...update.driftStatistics.component },
        weights: { ...update.driftStatistics.weights },
      },
      drifting: { ...update.drifting, kinds: [...update.drifting.kinds], components: [...update.drifting.components] },
      weights: Array.from(weights),
      reseeded: [...update.reseeded],
      reverted: [...update.reverted],
      k: update.k,
      labelIds: [...update.labelIds],
    });
  }
  emitModelEvents(instrumentation, update);
}

/**
 * The events of what a window did to the model: drift alarms and the end of a drift, re-seeds and their reverts (also
 * emitted by a shared model's reducer for its rounds, where drift and birth and death are decided).
 */
export function emitModelEvents<R>(instrumentation: Instrumentation, update: MixtureUpdate<R>): void {
  for (const e of update.drift) instrumentation.emit('em.drift.detected', { ...e, components: e.components === undefined ? undefined : [...e.components] });
  if (update.driftEnded !== null) instrumentation.emit('em.drift.ended', { windowIndex: update.windowIndex, since: update.driftEnded.since, windows: update.windowIndex - update.driftEnded.since });
  const reasons = new Map<string, number[]>();
  update.reseeded.forEach((label, i) => {
    const reason = update.reseedReasons[i];
    reasons.set(reason, [...(reasons.get(reason) ?? []), label]);
  });
  for (const [reason, components] of reasons) instrumentation.emit('em.component.reseeded', { windowIndex: update.windowIndex, components, reason });
  if (update.reverted.length > 0) instrumentation.emit('em.component.reverted', { windowIndex: update.windowIndex, components: [...update.reverted] });
}

/**
 * Sends every record of a window that could not be fitted to `onInvalid` (reason `'unfittable'`) after an
 * `em.window.failed` event; the model stays as it was.
 */
export function dropWindow<R>(window: VectorWindow<R>, err: Error, onInvalid: (invalid: InvalidVector<R>) => void, subscriber: Subscriber<unknown>, instrumentation: Instrumentation | undefined): void {
  instrumentation?.emit('em.window.failed', { windowIndex: window.index, n: window.n, reason: 'unfittable', message: err.message });
  for (const record of window.records) {
    if (subscriber.closed) return;
    onInvalid({ record, reason: 'unfittable', message: `window ${window.index} could not be fitted: ${err.message}` });
  }
}

/**
 * Ends a stream whose first window never had K distinct points: says so (`em.window.failed`, reason
 * `'too-few-points'`) and sends its records to `onInvalid`, or errors with a `DataError` when there is no such
 * handler; then completes.
 */
export function endWithoutModel<R>(window: VectorWindow<R> | null, minK: number, onInvalid: ((invalid: InvalidVector<R>) => void) | undefined, subscriber: Subscriber<unknown>, instrumentation: Instrumentation | undefined): void {
  if (window !== null) {
    const message =
      `the stream ended with ${window.n} point${window.n === 1 ? '' : 's'} and no model: a first model needs at least ` +
      `k = ${minK} distinct points; lower k or send more data`;
    instrumentation?.emit('em.window.failed', { windowIndex: window.index, n: window.n, reason: 'too-few-points', message });
    if (onInvalid === undefined) {
      subscriber.error(new DataError(`fitMixture: ${message}`, { n: window.n, k: minK }));
      return;
    }
    for (const record of window.records) {
      if (subscriber.closed) return;
      onInvalid({ record, reason: 'unfittable', message });
    }
  }
  subscriber.complete();
}
