import type { Observable, SchedulerLike } from 'rxjs';
import type { MixtureJSON } from './gmm/model.js';
import type { StreamingStateJSON } from './gmm/streaming.js';
import type { Instrumentation } from './instrumentation.js';
import type { InvalidVector, MixtureUpdate, VectorInput } from './operators/types.js';

/** What a pipeline's `build` receives from whoever runs it (the demo runner, `emstream run`, a user's service). */
export interface PipelineContext {
  /** Events of the run (`em.window.fitted`, `em.drift.detected`, …). */
  readonly instrumentation: Instrumentation;
  /** Rejected inputs go here (the dead-letter path). Pass it to `windowVectors({ onInvalid })`. */
  readonly onInvalid: (invalid: InvalidVector<unknown>) => void;
  /** Scheduler for time windows (virtual time in tests). */
  readonly scheduler?: SchedulerLike;
  /** A model to start warm from (e.g. the latest one restored from the models topic): pass it as `fitMixture({ initialModel })`. */
  readonly initialModel?: MixtureJSON;
  /**
   * The whole streaming state restored by the runner (statistics, drift detector, versions). Nothing to do with
   * it: the runner builds the pipeline inside `buildInPipelineScope`, so its `fitMixture` resumes from it.
   */
  readonly initialState?: StreamingStateJSON;
}

/** Kafka defaults of a pipeline, used by `emstream run --pipeline NAME` (flags override them). */
export interface PipelineKafkaDefaults {
  readonly input?: string;
  readonly models?: string;
  readonly labels?: string;
  readonly deadLetters?: string;
  /** Topic of drift alarms (default `<input>.drift`), or `false` for none. */
  readonly drift?: string | false;
  /** Topic of the window history (default `<input>.windows`), or `false` for none. */
  readonly windows?: string | false;
  readonly group?: string;
  /** Message format: `json-array`, `json-object` (with `fields`), `csv`, `float32le`, `float64le`. */
  readonly format?: 'json-array' | 'json-object' | 'csv' | 'float32le' | 'float64le';
  readonly fields?: readonly string[];
  /** Expected vector dimension (for binary formats and validation). */
  readonly dimension?: number;
}

/**
 * A pipeline definition: the stream part (vectors in → model updates out) composed from the public
 * operators, plus optional defaults for running it. The runner owns the edges (a synthetic source
 * in process, or Kafka), so the same definition runs in both.
 */
export interface Pipeline<R extends VectorInput = VectorInput> {
  readonly name: string;
  readonly description?: string;
  readonly build: (input: Observable<R>, context: PipelineContext) => Observable<MixtureUpdate<R>>;
  /** A synthetic source for running in process (the demo). */
  readonly source?: () => Observable<R>;
  readonly kafka?: PipelineKafkaDefaults;
}

/** Identity helper that types a pipeline definition. */
export function definePipeline<R extends VectorInput>(pipeline: Pipeline<R>): Pipeline<R> {
  return pipeline;
}
