/**
 * `WorkerSender`: a {@link BatchSender} whose batches are produced from a worker thread ({@link WorkerProducer}).
 *
 * @module
 */
import { WorkerProducer, type WorkerProducerOptions } from '../client/workerProducer.js';
import { BatchSender, type BatchSenderOptions } from './batchSender.js';

/** Options of {@link WorkerSender.start}. */
export interface WorkerSenderOptions extends WorkerProducerOptions {
  /** Batching, as {@link BatchSender}; `maxConcurrentSends` counts batches posted to the worker and not yet acknowledged (default 2: the worker still sends them one at a time, in order). */
  readonly batch?: Omit<BatchSenderOptions, 'logger'>;
}

/**
 * A {@link BatchSender} whose batches are produced by a worker thread ({@link WorkerProducer}): the same
 * batching, the same in-order acknowledgements and the same errors (a failed send is a {@link KafkaEdgeError}).
 *
 * ## Example
 * ```ts
 * const sender = await WorkerSender.start({ brokers: ['127.0.0.1:9092'], clientId: 'me', logLevel: 'warn' });
 * sender.enqueue([{ topic: 'labels', message: { key: 'a', value: '{"label":1}' } }], () => console.log('acknowledged'));
 * await sender.close(); // flush, disconnect the worker's producer, end the thread
 * ```
 */
export class WorkerSender extends BatchSender {
  private constructor(
    readonly workerProducer: WorkerProducer,
    options: BatchSenderOptions,
  ) {
    super(workerProducer, options);
  }

  /**
   * Starts the worker and connects its producer.
   *
   * @throws KafkaEdgeError (with the client's error name in `context.clientError`, e.g. `KafkaJSConnectionError`) when the producer cannot connect
   */
  static async start(options: WorkerSenderOptions): Promise<WorkerSender> {
    const producer = new WorkerProducer(options);
    await producer.connect();
    return new WorkerSender(producer, { maxConcurrentSends: 2, ...options.batch, logger: options.logger });
  }

  /** Flushes (rejecting like `flush` when a send failed), then disconnects the worker's producer and ends the thread, either way. */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      await this.workerProducer.disconnect();
    }
  }
}
