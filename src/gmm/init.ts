import { EStepScratch } from './estep.js';
import { mStep } from './mstep.js';
import type { Rng } from './rng.js';
import { SufficientStats } from './stats.js';
import { COVARIANCE } from './covariance.js';
import type { CovarianceType, Dataset, GmmParams } from './types.js';

/** Initialisation methods (the lecture's, and scikit-learn's `init_params`). */
export type InitMethod = 'kmeans++' | 'kmeans' | 'random' | 'random-from-data';

export const INIT_METHODS: readonly InitMethod[] = ['kmeans++', 'kmeans', 'random', 'random-from-data'];

/** What an initialisation needs besides the data. */
export interface InitContext {
  readonly k: number;
  readonly covarianceType: CovarianceType;
  readonly regCovar: number;
  readonly rng: Rng;
  /** Origin of the sufficient statistics (usually the data mean). */
  readonly shift: Float64Array;
  /** Lloyd iterations for `kmeans` (default 100; stops earlier when assignments are stable). */
  readonly kmeansIterations?: number;
}

/** Mean of the points: D values. */
export function dataMean(data: Dataset): Float64Array {
  const { n, d } = data;
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) mean[a] += data.data[i * d + a];
  for (let a = 0; a < d; a++) mean[a] /= n;
  return mean;
}

/**
 * k-means++ seeding (Arthur & Vassilvitskii 2007), greedy like scikit-learn's: each new centre
 * is the best of 2 + ⌊ln K⌋ candidates drawn with probability ∝ D(x)², the squared distance to
 * the nearest chosen centre.
 *
 * @returns K×D centres
 */
export function kmeansPlusPlus(data: Dataset, k: number, rng: Rng): Float64Array {
  const { n, d, data: x } = data;
  const centres = new Float64Array(k * d);
  const closest = new Float64Array(n);
  const candidate = new Float64Array(n);
  const trials = 2 + Math.floor(Math.log(k));
  let first = rng.int(n);
  centres.set(x.subarray(first * d, first * d + d), 0);
  let potential = 0;
  for (let i = 0; i < n; i++) {
    closest[i] = sqDist(x, i * d, centres, 0, d);
    potential += closest[i];
  }
  for (let c = 1; c < k; c++) {
    let bestPotential = Infinity;
    let best = -1;
    for (let t = 0; t < trials; t++) {
      const idx = potential > 0 ? rng.categorical(closest, n, potential) : rng.int(n);
      let pot = 0;
      for (let i = 0; i < n; i++) pot += Math.min(closest[i], sqDist(x, i * d, x, idx * d, d));
      if (pot < bestPotential) {
        bestPotential = pot;
        best = idx;
      }
    }
    first = best;
    centres.set(x.subarray(best * d, best * d + d), c * d);
    potential = 0;
    for (let i = 0; i < n; i++) {
      candidate[i] = Math.min(closest[i], sqDist(x, i * d, x, best * d, d));
      potential += candidate[i];
    }
    closest.set(candidate);
  }
  return centres;
}

/**
 * Lloyd's k-means iterations from given centres, in place.
 *
 * @param centres K×D, updated
 * @returns the number of iterations run
 */
export function lloyd(data: Dataset, centres: Float64Array, k: number, maxIterations: number): number {
  const { n, d, data: x } = data;
  const labels = new Int32Array(n).fill(-1);
  const sums = new Float64Array(k * d);
  const counts = new Float64Array(k);
  let it = 0;
  for (; it < maxIterations; it++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const z = nearest(x, i * d, centres, k, d);
      if (z !== labels[i]) {
        labels[i] = z;
        changed++;
      }
    }
    if (changed === 0) break;
    sums.fill(0);
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const z = labels[i];
      counts[z]++;
      for (let a = 0; a < d; a++) sums[z * d + a] += x[i * d + a];
    }
    for (let c = 0; c < k; c++) {
      if (counts[c] === 0) continue; // an empty cluster keeps its centre
      for (let a = 0; a < d; a++) centres[c * d + a] = sums[c * d + a] / counts[c];
    }
  }
  return it;
}

/** Index of the centre nearest to the point at `off`. */
export function nearest(x: ArrayLike<number>, off: number, centres: Float64Array, k: number, d: number): number {
  let best = 0;
  let bestDist = Infinity;
  for (let c = 0; c < k; c++) {
    const dist = sqDist(x, off, centres, c * d, d);
    if (dist < bestDist) {
      bestDist = dist;
      best = c;
    }
  }
  return best;
}

function sqDist(a: ArrayLike<number>, ao: number, b: ArrayLike<number>, bo: number, d: number): number {
  let s = 0;
  for (let j = 0; j < d; j++) {
    const t = a[ao + j] - b[bo + j];
    s += t * t;
  }
  return s;
}

