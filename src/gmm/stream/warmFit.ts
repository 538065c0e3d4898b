/**
 * The warm fit of a streaming window: EM from the previous model with the carried history, and adaptive
 * per-component forgetting (steps 2–3 of `StreamingGmm`).
 *
 * @module
 */
import { componentDrift, weightDrift } from '../adaptive.js';
import { MomentsOf, type MeanShrinkage } from '../componentStats.js';
import { runEM, type RunResult } from '../em.js';
import type { EStepOutputs } from '../estep.js';
import { adaptiveSettings } from '../streamingOptions.js';
import type { Dataset, GmmParams } from '../types.js';
import { candidateOf, type Candidate, type History } from './candidate.js';
import { enterPhase, inPhase, leavePhase } from './profile.js';
import type { WindowContext } from './window.js';

/** The warm fit policy: continue a model on a window with its history. */
export interface WarmFitPolicy {
  /**
   * EM from `start` on `data` with the history merged into every M-step; with adaptive forgetting, the
   * per-component tests and the discounts they call for (a discount refits).
   *
   * @returns the candidate, and the first EM run (whose first E-step scored `data` under `start`)
   */
  fit(w: WindowContext, data: Dataset, start: GmmParams, history: History | null, outputs: EStepOutputs): { candidate: Candidate; first: RunResult };
  /**
   * Refits a proposal (re-seeded components, or another K) to the window: the components in `reset` start
   * without history (shape 0), their weight their window share of the carried total (mass NaN).
   *
   * @param base a history whose rows are `start`'s components (null: the proposal is fitted to the window alone)
   */
  refit(w: WindowContext, start: GmmParams, base: History | null, reset: readonly number[]): Candidate;
}

/**
 * Warm-started EM with adaptive forgetting (see the class comment of `StreamingGmm`, steps 2–3):
 *
 * 1. EM from the previous model, the carried statistics merged into every M-step, each component's mean
 *    following the window by James–Stein shrinkage against the weight of data behind it;
 * 2. the per-component tests of mean and shape, and the G-test of the weights;
 * 3. when a covariance history or the weights are discounted, a second EM from the first one's result with
 *    the discount factors.
 */
export const warmFit: WarmFitPolicy = {
  fit(w, data, start, history, outputs) {
    const o = w.options;
    const adaptive = adaptiveSettings(o);
    if (adaptive === null || history === null) {
      const run = inPhase('em', () => runEM(data, start, { ...w.run, prior: history?.prior ?? null, batchWeight: w.batchWeight, rng: w.rng }, outputs));
      return { candidate: candidateOf('warm', run, history, true), first: run };
    }
    const prior = history.prior;
    const K = start.k;
    const minPoints = Math.max(adaptive.minPoints, data.d + 2);
    // the carried history's moments, shared by every mean shrinkage and the component tests of this window
    const priorMoments = new MomentsOf(prior, o.regCovar);
    const shrinkage = (): MeanShrinkage => ({ evidence: history.evidence.mean, minPoints, regCovar: o.regCovar, tau: new Float64Array(K), statistics: new Float64Array(K), priorMoments });
    const s1 = shrinkage();
    const first = inPhase('em', () => runEM(data, start, { ...w.run, prior, batchWeight: w.batchWeight, meanShrinkage: s1, rng: w.rng }, outputs));
    enterPhase('componentTests');
    const drift = componentDrift(prior, first.batchStats, w.batchWeight, { alpha: adaptive.alpha, minPoints, regCovar: o.regCovar }, history.evidence.shape, history.evidence.mean, priorMoments);
    const weights = weightDrift(prior.s0, first.batchStats.s0, w.batchWeight, adaptive.alpha);
    leavePhase();
    const shapeChanged = drift.factors.some((f) => f < 1);
    if (!shapeChanged && weights.factor === 1) {
      const kept = history.with({ evidence: history.kept(s1.tau, null), translate: s1.tau });
      return { candidate: candidateOf('warm', first, kept, true, { drift, weights }), first };
    }
    const shape = drift.factors;
    const mass = new Float64Array(K).fill(weights.factor);
    const s2 = shrinkage();
    const second = inPhase('em', () => runEM(data, first.params, { ...w.run, prior, batchWeight: w.batchWeight, shapeFactors: shape, massFactors: mass, meanShrinkage: s2, rng: w.rng }, outputs));
    const kept = history.with({ evidence: history.kept(s2.tau, shape), shape, mass, translate: s2.tau });
    return { candidate: { ...candidateOf('warm', second, kept, true, { drift, weights }), iterations: first.iterations + second.iterations }, first };
  },

  refit(w, start, base, reset) {
    if (base === null) return candidateOf('warm', runEM(w.data, start, { ...w.run, rng: w.rng }), null, false);
    const { shape, mass, translate } = base.resetFactors(reset);
    const run = runEM(w.data, start, { ...w.run, prior: base.prior, batchWeight: w.batchWeight, shapeFactors: shape, massFactors: mass, translate, rng: w.rng });
    return candidateOf('warm', run, base.with({ evidence: base.kept(translate, shape), shape, mass, translate }), false);
  },
};
