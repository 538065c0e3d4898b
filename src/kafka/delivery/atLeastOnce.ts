/**
 * At-least-once delivery: batched sends with in-order acknowledgements, and an offset tracker that commits only
 * what is acknowledged.
 *
 * @module
 */
import type { Logger } from 'pino';
import type { EmstreamError } from '../../errors.js';
import type { Instrumentation } from '../../instrumentation.js';
import type { MixtureUpdate } from '../../operators/types.js';
import { recordCoordinates } from '../../operators/vectorInput.js';
import { isRetriable } from '../client/errorNames.js';
import type { ProducerLike, TopicPartitionOffset } from '../client/ports.js';
import { describeError, type KafkaEdgeError } from '../errors.js';
import type { EventOffset } from '../events.js';
import { deadLetterEvent, deadLetterMessage, type DeadLetterSource } from '../messages/deadLetters.js';
import { messageWindowIndex, type OutgoingMessage, type WindowOutcome, type WindowOutput } from '../messages/outputs.js';
import { backoffDelay } from '../run/retry.js';
import { BatchSender, type BatchSenderOptions } from './batchSender.js';
import type { Delivery, DeliveryCounters } from './delivery.js';
import { Coverage, lastOffsets } from './coverage.js';
import { OffsetTracker } from './offsets.js';

/** Options of {@link AtLeastOnceDelivery}. */
export interface AtLeastOnceDeliveryOptions<R> {
  /** A connected producer (kafkajs, or the worker-thread producer). */
  readonly producer: ProducerLike & { resume?: () => void };
  /** Commits positions (`consumer.commitOffsets`). */
  readonly commit: (offsets: TopicPartitionOffset[]) => Promise<void>;
  /** What each window produces, in order (labels, state, …). */
  readonly outputs: readonly WindowOutput<R>[];
  /** The dead-letter topic and its `max.message.bytes` (dead letters are cut to fit, with a header saying so). */
  readonly deadLetters: { readonly topic: string; readonly maxMessageBytes?: number };
  /** Key of the state messages, written to dead-letter headers. */
  readonly pipelineId: string;
  /**
   * Commit as soon as acknowledged outputs move a position (default true; one commit in flight at a time, the
   * next one right after it when positions moved meanwhile).
   */
  readonly commitOnAcknowledge?: boolean;
  /** Commit at least this often while positions move, in ms (default 1000); also retries failed commits. */
  readonly commitIntervalMs?: number;
  /**
   * When the state outputs ({@link WindowOutput.state}) write: every `everyWindows` windows, or when `intervalMs` passed
   * since the last state (0: by count only), and before every commit asked for (a rebalance, a stop). Default: every window.
   */
  readonly stateSchedule?: { readonly everyWindows: number; readonly intervalMs: number };
  /** Batching of the sends (see {@link BatchSender}). */
  readonly batch?: Pick<BatchSenderOptions, 'maxBatchMessages' | 'maxBatchBytes' | 'lingerMs' | 'maxConcurrentSends'>;
  /** Coverage of the restored state (its `offsets`), carried into the next state messages. */
  readonly initialCoverage?: readonly EventOffset[];
  /** Receives `kafka.ack`, `kafka.commit`, `kafka.dead-letter`, `kafka.window.acknowledged`, `kafka.retry`. */
  readonly instrumentation?: Instrumentation;
  /** Told of broker successes and retriable failures (sends, commits). */
  readonly health?: { ok(): void; failed(operation: string, error: unknown): void };
  /** Called once when a send fails for good or the delivery is aborted. */
  readonly onError?: (error: KafkaEdgeError) => void;
  readonly logger?: Logger;
}

/**
 * At-least-once delivery: a {@link BatchSender} for the outputs and an {@link OffsetTracker} for the commits.
 *
 * 1. `window(update)`: the outputs' messages of the window (labels, then the state message with the offsets it
 *    covers, then any further output) go into the sender together; once acknowledged, every record of the window's
 *    partitions up to the window's last offset is finished (`markDoneThrough`).
 * 2. `deadLetter(…)`: the dead letter (cut to the topic's limit when needed) is enqueued; its record is claimed,
 *    and finished when acknowledged.
 * 3. Commits: as soon as a position moves (with `commitOnAcknowledge`), and every `commitIntervalMs`; one at a time.
 *    So after a crash at most what was in flight is produced again (labels sent but not yet acknowledged, and
 *    what was acknowledged in the last commit's round trip).
 * 4. The state (`stateSchedule`): the state outputs write on every `everyWindows`-th window, when `intervalMs` passed
 *    since the last state, and before a commit asked for ({@link commit}: a rebalance) or the last one ({@link close});
 *    a window's records finish only once a state covering them is acknowledged, so every committed position is
 *    covered by a written state and a restart resumes exactly there. After a crash the windows since the last state
 *    are read again too.
 * 5. Sends that fail retriably (brokers unavailable) are retried with backoff by the sender (`kafka.retry`); the
 *    run's broker health decides when to give up ({@link abort}).
 */
