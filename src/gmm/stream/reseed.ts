/**
 * Birth and death of components on a stream (step 5 of `StreamingGmm`): a re-seed is a hypothesis, made where
 * it gains most and kept only when the next window, which it was not seeded from, agrees.
 *
 * @module
 */
import { localSplit, mergedInto, mostRedundantPair, screenMoves, splitProposal, worstPointProposal } from '../birthDeath.js';
import { CovarianceError, ModelFormatError } from '../errors.js';
import { eStep, precompute } from '../estep.js';
import { paramsFromJSON, paramsToJSON, type MixtureJSON } from '../model.js';
import { logDensities, pairedGain, splitWindow } from '../selection.js';
import { statsToJSON, SufficientStats, type StatsCopy, type SufficientStatsJSON } from '../stats.js';
import { COVARIANCE } from '../covariance.js';
import { cloneParams } from '../em.js';
import type { Dataset, GmmParams } from '../types.js';
import type { ComponentBook } from './book.js';
import { carriedStats, evidenceAfter, type Candidate, type Evidence, type History } from './candidate.js';
import { keepDonorIdentity } from './kChange.js';
import type { WarmFitPolicy } from './warmFit.js';
import type { WindowContext } from './window.js';

/** Why a component was re-seeded: its weight fell below minWeight/K (`starved`), or others explain its points (`redundant`). */
export type ReseedReason = 'starved' | 'redundant';

/** The re-seeds of one window. */
export interface Reseeds {
  /** Labels of the re-seeded components. */
  readonly labels: number[];
  readonly reasons: ReseedReason[];
  /** Labels of every component the move refitted (the re-seeded one and the one split to make room): drift statistics leave them out. */
  readonly moved: number[];
}

/** The model a stream carries between windows. */
export interface CarriedModel {
  readonly params: GmmParams;
  readonly stats: SufficientStats | null;
  readonly evidence: Evidence;
}

/** A re-seed waiting for its verdict: the labels it moved and the model without it, as saved. */
export interface ReseedTrialJSON {
  /** Labels of the re-seeded components. */
  readonly labels: number[];
  /** Labels of every component the move refitted. */
  readonly moved: number[];
  /** The window the re-seed was made on. */
  readonly window: number;
  readonly model: MixtureJSON;
  readonly stats: SufficientStatsJSON | null;
  readonly evidence: number[];
  readonly meanEvidence: number[];
}

/** The state of birth and death, as saved (streaming state version 4). */
export interface BirthDeathJSON {
  /** The window of the next scheduled probe for a better place of a component. */
  readonly probeAt: number;
  /** Windows between probes (doubles while probes find nothing, up to maxBackoff). */
  readonly probeInterval: number;
  /** The re-seed of the last window, waiting for this window's verdict. */
  readonly trial: ReseedTrialJSON | null;
}

/** The verdict on the re-seed of the previous window. */
export interface ReseedVerdict {
  /** Labels re-seeded on the previous window. */
  readonly labels: number[];
  /** Labels of every component that move refitted. */
  readonly moved: number[];
  /** The re-seeded model predicted this window better beyond noise: kept. Otherwise the model without it continues. */
  readonly kept: boolean;
  /** Mean gain in log-likelihood per point of this window of the model with the re-seed over the one without (nats). */
  readonly gain: number;
}

/** The birth-and-death policy. */
export interface BirthDeathPolicy {
  /**
   * Judges the re-seed of the previous window on this window (data it was not seeded from): kept when the
   * model with it predicts the window better beyond noise, else reverted and backed off.
   *
   * @returns the model to continue from, and the verdict (null when nothing was pending)
   */
  judge(w: WindowContext, model: CarriedModel, book: ComponentBook): { model: CarriedModel; verdict: ReseedVerdict | null };
  /**
   * Proposes a re-seed on this window (where the likelihood gains most) and makes it when it predicts held-out
   * points of the window better beyond noise (cross-fitted on its two halves); the next window judges it.
   *
   * @param drifting the stream moves on this window (redundant components are candidates too)
   * @param resp the candidate's responsibilities of the window (n×K), when at hand (for the redundancy check; the
   *   screen of moves computes its own, with exact tails)
   */
  apply(w: WindowContext, candidate: Candidate, book: ComponentBook, drifting: boolean, resp: Float64Array | null): { candidate: Candidate; reseeded: Reseeds };
  /** A cold restart or a change of K replaced the model: forget a pending re-seed, probe the new model soon. */
  replaced(w: WindowContext): void;
  /**
   * The stream changed (a likelihood alarm): probe on this window and at short intervals again, and forget the
   * components' back-offs (what failed before the change says little after it).
   */
  changed(w: WindowContext, book: ComponentBook): void;
  toJSON(): BirthDeathJSON;
}

