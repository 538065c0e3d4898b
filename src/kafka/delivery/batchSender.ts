/**
 * `BatchSender`: batched sends with ordered acknowledgements, bounded batch sizes, and retries while the
 * brokers are unavailable.
 *
 * @module
 */
import type { Logger } from 'pino';
import type { ProducedMessage, ProducerLike } from '../client/ports.js';
import { KafkaEdgeError } from '../errors.js';
import { BATCH_OVERHEAD_BYTES, messageBytesBound } from '../messages/sizes.js';

/** How a {@link BatchSender} retries a send that failed with a retriable error. */
export interface SendRetryPolicy {
  /** Whether the failure may go away (the brokers are unavailable, a leader moved, …). */
  readonly shouldRetry: (error: unknown) => boolean;
  /** The wait before retry `attempt` (1, 2, …), in ms. */
  readonly delayMs: (attempt: number) => number;
  /** Told of each retry (before the wait). */
  readonly onRetry?: (info: { attempt: number; delayMs: number; error: unknown }) => void;
}

/** Options of {@link BatchSender}. */
export interface BatchSenderOptions {
  /** Seal a batch at this many messages (default 1000: kafkajs groups messages per partition in O(n²), so bigger batches get slower). */
  readonly maxBatchMessages?: number;
  /**
   * Most bytes in one batch (default 768 KiB), counted as the messages take them in a record batch at most (key,
   * value, headers, per-record overhead; short strings bounded by 3 bytes a character): a message that would push a
   * non-empty batch past it starts the next one, so no batch passes it unless one message alone does (that one goes
   * alone). Keep it under the topics' `max.message.bytes`.
   */
  readonly maxBatchBytes?: number;
  /** Seal the open batch this long after its first message, in ms (default 5); if every send slot is busy then, it is sealed when one frees up. */
  readonly lingerMs?: number;
  /**
   * Most `sendBatch` calls in flight at once (default 1). With more than one, a retried or slower send can land
   * after a later one, so the latest model on the compacted topic may not be the last written.
   */
  readonly maxConcurrentSends?: number;
  /** Retry sends that fail with a retriable error (default: a failed send is fatal at once). */
  readonly retry?: SendRetryPolicy;
  /** Called once when a send fails for good. Later acknowledgements are not run. */
  readonly onError?: (error: KafkaEdgeError) => void;
  /** Called for each acknowledged batch (for the `kafka.ack` event). */
  readonly onAcknowledged?: (info: { messages: number; bytes: number; durationMs: number }) => void;
  readonly logger?: Logger;
}

interface PendingBatch {
  readonly topicMessages: Map<string, ProducedMessage[]>;
  readonly onAck: (() => void)[];
  count: number;
  bytes: number;
  state: 'open' | 'sending' | 'done' | 'failed';
  startedAt: number;
}

/**
 * Batches messages for any number of topics into `sendBatch` calls (kafkajs does no lingering of its own),
 * and runs acknowledgement callbacks strictly in enqueue order.
 *
 * 1. `enqueue` adds messages to the open batch, with a callback to run once they are all acknowledged. A message
 *    that would take the batch past `maxBatchBytes` (or `maxBatchMessages`) seals it first.
 * 2. The open batch is sealed when it reaches its bounds, after `lingerMs`, or on `flush`; sealed batches are sent
 *    in order, at most `maxConcurrentSends` at once (default 1: strictly in order). When `lingerMs` runs out while
 *    every send slot is busy, the open batch keeps filling and is sealed as soon as a slot frees up.
 * 3. When a send completes, the callbacks of every completed batch at the head of the queue run, so a
 *    callback never runs before the callbacks of earlier messages.
 * 4. A failed send that the `retry` policy deems retriable stops new sends; once every send in flight has settled,
 *    the failed batches go back to the head of the queue, in order, and are sent again after the policy's delay
 *    (the producer's `resume`, if it has one, is called first). Anything else is fatal: `onError` is called, no
 *    later callback runs, and `flush` rejects. {@link abort} makes it fatal from outside (a retry budget ran out).
 */
