/**
 * Exactly-once delivery: a task's outputs, its state message and the offsets they finish, committed together in one
 * transaction of the task's own transactional producer.
 *
 * @module
 */
import type { Logger } from 'pino';
import type { EmstreamError } from '../../errors.js';
import type { Instrumentation } from '../../instrumentation.js';
import type { MixtureUpdate } from '../../operators/types.js';
import { recordCoordinates } from '../../operators/vectorInput.js';
import { isFenced, isRetriable } from '../client/errorNames.js';
import type { ProducedMessage, TopicPartitionOffset, TransactionOffsets } from '../client/ports.js';
import type { TransactionalProducerLike } from '../client/transactions.js';
import { describeError, KafkaEdgeError } from '../errors.js';
import type { EventOffset, KafkaEvents } from '../events.js';
import { deadLetterEvent, deadLetterMessage, type DeadLetterSource } from '../messages/deadLetters.js';
import { messageWindowIndex, type OutgoingMessage, type WindowOutput } from '../messages/outputs.js';
import { messageBytesBound } from '../messages/sizes.js';
import { backoffDelay } from '../run/retry.js';
import { Coverage, lastOffsets } from './coverage.js';
import type { Delivery, DeliveryCounters } from './delivery.js';
import type { OffsetTracker } from './offsets.js';

/** Options of {@link ExactlyOnceDelivery}. */
export interface ExactlyOnceDeliveryOptions<R> {
  /** The task's transactional producer, connected (its id initialized: earlier producers of it fenced). */
  readonly producer: TransactionalProducerLike;
  /** The run's offset manager (shared with the source). */
  readonly tracker: OffsetTracker;
  /** The input partition the task owns: its position is committed with each transaction. */
  readonly task: { readonly topic: string; readonly partition: number };
  /** The consumer group whose offsets the transactions commit. */
  readonly group: string;
  /** What each window produces, in order (labels, the task's state, window history, drift, …). */
  readonly outputs: readonly WindowOutput<R>[];
  /** The dead-letter topic and its `max.message.bytes`. */
  readonly deadLetters: { readonly topic: string; readonly maxMessageBytes?: number };
  readonly pipelineId: string;
  /** Coverage of the restored state, carried into the next state messages. */
  readonly initialCoverage?: readonly EventOffset[];
  /** Bounds of one send within a transaction (default 1000 messages, 768 KiB counted as an upper bound). */
  readonly batch?: { readonly maxBatchMessages?: number; readonly maxBatchBytes?: number };
  /**
   * While outputs keep coming, a transaction goes on taking them for at most this long before it commits, in ms
   * (default 100): one commit then covers several windows when the task is behind. A window that arrives alone is
   * committed at once.
   */
  readonly maxTransactionMs?: number;
  readonly instrumentation?: Instrumentation;
  /** Told of broker successes and retriable failures. */
  readonly health?: { ok(): void; failed(operation: string, error: unknown): void };
  /** A failure for good (not retriable, not a fencing): the run stops. */
  readonly onError?: (error: KafkaEdgeError) => void;
  /** The producer was fenced (another owner initialized the task's transactional id) or cannot go on: the task must be closed. */
  readonly onLost?: (error: unknown) => void;
  readonly logger?: Logger;
}

/** What one window or one dead letter puts in a transaction. */
interface Unit {
  readonly messages: readonly OutgoingMessage[];
  /** Records finished by this unit (held in flight until it commits). */
  readonly records: number;
  /** The task partition's position once this unit is committed (undefined: it moves no position). */
  readonly position: string | undefined;
  readonly enqueuedAt: number;
  readonly window?: { readonly update: MixtureUpdate<unknown>; readonly windowIndex: number };
  readonly deadLetter?: KafkaEvents['kafka.dead-letter'];
}

