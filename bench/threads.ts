/**
 * Where E-step threads pay: the time of one E-step with statistics on one thread (`eStep`) and on the
 * shared pool's threads (`EStepPool.eStep`), for windows of growing size. Medians of many repetitions,
 * interleaved, on the same data and parameters.
 */
import { cpus } from 'node:os';
import { runEM } from '../src/gmm/em.js';
import { eStep, precompute } from '../src/gmm/estep.js';
import { dataMean, initialise } from '../src/gmm/init.js';
import { EStepPool, eStepWork } from '../src/gmm/parallel/pool.js';
import { Rng } from '../src/gmm/rng.js';
import { StreamingGmm, windowThreads } from '../src/gmm/streaming.js';
import { SufficientStats } from '../src/gmm/stats.js';
import type { CovarianceType } from '../src/gmm/types.js';
import { median } from './median.js';

export interface CrossoverRow {
  d: number;
  k: number;
  cov: CovarianceType;
  n: number;
  work: number;
  oneMs: number;
  manyMs: number;
}


/** E-step ms on one thread and on `threads` threads per window size. */
export function crossover(threads = cpus().length): CrossoverRow[] {
  const pool = EStepPool.create(threads);
  const rows: CrossoverRow[] = [];
  try {
    for (const [d, k, cov] of [
      [384, 16, 'diag'],
      [8, 8, 'full'],
      [64, 8, 'full'],
    ] as [number, number, CovarianceType][]) {
      for (const n of [128, 256, 512, 1000, 2000, 4000, 8000]) {
        const rng = new Rng(5);
        const centres = Float64Array.from({ length: k * d }, () => 5 * rng.normal());
        const data = new Float64Array(n * d);
        for (let i = 0; i < n; i++) {
          const c = rng.int(k);
          for (let a = 0; a < d; a++) data[i * d + a] = centres[c * d + a] + rng.normal();
        }
        const ds = { n, d, data };
        const shift = dataMean(ds);
        const params = initialise(ds, 'kmeans++', { k, covarianceType: cov, regCovar: 1e-6, rng: new Rng(1), shift });
        const pre = precompute(params);
        if (!pre.ok) throw new Error('benchmark parameters must factor');
        const batch = pool.share(data, n, d);
        const stats = new SufficientStats(k, d, cov, shift);
        const reps = Math.max(20, Math.min(400, Math.round(4e8 / eStepWork(n, k, d, cov))));
        const one: number[] = [];
        const many: number[] = [];
        for (let r = 0; r < reps + 5; r++) {
          stats.reset();
          let t = process.hrtime.bigint();
          eStep(pre.value, data, n, false, stats);
          const a = Number(process.hrtime.bigint() - t) / 1e6;
          stats.reset();
          t = process.hrtime.bigint();
          pool.eStep(pre.value, batch, false, stats);
          const b = Number(process.hrtime.bigint() - t) / 1e6;
          if (r >= 5) {
            one.push(a);
            many.push(b);
          }
        }
        rows.push({ d, k, cov, n, work: eStepWork(n, k, d, cov), oneMs: median(one), manyMs: median(many) });
      }
    }
  } finally {
    pool.close();
  }
  return rows;
}

/**
 * Window fits as the streaming layer runs them (warm start from the previous window's parameters, the
 * past windows' statistics as a prior with forgetting), on `threads` E-step threads: the EM part of a
 * window's latency, without component matching and drift scoring.
 */
export function windowEm(opts: { d: number; k: number; size: number; windows: number; cov: CovarianceType; threads: number }): { p50Ms: number; p99Ms: number; pointsPerSecond: number; meanIterations: number } {
  const { d, k, size, windows, cov } = opts;
  const rng = new Rng(9);
  const centres = Float64Array.from({ length: k * d }, () => 5 * rng.normal());
  const window = (): Float64Array => {
    const data = new Float64Array(size * d);
    for (let i = 0; i < size; i++) {
      const c = rng.int(k);
      for (let a = 0; a < d; a++) data[i * d + a] = centres[c * d + a] + rng.normal();
    }
    return data;
  };
  const pool = opts.threads > 1 ? EStepPool.create(opts.threads) : null;
  try {
    const first = { n: size, d, data: window() };
    const shift = dataMean(first);
    let params = initialise(first, 'kmeans++', { k, covarianceType: cov, regCovar: 1e-6, rng: new Rng(2), shift });
    let prior: SufficientStats | null = null;
    const times: number[] = [];
    let iterations = 0;
    let total = 0;
    for (let w = 0; w < windows + 5; w++) {
      const ds = { n: size, d, data: window() };
      const t = process.hrtime.bigint();
      const run = runEM(ds, params, { maxIterations: 100, tol: 1e-3, regCovar: 1e-6, mode: 'soft', prior, shift, pool });
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      params = run.params;
      const next = run.batchStats.clone();
      if (prior !== null) next.merge(prior, 0.9);
      prior = next;
      if (w >= 5) {
        times.push(ms);
        total += ms;
        iterations += run.iterations;
      }
    }
    times.sort((a, b) => a - b);
    return { p50Ms: times[Math.floor(times.length / 2)], p99Ms: times[Math.min(times.length - 1, Math.floor(0.99 * times.length))], pointsPerSecond: (windows * size) / (total / 1000), meanIterations: iterations / windows };
  } finally {
    pool?.close();
  }
}