/** Settings of birth and death. */
export interface BirthDeathSettings {
  readonly minWeight: number;
  readonly maxBackoff: number;
  readonly redundancy: number;
}

/** The z of the next window's verdict: a re-seed must beat the model without it by two standard errors. */
const Z = 2;
/**
 * The z of the held-out check on the window itself: a move must predict the window's points better than the model as
 * it is by 1.5 standard errors, both cross-fitted on the two halves of the window (every point scored once, by models
 * that did not see it). Chosen on the tuning seeds of the quality suite once a split's start was fitted to its own
 * half (before, the screen's fit to the whole window had seen the held-out half): z = 2 made 0.53 re-seeds per 100
 * stationary windows, z = 1.5 0.66 and z = 1 0.86, the 10th percentile of the gap to the true mixture −0.059, −0.053
 * and −0.053 (two D = 32 full streams whose starved components a move of z between 1.5 and 2 fills). The next window
 * still judges.
 */
const Z_HELD_OUT = 1.5;
/** Windows a kept re-seed's components wait before they may be re-seeded again. */
const COOLDOWN = 3;

/** Checks a saved birth-and-death state. */
export function checkBirthDeathJSON(json: unknown, k: number | undefined): BirthDeathJSON {
  const b = json as BirthDeathJSON;
  const path = 'birthDeath';
  if (typeof json !== 'object' || json === null) throw new ModelFormatError('expected { probeAt, probeInterval, trial }', path);
  if (!Number.isInteger(b.probeAt) || b.probeAt < 0) throw new ModelFormatError('must be an integer ≥ 0', `${path}.probeAt`);
  if (!Number.isInteger(b.probeInterval) || b.probeInterval < 1) throw new ModelFormatError('must be an integer ≥ 1', `${path}.probeInterval`);
  if (b.trial !== null) {
    const t = b.trial;
    if (typeof t !== 'object' || t === undefined) throw new ModelFormatError('expected null or { labels, moved, window, model, stats, evidence, meanEvidence }', `${path}.trial`);
    const ints = (a: unknown, what: string): void => {
      if (!Array.isArray(a) || !a.every((v) => Number.isInteger(v) && v >= 0)) throw new ModelFormatError('expected labels (integers ≥ 0)', `${path}.trial.${what}`);
    };
    ints(t.labels, 'labels');
    ints(t.moved, 'moved');
    if (!Number.isInteger(t.window) || t.window < 0) throw new ModelFormatError('must be an integer ≥ 0', `${path}.trial.window`);
    if (typeof t.model !== 'object' || t.model === null || (k !== undefined && t.model.k !== k)) throw new ModelFormatError(`expected the model without the re-seed (K = ${k ?? 'K'})`, `${path}.trial.model`);
    for (const key of ['evidence', 'meanEvidence'] as const) {
      const v = t[key];
      if (!Array.isArray(v) || v.length !== t.model.k || !v.every((x) => Number.isFinite(x) && x >= 0)) throw new ModelFormatError(`expected ${t.model.k} finite numbers ≥ 0`, `${path}.trial.${key}`);
    }
  }
  return b;
}

/** The pending trial in memory. */
interface Trial {
  readonly labels: number[];
  readonly moved: number[];
  readonly window: number;
  readonly shadow: CarriedModel;
}

