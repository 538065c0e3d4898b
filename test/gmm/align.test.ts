import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { matchComponents, permuteComponents } from '../../src/gmm/align.js';
import { COMPONENT_METRICS, minCostAssignment } from '../../src/gmm/distance.js';
import { COVARIANCE_TYPES, type GmmParams } from '../../src/gmm/types.js';
import { seededUniform, randomMixture } from '../helpers/random.js';

function inversePermutation(p: Int32Array): Int32Array {
  const inv = new Int32Array(p.length);
  p.forEach((v, i) => (inv[v] = i));
  return inv;
}

function expectSameParams(actual: GmmParams, expected: GmmParams): void {
  expect(actual.k).toBe(expected.k);
  expect(actual.d).toBe(expected.d);
  expect(actual.covarianceType).toBe(expected.covarianceType);
  expect(Array.from(actual.weights)).toEqual(Array.from(expected.weights));
  expect(Array.from(actual.means)).toEqual(Array.from(expected.means));
  expect(Array.from(actual.covariances)).toEqual(Array.from(expected.covariances));
}

/** All injective maps from {0..rows−1} into {0..cols−1} (rows ≤ cols), by brute force. */
function* injections(rows: number, cols: number, prefix: number[] = []): Generator<number[]> {
  if (prefix.length === rows) {
    yield prefix.slice();
    return;
  }
  for (let j = 0; j < cols; j++) {
    if (prefix.includes(j)) continue;
    prefix.push(j);
    yield* injections(rows, cols, prefix);
    prefix.pop();
  }
}

function bruteForceMinCost(cost: Float64Array, rows: number, cols: number): number {
  let best = Infinity;
  if (rows <= cols) {
    for (const m of injections(rows, cols)) best = Math.min(best, m.reduce((s, j, i) => s + cost[i * cols + j], 0));
  } else {
    for (const m of injections(cols, rows)) best = Math.min(best, m.reduce((s, i, j) => s + cost[i * cols + j], 0));
  }
  return best;
}

const permutationArb = (k: number): fc.Arbitrary<Int32Array> =>
  fc.shuffledSubarray(Array.from({ length: k }, (_, i) => i), { minLength: k, maxLength: k }).map((xs) => Int32Array.from(xs));

// ---- minCostAssignment ----------------------------------------------------------------------