export class BatchSender {
  private readonly maxBatchMessages: number;
  private readonly maxBatchBytes: number;
  private readonly lingerMs: number;
  private readonly maxConcurrentSends: number;
  private open: PendingBatch = BatchSender.newBatch();
  private readonly sealed: PendingBatch[] = [];
  private inFlight: PendingBatch[] = [];
  private sending = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The open batch's linger ran out while every send slot was busy: seal it as soon as one frees up. */
  private lingerDue = false;
  private failure: KafkaEdgeError | undefined;
  /** A retriable failure happened: no new send until the failed batches are queued again. */
  private retrying = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private lastError: unknown;
  private idleWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** Messages acknowledged by the broker so far. */
  acknowledged = 0;

  /**
   * @param producer - a connected producer
   * @param options - batch bounds, linger, concurrency, retry policy, callbacks
   */
  constructor(
    private readonly producer: ProducerLike & { resume?: () => void },
    private readonly options: BatchSenderOptions = {},
  ) {
    this.maxBatchMessages = options.maxBatchMessages ?? 1000;
    this.maxBatchBytes = options.maxBatchBytes ?? 768 * 1024;
    this.lingerMs = options.lingerMs ?? 5;
    this.maxConcurrentSends = options.maxConcurrentSends ?? 1;
  }

  private static newBatch(): PendingBatch {
    return { topicMessages: new Map(), onAck: [], count: 0, bytes: BATCH_OVERHEAD_BYTES, state: 'open', startedAt: 0 };
  }

  /** The failure that stopped this sender, if any. */
  get error(): KafkaEdgeError | undefined {
    return this.failure;
  }

  /** Whether sends are held back, waiting to retry after a retriable failure. */
  get isRetrying(): boolean {
    return this.retrying;
  }

  /** Messages enqueued and not yet acknowledged. */
  get pending(): number {
    let n = this.open.count;
    for (const b of this.sealed) n += b.count;
    for (const b of this.inFlight) if (b.state !== 'done') n += b.count;
    return n;
  }

