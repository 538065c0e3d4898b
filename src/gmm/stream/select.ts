/**
 * Candidate selection of a streaming window (step 4 of `StreamingGmm`): when cold candidates run, and how
 * they compete with the warm one.
 *
 * @module
 */
import { matchComponents, permuteComponents } from '../align.js';
import { mixtureParameters } from '../birthDeath.js';
import { windowBic } from '../chooseK.js';
import { runEM } from '../em.js';
import { CovarianceError, NumericError } from '../errors.js';
import { eStep, precompute } from '../estep.js';
import { countDistinctRows, initialise, KmeansPlusPlusSeeding, sameParams, seedsWithKmeansPlusPlus } from '../init.js';
import { logDensities, significantlyBetter, splitWindow, type WindowSplit } from '../selection.js';
import { SufficientStats } from '../stats.js';
import type { Dataset, GmmParams } from '../types.js';
import { candidateOf, type Candidate, type History } from './candidate.js';
import type { WarmFitPolicy } from './warmFit.js';
import type { WindowContext } from './window.js';
import { inPhase } from './profile.js';

/** One candidate of a window, as reported. */
export interface WindowCandidate {
  readonly kind: 'warm' | 'cold';
  /** Mean log-likelihood per point on the data it was fitted to (the window, or its fitted part on a restart window with a warm candidate). */
  readonly logLikelihood: number;
  readonly expectedLogLikelihood: number;
  readonly iterations: number;
  /** Mean log-likelihood per point on the held-out part of the window (null when nothing was held out). */
  readonly heldOutLogLikelihood: number | null;
  readonly selected: boolean;
}

/** The selection policy: when cold candidates compete, and which candidate wins. */
export interface SelectionPolicy {
  /** Whether cold candidates run on window t (after a likelihood alarm on it, or not). */
  wantsRestart(w: WindowContext, likelihoodAlarm: boolean): boolean;
  /**
   * Cold candidates only (the first window, or a window whose warm candidate could not be fitted): they share
   * the data and compete by `select`; across the K of a range, by BIC on the window.
   *
   * @param previous the previous model (its K is kept and the winner is matched to it), or null
   */
  cold(w: WindowContext, previous: GmmParams | null, reports: WindowCandidate[]): Candidate;
  /** Warm against cold on held-out points of the window; the winner refitted on the whole window. */
  heldOut(w: WindowContext, warm: Candidate, previous: GmmParams, history: History | null, reports: WindowCandidate[]): Candidate;
}

/**
 * Whether score x beats y beyond rounding: candidates that reached the same optimum score the same up to
 * rounding (which differs with the thread count), so a later one wins only beyond a relative 1e-9 and the
 * choice never depends on the last bits.
 */
function beyond(x: number, y: number): boolean {
  return x > y + 1e-9 * Math.max(1, Math.abs(y));
}

/** A report of a candidate. */
export function reportOf(c: Candidate, heldOut: number | null, selected: boolean): WindowCandidate {
  return { kind: c.kind, logLikelihood: c.logLikelihood, expectedLogLikelihood: c.expectedLogLikelihood, iterations: c.iterations, heldOutLogLikelihood: heldOut, selected };
}

/** A cold winner relabelled in the previous model's order, with its statistics recomputed in that order. */
export function matchedToPrevious(w: WindowContext, c: Candidate, previous: GmmParams): Candidate {
  const o = w.options;
  const params = inPhase('alignment', () => permuteComponents(c.params, matchComponents(previous, c.params, o.drift.metric ?? 'bhattacharyya')));
  const pre = precompute(params);
  if (!pre.ok) throw new CovarianceError({ component: pre.component, covarianceType: o.covarianceType, regCovar: o.regCovar });
  const { data } = w;
  const batch = new SufficientStats(params.k, data.d, o.covarianceType, w.shift);
  const sums = eStep(pre.value, data.data, data.n, o.mode === 'hard', batch);
  return { ...c, params, batch, logLikelihood: sums.logLikelihood / data.n, expectedLogLikelihood: sums.expected / data.n, outputsWritten: false };
}

/** The K values a first window tries: K, or every K of the range that the data's distinct points allow. */
function firstKs(w: WindowContext, previous: GmmParams | null): number[] {
  const k = w.options.k;
  if (typeof k === 'number') return [previous?.k ?? k];
  if (previous !== null) return [previous.k];
  const distinct = countDistinctRows(w.data, k.max);
  const out: number[] = [];
  for (let c = k.min; c <= Math.min(k.max, distinct); c++) out.push(c);
  return out;
}

/**
 * The cold candidates of a window: `restarts` EM runs from each initialisation of `init` (in that order), each
 * with its own fork of the window's generator; those that cannot be fitted are left out.
 *
 * Two seedings by default, k-means++ and Lloyd's k-means: on heavily overlapping clusters they land in
 * different optima, and the best of both by `select` is nearer the generating mixture more often than the best
 * of either alone (see {@link StreamingOptions.init}). The c-th start of every method that begins with k-means++
 * centres shares one seeding (drawn by the first such method's c-th fork), and a start identical to an earlier
 * one of the same seeding is not run again: where Lloyd's iterations leave the k-means++ assignment as it was
 * (separated clusters), the k-means start is the k-means++ one and its EM run would repeat it.
 */
