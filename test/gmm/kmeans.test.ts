import { kmeans } from 'ml-kmeans';
import { describe, expect, it } from 'vitest';

import { fitGmm } from '../../src/gmm/em.js';
import { kmeansPlusPlus, lloyd, nearest } from '../../src/gmm/init.js';
import { GaussianMixture } from '../../src/gmm/model.js';
import { Rng } from '../../src/gmm/rng.js';
import type { Dataset } from '../../src/gmm/types.js';

/**
 * Hard EM with spherical, fixed unit covariances and fixed uniform weights is Lloyd's k-means:
 * log(π_k N(x | μ_k, I)) = const − ½‖x − μ_k‖², so the hard E-step assigns every point to its
 * nearest mean, and the M-step puts each mean at the centroid of its points. The independent
 * reference is ml-kmeans (v7) started from the same centres.
 */

interface Case {
  readonly name: string;
  readonly n: number;
  readonly d: number;
  readonly k: number;
  readonly blobs: number;
  readonly seed: number;
}

const CASES: Case[] = [
  { name: '2-D, 3 blobs, K=3', n: 300, d: 2, k: 3, blobs: 3, seed: 12 },
  { name: '3-D, 4 blobs, K=5 (one blob split)', n: 400, d: 3, k: 5, blobs: 4, seed: 2 },
  { name: '5-D, 2 blobs, K=4 (overlapping)', n: 250, d: 5, k: 4, blobs: 2, seed: 3 },
  { name: '1-D, 3 blobs, K=3', n: 200, d: 1, k: 3, blobs: 3, seed: 4 },
  { name: '4-D, 5 blobs, K=5, centred near 100', n: 500, d: 4, k: 5, blobs: 5, seed: 5 },
];

function makeData(c: Case): Dataset {
  const rng = new Rng(c.seed);
  const offset = c.name.includes('100') ? 100 : 0;
  const centres = Float64Array.from({ length: c.blobs * c.d }, () => offset + 3 * rng.normal());
  const data = new Float64Array(c.n * c.d);
  for (let i = 0; i < c.n; i++) {
    const z = rng.int(c.blobs);
    for (let a = 0; a < c.d; a++) data[i * c.d + a] = centres[z * c.d + a] + rng.normal();
  }
  return { n: c.n, d: c.d, data };
}

/** K distinct data rows (chosen with a seeded generator) as starting centres. */
function startingMeans(data: Dataset, k: number, seed: number): number[][] {
  const rng = new Rng(seed * 7919);
  const rows = new Set<number>();
  while (rows.size < k) rows.add(rng.int(data.n));
  return [...rows].map((r) => Array.from(data.data.subarray(r * data.d, r * data.d + data.d)));
}

describe('hard EM with fixed unit spherical covariances and uniform weights = k-means (ml-kmeans)', () => {
  it.each(CASES)('$name: same centroids (1e-10) and the same partition', (c) => {
    const data = makeData(c);
    const start = startingMeans(data, c.k, c.seed);
    const rows = Array.from({ length: data.n }, (_, i) => Array.from(data.data.subarray(i * data.d, i * data.d + data.d)));

    const ref = kmeans(rows, c.k, {
      initialization: start.map((r) => r.slice()),
      tolerance: 0, // stop only when no centre moves at all
      maxIterations: 1000,
    });
    expect(ref.converged).toBe(true);
    expect(ref.iterations).toBeGreaterThan(2); // the centres really move

    const fit = fitGmm(data, {
      k: c.k,
      covarianceType: 'spherical',
      mode: 'hard',
      init: { weights: new Array(c.k).fill(1 / c.k), means: start, covariances: new Array(c.k).fill(1) },
      fixWeights: true,
      fixCovariances: true,
      tol: 1e-13,
      maxIterations: 1000,
    });
    // ml-kmeans keeps an empty cluster's centre where it was; we re-seed it. The cases are chosen
    // so that no cluster empties; check that precondition.
    expect(fit.reseeded).toBe(0);
    expect(fit.converged).toBe(true);
    expect(Array.from(fit.params.weights)).toEqual(new Array(c.k).fill(1 / c.k));
    expect(Array.from(fit.params.covariances)).toEqual(new Array(c.k).fill(1));

    // Same component order: both start from the same centres and keep their indices.
    for (let j = 0; j < c.k; j++) {
      for (let a = 0; a < c.d; a++) {
        const ours = fit.params.means[j * c.d + a];
        const theirs = ref.centroids[j][a];
        expect(Math.abs(ours - theirs)).toBeLessThanOrEqual(1e-10 * Math.max(1, Math.abs(theirs)));
      }
    }
    const labels = new GaussianMixture(fit.params).predict(data);
    expect(Array.from(labels)).toEqual(ref.clusters);
    // every cluster is used (the partition is a real K-partition)
    expect(new Set(ref.clusters).size).toBe(c.k);
  });
});

