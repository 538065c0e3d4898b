/**
 * The window-history and drift messages: one small record per fitted window, one per drift alarm,
 * built from a {@link MixtureUpdate} by pure functions (the dashboard reads them; a Kafka pipeline
 * puts them on its window-history and drift topics).
 *
 * @module
 */
import { z } from 'zod';
import { componentDistanceMatrix, componentMean, type ComponentMetric } from '../gmm/distance.js';
import { paramsFromJSON, type MixtureJSON } from '../gmm/model.js';
import { compareOffsets, isDecimalOffset, partitionKey } from '../offsets.js';
import { parseOptions } from '../options.js';
import type { MixtureUpdate } from '../operators/types.js';
import { recordCoordinates } from '../operators/vectorInput.js';
import { checkNotReleased } from '../operators/windowVectors.js';

/** The input offsets a window covers on one partition (inclusive, decimal strings). */
export interface OffsetRange {
  readonly topic: string;
  readonly partition: number;
  readonly first: string;
  readonly last: string;
}

/** How many records a window took in and what became of them. */
export interface WindowCounts {
  /** Records of the window, valid or not. */
  readonly in: number;
  /** Records labelled. */
  readonly labelled: number;
  /** Records sent to the dead-letter path. */
  readonly deadLettered: number;
}

/**
 * A bounded sample of a window's points (m rows, one from each of m equal strata of the window, in window order) with their labels.
 * Coordinates keep 6 significant digits.
 */
export interface WindowSample {
  /** Dimension of the points. */
  readonly d: number;
  /** Points in the window. */
  readonly of: number;
  /** m×d points. */
  readonly points: number[][];
  /** m labels. */
  readonly labels: number[];
}

/** One fitted window: the payload of a window-history message (`format: 'emstream.window'`). */
export interface WindowRecord {
  readonly format: 'emstream.window';
  readonly version: 1;
  readonly pipelineId: string;
  readonly windowIndex: number;
  readonly modelVersion: number;
  /** When the record was built (ms since the epoch). */
  readonly fittedAt: number;
  /** Points fitted. */
  readonly n: number;
  readonly k: number;
  readonly d: number;
  /** Mean log-likelihood per point under the updated model (nats). */
  readonly logLikelihood: number | null;
  /** Mean expected complete-data log-likelihood per point under the updated model (nats). */
  readonly expectedLogLikelihood: number | null;
  /** Mean log-likelihood per point under the previous model; null on the first window. */
  readonly predictiveLogLikelihood: number | null;
  /** Matched distance between the previous model and this one. */
  readonly modelDistance: number | null;
  /** Model distance above which a `model-distance` alarm is raised. */
  readonly distanceThreshold: number | null;
  /** The Page-Hinkley statistic on this window (the alarm's value when one was raised) and its threshold λ. */
  readonly pageHinkley: { readonly statistic: number | null; readonly threshold: number | null };
  /**
   * Every statistic that can raise a drift alarm on this window, against its threshold (absent in messages of
   * emstream before 0.2): Page-Hinkley, model distance, the component tests and the weights test.
   */
  readonly driftStatistics?: {
    readonly likelihood: DriftStatisticRecord;
    readonly modelDistance: DriftStatisticRecord;
    readonly component: DriftStatisticRecord;
    readonly weights: DriftStatisticRecord;
  };
  /** The drift state after this window (absent before 0.2): drifting since a window, severity and progress. */
  readonly drifting?: { readonly active: boolean; readonly since: number | null; readonly severity: number | null; readonly progress: number | null };
  readonly iterations: number;
  readonly converged: boolean;
  readonly warmStarted: boolean;
  readonly restarted: boolean;
  /** Components re-seeded in this window (empty when the update does not report any). */
  readonly reseeded: number[];
  /** Component weights after the update (K). */
  readonly weights: number[];
  /** Drift alarms raised on this window (their kinds; details are drift records). */
  readonly drift: string[];
  readonly counts: WindowCounts;
  /** Time to fit the window, when known. */
  readonly fitSeconds: number | null;
  /** Input messages behind the high watermarks when the window was fitted, when known. */
  readonly lag: number | null;
  /** Input offsets the window covers, when it came from Kafka. */
  readonly offsets: OffsetRange[] | null;
  /** A bounded sample of the window's points, or null. */
  readonly sample: WindowSample | null;
}

