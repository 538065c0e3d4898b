/**
 * Transactions through kafkajs 2.2.4, with its known transaction bugs kept out: one transactional producer of the
 * exactly-once mode, as a small explicit state machine (kafkajs's own `eosManager` is one too, but lets callers
 * overlap operations and gives up on a retriable error).
 *
 * - kafkajs #1068 / #430: `sendOffsets` right after a commit can meet `CONCURRENT_TRANSACTIONS` from
 *   `AddOffsetsToTxn` (the coordinator is still writing the previous transaction's markers); kafkajs retries that
 *   error for `InitProducerId` and produce requests, not there. It is retried here, with backoff, within a bound.
 * - "another operation in progress" / "There is already an ongoing transaction": operations on one transactional
 *   producer never overlap here (one queue), and a transaction that failed is aborted before another begins.
 *
 * Pinned to kafkajs 2.2.4 (`KAFKAJS_VERSION`) and tested against a real broker (`test/kafka/transactions.test.ts`).
 *
 * @module
 */
import { KafkaEdgeError } from '../errors.js';
import { isFenced, protocolErrorType } from './errorNames.js';
import type { KafkaClientLike, ProducedMessage, ProducerLike, TransactionLike, TransactionOffsets } from './ports.js';

/** One transactional producer: its transactions, one at a time, each sent in parts and committed with offsets. */
export interface TransactionalProducerLike {
  readonly transactionalId: string;
  /**
   * Connects and initializes the transactional id: any earlier producer with this id is fenced (its open
   * transaction aborted, its later sends and commits refused).
   */
  connect(): Promise<void>;
  /** Sends messages in the open transaction, beginning one when none is open. Resolves once acknowledged. */
  send(batch: { topicMessages: { topic: string; messages: ProducedMessage[] }[] }): Promise<void>;
  /** Adds the consumed positions (when given) and commits the open transaction (beginning one when only offsets are given). */
  commit(offsets?: TransactionOffsets): Promise<void>;
  /** Aborts the open transaction, if any: nothing of it becomes visible to read_committed consumers. */
  abort(): Promise<void>;
  /** Aborts what is open (best effort) and disconnects. */
  disconnect(): Promise<void>;
}

/** Options of {@link KafkajsTransactionalProducer}. */
export interface TransactionalProducerOptions {
  readonly transactionalId: string;
  /** How long the coordinator lets a transaction stay open before aborting it, in ms. */
  readonly transactionTimeoutMs: number;
  /** Attempts of `sendOffsets` meeting `CONCURRENT_TRANSACTIONS` (default 20), with backoff from 10 ms to 500 ms. */
  readonly concurrentTransactionRetries?: number;
}

/** Where a transactional producer is. */
type TransactionState = 'disconnected' | 'ready' | 'open' | 'broken' | 'closed';

/**
 * A transactional producer over a kafkajs client.
 *
 * 1. `connect`: make the producer (`idempotent`, `maxInFlightRequests: 1`, the transactional id and timeout), connect,
 *    and initialize the id at once (kafkajs does it lazily, at the first transaction): begin and abort an empty
 *    transaction, which sends `InitProducerId` and nothing else. This is what fences a zombie.
 * 2. Every operation goes through one queue: the next starts when the previous has settled.
 * 3. `send` begins a transaction when none is open; `commit` adds the offsets (retrying `CONCURRENT_TRANSACTIONS`)
 *    and ends it. A failed operation leaves the transaction open: the caller aborts it (then may try again) or
 *    gives the producer up. A fenced producer, or one whose abort failed for good, is `broken`: every later
 *    operation is refused at once, without a request.
 */
export class KafkajsTransactionalProducer implements TransactionalProducerLike {
  private producer: ProducerLike | undefined;
  private transaction: TransactionLike | undefined;
  private state: TransactionState = 'disconnected';
  private queue: Promise<unknown> = Promise.resolve();
  private brokenBy: unknown;

  /**
   * @param kafka - a kafkajs client (made by the client adapter)
   * @param options - the transactional id and timeout
   */
  constructor(
    private readonly kafka: KafkaClientLike,
    private readonly options: TransactionalProducerOptions,
  ) {}

  get transactionalId(): string {
    return this.options.transactionalId;
  }

