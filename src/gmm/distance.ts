import { linearSumAssignment } from 'linear-sum-assignment';

import { COVARIANCE } from './covariance.js';
import type { Divergence, DivergenceKernel, FactoredCovariances, PairDivergence } from './divergence.js';
import { DataError, NumericError } from './errors.js';
import { covarianceSize, type CovarianceType, type GmmParams } from './types.js';

/**
 * Distances and divergences between Gaussians and between Gaussian mixtures.
 *
 * Everything here works on the flat, row-major layouts of `GmmParams` (see `types.ts`); a single
 * Gaussian given alone is a mean (length D) and a full covariance matrix (D×D row-major). The components
 * of a mixture are compared in the layout of their covariance type, never expanded to D×D: every
 * covariance is factored once and each pair costs what its type needs (diag and spherical O(D) closed
 * forms, full and tied one Cholesky factor per component; the kernels are `COVARIANCE[type].divergence`,
 * `divergence.ts`). Bad input (wrong shapes, a matrix that is not positive definite) raises a
 * `DataError` naming it.
 *
 * @module
 */

/** Metric used to compare two mixture components. */
export type ComponentMetric = 'bhattacharyya' | 'symmetric-kl' | 'euclidean-means';

/** The metrics accepted by `componentDistanceMatrix`, in a stable order. */
export const COMPONENT_METRICS: readonly ComponentMetric[] = ['bhattacharyya', 'symmetric-kl', 'euclidean-means'];

// ---------------------------------------------------------------------------------------------
// Factoring mixtures at the cost of their covariance type
// ---------------------------------------------------------------------------------------------

/** The covariance type two mixtures are compared in: their own when they agree, else the narrowest that holds both. */
function commonType(a: CovarianceType, b: CovarianceType): CovarianceType {
  if (a === b) return a;
  return COVARIANCE[a].isDiagonal && COVARIANCE[b].isDiagonal ? 'diag' : 'full';
}

/** A mixture's covariances in the layout of `type` (their own, or diag from spherical, or full from any). */
function covariancesAs(params: GmmParams, type: CovarianceType): Float64Array {
  if (params.covarianceType === type) return params.covariances;
  const { k, d } = params;
  const kind = COVARIANCE[params.covarianceType];
  if (COVARIANCE[type].isDiagonal) {
    const out = new Float64Array(k * d);
    for (let c = 0; c < k; c++) kind.diagonal(params.covariances, k, d, c, out.subarray(c * d, (c + 1) * d));
    return out;
  }
  const out = new Float64Array(k * d * d);
  for (let c = 0; c < k; c++) kind.expand(params.covariances, k, d, c, out.subarray(c * d * d, (c + 1) * d * d));
  return out;
}

/** Factors a mixture's covariances once, in the layout of `type` (see `divergence.ts` for the cost per type). */
function factorMixture(params: GmmParams, type: CovarianceType, name: string): FactoredCovariances {
  return COVARIANCE[type].divergence.factor(covariancesAs(params, type), params.k, params.d, (c) => `${name} component ${c} covariance`);
}