/** Parameters from hard assignments of every point to its nearest centre (M-step of one-hot responsibilities). */
function fromCentres(data: Dataset, centres: Float64Array, ctx: InitContext): GmmParams {
  const { n, d, data: x } = data;
  const stats = new SufficientStats(ctx.k, d, ctx.covarianceType, ctx.shift);
  const r = new Float64Array(ctx.k);
  const scratch = new EStepScratch(ctx.k, d);
  for (let i = 0; i < n; i++) {
    const z = nearest(x, i * d, centres, ctx.k, d);
    r.fill(0);
    r[z] = 1;
    stats.addPoint(x, i * d, r, 0, scratch.centred);
  }
  const { params, empty } = mStep(stats, { regCovar: ctx.regCovar });
  // A centre that attracted no point keeps its position (the M-step put it at the shift).
  for (const c of empty) params.means.set(centres.subarray(c * d, c * d + d), c * d);
  return params;
}

/**
 * Initial parameters by the given method.
 *
 * 1. `kmeans++`: k-means++ centres, then the M-step of the hard assignment to them;
 * 2. `kmeans`: the same after Lloyd iterations from the k-means++ centres;
 * 3. `random`: the M-step of uniformly random responsibilities (rows normalised);
 * 4. `random-from-data`: K distinct random points as means, uniform weights, and every
 *    covariance set to the data's covariance (scikit-learn uses regCovar·I here, which makes
 *    the first E-step a hard nearest-mean assignment).
 */
export function initialise(data: Dataset, method: InitMethod, ctx: InitContext): GmmParams {
  const { n, d, data: x } = data;
  const { k, rng } = ctx;
  switch (method) {
    case 'kmeans++':
      return fromCentres(data, kmeansPlusPlus(data, k, rng), ctx);
    case 'kmeans': {
      const centres = kmeansPlusPlus(data, k, rng);
      lloyd(data, centres, k, ctx.kmeansIterations ?? 100);
      return fromCentres(data, centres, ctx);
    }
    case 'random': {
      const stats = new SufficientStats(k, d, ctx.covarianceType, ctx.shift);
      const r = new Float64Array(k);
      const centred = new Float64Array(d);
      for (let i = 0; i < n; i++) {
        let s = 0;
        for (let c = 0; c < k; c++) s += r[c] = rng.uniform();
        for (let c = 0; c < k; c++) r[c] /= s;
        stats.addPoint(x, i * d, r, 0, centred);
      }
      return mStep(stats, { regCovar: ctx.regCovar }).params;
    }
    case 'random-from-data': {
      const chosen = distinctRandomRows(data, k, rng);
      const one = new SufficientStats(1, d, ctx.covarianceType, ctx.shift);
      const centred = new Float64Array(d);
      const w = new Float64Array([1]);
      for (let i = 0; i < n; i++) one.addPoint(x, i * d, w, 0, centred);
      const whole = mStep(one, { regCovar: ctx.regCovar }).params;
      const means = new Float64Array(k * d);
      chosen.forEach((row, c) => means.set(x.subarray(row * d, row * d + d), c * d));
      const weights = new Float64Array(k).fill(1 / k);
      let covariances: Float64Array;
      if (COVARIANCE[ctx.covarianceType].shared) covariances = whole.covariances;
      else {
        covariances = new Float64Array(whole.covariances.length * k);
        for (let c = 0; c < k; c++) covariances.set(whole.covariances, c * whole.covariances.length);
      }
      return { k, d, covarianceType: ctx.covarianceType, weights, means, covariances };
    }
  }
}

/** K random rows with pairwise distinct values (falls back to any rows when there are fewer distinct ones). */
function distinctRandomRows(data: Dataset, k: number, rng: Rng): number[] {
  const { n, d, data: x } = data;
  const chosen: number[] = [];
  const seen = new Set<string>();
  for (let attempt = 0; chosen.length < k && attempt < 20 * k + n; attempt++) {
    const row = rng.int(n);
    const key = Array.prototype.join.call(x.subarray(row * d, row * d + d), ',');
    if (seen.has(key)) continue;
    seen.add(key);
    chosen.push(row);
  }
  while (chosen.length < k) chosen.push(rng.int(n));
  return chosen;
}

/** Number of distinct rows, counting up to `limit` (stops early). */
export function countDistinctRows(data: Dataset, limit: number): number {
  const { n, d, data: x } = data;
  const seen = new Set<string>();
  for (let i = 0; i < n && seen.size < limit; i++) seen.add(Array.prototype.join.call(x.subarray(i * d, i * d + d), ','));
  return seen.size;
}
