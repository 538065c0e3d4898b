import type { OperatorFunction } from 'rxjs';
import { CovarianceError, DataError, NumericError } from '../gmm/errors.js';
import { paramsToJSON, type MixtureJSON } from '../gmm/model.js';
import { resolveStreamingOptions, StreamingGmm, type StreamingOptions, type StreamingStateJSON } from '../gmm/streaming.js';
import type { GmmParams } from '../gmm/types.js';
import type { Instrumentation } from '../instrumentation.js';
import { inPhase } from '../gmm/stream/profile.js';
import { operate, operatorSubscriber } from './operate.js';
import { claimPipelineState, claimSharedModel, scopeOnInvalid } from './pipelineScope.js';
import { sharedMember } from './sharedMember.js';
import type { InvalidVector, MixtureUpdate, VectorWindow } from './types.js';

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
}

/** The typed errors of a window that cannot be fitted (as opposed to a wrong configuration or a bug). */
function isUnfittable(err: unknown): err is CovarianceError | DataError | NumericError {
  return err instanceof CovarianceError || err instanceof DataError || err instanceof NumericError;
}

/** Concatenates two windows (a deferred one and the next). */
function concatWindows<R>(a: VectorWindow<R>, b: VectorWindow<R>): VectorWindow<R> {
  if (a.n > 0 && b.n > 0 && a.d !== b.d) throw new DataError(`windows of dimension ${a.d} and ${b.d} cannot be combined: every window must have the same dimension`);
  const d = a.n > 0 ? a.d : b.d;
  const points = new Float64Array((a.n + b.n) * d);
  points.set(a.points.subarray(0, a.n * d), 0);
  points.set(b.points.subarray(0, b.n * d), a.n * d);
  return { index: b.index, n: a.n + b.n, d, points, records: [...a.records, ...b.records], rejected: a.rejected + b.rejected };
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
  const { instrumentation, onInvalid: ownOnInvalid, ...given } = options;
  resolveStreamingOptions(given, 'fitMixture');
  const onInvalid: ((invalid: InvalidVector<R>) => void) | undefined = ownOnInvalid ?? scopeOnInvalid();
  const own = given.initialState !== undefined || given.initialModel !== undefined || given.initialStats !== undefined;
  // Built by a runner that shares one model over its consumer group: a member (labels and contributions, no fit).
  const shared = claimSharedModel(!own, given);
  if (shared !== undefined) return sharedMember({ streaming: given, instrumentation, onInvalid }, shared);
  const restored = claimPipelineState(!own);
  const streaming: StreamingOptions = restored === undefined ? given : { ...given, initialState: restored };
  return operate((source, subscriber) => {
    const gmm = new StreamingGmm(streaming);
    let deferred: VectorWindow<R> | null = null;
    const subscription = source.subscribe(
      operatorSubscriber<VectorWindow<R>>(subscriber, {
        next(incoming) {
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
            instrumentation?.emit('em.window.failed', { windowIndex: window.index, n: window.n, reason: 'unfittable', message: err.message });
            for (const record of window.records) {
              if (subscriber.closed) return;
              onInvalid({ record, reason: 'unfittable', message: `window ${window.index} could not be fitted: ${err.message}` });
            }
            return;
          }
          if (instrumentation) {
            const u = update;
            inPhase('emission', () => emitWindowEvents(instrumentation, u, weights, performance.now() - started));
          }
          subscriber.next(update);
        },
        complete() {
          if (deferred !== null) {
            // The stream ended before a first model could be fitted: say so rather than end silently.
            const window = deferred;
            deferred = null;
            const minK = typeof given.k === 'number' ? given.k : given.k.min;
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
        },
      }),
    );
    return () => {
      subscription.unsubscribe();
      deferred = null;
    };
  });
}

/**
 * The update of a window with its model and state made on demand: `model` (the JSON form of `params`) and `state`
 * (the JSON form of `snapshot`) are computed when first read, then kept, so a consumer that reads neither (or reads
 * the state only every N windows) pays for no serialisation.
 */
function lazyUpdate<R>(fields: Omit<MixtureUpdate<R>, 'model' | 'state'>, params: GmmParams, snapshot: () => StreamingStateJSON): MixtureUpdate<R> {
  let model: MixtureJSON | undefined;
  let state: StreamingStateJSON | undefined;
  return Object.defineProperties(fields as MixtureUpdate<R>, {
    model: { enumerable: true, configurable: true, get: () => (model ??= paramsToJSON(params)) },
    state: { enumerable: true, configurable: true, get: () => (state ??= snapshot()) },
  });
}

/** The instrumentation events of one fitted window. */
function emitWindowEvents<R>(instrumentation: Instrumentation, update: MixtureUpdate<R>, weights: Float64Array, durationMs: number): void {
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
