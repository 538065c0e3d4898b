import { z } from 'zod';
import { parseOptions } from '../options.js';
import { isChecked } from './checked.js';
import { COVARIANCE } from './covariance.js';
import { CovarianceError, DataError, NumericError } from './errors.js';
import { EStepScratch, eStep, precompute, type EStepOutputs, type EStepSums, type Precomputed } from './estep.js';
import { combineStats, type MeanShrinkage } from './componentStats.js';
import { countDistinctRows, dataMean, initialise, INIT_METHODS, type InitMethod } from './init.js';
import { asymmetry, SYMMETRY_TOLERANCE } from './linalg.js';
import { mStep, reseedComponents } from './mstep.js';
import { defaultThreads, poolFor, threadsFor, type EStepPool } from './parallel/pool.js';
import { Rng } from './rng.js';
import { SufficientStats } from './stats.js';
import { COVARIANCE_TYPES, covarianceSize, type CovarianceType, type Dataset, type GmmParams } from './types.js';

/** Hard (classification) or soft EM. */
export type EmMode = 'soft' | 'hard';
/** Objective that picks the winner among restarts. */
export type SelectBy = 'expected' | 'marginal';

/** User-given initial parameters (plain arrays accepted). */
export interface InitialParams {
  readonly weights: ArrayLike<number>;
  /** K×D, flat or nested. */
  readonly means: ArrayLike<number> | readonly (readonly number[])[];
  /** Shape of the covariance type, flat or nested. */
  readonly covariances: ArrayLike<number> | readonly unknown[];
}

/** Options of {@link fitGmm}. */
export interface FitOptions {
  /** Number of components K (≥ 1). */
  readonly k: number;
  /** Default `'full'`. */
  readonly covarianceType?: CovarianceType;
  /** Initialisation method or initial parameters. Default `'kmeans++'`. */
  readonly init?: InitMethod | InitialParams;
  /** Number of candidates, each run to convergence. Default 1. */
  readonly restarts?: number;
  /** Default 100. */
  readonly maxIterations?: number;
  /** Convergence threshold on the change of the mean log-likelihood per point. Default 1e-3; 0 runs exactly `maxIterations`. */
  readonly tol?: number;
  /** Added to covariance diagonals. Default 1e-6. */
  readonly regCovar?: number;
  /** Seed of the random source. Default 0. */
  readonly seed?: number;
  /** Default `'soft'`. */
  readonly mode?: EmMode;
  /** Default `'expected'` (expected complete-data log-likelihood). */
  readonly select?: SelectBy;
  /** Keep the initial weights fixed (with hard EM and fixed identity covariances: k-means). */
  readonly fixWeights?: boolean;
  /** Keep the initial covariances fixed. */
  readonly fixCovariances?: boolean;
  /** Lloyd iterations of the `kmeans` initialisation. Default 100. */
  readonly kmeansIterations?: number;
  /**
   * The lower bound a previous fit ended with (`FitResult.lowerBound`), to continue it: give its parameters as
   * `init` and its lower bound here, and convergence is measured from where it stopped, as scikit-learn's
   * `warm_start` does (without it, a fit of one iteration at a time never reports convergence).
   */
  readonly lowerBound?: number;
  /**
   * Threads for the E-step and statistics (worker threads on shared memory, see `EStepPool`). Default: the
   * number of cores; a batch too small to gain runs on the calling thread alone. Results are equal to
   * the one-thread result to rounding, and bit-identical run after run for the same thread count.
   */
  readonly threads?: number;
}

const initialParamsSchema = z.object({
  weights: z.custom<ArrayLike<number>>((v) => isArrayLike(v), 'must be an array of K weights'),
  means: z.custom<ArrayLike<number>>((v) => isArrayLike(v), 'must be a K×D array of means'),
  covariances: z.custom<ArrayLike<number>>((v) => isArrayLike(v), 'must be an array of covariances'),
});

