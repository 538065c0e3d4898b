/**
 * A member's view of the global model of a shared-model run: the latest state message of the pipeline id on the
 * models topic, restored at start and then followed, read_committed (a fenced reducer's aborted models are never
 * seen).
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { DriftDetector } from '../../gmm/drift.js';
import { paramsFromJSON } from '../../gmm/model.js';
import { partitionKey } from '../../offsets.js';
import type { GlobalModel } from '../../operators/sharedMember.js';
import { ConsumerRestarts, seekQuietly } from '../client/consumerRestart.js';
import type { ConsumerLike, EachBatchPayloadLike, KafkaClientLike } from '../client/ports.js';
import { describeError, KafkaEdgeError } from '../errors.js';
import type { RestoredModel } from '../state/restore.js';
import { readModelMessage, type ReadModelMessage } from '../state/format.js';
import type { StateStore } from '../state/store.js';

/** Options of {@link GlobalModelView}. */
export interface GlobalModelViewOptions {
  readonly kafka: KafkaClientLike;
  /** The state store of the models topic (restore) and the pipeline id (the key followed). */
  readonly store: StateStore;
  readonly pipelineId: string;
  /** Use no state message written before this view started (`fresh`). */
  readonly fresh: boolean;
  /** How long {@link GlobalModelView.next} waits for a model before it rejects, in ms. */
  readonly waitMs: number;
  /** How long the start (restore, connect) may take, and how long the follower is restarted for through an outage of the brokers, in ms. */
  readonly startTimeoutMs: number;
  readonly logger?: Logger;
  /** A failure of the follower that it cannot recover from (the run ends). */
  readonly onError?: (error: KafkaEdgeError) => void;
  /** Told of each model read from the topic. */
  readonly onModel?: (model: GlobalModel) => void;
}

/** A global model from a model message (or a restored one). */
export function globalModelOf(read: ReadModelMessage): GlobalModel | undefined {
  const { message, model, state, offsets } = read;
  if (state === undefined) return undefined;
  const params = paramsFromJSON(model);
  const labelIds = state.components?.labels ?? Array.from({ length: params.k }, (_, k) => k);
  let shift: Float64Array;
  if (state.stats !== null) shift = Float64Array.from(state.stats.shift);
  else {
    // No statistics yet: the model's mean.
    shift = new Float64Array(params.d);
    for (let k = 0; k < params.k; k++) for (let a = 0; a < params.d; a++) shift[a] += params.weights[k] * params.means[k * params.d + a];
  }
  const covered = new Map(offsets.map((o) => [partitionKey(o.topic, o.partition), o.offset]));
  let pageHinkley = message.pageHinkley;
  if (pageHinkley === undefined) {
    try {
      pageHinkley = DriftDetector.fromJSON(state.drift).pageHinkley;
    } catch {
      pageHinkley = { statistic: 0, threshold: 0 };
    }
  }
  return {
    version: message.modelVersion,
    params,
    model,
    labelIds,
    shift,
    state,
    pageHinkley: { statistic: pageHinkley.statistic, threshold: pageHinkley.threshold },
    covered: (topic, partition) => covered.get(partitionKey(topic, partition)),
  };
}

/**
 * The latest global model of a pipeline id, followed on the models topic.
 *
 * 1. {@link start}: note the end of each partition of the models topic, restore the latest state of the pipeline id
 *    (unless `fresh`: states written before the start are not used), then follow the topic from those ends with a
 *    consumer of a throw-away group (nothing committed), read_committed (a fetch returns as soon as a model comes).
 * 2. Every state message of the pipeline id read becomes the current model (the reducer is the only writer and is
 *    fenced when another member takes its role, so the topic's order is the models' order).
 * 3. {@link next} resolves with the first model above a version; it rejects after `waitMs` without one.
 */
export class GlobalModelView {
  private latest: GlobalModel | undefined;
  private consumer: ConsumerLike | undefined;
  private readonly waiters = new Set<{ version: number; resolve: (m: GlobalModel) => void; reject: (e: unknown) => void; timer: NodeJS.Timeout }>();
  private stopped = false;
  private restarts: ConsumerRestarts | undefined;
  /** Per partition of the models topic, its end when the view started (set by {@link start}). */
  readonly startedAt = new Map<number, string>();

  /** @param options - client, store, pipeline id, bounds */
  constructor(private readonly options: GlobalModelViewOptions) {}

  /** The latest global model, or `undefined` before the first. */
  current(): GlobalModel | undefined {
    return this.latest;
  }