/**
 * Exactly-once delivery for one task (one input partition): every output of a window (labels, its state message,
 * window history, drift) and the position after it commit in one transaction, or none of them does.
 *
 * 1. `window(update)` and `deadLetter(…)` queue a unit: its messages, and the records it finishes — marked finished in
 *    the offset manager at once (its position is the one the transaction will commit) and held in flight until it
 *    commits, so backpressure waits for committed outputs.
 * 2. One transaction at a time: it sends the queued units (several sends per transaction when they are many; a
 *    unit is never split over two transactions), taking more while they keep coming for up to `maxTransactionMs`,
 *    then adds the position of the last unit (`sendOffsets`, the consumer group's offset) and commits.
 * 3. Committed: counters, `kafka.ack`, `kafka.commit`, `kafka.window.acknowledged` and `kafka.dead-letter`.
 * 4. A retriable failure (brokers away): abort, wait (backoff), send the same units again in a new transaction —
 *    nothing of the aborted one is visible to read_committed readers. Fenced (another member now owns the
 *    partition) or a producer that cannot go on: `onLost`; the task is closed and its units dropped (the new owner
 *    reads them again from the committed offset). Anything else ends the run (`onError`).
 */
export class ExactlyOnceDelivery<R> implements Delivery<R> {
  readonly tracker: OffsetTracker;
  private readonly covered: Coverage;
  private readonly queue: Unit[] = [];
  private busy = false;
  private needsAbort = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private retryWarned = false;
  private closed = false;
  /** Closing: no new transaction starts; the one running may finish. */
  private closing = false;
  private lost = false;
  private running: Promise<void> = Promise.resolve();
  private failure: KafkaEdgeError | undefined;
  private held = 0;
  private readonly counts = { labelled: 0, windows: 0, deadLettered: 0 };
  private committedPositions: TopicPartitionOffset[] = [];
  private idleWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private readonly maxBatchMessages: number;
  private readonly maxBatchBytes: number;
  private readonly maxTransactionMs: number;

