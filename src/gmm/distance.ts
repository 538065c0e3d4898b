import { linearSumAssignment } from 'linear-sum-assignment';

import { DataError, NumericError } from './errors.js';
import { cholesky, logDetFromCholesky } from './linalg.js';
import { covarianceSize, type CovarianceType, type GmmParams } from './types.js';

/**
 * Distances and divergences between Gaussians and between Gaussian mixtures.
 *
 * Everything here works on the flat, row-major layouts of `GmmParams` (see `types.ts`); a single
 * Gaussian is a mean (length D) and a full covariance matrix (D×D row-major). Every covariance is
 * factored once with the core's Cholesky decomposition (`linalg.ts`), never inverted. Bad input
 * (wrong shapes, a matrix that is not positive definite) raises a `DataError` naming it.
 *
 * @module
 */

/** Metric used to compare two mixture components. */
export type ComponentMetric = 'bhattacharyya' | 'symmetric-kl' | 'euclidean-means';

/** The metrics accepted by `componentDistanceMatrix`, in a stable order. */
export const COMPONENT_METRICS: readonly ComponentMetric[] = ['bhattacharyya', 'symmetric-kl', 'euclidean-means'];

// ---------------------------------------------------------------------------------------------
// Small dense linear algebra on flat D×D arrays
// ---------------------------------------------------------------------------------------------

/** Lower Cholesky factor `lower` (D×D row-major, L·Lᵀ = Σ) and ln det Σ = 2·Σ_i ln L_ii. */
interface CholeskyFactor {
  readonly lower: Float64Array;
  readonly logDet: number;
}

/**
 * Factor a symmetric positive-definite matrix with the core's one Cholesky (`linalg.ts`: rejects
 * non-finite entries, reads the matrix symmetrised, never throws) and name the matrix when it fails.
 *
 * @param cov - D×D row-major
 * @param d - dimension D
 * @param what - how to name the matrix in error messages
 * @returns the lower factor (D×D row-major) and ln det
 * @throws DataError when the matrix has the wrong size, a non-finite entry, or is not positive definite
 */
function factor(cov: Float64Array, d: number, what: string): CholeskyFactor {
  if (cov.length < d * d) {
    throw new DataError(`${what} has ${cov.length} values, expected a ${d}×${d} matrix (${d * d} values)`);
  }
  const lower = cholesky(cov, d);
  if (lower === null) {
    for (let i = 0; i < d * d; i++) {
      if (!Number.isFinite(cov[i])) {
        throw new DataError(`${what} has a non-finite entry at (${Math.floor(i / d)}, ${i % d}): check the model for NaN or Infinity`);
      }
    }
    throw new DataError(`${what} is not positive definite: use a larger regCovar, fewer components, or scale the data`);
  }
  return { lower, logDet: logDetFromCholesky(lower, d) };
}

/**
 * Forward substitution in place: overwrite `b` with y such that L·y = b, starting at row `from`
 * (rows before `from` are taken to be zero in both b and y).
 */
function forwardSolveInPlace(lower: Float64Array, d: number, b: Float64Array, from = 0): void {
  for (let i = from; i < d; i++) {
    let s = b[i];
    const row = i * d;
    for (let k = from; k < i; k++) s -= lower[row + k] * b[k];
    b[i] = s / lower[row + i];
  }
}

/** ‖L⁻¹·v‖² = vᵀ Σ⁻¹ v for Σ = L·Lᵀ; `scratch` (length D) is overwritten. */
function mahalanobisSq(lower: Float64Array, d: number, v: Float64Array, scratch: Float64Array): number {
  scratch.set(v.subarray(0, d));
  forwardSolveInPlace(lower, d, scratch);
  let s = 0;
  for (let i = 0; i < d; i++) s += scratch[i] * scratch[i];
  return s;
}

/** tr(Σb⁻¹ Σa) = ‖Lb⁻¹ La‖²_F, one column of La at a time; `scratch` (length D) is overwritten. */
function traceOfSolve(lowerB: Float64Array, lowerA: Float64Array, d: number, scratch: Float64Array): number {
  let s = 0;
  for (let j = 0; j < d; j++) {
    // column j of La is zero above row j, so the solution is zero above row j as well.
    for (let i = j; i < d; i++) scratch[i] = lowerA[i * d + j];
    forwardSolveInPlace(lowerB, d, scratch, j);
    for (let i = j; i < d; i++) s += scratch[i] * scratch[i];
  }
  return s;
}

