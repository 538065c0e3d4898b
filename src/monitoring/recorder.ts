/**
 * The window-history and drift records of a running pipeline, with what only the run knows: input offsets, counts,
 * fit time (from `em.window.fitted`), consumer lag (from `kafka.fetch`), and the previous model for the drift
 * records' component shifts. Drift alarms are logged at warn with that context.
 *
 * @module
 */
import type { Logger } from 'pino';
import type { MixtureJSON } from '../gmm/model.js';
import type { EventSource } from '../instrumentation.js';
import { partitionKey } from '../offsets.js';
import type { MixtureUpdate } from '../operators/types.js';
import { driftRecords, offsetRanges, windowRecord, type DriftRecord, type WindowRecord, type WindowRecordOptions } from './history.js';

/** Options of {@link WindowRecorder}. */
export interface WindowRecorderOptions {
  /** Key of the messages: the pipeline's id. */
  readonly pipelineId: string;
  /** Build window records (for a window-history topic). */
  readonly windows?: boolean;
  /** Build drift records on drift windows (for a drift topic); they are also built to be logged when `logger` logs warn. */
  readonly drift?: boolean;
  /** Fit times (`em.window.fitted`) and consumer lag (`kafka.fetch`) are read from it, when `windows`. */
  readonly instrumentation?: EventSource;
  /** The model before the first window (a restored one), for the first drift records' component shifts. */
  readonly previousModel?: MixtureJSON | null;
  /** Dead letters so far (of any reason): a window's count is the difference since the previous window. Default: the window's rejected points. */
  readonly deadLettered?: () => number;
  /** Sample bounds of the window records (default 100 points, 400 coordinates; `false` for none). */
  readonly sample?: WindowRecordOptions['sample'];
  /** Drift alarms are logged here at warn. */
  readonly logger?: Logger;
}

/** The records of one window. */
export interface WindowRecords {
  /** Null when window records are not built. */
  readonly window: WindowRecord | null;
  /** One per drift alarm (usually none; none either unless `drift` or a logger that logs warn). */
  readonly drift: readonly DriftRecord[];
}

/** Most fit times kept waiting for their update (a pipeline with several fitMixture emits more events than updates). */
const MAX_PENDING_FITS = 64;

/**
 * Builds each window's records once, in stream order.
 *
 * 1. {@link observe} each update in order (the runner does, before handing it to the delivery); a second call with
 *    the same update returns the same records (the window-history and drift outputs both ask).
 * 2. Window records (when `windows`): {@link windowRecord} with the window index written in messages, the input
 *    offsets of the window ({@link offsetRanges}), counts in = labelled + dead-lettered since the previous
 *    window, the fit time of the matching `em.window.fitted`, and the consumer lag (the sum over partitions of
 *    the last `kafka.fetch`).
 * 3. Drift records (on windows with alarms): {@link driftRecords} against the previous update's model (or the
 *    restored one), each logged at warn with the window, version, kind, statistic, threshold, offsets and the
 *    components that moved.
 *
 * ## Example
 * ```ts
 * import { from, lastValueFrom, toArray } from 'rxjs';
 * import { windowVectors, fitMixture, WindowRecorder } from 'emstream';
 *
 * const points = Array.from({ length: 1200 }, (_, i) => [(i % 2 === 0 ? 0 : 10) + (i >= 600 ? 30 : 0), Math.sin(i)]);
 * const updates = await lastValueFrom(from(points).pipe(windowVectors({ size: 100 }), fitMixture({ k: 2 }), toArray()));
 * const recorder = new WindowRecorder({ pipelineId: 'demo', windows: true, drift: true });
 * const drift = updates.flatMap((u) => recorder.observe(u).drift);
 * console.log(drift.map((r) => `${r.kind}@${r.windowIndex}`).join(' ')); // → likelihood@6 model-distance@6 component@6 weights@6
 * recorder.close();
 * ```
 */
export class WindowRecorder {
  private readonly options: WindowRecorderOptions;
  private previous: MixtureJSON | null;
  private last: { update: MixtureUpdate<unknown>; records: WindowRecords } | null = null;
  private deadLetters = 0;
  private readonly fits = new Map<number, number>();
  private readonly lags = new Map<string, number>();
  private readonly unsubscribe: (() => void)[] = [];

