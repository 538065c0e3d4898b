/**
 * Birth and death of components on a stream (step 5 of `StreamingGmm`).
 *
 * @module
 */
import { bySpread, componentParameters, mostRedundantPair, splitProposal, worstPointProposal } from '../birthDeath.js';
import { CovarianceError } from '../errors.js';
import type { GmmParams } from '../types.js';
import type { ComponentBook } from './book.js';
import type { Candidate } from './candidate.js';
import { keepDonorIdentity } from './kChange.js';
import type { WarmFitPolicy } from './warmFit.js';
import type { WindowContext } from './window.js';

/** Why a component was re-seeded. */
export type ReseedReason = 'starved' | 'redundant';

/** The re-seeds of one window. */
export interface Reseeds {
  readonly labels: number[];
  readonly reasons: ReseedReason[];
}

/** The birth-and-death policy. */
export interface BirthDeathPolicy {
  /**
   * Re-seeds the components that call for it, when a proposal is worth it.
   *
   * @param drifting the stream moves on this window (redundant components are candidates too)
   * @param resp the candidate's responsibilities of the window (n×K), when at hand
   */
  apply(w: WindowContext, candidate: Candidate, book: ComponentBook, drifting: boolean, resp: Float64Array | null): { candidate: Candidate; reseeded: Reseeds };
}

/** Settings of birth and death. */
export interface BirthDeathSettings {
  readonly minWeight: number;
  readonly maxBackoff: number;
  readonly redundancy: number;
}

export function inSampleBirthDeath(warm: WarmFitPolicy, settings: BirthDeathSettings): BirthDeathPolicy {
  return {
    apply(w, fitted, book, drifting, resp) {
      const o = w.options;
      const { data, t } = w;
      const reseeded: Reseeds = { labels: [], reasons: [] };
      const K = fitted.params.k;
      const threshold = settings.minWeight / K;
      const starved: number[] = [];
      for (let k = 0; k < K; k++) if (fitted.params.weights[k] < threshold && book.row(k).cooldown <= t) starved.push(k);
      starved.sort((a, b) => fitted.params.weights[a] - fitted.params.weights[b]);
      if (drifting) {
        const r = mostRedundantPair(fitted.params, data, resp ?? undefined);
        if (r !== null && r.similarity > settings.redundancy) {
          const [a, b] = r.pair;
          const lighter = fitted.params.weights[a] <= fitted.params.weights[b] ? a : b;
          if (!starved.includes(lighter) && book.row(lighter).cooldown <= t) starved.push(lighter);
        }
      }
      const reasonOf = (k: number): ReseedReason => (fitted.params.weights[k] < threshold ? 'starved' : 'redundant');
      if (starved.length === 0) return { candidate: fitted, reseeded };
      const penalty1 = componentParameters(o.covarianceType, data.d) / data.n;
      let current = fitted;
      const used = new Set<number>(starved);
      for (const k of starved) {
        const proposals: { params: GmmParams; reset: number[] }[] = [];
        for (const donor of bySpread(current.params, used).slice(0, 2)) {
          const p = splitProposal(current.params, donor, k, data);
          if (p !== null) proposals.push({ params: p, reset: [donor, k] });
        }
        const worst = worstPointProposal(current.params, k, data);
        if (worst !== null) proposals.push({ params: worst, reset: [k] });
        let best: Candidate | null = null;
        let bestGain = -Infinity;
        let bestReset: number[] = [];
        const before = current.params;
        for (const prop of proposals) {
          let trial: Candidate;
          try {
            trial = warm.refit(w, prop.params, current.history, prop.reset);
          } catch (err) {
            if (err instanceof CovarianceError) continue;
            throw err;
          }
          const gain = trial.logLikelihood - current.logLikelihood - penalty1 * prop.reset.length;
          if (gain > bestGain) {
            bestGain = gain;
            best = trial;
            bestReset = prop.reset;
          }
        }
        const row = book.row(k);
        if (best !== null && bestGain > 0) {
          if (bestReset.length === 2) best = keepDonorIdentity(best, before, bestReset[0], k);
          current = { ...best, kind: current.kind, drift: current.drift, weights: current.weights, iterations: current.iterations + best.iterations };
          reseeded.labels.push(row.label);
          reseeded.reasons.push(reasonOf(k));
          for (const r of bestReset) used.add(r);
          row.backoff = 1;
          row.cooldown = t + 3;
        } else {
          row.backoff = Math.min(settings.maxBackoff, row.backoff * 2);
          row.cooldown = t + row.backoff;
        }
      }
      return { candidate: current, reseeded };
    },
  };
}
