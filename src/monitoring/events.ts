/**
 * The instrumentation events monitoring listens to, with their payloads as agreed between the
 * workstreams (`em.*` from the operators, `kafka.*` from the Kafka edge).
 *
 * Monitoring only listens: metrics, readiness and the dashboard subscribe to these events and never
 * reach into the pipeline. Fields marked "contract" are the ones the emitters add next to today's
 * fields; they are optional here so that a listener copes with an emitter that does not send them
 * yet (a gauge fed by a missing field is simply not set).
 *
 * @module
 */
import type { Instrumentation } from '../instrumentation.js';

/** Topic and partitions, as in a rebalance. */
export interface TopicPartitions {
  readonly topic: string;
  readonly partitions: readonly number[];
}

/** A committed offset (the next offset to read), as a decimal string. */
export interface CommittedOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** The coordinates of an input record that monitoring reads (a `KafkaRecord` has them). */
export interface AcknowledgedRecord {
  /** Broker or producer timestamp, milliseconds since the epoch, as a decimal string. */
  readonly timestamp: string;
}

/** Payloads of the events monitoring listens to, by event name. */
export interface MonitoringEvents {
  /** A window was fitted. */
  'em.window.fitted': {
    readonly windowIndex: number;
    readonly version: number;
    readonly n: number;
    readonly iterations: number;
    readonly converged: boolean;
    readonly warmStarted: boolean;
    readonly restarted: boolean;
    /** Mean log-likelihood per point on the window under the updated model (nats). */
    readonly logLikelihood: number;
    readonly durationMs: number;
    /** Contract: mean expected complete-data log-likelihood per point. */
    readonly expectedLogLikelihood?: number;
    /** Contract: mean log-likelihood per point under the previous model; null on the first window. */
    readonly predictiveLogLikelihood?: number | null;
    /** Contract: matched distance between the previous model and this one. */
    readonly modelDistance?: number;
    /** Contract: the Page-Hinkley statistic after this window and its alarm threshold λ. */
    readonly pageHinkley?: { readonly statistic: number; readonly threshold: number };
    /** Contract: component weights after this window (K). */
    readonly weights?: readonly number[];
    /** Contract: components re-seeded in this window. */
    readonly reseeded?: readonly number[];
    /** Contract: the current number of components. */
    readonly k?: number;
  };
  /** A drift alarm. */
  'em.drift.detected': {
    readonly windowIndex: number;
    readonly kind: string;
    readonly statistic: number;
    readonly threshold: number;
    /** Contract: the components that moved. */
    readonly components?: readonly number[];
  };
  /** Components were re-seeded (dying-cluster rule). */
  'em.component.reseeded': { readonly windowIndex: number; readonly components: readonly number[]; readonly reason: string };
  /** A window whose fit failed numerically; its records went to the dead-letter path. */
  'em.window.failed': { readonly windowIndex: number; readonly n: number; readonly reason: string; readonly message: string };
  /** A first window with too few distinct points: its points join the next window. */
  'em.window.deferred': { readonly windowIndex: number; readonly n: number };
  /** An input was rejected (invalid vector). */
  'em.input.rejected': { readonly reason: string; readonly message: string };

  'kafka.connect': { readonly role: 'consumer' | 'producer' | 'admin' };
  'kafka.disconnect': { readonly role: 'consumer' | 'producer' | 'admin' };
  /** The broker was unavailable: the edge backs off and retries. */
  'kafka.retry': { readonly operation: string; readonly attempt: number; readonly delayMs: number; readonly error: string };
  'kafka.rebalance': { readonly groupId: string; readonly assigned: readonly TopicPartitions[]; readonly revoked: readonly TopicPartitions[] };
  'kafka.consumer.crash': { readonly groupId: string; readonly error: string; readonly restart: boolean };
  /** Once per fetched batch; consumer lag = highWatermark − lastOffset − 1. */
  'kafka.fetch': { readonly topic: string; readonly partition: number; readonly messages: number; readonly highWatermark: string; readonly lastOffset: string };
  /** `done: false` when a wait for in-flight records starts, `true` when it ends. */
  'kafka.backpressure.wait': { readonly inFlight: number; readonly maxInFlight: number; readonly waitedMs: number; readonly done: boolean };
  /** One acknowledged produce batch. */
  'kafka.ack': { readonly messages: number; readonly bytes: number; readonly durationMs: number };
  'kafka.commit': { readonly offsets: readonly CommittedOffset[] };
  'kafka.dead-letter': { readonly reason: string; readonly topic: string; readonly partition: number; readonly offset: string; readonly bytes: number; readonly truncated: boolean };
  /** Every output of a window was acknowledged by the broker. */
  'kafka.window.acknowledged': {
    readonly windowIndex: number;
    readonly version: number;
    readonly labelled: number;
    /** Milliseconds since the epoch. */
    readonly acknowledgedAt: number;
    readonly records: readonly AcknowledgedRecord[];
  };
  'kafka.state.restored': { readonly pipelineId: string; readonly modelVersion: number; readonly windowIndex: number; readonly offsets: unknown };
  'kafka.state.fresh': { readonly pipelineId: string; readonly reason: 'none-saved' | 'fresh-requested' };
  /** Readiness changed (connected, assigned, not stuck on backpressure). */
  'kafka.ready': { readonly ready: boolean; readonly reason: string };
}

export type MonitoringEventName = keyof MonitoringEvents;

/** What monitoring needs of an event emitter: `on()` that returns the unsubscribe function. */
export interface MonitoringEventSource {
  on<E extends MonitoringEventName>(event: E, listener: (payload: MonitoringEvents[E]) => void): () => void;
}

/**
 * The monitoring view of an {@link Instrumentation}: the same object, typed with every event
 * monitoring listens to (`Instrumentation` routes any event name at run time; its static event map
 * grows the `kafka.*` events as the edge emits them).
 *
 * @param instrumentation - the pipeline's instrumentation, or any emitter with the same `on()`
 * @returns the same object, typed as a {@link MonitoringEventSource}
 */
export function monitoringSource(instrumentation: Instrumentation | MonitoringEventSource): MonitoringEventSource {
  return instrumentation as unknown as MonitoringEventSource;
}