/** A Gaussian prepared for repeated comparisons: mean, full covariance and (lazily) its factor. */
interface PreparedGaussian {
  readonly mean: Float64Array;
  readonly cov: Float64Array;
  readonly chol: CholeskyFactor | null;
}

function klFromFactors(a: PreparedGaussian, b: PreparedGaussian, d: number): number {
  const fa = a.chol!;
  const fb = b.chol!;
  const scratch = new Float64Array(d);
  const diff = new Float64Array(d);
  for (let i = 0; i < d; i++) diff[i] = b.mean[i] - a.mean[i];
  const trace = traceOfSolve(fb.lower, fa.lower, d, scratch);
  const maha = mahalanobisSq(fb.lower, d, diff, scratch);
  // Roundoff can push the closed form a hair below zero; a divergence is never negative.
  return Math.max(0, 0.5 * (trace + maha - d + fb.logDet - fa.logDet));
}

function bhattacharyyaFromFactors(a: PreparedGaussian, b: PreparedGaussian, d: number): number {
  const avg = new Float64Array(d * d);
  for (let i = 0; i < d * d; i++) avg[i] = 0.5 * (a.cov[i] + b.cov[i]);
  const f = factor(avg, d, 'the average covariance (Σa + Σb)/2');
  const diff = new Float64Array(d);
  for (let i = 0; i < d; i++) diff[i] = a.mean[i] - b.mean[i];
  const maha = mahalanobisSq(f.lower, d, diff, new Float64Array(d));
  // ln det is concave, so ln det((Σa+Σb)/2) ≥ ½(ln det Σa + ln det Σb): never negative but for roundoff.
  return Math.max(0, maha / 8 + 0.5 * (f.logDet - 0.5 * (a.chol!.logDet + b.chol!.logDet)));
}

function euclideanMeans(a: PreparedGaussian, b: PreparedGaussian, d: number): number {
  let s = 0;
  for (let i = 0; i < d; i++) {
    const t = a.mean[i] - b.mean[i];
    s += t * t;
  }
  return Math.sqrt(s);
}

/** The metrics, keyed by name: whether they need the Cholesky factors, and the pairwise kernel. */
const METRICS: Record<
  ComponentMetric,
  { readonly needsCholesky: boolean; readonly distance: (a: PreparedGaussian, b: PreparedGaussian, d: number) => number }
> = {
  bhattacharyya: { needsCholesky: true, distance: bhattacharyyaFromFactors },
  'symmetric-kl': {
    needsCholesky: true,
    distance: (a, b, d) => klFromFactors(a, b, d) + klFromFactors(b, a, d),
  },
  'euclidean-means': { needsCholesky: false, distance: euclideanMeans },
};

function prepare(mean: Float64Array, cov: Float64Array, d: number, withCholesky: boolean, what: string): PreparedGaussian {
  return { mean, cov, chol: withCholesky ? factor(cov, d, what) : null };
}

function checkDimension(d: number): void {
  if (!Number.isInteger(d) || d < 1) throw new DataError(`dimension must be a positive integer, got ${d}`);
}

function checkVector(v: Float64Array, d: number, what: string): void {
  if (v.length < d) throw new DataError(`${what} has ${v.length} values, expected ${d}`);
}

// ---------------------------------------------------------------------------------------------
// Between two Gaussians
// ---------------------------------------------------------------------------------------------

/** Checks two Gaussians' shapes and factors their covariances (the common prologue of the public distances). */
function preparePair(muA: Float64Array, covA: Float64Array, muB: Float64Array, covB: Float64Array, d: number): [ReturnType<typeof prepare>, ReturnType<typeof prepare>] {
  checkDimension(d);
  checkVector(muA, d, 'mean A');
  checkVector(muB, d, 'mean B');
  return [prepare(muA, covA, d, true, 'covariance A'), prepare(muB, covB, d, true, 'covariance B')];
}

