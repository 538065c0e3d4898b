/**
 * One round of a shared model's reducer: the contributions it admitted (their statistics summed with their weights),
 * their log-likelihood sums, a bounded pool of their sampled points, and the seeds of a first model. Pure: no I/O.
 *
 * @module
 */
import { Rng } from '../../gmm/rng.js';
import { SufficientStats } from '../../gmm/stats.js';
import type { CovarianceType, Dataset } from '../../gmm/types.js';
import type { ContributionMessage, SeedMessage } from '../messages/contributions.js';

/** Most points a round pools from its contributions' samples (reservoir beyond). */
export const MAX_ROUND_SAMPLE = 4096;
/** Most seed points a first model is fitted to. */
export const MAX_SEED_POINTS = 16_384;

/** What a round hands to the numeric step: the merged statistics and what goes with them. */
export interface MergedRound {
  /** Σ weight · statistics of the admitted contributions, about the global origin. */
  readonly stats: SufficientStats;
  /** Σ weight · count: points merged. */
  readonly count: number;
  /** Σ weight · windowShare: how many windows' worth of points (for forgetting per window). */
  readonly windows: number;
  /** Σ weight · Σ log p, Σ weight · Σ (log p)², Σ weight · expected complete-data log-likelihood. */
  readonly logLikelihood: number;
  readonly logLikelihoodSquares: number;
  readonly expectedLogLikelihood: number;
  /** The pooled sample of the contributions' points (at most {@link MAX_ROUND_SAMPLE}). */
  readonly sample: Dataset;
  /** Contributions merged, and the largest staleness among them (versions). */
  readonly contributions: number;
  readonly stalenessMax: number;
}

/**
 * A round being gathered.
 *
 * 1. {@link add}: an admitted contribution's statistics merged with its weight (moved to the round's origin), its
 *    sums added, its sample pooled (a reservoir of {@link MAX_ROUND_SAMPLE} points, seeded by the round).
 * 2. {@link seed}: points offered for a first model (up to {@link MAX_SEED_POINTS}).
 * 3. {@link merged}: what the numeric step takes.
 */
export class Round {
  private stats: SufficientStats | null = null;
  private count = 0;
  private windows = 0;
  private logLikelihood = 0;
  private squares = 0;
  private expected = 0;
  private merges = 0;
  private staleness = 0;
  private pool: Float64Array | null = null;
  private pooled = 0;
  private seen = 0;
  private readonly rng: Rng;
  private seedPoints: Float64Array | null = null;
  private seeds = 0;
  private seedD = 0;

  /**
   * @param shape - the global model's K, D, covariance type and the statistics' origin
   * @param seed - the seed of the sample's reservoir (e.g. the round's index)
   */
  constructor(
    private readonly shape: { readonly k: number; readonly d: number; readonly covarianceType: CovarianceType; readonly shift: Float64Array } | null,
    seed: number,
  ) {
    this.rng = new Rng(seed);
  }

  /** Contributions merged so far. */
  get contributions(): number {
    return this.merges;
  }

  /** Seed points so far. */
  get seedCount(): number {
    return this.seeds;
  }

  /**
   * Merges a contribution with a weight (1, or a partial one's share).
   *
   * @param c - the contribution (its shape is the round's: checked by the caller)
   * @param weight - in (0, 1]
   * @param staleness - versions it lags the global model
   */
  add(c: ContributionMessage, weight: number, staleness: number): void {
    const shape = this.shape!;
    this.stats ??= new SufficientStats(shape.k, shape.d, shape.covarianceType, shape.shift);
    this.stats.merge(c.stats, weight);
    this.count += weight * c.count;
    this.windows += weight * c.windowShare;
    this.logLikelihood += weight * c.logLikelihood;
    this.squares += weight * c.logLikelihoodSquares;
    this.expected += weight * c.expectedLogLikelihood;
    this.merges++;
    this.staleness = Math.max(this.staleness, staleness);
    const d = shape.d;
    this.pool ??= new Float64Array(MAX_ROUND_SAMPLE * d);
    for (let i = 0; i < c.sampleSize; i++) {
      this.seen++;
      let slot = this.pooled;
      if (this.pooled < MAX_ROUND_SAMPLE) this.pooled++;
      else {
        slot = this.rng.int(this.seen);
        if (slot >= MAX_ROUND_SAMPLE) continue;
      }
      this.pool.set(c.sample.subarray(i * d, i * d + d), slot * d);
    }
  }

  /** Pools a seed's points (up to {@link MAX_SEED_POINTS}; seeds of another dimension than the first are left out). */
  seed(s: SeedMessage): void {
    if (this.seeds === 0) this.seedD = s.d;
    if (s.d !== this.seedD) return;
    const take = Math.min(s.n, MAX_SEED_POINTS - this.seeds);
    if (take <= 0) return;
    const grown = new Float64Array((this.seeds + take) * s.d);
    if (this.seedPoints !== null) grown.set(this.seedPoints);
    grown.set(s.points.subarray(0, take * s.d), this.seeds * s.d);
    this.seedPoints = grown;
    this.seeds += take;
  }

  /** The seed points (n×d). */
  seedData(): Dataset {
    return { n: this.seeds, d: this.seedD, data: this.seedPoints ?? new Float64Array(0) };
  }

  /** What the numeric step takes (only when a contribution was merged). */
  merged(): MergedRound {
    const shape = this.shape!;
    return {
      stats: this.stats ?? new SufficientStats(shape.k, shape.d, shape.covarianceType, shape.shift),
      count: this.count,
      windows: this.windows,
      logLikelihood: this.logLikelihood,
      logLikelihoodSquares: this.squares,
      expectedLogLikelihood: this.expected,
      sample: { n: this.pooled, d: shape.d, data: this.pool === null ? new Float64Array(0) : this.pool.subarray(0, this.pooled * shape.d) },
      contributions: this.merges,
      stalenessMax: this.staleness,
    };
  }
}
