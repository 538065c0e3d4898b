import type { MixtureJSON } from '../gmm/model.js';
import type { SufficientStats } from '../gmm/stats.js';
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
  /** n×d row-major; owned by the window, or lent by `windowVectors({ reuseBuffers })` (valid while it and the next window are handled). */
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
  /**
   * In the shared-model mode only (a `fitMixture` built by a runner that shares one model over a consumer group):
   * the window's statistics under the global model, one contribution per input partition of the window, for the
   * runner to publish to the reducer. `version` and `model` are then the global model the window was labelled with.
   */
  readonly contributions?: readonly WindowContribution[];
}

/**
 * The part of one window that came from one input partition, as a member of a shared model publishes it: its
 * sufficient statistics under the global model (one E-step, no M-step), the offsets they cover, and a small
 * seeded sample of its points (for the reducer's held-out checks).
 */
export interface WindowContribution {
  readonly topic: string;
  readonly partition: number;
  /** The first and last offsets of the records whose points are in `stats` (decimal strings). */
  readonly firstOffset: string;
  readonly lastOffset: string;
  /** Points in `stats`. */
  readonly count: number;
  /** `count` over the window's points: the share of a window this is (for the reducer's forgetting). */
  readonly windowShare: number;
  /** The global model version the statistics (and the labels) were computed under. */
  readonly modelVersion: number;
  /** s0, s1, s2 under that model, about the global statistics' origin. */
  readonly stats: SufficientStats;
  /** Σ log p(x_i) under that model (the window's predictive log-likelihood, summed). */
  readonly logLikelihood: number;
  /** Σ (log p(x_i))², for the standard error of the predictive log-likelihood. */
  readonly logLikelihoodSquares: number;
  /** Σ_i Σ_k w_ik log(π_k N(x_i | θ_k)) under that model. */
  readonly expectedLogLikelihood: number;
  /** A seeded sample of the points (m×d row-major). */
  readonly sample: Float64Array;
  readonly sampleSize: number;
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