  /** @param options - producer, tracker, task partition, outputs, dead-letter topic, events */
  constructor(private readonly options: ExactlyOnceDeliveryOptions<R>) {
    this.tracker = options.tracker;
    this.covered = new Coverage(options.initialCoverage);
    this.maxBatchMessages = options.batch?.maxBatchMessages ?? 1000;
    this.maxBatchBytes = options.batch?.maxBatchBytes ?? 768 * 1024;
    this.maxTransactionMs = options.maxTransactionMs ?? 100;
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

  /** Whether the task's producer was lost (fenced, or unusable): nothing more is sent. */
  get isLost(): boolean {
    return this.lost;
  }

  /** Marks records finished and holds them until their unit commits; returns how many. */
  private finish(mark: () => void): number {
    const before = this.tracker.inFlight;
    mark();
    const records = before - this.tracker.inFlight;
    this.tracker.hold(records);
    this.held += records;
    return records;
  }

  private position(): string | undefined {
    return this.tracker.position(this.options.task.topic, this.options.task.partition);
  }

  window(update: MixtureUpdate<R>): void {
    if (this.stopped()) return;
    const last = lastOffsets(update.window.records);
    this.covered.advance(last);
    const messages: OutgoingMessage[] = [];
    const windowIndex = messageWindowIndex(update);
    const outcome = { update, pipelineId: this.options.pipelineId, windowIndex, offsets: this.coverage() };
    for (const output of this.options.outputs) output.messages(outcome, messages);
    const records = this.finish(() => {
      for (const { topic, partition, offset } of last.values()) this.tracker.markDoneThrough(topic, partition, offset);
    });
    this.enqueue({ messages, records, position: this.position(), enqueuedAt: Date.now(), window: { update: update as MixtureUpdate<unknown>, windowIndex } });
  }

  deadLetter(source: DeadLetterSource, reason: string, message: string): void {
    if (this.stopped()) return;
    this.counts.deadLettered++;
    const { topic, partition, offset } = recordCoordinates(source);
    const traceable = topic !== undefined && partition !== undefined && offset !== undefined;
    const letter = deadLetterMessage(source, reason, message, { pipelineId: this.options.pipelineId, maxMessageBytes: this.options.deadLetters.maxMessageBytes });
    const records = traceable ? this.finish(() => this.tracker.markDone(topic, partition, offset)) : 0;
    this.enqueue({ messages: [{ topic: this.options.deadLetters.topic, message: letter }], records, position: this.position(), enqueuedAt: Date.now(), deadLetter: deadLetterEvent(letter, reason, { topic, partition, offset }) });
  }

  private stopped(): boolean {
    return this.failure !== undefined || this.lost || this.closed;
  }

  private enqueue(unit: Unit): void {
    this.queue.push(unit);
    this.pump();
  }

  /** Starts a transaction when none runs and units wait (and no retry is pending). */
  private pump(): void {
    if (this.busy || this.closing || this.retryTimer !== undefined || this.failure !== undefined || this.lost || this.queue.length === 0) {
      this.checkIdle();
      return;
    }
    this.busy = true;
    this.running = this.transaction().finally(() => {
      this.busy = false;
      this.pump();
    });
  }

  /** One transaction: send queued units (more while they come, within `maxTransactionMs`), add the position, commit. */
  private async transaction(): Promise<void> {
    const { producer, task, group } = this.options;
    const started = performance.now();
    const units: Unit[] = [];
    let messages = 0;
    let bytes = 0;
    try {
      if (this.needsAbort) {
        await producer.abort();
        this.needsAbort = false;
      }
      while (this.queue.length > 0 && (units.length === 0 || performance.now() - started < this.maxTransactionMs)) {
        // The queued units, in sends of bounded size (a unit larger than a send goes over several).
        const taken = this.queue.splice(0, this.queue.length);
        const sends: Promise<void>[] = [];
        let batch = new Map<string, ProducedMessage[]>();
        let count = 0;
        let size = 0;
        const seal = (): void => {
          if (count === 0) return;
          sends.push(producer.send({ topicMessages: [...batch].map(([topic, list]) => ({ topic, messages: list })) }));
          batch = new Map();
          count = 0;
          size = 0;
        };
        for (const unit of taken) {
          for (const { topic, message } of unit.messages) {
            const b = messageBytesBound(message);
            if (count > 0 && (count >= this.maxBatchMessages || size + b > this.maxBatchBytes)) seal();
            let list = batch.get(topic);
            if (list === undefined) batch.set(topic, (list = []));
            list.push(message);
            count++;
            size += b;
            messages++;
            bytes += b;
          }
        }
        seal();
        units.push(...taken);
        // The producer runs them in order; all must be acknowledged before the commit.
        await Promise.all(sends);
      }
      let position: string | undefined;
      for (const u of units) if (u.position !== undefined) position = u.position;
      const offsets: TransactionOffsets | undefined = position === undefined ? undefined : { consumerGroupId: group, topics: [{ topic: task.topic, partitions: [{ partition: task.partition, offset: position }] }] };
      await producer.commit(offsets);
      this.committed(units, offsets, messages, bytes, performance.now() - started);
    } catch (err) {
      // The same units go first in the next transaction.
      this.queue.unshift(...units);
      this.failed(err);
    }
  }

  /** A transaction committed: counts, holds released, events. */
  private committed(units: readonly Unit[], offsets: TransactionOffsets | undefined, messages: number, bytes: number, durationMs: number): void {
    const { instrumentation, health, logger } = this.options;
    this.attempt = 0;
    health?.ok();
    if (this.retryWarned) {
      this.retryWarned = false;
      logger?.info('the brokers answer again: transactions resumed');
    }
    let released = 0;
    let windows = 0;
    for (const unit of units) released += unit.records;
    this.held -= released;
    this.tracker.release(released);
    if (offsets !== undefined) this.committedPositions = offsets.topics.flatMap((t) => t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: p.offset })));
    if (messages > 0 && instrumentation?.listening('kafka.ack')) instrumentation.emit('kafka.ack', { messages, bytes, durationMs });
    if (offsets !== undefined && instrumentation?.listening('kafka.commit')) instrumentation.emit('kafka.commit', { offsets: this.committedPositions.map((p) => ({ ...p })) });
    const now = Date.now();
    for (const unit of units) {
      if (unit.window !== undefined) {
        const { update, windowIndex } = unit.window;
        windows++;
        this.counts.windows++;
        this.counts.labelled += update.labels.length;
        if (instrumentation?.listening('kafka.window.acknowledged')) {
          instrumentation.emit('kafka.window.acknowledged', { windowIndex, version: update.version, labelled: update.labels.length, acknowledgedAt: now, enqueuedAt: unit.enqueuedAt, records: update.window.records as never });
        }
      } else if (unit.deadLetter !== undefined && instrumentation?.listening('kafka.dead-letter')) instrumentation.emit('kafka.dead-letter', unit.deadLetter);
    }
    logger?.debug({ task: this.options.task, windows, messages, durationMs: Math.round(durationMs), position: offsets?.topics[0].partitions[0].offset }, 'transaction committed');
    this.checkIdle();
  }

  /** A transaction failed: retry it (after an abort), give the task up (fenced), or fail the run. */
  private failed(err: unknown): void {
    const { health, logger, instrumentation, task } = this.options;
    if (this.closed) return;
    if (isFenced(err) || (err instanceof KafkaEdgeError && err.context.fenced === true)) {
      this.lose(err);
      return;
    }
    if (!isRetriable(err)) {
      const transactionalId = this.options.producer.transactionalId;
      // An abort that failed for good leaves the producer unusable: the task is closed and opened again.
      if (this.needsAbort || /cannot go on/.test(describeError(err))) {
        this.lose(err);
        return;
      }
      this.fail(
        new KafkaEdgeError(
          `the transaction of ${JSON.stringify(transactionalId)} (input ${task.topic}/${task.partition}) failed: ${describeError(err)}; nothing of it was committed, so a restart re-processes it`,
          { topic: task.topic, partition: task.partition, operation: 'transaction' },
          { cause: err, retriable: false },
        ),
      );
      return;
    }
    this.needsAbort = true;
    health?.failed('transaction', err);
    const delayMs = backoffDelay(++this.attempt, 500, 5000);
    instrumentation?.emit('kafka.retry', { operation: 'transaction', attempt: this.attempt, delayMs, error: describeError(err) });
    if (!this.retryWarned) {
      this.retryWarned = true;
      logger?.warn({ error: describeError(err), task, pending: this.queue.length }, 'a transaction failed: the brokers do not answer; it is aborted and sent again (nothing of it is visible)');
    }
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, delayMs);
  }

  /** The producer is fenced or unusable: drop every unit, release their holds, tell the owner. */
  private lose(err: unknown): void {
    if (this.lost) return;
    this.lost = true;
    this.dropQueued();
    this.options.logger?.warn({ task: this.options.task, error: describeError(err) }, 'the task lost its transactional producer (another member owns its partition now, or the producer cannot go on): its uncommitted outputs are dropped');
    this.options.onLost?.(err);
    this.checkIdle();
  }

  private dropQueued(): void {
    this.queue.length = 0;
    this.tracker.release(this.held);
    this.held = 0;
  }

  private fail(error: KafkaEdgeError): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.options.onError?.(error);
    for (const w of this.idleWaiters.splice(0)) w.reject(error);
  }

  private checkIdle(): void {
    if (this.failure !== undefined) return;
    if (this.lost || (!this.busy && this.queue.length === 0)) for (const w of this.idleWaiters.splice(0)) w.resolve();
  }

  /** The positions committed last. */
  committedNow(): TopicPartitionOffset[] {
    return this.committedPositions;
  }

  /** Transactions commit by themselves; this starts one now if units wait. */
  commit(): Promise<TopicPartitionOffset[]> {
    this.pump();
    return Promise.resolve(this.committedPositions);
  }

  /** Resolves when everything queued so far is committed (or the task was lost); rejects when the delivery failed. */
  flush(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const idle = new Promise<void>((resolve, reject) => this.idleWaiters.push({ resolve, reject }));
    this.pump();
    return idle;
  }

  /**
   * Stops: waits (up to `timeoutMs`) for the transaction running, drops what is queued (handed back: read again by
   * the next owner), aborts what is open and disconnects the producer.
   *
   * @returns the positions committed last
   */
  async close(timeoutMs = 5000): Promise<TopicPartitionOffset[]> {
    this.closing = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.closed = true;
    this.dropQueued();
    for (const w of this.idleWaiters.splice(0)) w.resolve();
    await Promise.race([this.options.producer.disconnect().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    return this.committedPositions;
  }

  abort(error: KafkaEdgeError): void {
    this.fail(error);
    this.closed = true;
    this.dropQueued();
  }
}
