/**
 * `toKafka`: produces each model update of a stream to Kafka (labels and a model message) and re-emits it once
 * the broker has acknowledged them. For a stream of your own; `runKafkaPipeline` uses the same message formats
 * through its delivery (`src/kafka/delivery.ts`).
 *
 * @module
 */
import { Observable, type OperatorFunction } from 'rxjs';
import type { MixtureUpdate } from '../operators/types.js';
import type { ProducerLike } from './client/ports.js';
import { BatchSender } from './delivery/batchSender.js';
import { labelsOutput } from './messages/labels.js';
import { messageWindowIndex, type OutgoingMessage, type WindowOutput } from './messages/outputs.js';
import { stateOutput } from './state/format.js';

/** Options of {@link toKafka}. */
export interface ToKafkaOptions {
  /** Topic of one message per labelled point (omit to skip labels). */
  readonly labels?: string;
  /** Topic of one message per model update, keyed by `pipelineId` (omit to skip models). */
  readonly models?: string;
  /** Key of the model messages (default `'emstream'`). */
  readonly pipelineId?: string;
  /** Also write each input vector into its label message (default false). */
  readonly includeVector?: boolean;
}

/**
 * Produces each model update to Kafka — one label message per point and one model message — and re-emits the
 * update once the broker has acknowledged all of them (and everything before them).
 *
 * 1. For each update: build the label messages (key = input key, headers = input topic/partition/offset)
 *    and the model message (key = pipeline id), and enqueue them in one batch on the sender.
 * 2. When they are acknowledged, emit the update downstream (in order): that is the moment its inputs may
 *    be committed.
 * 3. On complete: flush, wait for the last acknowledgements, complete. A failed send errors the stream.
 *
 * ## Example
 * ```ts
 * import { Kafka } from 'kafkajs';
 * import { from } from 'rxjs';
 * import { windowVectors, fitMixture, toKafka } from 'emstream';
 *
 * const producer = new Kafka({ brokers: ['127.0.0.1:9092'] }).producer();
 * await producer.connect();
 * from([[0, 0], [0, 1], [9, 9], [9, 8]])
 *   .pipe(windowVectors({ size: 4 }), fitMixture({ k: 2 }), toKafka(producer, { labels: 'labels', models: 'models' }))
 *   .subscribe((u) => console.log('acknowledged window', u.windowIndex));
 * ```
 *
 * @param producer - a connected producer, or a {@link BatchSender} shared with other outputs (dead letters)
 * @param options - output topics, pipeline id, whether labels carry the vector
 * @returns an operator that emits each update after its outputs are acknowledged
 */
export function toKafka<R>(producer: ProducerLike | BatchSender, options: ToKafkaOptions): OperatorFunction<MixtureUpdate<R>, MixtureUpdate<R>> {
  const pipelineId = options.pipelineId ?? 'emstream';
  const outputs: WindowOutput<R>[] = [];
  if (options.labels !== undefined) outputs.push(labelsOutput<R>(options.labels, { includeVector: options.includeVector }));
  if (options.models !== undefined) outputs.push(stateOutput<R>(options.models));
  return (source) =>
    new Observable<MixtureUpdate<R>>((subscriber) => {
      const ownSender = !(producer instanceof BatchSender);
      const sender = producer instanceof BatchSender ? producer : new BatchSender(producer, { onError: (err) => subscriber.error(err) });
      const subscription = source.subscribe({
        next(update) {
          if (sender.error !== undefined) {
            subscriber.error(sender.error);
            return;
          }
          const messages: OutgoingMessage[] = [];
          const outcome = { update, pipelineId, windowIndex: messageWindowIndex(update), offsets: [] };
          for (const output of outputs) output.messages(outcome, messages);
          sender.enqueue(messages, () => {
            if (!subscriber.closed) subscriber.next(update);
          });
        },
        error: (err: unknown) => subscriber.error(err),
        complete: () => {
          sender.flush().then(
            () => subscriber.complete(),
            (err: unknown) => subscriber.error(err),
          );
        },
      });
      return () => {
        subscription.unsubscribe();
        if (ownSender) void sender.flush().catch(() => undefined);
      };
    });
}