describe('minCostAssignment (linear-sum-assignment in minimisation mode)', () => {
  it('minimises, not maximises (the library defaults to maximising)', () => {
    // the diagonal is cheap; the maximum assignment would be the anti-diagonal
    const cost = Float64Array.from([1, 10, 10, 1]);
    expect(Array.from(minCostAssignment(cost, 2, 2))).toEqual([0, 1]);
    const cost3 = Float64Array.from([9, 1, 9, 9, 9, 1, 1, 9, 9]);
    expect(Array.from(minCostAssignment(cost3, 3, 3))).toEqual([1, 2, 0]);
  });

  it('finds an optimal matching, checked by brute force on square and rectangular matrices (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { minLength: 25, maxLength: 25 }),
        (rows, cols, values) => {
          const cost = Float64Array.from(values.slice(0, rows * cols));
          const assignment = minCostAssignment(cost, rows, cols);
          expect(assignment.length).toBe(rows);
          const used = assignment.filter((j) => j >= 0);
          expect(used.length).toBe(Math.min(rows, cols));
          expect(new Set(used).size).toBe(used.length);
          let total = 0;
          assignment.forEach((j, i) => {
            if (j >= 0) total += cost[i * cols + j];
          });
          expect(total).toBeCloseTo(bruteForceMinCost(cost, rows, cols), 8);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('handles ties and +Infinity costs, rejects NaN', () => {
    expect(Array.from(minCostAssignment(new Float64Array(9), 3, 3)).sort()).toEqual([0, 1, 2]);
    const withInf = Float64Array.from([Infinity, 1, 2, Infinity]);
    expect(Array.from(minCostAssignment(withInf, 2, 2))).toEqual([1, 0]);
    expect(Array.from(minCostAssignment(Float64Array.from([Infinity, Infinity, Infinity, Infinity]), 2, 2)).sort()).toEqual([0, 1]);
    expect(() => minCostAssignment(Float64Array.from([0, NaN, 0, 0]), 2, 2)).toThrow(/NaN/);
  });
});

// ---- matchComponents / permuteComponents ----------------------------------------------------

describe('matchComponents', () => {
  it('recovers the inverse of a random permutation, for every covariance type and metric (property)', () => {
    const arb = fc.integer({ min: 1, max: 6 }).chain((k) =>
      fc.record({
        k: fc.constant(k),
        d: fc.integer({ min: 1, max: 4 }),
        type: fc.constantFrom(...COVARIANCE_TYPES),
        metric: fc.constantFrom(...COMPONENT_METRICS),
        seed: fc.integer(),
        perm: permutationArb(k),
      }),
    );
    fc.assert(
      fc.property(arb, ({ k, d, type, metric, seed, perm }) => {
        const previous = randomMixture(seededUniform(seed), k, d, type);
        const next = permuteComponents(previous, perm); // next's j is previous's perm[j]
        const match = matchComponents(previous, next, metric);
        expect(Array.from(match)).toEqual(Array.from(inversePermutation(perm)));
        // relabelling next with the match gives previous back, exactly
        const aligned = permuteComponents(next, match);
        expectSameParams(aligned, previous);
        // idempotence: matching an aligned model gives the identity
        expect(Array.from(matchComponents(previous, aligned, metric))).toEqual(Array.from({ length: k }, (_, i) => i));
      }),
      { numRuns: 300 },
    );
  });

  it('matches perturbed components to their nearest counterparts', () => {
    const rng = seededUniform(99);
    for (const type of COVARIANCE_TYPES) {
      const previous = randomMixture(rng, 4, 2, type);
      const perm = Int32Array.from([3, 1, 0, 2]);
      const moved = permuteComponents(previous, perm);
      const next: GmmParams = { ...moved, means: moved.means.map((x) => x + 0.3 * (rng() - 0.5)) };
      expect(Array.from(matchComponents(previous, next))).toEqual(Array.from(inversePermutation(perm)));
    }
  });

  it('requires the same number of components', () => {
    const rng = seededUniform(1);
    expect(() => matchComponents(randomMixture(rng, 2, 2, 'full'), randomMixture(rng, 3, 2, 'full'))).toThrow(
      /same number of components/,
    );
  });
});

describe('permuteComponents', () => {
  it('reorders weights, means and covariances; component j is old component perm[j]', () => {
    const params: GmmParams = {
      k: 3,
      d: 2,
      covarianceType: 'diag',
      weights: Float64Array.from([0.2, 0.3, 0.5]),
      means: Float64Array.from([0, 1, 10, 11, 20, 21]),
      covariances: Float64Array.from([1, 2, 3, 4, 5, 6]),
    };
    const out = permuteComponents(params, Int32Array.from([2, 0, 1]));
    expect(Array.from(out.weights)).toEqual([0.5, 0.2, 0.3]);
    expect(Array.from(out.means)).toEqual([20, 21, 0, 1, 10, 11]);
    expect(Array.from(out.covariances)).toEqual([5, 6, 1, 2, 3, 4]);
    expect(Array.from(params.weights)).toEqual([0.2, 0.3, 0.5]); // input untouched
  });

  it('reorders K×D×D full and K spherical covariances, keeps a tied one as is', () => {
    const rng = seededUniform(4);
    const perm = Int32Array.from([1, 2, 0]);
    const full = randomMixture(rng, 3, 2, 'full');
    const fullOut = permuteComponents(full, perm);
    expect(Array.from(fullOut.covariances.subarray(0, 4))).toEqual(Array.from(full.covariances.subarray(4, 8)));
    expect(Array.from(fullOut.covariances.subarray(8, 12))).toEqual(Array.from(full.covariances.subarray(0, 4)));
    const spherical = randomMixture(rng, 3, 2, 'spherical');
    expect(Array.from(permuteComponents(spherical, perm).covariances)).toEqual([1, 2, 0].map((i) => spherical.covariances[i]));
    const tied = randomMixture(rng, 3, 2, 'tied');
    const tiedOut = permuteComponents(tied, perm);
    expect(Array.from(tiedOut.covariances)).toEqual(Array.from(tied.covariances));
    expect(tiedOut.covariances).not.toBe(tied.covariances);
  });

  it('composes: applying p then the inverse of p is the identity (property)', () => {
    const arb = fc.integer({ min: 1, max: 6 }).chain((k) =>
      fc.record({ k: fc.constant(k), type: fc.constantFrom(...COVARIANCE_TYPES), seed: fc.integer(), perm: permutationArb(k) }),
    );
    fc.assert(
      fc.property(arb, ({ k, type, seed, perm }) => {
        const params = randomMixture(seededUniform(seed), k, 3, type);
        expectSameParams(permuteComponents(permuteComponents(params, perm), inversePermutation(perm)), params);
      }),
    );
  });

  it('rejects anything that is not a permutation of 0..K−1', () => {
    const params = randomMixture(seededUniform(8), 3, 1, 'spherical');
    expect(() => permuteComponents(params, Int32Array.from([0, 1]))).toThrow(/expected 3/);
    expect(() => permuteComponents(params, Int32Array.from([0, 1, 1]))).toThrow(/not a permutation/);
    expect(() => permuteComponents(params, Int32Array.from([0, 1, 3]))).toThrow(/not a permutation/);
    expect(() => permuteComponents(params, Int32Array.from([-1, 0, 1]))).toThrow(/not a permutation/);
  });
});