export const fitOptionsSchema = z
  .object({
    k: z.number({ error: 'k (the number of components) is required' }).int('must be an integer').min(1, 'must be at least 1'),
    covarianceType: z.enum(COVARIANCE_TYPES as [CovarianceType, ...CovarianceType[]]).default('full'),
    init: z
      .union([z.enum(INIT_METHODS as [InitMethod, ...InitMethod[]]), initialParamsSchema], {
        error: `must be one of ${INIT_METHODS.join(', ')}, or initial parameters { weights, means, covariances }`,
      })
      .default('kmeans++'),
    restarts: z.number().int('must be an integer').min(1, 'must be at least 1').default(1),
    maxIterations: z.number().int('must be an integer').min(1, 'must be at least 1').default(100),
    tol: z.number().min(0, 'must be ≥ 0 (0 runs exactly maxIterations)').finite().default(1e-3),
    regCovar: z.number().min(0, 'must be ≥ 0').finite().default(1e-6),
    seed: z.number().int('must be an integer').default(0),
    mode: z.enum(['soft', 'hard']).default('soft'),
    select: z.enum(['expected', 'marginal']).default('expected'),
    fixWeights: z.boolean().default(false),
    fixCovariances: z.boolean().default(false),
    kmeansIterations: z.number().int().min(0).default(100),
    lowerBound: z.number().finite('must be a finite number (a previous FitResult.lowerBound)').optional(),
    threads: z.number().int('must be an integer').min(1, 'must be at least 1').optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.lowerBound !== undefined && typeof o.init !== 'object') {
      ctx.addIssue({ code: 'custom', path: ['lowerBound'], message: "continues a previous fit: give that fit's parameters as init too" });
    }
  });

export type ResolvedFitOptions = z.output<typeof fitOptionsSchema>;

/**
 * Validates fit options (typed error listing every issue, an unknown option naming the one it most likely meant).
 *
 * @param options - what the caller gave
 * @param operator - the public function the caller called, for the message (default `'fitGmm'`)
 */
export function resolveFitOptions(options: FitOptions, operator = 'fitGmm'): ResolvedFitOptions {
  return parseOptions(fitOptionsSchema, options, operator);
}

function isArrayLike(v: unknown): boolean {
  return Array.isArray(v) || ArrayBuffer.isView(v);
}

/** Options of one EM run ({@link runEM}). */
export interface RunOptions {
  readonly maxIterations: number;
  readonly tol: number;
  readonly regCovar: number;
  readonly mode: EmMode;
  readonly fixedWeights?: Float64Array | null;
  readonly fixedCovariances?: Float64Array | null;
  /**
   * Statistics carried from the past (already scaled by the forgetting factor), added to the
   * batch statistics in every M-step: θ = M(prior + batchWeight · S(batch)).
   */
  readonly prior?: SufficientStats | null;
  /** Weight of the batch statistics in the M-step (default 1). */
  readonly batchWeight?: number;
  /**
   * Per component (K), how much of its carried history shapes its mean and covariance (default all 1); see
   * `combineStats` in componentStats.ts. Used by adaptive forgetting and re-seeding.
   */
  readonly shapeFactors?: Float64Array | null;
  /** Per component (K), the factor on its carried weight (default all 1; NaN: its window share of the carried total). */
  readonly massFactors?: Float64Array | null;
  /** Per component (K), the fraction τ of the way its carried statistics are moved to the batch's mean before merging (a moving cluster). */
  readonly translate?: Float64Array | null;
  /** Move each component's carried mean toward the batch's by James–Stein shrinkage, in every M-step (see `MeanShrinkage`). */
  readonly meanShrinkage?: MeanShrinkage | null;
  /** Origin of the batch statistics (default: the batch mean). */
  readonly shift?: Float64Array;
  /** Random source for re-seeding (default: seed 0). */
  readonly rng?: Rng;
  /** The lower bound of a previous run this one continues (convergence is measured from it; default −∞). */
  readonly lowerBound?: number;
  /** Threads for the E-steps (from `sharedPool`); used when the batch is large enough (`threadsFor`). */
  readonly pool?: EStepPool | null;
  /**
   * End at the E-step that converges (streaming; default false): when |ℓ − ℓ_prev| < tol, the parameters that
   * E-step scored are returned with its statistics and outputs, without a last M-step and a final E-step. The
   * result is one EM step less converged than the batch schedule (the change is below `tol` by construction) and
   * still consistent: labels, statistics and log-likelihoods are those of the returned parameters. The batch fit
   * keeps scikit-learn's schedule (a last M-step, then a final E-step).
   */
  readonly endOnConvergedEStep?: boolean;
}

