/**
 * Streaming benchmarks: window fit latency (warm only; with 3 restarts per window) and in-process
 * throughput through windowVectors → fitMixture → toLabels. Both time the whole window (`StreamingGmm.update`:
 * EM, adaptive forgetting, birth and death, component matching, model distance; the operator adds the
 * JSON model and state of every update), not EM alone.
 */
import { from, lastValueFrom, count } from 'rxjs';
import { fitMixture, StreamingGmm, syntheticStream, toLabels, windowVectors, type SyntheticCluster } from '../src/index.js';
import { Rng } from '../src/gmm/rng.js';
import type { CovarianceType } from '../src/gmm/types.js';

/** K blobs in D dimensions, centres ~ N(0, 5²), unit spread (the recipe of every streaming benchmark). */
export function clusters(d: number, k: number, seed: number): SyntheticCluster[] {
  const rng = new Rng(seed);
  return Array.from({ length: k }, () => {
    const mean = Array.from({ length: d }, () => 5 * rng.normal());
    return { mean: () => mean, sd: Array.from({ length: d }, () => 1), weight: () => 1 };
  });
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Latency of fitting one window of `size` points (D, K), p50/p99 over `windows` windows after a warm-up. */
export function windowLatency(opts: { d: number; k: number; size: number; windows: number; restartsEveryWindow: boolean; covarianceType?: CovarianceType; threads?: number }): {
  p50Ms: number;
  p99Ms: number;
  meanIterations: number;
  pointsPerSecond: number;
} {
  const { d, k, size, windows } = opts;
  const gen = syntheticStream(clusters(d, k, 3), (windows + 5) * size, 1);
  const gmm = new StreamingGmm({ k, covarianceType: opts.covarianceType ?? 'full', halfLife: 10, restart: opts.restartsEveryWindow ? { every: 1 } : 'never', restarts: 3, seed: 1, threads: opts.threads });
  const times: number[] = [];
  let iterations = 0;
  for (let w = 0; w < windows + 5; w++) {
    const data = new Float64Array(size * d);
    for (let i = 0; i < size; i++) data.set(gen.next().value!.vector, i * d);
    const t0 = process.hrtime.bigint();
    const fit = gmm.update({ n: size, d, data });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (w >= 5) {
      times.push(ms);
      iterations += fit.iterations;
    }
  }
  const total = times.reduce((s, t) => s + t, 0);
  times.sort((a, b) => a - b);
  return { p50Ms: quantile(times, 0.5), p99Ms: quantile(times, 0.99), meanIterations: iterations / windows, pointsPerSecond: (windows * size) / (total / 1000) };
}

/** Points per second through windowVectors → fitMixture → toLabels, in process. */
export async function throughput(opts: { d: number; k: number; size: number; points: number; covarianceType?: CovarianceType }): Promise<{ pointsPerSecond: number; seconds: number }> {
  const vectors = Array.from(syntheticStream(clusters(opts.d, opts.k, 3), opts.points, 2), (p) => p.vector);
  const t0 = process.hrtime.bigint();
  const labelled = await lastValueFrom(
    from(vectors).pipe(windowVectors<number[]>({ size: opts.size, dimension: opts.d }), fitMixture<number[]>({ k: opts.k, covarianceType: opts.covarianceType ?? 'full', halfLife: 10, restart: 'never', seed: 1 }), toLabels(), count()),
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (labelled !== opts.points) throw new Error(`labelled ${labelled} of ${opts.points} points`);
  return { pointsPerSecond: opts.points / seconds, seconds };
}
