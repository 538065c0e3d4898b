/**
 * Restarting a consumer the client left stopped although the brokers were only away.
 *
 * kafkajs 2.2.4 restarts a crashed consumer itself when it deems the error retriable (`restart: true` on its
 * `consumer.crash` event). One error that means "no broker answered" is not deemed so:
 * `KafkaJSGroupCoordinatorNotFound` extends `KafkaJSNonRetriableError`. The consumer throws it when it looks for its
 * group's coordinator while every broker is away, which happens when the brokers restart while the consumer is
 * rejoining. The consumer has then left its group and disconnected, and nothing restarts it: a run would stop on a
 * broker restart or not, depending on when its consumer looked for the coordinator.
 *
 * {@link ConsumerRestarts} does what the client would have done: connects and runs the consumer again after a
 * backoff, until it is back or the outage has lasted longer than a bound. {@link seekQuietly} seeks a partition
 * without failing while such a consumer is between its crash and its restart.
 *
 * @module
 */
import type { Logger } from 'pino';
import { BrokerUnavailableError, describeError } from '../errors.js';
import { isRetriable } from './errorNames.js';
import type { ConsumerLike, TopicPartitionOffset } from './ports.js';

/**
 * Whether kafkajs restarts a crashed consumer from this error by itself: its own test (kafkajs 2.2.4
 * `consumer/index.js`, `onCrash`), before a `retry.restartOnFailure` callback is asked.
 */
function clientRestartsFrom(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if ((error as { name?: unknown }).name === 'KafkaJSNumberOfRetriesExceeded') return true;
  let e = error as { cause?: unknown; retriable?: unknown };
  for (let depth = 0; depth < 6 && typeof e.cause === 'object' && e.cause !== null; depth++) e = e.cause as typeof e;
  return e.retriable === true;
}

/**
 * Whether a crash the client does not restart from should be restarted from all the same: the error says the
 * brokers did not answer ({@link isRetriable}), and the client declined only because of the error's class (not
 * because a `retry.restartOnFailure` callback of the user's said no to an error it would otherwise restart from).
 *
 * @param error - the crash's error (kafkajs `consumer.crash` payload)
 */
export function restartsAfterOutage(error: unknown): boolean {
  return isRetriable(error) && !clientRestartsFrom(error);
}

/** Options of {@link ConsumerRestarts}. */
export interface ConsumerRestartsOptions {
  /** Runs the consumer again (`consumer.run` with the first run's configuration); called after `connect`. */
  readonly run: () => Promise<void>;
  /** Connects the consumer again (`consumer.connect`). */
  readonly connect: () => Promise<void>;
  /** How long an outage may last, from its first crash without a restart, before {@link ConsumerRestartsOptions.onGiveUp} (ms). */
  readonly withinMs: number;
  /** Called once when the consumer did not come back within `withinMs`, or a restart failed on an error that is not an outage. */
  readonly onGiveUp: (error: Error) => void;
  /** The first wait before a restart, in ms (default 500); it doubles with each attempt of an outage. */
  readonly initialBackoffMs?: number;
  /** The longest wait between restarts, in ms (default 5000). */
  readonly maxBackoffMs?: number;
  /** Names the consumer in messages, e.g. `the consumer of "points"`. */
  readonly what: string;
  readonly logger?: Logger;
}

/**
 * Restarts a consumer after crashes the client does not restart from, during an outage of the brokers.
 *
 * 1. {@link crashed} (a crash with `restart: false`): when its error passes {@link restartsAfterOutage}, schedules
 *    `connect` then `run` after a backoff (500 ms, doubling, at most 5 s); otherwise it returns false and the caller
 *    ends. A restart that fails on an outage schedules the next; one that starts crashes again through the client's
 *    event, and comes back here.
 * 2. {@link recovered} (the consumer joined its group or fetched) ends the outage: the next one starts afresh.
 * 3. When an outage has lasted `withinMs` without the consumer coming back, or a restart fails on an error that
 *    is not an outage, `onGiveUp` is called once with a typed error, and nothing more is tried.
 * 4. {@link stop} cancels a pending restart (the Observable was unsubscribed or completed).
 */
