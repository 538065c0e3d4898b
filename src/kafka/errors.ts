/**
 * Typed errors of the Kafka edge (one error module per layer): every error `src/kafka` throws is one of these
 * or another {@link EmstreamError} subclass.
 *
 * - {@link KafkaEdgeError}: a failure at the edge (connecting, producing, committing, creating topics, consuming)
 *   or of the pipeline run by `runKafkaPipeline`. Usually retriable: nothing was committed past what was produced.
 * - {@link BrokerUnavailableError}: the brokers did not answer for longer than the retry budget.
 * - {@link StateRestoreError}: the state saved on the models topic cannot be resumed by this pipeline.
 * - {@link InputTopicMissingError}: an input topic does not exist (and was not created within the wait).
 * - {@link MessageFormatError}: a message emstream wrote cannot be read back.
 *
 * @module
 */
import { EmstreamError, type ErrorContext } from '../errors.js';
import type { StateDifference } from '../gmm/errors.js';

/** Context of a {@link KafkaEdgeError}. */
export interface KafkaEdgeErrorContext extends ErrorContext {
  readonly topic?: string;
  readonly partition?: number;
  readonly offset?: string;
  readonly groupId?: string;
  /** The operation that failed: `connect`, `produce`, `commit`, `create-topics`, `restore`, `consume`, `pipeline`, … */
  readonly operation?: string;
  /** The client's own error name behind this one (e.g. `KafkaJSConnectionError`), when it crossed a thread. */
  readonly clientError?: string;
  /** The protocol error type behind this one (e.g. `INVALID_PRODUCER_EPOCH`), when it crossed a thread. */
  readonly clientErrorType?: string;
  /** A transactional producer was fenced: another producer initialized its transactional id. */
  readonly fenced?: boolean;
}

/**
 * A failure at the Kafka edge (connecting, producing, committing, creating topics) or of the pipeline
 * run by `runKafkaPipeline`. Usually retriable: nothing was committed past what was produced, so
 * running again re-consumes from the last commit.
 */
export class KafkaEdgeError extends EmstreamError<KafkaEdgeErrorContext> {
  override readonly name: string = 'KafkaEdgeError';

  /**
   * @param message - what failed, where, and what to do
   * @param context - topic/partition/offset/group and the failed operation
   * @param options - the cause and whether retrying may help (default true)
   */
  constructor(message: string, context: KafkaEdgeErrorContext = {}, options: { cause?: unknown; retriable?: boolean } = {}) {
    super(message, { cause: options.cause, retriable: options.retriable ?? true, context });
  }
}

/** Context of a {@link BrokerUnavailableError}. */
export interface BrokerUnavailableContext extends KafkaEdgeErrorContext {
  /** The bootstrap addresses tried. */
  readonly brokers?: readonly string[];
  /** How long the brokers were retried, in ms. */
  readonly waitedMs: number;
  /** Attempts made. */
  readonly attempts: number;
}

/**
 * The brokers could not be reached (or kept failing) for longer than the retry budget (`brokerTimeoutMs`,
 * `--broker-timeout`): the run ends rather than wait forever. Nothing unacknowledged was committed, so running
 * again once the brokers are back loses nothing.
 */
export class BrokerUnavailableError extends KafkaEdgeError {
  override readonly name: string = 'BrokerUnavailableError';
  declare readonly context: BrokerUnavailableContext;

  /**
   * @param message - what was tried, for how long, the last error, and what to do
   * @param context - brokers, operation, time waited, attempts
   * @param cause - the last error
   */
  constructor(message: string, context: BrokerUnavailableContext, cause?: unknown) {
    super(message, context, { cause, retriable: true });
  }
}

/** Context of an {@link InputTopicMissingError}. */
export interface InputTopicMissingContext extends KafkaEdgeErrorContext {
  /** The input topics that do not exist. */
  readonly missing: readonly string[];
  /** How long they were waited for, in ms. */
  readonly waitedMs: number;
}

/**
 * An input topic did not exist at start and was not created within the wait (`inputTimeoutMs`,
 * `--input-timeout`). emstream never creates its input: the producer (or an administrator) does. Retriable:
 * run again once the topic exists.
 */
export class InputTopicMissingError extends KafkaEdgeError {
  override readonly name: string = 'InputTopicMissingError';
  declare readonly context: InputTopicMissingContext;

  /**
   * @param missing - the topics that do not exist
   * @param waitedMs - how long they were waited for
   */
  constructor(missing: readonly string[], waitedMs: number) {
    const names = missing.map((t) => JSON.stringify(t)).join(', ');
    super(
      `the input topic${missing.length === 1 ? '' : 's'} ${names} ${missing.length === 1 ? 'does' : 'do'} not exist (waited ${Math.round(waitedMs / 1000)} s): ` +
        'create it (e.g. `kafka-topics.sh --create --topic NAME`) or produce to it first, check --input, or wait longer (--input-timeout)',
      { topic: missing[0], operation: 'input-topics', missing, waitedMs },
      { retriable: true },
    );
  }
}

/** Context of a {@link StateRestoreError}. */
export interface StateRestoreContext extends KafkaEdgeErrorContext {
  readonly pipelineId: string;
  /** How the saved state and this pipeline differ (empty when the state is unreadable). */
  readonly differences: readonly StateDifference[];
  /** The model version of the saved state. */
  readonly modelVersion?: number;
}

/**
 * The latest state of a pipeline id on its models topic cannot be resumed: it was made with another K,
 * covariance type, forgetting or dimension (the message names each difference), or it is unreadable. Not
 * retriable: start fresh on purpose (`fresh: true`, `emstream run --fresh`), or use another pipeline id.
 */
export class StateRestoreError extends KafkaEdgeError {
  override readonly name: string = 'StateRestoreError';
  declare readonly context: StateRestoreContext;

  /**
   * @param message - what differs and how to start fresh
   * @param context - pipeline id, models topic, the differences
   * @param cause - the error behind it (e.g. a `StateMismatchError`)
   */
  constructor(message: string, context: StateRestoreContext, cause?: unknown) {
    super(message, context, { cause, retriable: false });
  }
}

/** A message format error: a label, model, dead-letter, window-history or drift message that cannot be read back. */
export class MessageFormatError extends EmstreamError<{ readonly field: string }> {
  override readonly name: string = 'MessageFormatError';

  /**
   * @param message - what is wrong with the message and what to do
   * @param field - the offending field (`''` for the message itself)
   * @param cause - the parse error behind it
   */
  constructor(message: string, field: string, cause?: unknown) {
    super(message, { cause, context: { field } });
  }
}


/** One line about an error: its message (and the cause's, when the client wrapped it). */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error && cause.message !== error.message && !error.message.includes(cause.message) ? `${error.message} (${cause.message})` : error.message;
}