export function coldCandidates(w: WindowContext, data: Dataset, k: number): Candidate[] {
  const o = w.options;
  const out: Candidate[] = [];
  const seedings: KmeansPlusPlusSeeding[] = [];
  const starts: GmmParams[][] = Array.from({ length: o.restarts }, () => []);
  for (const method of o.init) {
    for (let c = 0; c < o.restarts; c++) {
      const crng = w.rng.fork();
      const ctx = { k, covarianceType: o.covarianceType, regCovar: o.regCovar, rng: crng, shift: w.shift };
      const initial = w.attempt(() => {
        if (!seedsWithKmeansPlusPlus(method)) return initialise(data, method, ctx);
        seedings[c] ??= new KmeansPlusPlusSeeding(data, ctx);
        return seedings[c].start(method);
      });
      if (initial === null || starts[c].some((p) => p === initial || sameParams(p, initial))) continue;
      starts[c].push(initial);
      const run = w.attempt(() => runEM(data, initial, { ...w.run, rng: crng }));
      if (run !== null) out.push(candidateOf('cold', run, null, false));
    }
  }
  return out;
}

/**
 * The window split for candidates judged on held-out points (`holdOut` of it held out), or null when there is none:
 * a part would be empty, or the fitted part holds fewer than K distinct points.
 */
export function heldOutSplit(w: WindowContext, k: number): WindowSplit | null {
  const split = splitWindow(w.data, w.options.holdOut, w.rng);
  return split === null || countDistinctRows(split.fit, k) < k ? null : split;
}

/**
 * Selection by held-out likelihood (step 4 of `StreamingGmm`):
 *
 * 1. restarts run on the first window, every N windows (`restart: { every }`) or on a likelihood alarm
 *    (`'on-drift'`);
 * 2. with a warm candidate, every candidate is fitted to the same random 1 − `holdOut` of the window (the
 *    warm one with its history) and scored on the rest; the best cold one replaces the warm one only when it
 *    is better beyond noise (a paired test), and the winner is refitted on the whole window;
 * 3. without one, the cold candidates share the window and compete by `select` (by BIC across the K of a range).
 */
export function heldOutSelection(warm: WarmFitPolicy): SelectionPolicy {
  return {
    wantsRestart(w, likelihoodAlarm) {
      const policy = w.options.restart;
      if (policy === 'never') return false;
      if (policy === 'on-drift') return likelihoodAlarm;
      return w.t > 0 && w.t % policy.every === 0;
    },

    cold(w, previous, reports) {
      const o = w.options;
      const { data } = w;
      const colds: Candidate[] = [];
      for (const k of firstKs(w, previous)) colds.push(...coldCandidates(w, data, k));
      if (colds.length === 0) throw w.failure ?? new NumericError('no candidate could be fitted to the window', { quantity: 'candidates' });
      // Within a K the candidates share the data and compete by `select`; across K (a range), each K's best
      // competes by BIC on the window.
      const score = (f: Candidate): number => (o.select === 'expected' ? f.expectedLogLikelihood : f.logLikelihood);
      const bic = (f: Candidate): number => windowBic(f.logLikelihood, data.n, mixtureParameters(o.covarianceType, f.params.k, data.d));
      const bestOfK = new Map<number, number>();
      colds.forEach((f, i) => {
        const b = bestOfK.get(f.params.k);
        if (b === undefined || beyond(score(f), score(colds[b]))) bestOfK.set(f.params.k, i);
      });
      let best = -1;
      for (const i of bestOfK.values()) if (best < 0 || beyond(bic(colds[best]), bic(colds[i]))) best = i;
      colds.forEach((f, i) => reports.push(reportOf(f, null, i === best)));
      const winner = colds[best];
      return previous !== null && winner.params.k === previous.k ? matchedToPrevious(w, winner, previous) : winner;
    },

    heldOut(w, warmFull, previous, history, reports) {
      const K = previous.k;
      const split = heldOutSplit(w, K);
      if (split === null) {
        // Too small a window to hold anything out: keep the warm candidate.
        reports.push(reportOf(warmFull, null, true));
        return warmFull;
      }
      const entries: { kind: 'warm' | 'cold'; candidate: Candidate; heldOut: number; densities: Float64Array | null }[] = [];
      const entry = (kind: 'warm' | 'cold', candidate: Candidate): void => {
        const densities = logDensities(candidate.params, split.test);
        let mean = -Infinity;
        if (densities !== null) {
          mean = 0;
          for (let i = 0; i < densities.length; i++) mean += densities[i] / densities.length;
        }
        entries.push({ kind, candidate, heldOut: mean, densities });
      };
      const warmPart = w.attempt(() => warm.fit(w, split.fit, previous, history, {}).candidate);
      if (warmPart !== null) entry('warm', warmPart);
      for (const cold of coldCandidates(w, split.fit, K)) entry('cold', cold);
      // The best cold candidate replaces the warm one only when it predicts the held-out points better beyond noise.
      let best = -1;
      entries.forEach((e, i) => {
        if (e.kind === 'cold' && e.densities !== null && (best < 0 || beyond(e.heldOut, entries[best].heldOut))) best = i;
      });
      const warmIndex = entries.findIndex((e) => e.kind === 'warm' && e.densities !== null);
      if (warmIndex >= 0 && (best < 0 || !significantlyBetter(entries[best].densities!, entries[warmIndex].densities!))) best = warmIndex;
      entries.forEach((e, i) => reports.push(reportOf(e.candidate, Number.isFinite(e.heldOut) ? e.heldOut : null, i === best)));
      if (best < 0 || entries[best].kind === 'warm') return warmFull;
      // A cold winner: refit on the whole window from its parameters, without history, in the previous order.
      const chosen = entries[best].candidate;
      const run = w.attempt(() => runEM(w.data, chosen.params, { ...w.run, rng: w.rng }));
      if (run === null) return warmFull;
      const refit = candidateOf('cold', run, null, false);
      return matchedToPrevious(w, { ...refit, iterations: chosen.iterations + refit.iterations }, previous);
    },
  };
}