  /**
   * Resolves with the first global model whose version is above `version` (at once when the current one is).
   *
   * @throws (rejects) a KafkaEdgeError after `waitMs` without one, or when the view stops
   */
  next(version: number): Promise<GlobalModel> {
    if (this.latest !== undefined && this.latest.version > version) return Promise.resolve(this.latest);
    if (this.stopped) return Promise.reject(new KafkaEdgeError('the view of the global model is stopped', { operation: 'shared-model' }));
    return new Promise((resolve, reject) => {
      const waiter = {
        version,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          reject(
            new KafkaEdgeError(
              `no global model came on ${JSON.stringify(this.options.store.topic)} within ${this.options.waitMs} ms: the reducer (one member of the group holds the role) ` +
                `fits the first model from the members' first windows; check the logs of the members for the reducer's errors`,
              { topic: this.options.store.topic, operation: 'shared-model' },
              { retriable: false },
            ),
          );
        }, this.options.waitMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Makes a model the current one and wakes the waiters it satisfies. */
  private accept(model: GlobalModel): void {
    this.latest = model;
    this.options.onModel?.(model);
    for (const w of [...this.waiters]) {
      if (model.version > w.version) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve(model);
      }
    }
  }

  /**
   * Restores the latest model and starts following the topic.
   *
   * @returns the model restored (undefined: none, or `fresh`)
   */
  async start(): Promise<RestoredModel | undefined> {
    const { kafka, store, pipelineId, logger } = this.options;
    const admin = kafka.admin();
    await admin.connect();
    let ends: Map<number, string>;
    try {
      ends = new Map((await admin.fetchTopicOffsets(store.topic)).map((o) => [o.partition, o.high]));
      for (const [p, end] of ends) this.startedAt.set(p, end);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    let restored: RestoredModel | undefined;
    if (!this.options.fresh) {
      restored = (await store.restore([pipelineId], this.options.startTimeoutMs)).get(pipelineId);
      const model = restored === undefined ? undefined : globalModelOf(restored);
      if (model !== undefined) this.accept(model);
    }
    // A fetch returns as soon as a model comes; the wait only spaces the fetches of an idle topic.
    const consumer = kafka.consumer({ groupId: `emstream-view-${randomBytes(6).toString('hex')}`, readUncommitted: false, maxWaitTimeInMs: 1000 });
    this.consumer = consumer;
    await consumer.connect();
    await consumer.subscribe({ topics: [store.topic], fromBeginning: true });
    /** Per partition, the offset of the last message read: a restarted follower goes on after it. */
    const lastRead = new Map<number, string>();
    /**
     * Each partition to the offset after its last message read, or to its end at the start when none was: after the
     * first run and after every restart. A consumer that crashed again while joining cannot seek; its next restart does.
     */
    const seekPositions = (): void => {
      for (const [partition, end] of ends) {
        const last = lastRead.get(partition);
        seekQuietly(consumer, { topic: store.topic, partition, offset: last === undefined ? end : String(BigInt(last) + 1n) }, logger);
      }
    };
    const eachBatch = async ({ batch, resolveOffset, heartbeat }: EachBatchPayloadLike): Promise<void> => {
      restarts.recovered();
      for (const message of batch.messages) {
        resolveOffset(message.offset);
        lastRead.set(batch.partition, message.offset);
        if (message.key?.toString('utf8') !== pipelineId || message.value === null) continue;
        try {
          const model = globalModelOf(readModelMessage(message.value));
          if (model !== undefined) this.accept(model);
        } catch (err) {
          logger?.warn({ error: describeError(err), topic: store.topic, partition: batch.partition, offset: message.offset }, 'skipping an unreadable state message of the global model');
        }
      }
      await heartbeat();
    };
    const runConfig = { autoCommit: false, eachBatchAutoResolve: false, eachBatch } as const;
    // kafkajs does not restart from some errors that only say the brokers were away: restart it here, where it was.
    const restarts = new ConsumerRestarts({
      what: `the follower of the global model on ${JSON.stringify(store.topic)}`,
      connect: () => consumer.connect(),
      run: async () => {
        await consumer.run(runConfig);
        seekPositions();
      },
      withinMs: this.options.startTimeoutMs,
      logger,
      onGiveUp: (error) => {
        if (!this.stopped) this.options.onError?.(error instanceof KafkaEdgeError ? error : new KafkaEdgeError(`the follower of the global model on ${JSON.stringify(store.topic)} could not be restarted: ${describeError(error)}`, { topic: store.topic, operation: 'shared-model' }, { cause: error }));
      },
    });
    this.restarts = restarts;
    consumer.on?.(consumer.events?.CRASH ?? 'consumer.crash', ({ payload }) => {
      if (this.stopped || payload.restart === true || restarts.crashed(payload.error)) return;
      this.options.onError?.(new KafkaEdgeError(`the follower of the global model on ${JSON.stringify(store.topic)} stopped: ${describeError(payload.error)}`, { topic: store.topic, operation: 'shared-model' }, { cause: payload.error }));
    });
    await consumer.run(runConfig);
    seekPositions();
    logger?.debug({ topic: store.topic, restored: this.latest?.version }, 'following the global model');
    return restored;
  }

  /** Stops following; waiters reject. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.restarts?.stop();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new KafkaEdgeError('the run stopped before a global model came', { operation: 'shared-model' }));
    }
    this.waiters.clear();
    await this.consumer?.disconnect().catch(() => undefined);
  }
}
