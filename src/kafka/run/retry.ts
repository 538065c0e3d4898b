/**
 * Retrying while the brokers are unavailable, within a budget: the backoff, a retry loop for start-up operations,
 * and {@link BrokerHealth}, which ends a run whose brokers have not answered for longer than the budget. Which
 * errors may go away is the client adapter's call (`client/errorNames.ts`).
 *
 * @module
 */
import type { Logger } from 'pino';
import { EmstreamError } from '../../errors.js';
import type { Instrumentation } from '../../instrumentation.js';
import { isRetriable } from '../client/errorNames.js';
import { BrokerUnavailableError, describeError } from '../errors.js';

/**
 * The wait before retry `attempt`: exponential from `initialMs`, capped at `maxMs`, with ±20 % jitter.
 *
 * @param attempt - 1 for the first retry
 * @param initialMs - the first wait (default 250)
 * @param maxMs - the longest wait (default 5000)
 */
export function backoffDelay(attempt: number, initialMs = 250, maxMs = 5000): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.8 + 0.4 * Math.random()));
}

/** Options of {@link retryBrokerOperation}. */
export interface RetryOptions {
  /** Give up after this epoch time (ms). */
  readonly deadline: number;
  /** What the budget was, for the message (ms). */
  readonly budgetMs: number;
  readonly brokers?: readonly string[];
  readonly instrumentation?: Instrumentation;
  readonly logger?: Logger;
  /** Stop retrying when it aborts (the last error is thrown). */
  readonly signal?: AbortSignal;
  /**
   * Level of the line logged at each retry (default `'warn'`: while the brokers do not answer, one line per retry
   * says so, with the error and how long it goes on; `'debug'` keeps them out of a warn-level log).
   */
  readonly noticeLevel?: 'warn' | 'debug';
}

/**
 * Runs a broker operation until it succeeds: a retriable failure is retried after a backoff (emitting
 * `kafka.retry`, logging one line per retry) until `deadline`, then a {@link BrokerUnavailableError} says
 * for how long it tried, the last error, and what to do. A failure that is not retriable is thrown as is.
 *
 * @param operation - what is tried, e.g. `connect`, `create-topics`, `restore`
 * @param fn - the operation (called again from scratch on each attempt)
 * @param options - deadline, budget, brokers, events, logger
 * @returns what `fn` returns
 * @throws BrokerUnavailableError when the deadline passes
 */
export async function retryBrokerOperation<T>(operation: string, fn: () => Promise<T>, options: RetryOptions): Promise<T> {
  const started = Date.now();
  let lastError: unknown;
  for (let attempt = 1; ; attempt++) {
    // An attempt may not outlast the budget (a connection to a host that never answers waits for its timeouts).
    let timer: NodeJS.Timeout | undefined;
    const outOfTime = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlineReached(lastError)), Math.max(0, options.deadline - Date.now()));
    });
    try {
      return await Promise.race([fn(), outOfTime]);
    } catch (caught) {
      const timedOut = caught instanceof DeadlineReached;
      const err = timedOut ? (caught.last ?? caught) : caught;
      lastError = err;
      if (!timedOut && !isRetriable(err)) throw err;
      const now = Date.now();
      const remaining = options.deadline - now;
      if (timedOut || remaining <= 0 || options.signal?.aborted === true) {
        throw brokerUnavailable(operation, err, { brokers: options.brokers, waitedMs: now - started, attempts: attempt, budgetMs: options.budgetMs });
      }
      const delayMs = Math.min(remaining, backoffDelay(attempt));
      options.instrumentation?.emit('kafka.retry', { operation, attempt, delayMs, error: describeError(err) });
      options.logger?.[options.noticeLevel ?? 'warn'](
        { operation, attempt, delayMs, error: describeError(err), budgetMs: options.budgetMs },
        `the Kafka brokers do not answer (${operation}): ${describeError(err)}; retry ${attempt} in ${(delayMs / 1000).toFixed(1)} s, for up to ${Math.round(remaining / 1000)} s more`,
      );
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    } finally {
      clearTimeout(timer);
    }
  }
}