/** Outcome of one EM run. */
export interface RunResult {
  readonly params: GmmParams;
  /** Iterations run (E-step + M-step pairs). */
  readonly iterations: number;
  /** |Δ mean log-likelihood| < tol was reached. */
  readonly converged: boolean;
  /** Mean log-likelihood per point at each iteration's E-step (under the parameters before its M-step). */
  readonly history: number[];
  /**
   * The lower bound of the last iteration (the last entry of `history`, scikit-learn's `lower_bound_`): pass it
   * with the parameters to continue this fit (`FitOptions.lowerBound`).
   */
  readonly lowerBound: number;
  /** Mean log-likelihood per point of the data under the final parameters. */
  readonly logLikelihood: number;
  /** Mean expected complete-data log-likelihood per point under the final parameters. */
  readonly expectedLogLikelihood: number;
  /** Statistics of the batch under the final parameters' E-step (unweighted, not merged with the prior). */
  readonly batchStats: SufficientStats;
  /** How many times a component was re-seeded. */
  readonly reseeded: number;
}

/**
 * Factors the covariances, re-seeding a component whose covariance is not positive definite
 * (once per component); throws a {@link CovarianceError} when that does not help.
 */
function factorOrReseed(params: GmmParams, data: Dataset, worst: number, regCovar: number, rng: Rng): { pre: Precomputed; reseeded: number } {
  const tried = new Set<number>();
  for (;;) {
    const res = precompute(params);
    if (res.ok) return { pre: res.value, reseeded: tried.size };
    const c = res.component;
    // (a shared covariance cannot be re-seeded one component at a time)
    if (tried.has(c) || COVARIANCE[params.covarianceType].shared) {
      throw new CovarianceError({ component: c, covarianceType: params.covarianceType, regCovar });
    }
    tried.add(c);
    reseedComponents(params, [c], data.data, [tried.size === 1 ? worst : rng.int(data.n)]);
  }
}

/** Deep copy of parameters. */
export function cloneParams(p: GmmParams): GmmParams {
  return {
    k: p.k,
    d: p.d,
    covarianceType: p.covarianceType,
    weights: Float64Array.from(p.weights),
    means: Float64Array.from(p.means),
    covariances: Float64Array.from(p.covariances),
  };
}

/**
 * Runs EM from given parameters until |Δ mean log-likelihood| < tol or `maxIterations`.
 *
 * Each iteration:
 * 1. E-step fused with statistics: S = S(batch; θ), and ℓ = mean log p(x_i | θ);
 * 2. M-step: θ ← M(prior + batchWeight·S) (prior: past windows' statistics, streaming only);
 * 3. empty components are re-seeded on the worst-explained point, non-factorable covariances too;
 * 4. stop when |ℓ − ℓ_prev| < tol.
 * A final E-step scores the data under the final θ (marginal and expected log-likelihood) and
 * gives the batch statistics under it. With `endOnConvergedEStep`, the test comes between steps 1 and 2: the
 * converged E-step's θ, statistics and outputs are the result (no last M-step, no final E-step).
 *
 * @param data N×D points
 * @param initial starting parameters (not modified)
 * @param options see {@link RunOptions}
 */
