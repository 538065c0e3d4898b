/**
 * The streaming operator as a user runs it, against scikit-learn's `GaussianMixture(warm_start=True)`
 * refitted per window (bench/sklearn_streaming.py) on the same windows: `npm run bench -- streaming`.
 *
 * Each configuration draws one seeded stream (K blobs, centres ~ N(0, 5²), unit spread: the recipe of
 * bench/streaming.ts), writes it for Python, and times, interleaved `repeats` times:
 * 1. windowVectors → fitMixture → toLabels over every window (one thread, `restart: 'never'`, halfLife 10),
 *    the first {@link WARMUP} windows untimed (the cold start and the probe schedule's ramp: steady state);
 * 2. scikit-learn fit + predict per window (one BLAS thread), the same windows untimed.
 * Medians of the repeats are reported.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { from, lastValueFrom, count, Observable, tap, toArray } from 'rxjs';
import { fitMixture, syntheticStream, toLabels, windowVectors, type MixtureUpdate } from '../src/index.js';
import { profileWindows, WindowProfile, WINDOW_PHASES, type WindowPhase } from '../src/gmm/stream/profile.js';
import type { CovarianceType } from '../src/gmm/types.js';
import { median } from './median.js';
import { clusters } from './streaming.js';

/** One row of the comparison. */
export interface OperatorRow {
  readonly d: number;
  readonly k: number;
  readonly cov: CovarianceType;
  readonly windows: number;
  /** Median over repeats of the mean ms per timed window through the operator (wall clock, and CPU time). */
  readonly oursMs: number;
  readonly oursCpuMs: number;
  readonly pointsPerSecond: number;
  /** The same with windowVectors' `reuseBuffers` (each window's memory lent): wall clock and CPU ms per window. */
  readonly lentMs: number;
  readonly lentCpuMs: number;
  /** scikit-learn, median ms per window: fit, and fit + predict (null without scikit-learn). */
  readonly sklearnFitMs: number | null;
  readonly sklearnFitPredictMs: number | null;
  readonly sklearnIterations: number | null;
  /** scikit-learn, mean CPU ms per window of fit + predict (null without scikit-learn). */
  readonly sklearnCpuMs: number | null;
}

/** The configurations of the targets (D, K, covariance, windows of 1000 timed). */
export const OPERATOR_CONFIGS: readonly [number, number, CovarianceType, number][] = [
  [2, 5, 'full', 320],
  [8, 8, 'full', 192],
  [32, 6, 'diag', 192],
  [64, 8, 'full', 128],
  [384, 16, 'diag', 64],
];

const SIZE = 1000;
/**
 * Untimed windows before the timed ones: the cold start, and the ramp of the birth-and-death probe schedule
 * (probes at windows 1, 5, 13, 29, 61 while they find nothing, then one every 64 windows). The timed windows,
 * a multiple of 64, are a running stream's steady state: each holds its share of the probes (one per 64 windows)
 * and nothing of the start.
 */
export const WARMUP = 70;


/**
 * The longest the event loop went without a turn: a 1 ms interval timer notes the gaps between its callbacks (and
 * from the last to `stop()`), so a stream processed in one synchronous go counts whole.
 */
function loopBlocks(): { stop(): number } {
  let last = performance.now();
  let longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  return {
    stop() {
      clearInterval(timer);
      return Math.max(longest, performance.now() - last);
    },
  };
}

/** How the operator runs: E-step threads, and whether each window's fit is on a worker thread. */
export interface OperatorMode {
  readonly threads?: number;
  readonly offThread?: boolean;
  /** windowVectors' `reuseBuffers`: each window's memory lent, and taken back two windows later. */
  readonly reuseBuffers?: boolean;
}

/**
 * The vectors as a source that runs at most `lag` windows ahead of the updates (as a consumer that fetches while
 * its pipeline works): after pushing a window's vectors it gives the event loop a turn (`setImmediate`), then waits
 * until `updated()` is within `lag` windows. A fit on the calling thread answers at once, so it never waits.
 */