/** One proposal of a window: where to put component `victim`. */
interface Proposal {
  readonly victim: number;
  /** The component split to make room (null: seeded on the worst-explained point). */
  readonly donor: number | null;
  /** The component the victim's points are merged into first (null: its weight shared out by EM). */
  readonly partner: number | null;
  readonly reason: ReseedReason;
}

/**
 * Birth and death judged on data the re-seed was not fitted to:
 *
 * 1. **When.** A component is a victim when its weight fell below minWeight/K (`starved`), when it is the
 *    lighter of two components sharing their points while the stream drifts (`redundant`, cosine of their
 *    responsibilities above `redundancy`), or, on a scheduled probe, when it is the component whose removal
 *    costs the window least. Probes run on the first warm window, then at intervals that double (up to
 *    `maxBackoff`) while they find nothing, and soon again after a kept re-seed or a cold restart; on the
 *    window of a likelihood alarm (a cluster born, moved or gone) at once.
 * 2. **Where.** {@link screenMoves} measures what splitting each component would gain and what removing each
 *    victim, or merging it into the component it shares most points with, would cost, in log-likelihood; the
 *    two moves of largest estimated gain (split j; remove v, or merge v into its partner, which then takes v's
 *    weight, moments and history) are tried, and for a starved victim also its seeding on the worst-explained
 *    point. A small true cluster is expensive to remove or merge, so it stays: weight alone never moves it.
 * 3. **Held out.** Cross-fitted on the two halves of a random split of the window: on each half the model as it is
 *    and each move (a split two ways: the halves of a two-component fit of the donor's points on that half, sharing
 *    the donor's history with its moments preserved, weighed as one window; or both without history) are refitted
 *    with the same history and scored on the other half; the best move is made when its paired gain over the model
 *    as it is exceeds {@link Z_HELD_OUT} standard errors, then refitted to the whole window. (Against the model
 *    fitted to all of the window, the held-out points' in-sample advantage, large with many parameters per point,
 *    would decide.)
 * 4. **Next window.** The re-seed is a hypothesis: the model without it is kept, and the next window (data
 *    neither saw) judges them by a paired test of the points' log-densities: kept when the mean gain is above
 *    two standard errors; otherwise the model without it continues, and the victim backs off (2, 4, … up to
 *    `maxBackoff` windows).
 */
export class HeldOutBirthDeath implements BirthDeathPolicy {
  private probeAt: number;
  private probeInterval: number;
  private trial: Trial | null;

  constructor(
    private readonly warm: WarmFitPolicy,
    private readonly settings: BirthDeathSettings,
    saved?: BirthDeathJSON,
  ) {
    this.probeAt = saved?.probeAt ?? 1;
    this.probeInterval = saved?.probeInterval ?? 2;
    const t = saved?.trial ?? null;
    this.trial =
      t === null
        ? null
        : {
            labels: [...t.labels],
            moved: [...t.moved],
            window: t.window,
            shadow: { params: paramsFromJSON(t.model), stats: t.stats === null ? null : SufficientStats.fromJSON(t.stats), evidence: { shape: Float64Array.from(t.evidence), mean: Float64Array.from(t.meanEvidence) } },
          };
  }

  toJSON(): BirthDeathJSON {
    return this.snapshot()();
  }

  /** The state as it is now, serialised when the returned function is called ({@link toJSON}). */
  snapshot(): () => BirthDeathJSON {
    const copy = this.copy();
    return () => birthDeathToJSON(copy);
  }

  /** The state as it is now in typed copies (structured-cloneable), made into JSON by {@link birthDeathToJSON}. */
  copy(): BirthDeathCopy {
    const { probeAt, probeInterval } = this;
    const t = this.trial;
    return {
      probeAt,
      probeInterval,
      trial:
        t === null
          ? null
          : {
              labels: [...t.labels],
              moved: [...t.moved],
              window: t.window,
              params: cloneParams(t.shadow.params),
              stats: t.shadow.stats?.copy() ?? null,
              evidence: Float64Array.from(t.shadow.evidence.shape),
              meanEvidence: Float64Array.from(t.shadow.evidence.mean),
            },
    };
  }


