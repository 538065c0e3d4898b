/**
 * The state store: the compacted models topic is its changelog. It restores the latest state of a key and writes
 * each window's state message (checked against the topic's size limit); one key per run (at-least-once), or one
 * per input partition (the exactly-once mode's tasks).
 *
 * @module
 */
import type { Logger } from 'pino';
import type { KafkaClientLike } from '../client/ports.js';
import { KafkaEdgeError } from '../errors.js';
import type { EventOffset } from '../events.js';
import { messageBytes } from '../messages/sizes.js';
import type { WindowOutput } from '../messages/outputs.js';
import { stateOutput, type StateOutputOptions } from './format.js';
import { restoreLatestStates, type RestoredModel } from './restore.js';

/** The input partition a task owns. */
export interface TaskPartition {
  readonly topic: string;
  readonly partition: number;
}

/** Options of {@link StateStore}. */
export interface StateStoreOptions {
  readonly kafka: KafkaClientLike;
  /** The models topic. */
  readonly topic: string;
  readonly pipelineId: string;
  /** `max.message.bytes` of the models topic (a state message over it stops the run with the fix). */
  readonly maxMessageBytes: number;
  /** `max.message.bytes` the models topic is created with (for the settings of the output). */
  readonly createdMaxMessageBytes?: number;
  readonly logger?: Logger;
}

/**
 * Restores and publishes the states of a pipeline id on its models topic.
 *
 * 1. Keys: the pipeline id for the state of a whole run; `<pipelineId>/<topic>/<partition>` for the state of one
 *    input partition's task ({@link StateStore.taskKey}).
 * 2. {@link restore}: the latest state of each key, read_committed (see `restoreLatestStates`).
 * 3. {@link output}: the window output that writes a key's state message, refusing one over the topic's limit
 *    with the command that raises it.
 */
export class StateStore {
  /** @param options - client, models topic, pipeline id, the topic's size limit */
  constructor(private readonly options: StateStoreOptions) {}

  /** The models topic. */
  get topic(): string {
    return this.options.topic;
  }

  /**
   * The key of the state of one input partition's task (exactly-once mode): `<pipelineId>/<topic>/<partition>`.
   *
   * @param pipelineId - the pipeline id
   * @param task - the input partition
   */
  static taskKey(pipelineId: string, task: TaskPartition): string {
    return `${pipelineId}/${task.topic}/${task.partition}`;
  }

  /**
   * The pipeline id of a key of the models topic: the key itself, or `<pipelineId>` of a task's key
   * `<pipelineId>/<topic>/<partition>` (topic names cannot contain `/`).
   *
   * @param key - a message key of the models topic
   */
  static pipelineIdOf(key: string): string {
    const m = /^(.+)\/[A-Za-z0-9._-]+\/\d+$/.exec(key);
    return m === null ? key : m[1];
  }

  /** The key of a task's state, or of the whole run's (`task` undefined). */
  key(task?: TaskPartition): string {
    return task === undefined ? this.options.pipelineId : StateStore.taskKey(this.options.pipelineId, task);
  }

  /**
   * The latest state of each key (keys without a state are absent).
   *
   * @param keys - the keys
   * @param timeoutMs - the longest the read may take
   */
  restore(keys: readonly string[], timeoutMs: number): Promise<Map<string, RestoredModel>> {
    return restoreLatestStates(this.options.kafka, { topic: this.options.topic, keys, timeoutMs, logger: this.options.logger });
  }

  /**
   * The output writing the state message of a key (the whole run's, or one task's), checked against the topic's limit.
   *
   * @param task - the task whose state it is (undefined: the whole run's, keyed by the pipeline id)
   * @param describe - what the state covers, when the writer knows better than the window's records (the shared
   *   model's reducer: the input offsets its statistics count, and its ledger)
   * @returns the output
   */
  output<R>(task?: TaskPartition, describe?: StateOutputOptions<R>['describe']): WindowOutput<R> {
    const { topic, maxMessageBytes: limit, createdMaxMessageBytes } = this.options;
    const inner = stateOutput<R>(topic, { maxMessageBytes: createdMaxMessageBytes, describe, ...(task === undefined ? {} : { key: this.key(task), task }) });
    return {
      ...inner,
      messages: (outcome, into) => {
        const start = into.length;
        inner.messages(outcome, into);
        for (let i = start; i < into.length; i++) {
          const bytes = messageBytes(into[i].message) + 61;
          if (bytes > limit) {
            const { k, d, covarianceType } = outcome.update.model;
            throw new KafkaEdgeError(
              `the state message of pipeline ${JSON.stringify(outcome.pipelineId)} (K=${k}, D=${d}, ${covarianceType}) is ${bytes} bytes, more than max.message.bytes ${limit} of the models topic ${JSON.stringify(topic)}: ` +
                `raise it (kafka-configs.sh --alter --entity-type topics --entity-name ${topic} --add-config max.message.bytes=${Math.ceil(bytes * 1.5)}), or use a cheaper covariance type (diag)`,
              { topic, operation: 'produce' },
              { retriable: false },
            );
          }
        }
      },
    };
  }
}

/** The coverage of a restored state on the given input topics (what it already counts). */
export function restoredCoverage(restored: RestoredModel | undefined, input: readonly string[]): EventOffset[] {
  return restored?.state === undefined ? [] : restored.offsets.filter((o) => input.includes(o.topic));
}
