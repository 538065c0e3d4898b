/**
 * What a dashboard has received, kept bounded, and the updates to push to its pages.
 *
 * @module
 */
import type { MixtureJSON } from '../gmm/model.js';
import type { DriftRecord, WindowRecord, WindowSample } from '../monitoring/history.js';
import type { DriftMark, MixtureView, TimelineRow } from '../viz/charts.js';
import type { Bounds } from '../viz/svg.js';
import { mixtureView, projectionFor, type Projection } from './projection.js';
import type { DashboardMessage } from './source.js';

/** Whether the source still sends. */
export interface DashboardStatus {
  readonly state: 'live' | 'ended' | 'failed';
  readonly message: string;
}

/** Everything a page needs to draw from scratch. */
export interface DashboardSnapshot {
  readonly title: string;
  readonly description: string;
  readonly rows: readonly TimelineRow[];
  readonly drift: readonly DriftMark[];
  readonly mixture: MixtureView | null;
  readonly status: DashboardStatus;
  /** Windows received in total (rows may hold only the latest `maxWindows`). */
  readonly windows: number;
  /** Most rows a page keeps. */
  readonly maxWindows: number;
}

/** An update for the pages: an event name and its JSON data. */
export type DashboardDelta =
  | { readonly event: 'window'; readonly data: TimelineRow }
  | { readonly event: 'drift'; readonly data: DriftMark }
  | { readonly event: 'mixture'; readonly data: MixtureView }
  | { readonly event: 'status'; readonly data: DashboardStatus }
  | { readonly event: 'snapshot'; readonly data: DashboardSnapshot };

/** Options of {@link DashboardState}. */
export interface DashboardStateOptions {
  readonly title: string;
  readonly description?: string;
  /** Windows kept (the oldest are dropped; default 10 000). */
  readonly maxWindows?: number;
  /** Drift alarms kept (default 1000). */
  readonly maxDrift?: number;
}

/** Windows the throughput is averaged over. */
export const RATE_WINDOWS = 5;

/**
 * A window record as a timeline row. The throughput is the records taken in by the last windows (up to
 * {@link RATE_WINDOWS}, this one included) divided by the time they took: from the fit of the window before
 * them to this one's (null for the first window, a replayed one, or windows fitted at the same instant).
 *
 * @param r - the window record
 * @param previous - the records before it, oldest first (the last one is the window just before), or null
 * @returns the row
 */
export function timelineRow(r: WindowRecord, previous: WindowRecord | readonly WindowRecord[] | null): TimelineRow {
  const before = previous === null ? [] : Array.isArray(previous) ? (previous as readonly WindowRecord[]) : [previous as WindowRecord];
  // The span: r and the consecutive windows before it (increasing indices), RATE_WINDOWS at most; `from` is the one just before the span.
  let records = r.counts.in;
  let counted = 1;
  let from: WindowRecord | null = null;
  for (let j = before.length - 1; j >= 0; j--) {
    const b = before[j];
    if (b.windowIndex >= (from ?? r).windowIndex) break;
    if (from !== null) {
      records += from.counts.in;
      counted++;
    }
    from = b;
    if (counted === RATE_WINDOWS) break;
  }
  const dt = from === null ? 0 : (r.fittedAt - from.fittedAt) / 1000;
  return {
    windowIndex: r.windowIndex,
    modelVersion: r.modelVersion,
    fittedAt: r.fittedAt,
    n: r.n,
    iterations: r.iterations,
    restarted: r.restarted,
    logLikelihood: r.logLikelihood,
    predictiveLogLikelihood: r.predictiveLogLikelihood,
    expectedLogLikelihood: r.expectedLogLikelihood,
    modelDistance: r.modelDistance,
    distanceThreshold: r.distanceThreshold,
    pageHinkley: r.driftStatistics?.likelihood.statistic ?? r.pageHinkley.statistic,
    pageHinkleyThreshold: r.driftStatistics?.likelihood.threshold ?? r.pageHinkley.threshold,
    componentStatistic: r.driftStatistics?.component.statistic ?? null,
    componentThreshold: r.driftStatistics?.component.threshold ?? null,
    weightsStatistic: r.driftStatistics?.weights.statistic ?? null,
    weightsThreshold: r.driftStatistics?.weights.threshold ?? null,
    drifting: r.drifting?.active ?? null,
    weights: r.weights,
    rate: from !== null && r.windowIndex > from.windowIndex && dt > 0 ? records / dt : null,
    lag: r.lag,
  };
}

/**
 * A drift record as a mark on the time axis.
 *
 * @param r - the drift record
 * @returns the mark, with the labels of the components that moved: those a `component` alarm names, else those
 *   whose distance was above the threshold
 */
export function driftMark(r: DriftRecord): DriftMark {
  const flagged = r.flagged ?? [];
  return {
    windowIndex: r.windowIndex,
    modelVersion: r.modelVersion,
    kind: r.kind,
    statistic: r.statistic,
    threshold: r.threshold,
    moved: flagged.length > 0 ? [...flagged] : r.components.filter((c) => c.moved).map((c) => c.label ?? c.index),
  };
}