/** The budget ran out while an attempt was still waiting (internal: turned into a BrokerUnavailableError). */
class DeadlineReached extends EmstreamError {
  override readonly name: string = 'DeadlineReached';
  constructor(readonly last: unknown) {
    super('no answer from the brokers within the retry budget', { retriable: true });
  }
}

/** The error that ends a run (or a start) whose brokers did not answer within the budget. */
export function brokerUnavailable(
  operation: string,
  error: unknown,
  details: { brokers?: readonly string[]; waitedMs: number; attempts: number; budgetMs: number },
): BrokerUnavailableError {
  const where = details.brokers === undefined ? 'the Kafka brokers' : `the Kafka brokers ${details.brokers.join(',')}`;
  return new BrokerUnavailableError(
    `could not reach ${where} (${operation}) for ${Math.round(details.waitedMs / 1000)} s (${details.attempts} attempt${details.attempts === 1 ? '' : 's'}): ${describeError(error)}; ` +
      `check --brokers and that the brokers run (start one with \`emstream broker\`), or raise the retry budget (brokerTimeoutMs, --broker-timeout-ms; now ${details.budgetMs} ms). ` +
      'Nothing unacknowledged was committed: running again loses nothing',
    { brokers: details.brokers, operation, waitedMs: details.waitedMs, attempts: details.attempts },
    error,
  );
}

/** Options of {@link BrokerHealth}. */
export interface BrokerHealthOptions {
  /** How long the brokers may fail before the run ends (ms). */
  readonly budgetMs: number;
  readonly brokers?: readonly string[];
  /** Called once when the budget is exhausted. */
  readonly onExhausted: (error: BrokerUnavailableError) => void;
  /** Told when the brokers start failing and when they answer again (for readiness). */
  readonly onChange?: (failing: boolean) => void;
  /** How often to check (ms, default 1000). */
  readonly checkEveryMs?: number;
}

/**
 * Whether the brokers answer, from what the edge sees: successes (an acknowledged send, a fetched batch, a
 * heartbeat, a commit) and retriable failures (a send, a commit, a consumer crash the client restarts from). When a
 * failure was seen and nothing succeeded for longer than the budget, `onExhausted` is called once with a
 * {@link BrokerUnavailableError}: the run ends rather than stay alive and idle.
 */
export class BrokerHealth {
  private lastOk = Date.now();
  private failure: { operation: string; error: unknown; attempts: number } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private exhausted = false;

  /** @param options - budget, brokers, callbacks */
  constructor(private readonly options: BrokerHealthOptions) {}

  /** Starts checking (every second by default). */
  start(): void {
    this.lastOk = Date.now();
    this.timer ??= setInterval(() => this.check(), this.options.checkEveryMs ?? 1000);
  }

  /** Stops checking. */
  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Whether a failure was seen since the last success. */
  get failing(): boolean {
    return this.failure !== undefined;
  }

  /** A broker operation succeeded. */
  ok(): void {
    this.lastOk = Date.now();
    if (this.failure !== undefined) {
      this.failure = undefined;
      this.options.onChange?.(false);
    }
  }

  /**
   * A broker operation failed with a retriable error.
   *
   * @param operation - e.g. `produce`, `commit`, `consume`
   * @param error - the error
   */
  failed(operation: string, error: unknown): void {
    const first = this.failure === undefined;
    this.failure = { operation, error, attempts: (this.failure?.attempts ?? 0) + 1 };
    if (first) this.options.onChange?.(true);
  }

  /** Ends the run when the brokers have failed for longer than the budget. */
  check(): void {
    if (this.exhausted || this.failure === undefined) return;
    const waitedMs = Date.now() - this.lastOk;
    if (waitedMs <= this.options.budgetMs) return;
    this.exhausted = true;
    this.stop();
    const { operation, error, attempts } = this.failure;
    this.options.onExhausted(brokerUnavailable(operation, error, { brokers: this.options.brokers, waitedMs, attempts, budgetMs: this.options.budgetMs }));
  }
}
