/**
 * `npm run bench -- calibrate`: the drift alarm thresholds, calibrated by simulation to a stated false-alarm rate.
 *
 * 1. Stationary streams of the suite's generator (`randomScenario(seed, { dynamics: 'stationary' })`: D from 2 to
 *    64, K from 2 to 16, all four covariance types, weights down to 2 %, overlapping) for the calibration seeds,
 *    fitted with emstream's defaults; every window's raw statistics are recorded: the predictive mean
 *    log-likelihood and its standard error, the model distance, the largest per-component score and the weights
 *    score (−log₁₀ p).
 * 2. Offline, each kind's detector (Page-Hinkley for the likelihood; a threshold for the others; all with the
 *    onset-and-settle rule of `DriftDetector`) is run over those sequences for a grid of thresholds; the smallest
 *    threshold whose onsets stay at or below the target rate (0.25 per 100 windows for each of the likelihood,
 *    component and weights kinds: about 1 per 100 windows in all) is the calibrated value.
 * 3. The defaults of `DRIFT_DEFAULTS` are then checked on the report seeds (other streams, other geometries): the
 *    alarms each kind raises per 100 stationary windows, run online with the defaults.
 *
 *   node --import tsx bench/calibrate.ts [--count N]     # or: npm run bench -- calibrate
 */
import { pathToFileURL } from 'node:url';
import { DRIFT_DEFAULTS, StreamingGmm, type DriftKind } from '../src/index.js';
import { generate, quantile, randomScenario } from './streams.js';

/** Target onsets per 100 stationary windows, for each calibrated kind. */
export const TARGET_PER_100 = 0.25;

/** Seeds of the calibration streams (the tuning side of the suite) and of the check (the report side). */
export const CALIBRATION_SEEDS: readonly number[] = Array.from({ length: 200 }, (_, i) => 1 + i);
export const CHECK_SEEDS: readonly number[] = Array.from({ length: 200 }, (_, i) => 1001 + i);

/** One window's raw drift statistics. */
interface WindowStatistics {
  readonly logLikelihood: number | null;
  readonly standardError: number | null;
  readonly distance: number;
  readonly component: number;
  readonly weights: number;
  readonly alarms: DriftKind[];
}

/** Runs the stationary stream of a seed with the defaults and records every window's statistics. */
function record(seed: number): WindowStatistics[] {
  const s = randomScenario(seed, { dynamics: 'stationary' });
  const data = generate(s);
  const gmm = new StreamingGmm({ k: s.k, covarianceType: s.covarianceType, seed: 1 });
  return data.windows.map((w) => {
    const f = gmm.update({ n: s.size, d: s.d, data: w });
    return {
      logLikelihood: f.predictiveLogLikelihood,
      standardError: f.predictiveStandardError,
      distance: f.driftStatistics.modelDistance.statistic,
      component: f.driftStatistics.component.statistic,
      weights: f.driftStatistics.weights.statistic,
      alarms: f.drift.map((e) => e.kind),
    };
  });
}

/** Onsets of a thresholded statistic with the onset-and-settle rule (release × threshold, settle windows). */
function onsets(values: readonly number[], threshold: number): number {
  const { release, settle } = DRIFT_DEFAULTS;
  let active = false;
  let quiet = 0;
  let count = 0;
  for (const v of values) {
    if (!active) {
      if (v > threshold) {
        active = true;
        quiet = 0;
        count++;
      }
      continue;
    }
    quiet = v >= release * threshold ? 0 : quiet + 1;
    if (quiet >= settle) active = false;
  }
  return count;
}

/** Page-Hinkley onsets on −(log-likelihood), deviations in standard errors (as `DriftDetector` does). */
function pageHinkleyOnsets(windows: readonly WindowStatistics[], delta: number, lambda: number): number {
  const { release, settle, minInstances } = DRIFT_DEFAULTS;
  let n = 0;
  let mean = 0;
  let m = 0;
  let active = false;
  let quiet = 0;
  let count = 0;
  for (const w of windows) {
    if (w.logLikelihood === null) continue;
    const x = -w.logLikelihood;
    const scale = w.standardError !== null && w.standardError > 0 ? w.standardError : 1;
    n++;
    mean += (x - mean) / n;
    m = Math.max(0, m + (x - mean) / scale - delta);
    const alarm = n >= minInstances && m > lambda;
    const statistic = m;
    if (alarm) {
      n = 0;
      mean = 0;
      m = 0;
    }
    if (!active) {
      if (alarm) {
        active = true;
        quiet = 0;
        count++;
      }
      continue;
    }
    quiet = statistic >= release * lambda || alarm ? 0 : quiet + 1;
    if (quiet >= settle) active = false;
  }
  return count;
}

/** The smallest threshold of `grid` whose onsets per 100 windows stay at or below the target. */
function calibrate(grid: readonly number[], count: (threshold: number) => number, windows: number): { threshold: number; rate: number } {
  for (const threshold of grid) {
    const rate = (100 * count(threshold)) / windows;
    if (rate <= TARGET_PER_100) return { threshold, rate };
  }
  const last = grid[grid.length - 1];
  return { threshold: last, rate: (100 * count(last)) / windows };
}