function pacedVectors(vectors: readonly number[][], size: number, lag: number, updated: () => number, progress: { wake: (() => void) | null }): Observable<number[]> {
  return new Observable<number[]>((subscriber) => {
    let stopped = false;
    void (async () => {
      for (let w = 0; w * size < vectors.length; w++) {
        for (let i = w * size; i < Math.min(vectors.length, (w + 1) * size); i++) {
          if (stopped) return;
          subscriber.next(vectors[i]);
        }
        // A turn of the event loop after every window, as between a consumer's batches; then wait for the updates.
        await new Promise<void>((resolve) => setImmediate(resolve));
        while (!stopped && w + 1 - updated() > lag) await new Promise<void>((resolve) => (progress.wake = resolve));
      }
      subscriber.complete();
    })();
    return () => {
      stopped = true;
      progress.wake?.();
    };
  });
}

/**
 * Mean ms per window after the warm-up, through windowVectors → fitMixture → toLabels: wall-clock, and CPU time of
 * the process (user + system; on a loaded machine the steadier figure of one thread's work). The source runs at most
 * one window ahead of the updates (`pacedVectors`): with `offThread` the calling thread reads and checks window
 * t + 1 while the worker fits window t, and no further (a synchronous source pushing everything at once would put
 * every window's assembly before the timed ones).
 */
