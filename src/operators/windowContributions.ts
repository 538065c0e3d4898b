/**
 * The numeric part of a shared model's member: one E-step of a window under a given model, with the sufficient
 * statistics split by segments of rows. Pure: no RxJS, no I/O.
 *
 * @module
 */
import { CovarianceError } from '../gmm/errors.js';
import { EStepScratch, eStep, precompute } from '../gmm/estep.js';
import { Rng } from '../gmm/rng.js';
import { SufficientStats } from '../gmm/stats.js';
import type { Dataset, GmmParams } from '../gmm/types.js';

/** Consecutive rows `start..end−1` of a window that go to part `part` (−1: labelled, counted in no part). */
export interface ContributionSegment {
  readonly part: number;
  readonly start: number;
  end: number;
}

/** Options of {@link windowContributions}. */
export interface WindowContributionsOptions {
  /** The origin the statistics are accumulated about (D values). */
  readonly shift: ArrayLike<number>;
  /** The rows by part, covering the window in order. */
  readonly segments: readonly ContributionSegment[];
  /** Number of parts. */
  readonly parts: number;
  /** Hard (classification) E-step. */
  readonly hard: boolean;
  /** Points sampled per part (at most its count). */
  readonly samplePoints: number;
  /** The seed of a part's sample. */
  readonly sampleSeed: (part: number) => number;
}

/** One part's statistics and sums. */
export interface PartContribution {
  /** Points counted. */
  count: number;
  readonly stats: SufficientStats;
  /** Σ log p(x_i). */
  logLikelihood: number;
  /** Σ (log p(x_i))². */
  logLikelihoodSquares: number;
  /** Σ_i Σ_k w_ik log(π_k N(x_i | θ_k)). */
  expectedLogLikelihood: number;
  /** The sampled points, sampleSize×d row-major, in window order. */
  sample: Float64Array;
  sampleSize: number;
}

/** What {@link windowContributions} returns. */
export interface WindowContributions {
  /** Per point: the component of largest responsibility, its responsibility, log p(x_i). */
  readonly labels: Int32Array;
  readonly probabilities: Float64Array;
  readonly logDensities: Float64Array;
  /** Over every point of the window. */
  readonly logLikelihood: number;
  readonly expectedLogLikelihood: number;
  readonly parts: PartContribution[];
}

/**
 * One E-step of a window under `params` (no M-step), its sufficient statistics split by part.
 *
 * 1. Factor the model once; for each segment, one fused E-step pass over its rows writes the labels, the
 *    responsibility of the label and log p(x_i), and adds the rows to their part's statistics (about `shift`).
 * 2. Per part: Σ log p, Σ (log p)² and the expected complete-data log-likelihood.
 * 3. Per part, a sample of `samplePoints` of its rows drawn without replacement by a generator seeded with
 *    `sampleSeed(part)`: the same part of the same data always gives the same sample.
 *
 * Shapes: data n×d row-major; statistics K, K×D and the covariance type's s2.
 *
 * @param params - the model (e.g. the global model of a shared run)
 * @param data - the window's points
 * @param options - origin, segments, E-step mode, sample size and seeds
 * @returns per-point outputs and per-part contributions
 * @throws CovarianceError when a covariance of `params` cannot be factored
 */
export function windowContributions(params: GmmParams, data: Dataset, options: WindowContributionsOptions): WindowContributions {
  const { n, d } = data;
  const pre = precompute(params);
  if (!pre.ok) throw new CovarianceError({ component: pre.component, covarianceType: params.covarianceType, regCovar: 0 });
  const labels = new Int32Array(n);
  const probabilities = new Float64Array(n);
  const logDensities = new Float64Array(n);
  const parts: PartContribution[] = Array.from({ length: options.parts }, () => ({
    count: 0,
    stats: new SufficientStats(params.k, d, params.covarianceType, options.shift),
    logLikelihood: 0,
    logLikelihoodSquares: 0,
    expectedLogLikelihood: 0,
    sample: new Float64Array(0),
    sampleSize: 0,
  }));
  const scratch = new EStepScratch(params.k, d);
  let logLikelihood = 0;
  let expected = 0;
  for (const { part, start, end } of options.segments) {
    const rows = end - start;
    if (rows <= 0) continue;
    const target = part >= 0 ? parts[part] : null;
    const sums = eStep(pre.value, data.data.subarray(start * d, end * d), rows, options.hard, target?.stats ?? null, { labels: labels.subarray(start, end), maxProb: probabilities.subarray(start, end), logDensity: logDensities.subarray(start, end) }, scratch);
    logLikelihood += sums.logLikelihood;
    expected += sums.expected;
    if (target === null) continue;
    target.count += rows;
    target.logLikelihood += sums.logLikelihood;
    target.expectedLogLikelihood += sums.expected;
    let squares = 0;
    for (let i = start; i < end; i++) squares += logDensities[i] * logDensities[i];
    target.logLikelihoodSquares += squares;
  }
  // Samples: per part, its rows in window order, `samplePoints` of them chosen by a partial Fisher–Yates shuffle.
  for (let p = 0; p < parts.length; p++) {
    const part = parts[p];
    const m = Math.min(options.samplePoints, part.count);
    if (m <= 0) continue;
    const rows = new Int32Array(part.count);
    let r = 0;
    for (const s of options.segments) if (s.part === p) for (let i = s.start; i < s.end; i++) rows[r++] = i;
    const rng = new Rng(options.sampleSeed(p));
    for (let i = 0; i < m; i++) {
      const j = i + rng.int(part.count - i);
      const t = rows[i];
      rows[i] = rows[j];
      rows[j] = t;
    }
    const chosen = rows.subarray(0, m).sort();
    const sample = new Float64Array(m * d);
    for (let i = 0; i < m; i++) sample.set(data.data.subarray(chosen[i] * d, chosen[i] * d + d), i * d);
    part.sample = sample;
    part.sampleSize = m;
  }
  return { labels, probabilities, logDensities, logLikelihood, expectedLogLikelihood: expected, parts };
}