  replaced(w: WindowContext): void {
    this.trial = null;
    this.probeInterval = 2;
    this.probeAt = w.t + 1;
  }

  changed(w: WindowContext, book: ComponentBook): void {
    this.probeInterval = 2;
    this.probeAt = Math.min(this.probeAt, w.t);
    for (let k = 0; k < book.k; k++) {
      const row = book.row(k);
      row.backoff = 1;
      row.cooldown = Math.min(row.cooldown, w.t);
    }
  }

  judge(w: WindowContext, model: CarriedModel, book: ComponentBook): { model: CarriedModel; verdict: ReseedVerdict | null } {
    const trial = this.trial;
    if (trial === null) return { model, verdict: null };
    this.trial = null;
    const t = w.t;
    const withMove = logDensities(model.params, w.data);
    const without = logDensities(trial.shadow.params, w.data);
    const { mean, se } = withMove === null || without === null ? { mean: withMove === null ? -Infinity : Infinity, se: 0 } : pairedGain(withMove, without);
    const kept = mean > Z * se;
    const max = this.settings.maxBackoff;
    for (const label of trial.labels) {
      const k = book.indexOf(label);
      if (k < 0) continue;
      const row = book.row(k);
      if (kept) {
        row.backoff = 1;
        row.cooldown = t + COOLDOWN;
      } else {
        row.backoff = Math.min(max, row.backoff * 2);
        row.cooldown = t + row.backoff;
      }
    }
    if (kept) {
      this.probeInterval = 2;
      this.probeAt = t + 2;
    } else this.backOffProbe(t);
    const verdict: ReseedVerdict = { labels: trial.labels, moved: trial.moved, kept, gain: Number.isFinite(mean) ? mean : 0 };
    return { model: kept ? model : trial.shadow, verdict };
  }

  private backOffProbe(t: number): void {
    this.probeInterval = Math.min(this.settings.maxBackoff, this.probeInterval * 2);
    this.probeAt = t + this.probeInterval;
  }

