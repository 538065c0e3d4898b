import type { MixtureJSON } from '../gmm/model.js';
import type { StreamingStateJSON, WindowFit } from '../gmm/streaming.js';

/**
 * What `windowVectors` accepts: a bare vector, or a record whose `vector` field holds it.
 * Extra fields of a record (Kafka coordinates, ids, …) ride along untouched so every label
 * can be traced back to its input.
 */
export type VectorInput = readonly number[] | Float64Array | Float32Array | VectorRecord;

export interface VectorRecord {
  readonly vector: readonly number[] | Float64Array | Float32Array;
  readonly key?: string | null;
}

/** A window of valid points. `points` is n×d row-major; `records[i]` is the input of row i. */
export interface VectorWindow<R = VectorInput> {
  /** 0-based window counter. */
  readonly index: number;
  readonly n: number;
  readonly d: number;
  readonly points: Float64Array;
  readonly records: readonly R[];
  /** Points of this window that were rejected (wrong dimension, NaN, …) and routed out. */
  readonly rejected: number;
}

/** A rejected input, as sent to the error channel (and later to the dead-letter topic). */
export interface InvalidVector<R = unknown> {
  readonly record: R;
  /**
   * Machine-readable reason. `unfittable`: the record was valid, but the window it belonged to could not
   * be fitted numerically (`fitMixture` sends every record of such a window, with the typed error's message).
   * `non-finite-in-use`: a finite coordinate too large to square (|x| > 1e150), rejected at the input gate.
   */
  readonly reason: 'not-numeric' | 'non-finite' | 'wrong-dimension' | 'empty' | 'not-a-vector' | 'decode-error' | 'oversized' | 'unfittable' | 'non-finite-in-use';
  /** Human-readable message saying what was wrong, where, and what to do. */
  readonly message: string;
  /** Index of the offending element inside the vector, when there is one. */
  readonly field?: number;
}

export type { DriftEvent } from '../gmm/drift.js';

/**
 * One fitted window: the core's {@link WindowFit} (labels, densities, log-likelihoods, drift,
 * candidates; documented there) with the model in its JSON form and the window itself.
 */
export interface MixtureUpdate<R = VectorInput> extends Omit<WindowFit, 'params'> {
  readonly windowIndex: number;
  /** The updated model, in the JSON form of model messages (made when first read, then kept). */
  readonly model: MixtureJSON;
  /**
   * The whole streaming state after this window (model, statistics, drift detector, versions): resume from it with
   * `initialState`. Made when first read (from a copy taken with the window), then kept: a consumer that saves the
   * state every N windows pays for the JSON of those windows only.
   */
  readonly state: StreamingStateJSON;
  /** The window itself (points and records), for `toLabels`. */
  readonly window: VectorWindow<R>;
}

/** One labelled point. */
export interface PointLabel<R = VectorInput> {
  readonly record: R;
  readonly windowIndex: number;
  readonly modelVersion: number;
  readonly label: number;
  readonly probability: number;
  readonly logDensity: number;
}