export function runEM(data: Dataset, initial: GmmParams, options: RunOptions, outputs: EStepOutputs = {}): RunResult {
  const { n, d } = data;
  const { k } = initial;
  const rng = options.rng ?? new Rng(0);
  const hard = options.mode === 'hard';
  const batchWeight = options.batchWeight ?? 1;
  const shift = options.shift ?? options.prior?.shift ?? dataMean(data);
  const stats = new SufficientStats(k, d, initial.covarianceType, shift);
  const scratch = new EStepScratch(k, d);
  const pool = options.pool ?? null;
  const batch = pool !== null && threadsFor(pool.threads, n, k, d, initial.covarianceType) > 1 ? pool.share(data.data, n, d) : null;
  const step = (st: SufficientStats, out: EStepOutputs): EStepSums => (batch !== null ? pool!.eStep(pre, batch, hard, st, out) : eStep(pre, data.data, n, hard, st, out, scratch));
  let params = cloneParams(initial);
  let reseeded = 0;
  let worst = 0;
  let factored = factorOrReseed(params, data, worst, options.regCovar, rng);
  let pre = factored.pre;
  reseeded += factored.reseeded;
  const history: number[] = [];
  let prev = options.lowerBound ?? -Infinity;
  let converged = false;
  let iterations = 0;
  const combined = options.prior ? options.prior.clone() : null;
  const perComponent = combined !== null && (options.shapeFactors != null || options.massFactors != null || options.translate != null || options.meanShrinkage != null);
  const scratchStats = perComponent ? stats.clone() : null;
  const early = options.endOnConvergedEStep === true;
  for (let it = 1; it <= options.maxIterations; it++) {
    stats.reset();
    const sums = step(stats, early ? outputs : {});
    worst = sums.worst;
    const ll = sums.logLikelihood / n;
    checkFinite(ll, 'mean log-likelihood');
    history.push(ll);
    if (early && Math.abs(ll - prev) < options.tol) {
      checkFinite(sums.expected, 'expected complete-data log-likelihood');
      return { params, iterations, converged: true, history, logLikelihood: ll, expectedLogLikelihood: sums.expected / n, batchStats: stats, reseeded, lowerBound: ll };
    }
    let total = stats;
    if (perComponent) {
      combineStats(combined!, options.prior!, stats, batchWeight, options.shapeFactors ?? null, options.massFactors ?? null, scratchStats!, options.translate ?? null, options.meanShrinkage ?? null);
      total = combined!;
    } else if (combined !== null && options.prior) {
      combined.s0.set(options.prior.s0);
      combined.s1.set(options.prior.s1);
      combined.s2.set(options.prior.s2);
      combined.merge(stats, batchWeight);
      total = combined;
    } else if (batchWeight !== 1) {
      total = stats.clone().scale(batchWeight);
    }
    const m = mStep(total, { regCovar: options.regCovar, fixedWeights: options.fixedWeights, fixedCovariances: options.fixedCovariances });
    params = m.params;
    if (m.empty.length > 0) {
      const points = [worst];
      while (points.length < m.empty.length) points.push(rng.int(n));
      reseedComponents(params, m.empty, data.data, points);
      reseeded += m.empty.length;
    }
    factored = factorOrReseed(params, data, worst, options.regCovar, rng);
    pre = factored.pre;
    reseeded += factored.reseeded;
    iterations = it;
    if (Math.abs(ll - prev) < options.tol) {
      converged = true;
      break;
    }
    prev = ll;
  }
  stats.reset();
  const final = step(stats, outputs);
  checkFinite(final.logLikelihood, 'mean log-likelihood');
  checkFinite(final.expected, 'expected complete-data log-likelihood');
  return {
    params,
    iterations,
    converged,
    history,
    logLikelihood: final.logLikelihood / n,
    expectedLogLikelihood: final.expected / n,
    batchStats: stats,
    reseeded,
    lowerBound: history.length > 0 ? history[history.length - 1] : (options.lowerBound ?? -Infinity),
  };
}

/** One restart candidate's outcome, as reported. */
export interface CandidateReport {
  readonly index: number;
  /** How the candidate started. */
  readonly init: InitMethod | 'given' | 'warm';
  readonly logLikelihood: number;
  readonly expectedLogLikelihood: number;
  readonly iterations: number;
  readonly converged: boolean;
  readonly reseeded: number;
  readonly selected: boolean;
}

/** Outcome of {@link fitGmm}: the winning run and every candidate. */
export interface FitResult extends RunResult {
  readonly candidates: CandidateReport[];
  readonly selected: number;
  readonly options: ResolvedFitOptions;
}

/**
 * Largest magnitude accepted in data: the statistics sum squares of centred values over a window,
 * Σ (x − c)² ≤ n·(2·1e150)² stays below Number.MAX_VALUE ≈ 1.8e308 for windows of up to 4·10⁷ points.
 */
export const MAX_ABS_VALUE = 1e150;

/**
 * Checks that a data set is usable: N ≥ 1, D ≥ 1, every value finite and |x| ≤ {@link MAX_ABS_VALUE}
 * (so that sums of squares cannot overflow). A window built by `windowVectors` (whose gate checked each value) is
 * not scanned again.
 *
 * @throws DataError naming the row and column of the first non-finite or too large value
 */