  /**
   * Adds messages; `onAck` runs once they (and everything enqueued before) are acknowledged.
   *
   * @param messages - `{ topic, message }` pairs
   * @param onAck - acknowledgement callback
   */
  enqueue(messages: readonly { topic: string; message: ProducedMessage }[], onAck?: () => void): void {
    if (this.failure !== undefined) return;
    for (const { topic, message } of messages) {
      const size = messageBytesBound(message);
      if (this.open.count > 0 && (this.open.count >= this.maxBatchMessages || this.open.bytes + size > this.maxBatchBytes)) this.seal();
      const batch = this.open;
      let list = batch.topicMessages.get(topic);
      if (list === undefined) batch.topicMessages.set(topic, (list = []));
      list.push(message);
      batch.count++;
      batch.bytes += size;
    }
    if (onAck !== undefined) this.open.onAck.push(onAck);
    if (this.open.count >= this.maxBatchMessages || this.open.bytes >= this.maxBatchBytes) this.seal();
    else if (this.timer === undefined && !this.lingerDue && (this.open.count > 0 || this.open.onAck.length > 0)) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        // With every send slot busy, sealing now would only queue a small batch behind the others: keep
        // filling the open batch and seal it when a slot frees up.
        if (this.sending < this.maxConcurrentSends && !this.retrying) this.seal();
        else this.lingerDue = true;
      }, this.lingerMs);
    }
    this.pump();
  }

  /** Closes the open batch (if it holds anything) and queues it for sending. */
  private seal(): void {
    this.lingerDue = false;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.open;
    if (batch.count === 0 && batch.onAck.length === 0) return;
    this.open = BatchSender.newBatch();
    this.sealed.push(batch);
    this.pump();
  }

  /** Starts sends of sealed batches, in order, up to the concurrency bound. */
  private pump(): void {
    while (this.sending < this.maxConcurrentSends && this.sealed.length > 0 && this.failure === undefined && !this.retrying) {
      this.send(this.sealed.shift()!);
    }
  }

  private send(batch: PendingBatch): void {
    this.inFlight.push(batch);
    this.sending++;
    batch.state = 'sending';
    batch.startedAt = performance.now();
    const topicMessages = [...batch.topicMessages].map(([topic, messages]) => ({ topic, messages }));
    const send = batch.count === 0 ? Promise.resolve() : this.producer.sendBatch({ topicMessages });
    send.then(
      () => {
        this.sending--;
        batch.state = 'done';
        this.attempt = 0;
        this.acknowledged += batch.count;
        if (batch.count > 0) this.options.onAcknowledged?.({ messages: batch.count, bytes: batch.bytes, durationMs: performance.now() - batch.startedAt });
        this.drainAcks();
        this.settled();
        this.pump();
        if (this.lingerDue && this.sending < this.maxConcurrentSends) this.seal();
        this.checkIdle();
      },
      (err: unknown) => {
        this.sending--;
        batch.state = 'failed';
        const retry = this.options.retry;
        if (this.failure === undefined && retry !== undefined && retry.shouldRetry(err)) {
          this.retrying = true;
          this.lastError ??= err;
          this.settled();
          return;
        }
        const topics = topicMessages.map((t) => t.topic);
        this.fail(
          new KafkaEdgeError(
            `could not produce ${batch.count} message(s) to ${topics.map((t) => JSON.stringify(t)).join(', ')}: ${err instanceof Error ? err.message : String(err)}; ` +
              'nothing after the last acknowledged output was committed, so a restart re-processes it',
            { topic: topics[0], operation: 'produce' },
            { cause: err, retriable: false },
          ),
        );
      },
    );
  }

  /** After a retriable failure, once nothing is being sent: queue the failed batches again and retry after the delay. */
  private settled(): void {
    if (!this.retrying || this.sending > 0 || this.retryTimer !== undefined || this.failure !== undefined) return;
    const failed = this.inFlight.filter((b) => b.state === 'failed');
    this.inFlight = this.inFlight.filter((b) => b.state !== 'failed');
    this.sealed.unshift(...failed);
    const attempt = ++this.attempt;
    const delayMs = this.options.retry!.delayMs(attempt);
    const error = this.lastError;
    this.lastError = undefined;
    this.options.retry!.onRetry?.({ attempt, delayMs, error });
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.failure !== undefined) return;
      this.retrying = false;
      this.producer.resume?.();
      this.pump();
    }, delayMs);
  }

  private drainAcks(): void {
    while (this.inFlight.length > 0 && this.inFlight[0].state === 'done' && this.failure === undefined) {
      const batch = this.inFlight.shift()!;
      for (const cb of batch.onAck) cb();
    }
  }

  private fail(error: KafkaEdgeError): void {
    if (this.failure !== undefined) return;
    this.failure = error;
    if (this.timer !== undefined) clearTimeout(this.timer);
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.options.onError?.(error);
    for (const w of this.idleWaiters.splice(0)) w.reject(error);
  }

  /**
   * Fails for good from outside (e.g. the brokers stayed unavailable past a retry budget): `flush` rejects with
   * `error`, nothing more is sent, no later acknowledgement runs.
   *
   * @param error - the reason
   */
  abort(error: KafkaEdgeError): void {
    this.fail(error);
  }

  private checkIdle(): void {
    if (this.sending === 0 && this.inFlight.length === 0 && this.sealed.length === 0 && this.open.count === 0 && this.open.onAck.length === 0) {
      for (const w of this.idleWaiters.splice(0)) w.resolve();
    }
  }

  /**
   * Sends whatever is buffered and resolves when every message enqueued so far is acknowledged.
   *
   * @throws KafkaEdgeError when a send failed for good
   */
  flush(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const idle = new Promise<void>((resolve, reject) => this.idleWaiters.push({ resolve, reject }));
    this.seal();
    this.checkIdle();
    return idle;
  }
}