  apply(w: WindowContext, candidate: Candidate, book: ComponentBook, drifting: boolean, resp: Float64Array | null): { candidate: Candidate; reseeded: Reseeds } {
    const none: Reseeds = { labels: [], reasons: [], moved: [] };
    const { data, t } = w;
    const K = candidate.params.k;
    const params = candidate.params;
    if (K < 2 || this.trial !== null) return { candidate, reseeded: none };
    const threshold = this.settings.minWeight / K;
    const ready = (k: number): boolean => book.row(k).cooldown <= t;
    const starved: number[] = [];
    for (let k = 0; k < K; k++) if (params.weights[k] < threshold && ready(k)) starved.push(k);
    let redundant: number | null = null;
    if (drifting) {
      const r = mostRedundantPair(params, data, resp ?? undefined);
      if (r !== null && r.similarity > this.settings.redundancy) {
        const [a, b] = r.pair;
        const lighter = params.weights[a] <= params.weights[b] ? a : b;
        if (!starved.includes(lighter) && ready(lighter)) redundant = lighter;
      }
    }
    const probing = t >= this.probeAt;
    if (starved.length === 0 && redundant === null && !probing) return { candidate, reseeded: none };
    // (the screen's removal costs take logarithms of small responsibilities: exact tails, not the fit's)
    const r = softResponsibilities(params, data);
    if (r === null) return { candidate, reseeded: none };
    // Where: the moves of largest estimated gain.
    const screen = screenMoves(params, data, r, w.options.regCovar);
    const victims = new Map<number, ReseedReason>();
    for (const k of starved) victims.set(k, 'starved');
    if (redundant !== null) victims.set(redundant, 'redundant');
    // (a probe's victim is not backed off when nothing gains: the probe schedule is)
    const probed = new Set<number>();
    if (probing) {
      let cheapest = -1;
      for (let k = 0; k < K; k++) if (ready(k) && (cheapest < 0 || screen.removeCost[k] < screen.removeCost[cheapest])) cheapest = k;
      if (cheapest >= 0 && !victims.has(cheapest)) {
        victims.set(cheapest, params.weights[cheapest] < threshold ? 'starved' : 'redundant');
        probed.add(cheapest);
      }
    }
    const splits: { p: Proposal; gain: number }[] = [];
    for (const [victim, reason] of victims) {
      const into = screen.mergeInto[victim];
      for (let donor = 0; donor < K; donor++) {
        if (donor === victim || !(screen.splitGain[donor] > 0)) continue;
        // Removed (EM shares its weight out) or merged into its partner first, whichever costs less.
        const merge = into >= 0 && into !== donor && screen.mergeCost[victim] < screen.removeCost[victim];
        const gain = screen.splitGain[donor] - (merge ? screen.mergeCost[victim] : screen.removeCost[victim]);
        if (gain > 0) splits.push({ p: { victim, donor, partner: merge ? into : null, reason }, gain });
      }
    }
    splits.sort((a, b) => b.gain - a.gain);
    const proposals: Proposal[] = splits.slice(0, 2).map((s) => s.p);
    for (const victim of starved) proposals.push({ victim, donor: null, partner: null, reason: 'starved' });
    const best = proposals.length === 0 ? null : this.heldOut(w, candidate, proposals);
    if (best === null) {
      // Nothing gains: each starved or redundant victim waits longer (a small true cluster is kept, not
      // thrashed), and the probes do.
      const max = this.settings.maxBackoff;
      for (const k of victims.keys()) {
        if (probed.has(k)) continue;
        const row = book.row(k);
        row.backoff = Math.min(max, row.backoff * 2);
        row.cooldown = t + row.backoff;
      }
      if (probing) this.backOffProbe(t);
      return { candidate, reseeded: none };
    }
    // Made: the model without it is kept for the next window's verdict.
    const { p, fitted } = best;
    const moved = p.donor === null ? [p.victim] : p.partner === null ? [p.donor, p.victim] : [p.donor, p.victim, p.partner];
    const labels = [book.row(p.victim).label];
    const movedLabels = moved.map((k) => book.row(k).label);
    this.trial = { labels, moved: movedLabels, window: t, shadow: { params, stats: carriedStats(candidate, w.batchWeight), evidence: evidenceAfter(candidate, w.batchWeight) } };
    for (const k of moved) book.row(k).cooldown = t + COOLDOWN;
    if (probing) this.probeAt = t + this.probeInterval;
    const next: Candidate = { ...fitted, kind: candidate.kind, drift: candidate.drift, weights: candidate.weights, iterations: candidate.iterations + fitted.iterations };
    return { candidate: next, reseeded: { labels, reasons: [p.reason], moved: movedLabels } };
  }