/** One drift statistic of a window and its threshold (null: not finite). */
export interface DriftStatisticRecord {
  readonly statistic: number | null;
  readonly threshold: number | null;
}

/** How one component moved between the previous model and this one (components are matched: index k is the same cluster). */
export interface ComponentShift {
  /** Component index in the model. */
  readonly index: number;
  /** Its label in the label messages. */
  readonly label: number;
  /** Euclidean distance between its previous and current means. */
  readonly meanShift: number;
  /** Current weight minus previous weight. */
  readonly weightChange: number;
  /** Distance between its previous and current Gaussians (the drift detector's metric). */
  readonly distance: number | null;
  /** Its distance is above the model-distance threshold. */
  readonly moved: boolean;
}

/** One drift alarm: the payload of a drift message (`format: 'emstream.drift'`). */
export interface DriftRecord {
  readonly format: 'emstream.drift';
  readonly version: 1;
  readonly pipelineId: string;
  readonly windowIndex: number;
  readonly modelVersion: number;
  readonly kind: MixtureUpdate['drift'][number]['kind'];
  readonly statistic: number | null;
  readonly threshold: number | null;
  /** When the record was built (ms since the epoch). */
  readonly detectedAt: number;
  /** Input offsets of the window that raised it, when it came from Kafka. */
  readonly offsets: OffsetRange[] | null;
  /** Every matched component, the largest distance first (empty on the first model or when K changed). */
  readonly components: ComponentShift[];
  /** The labels the alarm names (a `component` alarm: the components whose window disagreed with their history), else empty. */
  readonly flagged: number[];
}

/** Options of {@link windowRecord}. */
export interface WindowRecordOptions {
  /** Key of the messages: the pipeline's id. */
  readonly pipelineId: string;
  /** Window index written (default the update's; a Kafka run writes the pipeline id's count, which continues across restarts). */
  readonly windowIndex?: number;
  /** Default `Date.now()`. */
  readonly fittedAt?: number;
  /** From `em.window.fitted`'s `durationMs`, when the caller listens to it. */
  readonly fitSeconds?: number | null;
  readonly lag?: number | null;
  readonly offsets?: readonly OffsetRange[] | null;
  /** Bounds of the point sample, or `false` for none. Default `{ maxPoints: 200, maxValues: 1000 }`. */
  readonly sample?: false | { readonly maxPoints?: number; readonly maxValues?: number };
}

/** Options of {@link driftRecords}. */
export interface DriftRecordOptions {
  readonly pipelineId: string;
  /** Window index written (default the update's). */
  readonly windowIndex?: number;
  /** Default `Date.now()`. */
  readonly detectedAt?: number;
  readonly offsets?: readonly OffsetRange[] | null;
}

const offsetSchema = z.object({ topic: z.string(), partition: z.number().int().min(0), first: z.string(), last: z.string() }).strict();

const windowOptionsSchema = z
  .object({
    pipelineId: z.string().min(1, 'must not be empty'),
    windowIndex: z.number().int('must be an integer').min(0, 'must be ≥ 0').optional(),
    fittedAt: z.number().finite().optional(),
    fitSeconds: z.number().min(0).nullable().optional(),
    lag: z.number().min(0).nullable().optional(),
    offsets: z.array(offsetSchema).nullable().optional(),
    sample: z
      .union([
        z.literal(false),
        z
          .object({
            maxPoints: z.number().int('must be an integer').min(1, 'must be at least 1').default(200),
            maxValues: z.number().int('must be an integer').min(1, 'must be at least 1').default(1000),
          })
          .strict(),
      ])
      .default({ maxPoints: 200, maxValues: 1000 }),
  })
  .strict();

const driftOptionsSchema = z
  .object({
    pipelineId: z.string().min(1, 'must not be empty'),
    windowIndex: z.number().int('must be an integer').min(0, 'must be ≥ 0').optional(),
    detectedAt: z.number().finite().optional(),
    offsets: z.array(offsetSchema).nullable().optional(),
  })
  .strict();

