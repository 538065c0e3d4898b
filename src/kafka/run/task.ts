/**
 * A pipeline task: one instance of the user's pipeline, built in the runner's scope with the state it resumes from,
 * fed records, its updates recorded (window history, drift) and handed to its delivery.
 *
 * At-least-once, a run has one task for all its input partitions; the exactly-once mode has one per input partition
 * (Kafka Streams' tasks), each with its own state and its own transactional delivery.
 *
 * @module
 */
import { Subject, type Observable, type Subscription } from 'rxjs';
import type { Logger } from 'pino';
import type { Instrumentation } from '../../instrumentation.js';
import { WindowRecorder } from '../../monitoring/recorder.js';
import { buildInPipelineScope } from '../../operators/pipelineScope.js';
import type { SharedModelLink } from '../../operators/sharedMember.js';
import type { InvalidVector, MixtureUpdate, VectorInput } from '../../operators/types.js';
import type { Pipeline } from '../../pipeline.js';
import type { Delivery } from '../delivery/delivery.js';
import { messageWindowIndex } from '../messages/outputs.js';
import type { KafkaRecord } from '../source/record.js';
import type { RestoredModel } from '../state/restore.js';
import type { KafkaPipelineContext } from './standardPipeline.js';

/** Options of {@link PipelineTask}. */
export interface PipelineTaskOptions<R extends VectorInput> {
  readonly pipeline: Pipeline<R>;
  /** What it resumes from: a whole state, or only a model (an older message), or nothing. */
  readonly restored: RestoredModel | undefined;
  readonly delivery: Delivery<R>;
  readonly recorder: WindowRecorder;
  readonly instrumentation: Instrumentation;
  /** Where rejected inputs go (the delivery's dead letters). */
  readonly onInvalid: (invalid: InvalidVector<unknown>) => void;
  /** A failure of the pipeline or of handing an update to the delivery. */
  readonly onError: (error: unknown) => void;
  /** The pipeline completed (its input was completed and its last window delivered). */
  readonly onComplete: () => void;
  readonly logger: Logger;
  /** The shared-model mode: the pipeline's `fitMixture` becomes a member of this global model (and `restored` is not used). */
  readonly sharedModel?: SharedModelLink;
  /** The maximum wait of the pipeline's count windows in ms (undefined: none; `RunConfig.maxWaitMs`). */
  readonly maxWaitMs?: number;
}

/** What building a task found. */
export interface TaskStart {
  /** How many `fitMixture`s the pipeline created. */
  readonly mixtures: number;
  /** Whether one of them resumes from the restored state. */
  readonly stateClaimed: boolean;
  /** Whether one of them became a member of the shared model. */
  readonly sharedClaimed: boolean;
}

/**
 * One instance of a pipeline between a record input and a delivery.
 *
 * 1. {@link start}: build the pipeline in the runner's scope (`buildInPipelineScope`: its `fitMixture` resumes from
 *    the restored state, its `windowVectors` gets the dead-letter path) and subscribe; a pipeline that refuses to
 *    start (a restored state it cannot resume) throws here, before anything is consumed.
 * 2. {@link push} records in; each update is recorded ({@link WindowRecorder}) and handed to the delivery.
 * 3. {@link finish} completes the input (the open window is fitted and delivered); {@link close} drops it.
 */
export class PipelineTask<R extends VectorInput> {
  private readonly input = new Subject<KafkaRecord>();
  private subscription: Subscription | undefined;

  /** @param options - pipeline, restored state, delivery, recorder, callbacks */
  constructor(private readonly options: PipelineTaskOptions<R>) {}

  /** The task's delivery. */
  get delivery(): Delivery<R> {
    return this.options.delivery;
  }

  /**
   * Builds the pipeline and subscribes to it.
   *
   * @throws what the pipeline's build or subscription threw (the caller wraps it)
   */
  start(): TaskStart {
    const { pipeline, onInvalid, instrumentation, sharedModel } = this.options;
    // A member of a shared model resumes nothing of its own: the global model is its state.
    const restored = sharedModel === undefined ? this.options.restored : undefined;
    const state = restored?.state;
    const context: KafkaPipelineContext = {
      instrumentation,
      onInvalid,
      ...(restored !== undefined && state === undefined ? { initialModel: restored.model } : {}),
      ...(state !== undefined ? { initialState: state } : {}),
    };
    // The pipeline receives KafkaRecords: records of R (a VectorInput) whose extra fields ride along.
    const scope = sharedModel === undefined ? { initialState: state, onInvalid, maxWaitMs: this.options.maxWaitMs } : { sharedModel, onInvalid, maxWaitMs: this.options.maxWaitMs };
    const report = buildInPipelineScope(scope, () => pipeline.build(this.input as unknown as Observable<R>, context));
    let startupError: unknown;
    let subscribing = true;
    this.subscription = report.result.subscribe({
      next: (update: MixtureUpdate<R>) => {
        try {
          this.options.recorder.observe(update, messageWindowIndex(update));
          this.options.delivery.window(update);
        } catch (err) {
          this.options.onError(err);
        }
      },
      error: (err: unknown) => {
        if (subscribing) startupError = err;
        else this.options.onError(err);
      },
      complete: () => this.options.onComplete(),
    });
    subscribing = false;
    if (startupError !== undefined) {
      this.subscription.unsubscribe();
      throw startupError;
    }
    return { mixtures: report.mixtures, stateClaimed: report.stateClaimed, sharedClaimed: report.sharedClaimed };
  }

  /** Feeds a record. */
  push(record: KafkaRecord): void {
    this.input.next(record);
  }

  /** Completes the input: the pipeline fits its open window, delivers it, and completes. */
  finish(): void {
    this.input.complete();
  }

  /** Drops the pipeline (its open window with it) and stops the recorder. */
  close(): void {
    this.subscription?.unsubscribe();
    this.subscription = undefined;
    this.options.recorder.close();
  }
}
