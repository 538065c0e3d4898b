/**
 * Streaming windows on worker threads (`StreamingOptions.threads`): a window's EM runs split their E-steps
 * over the shared pool. The stream's results equal the one-thread results to rounding (same labels, same
 * decisions), and are bit-identical run after run for the same thread count.
 */
import { describe, expect, it } from 'vitest';
import { EmstreamOptionsError } from '../../src/errors.js';
import { MIN_PARALLEL_WORK, eStepWork } from '../../src/gmm/parallel/pool.js';
import { Rng } from '../../src/gmm/rng.js';
import { MIN_WINDOW_PARALLEL_WORK, StreamingGmm, windowThreads, type StreamingOptions, type WindowFit } from '../../src/gmm/streaming.js';
import type { CovarianceType } from '../../src/gmm/types.js';

/** A seeded stream of windows from K separated clusters whose first coordinate drifts. */
function stream(windows: number, n: number, d: number, k: number, seed: number): Float64Array[] {
  const rng = new Rng(seed);
  const centres = Float64Array.from({ length: k * d }, () => 4 * rng.normal());
  return Array.from({ length: windows }, (_, t) => {
    const x = new Float64Array(n * d);
    for (let i = 0; i < n; i++) {
      const c = rng.int(k);
      for (let a = 0; a < d; a++) x[i * d + a] = centres[c * d + a] + (0.5 + 0.1 * c) * rng.normal() + (a === 0 ? 0.05 * t : 0);
    }
    return x;
  });
}

function run(windows: Float64Array[], n: number, d: number, options: StreamingOptions): WindowFit[] {
  const gmm = new StreamingGmm(options);
  return windows.map((w) => gmm.update({ n, d, data: w }));
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string, rel = 1e-9): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    const tol = rel * Math.max(1, Math.abs(b[i]));
    if (!(Math.abs(a[i] - b[i]) <= tol)) expect.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

function identical(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) expect.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

const cases: { type: CovarianceType; d: number; k: number; n: number }[] = [
  { type: 'diag', d: 96, k: 6, n: 1100 },
  { type: 'full', d: 24, k: 4, n: 1100 },
  { type: 'spherical', d: 128, k: 6, n: 1100 },
  { type: 'tied', d: 24, k: 4, n: 1100 },
];

describe('streaming windows on threads', () => {
  for (const { type, d, k, n } of cases) {
    it(`${type}, ${n} × ${d}, K = ${k}: 2 and 3 threads equal 1 to rounding; the same thread count is bit-identical`, () => {
      // windows large enough for the pool (one E-step ≥ 10⁶ multiply-adds, more than one block of 256 points)
      expect(windowThreads(3, n, k, d, type)).toBe(3);
      const windows = stream(7, n, d, k, 3);
      const base: StreamingOptions = { k, covarianceType: type, halfLife: 8, seed: 5, restart: { every: 3 } };
      const one = run(windows, n, d, { ...base, threads: 1 });
      const two = run(windows, n, d, { ...base, threads: 2 });
      const twoAgain = run(windows, n, d, { ...base, threads: 2 });
      const three = run(windows, n, d, { ...base, threads: 3 });
      for (let t = 0; t < windows.length; t++) {
        for (const other of [two, three]) {
          identical(other[t].labels, one[t].labels, `window ${t} labels`);
          expect(other[t].iterations).toBe(one[t].iterations);
          expect(other[t].restarted).toBe(one[t].restarted);
          expect(other[t].warmStarted).toBe(one[t].warmStarted);
          expect(other[t].reseeded).toEqual(one[t].reseeded);
          close(other[t].params.means, one[t].params.means, `window ${t} means`);
          close(other[t].params.covariances, one[t].params.covariances, `window ${t} covariances`);
          close(other[t].params.weights, one[t].params.weights, `window ${t} weights`);
          close(other[t].logDensities, one[t].logDensities, `window ${t} log-densities`);
          close([other[t].logLikelihood, other[t].modelDistance], [one[t].logLikelihood, one[t].modelDistance], `window ${t} scores`);
        }
        identical(twoAgain[t].params.means, two[t].params.means, `window ${t} means`);
        identical(twoAgain[t].params.covariances, two[t].params.covariances, `window ${t} covariances`);
        identical(twoAgain[t].logDensities, two[t].logDensities, `window ${t} log-densities`);
        identical(twoAgain[t].probabilities, two[t].probabilities, `window ${t} probabilities`);
        expect(Object.is(twoAgain[t].logLikelihood, two[t].logLikelihood)).toBe(true);
      }
      // the threads did run: their statistics were summed in another order, so some value differs in its last bits
      expect(one.some((f, t) => f.params.means.some((m, i) => !Object.is(m, two[t].params.means[i])))).toBe(true);
      // the windows are the caller's: never moved into shared memory in place
      expect(windows.every((w) => !(w.buffer instanceof SharedArrayBuffer))).toBe(true);
    });
  }

  it('the default uses threads only from the measured crossover on; given threads, as a batch fit', () => {
    // 1000 × 8 full, K = 8: 3.2·10⁵ multiply-adds per E-step, one thread whatever is asked
    expect(windowThreads(undefined, 1000, 8, 8, 'full')).toBe(1);
    expect(windowThreads(4, 1000, 8, 8, 'full')).toBe(1);
    // 1000 × 64 diag, K = 8: 1.0·10⁶, above a batch fit's crossover, below a window's
    expect(eStepWork(1000, 8, 64, 'diag')).toBeGreaterThanOrEqual(MIN_PARALLEL_WORK);
    expect(eStepWork(1000, 8, 64, 'diag')).toBeLessThan(MIN_WINDOW_PARALLEL_WORK);
    expect(windowThreads(undefined, 1000, 8, 64, 'diag')).toBe(1);
    expect(windowThreads(2, 1000, 8, 64, 'diag')).toBe(2);
    // 4000 × 384 diag, K = 16: 4.9·10⁷, threads by default (one per block of 256 points at most)
    expect(eStepWork(4000, 16, 384, 'diag')).toBeGreaterThanOrEqual(MIN_WINDOW_PARALLEL_WORK);
    expect(windowThreads(undefined, 4000, 16, 384, 'diag')).toBeGreaterThanOrEqual(1);
    expect(windowThreads(64, 4000, 16, 384, 'diag')).toBe(16);
    expect(windowThreads(1, 4000, 16, 384, 'diag')).toBe(1);
  });

  it('rejects a thread count that is not a positive integer', () => {
    expect(() => new StreamingGmm({ k: 2, threads: 0 })).toThrow(EmstreamOptionsError);
    expect(() => new StreamingGmm({ k: 2, threads: 1.5 })).toThrow(/threads/);
  });
});