  /** @param options - pipeline id, what to build, where fit times and lag come from */
  constructor(options: WindowRecorderOptions) {
    this.options = options;
    this.previous = options.previousModel ?? null;
    this.deadLetters = options.deadLettered?.() ?? 0;
    const events = options.instrumentation;
    if (options.windows === true && events !== undefined) {
      this.unsubscribe.push(
        events.on('em.window.fitted', (e) => {
          this.fits.set(e.windowIndex, e.durationMs);
          if (this.fits.size > MAX_PENDING_FITS) this.fits.delete(this.fits.keys().next().value!);
        }),
        events.on('kafka.fetch', (e) => {
          let lag: number;
          try {
            lag = Number(BigInt(e.highWatermark) - BigInt(e.lastOffset) - 1n);
          } catch {
            return;
          }
          this.lags.set(partitionKey(e.topic, e.partition), Math.max(0, lag));
        }),
        events.on('kafka.rebalance', (e) => {
          for (const { topic, partitions } of e.revoked) for (const p of partitions) this.lags.delete(partitionKey(topic, p));
        }),
      );
    }
  }

  /**
   * The records of a window (built on the first call for this update, in stream order).
   *
   * @param update - the window's update
   * @param windowIndex - the window index written in messages (default the update's)
   * @returns the window record (null unless `windows`) and the drift records
   */
  observe(update: MixtureUpdate<unknown>, windowIndex: number = update.windowIndex): WindowRecords {
    if (this.last !== null && this.last.update === update) return this.last.records;
    const { pipelineId, logger } = this.options;
    const logDrift = logger !== undefined && logger.isLevelEnabled('warn');
    const wantDrift = update.drift.length > 0 && (this.options.drift === true || logDrift);
    const needOffsets = this.options.windows === true || wantDrift;
    const offsets = needOffsets ? offsetRanges(update.window.records) : null;
    const now = Date.now();
    let window: WindowRecord | null = null;
    const deadLetters = this.options.deadLettered?.();
    const deadLettered = deadLetters === undefined ? update.window.rejected : Math.max(0, deadLetters - this.deadLetters);
    if (deadLetters !== undefined) this.deadLetters = deadLetters;
    if (this.options.windows === true) {
      const ms = this.fits.get(update.windowIndex);
      this.fits.delete(update.windowIndex);
      let lag: number | null = null;
      if (this.lags.size > 0) {
        lag = 0;
        for (const l of this.lags.values()) lag += l;
      }
      const labelled = update.labels.length;
      window = windowRecord(
        update,
        { in: labelled + deadLettered, labelled, deadLettered },
        { pipelineId, windowIndex, fittedAt: now, fitSeconds: ms === undefined ? null : ms / 1000, lag, offsets, sample: this.options.sample ?? { maxPoints: 100, maxValues: 400 } },
      );
    }
    let drift: DriftRecord[] = [];
    if (wantDrift) {
      drift = driftRecords(update, this.previous, { pipelineId, windowIndex, detectedAt: now, offsets });
      if (logDrift) {
        for (const r of drift) {
          const moved = r.components.filter((c) => c.moved).map((c) => ({ label: c.label, meanShift: +c.meanShift.toPrecision(4), weightChange: +c.weightChange.toPrecision(4) }));
          logger.warn(
            { windowIndex: r.windowIndex, modelVersion: r.modelVersion, kind: r.kind, statistic: r.statistic, threshold: r.threshold, offsets: r.offsets, moved, flagged: r.flagged },
            `drift detected: ${r.kind} on window ${r.windowIndex} (statistic ${r.statistic === null ? 'n/a' : r.statistic.toPrecision(4)} > threshold ${r.threshold === null ? 'n/a' : r.threshold.toPrecision(4)})`,
          );
        }
      }
    }
    this.previous = update.model;
    const records: WindowRecords = { window, drift };
    this.last = { update, records };
    return records;
  }

  /** Stops listening to the instrumentation. */
  close(): void {
    for (const u of this.unsubscribe) u();
    this.unsubscribe.length = 0;
  }
}