/**
 * Kullback–Leibler divergence KL(A ‖ B) between two Gaussians with full covariances.
 *
 * KL(N(μa, Σa) ‖ N(μb, Σb)) = ½ [tr(Σb⁻¹Σa) + (μb−μa)ᵀ Σb⁻¹ (μb−μa) − D + ln det Σb − ln det Σa].
 *
 * 1. Factor Σa = La·Laᵀ and Σb = Lb·Lbᵀ (Cholesky; throws if either is not positive definite).
 * 2. tr(Σb⁻¹Σa) = ‖Lb⁻¹La‖²_F and the Mahalanobis term = ‖Lb⁻¹(μb−μa)‖², by forward substitution.
 * 3. ln det Σ = 2·Σ_i ln L_ii. The result is clamped at 0 against roundoff.
 *
 * Not symmetric: KL(A‖B) ≠ KL(B‖A) in general; see `symmetricKL`.
 *
 * @param muA - mean of A, length D
 * @param covA - covariance of A, D×D row-major, symmetric positive definite
 * @param muB - mean of B, length D
 * @param covB - covariance of B, D×D row-major, symmetric positive definite
 * @param d - dimension D
 * @returns KL(A ‖ B) in nats, ≥ 0
 * @throws DataError if a covariance is not positive definite or has non-finite entries
 */
export function gaussianKL(
  muA: Float64Array,
  covA: Float64Array,
  muB: Float64Array,
  covB: Float64Array,
  d: number,
): number {
  return klFromFactors(...preparePair(muA, covA, muB, covB, d), d);
}

/**
 * Symmetric KL (Jeffreys) divergence J(A, B) = KL(A ‖ B) + KL(B ‖ A) between two Gaussians.
 *
 * 1. Factor both covariances once (Cholesky).
 * 2. Add the two closed-form KL divergences (see `gaussianKL`).
 *
 * Note: this is the plain sum, not the average ½(KL(A‖B) + KL(B‖A)) that some texts use.
 *
 * @param muA - mean of A, length D
 * @param covA - covariance of A, D×D row-major
 * @param muB - mean of B, length D
 * @param covB - covariance of B, D×D row-major
 * @param d - dimension D
 * @returns J(A, B) in nats, ≥ 0, symmetric in its arguments
 * @throws DataError if a covariance is not positive definite
 */
export function symmetricKL(
  muA: Float64Array,
  covA: Float64Array,
  muB: Float64Array,
  covB: Float64Array,
  d: number,
): number {
  return METRICS['symmetric-kl'].distance(...preparePair(muA, covA, muB, covB, d), d);
}

/**
 * Bhattacharyya distance between two Gaussians.
 *
 * D_B = ⅛ (μa−μb)ᵀ Σ⁻¹ (μa−μb) + ½ ln( det Σ / √(det Σa · det Σb) ),  Σ = (Σa + Σb)/2.
 *
 * 1. Factor Σa, Σb and Σ (Cholesky; throws if one is not positive definite).
 * 2. Mahalanobis term by forward substitution with the factor of Σ.
 * 3. Log-determinants from the factors' diagonals. The result is clamped at 0 against roundoff.
 *
 * Symmetric, 0 iff the Gaussians are equal, and finite where KL may be huge (it is the more
 * forgiving choice for matching components).
 *
 * @param muA - mean of A, length D
 * @param covA - covariance of A, D×D row-major
 * @param muB - mean of B, length D
 * @param covB - covariance of B, D×D row-major
 * @param d - dimension D
 * @returns D_B ≥ 0
 * @throws DataError if a covariance is not positive definite
 */
export function bhattacharyya(
  muA: Float64Array,
  covA: Float64Array,
  muB: Float64Array,
  covB: Float64Array,
  d: number,
): number {
  return bhattacharyyaFromFactors(...preparePair(muA, covA, muB, covB, d), d);
}

// ---------------------------------------------------------------------------------------------
// Components of a mixture
// ---------------------------------------------------------------------------------------------