export async function operatorTimes(vectors: readonly number[][], d: number, k: number, cov: CovarianceType, mode: OperatorMode = {}): Promise<{ wallMs: number; cpuMs: number; loopDelayMaxMs: number }> {
  const windows = vectors.length / SIZE;
  const loop = loopBlocks();
  let started = 0;
  let cpuStarted = process.cpuUsage();
  let seen = 0;
  const progress: { wake: (() => void) | null } = { wake: null };
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const labelled = await lastValueFrom(
    pacedVectors(vectors, SIZE, 1, () => seen, progress).pipe(
      windowVectors<number[]>({ size: SIZE, dimension: d, reuseBuffers: mode.reuseBuffers ?? false }),
      fitMixture<number[]>({ k, covarianceType: cov, halfLife: 10, restart: 'never', seed: 1, threads: mode.threads, offThread: mode.offThread }),
      tap(() => {
        if (++seen === WARMUP) {
          started = performance.now();
          cpuStarted = process.cpuUsage();
        }
        const wake = progress.wake;
        progress.wake = null;
        wake?.();
      }),
      toLabels(),
      count(),
    ),
  );
  if (labelled !== vectors.length) throw new Error(`labelled ${labelled} of ${vectors.length} points`);
  const end = performance.now();
  const loopDelayMaxMs = loop.stop();
  const cpu = process.cpuUsage(windows > WARMUP ? cpuStarted : cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000;
  return windows > WARMUP
    ? { wallMs: (end - started) / (windows - WARMUP), cpuMs: cpuMs / (windows - WARMUP), loopDelayMaxMs }
    : { wallMs: (end - t0) / windows, cpuMs: cpuMs / windows, loopDelayMaxMs };
}

/** Mean wall-clock ms per window after the warm-up ({@link operatorTimes}). */
export async function operatorMsPerWindow(vectors: readonly number[][], d: number, k: number, cov: CovarianceType, mode: OperatorMode = {}): Promise<number> {
  return (await operatorTimes(vectors, d, k, cov, mode)).wallMs;
}

/** The operator and scikit-learn on the same windows, interleaved `repeats` times. */
export async function operatorVsSklearn(opts: { python: string | null; repeats?: number; configs?: readonly [number, number, CovarianceType, number][] }): Promise<OperatorRow[]> {
  const repeats = opts.repeats ?? 3;
  const dir = mkdtempSync(join(tmpdir(), 'emstream-bench-operator-'));
  const rows: OperatorRow[] = [];
  try {
    for (const [d, k, cov, timed] of opts.configs ?? OPERATOR_CONFIGS) {
      const windows = timed + WARMUP;
      const vectors = Array.from(syntheticStream(clusters(d, k, 3), windows * SIZE, 2), (p) => p.vector);
      const file = join(dir, `stream-${d}-${k}-${cov}.f64`);
      if (opts.python !== null) {
        const flat = new Float64Array(vectors.length * d);
        vectors.forEach((v, i) => flat.set(v, i * d));
        writeFileSync(file, new Uint8Array(flat.buffer));
      }
      const ours: number[] = [];
      const oursCpu: number[] = [];
      const lent: number[] = [];
      const lentCpu: number[] = [];
      const skCpu: number[] = [];
      const fit: number[] = [];
      const both: number[] = [];
      let iterations: number | null = null;
      for (let r = 0; r < repeats; r++) {
        const t = await operatorTimes(vectors, d, k, cov);
        ours.push(t.wallMs);
        oursCpu.push(t.cpuMs);
        const l = await operatorTimes(vectors, d, k, cov, { reuseBuffers: true });
        lent.push(l.wallMs);
        lentCpu.push(l.cpuMs);
        if (opts.python !== null) {
          const out = execFileSync(
            opts.python,
            ['bench/sklearn_streaming.py', '--data', file, '--windows', `${windows}`, '--size', `${SIZE}`, '--d', `${d}`, '--k', `${k}`, '--cov', cov, '--seed', '1', '--warmup', `${WARMUP}`],
            { encoding: 'utf8' },
          );
          const s = JSON.parse(out.trim().split('\n').pop()!) as { fitMs: number; fitPredictMs: number; meanIterations: number; fitPredictCpuMs: number };
          skCpu.push(s.fitPredictCpuMs);
          fit.push(s.fitMs);
          both.push(s.fitPredictMs);
          iterations = s.meanIterations;
        }
      }
      const oursMs = median(ours);
      rows.push({
        d,
        k,
        cov,
        windows: timed,
        oursMs,
        oursCpuMs: median(oursCpu),
        lentMs: median(lent),
        lentCpuMs: median(lentCpu),
        sklearnCpuMs: skCpu.length > 0 ? median(skCpu) : null,
        pointsPerSecond: SIZE / (oursMs / 1000),
        sklearnFitMs: fit.length > 0 ? median(fit) : null,
        sklearnFitPredictMs: both.length > 0 ? median(both) : null,
        sklearnIterations: iterations,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

/** The modes of {@link operatorThreads}, in the order they run. */
export const THREAD_MODES = (threads: number): readonly { readonly name: string; readonly mode: OperatorMode }[] => [
  { name: 'one thread', mode: { threads: 1 } },
  { name: `threads: ${threads} (the E-steps)`, mode: { threads } },
  { name: 'offThread (the fit on a worker, the next window read meanwhile)', mode: { threads: 1, offThread: true } },
  { name: `offThread, threads: ${threads}`, mode: { threads, offThread: true } },
  { name: 'one thread, reuseBuffers (windows lent)', mode: { threads: 1, reuseBuffers: true } },
  { name: `threads: ${threads}, reuseBuffers`, mode: { threads, reuseBuffers: true } },
];

/**
 * The operator at D = 384, diag, K = 16 in each of {@link THREAD_MODES} (wall clock and CPU per window, and the longest
 * the calling thread's event loop was blocked over the whole stream, its cold first window included), interleaved
 * `repeats` times on the same windows; medians.
 */
export async function operatorThreads(repeats = 3, threads = 2): Promise<{ name: string; wallMs: number; cpuMs: number; loopDelayMaxMs: number }[]> {
  const [d, k, cov, timed] = [384, 16, 'diag' as CovarianceType, 64];
  const vectors = Array.from(syntheticStream(clusters(d, k, 3), (timed + WARMUP) * SIZE, 2), (p) => p.vector);
  const modes = THREAD_MODES(threads);
  const wall = modes.map((): number[] => []);
  const cpu = modes.map((): number[] => []);
  const delay = modes.map((): number[] => []);
  for (let r = 0; r < repeats; r++) {
    for (let m = 0; m < modes.length; m++) {
      const t = await operatorTimes(vectors, d, k, cov, modes[m].mode);
      wall[m].push(t.wallMs);
      cpu[m].push(t.cpuMs);
      delay[m].push(t.loopDelayMaxMs);
    }
  }
  return modes.map((m, i) => ({ name: m.name, wallMs: median(wall[i]), cpuMs: median(cpu[i]), loopDelayMaxMs: median(delay[i]) }));
}

/** One row of the per-window cost breakdown: mean ms per window of each phase. */
export interface BreakdownRow {
  readonly d: number;
  readonly k: number;
  readonly cov: CovarianceType;
  readonly windows: number;
  /** windowVectors alone (assembly and validation of the points). */
  readonly assemblyMs: number;
  /** toLabels alone (one labelled point object per point). */
  readonly labelsMs: number;
  /** StreamingGmm.update and fitMixture, by phase (exclusive times). */
  readonly phases: Record<WindowPhase, number>;
  readonly meanIterations: number;
}

/**
 * The configurations of the breakdown (D, K, covariance, timed windows, untimed warm-up): every covariance type at each
 * D and K of the targets, 64 windows after the steady-state warm-up ({@link WARMUP}); D = 384 full and tied with K = 4,
 * 3 windows after 5 (16 covariances of 74k entries make a first window's cold start minutes long, and 70 windows of
 * warm-up as long again): those two rows include the early probes.
 */
export function breakdownConfigs(): [number, number, CovarianceType, number, number][] {
  const out: [number, number, CovarianceType, number, number][] = [];
  for (const [d, k] of OPERATOR_CONFIGS) {
    for (const cov of ['full', 'diag', 'spherical', 'tied'] as CovarianceType[]) {
      const squares = cov === 'full' || cov === 'tied';
      if (d >= 384 && squares) out.push([d, 4, cov, 3, 5]);
      else out.push([d, k, cov, 64, WARMUP]);
    }
  }
  return out;
}

/**
 * Where a window's time goes, per configuration: windowVectors alone, fitMixture with the phase profiler on
 * (after the configuration's untimed warm-up), toLabels alone on the updates.
 */
export async function breakdown(configs: readonly [number, number, CovarianceType, number, number][] = breakdownConfigs()): Promise<BreakdownRow[]> {
  const rows: BreakdownRow[] = [];
  for (const [d, k, cov, timed, warmup] of configs) {
    const windows = timed + warmup;
    const vectors = Array.from(syntheticStream(clusters(d, k, 3), windows * SIZE, 2), (p) => p.vector);
    // 1. windowVectors alone.
    let t = performance.now();
    const wins = await lastValueFrom(from(vectors).pipe(windowVectors<number[]>({ size: SIZE, dimension: d }), toArray()));
    const assemblyMs = (performance.now() - t) / windows;
    // 2. fitMixture, profiled after the warm-up.
    const profile = new WindowProfile();
    const before = profileWindows(profile);
    let seen = 0;
    let iterations = 0;
    let updates: MixtureUpdate<number[]>[];
    try {
      updates = await lastValueFrom(
        from(wins).pipe(
          fitMixture<number[]>({ k, covarianceType: cov, halfLife: 10, restart: 'never', seed: 1 }),
          tap((u) => {
            if (++seen === warmup) profile.reset();
            else if (seen > warmup) iterations += u.iterations;
          }),
          toArray(),
        ),
      );
    } finally {
      profileWindows(before);
    }
    // 3. toLabels alone, on the timed windows' updates.
    const timedUpdates = updates.slice(warmup);
    t = performance.now();
    await lastValueFrom(from(timedUpdates).pipe(toLabels(), count()));
    const labelsMs = (performance.now() - t) / timedUpdates.length;
    const phases = Object.fromEntries(WINDOW_PHASES.map((p) => [p, profile.ms[p] / profile.windows])) as Record<WindowPhase, number>;
    rows.push({ d, k, cov, windows: profile.windows, assemblyMs, labelsMs, phases, meanIterations: iterations / profile.windows });
  }
  return rows;
}

// Run directly: node --import tsx bench/operator.ts
if (import.meta.url === `file://${process.argv[1]}` && process.argv[2] === 'breakdown') {
  const only = process.argv[3];
  for (const c of breakdownConfigs().filter((c) => only === undefined || `${c[0]}` === only)) for (const r of await breakdown([c])) console.log(JSON.stringify(r));
} else if (import.meta.url === `file://${process.argv[1]}`) {
  const rows = await operatorVsSklearn({ python: 'python3', repeats: Number(process.env.REPEATS ?? 1) });
  for (const r of rows) console.log(JSON.stringify(r));
}
