/**
 * K on the stream (`k: { min, max }`, step 6 of `StreamingGmm`): a split or a merge when BIC on the window
 * prefers it on `patience` windows in a row.
 *
 * @module
 */
import { bySpread, mixtureParameters } from '../birthDeath.js';
import { closestPair, mergeMove, splitMove, windowBic } from '../chooseK.js';
import { componentDistance, componentDistanceMatrix } from '../distance.js';
import { CovarianceError } from '../errors.js';
import type { GmmParams } from '../types.js';
import type { ComponentBook } from './book.js';
import { permuteCandidate, type Candidate } from './candidate.js';
import type { WarmFitPolicy } from './warmFit.js';
import type { WindowContext } from './window.js';

/** A change of K made on a window: the labels split into, or merged. */
export interface KChange {
  readonly kind: 'split' | 'merge';
  readonly labels: number[];
}

/** The streaks of a K policy, as saved. */
export interface KChangeJSON {
  readonly splitStreak: number;
  readonly mergeStreak: number;
}

/** The K-change policy: propose a split and a merge, make one when it has won long enough. */
export interface KChangePolicy {
  /**
   * Fits the moves to the window and makes one when due; the book gains or loses the row.
   *
   * @returns the candidate with the new K and the change, or null when K stays
   */
  apply(w: WindowContext, candidate: Candidate, book: ComponentBook, range: { min: number; max: number; patience: number }): { candidate: Candidate; change: KChange } | null;
  toJSON(): KChangeJSON;
}

/**
 * After a split of `donor` into `donor` and `other`, the donor's label stays with the half nearer (Bhattacharyya)
 * to where the donor was: the two are swapped when `other` is nearer.
 */
export function keepDonorIdentity(c: Candidate, before: GmmParams, donor: number, other: number): Candidate {
  const distance = (j: number): number => componentDistance(before, donor, c.params, j, 'bhattacharyya');
  if (!(distance(other) < distance(donor))) return c;
  const perm = Int32Array.from({ length: c.params.k }, (_, i) => i);
  perm[donor] = other;
  perm[other] = donor;
  return permuteCandidate(c, perm);
}

/**
 * BIC moves (see step 6 of `StreamingGmm`):
 *
 * 1. split: the component of largest weighted spread split along its principal axis into itself and a new
 *    component K (a new label, empty statistics);
 * 2. merge: the two closest components, and the lightest with its nearest (moment-matched, statistics summed,
 *    the heavier one's label kept);
 * 3. each is refitted to the window; the one that lowers BIC on the window on `patience` windows in a row is made.
 */
export class BicKChange implements KChangePolicy {
  private splitStreak: number;
  private mergeStreak: number;

  constructor(
    private readonly warm: WarmFitPolicy,
    saved?: KChangeJSON,
  ) {
    this.splitStreak = saved?.splitStreak ?? 0;
    this.mergeStreak = saved?.mergeStreak ?? 0;
  }

  toJSON(): KChangeJSON {
    return { splitStreak: this.splitStreak, mergeStreak: this.mergeStreak };
  }

  /** Streaks back to zero (a restart that changed K, a new model). */
  reset(): void {
    this.splitStreak = 0;
    this.mergeStreak = 0;
  }

  apply(w: WindowContext, fitted: Candidate, book: ComponentBook, range: { min: number; max: number; patience: number }): { candidate: Candidate; change: KChange } | null {
    const o = w.options;
    const { d, n } = w.data;
    const K = fitted.params.k;
    const bic = (f: Candidate): number => windowBic(f.logLikelihood, n, mixtureParameters(o.covarianceType, f.params.k, d));
    const base = bic(fitted);
    let split: { candidate: Candidate; donor: number } | null = null;
    if (K < range.max) {
      const donor = bySpread(fitted.params, new Set()).at(0);
      const start = donor === undefined ? null : splitMove(fitted.params, donor, w.data);
      if (start !== null && donor !== undefined) {
        try {
          const refit = this.warm.refit(w, start, fitted.history?.withEmptyRow() ?? null, [donor, K]);
          split = { candidate: keepDonorIdentity(refit, fitted.params, donor, K), donor };
        } catch (err) {
          if (!(err instanceof CovarianceError)) throw err;
        }
      }
    }
    let merge: { candidate: Candidate; pair: [number, number] } | null = null;
    if (K > range.min && K > 1) {
      // The two closest components, and the lightest with its nearest (a cluster that faded away).
      const dist = componentDistanceMatrix(fitted.params, fitted.params, 'bhattacharyya');
      const pairs: [number, number][] = [closestPair(fitted.params)];
      let lightest = 0;
      for (let c = 1; c < K; c++) if (fitted.params.weights[c] < fitted.params.weights[lightest]) lightest = c;
      let nearest = lightest === 0 ? 1 : 0;
      for (let c = 0; c < K; c++) if (c !== lightest && dist[lightest * K + c] < dist[lightest * K + nearest]) nearest = c;
      const second: [number, number] = [Math.min(lightest, nearest), Math.max(lightest, nearest)];
      if (second[0] !== pairs[0][0] || second[1] !== pairs[0][1]) pairs.push(second);
      for (const pair of pairs) {
        const [i, j] = pair;
        try {
          const f = this.warm.refit(w, mergeMove(fitted.params, i, j), fitted.history?.merged(i, j) ?? null, []);
          if (merge === null || bic(f) < bic(merge.candidate)) merge = { candidate: f, pair };
        } catch (err) {
          if (!(err instanceof CovarianceError)) throw err;
        }
      }
    }
    const splitGain = split === null ? Infinity : bic(split.candidate) - base;
    const mergeGain = merge === null ? Infinity : bic(merge.candidate) - base;
    this.splitStreak = splitGain < 0 ? this.splitStreak + 1 : 0;
    this.mergeStreak = mergeGain < 0 ? this.mergeStreak + 1 : 0;
    const doSplit = split !== null && this.splitStreak >= range.patience && (this.mergeStreak < range.patience || splitGain <= mergeGain);
    const doMerge = !doSplit && merge !== null && this.mergeStreak >= range.patience;
    if (doSplit) {
      const s = split!;
      const donorLabel = book.row(s.donor).label;
      const label = book.append(w.t + 3);
      this.reset();
      return { candidate: { ...s.candidate, kind: fitted.kind, iterations: fitted.iterations + s.candidate.iterations }, change: { kind: 'split', labels: [donorLabel, label] } };
    }
    if (doMerge) {
      const m = merge!;
      const [i, j] = m.pair;
      // The merged component (at index i) keeps the label of the heavier of the two.
      const [kept, gone] = fitted.params.weights[i] >= fitted.params.weights[j] ? [i, j] : [j, i];
      const labels = [book.row(kept).label, book.row(gone).label];
      book.merge(i, j, labels[0]);
      this.reset();
      return { candidate: { ...m.candidate, kind: fitted.kind, iterations: fitted.iterations + m.candidate.iterations }, change: { kind: 'merge', labels } };
    }
    return null;
  }
}
