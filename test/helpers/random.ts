import { Rng } from '../../src/gmm/rng.js';
import { covarianceSize, type CovarianceType, type GmmParams } from '../../src/gmm/types.js';

/** A seeded uniform source in [0, 1) (the library's xoroshiro128+). */
export function seededUniform(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.uniform();
}

/** A random SPD matrix A·Aᵀ + ε·I, D×D row-major. */
export function randomSpd(rng: () => number, d: number, eps = 0.2): Float64Array {
  const a = Array.from({ length: d * d }, () => 2 * rng() - 1);
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += a[i * d + k] * a[j * d + k];
      out[i * d + j] = s + (i === j ? eps : 0);
    }
  }
  return out;
}

/** A random mixture whose components are separated along the first axis (so matching them is unambiguous). */
export function randomMixture(rng: () => number, k: number, d: number, type: CovarianceType): GmmParams {
  const w = Array.from({ length: k }, () => 0.1 + rng());
  const sum = w.reduce((s, x) => s + x, 0);
  const covariances = new Float64Array(covarianceSize(type, k, d));
  if (type === 'full') for (let c = 0; c < k; c++) covariances.set(randomSpd(rng, d), c * d * d);
  if (type === 'tied') covariances.set(randomSpd(rng, d));
  if (type === 'diag' || type === 'spherical') for (let i = 0; i < covariances.length; i++) covariances[i] = 0.2 + rng();
  const means = new Float64Array(k * d);
  for (let c = 0; c < k; c++) for (let i = 0; i < d; i++) means[c * d + i] = (i === 0 ? 6 * c : 0) + 2 * rng() - 1;
  return { k, d, covarianceType: type, weights: Float64Array.from(w, (x) => x / sum), means, covariances };
}