/** A full D×D covariance given by a user, as a one-component factored mixture. */
function factorMatrix(cov: Float64Array, d: number, what: string): FactoredCovariances {
  if (cov.length < d * d) {
    throw new DataError(`${what} has ${cov.length} values, expected a ${d}×${d} matrix (${d * d} values)`);
  }
  return COVARIANCE.full.divergence.factor(cov, 1, d, () => what);
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

/** Checks two Gaussians' shapes, factors their covariances and returns the divergence between them. */
function betweenTwo(divergence: Divergence, muA: Float64Array, covA: Float64Array, muB: Float64Array, covB: Float64Array, d: number): number {
  checkDimension(d);
  checkVector(muA, d, 'mean A');
  checkVector(muB, d, 'mean B');
  const a = factorMatrix(covA, d, 'covariance A');
  const b = factorMatrix(covB, d, 'covariance B');
  return COVARIANCE.full.divergence.pair(divergence, a, muA, b, muB)(0, 0);
}

/**
 * Kullback–Leibler divergence KL(A ‖ B) between two Gaussians with full covariances.
 *
 * KL(N(μa, Σa) ‖ N(μb, Σb)) = ½ [tr(Σb⁻¹Σa) + (μb−μa)ᵀ Σb⁻¹ (μb−μa) − D + ln det Σb − ln det Σa].
 *
 * 1. Factor Σa = La·Laᵀ and Σb = Lb·Lbᵀ (Cholesky; throws if either is not positive definite).
 * 2. tr(Σb⁻¹Σa) = ⟨Σb⁻¹, Σa⟩_F and the Mahalanobis term = ‖Lb⁻¹(μb−μa)‖², by forward substitution.
 * 3. ln det Σ = 2·Σ_i ln L_ii. The result is clamped at 0 against roundoff (exactly 0 for identical inputs).
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
  return betweenTwo('kl', muA, covA, muB, covB, d);
}

/**
 * Symmetric KL (Jeffreys) divergence J(A, B) = KL(A ‖ B) + KL(B ‖ A) between two Gaussians.
 *
 * 1. Factor both covariances once (Cholesky).
 * 2. J = ½ (tr(Σb⁻¹Σa) + tr(Σa⁻¹Σb)) − D + ½ Δᵀ(Σa⁻¹ + Σb⁻¹)Δ (the log-determinants cancel).
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
  return betweenTwo('symmetric-kl', muA, covA, muB, covB, d);
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
  return betweenTwo('bhattacharyya', muA, covA, muB, covB, d);
}

// ---------------------------------------------------------------------------------------------
// Components of a mixture
// ---------------------------------------------------------------------------------------------

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
  if (!Object.prototype.hasOwnProperty.call(COVARIANCE, covarianceType)) {
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
 * 1. Look the covariance type up in the covariance table (`COVARIANCE[type].expand`: full: copy K×D×D
 *    slice k; diag: put row k of K×D on the diagonal; spherical: σ²_k·I; tied: copy the shared D×D matrix).
 * 2. Write into `out` (allocated when not given).
 *
 * Only for callers that need the D×D matrix (O(D²)); the distances here work in the layout of the type.
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
  COVARIANCE[params.covarianceType].expand(params.covariances, params.k, d, k, dest);
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

function checkSameDimension(a: GmmParams, b: GmmParams): void {
  assertGmmShapes(a, 'mixture a');
  assertGmmShapes(b, 'mixture b');
  if (a.d !== b.d) throw new DataError(`the mixtures have different dimensions: ${a.d} and ${b.d}`);
}

function checkMetric(metric: ComponentMetric): void {
  if (!(COMPONENT_METRICS as readonly string[]).includes(metric)) {
    throw new DataError(`unknown metric '${String(metric)}': use one of ${COMPONENT_METRICS.join(', ')}`);
  }
}

/** ‖μa_i − μb_j‖₂. */
function euclideanPair(a: GmmParams, b: GmmParams): PairDivergence {
  const d = a.d;
  return (i, j) => {
    let s = 0;
    for (let t = 0; t < d; t++) {
      const x = a.means[i * d + t] - b.means[j * d + t];
      s += x * x;
    }
    return Math.sqrt(s);
  };
}

/** The metric between components of a and b as a function of (i, j), covariances factored once (null factors for the Euclidean metric). */
function metricPairs(a: GmmParams, b: GmmParams, metric: ComponentMetric): { distance: PairDivergence; type: CovarianceType; fa: FactoredCovariances | null; fb: FactoredCovariances | null } {
  const type = commonType(a.covarianceType, b.covarianceType);
  if (metric === 'euclidean-means') return { distance: euclideanPair(a, b), type, fa: null, fb: null };
  const fa = factorMixture(a, type, 'mixture a');
  const fb = a === b ? fa : factorMixture(b, type, 'mixture b');
  return { distance: COVARIANCE[type].divergence.pair(metric, fa, a.means, fb, b.means), type, fa, fb };
}

/** Ka×Kb row-major matrix of `distance` (the upper triangle mirrored when `a` and `b` are the same object). */
function distanceMatrix(a: GmmParams, b: GmmParams, distance: PairDivergence): Float64Array {
  const out = new Float64Array(a.k * b.k);
  if (a === b) {
    for (let i = 0; i < a.k; i++) {
      for (let j = i + 1; j < a.k; j++) {
        const v = distance(i, j);
        out[i * a.k + j] = v;
        out[j * a.k + i] = v;
      }
    }
    return out;
  }
  for (let i = 0; i < a.k; i++) {
    for (let j = 0; j < b.k; j++) out[i * b.k + j] = distance(i, j);
  }
  return out;
}

/**
 * Pairwise distances between the components of two mixtures.
 *
 * 1. Factor every covariance of `a` and `b` once, in the layout of their covariance type (mixtures of
 *    different types are compared in the narrowest type that holds both: diag for diag and spherical,
 *    else full); see `divergence.ts` for the cost per pair (diag and spherical O(D), tied O(D²), full
 *    O(D²) for KL and one D³/6 factor per pair for Bhattacharyya).
 * 2. Fill entry (i, j) with the metric between a's component i and b's component j:
 *    - `'bhattacharyya'` (default): Bhattacharyya distance (see `bhattacharyya`);
 *    - `'symmetric-kl'`: KL(a_i‖b_j) + KL(b_j‖a_i) (see `symmetricKL`);
 *    - `'euclidean-means'`: ‖μa_i − μb_j‖₂, covariances ignored.
 *    When `a` and `b` are the same object only the upper triangle is computed (the metrics are symmetric).
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
  return distanceMatrix(a, b, metricPairs(a, b, metric).distance);
}

/** Component c of a mixture as a mixture of one (weight 1; a tied covariance is its own). */
function single(p: GmmParams, c: number): GmmParams {
  const { d, covarianceType: type } = p;
  const stride = COVARIANCE[type].stride(d);
  return {
    k: 1,
    d,
    covarianceType: type,
    weights: Float64Array.of(1),
    means: p.means.subarray(c * d, (c + 1) * d),
    covariances: stride === 0 ? p.covariances : p.covariances.subarray(c * stride, (c + 1) * stride),
  };
}

/**
 * The distance between component i of `a` and component j of `b`, at the cost of their covariance type
 * (only those two covariances are factored).
 *
 * 1. Take component i of `a` and component j of `b` as one-component mixtures (no copy).
 * 2. Factor their covariances and evaluate the metric as `componentDistanceMatrix` does.
 *
 * ## Example
 * ```ts
 * import { componentDistance } from 'emstream/core';
 *
 * // two diagonal components in 384 dimensions: an O(D) closed form, no 384 × 384 matrix
 * const d = 384;
 * const a = { k: 1, d, covarianceType: 'diag' as const, weights: Float64Array.of(1), means: new Float64Array(d), covariances: new Float64Array(d).fill(1) };
 * const b = { ...a, means: new Float64Array(d).fill(0.1) };
 * console.log(componentDistance(a, 0, b, 0).toFixed(4)); // → 0.4800
 * ```
 *
 * @param metric - component metric (see `componentDistanceMatrix`)
 * @returns the metric between a_i and b_j
 * @throws DataError if the dimensions differ, an index is out of range or a covariance is not positive definite
 */
export function componentDistance(a: GmmParams, i: number, b: GmmParams, j: number, metric: ComponentMetric = 'bhattacharyya'): number {
  checkSameDimension(a, b);
  checkMetric(metric);
  checkComponentIndex(a, i);
  checkComponentIndex(b, j);
  return metricPairs(single(a, i), single(b, j), metric).distance(0, 0);
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
 * Whether a lower bound LB(i, j) ≤ metric(a_i, b_j) exceeds `threshold`, in at most O(D) per pair (see
 * `matchedMixtureDistance`): LB = c_ij·‖μa_i − μb_j‖², summed until it does (well-separated components
 * need a few coordinates).
 */
function lowerBound(metric: Divergence, kernel: DivergenceKernel, fa: FactoredCovariances, fb: FactoredCovariances, d: number): (ma: Float64Array, i: number, mb: Float64Array, j: number, threshold: number) => boolean {
  const la = Float64Array.from({ length: fa.k }, (_, c) => kernel.eigenBound(fa, c));
  const lb = fa === fb ? la : Float64Array.from({ length: fb.k }, (_, c) => kernel.eigenBound(fb, c));
  return (ma, i, mb, j, threshold) => {
    const scale = metric === 'bhattacharyya' ? 1 / (4 * (la[i] + lb[j])) : 0.5 * (1 / la[i] + 1 / lb[j]);
    if (!(scale > 0)) return false;
    const need = threshold / scale;
    let s = 0;
    for (let t = 0; t < d; t++) {
      const x = ma[i * d + t] - mb[j * d + t];
      s += x * x;
      if (s > need) return true;
    }
    return false;
  };
}

/**
 * Whether the identity is certainly the unique minimum-cost matching of a's components to b's: every
 * off-diagonal lower bound exceeds its row's matched distance (or every one its column's).
 */
function identityIsOptimal(a: GmmParams, b: GmmParams, matched: Float64Array, exceeds: (ma: Float64Array, i: number, mb: Float64Array, j: number, threshold: number) => boolean): boolean {
  const k = a.k;
  for (let j = 0; j < k; j++) if (!Number.isFinite(matched[j])) return false;
  let rows = true;
  let cols = true;
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      if (i === j) continue;
      const mi = matched[i];
      const mj = matched[j];
      // the rows' certificate needs LB_ij > matched[i], the columns' LB_ij > matched[j]
      if (rows && cols) {
        if (exceeds(a.means, i, b.means, j, Math.max(mi, mj))) continue;
        const low = exceeds(a.means, i, b.means, j, Math.min(mi, mj));
        rows = low && mi < mj;
        cols = low && mj < mi;
      } else if (rows) rows = exceeds(a.means, i, b.means, j, mi);
      else cols = exceeds(a.means, i, b.means, j, mj);
      if (!rows && !cols) return false;
    }
  }
  return rows || cols;
}

