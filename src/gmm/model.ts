import type { CovarianceType } from './types.js';

/**
 * The JSON form of a fitted mixture; also the payload of model messages on Kafka.
 *
 * `covariances` has the shape of the covariance type: full K×D×D, diag K×D, spherical K, tied D×D.
 */
export interface MixtureJSON {
  readonly format: 'emstream.gmm';
  readonly version: 1;
  readonly covarianceType: CovarianceType;
  readonly k: number;
  readonly d: number;
  readonly weights: number[];
  readonly means: number[][];
  readonly covariances: number[][][] | number[][] | number[];
}
