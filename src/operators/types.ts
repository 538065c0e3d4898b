import type { MixtureJSON } from '../gmm/model.js';

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
  /** Machine-readable reason. */
  readonly reason: 'not-numeric' | 'non-finite' | 'wrong-dimension' | 'empty' | 'not-a-vector' | 'decode-error' | 'oversized';
  /** Human-readable message saying what was wrong, where, and what to do. */
  readonly message: string;
  /** Index of the offending element inside the vector, when there is one. */
  readonly field?: number;
}

export type { DriftEvent } from '../gmm/drift.js';
import type { DriftEvent } from '../gmm/drift.js';

/** One fitted window. */
export interface MixtureUpdate<R = VectorInput> {
  readonly windowIndex: number;
  /** Monotone model version, +1 per update. */
  readonly version: number;
  readonly model: MixtureJSON;
  /** One label per point, in window order. */
  readonly labels: Int32Array;
  /** Probability of the assigned label, per point. */
  readonly probabilities: Float64Array;
  /** log p(x_i) under the updated model, per point. */
  readonly logDensities: Float64Array;
  /** Mean log-likelihood per point on this window, under the updated model. */
  readonly logLikelihood: number;
  /** Mean expected complete-data log-likelihood per point on this window, under the updated model. */
  readonly expectedLogLikelihood: number;
  /** Mean log-likelihood per point of this window under the previous model (before the update); null on the first window. */
  readonly predictiveLogLikelihood: number | null;
  readonly iterations: number;
  readonly converged: boolean;
  readonly warmStarted: boolean;
  readonly restarted: boolean;
  /** Drift statistics computed for this window (alarm events, if any). */
  readonly drift: readonly DriftEvent[];
  /** Matched distance between the previous model and this one (0 on the first window). */
  readonly modelDistance: number;
  /** Every candidate of this window: the warm one (when there is a model) and the cold restarts. */
  readonly candidates: readonly { readonly kind: 'warm' | 'cold'; readonly logLikelihood: number; readonly expectedLogLikelihood: number; readonly iterations: number; readonly selected: boolean }[];
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