  /**
   * Step 3, cross-fitted on the two halves of a random split of the window: on each half, the model as it is and
   * each move are refitted to it (with the same history) and scored on the other half; every point of the window is
   * scored once, by models that did not see it. The best move whose paired gain over the model as it is exceeds
   * {@link Z_HELD_OUT} standard errors is refitted to the whole window (from its fit to the first half), or null.
   *
   * The model as it is must be refitted too: it was fitted to every point of the window, an in-sample advantage
   * over a move fitted to part of it that grows with the parameters per point (a D = 32 full mixture of 11
   * components on 2 800 points: about a nat per point on the first window), and that no move could overcome.
   */
  private heldOut(w: WindowContext, candidate: Candidate, proposals: readonly Proposal[]): { p: Proposal; fitted: Candidate } | null {
    const split = splitWindow(w.data, 0.5, w.rng);
    if (split === null) return null;
    const folds = [
      { fit: split.fit, test: split.test },
      { fit: split.test, test: split.fit },
    ];
    const incumbent: Float64Array[] = [];
    // per move (proposal and kind of start): its fit to the first half and its densities on each held-out half
    const moves = new Map<string, { p: Proposal; move: Move; start: GmmParams; densities: Float64Array[] }>();
    for (const fold of folds) {
      const part = w.withData(fold.fit);
      const scored = scoredOn(() => this.warm.refit(part, candidate.params, candidate.history, []), fold.test);
      if (scored === null) return null;
      incumbent.push(scored.densities);
      const foldHalves = halvesOn(candidate.params, fold.fit, proposals, w.options.regCovar);
      proposals.forEach((p, i) => {
        for (const move of proposalMoves(candidate, p, p.donor === null ? null : (foldHalves.get(p.donor) ?? null), fold.fit)) {
          const key = `${i}:${move.kind}`;
          const entry = moves.get(key);
          if (incumbent.length > 1 && entry === undefined) continue;
          const fitted = scoredOn(() => this.warm.refit(part, move.start, move.history, move.reset), fold.test);
          if (fitted === null) {
            moves.delete(key);
            continue;
          }
          if (entry === undefined) moves.set(key, { p, move, start: fitted.fitted.params, densities: [fitted.densities] });
          else entry.densities.push(fitted.densities);
        }
      });
    }
    const base = concat(incumbent);
    let best: { p: Proposal; move: Move; start: GmmParams; gain: number } | null = null;
    for (const { p, move, start, densities } of moves.values()) {
      if (densities.length !== folds.length) continue;
      const { mean, se } = pairedGain(concat(densities), base);
      if (mean > Z_HELD_OUT * se && (best === null || mean > best.gain)) best = { p, move, start, gain: mean };
    }
    if (best === null) return null;
    let fitted: Candidate;
    try {
      fitted = this.warm.refit(w, best.start, best.move.history, best.move.reset);
    } catch (err) {
      if (err instanceof CovarianceError) return null;
      throw err;
    }
    if (best.p.donor !== null) fitted = keepDonorIdentity(fitted, candidate.params, best.p.donor, best.p.victim);
    return { p: best.p, fitted };
  }
}

/** The arrays one after the other. */
function concat(parts: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((s, a) => s + a.length, 0));
  let at = 0;
  for (const a of parts) {
    out.set(a, at);
    at += a.length;
  }
  return out;
}

/** The candidate `fit` makes and the log-densities of `test` under it (null when it cannot be fitted or factored). */
function scoredOn(fit: () => Candidate, test: Dataset): { fitted: Candidate; densities: Float64Array } | null {
  let fitted: Candidate;
  try {
    fitted = fit();
  } catch (err) {
    if (err instanceof CovarianceError) return null;
    throw err;
  }
  const densities = logDensities(fitted.params, test);
  return densities === null ? null : { fitted, densities };
}

/** Where a proposal starts and what history it carries. */
interface Move {
  /** How it starts: the donor's two halves (fitted on the part the move is fitted to) with its history, its principal axis, or the worst-explained point. */
  readonly kind: 'halves' | 'axis' | 'worst';
  readonly start: GmmParams;
  readonly history: History | null;
  readonly reset: number[];
}

/**
 * The moves of a proposal. A seed on the worst-explained point starts the victim without history. A split of the
 * donor takes the donor's place and the victim's two ways: (1) from the donor's local two-component fit on `data`
 * ({@link halvesOn}), the donor's history split between the halves with its moments preserved and weighed as one window
 * of their points at most (a prior for their shapes, not a verdict on them); (2) along the donor's principal axis,
 * both halves without history. The held-out points choose.
 */
