import { Rng } from '../gmm/rng.js';

/** One cluster of a synthetic stream at time t ∈ [0, 1]. */
export interface SyntheticCluster {
  /** Mean at time t. */
  readonly mean: (t: number) => readonly number[];
  /** Standard deviation per dimension (axis-aligned), or a 2×2 covariance factor for rotation. */
  readonly sd: readonly number[];
  /** Relative weight at time t (0 = absent). */
  readonly weight: (t: number) => number;
  /** Correlation between the first two dimensions (default 0). */
  readonly rho?: number;
}

/** A labelled synthetic point. */
export interface SyntheticPoint {
  readonly vector: number[];
  /** Index of the generating cluster. */
  readonly truth: number;
  /** Position in the stream. */
  readonly seq: number;
}

/**
 * Generates a seeded stream of points from clusters whose means and weights change with time.
 *
 * @param clusters the generating clusters (same dimension)
 * @param total number of points; point i is drawn at t = i / total
 * @param seed random seed
 */
export function* syntheticStream(clusters: readonly SyntheticCluster[], total: number, seed = 0): Generator<SyntheticPoint> {
  const rng = new Rng(seed);
  const w = new Float64Array(clusters.length);
  for (let i = 0; i < total; i++) {
    const t = i / total;
    for (let c = 0; c < clusters.length; c++) w[c] = Math.max(0, clusters[c].weight(t));
    const c = rng.categorical(w);
    const cl = clusters[c];
    const mean = cl.mean(t);
    const z = mean.map(() => rng.normal());
    const vector = mean.map((m, a) => m + cl.sd[a] * z[a]);
    if (cl.rho && mean.length >= 2) {
      const r = cl.rho;
      vector[1] = mean[1] + cl.sd[1] * (r * z[0] + Math.sqrt(1 - r * r) * z[1]);
    }
    yield { vector, truth: c, seq: i };
  }
}

/**
 * The demo's drifting 2-D stream: three clusters; the first moves steadily to the right, the third
 * splits in two half way (its two halves drift apart from t = 0.5 on).
 */
export function driftingDemoClusters(): SyntheticCluster[] {
  const split = (t: number): number => (t < 0.5 ? 0 : Math.min(1, (t - 0.5) / 0.1));
  return [
    { mean: (t) => [-6 + 10 * t, 4], sd: [0.9, 0.6], weight: () => 1, rho: 0.3 },
    { mean: () => [0, -4], sd: [1.2, 0.8], weight: () => 1, rho: -0.4 },
    { mean: (t) => [6, 4 - 5 * split(t)], sd: [0.8, 0.8], weight: () => 0.5 },
    { mean: (t) => [6, 4 + 2 * split(t)], sd: [0.8, 0.8], weight: () => 0.5 },
  ];
}