const finiteOrNull = (x: number | null | undefined): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

const statisticRecord = (x: { statistic: number; threshold: number }): DriftStatisticRecord => ({ statistic: finiteOrNull(x.statistic), threshold: finiteOrNull(x.threshold) });

/** Powers of ten 10^0 … 10^310. */
const POW10 = Array.from({ length: 311 }, (_, k) => 10 ** k);

/**
 * `x` with about 6 significant digits (the sample's precision): `Math.round(x·10^(5−e)) / 10^(5−e)` with
 * e = ⌊log₁₀|x|⌋ (a few times faster than `Number(x.toPrecision(6))`, which it equals but for the last digit in
 * rare ties); large magnitudes go through `toPrecision`.
 */
function round6(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const e = Math.floor(Math.log10(Math.abs(x)));
  if (e >= 5 || e < -300) return Number(x.toPrecision(6));
  const f = POW10[5 - e];
  return Math.round(x * f) / f;
}

/**
 * The input offsets a window covers, per partition: the first and last offset of its records (inclusive),
 * partitions in the order they first appear. Records without Kafka coordinates are left out.
 *
 * @param records - the window's records (`update.window.records`)
 * @returns one range per partition, or null when no record has coordinates
 */
export function offsetRanges(records: readonly unknown[]): OffsetRange[] | null {
  const ranges = new Map<string, { topic: string; partition: number; first: string; last: string }>();
  let current: { topic: string; partition: number; first: string; last: string } | undefined;
  for (const record of records) {
    const c = recordCoordinates(record);
    const offset = c.offset;
    if (c.topic === undefined || c.partition === undefined || offset === undefined || !isDecimalOffset(offset)) continue;
    if (current === undefined || c.topic !== current.topic || c.partition !== current.partition) {
      const id = partitionKey(c.topic, c.partition);
      current = ranges.get(id);
      if (current === undefined) {
        ranges.set(id, (current = { topic: c.topic, partition: c.partition, first: offset, last: offset }));
        continue;
      }
    }
    if (compareOffsets(offset, current.first) < 0) current.first = offset;
    if (compareOffsets(offset, current.last) > 0) current.last = offset;
  }
  if (ranges.size === 0) return null;
  return [...ranges.values()].map((r) => ({ ...r }));
}

/**
 * A bounded sample of a window: m = `min(n, maxPoints, ⌊maxValues / d⌋)` rows (at least one), so the message stays
 * small whatever the window size and dimension.
 *
 * 1. Split the rows into m strata [⌊j·n/m⌋, ⌊(j+1)·n/m⌋), j = 0…m−1.
 * 2. From stratum j take the row at the fraction frac(j·φ) of it (φ = the golden ratio − 1): spread over the window
 *    like a stride, but without its aliasing (a stride of 2 on points that alternate between two clusters would
 *    show one cluster only), and reproducible.
 *
 * @param points - n×d row-major
 * @param n - points in the window
 * @param d - dimension
 * @param labels - n labels
 * @param maxPoints - most rows
 * @param maxValues - most coordinates (rows × d)
 * @returns the sample, or null for an empty window
 */
export function sampleWindow(points: Float64Array, n: number, d: number, labels: Int32Array, maxPoints: number, maxValues: number): WindowSample | null {
  if (n === 0 || d === 0) return null;
  const m = Math.max(1, Math.min(n, maxPoints, Math.floor(maxValues / d)));
  const rows: number[][] = [];
  const ls: number[] = [];
  for (let j = 0; j < m; j++) {
    const start = Math.floor((j * n) / m);
    const size = Math.floor(((j + 1) * n) / m) - start;
    const jitter = (j * 0.6180339887498949) % 1;
    const i = start + Math.min(size - 1, Math.floor(jitter * size));
    const row = new Array<number>(d);
    for (let c = 0; c < d; c++) row[c] = round6(points[i * d + c]);
    rows.push(row);
    ls.push(labels[i]);
  }
  return { d, of: n, points: rows, labels: ls };
}

