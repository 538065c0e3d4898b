/**
 * `emstream/core`: the building blocks of the numeric core, for advanced use (custom EM loops, other
 * streaming rules, benchmarks). The main entry (`emstream`) exports what a user of the library calls —
 * `GaussianMixture`, `fitGmm`, `StreamingGmm`, the operators, the Kafka edge; this subpath exports the
 * pieces they are made of. Shapes and steps are documented on each function.
 *
 * ## Example
 * ```ts
 * import { dataMean, eStep, initialise, mStep, precompute, Rng, SufficientStats } from 'emstream/core';
 *
 * const data = { n: 6, d: 1, data: Float64Array.of(0, 0.2, 0.1, 5, 5.2, 5.1) };
 * const shift = dataMean(data);
 * let params = initialise(data, 'kmeans++', { k: 2, covarianceType: 'full', regCovar: 1e-6, rng: new Rng(1), shift });
 * for (let it = 0; it < 10; it++) {
 *   const pre = precompute(params);
 *   if (!pre.ok) throw new Error('not factorable');
 *   const stats = new SufficientStats(2, 1, 'full', shift);
 *   eStep(pre.value, data.data, data.n, false, stats);
 *   params = mStep(stats, { regCovar: 1e-6 }).params;
 * }
 * console.log(Array.from(params.means).sort((a, b) => a - b).map((m) => m.toFixed(1)).join(' ')); // → 0.1 5.1
 * ```
 *
 * @module
 */
export { runEM, cloneParams, paramsFromInitial, type RunOptions, type RunResult } from './gmm/em.js';
export { SufficientStats, SKIP_WEIGHT, type SufficientStatsJSON } from './gmm/stats.js';
export { mStep, reseedComponents, NK_EPS, EMPTY_FRACTION, type MStepOptions, type MStepResult } from './gmm/mstep.js';
export { eStep, precompute, EStepScratch, type Precomputed, type PrecomputeResult, type EStepOutputs, type EStepSums } from './gmm/estep.js';
export { COVARIANCE, covarianceSize, nest, type CovarianceKind } from './gmm/covariance.js';
export { BLOCKED, type LogProbKernel, type StatsBlockKernel, type StatsArrays, type StatsScratch } from './gmm/blocked.js';
export { SimdLogProb, simdStatus } from './gmm/simd.js';
export { EStepPool, sharedPool, poolFor, pooledEStep, threadsFor, defaultThreads, eStepWork, MIN_PARALLEL_WORK, type SharedBatch, type PoolOptions } from './gmm/parallel/pool.js';
export { initialise, kmeansPlusPlus, KmeansPlusPlusSeeding, lloyd, nearest, dataMean, countDistinctRows, type InitContext } from './gmm/init.js';
export { cholesky, logDetFromCholesky, precisionFactor, invertLower, packedIndex, packedSize, asymmetry, SYMMETRY_TOLERANCE, Tridiagonal } from './gmm/linalg.js';
export { Rng, type RngState } from './gmm/rng.js';
export { combineStats, scaleComponents, translateComponent, splitComponentRow, componentMoments, tiedWithin, meanStatistic, JAMES_STEIN_C, type ComponentMoments, type MeanShrinkage } from './gmm/componentStats.js';
export { componentDrift, weightDrift, driftStatistic, shapeStatistic, chiSquareQuantile, normalQuantile, type ComponentDrift, type WeightDrift, type AdaptiveForgettingOptions } from './gmm/adaptive.js';
export { MIN_WINDOW_PARALLEL_WORK, windowThreads } from './gmm/streaming.js';
export { StatisticsGmm, type StatisticsRound } from './gmm/stream/statistics.js';
export { splitWindow, logDensities, meanLogLikelihood, significantlyBetter, pairedGain, type WindowSplit } from './gmm/selection.js';
export { lnGamma, logGammaQ, chiSquareLog10Survival } from './gmm/special.js';
export { splitProposal, worstPointProposal, mostRedundantPair, screenMoves, bySpread, principalAxis, componentParameters, mixtureParameters, type MoveScreen } from './gmm/birthDeath.js';
export { splitMove, mergeMove, mergeRows, closestPair, windowBic } from './gmm/chooseK.js';
export { componentCovariance, componentMean, componentDistance, minCostAssignment, assertGmmShapes } from './gmm/distance.js';
export { type DivergenceKernel, type FactoredCovariances, type Divergence, type PairDivergence } from './gmm/divergence.js';