/** How to write component k's covariance as a full D×D matrix, keyed by covariance type. */
const EXPAND_COVARIANCE: Record<CovarianceType, (cov: Float64Array, k: number, d: number, out: Float64Array) => void> =
  {
    full: (cov, k, d, out) => out.set(cov.subarray(k * d * d, (k + 1) * d * d)),
    diag: (cov, k, d, out) => {
      out.fill(0);
      for (let i = 0; i < d; i++) out[i * d + i] = cov[k * d + i];
    },
    spherical: (cov, k, d, out) => {
      out.fill(0);
      for (let i = 0; i < d; i++) out[i * d + i] = cov[k];
    },
    tied: (cov, _k, d, out) => out.set(cov.subarray(0, d * d)),
  };

/**
 * Check that the arrays of a mixture have the lengths its `k`, `d` and covariance type promise.
 *
 * @param params - the mixture
 * @param name - how to name it in error messages
 * @throws DataError naming the first array with a wrong length
 */
export function assertGmmShapes(params: GmmParams, name = 'mixture'): void {
  const { k, d, covarianceType } = params;
  if (!Number.isInteger(k) || k < 1) throw new DataError(`${name}: k must be a positive integer, got ${k}`);
  checkDimension(d);
  if (!(covarianceType in EXPAND_COVARIANCE)) {
    throw new DataError(`${name}: unknown covariance type '${String(covarianceType)}'`);
  }
  const expected: [string, number, number][] = [
    ['weights', params.weights.length, k],
    ['means', params.means.length, k * d],
    ['covariances', params.covariances.length, covarianceSize(covarianceType, k, d)],
  ];
  for (const [field, actual, want] of expected) {
    if (actual !== want) {
      throw new DataError(`${name}: ${field} has ${actual} values, expected ${want} (k=${k}, d=${d}, ${covarianceType})`);
    }
  }
}

function checkComponentIndex(params: GmmParams, k: number): void {
  if (!Number.isInteger(k) || k < 0 || k >= params.k) {
    throw new DataError(`component index ${k} is out of range 0..${params.k - 1}`);
  }
}

/**
 * The full covariance matrix of one component, whatever the covariance type.
 *
 * 1. Look the covariance type up in a table of expanders (full: copy K×D×D slice k; diag: put row
 *    k of K×D on the diagonal; spherical: σ²_k·I; tied: copy the shared D×D matrix).
 * 2. Write into `out` (allocated when not given).
 *
 * @param params - the mixture
 * @param k - component index, 0 ≤ k < K
 * @param out - optional destination, length D·D
 * @returns Σ_k, D×D row-major (a copy: writing to it does not change `params`)
 */
export function componentCovariance(params: GmmParams, k: number, out?: Float64Array): Float64Array {
  checkComponentIndex(params, k);
  const d = params.d;
  const dest = out ?? new Float64Array(d * d);
  if (dest.length !== d * d) throw new DataError(`out has ${dest.length} values, expected ${d * d}`);
  EXPAND_COVARIANCE[params.covarianceType](params.covariances, k, d, dest);
  return dest;
}

/**
 * The mean of one component.
 *
 * @param params - the mixture; `means` is K×D row-major
 * @param k - component index, 0 ≤ k < K
 * @returns μ_k, length D (a copy)
 */
export function componentMean(params: GmmParams, k: number): Float64Array {
  checkComponentIndex(params, k);
  return params.means.slice(k * params.d, (k + 1) * params.d);
}

function prepareMixture(params: GmmParams, withCholesky: boolean, name: string): PreparedGaussian[] {
  const out: PreparedGaussian[] = [];
  for (let k = 0; k < params.k; k++) {
    out.push(
      prepare(componentMean(params, k), componentCovariance(params, k), params.d, withCholesky, `${name} component ${k} covariance`),
    );
  }
  return out;
}

function checkSameDimension(a: GmmParams, b: GmmParams): void {
  assertGmmShapes(a, 'mixture a');
  assertGmmShapes(b, 'mixture b');
  if (a.d !== b.d) throw new DataError(`the mixtures have different dimensions: ${a.d} and ${b.d}`);
}

function checkMetric(metric: ComponentMetric): void {
  if (!Object.prototype.hasOwnProperty.call(METRICS, metric)) {
    throw new DataError(`unknown metric '${String(metric)}': use one of ${COMPONENT_METRICS.join(', ')}`);
  }
}

