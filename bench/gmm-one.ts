/**
 * One EM benchmark configuration in its own process (so peak memory is its own):
 *   node --import tsx bench/gmm-one.ts N D K COV ITERS SEED DATAFILE [THREADS]
 * Writes the data set (raw little-endian float64, N×D) to DATAFILE for the scikit-learn side (unless
 * it exists) and prints one JSON line. THREADS (default 1): E-step threads (`sharedPool`).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { sharedPool } from '../src/gmm/parallel/pool.js';
import { dataMean, initialise } from '../src/gmm/init.js';
import { runEM } from '../src/gmm/em.js';
import { Rng } from '../src/gmm/rng.js';
import type { CovarianceType } from '../src/gmm/types.js';

const [n, d, k] = process.argv.slice(2, 5).map(Number);
const cov = process.argv[5] as CovarianceType;
const iters = Number(process.argv[6]);
const seed = Number(process.argv[7]);
const file = process.argv[8];
const threads = Number(process.argv[9] ?? 1);

// K Gaussian blobs, centres ~ N(0, 5²), unit spread (the same recipe as bench/sklearn_bench.py)
const rng = new Rng(seed);
const centres = Float64Array.from({ length: k * d }, () => 5 * rng.normal());
const data = new Float64Array(n * d);
for (let i = 0; i < n; i++) {
  const c = rng.int(k);
  for (let a = 0; a < d; a++) data[i * d + a] = centres[c * d + a] + rng.normal();
}
if (!existsSync(file)) writeFileSync(file, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
const ds = { n, d, data };
const init = initialise(ds, 'random-from-data', { k, covarianceType: cov, regCovar: 1e-6, rng: new Rng(seed), shift: dataMean(ds) });
const pool = threads > 1 ? sharedPool(threads) : null;
const opts = { tol: 0, regCovar: 1e-6, mode: 'soft' as const, pool };

function time(maxIterations: number): number {
  const t0 = process.hrtime.bigint();
  runEM(ds, init, { ...opts, maxIterations });
  return Number(process.hrtime.bigint() - t0) / 1e9;
}
time(2); // warm up the JIT
let tI = Infinity;
let t1 = Infinity;
for (let r = 0; r < 3; r++) {
  tI = Math.min(tI, time(iters));
  t1 = Math.min(t1, time(1));
}
const secondsPerIteration = (tI - t1) / (iters - 1);
console.log(
  JSON.stringify({
    secondsPerIteration,
    pointsIterationsPerSecond: n / secondsPerIteration,
    threads,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
  }),
);