/**
 * The window-history record of one fitted window.
 *
 * 1. Copy the window's figures from the update: log-likelihoods, model distance, iterations,
 *    restart, weights, drift kinds (non-finite numbers become null: a record never carries NaN).
 * 2. The Page-Hinkley statistic is the likelihood alarm's value when one was raised (the detector
 *    resets after an alarm), else the detector's statistic after the window; λ and the
 *    model-distance threshold come from the detector's state.
 * 3. Add what only the caller knows: counts, fit time, lag, input offsets.
 * 4. Add a bounded point sample ({@link sampleWindow}).
 *
 * ## Example
 * ```ts
 * import { from, lastValueFrom, toArray } from 'rxjs';
 * import { windowVectors, fitMixture, windowRecord } from 'emstream';
 *
 * const points = Array.from({ length: 200 }, (_, i) => [i % 2 === 0 ? 0 : 10, Math.sin(i)]);
 * const updates = await lastValueFrom(from(points).pipe(windowVectors({ size: 100 }), fitMixture({ k: 2 }), toArray()));
 * const u = updates[1];
 * const record = windowRecord(u, { in: u.window.n, labelled: u.window.n, deadLettered: 0 }, { pipelineId: 'demo' });
 * console.log(record.windowIndex, record.predictiveLogLikelihood, record.sample?.points.length); // → 1 4.22… 100
 * ```
 *
 * @param update - the fitted window
 * @param counts - records in, labelled, dead-lettered
 * @param options - pipeline id (the message key) and what the caller measured
 * @returns the record (plain JSON)
 * @throws EmstreamOptionsError when the options are invalid
 */
export function windowRecord(update: MixtureUpdate<unknown>, counts: WindowCounts, options: WindowRecordOptions): WindowRecord {
  const o = parseOptions(windowOptionsSchema, options, 'windowRecord');
  const detector = update.state.drift;
  const alarm = update.drift.find((e) => e.kind === 'likelihood');
  const { window } = update;
  if (o.sample !== false) checkNotReleased(window, 'windowRecord');
  return {
    format: 'emstream.window',
    version: 1,
    pipelineId: o.pipelineId,
    windowIndex: o.windowIndex ?? update.windowIndex,
    modelVersion: update.version,
    fittedAt: o.fittedAt ?? Date.now(),
    n: window.n,
    k: update.model.k,
    d: update.model.d,
    logLikelihood: finiteOrNull(update.logLikelihood),
    expectedLogLikelihood: finiteOrNull(update.expectedLogLikelihood),
    predictiveLogLikelihood: finiteOrNull(update.predictiveLogLikelihood),
    modelDistance: finiteOrNull(update.modelDistance),
    distanceThreshold: finiteOrNull(detector.options.distanceThreshold),
    pageHinkley: {
      statistic: finiteOrNull(alarm !== undefined ? alarm.statistic : update.pageHinkley.statistic),
      threshold: finiteOrNull(update.pageHinkley.threshold),
    },
    driftStatistics: {
      likelihood: statisticRecord(update.driftStatistics.likelihood),
      modelDistance: statisticRecord(update.driftStatistics.modelDistance),
      component: statisticRecord(update.driftStatistics.component),
      weights: statisticRecord(update.driftStatistics.weights),
    },
    drifting: { active: update.drifting.active, since: update.drifting.since, severity: finiteOrNull(update.drifting.severity), progress: finiteOrNull(update.drifting.progress) },
    iterations: update.iterations,
    converged: update.converged,
    warmStarted: update.warmStarted,
    restarted: update.restarted,
    reseeded: [...update.reseeded],
    weights: update.model.weights.map((w) => finiteOrNull(w) ?? 0),
    drift: update.drift.map((e) => e.kind),
    counts: { in: counts.in, labelled: counts.labelled, deadLettered: counts.deadLettered },
    fitSeconds: finiteOrNull(o.fitSeconds),
    lag: finiteOrNull(o.lag),
    offsets: o.offsets == null ? null : o.offsets.map((r) => ({ ...r })),
    sample: o.sample === false ? null : sampleWindow(window.points, window.n, window.d, update.labels, o.sample.maxPoints, o.sample.maxValues),
  };
}

