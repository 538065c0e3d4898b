/**
 * A candidate model of a window and the history it carries: what the policies of the streaming loop hand to
 * each other (see `StreamingGmm`).
 *
 * @module
 */
import type { ComponentDrift, WeightDrift } from '../adaptive.js';
import { appendEmptyRow, mergeArray, mergeRows, permuteArray, permuteRows } from '../chooseK.js';
import { combineStats, splitComponentRow } from '../componentStats.js';
import type { RunResult } from '../em.js';
import { permuteComponents } from '../align.js';
import { COVARIANCE } from '../covariance.js';
import type { SufficientStats } from '../stats.js';
import type { GmmParams } from '../types.js';

/** Per component, the weight of data behind the carried covariances (`shape`) and means (`mean`). */
export interface Evidence {
  readonly shape: Float64Array;
  readonly mean: Float64Array;
}

/**
 * What a candidate carries from the past, one row per component: the carried statistics (already forgotten
 * by the window's factor) merged in its M-steps, the per-component factors of that merge (see
 * `combineStats`) and the weight of data behind it. Rows move together ({@link History.permuted},
 * {@link History.withEmptyRow}, {@link History.merged}).
 */
export class History {
  /**
   * @param prior the carried statistics (K rows)
   * @param evidence per component, the weight of data behind `prior`'s covariances and means (≤ prior.s0)
   * @param shape per component, the share of its history that shapes it (null: all 1)
   * @param mass per component, the factor on its carried weight (null: all 1; NaN: starts afresh)
   * @param translate per component, the fraction of the way its history is moved to the window's mean (null: none)
   */
  constructor(
    readonly prior: SufficientStats,
    readonly evidence: Evidence,
    readonly shape: Float64Array | null = null,
    readonly mass: Float64Array | null = null,
    readonly translate: Float64Array | null = null,
  ) {}

  /** The same history with other factors. */
  with(factors: { shape?: Float64Array | null; mass?: Float64Array | null; translate?: Float64Array | null; evidence?: Evidence }): History {
    return new History(
      this.prior,
      factors.evidence ?? this.evidence,
      factors.shape === undefined ? this.shape : factors.shape,
      factors.mass === undefined ? this.mass : factors.mass,
      factors.translate === undefined ? this.translate : factors.translate,
    );
  }

  /** Rows reordered: new row j is old row perm[j]. */
  permuted(perm: ArrayLike<number>): History {
    const pa = <T extends Float64Array>(a: T | null): T | null => (a === null ? null : permuteArray(a, perm));
    return new History(permuteRows(this.prior, perm), { shape: permuteArray(this.evidence.shape, perm), mean: permuteArray(this.evidence.mean, perm) }, pa(this.shape), pa(this.mass), pa(this.translate));
  }

  /** An empty row appended (a new component without history). */
  withEmptyRow(): History {
    return new History(
      appendEmptyRow(this.prior),
      { shape: Float64Array.of(...this.evidence.shape, 0), mean: Float64Array.of(...this.evidence.mean, 0) },
      this.shape ? Float64Array.of(...this.shape, 1) : null,
      this.mass ? Float64Array.of(...this.mass, 1) : null,
      this.translate ? Float64Array.of(...this.translate, 0) : null,
    );
  }

  /** Rows i < j merged into row i (statistics and evidence summed, factors averaged by carried weight), row j removed. */
  merged(i: number, j: number): History {
    const wi = this.prior.s0[i];
    const wj = this.prior.s0[j];
    const mean = (x: number, y: number): number => (wi + wj > 0 ? (wi * x + wj * y) / (wi + wj) : 0.5 * (x + y));
    const sum = (x: number, y: number): number => x + y;
    return new History(
      mergeRows(this.prior, i, j),
      { shape: mergeArray(this.evidence.shape, i, j, sum), mean: mergeArray(this.evidence.mean, i, j, sum) },
      this.shape ? mergeArray(this.shape, i, j, mean) : null,
      this.mass ? mergeArray(this.mass, i, j, mean) : null,
      this.translate ? mergeArray(this.translate, i, j, (x, y) => Math.max(x, y)) : null,
    );
  }

  /**
   * Row `from` added into row `into` (statistics and evidence summed, factors averaged by carried weight); row
   * `from` as it was (the caller gives it a new history).
   */
  absorbed(into: number, from: number): History {
    const prior = this.prior.clone();
    const { d: D, s0, s1, s2 } = prior;
    const ss = COVARIANCE[prior.covarianceType].s2Stride(D);
    const wi = s0[into];
    const wf = s0[from];
    s0[into] += s0[from];
    for (let a = 0; a < D; a++) s1[into * D + a] += s1[from * D + a];
    for (let q = 0; q < ss; q++) s2[into * ss + q] += s2[from * ss + q];
    const sum = (e: Float64Array): Float64Array => {
      const out = Float64Array.from(e);
      out[into] += e[from];
      return out;
    };
    const mean = (x: Float64Array | null): Float64Array | null => {
      if (x === null) return null;
      const out = Float64Array.from(x);
      out[into] = wi + wf > 0 ? (wi * x[into] + wf * x[from]) / (wi + wf) : 0.5 * (x[into] + x[from]);
      return out;
    };
    const translate = this.translate === null ? null : Float64Array.from(this.translate, (x, k) => (k === into ? Math.max(x, this.translate![from]) : x));
    return new History(prior, { shape: sum(this.evidence.shape), mean: sum(this.evidence.mean) }, mean(this.shape), mean(this.mass), translate);
  }

