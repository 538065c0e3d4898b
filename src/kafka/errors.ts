/**
 * Typed errors of the Kafka edge (one error module per layer): every error `src/kafka` throws is one of these
 * or another {@link EmstreamError} subclass.
 *
 * - {@link KafkaEdgeError}: a failure at the edge (connecting, producing, committing, creating topics, consuming)
 *   or of the pipeline run by `runKafkaPipeline`. Usually retriable: nothing was committed past what was produced.
 * - {@link BrokerUnavailableError}: the brokers did not answer for longer than the retry budget.
 * - {@link StateRestoreError}: the state saved on the models topic cannot be resumed by this pipeline.
 * - {@link BrokerLaunchError}: the local development broker (`emstream broker`) could not be started.
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

/** What went wrong while launching a local broker; lets callers branch without parsing messages. */
export type BrokerLaunchReason = 'java-missing' | 'maven-missing' | 'resolve-failed' | 'format-failed' | 'exited-early' | 'start-timeout' | 'port-in-use';

/** Hint appended to every {@link BrokerLaunchError} message: the ways to get a broker. */
const WHAT_TO_DO =
  'To get a broker: install Java 17+ and Maven 3.8+ (e.g. `apt-get install openjdk-17-jdk-headless maven`) so ' +
  '`emstream broker` can run Kafka locally, or point at an existing broker with KAFKA_BROKERS=host:port, ' +
  'or run one in Docker with `docker compose up`.';

/** Context of a {@link BrokerLaunchError}. */
export interface BrokerLaunchContext extends ErrorContext {
  readonly reason: BrokerLaunchReason;
  /** The port in question (`port-in-use`). */
  readonly port?: number;
}

/**
 * Raised when the local development broker (`startLocalKafka`, `emstream broker`) cannot be resolved,
 * formatted, started, or does not answer in time, or when a port asked for is taken.
 *
 * The message says what failed and what to do; `logTail` holds the last lines the JVM or Maven printed
 * (kept out of the message's first line, so the CLI can print one line).
 */
export class BrokerLaunchError extends EmstreamError<BrokerLaunchContext> {
  override readonly name: string = 'BrokerLaunchError';
  /** Machine-readable cause of the failure. */
  readonly reason: BrokerLaunchReason;
  /** The last lines of output from the failing process (Maven or the broker), oldest first. */
  readonly logTail: readonly string[];

  /**
   * @param reason - what failed
   * @param message - what happened; the "what to do" hint is appended (not for `port-in-use`, whose message says it)
   * @param options - `cause`, `logTail`, `retriable` (default false) and the `port`
   */
  constructor(reason: BrokerLaunchReason, message: string, options: { cause?: unknown; logTail?: readonly string[]; retriable?: boolean; port?: number } = {}) {
    super(reason === 'port-in-use' ? message : `${message} ${WHAT_TO_DO}`, {
      cause: options.cause,
      retriable: options.retriable ?? false,
      context: options.port === undefined ? { reason } : { reason, port: options.port },
    });
    this.reason = reason;
    this.logTail = options.logTail ?? [];
  }
}
