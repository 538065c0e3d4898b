/**
 * Errors of the development tools (one error module per layer): {@link BrokerLaunchError}, raised when the local
 * development broker (`emstream broker`, `startLocalKafka`) cannot be started.
 *
 * @module
 */
import { EmstreamError, type ErrorContext } from '../errors.js';

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