/** Lloyd's iterations measuring every point against every centre (the plain algorithm `lloyd`'s bounds must reproduce). */
function plainLloyd(data: Dataset, centres: Float64Array, k: number, maxIterations: number): number {
  const { n, d, data: x } = data;
  const labels = new Int32Array(n).fill(-1);
  let it = 0;
  for (; it < maxIterations; it++) {
    let changed = 0;
    for (let i = 0; i < n; i++) {
      const z = nearest(x, i * d, centres, k, d);
      if (z !== labels[i]) {
        labels[i] = z;
        changed++;
      }
    }
    if (changed === 0) break;
    const sums = new Float64Array(k * d);
    const counts = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      counts[labels[i]]++;
      for (let a = 0; a < d; a++) sums[labels[i] * d + a] += x[i * d + a];
    }
    for (let c = 0; c < k; c++) if (counts[c] > 0) for (let a = 0; a < d; a++) centres[c * d + a] = sums[c * d + a] / counts[c];
  }
  return it;
}

describe("lloyd (Lloyd's iterations with Hamerly's bounds)", () => {
  it.each(CASES)('$name: the centroids of ml-kmeans from the same centres (1e-10)', (c) => {
    const data = makeData(c);
    const start = startingMeans(data, c.k, c.seed);
    const rows = Array.from({ length: data.n }, (_, i) => Array.from(data.data.subarray(i * data.d, i * data.d + data.d)));
    const ref = kmeans(rows, c.k, { initialization: start.map((r) => r.slice()), tolerance: 0, maxIterations: 1000 });
    const centres = Float64Array.from(start.flat());
    const iterations = lloyd(data, centres, c.k, 1000);
    expect(iterations).toBeLessThan(1000);
    for (let j = 0; j < c.k; j++) for (let a = 0; a < c.d; a++) expect(Math.abs(centres[j * c.d + a] - ref.centroids[j][a])).toBeLessThanOrEqual(1e-10 * Math.max(1, Math.abs(ref.centroids[j][a])));
  });

  // Heavily overlapping clusters in up to 48-D (where the bounds are loose and points change centre for many
  // iterations), ties from duplicated points, and caps on the iterations: the bounds skip only proven points.
  const hard = [
    { d: 48, k: 8, spread: 0.3, n: 600, cap: 100 },
    { d: 8, k: 8, spread: 0.5, n: 800, cap: 100 },
    { d: 3, k: 10, spread: 0.5, n: 700, cap: 7 },
    { d: 2, k: 5, spread: 0, n: 300, cap: 100 },
    { d: 1, k: 4, spread: 1, n: 200, cap: 100 },
  ];
  it.each(hard)('$d-D, K = $k, spread $spread, at most $cap iterations: exactly the plain algorithm (centres bit for bit, iterations)', ({ d, k, spread, n, cap }) => {
    const rng = new Rng(d * 31 + k);
    const mu = Float64Array.from({ length: k * d }, () => spread * rng.normal());
    const x = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      // every tenth point repeats the one before (exact ties between centres' distances are then common)
      if (i % 10 === 9) x.copyWithin(i * d, (i - 1) * d, i * d);
      else for (let a = 0; a < d; a++) x[i * d + a] = mu[(i % k) * d + a] + Math.round(rng.normal() * 4) / 4;
    }
    const data = { n, d, data: x };
    for (let seed = 1; seed <= 4; seed++) {
      const ours = kmeansPlusPlus(data, k, new Rng(seed));
      const plain = ours.slice();
      const iterations = lloyd(data, ours, k, cap);
      expect(iterations).toBe(plainLloyd(data, plain, k, cap));
      expect(Array.from(ours)).toEqual(Array.from(plain));
      expect(iterations).toBeGreaterThan(1);
    }
  });
});