/**
 * Model-drift statistic: the weight-averaged distance between matched components of two mixtures.
 *
 * 1. Component distance matrix a×b with `metric` (see `componentDistanceMatrix`).
 * 2. Minimum-cost one-to-one matching of a's components to b's (Hungarian assignment), the same
 *    matching `matchComponents` uses to keep labels stable. When the models are in matching order (as
 *    successive models of a stream are) only the K matched distances are computed: with lower bounds
 *    LB_ij ≤ dist(a_i, b_j) that cost O(D) per pair (below), LB_ij > dist(a_i, b_i) for every j ≠ i (or
 *    > dist(a_j, b_j) for every i ≠ j) is a dual certificate (potentials u_i = dist(a_i, b_i), v = 0)
 *    that the identity is the unique optimal matching, so the result is the assignment's, exactly.
 *    Bounds: λ_k ≥ the largest eigenvalue of Σ_k (Gershgorin, or the largest variance), then
 *    Bhattacharyya ≥ ‖Δμ‖²/(4(λ_a + λ_b)) and symmetric KL ≥ ½‖Δμ‖²(1/λ_a + 1/λ_b) (the determinant and
 *    trace terms are ≥ 0).
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
  checkMetric(metric);
  const k = a.k;
  const { distance, type, fa, fb } = metricPairs(a, b, metric);
  // The matched distances: the diagonal when the identity is certainly the unique optimal matching (the
  // usual case between successive models of a stream), else the whole matrix and the assignment.
  const matched = new Float64Array(k);
  for (let j = 0; j < k; j++) matched[j] = distance(j, j);
  let perm: Int32Array;
  if (fa !== null && fb !== null && identityIsOptimal(a, b, matched, lowerBound(metric as Divergence, COVARIANCE[type].divergence, fa, fb, a.d))) {
    perm = Int32Array.from({ length: k }, (_, j) => j);
  } else {
    const dist = distanceMatrix(a, b, distance);
    perm = minCostAssignment(dist, k, k);
    for (let j = 0; j < k; j++) matched[j] = dist[j * k + perm[j]];
  }
  let num = 0;
  let den = 0;
  for (let j = 0; j < k; j++) {
    const w = 0.5 * (a.weights[j] + b.weights[perm[j]]);
    num += w * matched[j];
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
 * 1. Factor every component covariance of f and g once (at the cost of their covariance type).
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
  const ff = factorMixture(f, f.covarianceType, 'mixture f');
  const klFF = COVARIANCE[f.covarianceType].divergence.pair('kl', ff, f.means, ff, f.means);
  const type = commonType(f.covarianceType, g.covarianceType);
  const fc = type === f.covarianceType ? ff : factorMixture(f, type, 'mixture f');
  const klFG = COVARIANCE[type].divergence.pair('kl', fc, f.means, factorMixture(g, type, 'mixture g'), g.means);
  const num = new Float64Array(f.k);
  const den = new Float64Array(g.k);
  let total = 0;
  for (let a = 0; a < f.k; a++) {
    const pa = f.weights[a];
    if (!(pa > 0)) continue;
    for (let a2 = 0; a2 < f.k; a2++) num[a2] = Math.log(f.weights[a2]) - klFF(a, a2);
    for (let b = 0; b < g.k; b++) den[b] = Math.log(g.weights[b]) - klFG(a, b);
    total += pa * (logSumExp(num) - logSumExp(den));
  }
  return total;
}