  /**
   * The history with component `from`'s row split between itself (share a) and row `to` (moments preserved,
   * {@link splitComponentRow}): the two halves of a split component keep the history of the whole, each its
   * share; both rows shape 1, not translated, and the donor's mass factor (its weight forgotten as the donor's
   * was: on a window whose weights changed, the others' are too).
   */
  splitRow(from: number, to: number, a: number, delta: ArrayLike<number>): History {
    const prior = this.prior.clone();
    splitComponentRow(prior, from, to, a, delta);
    const split = (e: Float64Array): Float64Array => {
      const out = Float64Array.from(e);
      out[to] = (1 - a) * e[from];
      out[from] = a * e[from];
      return out;
    };
    const set = (x: Float64Array | null, value: number): Float64Array | null => {
      if (x === null) return null;
      const out = Float64Array.from(x);
      out[from] = value;
      out[to] = value;
      return out;
    };
    return new History(prior, { shape: split(this.evidence.shape), mean: split(this.evidence.mean) }, set(this.shape, 1), set(this.mass, this.mass?.[from] ?? 1), set(this.translate, 0));
  }

  /**
   * The factors of a refit in which the components `reset` start without history (shape 0), their weight
   * their window share of the carried total (mass NaN), not translated.
   */
  resetFactors(reset: readonly number[]): { shape: Float64Array; mass: Float64Array; translate: Float64Array | null } {
    const K = this.prior.k;
    const shape = this.shape ? Float64Array.from(this.shape) : new Float64Array(K).fill(1);
    const mass = this.mass ? Float64Array.from(this.mass) : new Float64Array(K).fill(1);
    const translate = this.translate ? Float64Array.from(this.translate) : null;
    for (const r of reset) {
      shape[r] = 0;
      mass[r] = Number.NaN;
      if (translate !== null) translate[r] = 0;
    }
    return { shape, mass, translate };
  }

  /** The evidence that stays after discounting the covariance histories by `shape` and translating the means by `translate`. */
  kept(translate: ArrayLike<number> | null, shape: ArrayLike<number> | null): Evidence {
    return {
      shape: Float64Array.from(this.evidence.shape, (e, k) => e * (shape?.[k] ?? 1)),
      mean: Float64Array.from(this.evidence.mean, (e, k) => e * (1 - (translate?.[k] ?? 0)) * (shape?.[k] ?? 1)),
    };
  }
}

/** A candidate model of a window and what it carries forward. */
export interface Candidate {
  readonly kind: 'warm' | 'cold';
  readonly params: GmmParams;
  /** The window's statistics under `params` (unweighted). */
  readonly batch: SufficientStats;
  /** The history merged in its M-steps (null: fitted to the window alone). */
  readonly history: History | null;
  /** Mean log-likelihood per point of the data it was fitted to. */
  readonly logLikelihood: number;
  readonly expectedLogLikelihood: number;
  readonly iterations: number;
  readonly converged: boolean;
  /** The per-component drift tests of adaptive forgetting (warm candidates). */
  readonly drift: ComponentDrift | null;
  /** The test of the mixing weights (warm candidates). */
  readonly weights: WeightDrift | null;
  /** The run whose final E-step wrote the per-point outputs was this candidate's. */
  readonly outputsWritten: boolean;
}

/** A candidate from one EM run. */
export function candidateOf(kind: 'warm' | 'cold', run: RunResult, history: History | null, outputsWritten: boolean, extra: Partial<Candidate> = {}): Candidate {
  return {
    kind,
    params: run.params,
    batch: run.batchStats,
    history,
    logLikelihood: run.logLikelihood,
    expectedLogLikelihood: run.expectedLogLikelihood,
    iterations: run.iterations,
    converged: run.converged,
    drift: null,
    weights: null,
    outputsWritten,
    ...extra,
  };
}

/** A candidate with its components reordered (new j = old perm[j]): parameters, statistics and history. */
export function permuteCandidate(c: Candidate, perm: Int32Array): Candidate {
  return { ...c, params: permuteComponents(c.params, perm), batch: permuteRows(c.batch, perm), history: c.history?.permuted(perm) ?? null, outputsWritten: false };
}

/** The statistics a candidate carries forward: its history and window combined with its factors. */
export function carriedStats(c: Candidate, batchWeight: number): SufficientStats {
  const h = c.history;
  if (h === null) return batchWeight === 1 ? c.batch.clone() : c.batch.clone().scale(batchWeight);
  const out = h.prior.clone();
  combineStats(out, h.prior, c.batch, batchWeight, h.shape, h.mass, c.batch.clone(), h.translate);
  return out;
}

/** The weight of data behind each component's covariance and mean after the window (the history's kept evidence plus the window). */
export function evidenceAfter(c: Candidate, batchWeight: number): Evidence {
  const h = c.history;
  return {
    shape: Float64Array.from(c.batch.s0, (s0, k) => (h?.evidence.shape[k] ?? 0) + batchWeight * s0),
    mean: Float64Array.from(c.batch.s0, (s0, k) => (h?.evidence.mean[k] ?? 0) + batchWeight * s0),
  };
}
