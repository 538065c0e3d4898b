/**
 * The `kafka.*` instrumentation events emitted by the Kafka edge (the contract in the team's EVENTS.md):
 * their names and payloads. They are merged into the event map of `Instrumentation`, so
 * `instrumentation.on('kafka.commit', (e) => …)` is typed.
 *
 * Payloads are built only when someone listens (`instrumentation.listening(name)`), so emitting costs
 * nothing measurable otherwise.
 *
 * @module
 */
import type { KafkaRecord } from './source/record.js';

/** Partitions of one topic. */
export interface TopicPartitions {
  readonly topic: string;
  readonly partitions: number[];
}

/** A committed (or covered) position: the offset of the next record to read, as a decimal string. */
export interface EventOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** Which client a connection event is about. */
export type KafkaRole = 'consumer' | 'producer' | 'admin';

/** Event name → payload of every `kafka.*` event. */
export interface KafkaEvents {
  /** A client connected. */
  'kafka.connect': { role: KafkaRole };
  /** A client disconnected. */
  'kafka.disconnect': { role: KafkaRole };
  /** The brokers are unavailable: `operation` is retried after `delayMs` (attempt counts from 1). */
  'kafka.retry': { operation: string; attempt: number; delayMs: number; error: string };
  /** The group rebalanced: what this member got and what it lost. */
  'kafka.rebalance': { groupId: string; assigned: TopicPartitions[]; revoked: TopicPartitions[] };
  /** The consumer crashed; `restart` tells whether the client restarts it. */
  'kafka.consumer.crash': { groupId: string; error: string; restart: boolean };
  /** One fetched batch of one partition (consumer lag = highWatermark − lastOffset − 1). */
  'kafka.fetch': { topic: string; partition: number; messages: number; highWatermark: string; lastOffset: string };
  /** Backpressure: the consumer waits for outputs to be acknowledged (`done` false when a wait starts, true when it ends). */
  'kafka.backpressure.wait': { inFlight: number; maxInFlight: number; waitedMs: number; done: boolean };
  /** One produce batch acknowledged by the brokers. */
  'kafka.ack': { messages: number; bytes: number; durationMs: number };
  /** Positions committed (the offset of the next record to read). */
  'kafka.commit': { offsets: EventOffset[] };
  /** A record went to the dead-letter topic (once acknowledged); `bytes` is its value's length as sent. */
  'kafka.dead-letter': { reason: string; topic: string; partition: number; offset: string; bytes: number; truncated: boolean };
  /**
   * A window's outputs (labels, state, …) were acknowledged (exactly-once: committed). `enqueuedAt` is when the
   * window was handed to the delivery, so `acknowledgedAt − enqueuedAt` is what delivery adds to its latency.
   * `records` are the window's input records: compute end-to-end latency from `records[i].timestamp` lazily
   * (nothing per record is computed for this event).
   */
  'kafka.window.acknowledged': { windowIndex: number; version: number; labelled: number; acknowledgedAt: number; enqueuedAt: number; records: readonly KafkaRecord[] };
  /** The runner resumed the pipeline from its saved state. */
  'kafka.state.restored': { pipelineId: string; modelVersion: number; windowIndex: number; offsets: EventOffset[] };
  /** The runner starts the pipeline without a saved state. */
  'kafka.state.fresh': { pipelineId: string; reason: 'none-saved' | 'fresh-requested' };
  /** Readiness changed (connected, assigned partitions, not stuck on backpressure, brokers answering); for `/readyz`. */
  'kafka.ready': { ready: boolean; reason: string };
}

/** The names of the `kafka.*` events. */
export type KafkaEventName = keyof KafkaEvents;
