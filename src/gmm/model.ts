import { ModelFormatError, DataError } from './errors.js';
import { checkDataset, fitGmm, resolveFitOptions, toDataset, type FitOptions, type FitResult } from './em.js';
import { eStep, precompute, type Precomputed } from './estep.js';
import { COVARIANCE, nest } from './covariance.js';
import { asymmetry, SYMMETRY_TOLERANCE } from './linalg.js';
import { Rng } from './rng.js';
import { COVARIANCE_TYPES, type CovarianceType, type Dataset, type GmmParams } from './types.js';
import { CovarianceError } from './errors.js';

/** Current version of the model JSON format. */
export const MODEL_FORMAT_VERSION = 1;

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

/** Points accepted by the model's methods: a {@link Dataset} or nested arrays (N×D). */
export type Points = Dataset | readonly (readonly number[])[];

/**
 * A fitted Gaussian mixture: p(x) = Σ_k π_k N(x | μ_k, Σ_k).
 *
 * ## Example
 * ```ts
 * import { GaussianMixture } from 'emstream';
 *
 * const { model } = GaussianMixture.fit([[0, 0], [0, 1], [10, 10], [10, 11]], { k: 2, seed: 1 });
 * const [near, far] = model.predict([[0, 0.5], [10, 10.5]]);
 * console.log(near === far, model.score([[0, 0.5]]) > model.score([[5, 5]])); // → false true
 * ```
 */
export class GaussianMixture {
  readonly params: GmmParams;
  private readonly pre: Precomputed;

  /**
   * @param params weights (K), means (K×D), covariances (shape per type)
   * @throws CovarianceError when a covariance is not positive definite
   */
  constructor(params: GmmParams) {
    this.params = params;
    const res = precompute(params);
    if (!res.ok) throw new CovarianceError({ component: res.component, covarianceType: params.covarianceType, regCovar: 0 });
    this.pre = res.value;
  }

  get k(): number {
    return this.params.k;
  }
  get d(): number {
    return this.params.d;
  }
  get covarianceType(): CovarianceType {
    return this.params.covarianceType;
  }

  /**
   * Fits a mixture by EM with restarts (see `fitGmm`).
   *
   * @returns the model and the fit report (every candidate's log-likelihoods)
   */
  static fit(points: Points, options: FitOptions): { model: GaussianMixture; result: FitResult } {
    resolveFitOptions(options, 'GaussianMixture.fit'); // errors name the method called, not fitGmm
    const result = fitGmm(toDataset(points), options);
    return { model: new GaussianMixture(result.params), result };
  }

  private data(points: Points): Dataset {
    const ds = toDataset(points);
    if (ds.n > 0 && ds.d !== this.d) {
      throw new DataError(`the data has ${ds.d} columns but the model has dimension ${this.d}: give points with ${this.d} values`);
    }
    checkDataset(ds);
    return ds;
  }

  /** Most probable component per point: N labels. */
  predict(points: Points): Int32Array {
    const ds = this.data(points);
    const labels = new Int32Array(ds.n);
    eStep(this.pre, ds.data, ds.n, false, null, { labels });
    return labels;
  }

  /** Responsibilities: N×K row-major. */
  predictProba(points: Points): Float64Array {
    const ds = this.data(points);
    const resp = new Float64Array(ds.n * this.k);
    eStep(this.pre, ds.data, ds.n, false, null, { resp });
    return resp;
  }

  /** log p(x_i) per point: N values. */
  scoreSamples(points: Points): Float64Array {
    const ds = this.data(points);
    const logDensity = new Float64Array(ds.n);
    eStep(this.pre, ds.data, ds.n, false, null, { logDensity });
    return logDensity;
  }

  /** Mean log-likelihood per point. */
  score(points: Points): number {
    const ds = this.data(points);
    return eStep(this.pre, ds.data, ds.n, false, null).logLikelihood / ds.n;
  }

  /** Mean expected complete-data log-likelihood per point, Σ_i Σ_k w_ik log(π_k N(x_i | θ_k)) / N. */
  expectedScore(points: Points): number {
    const ds = this.data(points);
    return eStep(this.pre, ds.data, ds.n, false, null).expected / ds.n;
  }

  /** Number of free parameters (as scikit-learn's `_n_parameters`). */
  nParameters(): number {
    const { k, d, covarianceType } = this.params;
    return COVARIANCE[covarianceType].parameters(k, d) + k * d + k - 1;
  }

  /** Bayesian information criterion: −2·N·score + p·ln N (lower is better). */
  bic(points: Points): number {
    const ds = this.data(points);
    return -2 * this.score(ds) * ds.n + this.nParameters() * Math.log(ds.n);
  }

  /** Akaike information criterion: −2·N·score + 2p (lower is better). */
  aic(points: Points): number {
    const ds = this.data(points);
    return -2 * this.score(ds) * ds.n + 2 * this.nParameters();
  }

  /**
   * Draws n points: component z ~ Cat(π), x = μ_z + L_z·ε with ε ~ N(0, I).
   *
   * @returns N×D points and their components
   */
  sample(n: number, seed = 0): { data: Dataset; labels: Int32Array } {
    const { k: K, d: D, covarianceType: type, weights, means, covariances } = this.params;
    const rng = new Rng(seed);
    // the constructor factored every covariance, so the sampler exists
    const noise = COVARIANCE[type].sampler(covariances, K, D)!;
    const out = new Float64Array(n * D);
    const labels = new Int32Array(n);
    const eps = new Float64Array(D);
    for (let i = 0; i < n; i++) {
      const z = rng.categorical(weights, K);
      labels[i] = z;
      for (let a = 0; a < D; a++) eps[a] = rng.normal();
      for (let a = 0; a < D; a++) out[i * D + a] = means[z * D + a];
      noise(z, eps, out, i * D);
    }
    return { data: { n, d: D, data: out }, labels };
  }

