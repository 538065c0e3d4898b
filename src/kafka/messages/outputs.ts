/**
 * Window outputs: what a window produces for one topic (labels, the state, the window history, drift alarms, or an
 * output of your own), and the window index they write.
 *
 * @module
 */
import type { ProducedMessage } from '../client/ports.js';
import type { EventOffset } from '../events.js';
import type { MixtureUpdate } from '../../operators/types.js';

/** One outgoing message: the topic and the message. */
export interface OutgoingMessage {
  readonly topic: string;
  readonly message: ProducedMessage;
}

/** What an output sees of an acknowledged-to-be window. */
export interface WindowOutcome<R = unknown> {
  readonly update: MixtureUpdate<R>;
  readonly pipelineId: string;
  /** Fitted windows of the pipeline id before this one ({@link messageWindowIndex}). */
  readonly windowIndex: number;
  /** The input offsets the state covers after this window. */
  readonly offsets: readonly EventOffset[];
}

/** Settings of a topic the runner creates for an output. */
export interface OutputTopicSettings {
  /** `cleanup.policy=compact` (the models topic). */
  readonly compacted?: boolean;
  /** `max.message.bytes` of the created topic. */
  readonly maxMessageBytes?: number;
  /** `retention.ms` of the created topic (delete policy: messages older than this are removed). */
  readonly retentionMs?: number;
  /** Partitions of the created topic (default: the run's `topicPartitions`). */
  readonly partitions?: number;
}

/**
 * One output of a window: a topic and the messages of each window for it. The runner produces every output's
 * messages of a window together and commits the window's inputs once all are acknowledged, so more outputs (a drift
 * topic, a window history) plug in beside the labels and the state without touching delivery.
 */
export interface WindowOutput<R = unknown> {
  readonly topic: string;
  /**
   * The output writes the state (the models topic): at least once, the delivery asks it for the windows of its
   * state schedule only, and commits no further than the last state written covers.
   */
  readonly state?: boolean;
  /** How the runner creates the topic when it is missing. */
  readonly settings?: OutputTopicSettings;
  /**
   * Appends the window's messages for this output to `into`. A state output may be asked later (the state
   * schedule), when a window lent by `windowVectors({ reuseBuffers })` (as the standard pipeline's are) may have been
   * taken back: read the update's model, state, labels and records, not `window.points`.
   */
  messages(outcome: WindowOutcome<R>, into: OutgoingMessage[]): void;
}

/** The window index written in messages: fitted windows of the pipeline id before this one (a shared model's member: its own window counter). */
export function messageWindowIndex(update: MixtureUpdate<unknown>): number {
  // A member of a shared model counts its own windows (its state is the global model's).
  if (update.contributions !== undefined) return update.windowIndex;
  const windows = update.state?.windows;
  return typeof windows === 'number' && windows >= 1 ? windows - 1 : update.windowIndex;
}