/**
 * How each matched component moved from `previous` to `current` (index k is the same cluster in
 * both: components are matched after every update). Empty when K or D differ.
 *
 * @param previous - the model before the update
 * @param current - the model after it
 * @param metric - distance between Gaussians (the drift detector's)
 * @param threshold - a component whose distance is above it has `moved: true`
 * @returns one entry per component, the largest distance first
 */
export function componentShifts(previous: MixtureJSON, current: MixtureJSON, metric: ComponentMetric, threshold: number, labelIds?: readonly number[]): ComponentShift[] {
  if (previous.k !== current.k || previous.d !== current.d) return [];
  const a = paramsFromJSON(previous);
  const b = paramsFromJSON(current);
  let distances: Float64Array | null = null;
  try {
    distances = componentDistanceMatrix(a, b, metric);
  } catch {
    distances = null; // a covariance that is not positive definite: report the shifts without distances
  }
  const shifts: ComponentShift[] = [];
  for (let k = 0; k < a.k; k++) {
    const ma = componentMean(a, k);
    const mb = componentMean(b, k);
    let s = 0;
    for (let j = 0; j < a.d; j++) s += (mb[j] - ma[j]) ** 2;
    const distance = distances === null ? null : finiteOrNull(distances[k * a.k + k]);
    shifts.push({ index: k, label: labelIds?.[k] ?? k, meanShift: Math.sqrt(s), weightChange: b.weights[k] - a.weights[k], distance, moved: distance !== null && distance > threshold });
  }
  return shifts.sort((x, y) => (y.distance ?? -1) - (x.distance ?? -1) || y.meanShift - x.meanShift);
}

/**
 * The drift records of one window: one per alarm raised on it (none when it raised none).
 *
 * 1. Each alarm's kind, statistic and threshold come from the update.
 * 2. The matched components' shifts are computed against the previous model
 *    ({@link componentShifts}, with the detector's metric and model-distance threshold).
 *
 * ## Example
 * ```ts
 * import { from, lastValueFrom, toArray } from 'rxjs';
 * import { windowVectors, fitMixture, driftRecords } from 'emstream';
 *
 * const points = Array.from({ length: 1200 }, (_, i) => [(i % 2 === 0 ? 0 : 10) + (i >= 600 ? 30 : 0), Math.sin(i)]);
 * const updates = await lastValueFrom(from(points).pipe(windowVectors({ size: 100 }), fitMixture({ k: 2 }), toArray()));
 * for (let w = 1; w < updates.length; w++) {
 *   for (const r of driftRecords(updates[w], updates[w - 1].model, { pipelineId: 'demo' })) console.log(r.windowIndex, r.kind, r.components[0]?.meanShift);
 * // → 6 likelihood 30.00…
 * // → 6 model-distance 30.00…
 * // → 6 component 30.00…
 * // → 6 weights 30.00…
 * }
 * ```
 *
 * @param update - the fitted window
 * @param previous - the model before this update (the previous update's `model`), or null on the first
 * @param options - pipeline id, time, input offsets
 * @returns the records, in the order of the update's alarms
 * @throws EmstreamOptionsError when the options are invalid
 */
export function driftRecords(update: MixtureUpdate<unknown>, previous: MixtureJSON | null, options: DriftRecordOptions): DriftRecord[] {
  const o = parseOptions(driftOptionsSchema, options, 'driftRecords');
  if (update.drift.length === 0) return [];
  const detector = update.state.drift.options;
  const components = previous === null ? [] : componentShifts(previous, update.model, detector.metric, detector.distanceThreshold, update.labelIds);
  const detectedAt = o.detectedAt ?? Date.now();
  return update.drift.map((e) => ({
    format: 'emstream.drift',
    version: 1,
    pipelineId: o.pipelineId,
    windowIndex: o.windowIndex ?? update.windowIndex,
    modelVersion: update.version,
    kind: e.kind,
    statistic: finiteOrNull(e.statistic),
    threshold: finiteOrNull(e.threshold),
    detectedAt,
    offsets: o.offsets == null ? null : o.offsets.map((r) => ({ ...r })),
    components: components.map((c) => ({ ...c })),
    flagged: e.components === undefined ? [] : [...e.components],
  }));
}
