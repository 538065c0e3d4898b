/**
 * Delivery: how a window's outputs and the dead letters reach Kafka, and when the inputs behind them are committed.
 *
 * {@link Delivery} is the seam between the runner and the brokers: enqueue a window's outputs (labels, state, and
 * any further output topic), send a dead letter, commit, flush, close. `AtLeastOnceDelivery` (`atLeastOnce.ts`)
 * sends in batches and commits what is acknowledged; `ExactlyOnceDelivery` (`exactlyOnce.ts`) commits each window's
 * outputs, its state and the offsets it finishes in one transaction.
 *
 * @module
 */
import type { EmstreamError } from '../../errors.js';
import type { MixtureUpdate } from '../../operators/types.js';
import type { TopicPartitionOffset } from '../client/ports.js';
import type { KafkaEdgeError } from '../errors.js';
import type { EventOffset } from '../events.js';
import type { DeadLetterSource } from '../messages/deadLetters.js';
import type { OffsetTracker } from './offsets.js';

/** What a {@link Delivery} counts. */
export interface DeliveryCounters {
  /** Labels acknowledged by the brokers. */
  readonly labelled: number;
  /** Windows whose outputs were acknowledged. */
  readonly windows: number;
  /** Dead letters enqueued. */
  readonly deadLettered: number;
}

/**
 * The delivery seam of a Kafka pipeline run: outputs in, commits out.
 *
 * The records of a window, and a dead-lettered record, count as finished once their outputs are acknowledged; a
 * delivery commits, per partition, the offset after the longest finished prefix, and nothing beyond it.
 */
export interface Delivery<R = unknown> {
  /** The tracker the source registers consumed records with (and waits on for backpressure). */
  readonly tracker: OffsetTracker;
  /** Enqueues a window's outputs (every {@link WindowOutput}); its records finish once all are acknowledged. */
  window(update: MixtureUpdate<R>): void;
  /** Sends a rejected record to the dead-letter topic; it finishes once acknowledged. */
  deadLetter(source: DeadLetterSource, reason: string, message: string): void;
  /** Commits what is finished now (a delivery also commits by itself); resolves with the positions committed. */
  commit(): Promise<TopicPartitionOffset[]>;
  /** Resolves when everything enqueued so far is acknowledged; rejects when a send failed for good. */
  flush(): Promise<void>;
  /** Stops committing by itself and makes a last commit (bounded by `timeoutMs`); the clients stay connected. */
  close(timeoutMs?: number): Promise<TopicPartitionOffset[]>;
  /** Fails for good (e.g. the brokers stayed unavailable past the budget): nothing more is sent or committed. */
  abort(error: KafkaEdgeError): void;
  /** The failure that stopped this delivery, if any. */
  readonly error: EmstreamError | undefined;
  readonly counters: DeliveryCounters;
  /** Per input partition, the offset after the last record in a window's statistics so far. */
  coverage(): EventOffset[];
}
