import { describe, expect, it } from 'vitest';

import { DataError } from '../../src/gmm/errors.js';
import { adjustedRandIndex } from '../../src/index.js';

describe('adjustedRandIndex', () => {
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

  it('equals scikit-learn 1.9.1 adjusted_rand_score on 200 points (4 and 5 labels)', () => {
    // python: x = [(i*7)%4 ...]; y = [((i*i+3*i)//3)%5 if i%3 else (i*7)%4 ...]; adjusted_rand_score(x, y)
    const x = Array.from({ length: 200 }, (_, i) => (i * 7) % 4);
    const y = Array.from({ length: 200 }, (_, i) => (i % 3 !== 0 ? Math.floor((i * i + 3 * i) / 3) % 5 : (i * 7) % 4));
    expect(adjustedRandIndex(x, y)).toBeCloseTo(0.10343213665056347, 14);
  });

  it('is 1 where scikit-learn gives 1 for degenerate labelings (one cluster each, singletons, < 2 points)', () => {
    expect(adjustedRandIndex([0, 0, 0, 0, 0], [1, 1, 1, 1, 1])).toBe(1);
    expect(adjustedRandIndex([0, 1, 2], [5, 6, 7])).toBe(1);
    expect(adjustedRandIndex([0], [3])).toBe(1);
    expect(adjustedRandIndex([], [])).toBe(1);
  });

  it('rejects labelings of different lengths with a DataError', () => {
    expect(() => adjustedRandIndex([0, 1], [0])).toThrow(DataError);
    expect(() => adjustedRandIndex([0, 1], [0])).toThrow('labelings of different lengths (2 and 1)');
  });
});