/**
 * Pairwise distances between the components of two mixtures.
 *
 * 1. Expand every component of `a` and `b` to a full covariance and, for the Gaussian metrics,
 *    factor it once (Cholesky).
 * 2. Fill entry (i, j) with the metric between a's component i and b's component j:
 *    - `'bhattacharyya'` (default): Bhattacharyya distance (see `bhattacharyya`);
 *    - `'symmetric-kl'`: KL(a_i‖b_j) + KL(b_j‖a_i) (see `symmetricKL`);
 *    - `'euclidean-means'`: ‖μa_i − μb_j‖₂, covariances ignored.
 *
 * Weights are not used.
 *
 * @param a - first mixture, Ka components
 * @param b - second mixture, Kb components, same D
 * @param metric - component metric
 * @returns distances, Ka×Kb row-major
 * @throws DataError if the dimensions differ or a covariance is not positive definite
 */
export function componentDistanceMatrix(
  a: GmmParams,
  b: GmmParams,
  metric: ComponentMetric = 'bhattacharyya',
): Float64Array {
  checkSameDimension(a, b);
  checkMetric(metric);
  const { needsCholesky, distance } = METRICS[metric];
  const pa = prepareMixture(a, needsCholesky, 'mixture a');
  const pb = prepareMixture(b, needsCholesky, 'mixture b');
  const out = new Float64Array(a.k * b.k);
  for (let i = 0; i < a.k; i++) {
    for (let j = 0; j < b.k; j++) out[i * b.k + j] = distance(pa[i], pb[j], a.d);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Assignment
// ---------------------------------------------------------------------------------------------

/**
 * Minimum-cost assignment of rows to columns (Hungarian / Jonker–Volgenant, via
 * `linear-sum-assignment`).
 *
 * 1. Replace +Infinity costs by a finite penalty larger than any all-finite assignment (the
 *    library cannot handle infinities); NaN is an error.
 * 2. Call `linearSumAssignment` with `{ maximaze: false }` (sic: the library's option is spelled
 *    this way and defaults to MAXIMISING).
 * 3. Check that the answer is a proper matching: each row gets a distinct column when
 *    rows ≤ columns, each column a distinct row otherwise.
 *
 * @param cost - rows×cols row-major
 * @param rows - number of rows
 * @param cols - number of columns
 * @returns for each row the column assigned to it, or −1 when rows > cols and the row is left out
 * @throws DataError on NaN or −Infinity costs; NumericError if the solver returns an incomplete matching
 */
export function minCostAssignment(cost: Float64Array, rows: number, cols: number): Int32Array {
  if (cost.length !== rows * cols) throw new DataError(`cost has ${cost.length} values, expected ${rows}×${cols}`);
  const result = new Int32Array(rows).fill(-1);
  if (rows === 0 || cols === 0) return result;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < cost.length; i++) {
    const c = cost[i];
    if (Number.isNaN(c) || c === -Infinity) throw new DataError(`cost entry ${i} is ${c}: costs must be finite or +Infinity`);
    if (c !== Infinity) {
      if (c < lo) lo = c;
      if (c > hi) hi = c;
    }
  }
  const penalty = lo === Infinity ? 1 : hi + (hi - lo + 1) * Math.max(rows, cols);
  const matrix: number[][] = [];
  for (let i = 0; i < rows; i++) {
    const row: number[] = new Array<number>(cols);
    for (let j = 0; j < cols; j++) {
      const c = cost[i * cols + j];
      row[j] = c === Infinity ? penalty : c;
    }
    matrix.push(row);
  }
  const { rowAssignments } = linearSumAssignment(matrix, { maximaze: false });
  const used = new Uint8Array(cols);
  let assigned = 0;
  for (let i = 0; i < rows; i++) {
    const j = rowAssignments[i];
    if (j === -1) continue;
    if (!Number.isInteger(j) || j < 0 || j >= cols || used[j] === 1) {
      throw new NumericError(`linear-sum-assignment returned an invalid matching (row ${i} → column ${j})`, { quantity: 'assignment' });
    }
    used[j] = 1;
    result[i] = j;
    assigned++;
  }
  if (assigned !== Math.min(rows, cols)) {
    throw new NumericError(`linear-sum-assignment matched ${assigned} of ${Math.min(rows, cols)} pairs`, { quantity: 'assignment' });
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// Between two mixtures
// ---------------------------------------------------------------------------------------------

/**
 * Model-drift statistic: the weight-averaged distance between matched components of two mixtures.
 *
 * 1. Component distance matrix a×b with `metric` (see `componentDistanceMatrix`).
 * 2. Minimum-cost one-to-one matching of a's components to b's (Hungarian assignment), the same
 *    matching `matchComponents` uses to keep labels stable.
 * 3. Average the matched distances with weights w_j = (πa_j + πb_perm[j]) / 2, normalised by their
 *    sum, so that a component that barely exists in both models barely counts.
 *
 * 0 when b is a relabelling of a. Not a divergence between the mixture densities (see
 * `variationalKL` for that); it is cheap, symmetric for symmetric metrics, and in the units of
 * the metric.
 *
 * @param a - previous mixture, K components
 * @param b - next mixture, K components, same D
 * @param metric - component metric, Bhattacharyya by default
 * @returns Σ_j w_j · dist(a_j, b_perm[j]) / Σ_j w_j
 * @throws DataError if K or D differ, or a covariance is not positive definite
 */
export function matchedMixtureDistance(
  a: GmmParams,
  b: GmmParams,
  metric: ComponentMetric = 'bhattacharyya',
): number {
  checkSameDimension(a, b);
  if (a.k !== b.k) {
    throw new DataError(`matchedMixtureDistance needs the same number of components, got ${a.k} and ${b.k}`);
  }
  const k = a.k;
  const dist = componentDistanceMatrix(a, b, metric);
  const perm = minCostAssignment(dist, k, k);
  let num = 0;
  let den = 0;
  for (let j = 0; j < k; j++) {
    const w = 0.5 * (a.weights[j] + b.weights[perm[j]]);
    num += w * dist[j * k + perm[j]];
    den += w;
  }
  if (!(den > 0)) throw new DataError('matchedMixtureDistance: the weights sum to zero');
  return num / den;
}

function logSumExp(values: Float64Array): number {
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i] > max) max = values[i];
  if (max === -Infinity) return -Infinity;
  let s = 0;
  for (let i = 0; i < values.length; i++) s += Math.exp(values[i] - max);
  return max + Math.log(s);
}

/**
 * Variational approximation of KL(f ‖ g) between two Gaussian mixtures (Hershey & Olsen 2007,
 * "Approximating the Kullback Leibler divergence between Gaussian mixture models", ICASSP, eq. 20).
 *
 * D_var(f ‖ g) = Σ_a π_a · ln( Σ_a' π_a' e^{−KL(f_a ‖ f_a')} / Σ_b ω_b e^{−KL(f_a ‖ g_b)} ),
 * with π the weights of f and ω the weights of g.
 *
 * 1. Factor every component covariance of f and g once (Cholesky).
 * 2. For each component a of f with π_a > 0: the KL divergences to all components of f and of g
 *    (closed form, see `gaussianKL`).
 * 3. Numerator and denominator by log-sum-exp (zero weights contribute nothing); weigh the log
 *    ratio by π_a and sum.
 *
 * Exactly 0 when f and g are the same mixture; not guaranteed non-negative in general (it is an
 * approximation, not a bound). The mixtures may have different K.
 *
 * @param f - first mixture (the "true" distribution), K_f components
 * @param g - second mixture, K_g components, same D
 * @returns the approximation of KL(f ‖ g) in nats
 * @throws DataError if the dimensions differ or a covariance is not positive definite
 */
export function variationalKL(f: GmmParams, g: GmmParams): number {
  checkSameDimension(f, g);
  const d = f.d;
  const pf = prepareMixture(f, true, 'mixture f');
  const pg = prepareMixture(g, true, 'mixture g');
  const num = new Float64Array(f.k);
  const den = new Float64Array(g.k);
  let total = 0;
  for (let a = 0; a < f.k; a++) {
    const pa = f.weights[a];
    if (!(pa > 0)) continue;
    for (let a2 = 0; a2 < f.k; a2++) num[a2] = Math.log(f.weights[a2]) - klFromFactors(pf[a], pf[a2], d);
    for (let b = 0; b < g.k; b++) den[b] = Math.log(g.weights[b]) - klFromFactors(pf[a], pg[b], d);
    total += pa * (logSumExp(num) - logSumExp(den));
  }
  return total;
}