export interface WindowThreadsRow {
  d: number;
  k: number;
  cov: CovarianceType;
  n: number;
  work: number;
  /** Threads the default uses for this window (`windowThreads`, default thread count). */
  chosen: number;
  oneMs: number;
  manyMs: number;
}

/**
 * Whole streaming windows (`StreamingGmm.update`, warm windows, defaults) with `threads: 1` and with
 * `threads` threads, the two fed the same windows in turn: where threads pay for a window. Medians.
 */
export function windowCrossover(threads = cpus().length, sizes = [128, 256, 512, 1000, 2000, 4000, 8000]): WindowThreadsRow[] {
  const rows: WindowThreadsRow[] = [];
  for (const [d, k, cov] of [
    [384, 16, 'diag'],
    [64, 8, 'full'],
    [8, 8, 'full'],
  ] as [number, number, CovarianceType][]) {
    for (const n of sizes) {
      const rng = new Rng(7);
      const centres = Float64Array.from({ length: k * d }, () => 5 * rng.normal());
      const window = (): Float64Array => {
        const data = new Float64Array(n * d);
        for (let i = 0; i < n; i++) {
          const c = rng.int(k);
          for (let a = 0; a < d; a++) data[i * d + a] = centres[c * d + a] + rng.normal();
        }
        return data;
      };
      const options = { k, covarianceType: cov, halfLife: 10, restart: 'never' as const, seed: 1 };
      const one = new StreamingGmm({ ...options, threads: 1 });
      const many = new StreamingGmm({ ...options, threads });
      const windows = Math.max(12, Math.min(80, Math.round(2e8 / eStepWork(n, k, d, cov))));
      const a: number[] = [];
      const b: number[] = [];
      for (let w = 0; w < windows + 3; w++) {
        const data = { n, d, data: window() };
        let t = process.hrtime.bigint();
        one.update(data);
        const x = Number(process.hrtime.bigint() - t) / 1e6;
        t = process.hrtime.bigint();
        many.update(data);
        const y = Number(process.hrtime.bigint() - t) / 1e6;
        if (w >= 3) {
          a.push(x);
          b.push(y);
        }
      }
      rows.push({ d, k, cov, n, work: eStepWork(n, k, d, cov), chosen: windowThreads(undefined, n, k, d, cov), oneMs: median(a), manyMs: median(b) });
    }
  }
  return rows;
}

/**
 * What two threads of this machine give on plain loops (no emstream code): the same multiply-add loop on one thread,
 * then on two at once (each its own copy of the work), over an array in cache (32 KB) and one in memory (32 MB).
 * The ratio 2 × one / two is the scaling: about 2 where the cores are independent, less where both wait on memory.
 */
export async function coreScaling(): Promise<{ inCache: number; inMemory: number }> {
  const { Worker } = await import('node:worker_threads');
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const a = new Float64Array(workerData.len).fill(1.0001);
    let s = 0;
    for (let r = 0; r < workerData.reps; r++) for (let i = 0; i < a.length; i++) s += a[i] * a[(i + 7) % a.length];
    parentPort.postMessage(s);`;
  const run = async (workers: number, len: number, reps: number): Promise<number> => {
    const t = performance.now();
    await Promise.all(
      Array.from({ length: workers }, () => new Promise((resolve, reject) => new Worker(code, { eval: true, workerData: { len, reps } }).once('message', resolve).once('error', reject))),
    );
    return performance.now() - t;
  };
  const scaling = async (len: number, reps: number): Promise<number> => {
    const ratios: number[] = [];
    for (let r = 0; r < 3; r++) ratios.push((2 * (await run(1, len, reps))) / (await run(2, len, reps)));
    return median(ratios);
  };
  return { inCache: await scaling(4096, 20_000), inMemory: await scaling(4_000_000, 20) };
}