const range = (from: number, to: number, step: number): number[] => Array.from({ length: Math.round((to - from) / step) + 1 }, (_, i) => +(from + i * step).toFixed(6));

/** Prints the calibration and the check; returns the calibrated thresholds. */
export function calibrationSection(count?: number): { lambda: number; componentThreshold: number; weightsThreshold: number } {
  const seeds = count === undefined ? CALIBRATION_SEEDS : CALIBRATION_SEEDS.slice(0, count);
  const started = performance.now();
  const streams = seeds.map(record);
  // Window 0 is the first fit: no statistic.
  const scored = streams.map((s) => s.slice(1));
  const windows = scored.reduce((a, s) => a + s.length, 0);
  const lambda = calibrate(range(1, 60, 0.5), (l) => scored.reduce((a, s) => a + pageHinkleyOnsets(s, DRIFT_DEFAULTS.delta, l), 0), windows);
  const component = calibrate(range(1, 12, 0.25), (h) => scored.reduce((a, s) => a + onsets(s.map((w) => w.component), h), 0), windows);
  const weights = calibrate(range(1, 12, 0.25), (h) => scored.reduce((a, s) => a + onsets(s.map((w) => w.weights), h), 0), windows);
  const distances = scored.flat().map((w) => w.distance);
  const distanceRate = (100 * scored.reduce((a, s) => a + onsets(s.map((w) => w.distance), DRIFT_DEFAULTS.distanceThreshold), 0)) / windows;
  console.log(
    `\n## Drift alarm thresholds, calibrated on ${seeds.length} stationary streams (seeds ${seeds[0]}–${seeds[seeds.length - 1]}, ${windows} windows; ${((performance.now() - started) / 1000).toFixed(0)} s)\n`,
  );
  console.log(`Target: at most ${TARGET_PER_100} onsets per 100 stationary windows for each calibrated kind (release ${DRIFT_DEFAULTS.release}, settle ${DRIFT_DEFAULTS.settle} windows).\n`);
  console.log('| kind | statistic | calibrated threshold | onsets / 100 windows at it | default in DRIFT_DEFAULTS |');
  console.log('|---|---|---|---|---|');
  console.log(`| likelihood | Page-Hinkley, δ = ${DRIFT_DEFAULTS.delta} standard errors | λ = ${lambda.threshold} | ${lambda.rate.toFixed(3)} | λ = ${DRIFT_DEFAULTS.lambda} |`);
  console.log(`| component | −log10 adjusted p of the component tests | ${component.threshold} | ${component.rate.toFixed(3)} | ${DRIFT_DEFAULTS.componentThreshold} |`);
  console.log(`| weights | −log10 p of the G-test | ${weights.threshold} | ${weights.rate.toFixed(3)} | ${DRIFT_DEFAULTS.weightsThreshold} |`);
  console.log(
    `| model-distance | matched Bhattacharyya distance (not calibrated: a fixed size of change) | ${DRIFT_DEFAULTS.distanceThreshold} | ${distanceRate.toFixed(3)} | ${DRIFT_DEFAULTS.distanceThreshold} (99.9th percentile on these windows: ${quantile(distances, 0.999).toFixed(3)}) |`,
  );
  return { lambda: lambda.threshold, componentThreshold: component.threshold, weightsThreshold: weights.threshold };
}

/** The defaults, run online on the check seeds' stationary streams: alarms per 100 windows by kind. */
export function checkSection(count?: number): void {
  const seeds = count === undefined ? CHECK_SEEDS : CHECK_SEEDS.slice(0, count);
  const started = performance.now();
  const byKind = new Map<DriftKind, number>();
  let windows = 0;
  let streamsWithAlarm = 0;
  for (const seed of seeds) {
    const s = record(seed).slice(1);
    windows += s.length;
    let any = false;
    for (const w of s) {
      for (const k of w.alarms) {
        byKind.set(k, (byKind.get(k) ?? 0) + 1);
        any = true;
      }
    }
    if (any) streamsWithAlarm++;
  }
  const total = [...byKind.values()].reduce((a, b) => a + b, 0);
  const per = (x: number): string => ((100 * x) / windows).toFixed(3);
  console.log(`\nThe defaults online, on ${seeds.length} other stationary streams (check seeds ${seeds[0]}–${seeds[seeds.length - 1]}, ${windows} windows; ${((performance.now() - started) / 1000).toFixed(0)} s): alarms per 100 windows`);
  console.log(
    `likelihood ${per(byKind.get('likelihood') ?? 0)}, model-distance ${per(byKind.get('model-distance') ?? 0)}, component ${per(byKind.get('component') ?? 0)}, weights ${per(byKind.get('weights') ?? 0)}; all ${per(total)} (${total} alarms; ${streamsWithAlarm} of ${seeds.length} streams raised any)`,
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const i = args.indexOf('--count');
  const count = i >= 0 ? Number(args[i + 1]) : undefined;
  calibrationSection(count);
  if (!args.includes('--no-check')) checkSection(count);
}
