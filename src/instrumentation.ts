import type { KafkaEvents } from './kafka/events.js';

/**
 * Instrumentation events, in the manner of kafkajs' `consumer.on(...)`: namespaced names, `on()`
 * returns an unsubscribe function, and a listener that throws cannot break the pipeline (its error
 * is reported to the `error` listeners of the emitter, or dropped).
 */
export interface EmEvents {
  /** A window was fitted. */
  'em.window.fitted': {
    windowIndex: number;
    version: number;
    n: number;
    iterations: number;
    converged: boolean;
    warmStarted: boolean;
    restarted: boolean;
    /** Mean log-likelihood per point on the window under the updated model. */
    logLikelihood: number;
    durationMs: number;
    /** Mean expected complete-data log-likelihood per point on the window under the updated model. */
    expectedLogLikelihood: number;
    /** Mean log-likelihood per point of the window under the previous model (null on the first window). */
    predictiveLogLikelihood: number | null;
    /** Matched distance between the previous model and this one. */
    modelDistance: number;
    /** The Page-Hinkley statistic after this window and its threshold λ. */
    pageHinkley: { statistic: number; threshold: number };
    /** Every statistic that can raise a drift alarm, on this window, against its threshold. */
    driftStatistics: {
      likelihood: { statistic: number; threshold: number };
      modelDistance: { statistic: number; threshold: number };
      component: { statistic: number; threshold: number; label: number | null };
      weights: { statistic: number; threshold: number };
    };
    /** The drift state after this window: drifting since the onset of a change, its severity (largest statistic / threshold) and progress (model distance travelled since the onset). */
    drifting: { active: boolean; since: number | null; kinds: string[]; components: number[]; severity: number; progress: number };
    /** Component weights after this window (K, in component order; see `labelIds`). */
    weights: number[];
    /** Labels of the components re-seeded on this window. */
    reseeded: number[];
    /** Labels whose re-seed of the previous window this window reverted (it did not predict this window better). */
    reverted: number[];
    /** The current number of components. */
    k: number;
    /** The label of each component (component index → label). */
    labelIds: number[];
  };
  /** A drift alarm: the onset of a change (`components`: the labels whose change begins, for `component` alarms). */
  'em.drift.detected': { windowIndex: number; kind: string; statistic: number; threshold: number; components?: number[] };
  /** The model is stable again: the drifting state that began at window `since` ended on this window, `windows` later. */
  'em.drift.ended': { windowIndex: number; since: number; windows: number };
  /**
   * Components were re-seeded where the likelihood gains most (birth and death): `reason` `'starved'` (weight below
   * minWeight/K) or `'redundant'` (others explain its points). A re-seed is a hypothesis the next window judges.
   */
  'em.component.reseeded': { windowIndex: number; components: number[]; reason: string };
  /** The re-seed of the previous window did not predict this window better: the model without it continues. */
  'em.component.reverted': { windowIndex: number; components: number[] };
  /** An input was rejected (dead letter). */
  'em.input.rejected': { reason: string; message: string };
  /** A window could not be fitted yet (too few distinct points for a first model): its points are carried to the next window. */
  'em.window.deferred': { windowIndex: number; n: number };
  /**
   * A window that could not be fitted, its records sent to the dead-letter path: `reason` `'unfittable'`, the
   * fit failed numerically (a typed `CovarianceError`, `DataError` or `NumericError`; the model stayed as it
   * was and the stream went on); `'too-few-points'`, the stream ended before a first model had the K distinct
   * points it needs. `message` says which and what to do.
   */
  'em.window.failed': { windowIndex: number; n: number; reason: string; message: string };
}

export type EmEventName = keyof EmEvents;

/** Every event: the `em.*` ones above and the Kafka edge's `kafka.*` ones (`src/kafka/events.ts`). */
export type EmstreamEvents = EmEvents & KafkaEvents;
export type EmstreamEventName = keyof EmstreamEvents;
type Listener<E extends EmstreamEventName> = (payload: EmstreamEvents[E]) => void;

/**
 * What a listener needs of an emitter: `on()` typed over every event, returning the unsubscribe function.
 * {@link Instrumentation} is one; metrics, readiness and the dashboard accept any.
 */
export interface EventSource {
  on<E extends EmstreamEventName>(event: E, listener: (payload: EmstreamEvents[E]) => void): () => void;
}

/** A typed event emitter whose listeners cannot throw into the caller. */
export class Instrumentation implements EventSource {
  private readonly listeners = new Map<EmstreamEventName, Set<(p: never) => void>>();
  private readonly errors = new Set<(err: unknown, event: EmstreamEventName) => void>();

  /** Subscribes; returns the unsubscribe function. */
  on<E extends EmstreamEventName>(event: E, listener: Listener<E>): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (p: never) => void);
    return () => {
      set.delete(listener as (p: never) => void);
    };
  }

  /** Called when a listener throws. */
  onListenerError(listener: (err: unknown, event: EmstreamEventName) => void): () => void {
    this.errors.add(listener);
    return () => {
      this.errors.delete(listener);
    };
  }

  /** Whether anyone listens to `event` (build costly payloads only then). */
  listening(event: EmstreamEventName): boolean {
    const set = this.listeners.get(event);
    return set !== undefined && set.size > 0;
  }

  /** Emits to every listener; a throwing listener is isolated. */
  emit<E extends EmstreamEventName>(event: E, payload: EmstreamEvents[E]): void {
    const set = this.listeners.get(event);
    if (!set) return;
    for (const l of set) {
      try {
        (l as Listener<E>)(payload);
      } catch (err) {
        for (const e of this.errors) {
          try {
            e(err, event);
          } catch {
            // an error handler that throws is ignored too
          }
        }
      }
    }
  }
}