function proposalMoves(candidate: Candidate, p: Proposal, halves: GmmParams | null, data: Dataset): Move[] {
  if (p.donor === null) {
    const start = worstPointProposal(candidate.params, p.victim, data);
    return start === null ? [] : [{ kind: 'worst', start, history: candidate.history, reset: [p.victim] }];
  }
  // A merge first: the partner takes the victim's weight, moments and history.
  const params = p.partner === null ? candidate.params : mergedInto(candidate.params, p.partner, p.victim);
  if (p.partner !== null) params.weights[p.victim] = 0;
  const history = p.partner === null ? candidate.history : (candidate.history?.absorbed(p.partner, p.victim) ?? null);
  const moves: Move[] = [];
  if (halves !== null) {
    const { d: D, covarianceType: type } = params;
    const start = cloneParams(params);
    const a = halves.weights[0];
    const total = params.weights[p.donor] + params.weights[p.victim];
    start.weights[p.donor] = a * total;
    start.weights[p.victim] = (1 - a) * total;
    start.means.set(halves.means.subarray(0, D), p.donor * D);
    start.means.set(halves.means.subarray(D, 2 * D), p.victim * D);
    const cs = COVARIANCE[type].stride(D);
    if (cs > 0) {
      start.covariances.set(halves.covariances.subarray(0, cs), p.donor * cs);
      start.covariances.set(halves.covariances.subarray(cs, 2 * cs), p.victim * cs);
    }
    if (history === null) moves.push({ kind: 'halves', start, history: null, reset: [] });
    else {
      const delta = Float64Array.from({ length: D }, (_, c) => halves.means[c] - halves.means[D + c]);
      const split = history.splitRow(p.donor, p.victim, a, delta);
      const own = (params.weights[p.donor] * data.n) / Math.max(1e-300, history.prior.s0[p.donor]);
      const shape = split.shape ? Float64Array.from(split.shape) : new Float64Array(params.k).fill(1);
      shape[p.donor] = shape[p.victim] = Math.min(1, Math.max(0, own));
      moves.push({ kind: 'halves', start, history: split.with({ shape, evidence: split.kept(null, shape) }), reset: [] });
    }
  }
  const start = splitProposal(params, p.donor, p.victim, data);
  if (start !== null) moves.push({ kind: 'axis', start, history, reset: [p.donor, p.victim] });
  return moves;
}

/**
 * The donors' two-component fits ({@link localSplit}) on one half of the window, from which its moves start: the
 * screen's, fitted to the whole window, have seen the other half, and a split started from them predicts it as if
 * it had (in many dimensions by more than the split gains: 0.02 nats per point on the held-out half, then 0.03
 * lost on the next window).
 */
function halvesOn(params: GmmParams, part: Dataset, proposals: readonly Proposal[], regCovar: number): Map<number, GmmParams | null> {
  const out = new Map<number, GmmParams | null>();
  if (!proposals.some((p) => p.donor !== null)) return out;
  const resp = softResponsibilities(params, part);
  if (resp === null) return out;
  for (const p of proposals) if (p.donor !== null && !out.has(p.donor)) out.set(p.donor, localSplit(params, part, resp, p.donor, regCovar)?.halves ?? null);
  return out;
}

/** Soft responsibilities of the window under `params` (n×K), or null when a covariance cannot be factored. */
function softResponsibilities(params: GmmParams, data: { n: number; d: number; data: Float64Array }): Float64Array | null {
  const pre = precompute(params);
  if (!pre.ok) return null;
  const resp = new Float64Array(data.n * params.k);
  eStep(pre.value, data.data, data.n, false, null, { resp, exactTails: true });
  return resp;
}

/** The birth-and-death state in typed copies ({@link HeldOutBirthDeath.copy}): structured-cloneable. */
export interface BirthDeathCopy {
  readonly probeAt: number;
  readonly probeInterval: number;
  readonly trial: {
    readonly labels: number[];
    readonly moved: number[];
    readonly window: number;
    readonly params: GmmParams;
    readonly stats: StatsCopy | null;
    readonly evidence: Float64Array;
    readonly meanEvidence: Float64Array;
  } | null;
}

/** The JSON form of a {@link BirthDeathCopy}. */
export function birthDeathToJSON(c: BirthDeathCopy): BirthDeathJSON {
  const t = c.trial;
  return {
    probeAt: c.probeAt,
    probeInterval: c.probeInterval,
    trial:
      t === null
        ? null
        : {
            labels: [...t.labels],
            moved: [...t.moved],
            window: t.window,
            model: paramsToJSON(t.params),
            stats: t.stats === null ? null : statsToJSON(t.stats),
            evidence: Array.from(t.evidence),
            meanEvidence: Array.from(t.meanEvidence),
          },
  };
}