/**
 * The dashboard's memory.
 *
 * 1. A window record becomes a {@link TimelineRow} (throughput = records in over the last
 *    {@link RATE_WINDOWS} windows / the time they took). Rows stay ordered by window index: a record for a window already shown (a
 *    replay after a restart) replaces it and the pages get a fresh snapshot.
 * 2. A drift record becomes a {@link DriftMark}; the same window and kind again replaces it.
 * 3. The latest model and the latest window sample make the mixture picture: the projection is
 *    fixed by the first model (and again only if the dimension changes), the limits only grow.
 *
 * `apply` returns what to push to the pages.
 */
export class DashboardState {
  private readonly title: string;
  private readonly description: string;
  private readonly maxWindows: number;
  private readonly maxDrift: number;
  private rows: TimelineRow[] = [];
  private drift: DriftMark[] = [];
  private lastRecord: WindowRecord | null = null;
  /** The latest records in window order (the throughput's span). */
  private recent: WindowRecord[] = [];
  private windows = 0;
  private model: { windowIndex: number; version: number; model: MixtureJSON } | null = null;
  private sample: WindowSample | null = null;
  private projection: Projection | null = null;
  private bounds: Bounds | null = null;
  private view: MixtureView | null = null;
  private status: DashboardStatus = { state: 'live', message: 'waiting for windows' };

  constructor(options: DashboardStateOptions) {
    this.title = options.title;
    this.description = options.description ?? '';
    this.maxWindows = options.maxWindows ?? 10_000;
    this.maxDrift = options.maxDrift ?? 1000;
  }

  /** Takes one message; returns the updates for the pages. */
  apply(message: DashboardMessage): DashboardDelta[] {
    switch (message.type) {
      case 'window':
        return this.applyWindow(message.record);
      case 'drift': {
        const mark = driftMark(message.record);
        const same = this.drift.findIndex((m) => m.windowIndex === mark.windowIndex && m.kind === mark.kind);
        if (same >= 0) {
          this.drift[same] = mark;
          return [{ event: 'snapshot', data: this.snapshot() }];
        }
        this.drift.push(mark);
        this.drift.sort((a, b) => a.windowIndex - b.windowIndex);
        if (this.drift.length > this.maxDrift) this.drift.splice(0, this.drift.length - this.maxDrift);
        return [{ event: 'drift', data: mark }];
      }
      case 'model': {
        const m = this.model;
        if (m !== null && (message.windowIndex < m.windowIndex || (message.windowIndex === m.windowIndex && message.version < m.version))) return [];
        this.model = { windowIndex: message.windowIndex, version: message.version, model: message.model };
        return this.redraw();
      }
    }
  }

  private applyWindow(r: WindowRecord): DashboardDelta[] {
    this.windows++;
    const row = timelineRow(r, this.recent);
    const newest = this.recent[this.recent.length - 1];
    if (newest !== undefined && r.windowIndex <= newest.windowIndex) this.recent = []; // a replay: the span starts again
    this.recent.push(r);
    if (this.recent.length > RATE_WINDOWS) this.recent.shift();
    const deltas: DashboardDelta[] = [];
    const last = this.rows[this.rows.length - 1];
    if (last === undefined || row.windowIndex > last.windowIndex) {
      this.rows.push(row);
      if (this.rows.length > this.maxWindows) this.rows.splice(0, this.rows.length - this.maxWindows);
      deltas.push({ event: 'window', data: row });
    } else {
      const at = this.rows.findIndex((x) => x.windowIndex >= row.windowIndex);
      if (this.rows[at].windowIndex === row.windowIndex) this.rows[at] = row;
      else this.rows.splice(at, 0, row);
      deltas.push({ event: 'snapshot', data: this.snapshot() });
    }
    if (this.lastRecord === null || r.windowIndex >= this.lastRecord.windowIndex) {
      this.lastRecord = r;
      if (r.sample !== null) this.sample = r.sample;
      deltas.push(...this.redraw());
    }
    if (this.status.message === 'waiting for windows') {
      this.status = { state: 'live', message: 'receiving windows' };
      deltas.push({ event: 'status', data: this.status });
    }
    return deltas;
  }

  private redraw(): DashboardDelta[] {
    if (this.model === null) return [];
    const { model } = this.model;
    if (this.projection === null || this.projection.d !== model.d) {
      this.projection = projectionFor(model);
      this.bounds = null;
    }
    const sample = this.sample !== null && this.sample.d === model.d ? this.sample : null;
    const { view, bounds } = mixtureView(model, this.projection, sample, this.bounds, { windowIndex: this.model.windowIndex, modelVersion: this.model.version });
    this.bounds = bounds;
    this.view = view;
    return [{ event: 'mixture', data: view }];
  }

  /** The source ended or failed: returns the update for the pages. */
  end(error?: unknown): DashboardDelta[] {
    this.status =
      error === undefined
        ? { state: 'ended', message: `the stream ended after ${this.windows} windows` }
        : { state: 'failed', message: `the source failed: ${error instanceof Error ? error.message : String(error)}` };
    return [{ event: 'status', data: this.status }];
  }

  /** Everything received so far. */
  snapshot(): DashboardSnapshot {
    return {
      title: this.title,
      description: this.description,
      rows: this.rows.slice(),
      drift: this.drift.slice(),
      mixture: this.view,
      status: this.status,
      windows: this.windows,
      maxWindows: this.maxWindows,
    };
  }
}