export class AtLeastOnceDelivery<R> implements Delivery<R> {
  readonly tracker: OffsetTracker;
  private readonly sender: BatchSender;
  private readonly covered: Coverage;
  private committing: Promise<TopicPartitionOffset[]> | undefined;
  private again = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private failure: KafkaEdgeError | undefined;
  private readonly counts = { labelled: 0, windows: 0, deadLettered: 0 };
  /** The outputs of every window, and the state outputs (written on the schedule). */
  private readonly everyWindow: readonly WindowOutput<R>[];
  private readonly stateOutputs: readonly WindowOutput<R>[];
  /** Windows enqueued since the last state, and when that state was enqueued. */
  private sinceState = 0;
  private stateAt = Date.now();
  /** The last offsets of the windows enqueued since the last state: finished once a state covering them is acknowledged. */
  private waiting: Map<string, TopicPartitionOffset>[] = [];
  /** The last window's outcome (a late state is written from it). */
  private lastOutcome: WindowOutcome<R> | undefined;
  private retryWarned = false;

  /** @param options - producer, commit function, outputs, dead-letter topic, commit policy, events */
  constructor(private readonly options: AtLeastOnceDeliveryOptions<R>) {
    const { instrumentation, health, logger } = options;
    this.tracker = new OffsetTracker({
      commit: options.commit,
      onAdvance: options.commitOnAcknowledge === false ? undefined : () => this.commitSoon(),
    });
    this.covered = new Coverage(options.initialCoverage);
    this.stateOutputs = options.outputs.filter((o) => o.state === true);
    this.everyWindow = options.outputs.filter((o) => o.state !== true);
    this.sender = new BatchSender(options.producer, {
      ...options.batch,
      logger,
      onError: (err) => {
        this.failure ??= err;
        options.onError?.(err);
      },
      onAcknowledged: (info) => {
        health?.ok();
        if (this.retryWarned) {
          this.retryWarned = false;
          logger?.info('the brokers answer again: sending resumed');
        }
        if (instrumentation?.listening('kafka.ack')) instrumentation.emit('kafka.ack', info);
      },
      retry: {
        shouldRetry: isRetriable,
        delayMs: (attempt) => backoffDelay(attempt, 500, 5000),
        onRetry: ({ attempt, delayMs, error }) => {
          health?.failed('produce', error);
          instrumentation?.emit('kafka.retry', { operation: 'produce', attempt, delayMs, error: describeError(error) });
          if (!this.retryWarned) {
            this.retryWarned = true;
            logger?.warn({ error: describeError(error), pending: this.sender.pending }, 'could not produce: the brokers do not answer; retrying (nothing unacknowledged is committed)');
          }
        },
      },
    });
    const interval = options.commitIntervalMs ?? 1000;
    const stateInterval = options.stateSchedule?.intervalMs ?? 0;
    const tick = Math.min(interval > 0 ? interval : Infinity, stateInterval > 0 && (options.stateSchedule?.everyWindows ?? 1) > 1 ? stateInterval : Infinity);
    if (Number.isFinite(tick)) {
      this.timer = setInterval(() => {
        // An idle stream's windows waiting for a state get it once the interval passed; then the commit.
        if (stateInterval > 0 && Date.now() - this.stateAt >= stateInterval) this.writeState();
        if (interval > 0) void this.commitFinished().catch(() => undefined);
      }, tick);
    }
  }

  get error(): EmstreamError | undefined {
    return this.failure;
  }

  get counters(): DeliveryCounters {
    return { ...this.counts };
  }

  coverage(): EventOffset[] {
    return this.covered.offsets();
  }

  window(update: MixtureUpdate<R>): void {
    if (this.failure !== undefined) return;
    // Per partition, the window's last offset: everything up to it is finished once the outputs are acknowledged.
    const last = lastOffsets(update.window.records);
    this.covered.advance(last);
    const messages: OutgoingMessage[] = [];
    const outcome: WindowOutcome<R> = { update, pipelineId: this.options.pipelineId, windowIndex: messageWindowIndex(update), offsets: this.coverage() };
    this.lastOutcome = outcome;
    const schedule = this.options.stateSchedule;
    this.sinceState++;
    const stateNow =
      this.stateOutputs.length === 0 ||
      schedule === undefined ||
      this.sinceState >= schedule.everyWindows ||
      (schedule.intervalMs > 0 && Date.now() - this.stateAt >= schedule.intervalMs);
    for (const output of stateNow ? this.options.outputs : this.everyWindow) output.messages(outcome, messages);
    // The window's records finish with the state that covers them: this window's, or a later one.
    this.waiting.push(last);
    const finished = stateNow ? this.stateWritten() : [];
    const labelled = update.labels.length;
    const enqueuedAt = Date.now();
    this.sender.enqueue(messages, () => {
      this.counts.windows++;
      this.counts.labelled += labelled;
      this.finish(finished);
      const instrumentation = this.options.instrumentation;
      if (instrumentation?.listening('kafka.window.acknowledged')) {
        instrumentation.emit('kafka.window.acknowledged', {
          windowIndex: outcome.windowIndex,
          version: update.version,
          labelled,
          acknowledgedAt: Date.now(),
          enqueuedAt,
          records: update.window.records as never,
        });
      }
      this.options.logger?.debug({ windowIndex: outcome.windowIndex, version: update.version, n: update.window.n, logLikelihood: update.logLikelihood }, 'window acknowledged');
    });
  }