  /** The JSON form (see docs/algorithm.md, "Model JSON", for the format). */
  toJSON(): MixtureJSON {
    return paramsToJSON(this.params);
  }

  /**
   * Reads the JSON form, checking every field.
   *
   * @throws ModelFormatError naming the offending field
   */
  static fromJSON(json: unknown): GaussianMixture {
    return new GaussianMixture(paramsFromJSON(json));
  }
}

/** Parameters to their JSON form (nested arrays; shapes documented on {@link MixtureJSON}). */
export function paramsToJSON(p: GmmParams): MixtureJSON {
  const { k: K, d: D, covarianceType: type } = p;
  const covariances = nest(p.covariances, COVARIANCE[type].shape(K, D)) as MixtureJSON['covariances'];
  const means = nest(p.means, [K, D]) as number[][];
  return { format: 'emstream.gmm', version: MODEL_FORMAT_VERSION, covarianceType: type, k: K, d: D, weights: Array.from(p.weights), means, covariances };
}

/**
 * Parameters from their JSON form, validating every field.
 *
 * @throws ModelFormatError naming the offending field and what was expected
 */
export function paramsFromJSON(json: unknown): GmmParams {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ModelFormatError('expected a JSON object', '');
  const o = json as Record<string, unknown>;
  if (o.format !== undefined && o.format !== 'emstream.gmm') throw new ModelFormatError(`format must be "emstream.gmm", got ${JSON.stringify(o.format)}`, 'format');
  if (o.version !== MODEL_FORMAT_VERSION) throw new ModelFormatError(`version must be ${MODEL_FORMAT_VERSION}, got ${JSON.stringify(o.version)}`, 'version');
  const type = o.covarianceType;
  if (typeof type !== 'string' || !(COVARIANCE_TYPES as readonly string[]).includes(type)) {
    throw new ModelFormatError(`covarianceType must be one of ${COVARIANCE_TYPES.join(', ')}, got ${JSON.stringify(type)}`, 'covarianceType');
  }
  const covarianceType = type as CovarianceType;
  const flat = (value: unknown, path: string, shape: number[]): Float64Array => {
    const out = new Float64Array(shape.reduce((a, b) => a * b, 1));
    let pos = 0;
    const walk = (v: unknown, depth: number, at: string): void => {
      if (depth === shape.length) {
        if (typeof v !== 'number' || !Number.isFinite(v)) throw new ModelFormatError(`expected a finite number, got ${JSON.stringify(v)}`, at);
        out[pos++] = v;
        return;
      }
      if (!Array.isArray(v) || v.length !== shape[depth]) {
        throw new ModelFormatError(`expected an array of ${shape[depth]} (shape ${shape.join('×')}), got ${Array.isArray(v) ? `${v.length} entries` : JSON.stringify(v)}`, at);
      }
      v.forEach((x, i) => walk(x, depth + 1, `${at}[${i}]`));
    };
    walk(value, 0, path);
    return out;
  };
  const means0 = o.means;
  if (!Array.isArray(means0) || means0.length === 0 || !Array.isArray(means0[0])) throw new ModelFormatError('means must be a non-empty K×D array', 'means');
  const K = means0.length;
  const D = (means0[0] as unknown[]).length;
  if (D === 0) throw new ModelFormatError('means must have at least one column', 'means[0]');
  if (o.k !== undefined && o.k !== K) throw new ModelFormatError(`k = ${JSON.stringify(o.k)} but means has ${K} rows`, 'k');
  if (o.d !== undefined && o.d !== D) throw new ModelFormatError(`d = ${JSON.stringify(o.d)} but means has ${D} columns`, 'd');
  const weights = flat(o.weights, 'weights', [K]);
  const means = flat(o.means, 'means', [K, D]);
  const kind = COVARIANCE[covarianceType];
  const covariances = flat(o.covariances, 'covariances', kind.shape(K, D));
  let sum = 0;
  weights.forEach((w, i) => {
    if (w < 0) throw new ModelFormatError(`weight ${w} is negative`, `weights[${i}]`);
    sum += w;
  });
  if (Math.abs(sum - 1) > 1e-6) throw new ModelFormatError(`weights must sum to 1, they sum to ${sum}`, 'weights');
  if (covariances.length !== kind.size(K, D)) throw new ModelFormatError('covariances have the wrong size', 'covariances');
  const params: GmmParams = { k: K, d: D, covarianceType, weights, means, covariances };
  const where = (k: number): string => kind.describe(k).path;
  const what = (k: number): string => kind.describe(k).name;
  for (let k = 0; k < kind.matrices(K); k++) {
    const asym = asymmetry(covariances, D, k * D * D);
    if (asym > SYMMETRY_TOLERANCE) throw new ModelFormatError(`${what(k)} is not symmetric (relative asymmetry ${asym.toExponential(2)})`, where(k));
  }
  const res = precompute(params);
  if (!res.ok) throw new ModelFormatError(`${what(res.component)} is not positive definite`, where(res.component));
  return params;
}
