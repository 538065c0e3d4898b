/**
 * Shapes shared by the numeric core. All matrices are flat, row-major `Float64Array`s.
 *
 * Covariance layouts (K components, D dimensions), identical to scikit-learn's `covariances_`:
 *
 * | type        | `covariances` shape | meaning                                 |
 * |-------------|---------------------|-----------------------------------------|
 * | `full`      | K×D×D               | one full matrix per component           |
 * | `diag`      | K×D                 | one diagonal (variances) per component  |
 * | `spherical` | K                   | one variance per component (σ²·I)       |
 * | `tied`      | D×D                 | one full matrix shared by all components|
 *
 * Everything that depends on the type (sizes, shapes, factors, kernels) is in the table of `covariance.ts`.
 */
export type CovarianceType = 'full' | 'diag' | 'spherical' | 'tied';

export const COVARIANCE_TYPES: readonly CovarianceType[] = ['full', 'diag', 'spherical', 'tied'];

/** Number of covariance values stored for a covariance type (see the table in `covariance.ts`). */
export { covarianceSize } from './covariance.js';

/**
 * Parameters of a Gaussian mixture.
 *
 * - `weights`: K, sums to 1
 * - `means`: K×D row-major
 * - `covariances`: see the table above
 */
export interface GmmParams {
  readonly k: number;
  readonly d: number;
  readonly covarianceType: CovarianceType;
  readonly weights: Float64Array;
  readonly means: Float64Array;
  readonly covariances: Float64Array;
}

/** A data set: N×D row-major points. */
export interface Dataset {
  readonly n: number;
  readonly d: number;
  readonly data: Float64Array;
}