  /** Runs `op` after every operation queued before it (operations on one transaction never overlap). */
  private serial<T>(op: () => Promise<T>): Promise<T> {
    const run = this.queue.then(op, op);
    this.queue = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /** Refuses an operation on a producer that cannot go on. */
  private usable(): void {
    if (this.state === 'broken') {
      throw new KafkaEdgeError(`the transactional producer ${JSON.stringify(this.options.transactionalId)} cannot go on: ${this.brokenBy instanceof Error ? this.brokenBy.message : String(this.brokenBy)}`, { operation: 'transaction', fenced: isFenced(this.brokenBy) }, { cause: this.brokenBy, retriable: false });
    }
    if (this.state === 'disconnected' || this.state === 'closed') throw new KafkaEdgeError(`the transactional producer ${JSON.stringify(this.options.transactionalId)} is not connected`, { operation: 'transaction' }, { retriable: false });
  }

  /** Marks the producer broken when an error says it was fenced. */
  private check(err: unknown): never {
    if (isFenced(err)) {
      this.state = 'broken';
      this.brokenBy = err;
      this.transaction = undefined;
    }
    throw err;
  }

  connect(): Promise<void> {
    return this.serial(async () => {
      if (this.state !== 'disconnected') return;
      const producer = this.kafka.producer({
        transactionalId: this.options.transactionalId,
        transactionTimeout: this.options.transactionTimeoutMs,
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // A send that keeps failing comes back (the transaction is then aborted and sent again), rather than kafkajs
        // retrying it for ever, as it does for idempotent producers by default.
        retry: { retries: 8, initialRetryTime: 20, maxRetryTime: 1000 },
      });
      if (producer.transaction === undefined) throw new KafkaEdgeError('this Kafka client has no transactions (producer.transaction): the exactly-once mode needs kafkajs 2.2.4 or a compatible client', { operation: 'transaction' }, { retriable: false });
      await producer.connect();
      this.producer = producer;
      try {
        // kafkajs initializes the transactional id at the first transaction: do it now, with an empty one.
        const empty = await producer.transaction();
        await empty.abort();
      } catch (err) {
        await producer.disconnect().catch(() => undefined);
        this.producer = undefined;
        if (protocolErrorType(err) === 'INVALID_TRANSACTION_TIMEOUT') {
          throw new KafkaEdgeError(
            `the transaction timeout (${this.options.transactionTimeoutMs} ms) is larger than the brokers allow (transaction.max.timeout.ms): lower --transaction-timeout-ms (and --broker-timeout-ms below it), or raise transaction.max.timeout.ms on the brokers`,
            { operation: 'transaction' },
            { cause: err, retriable: false },
          );
        }
        throw err;
      }
      this.state = 'ready';
    });
  }

  send(batch: { topicMessages: { topic: string; messages: ProducedMessage[] }[] }): Promise<void> {
    return this.serial(async () => {
      this.usable();
      try {
        if (this.transaction === undefined) {
          this.transaction = await this.producer!.transaction!();
          this.state = 'open';
        }
        await this.transaction.sendBatch(batch);
      } catch (err) {
        this.check(err);
      }
    });
  }

  commit(offsets?: TransactionOffsets): Promise<void> {
    return this.serial(async () => {
      this.usable();
      const hasOffsets = offsets !== undefined && offsets.topics.some((t) => t.partitions.length > 0);
      if (this.transaction === undefined && !hasOffsets) return;
      try {
        if (this.transaction === undefined) {
          this.transaction = await this.producer!.transaction!();
          this.state = 'open';
        }
        if (hasOffsets) await this.sendOffsets(this.transaction, offsets);
        await this.transaction.commit();
        this.transaction = undefined;
        this.state = 'ready';
      } catch (err) {
        this.check(err);
      }
    });
  }

  /** `sendOffsets`, retrying `CONCURRENT_TRANSACTIONS` (kafkajs does not: its issues #1068, #430). */
  private async sendOffsets(transaction: TransactionLike, offsets: TransactionOffsets): Promise<void> {
    const attempts = this.options.concurrentTransactionRetries ?? 20;
    for (let attempt = 1; ; attempt++) {
      try {
        await transaction.sendOffsets(offsets);
        return;
      } catch (err) {
        if (protocolErrorType(err) !== 'CONCURRENT_TRANSACTIONS' || attempt >= attempts) throw err;
        await new Promise((resolve) => setTimeout(resolve, Math.min(500, 10 * 2 ** (attempt - 1))));
      }
    }
  }

  abort(): Promise<void> {
    return this.serial(async () => {
      if (this.transaction === undefined || this.state === 'broken' || this.state === 'closed') return;
      try {
        await this.transaction.abort();
        this.transaction = undefined;
        this.state = 'ready';
      } catch (err) {
        // kafkajs stays in ABORTING after a failed EndTxn and refuses every later transaction: this producer is done.
        this.state = 'broken';
        this.brokenBy = err;
        this.transaction = undefined;
        throw err;
      }
    });
  }

  disconnect(): Promise<void> {
    return this.serial(async () => {
      const producer = this.producer;
      if (producer === undefined) {
        this.state = 'closed';
        return;
      }
      if (this.transaction !== undefined && this.state === 'open') await this.transaction.abort().catch(() => undefined);
      this.transaction = undefined;
      this.producer = undefined;
      this.state = 'closed';
      await producer.disconnect();
    });
  }
}