export function checkDataset(data: Dataset): void {
  const { n, d, data: x } = data;
  if (n < 1) throw new DataError('the data set is empty: give at least one point');
  if (d < 1) throw new DataError('points have no coordinates: give at least one column');
  if (x.length < n * d) throw new DataError(`the data buffer holds ${x.length} values, fewer than n×d = ${n * d}`);
  // (a window windowVectors built was checked value by value at its gate)
  if (isChecked(x)) return;
  for (let i = 0; i < n * d; i++) {
    const v = x[i];
    if (!(Math.abs(v) <= MAX_ABS_VALUE)) {
      const row = Math.floor(i / d);
      const column = i % d;
      if (!Number.isFinite(v)) throw new DataError(`value at row ${row}, column ${column} is ${v}: every value must be a finite number`, { row, column });
      throw new DataError(
        `value at row ${row}, column ${column} is ${v}: its square overflows double precision (|x| must be at most ${MAX_ABS_VALUE}): scale the data, e.g. standardise each column`,
        { row, column },
      );
    }
  }
}

/** Throws a {@link NumericError} when a window's mean log-likelihood left double precision. */
function checkFinite(value: number, quantity: string): void {
  if (!Number.isFinite(value)) {
    throw new NumericError(
      `the ${quantity} of the data is ${value}: the values are too large or too spread for double precision: scale the data (e.g. standardise each column) or use a larger regCovar`,
      { quantity },
    );
  }
}

/** Turns nested arrays or a flat buffer into {@link Dataset}. */
export function toDataset(input: Dataset | readonly (readonly number[])[]): Dataset {
  if (!Array.isArray(input)) return input as Dataset;
  const rows = input as readonly (readonly number[])[];
  const n = rows.length;
  const d = n > 0 ? rows[0].length : 0;
  const data = new Float64Array(n * d);
  rows.forEach((row, i) => {
    if (row.length !== d) throw new DataError(`row ${i} has ${row.length} values, but row 0 has ${d}: every row needs the same number of columns`, { row: i });
    for (let j = 0; j < d; j++) data[i * d + j] = row[j];
  });
  return { n, d, data };
}

/** Flattens nested numeric arrays (any depth) into a Float64Array. */
function flatten(x: ArrayLike<number> | readonly unknown[]): Float64Array {
  if (ArrayBuffer.isView(x)) return Float64Array.from(x as ArrayLike<number>);
  const out: number[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) v.forEach(walk);
    else out.push(v as number);
  };
  walk(x);
  return Float64Array.from(out);
}

/** The shape of a (nested) array, e.g. "(3, 1)". */
function shapeOf(x: unknown): string {
  const dims: number[] = [];
  let v: unknown = x;
  while (Array.isArray(v) || ArrayBuffer.isView(v)) {
    const a = v as ArrayLike<unknown>;
    dims.push(a.length);
    v = a.length > 0 ? a[0] : undefined;
  }
  return `(${dims.join(', ')})`;
}

/**
 * Validates user-given initial parameters against K, D and the covariance type, as scikit-learn's
 * `_check_parameters` does.
 *
 * 1. weights: a flat array of K values (shape (K,), not (K, 1)), each in [0, 1], summing to 1 within 1e-8
 *    (1e-6 for a Float32Array) — they are used as given, never renormalised;
 * 2. means K×D and covariances of the type's shape, every value finite, full and tied matrices symmetric;
 * 3. every covariance positive definite (diag and spherical: every variance > 0): a covariance that is not
 *    is rejected naming its component, never silently re-seeded.
 *
 * @throws DataError naming the array, the component and what to give instead
 */