  /** A state is being enqueued: the windows waiting for it, handed to its acknowledgement. */
  private stateWritten(): Map<string, TopicPartitionOffset>[] {
    const finished = this.waiting;
    this.waiting = [];
    this.sinceState = 0;
    this.stateAt = Date.now();
    return finished;
  }

  private finish(windows: readonly Map<string, TopicPartitionOffset>[]): void {
    for (const last of windows) for (const { topic, partition, offset } of last.values()) this.tracker.markDoneThrough(topic, partition, offset);
  }

  /** Writes the state of the last window when windows wait for one (their records finish once it is acknowledged). */
  private writeState(): void {
    if (this.failure !== undefined || this.waiting.length === 0 || this.lastOutcome === undefined) return;
    const messages: OutgoingMessage[] = [];
    for (const output of this.stateOutputs) output.messages(this.lastOutcome, messages);
    const finished = this.stateWritten();
    this.sender.enqueue(messages, () => this.finish(finished));
  }

  deadLetter(source: DeadLetterSource, reason: string, message: string): void {
    if (this.failure !== undefined) return;
    this.counts.deadLettered++;
    const { topic, partition, offset } = recordCoordinates(source);
    const traceable = topic !== undefined && partition !== undefined && offset !== undefined;
    if (traceable) this.tracker.claim(topic, partition, offset);
    const letter = deadLetterMessage(source, reason, message, { pipelineId: this.options.pipelineId, maxMessageBytes: this.options.deadLetters.maxMessageBytes });
    this.sender.enqueue([{ topic: this.options.deadLetters.topic, message: letter }], () => {
      if (traceable) this.tracker.markDone(topic, partition, offset);
      const instrumentation = this.options.instrumentation;
      if (instrumentation?.listening('kafka.dead-letter')) instrumentation.emit('kafka.dead-letter', deadLetterEvent(letter, reason, { topic, partition, offset }));
    });
  }

  /** A position moved: commit now, or right after the commit in flight. */
  private commitSoon(): void {
    if (this.closed || this.failure !== undefined) return;
    if (this.committing !== undefined) {
      this.again = true;
      return;
    }
    void this.commitFinished().catch(() => undefined);
  }

  commit(): Promise<TopicPartitionOffset[]> {
    // A commit asked for (a rebalance, a stop) covers every acknowledged window: their state first.
    this.writeState();
    return this.commitFinished();
  }

  /** Commits what is finished now. */
  private commitFinished(): Promise<TopicPartitionOffset[]> {
    if (this.failure !== undefined) return Promise.resolve([]);
    if (this.committing !== undefined) {
      this.again = true;
      return this.committing;
    }
    const run = this.tracker.commit().then(
      (positions) => {
        if (positions.length > 0) {
          this.options.health?.ok();
          const instrumentation = this.options.instrumentation;
          if (instrumentation?.listening('kafka.commit')) instrumentation.emit('kafka.commit', { offsets: positions.map((p) => ({ topic: p.topic, partition: p.partition, offset: p.offset })) });
        }
        return positions;
      },
      (err: unknown) => {
        // A commit during a rebalance fails (the positions are committed again after it); brokers away count as a failure.
        if (isRetriable(err)) this.options.health?.failed('commit', err);
        this.options.logger?.debug({ error: describeError(err) }, 'offset commit failed; committed again at the next acknowledgement or interval');
        throw err;
      },
    );
    this.committing = run;
    const settle = (): void => {
      this.committing = undefined;
      if (this.again) {
        this.again = false;
        this.commitSoon();
      }
    };
    run.then(settle, settle);
    return run;
  }

  flush(): Promise<void> {
    return this.sender.flush();
  }

  async close(timeoutMs = 5000): Promise<TopicPartitionOffset[]> {
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    if (this.failure !== undefined && this.failure.name === 'BrokerUnavailableError') return [];
    let timer: NodeJS.Timeout | undefined;
    try {
      const inFlight = this.committing?.catch(() => []);
      await Promise.race([
        (async () => {
          await inFlight;
          this.committing = undefined;
          // The state of the windows still waiting for one, acknowledged before the last commit.
          if (this.waiting.length > 0) {
            this.writeState();
            await this.sender.flush().catch(() => undefined);
          }
          await this.tracker.commit();
        })(),
        new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs))),
      ]);
    } finally {
      clearTimeout(timer);
    }
    return this.tracker.committable();
  }

  abort(error: KafkaEdgeError): void {
    this.failure ??= error;
    this.closed = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.sender.abort(error);
  }
}