export class ConsumerRestarts {
  private outageSince: number | undefined;
  private attempts = 0;
  private timer: NodeJS.Timeout | undefined;
  private finished = false;

  /** @param options - how to restart, the bound, what to call on giving up */
  constructor(private readonly options: ConsumerRestartsOptions) {}

  /**
   * A crash the client does not restart from (`restart: false`). When its error says the brokers were away
   * ({@link restartsAfterOutage}), a restart is scheduled (or, past the bound, `onGiveUp` is called) and the crash is
   * handled here; otherwise the caller ends what the consumer feeds.
   *
   * @param error - the crash's error
   * @returns true when the crash is an outage this handles, false when the caller must end
   */
  crashed(error: unknown): boolean {
    if (!restartsAfterOutage(error)) return false;
    this.schedule(error);
    return true;
  }

  /** Schedules a restart after the outage's next backoff, or gives up past the bound. */
  private schedule(error: unknown): void {
    if (this.finished) return;
    const now = Date.now();
    this.outageSince ??= now;
    const waitedMs = now - this.outageSince;
    if (waitedMs >= this.options.withinMs) {
      this.giveUp(this.unavailable(error, waitedMs));
      return;
    }
    const initial = this.options.initialBackoffMs ?? 500;
    const delay = Math.min(this.options.maxBackoffMs ?? 5000, initial * 2 ** Math.min(this.attempts, 16), this.options.withinMs - waitedMs);
    this.attempts++;
    this.options.logger?.[this.attempts === 1 ? 'warn' : 'debug'](
      { error: describeError(error), attempt: this.attempts, inMs: delay },
      `${this.options.what} stopped on "brokers unavailable" and its client does not restart it: restarting it`,
    );
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.restart();
    }, delay);
  }

  /** The consumer is back (it joined its group, or fetched): the outage is over. */
  recovered(): void {
    if (this.outageSince !== undefined) this.options.logger?.info({ attempts: this.attempts }, `${this.options.what} is back after a restart`);
    this.outageSince = undefined;
    this.attempts = 0;
  }

  /** Cancels a pending restart; nothing more is tried. */
  stop(): void {
    this.finished = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async restart(): Promise<void> {
    if (this.finished) return;
    try {
      await this.options.connect();
      if (this.finished) return;
      // A join that fails now crashes the consumer again: the client's event brings it back to `crashed`.
      await this.options.run();
    } catch (err) {
      if (this.finished) return;
      if (isRetriable(err)) this.schedule(err);
      else this.giveUp(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private unavailable(error: unknown, waitedMs: number): BrokerUnavailableError {
    return new BrokerUnavailableError(
      `${this.options.what} could not rejoin its group: the brokers did not answer for ${Math.round(waitedMs / 1000)} s (${this.attempts} restart${this.attempts === 1 ? '' : 's'}; last: ${describeError(error)}); ` +
        'check that the brokers run, or raise the retry budget (brokerTimeoutMs, --broker-timeout-ms). Nothing unacknowledged was committed: running again loses nothing',
      { operation: 'consume', waitedMs, attempts: this.attempts },
      error,
    );
  }

  private giveUp(error: Error): void {
    if (this.finished) return;
    this.stop();
    this.options.onGiveUp(error);
  }
}

/**
 * Seeks a partition, tolerating a consumer that cannot seek now: kafkajs refuses a seek while its consumer is between
 * a crash and its restart ("consumer#run must be called first"). For callers whose seek saves reading but is not
 * needed for correctness: a follower seeks again after its restart; a task's partition is read from its last commit,
 * and what `skipBelow` covers is finished without being emitted, so nothing is counted twice.
 *
 * @param consumer - the consumer (its `seek` is optional)
 * @param position - where the partition goes on
 * @param logger - told (debug) when the seek is refused
 */
export function seekQuietly(consumer: ConsumerLike, position: TopicPartitionOffset, logger?: Logger): void {
  try {
    consumer.seek?.(position);
  } catch (err) {
    logger?.debug({ err, ...position }, 'seek refused: the consumer is between a crash and its restart');
  }
}