export function paramsFromInitial(init: InitialParams, k: number, d: number, covarianceType: CovarianceType): GmmParams {
  const given = init.weights as unknown;
  if (Array.isArray(given) && given.some((w) => Array.isArray(w) || ArrayBuffer.isView(w))) {
    throw new DataError(`initial weights have shape ${shapeOf(given)}; expected (${k},): give a flat array of K weights`);
  }
  const weights = flatten(init.weights as ArrayLike<number>);
  const means = flatten(init.means);
  const covariances = flatten(init.covariances);
  const expect = (name: string, got: number, want: number, shape: string): void => {
    if (got !== want) throw new DataError(`initial ${name} hold ${got} values; expected ${shape} = ${want}`);
  };
  expect('weights', weights.length, k, 'K');
  expect('means', means.length, k * d, 'K×D');
  const shapes: Record<CovarianceType, string> = { full: 'K×D×D', diag: 'K×D', spherical: 'K', tied: 'D×D' };
  expect(`${covarianceType} covariances`, covariances.length, covarianceSize(covarianceType, k, d), shapes[covarianceType]);
  for (const [name, arr] of [['weights', weights], ['means', means], ['covariances', covariances]] as const) {
    if (!arr.every(Number.isFinite)) throw new DataError(`initial ${name} contain a non-finite value`);
  }
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (const w of weights) {
    min = Math.min(min, w);
    max = Math.max(max, w);
    sum += w;
  }
  if (min < 0 || max > 1) throw new DataError(`initial weights must be in [0, 1], but range from ${min} to ${max}`);
  const atol = given instanceof Float32Array ? 1e-6 : 1e-8;
  if (!(Math.abs(1 - sum) <= atol)) throw new DataError(`initial weights must sum to 1, but sum to ${sum}: normalise them (divide each by their sum)`);
  const kind = COVARIANCE[covarianceType];
  for (let c = 0; c < kind.matrices(k); c++) {
    const asym = asymmetry(covariances, d, c * d * d);
    if (asym > SYMMETRY_TOLERANCE) {
      throw new DataError(`initial covariance${kind.shared ? '' : ` of component ${c}`} is not symmetric (relative asymmetry ${asym.toExponential(2)}): give a symmetric positive definite matrix`);
    }
  }
  const params: GmmParams = { k, d, covarianceType, weights, means, covariances };
  const pre = precompute(params);
  if (!pre.ok) {
    const what = kind.shared ? 'the given initial tied covariance' : `the given initial ${covarianceType} covariance of component ${pre.component}`;
    throw new DataError(`${what} is not positive definite: give ${kind.valid} (initial values are used as given, not re-seeded)`, { component: pre.component });
  }
  return params;
}

/**
 * Fits a Gaussian mixture by EM with restarts.
 *
 * 1. validate the options and the data (K ≤ number of distinct points);
 * 2. for each of `restarts` candidates: initialise (seeded, independent streams) and run EM to
 *    convergence;
 * 3. select the candidate with the highest expected complete-data log-likelihood
 *    Σ_i Σ_k w_ik log(π_k N(x_i | μ_k, Σ_k)) (or the marginal log-likelihood, `select: 'marginal'`).
 *
 * @param data N×D points
 * @param options see {@link FitOptions}
 * @returns the winner, with every candidate's log-likelihoods
 */
export function fitGmm(data: Dataset, options: FitOptions): FitResult {
  const opts = resolveFitOptions(options);
  checkDataset(data);
  const { k, covarianceType } = opts;
  const distinct = countDistinctRows(data, k);
  if (distinct < k) {
    throw new DataError(`k = ${k} components need at least ${k} distinct points, but the data has only ${distinct}: lower k or give more data`);
  }
  const rng = new Rng(opts.seed);
  const threads = opts.threads ?? defaultThreads();
  const pool = poolFor(threads, data.n, k, data.d, covarianceType);
  const shift = dataMean(data);
  const given = typeof opts.init === 'object' ? paramsFromInitial(opts.init as InitialParams, k, data.d, covarianceType) : null;
  const runs: RunResult[] = [];
  const candidates: CandidateReport[] = [];
  let best = -1;
  for (let c = 0; c < opts.restarts; c++) {
    const crng = rng.fork();
    const start =
      given ?? initialise(data, opts.init as InitMethod, { k, covarianceType, regCovar: opts.regCovar, rng: crng, shift, kmeansIterations: opts.kmeansIterations });
    const run = runEM(data, start, {
      maxIterations: opts.maxIterations,
      tol: opts.tol,
      regCovar: opts.regCovar,
      mode: opts.mode,
      fixedWeights: opts.fixWeights ? start.weights : null,
      fixedCovariances: opts.fixCovariances ? start.covariances : null,
      shift,
      rng: crng,
      lowerBound: opts.lowerBound,
      pool,
    });
    runs.push(run);
    const score = opts.select === 'expected' ? run.expectedLogLikelihood : run.logLikelihood;
    const bestScore = best < 0 ? -Infinity : opts.select === 'expected' ? runs[best].expectedLogLikelihood : runs[best].logLikelihood;
    if (best < 0 || score > bestScore) best = c;
    candidates.push({
      index: c,
      init: given ? 'given' : (opts.init as InitMethod),
      logLikelihood: run.logLikelihood,
      expectedLogLikelihood: run.expectedLogLikelihood,
      iterations: run.iterations,
      converged: run.converged,
      reseeded: run.reseeded,
      selected: false,
    });
  }
  candidates[best] = { ...candidates[best], selected: true };
  return { ...runs[best], candidates, selected: best, options: opts };
}
