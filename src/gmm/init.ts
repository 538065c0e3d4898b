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
 * Each point keeps Hamerly's bounds (an upper bound on its distance to its centre, a lower bound on its distance
 * to every other one, both moved by how far the centres moved) and is measured against every centre only when
 * they cannot prove its centre is still the nearest: the assignments, centres and iteration count are exactly
 * those of measuring every point against every centre (the bounds skip a point only with a relative margin far
 * above rounding, and a point that is measured is measured as {@link nearest} does, ties to the lower index).
 *
 * 1. assign every point to its nearest centre (skipping those whose bounds prove it); stop when none changed;
 * 2. move each centre to the mean of its points (an empty cluster keeps its centre);
 * 3. loosen the bounds by the centres' moves.
 *
 * @param centres K×D, updated
 * @returns the number of iterations run (the last assignment changed nothing when it is below `maxIterations`)
 */
export function lloyd(data: Dataset, centres: Float64Array, k: number, maxIterations: number): number {
  const { n, d, data: x } = data;
  const labels = new Int32Array(n).fill(-1);
  const upper = new Float64Array(n);
  const lower = new Float64Array(n);
  const sums = new Float64Array(k * d);
  const counts = new Float64Array(k);
  const moved = new Float64Array(k);
  let it = 0;
  for (; it < maxIterations; it++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const a = labels[i];
      if (a >= 0) {
        if (upper[i] < lower[i] * (1 - BOUND_MARGIN)) continue;
        upper[i] = Math.sqrt(sqDist(x, i * d, centres, a * d, d)) * (1 + BOUND_MARGIN);
        if (upper[i] < lower[i] * (1 - BOUND_MARGIN)) continue;
      }
      // Measured against every centre, as `nearest` does.
      let best = 0;
      let bestDist = Infinity;
      let second = Infinity;
      for (let c = 0; c < k; c++) {
        const dist = sqDist(x, i * d, centres, c * d, d);
        if (dist < bestDist) {
          second = bestDist;
          bestDist = dist;
          best = c;
        } else if (dist < second) second = dist;
      }
      upper[i] = Math.sqrt(bestDist) * (1 + BOUND_MARGIN);
      lower[i] = Math.sqrt(second) * (1 - BOUND_MARGIN);
      if (best !== a) {
        labels[i] = best;
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
    let most = 0;
    let next = 0;
    for (let c = 0; c < k; c++) {
      moved[c] = 0;
      if (counts[c] === 0) continue; // an empty cluster keeps its centre
      let m = 0;
      for (let a = 0; a < d; a++) {
        const v = sums[c * d + a] / counts[c];
        const t = v - centres[c * d + a];
        m += t * t;
        centres[c * d + a] = v;
      }
      moved[c] = Math.sqrt(m) * (1 + BOUND_MARGIN);
      if (moved[c] > most) {
        next = most;
        most = moved[c];
      } else if (moved[c] > next) next = moved[c];
    }
    // A point's own centre moved by moved[a]; every other one by at most the largest move among the others.
    for (let i = 0; i < n; i++) {
      const a = labels[i];
      upper[i] += moved[a];
      lower[i] -= moved[a] === most ? next : most;
    }
  }
  return it;
}

/** Relative slack on Hamerly's bounds, far above the rounding of a distance, so a skipped point is never a near tie. */
const BOUND_MARGIN = 1e-9;

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

/** Whether a method starts from a k-means++ seeding (which a {@link KmeansPlusPlusSeeding} shares between them). */
export function seedsWithKmeansPlusPlus(method: InitMethod): method is 'kmeans++' | 'kmeans' {
  return method === 'kmeans++' || method === 'kmeans';
}

/**
 * One k-means++ seeding shared by the methods that start from one: `kmeans++` assigns the points to its centres,
 * `kmeans` first runs Lloyd's iterations from them. When those leave the first assignment as it was (separated
 * clusters), the `kmeans` start is the `kmeans++` one, and the same object is returned for both.
 *
 * ## Example
 *
 * ```ts
 * import { KmeansPlusPlusSeeding, Rng, dataMean } from 'emstream/core';
 * const data = { n: 4, d: 1, data: new Float64Array([0, 0.1, 10, 10.1]) };
 * const ctx = { k: 2, covarianceType: 'diag' as const, regCovar: 1e-6, rng: new Rng(1), shift: dataMean(data) };
 * const seeding = new KmeansPlusPlusSeeding(data, ctx);
 * seeding.start('kmeans') === seeding.start('kmeans++'); // true: Lloyd's iterations change nothing here
 * ```
 */
export class KmeansPlusPlusSeeding {
  /** K×D k-means++ centres (drawn with the context's generator). */
  readonly centres: Float64Array;
  private readonly starts = new Map<'kmeans++' | 'kmeans', GmmParams>();

  constructor(
    private readonly data: Dataset,
    private readonly ctx: InitContext,
  ) {
    this.centres = kmeansPlusPlus(data, ctx.k, ctx.rng);
  }

  /** The initial parameters of a method from this seeding (computed once per method). */
  start(method: 'kmeans++' | 'kmeans'): GmmParams {
    let params = this.starts.get(method);
    if (params !== undefined) return params;
    if (method === 'kmeans++') params = fromCentres(this.data, this.centres, this.ctx);
    else {
      const centres = this.centres.slice();
      const limit = this.ctx.kmeansIterations ?? 100;
      const iterations = lloyd(this.data, centres, this.ctx.k, limit);
      // Stable after the first assignment: the centres' points are the k-means++ assignment's.
      params = iterations === 1 && limit > 1 ? this.start('kmeans++') : fromCentres(this.data, centres, this.ctx);
    }
    this.starts.set(method, params);
    return params;
  }
}

/** Whether two sets of parameters are the same, value for value (so an EM run from one would repeat a run from the other). */
export function sameParams(a: GmmParams, b: GmmParams): boolean {
  const same = (x: Float64Array, y: Float64Array): boolean => x.length === y.length && x.every((v, i) => v === y[i]);
  return a.k === b.k && a.d === b.d && a.covarianceType === b.covarianceType && same(a.weights, b.weights) && same(a.means, b.means) && same(a.covariances, b.covariances);
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
    case 'kmeans':
      return new KmeansPlusPlusSeeding(data, ctx).start(method);
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
