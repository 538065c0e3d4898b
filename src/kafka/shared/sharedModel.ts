/**
 * The shared-model mode of a run: the member's link to the global model (followed on the models topic, seeds for a
 * first model), its reducer role, and the probe that learns the pipeline's `fitMixture` options.
 *
 * @module
 */
import type { Logger } from 'pino';
import { Subject, type Observable } from 'rxjs';
import type { StreamingOptions } from '../../gmm/streaming.js';
import { Instrumentation } from '../../instrumentation.js';
import { buildInPipelineScope } from '../../operators/pipelineScope.js';
import type { GlobalModel, SharedModelLink } from '../../operators/sharedMember.js';
import type { VectorInput } from '../../operators/types.js';
import type { Pipeline } from '../../pipeline.js';
import type { KafkaClientLike, ProducerLike } from '../client/ports.js';
import { describeError, KafkaEdgeError } from '../errors.js';
import { seedMessage } from '../messages/contributions.js';
import type { RestoredModel } from '../state/restore.js';
import type { StateStore } from '../state/store.js';
import type { SharedModelConfig } from '../run/config.js';
import { EmstreamOptionsError } from '../../errors.js';
import { GlobalModelView } from './modelView.js';
import { MAX_SEED_POINTS } from './round.js';
import type { ReducerRole } from './reducer.js';

/**
 * The streaming options of the pipeline's `fitMixture`, learned by building the pipeline once in a shared-model scope
 * (operators are made when `build` runs; nothing is subscribed): the reducer fits the global model with them.
 *
 * @param pipeline - the run's pipeline
 * @returns the options of the `fitMixture` that becomes the member
 * @throws EmstreamOptionsError when the pipeline creates no `fitMixture` that can share (none, or only ones given a model of
 *   their own), or its `fitMixture` has a range of K (not supported in this mode)
 */
export function sharedModelOptions<R extends VectorInput>(pipeline: Pipeline<R>): StreamingOptions {
  const probe: SharedModelLink = { current: () => undefined, next: () => Promise.reject(new Error('probe')), seed: () => undefined, samplePoints: 0 };
  const report = buildInPipelineScope({ sharedModel: probe, onInvalid: () => undefined }, () => pipeline.build(new Subject<R>() as unknown as Observable<R>, { instrumentation: new Instrumentation(), onInvalid: () => undefined }));
  if (!report.sharedClaimed || report.sharedOptions === undefined) {
    throw new EmstreamOptionsError('runKafkaPipeline', [
      {
        path: 'sharedModel',
        message:
          `the pipeline ${JSON.stringify(pipeline.name)} has no fitMixture to share (${report.mixtures === 0 ? 'it creates none' : 'each was given a model or state of its own'}): ` +
          'the shared-model mode needs a fitMixture without initialModel, initialState or initialStats',
      },
    ]);
  }
  const k = report.sharedOptions.k;
  if (typeof k !== 'number') {
    throw new EmstreamOptionsError('runKafkaPipeline', [
      {
        path: 'sharedModel',
        message:
          `the fitMixture of pipeline ${JSON.stringify(pipeline.name)} has a range of K (k: { min: ${k.min}, max: ${k.max} }), which the shared-model mode does not support ` +
          '(the reducer makes no changes of K from merged statistics): give the fitMixture a fixed k, or run without sharedModel',
      },
    ]);
  }
  return report.sharedOptions;
}

/** Options of {@link SharedModelRun}. */
export interface SharedModelRunOptions {
  readonly kafka: KafkaClientLike;
  readonly shared: SharedModelConfig;
  readonly store: StateStore;
  readonly pipelineId: string;
  readonly fresh: boolean;
  readonly startTimeoutMs: number;
  /** Sends seeds (a plain producer; connected by the run). */
  readonly seedProducer: ProducerLike;
  readonly logger: Logger;
  readonly onError: (error: unknown) => void;
}

/**
 * A member's part of the shared model: the view of the global model, seeds, and (set by the run) its reducer role.
 *
 * 1. {@link start}: restore the latest global model and follow the models topic ({@link GlobalModelView}).
 * 2. {@link link}: what the member's `fitMixture` uses — the latest global model, a bounded wait for a newer one,
 *    and seeds: the points of windows that found no global model, sent to the statistics topic (at most
 *    {@link MAX_SEED_POINTS} points per member) for the reducer's first model.
 */
export class SharedModelRun {
  readonly view: GlobalModelView;
  reducer: ReducerRole | undefined;
  /** The link given to the member's `fitMixture` (through the pipeline scope). */
  readonly link: SharedModelLink;
  private seeded = 0;
  private readonly pendingSeeds = new Set<Promise<unknown>>();

  /** @param o - client, settings, store, the seed producer */
  constructor(private readonly o: SharedModelRunOptions) {
    this.view = new GlobalModelView({
      kafka: o.kafka,
      store: o.store,
      pipelineId: o.pipelineId,
      fresh: o.fresh,
      waitMs: o.shared.modelTimeoutMs,
      startTimeoutMs: o.startTimeoutMs,
      logger: o.logger,
      onError: o.onError,
    });
    this.link = {
      current: (): GlobalModel | undefined => this.view.current(),
      next: (version: number): Promise<GlobalModel> => this.view.next(version),
      seed: (window) => this.seed(window),
      samplePoints: o.shared.samplePoints,
    };
  }


  /** Restores the latest global model and starts following it; returns what was restored. */
  start(): Promise<RestoredModel | undefined> {
    return this.view.start();
  }

  /** Sends a seed (bounded per member). */
  private seed(window: { readonly n: number; readonly d: number; readonly points: Float64Array }): void {
    const n = Math.min(window.n, MAX_SEED_POINTS - this.seeded);
    if (n <= 0) return;
    this.seeded += n;
    const message = seedMessage(this.o.pipelineId, { n, d: window.d, points: window.points.subarray(0, n * window.d) });
    const sent = this.o.seedProducer
      .sendBatch({ topicMessages: [{ topic: this.o.shared.stats, messages: [message] }] })
      .then(() => this.o.logger.info({ points: n, statsTopic: this.o.shared.stats }, 'no global model yet: this member sent the points of its first window as a seed for the reducer'))
      .catch((err: unknown) => {
        this.seeded -= n;
        this.o.logger.warn({ error: describeError(err) }, 'could not send a seed for the first global model; the next window tries again');
      })
      .finally(() => this.pendingSeeds.delete(sent));
    this.pendingSeeds.add(sent);
  }

  /**
   * Leaves the reducer role (after merging what it has read, when `drain`), stops following the global model and
   * disconnects the seed producer.
   */
  async stop(drain: boolean): Promise<void> {
    await Promise.all(this.pendingSeeds);
    await this.reducer?.stop(drain);
    await this.view.stop();
    await this.o.seedProducer.disconnect().catch(() => undefined);
  }
}

/** The error of a run that waited in vain for the first global model. */
export function isModelTimeout(err: unknown): boolean {
  return err instanceof KafkaEdgeError && err.context.operation === 'shared-model';
}
