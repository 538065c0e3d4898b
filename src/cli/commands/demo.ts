/**
 * `emstream demo [--out DIR]`: runs the in-process demo pipeline (pipelines/demo.ts, no Kafka),
 * printing one line per window and writing an SVG every few windows plus an index.html that plays
 * them above the log-likelihood and drift charts.
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { lastValueFrom, tap } from 'rxjs';
import demo, { DEMO_POINTS, DEMO_WINDOW } from '../../../pipelines/demo.js';
import { driftMark, timelineRow } from '../../dashboard/state.js';
import { paramsFromJSON } from '../../gmm/model.js';
import { Instrumentation } from '../../instrumentation.js';
import { driftRecords, windowRecord, type WindowRecord } from '../../monitoring/history.js';
import type { MixtureUpdate, InvalidVector } from '../../operators/types.js';
import { copyChartJs, type DriftMark, type TimelineRow } from '../../viz/charts.js';
import { UsageError } from '../errors.js';
import { checkOutputDirectory, makeDirectory } from '../io.js';
import { renderGalleryHtml, type GalleryFrame } from '../../viz/gallery.js';
import { computeBounds, renderMixtureSvg, type Bounds } from '../../viz/svg.js';

/** The demo's scenario in a few sentences (shown by the demo page and by `emstream dashboard --demo`). */
export const DEMO_SCENARIO =
  'A seeded stream of 24 000 two-dimensional points, fitted in windows of 500 by warm-started EM with K = 4 components ' +
  '(past statistics halve every 2 windows; cold restarts compete when drift is flagged). Three clusters: the upper-left one ' +
  'moves steadily to the right, the lower one stays, and the right one splits in two half way through (from window 24 on).';

/** What the demo's page says it shows. */
export const DEMO_DESCRIPTION =
  `${DEMO_SCENARIO} Each frame shows a window: its points coloured by label, each component’s mean (×) with its 1σ (solid) ` +
  'and 2σ (dashed) ellipse, on the same axes for every frame.';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Output directory for SVG frames and index.html. */
  readonly out: string;
  /** Write a frame every this many windows (and on drift, and the last one). */
  readonly every: number;
  /** Where the per-window lines go. */
  readonly write: (line: string) => void;
  /** Progress indicator (stderr when it is a terminal). */
  readonly progress?: (done: number, total: number) => void;
}

/** Summary of a demo run. */
export interface DemoSummary {
  readonly windows: number;
  readonly points: number;
  readonly frames: string[];
  readonly driftWindows: number[];
  /** One row per window (what the page's charts draw). */
  readonly timeline: TimelineRow[];
  readonly rejected: number;
  readonly seconds: number;
}

/** What a frame needs, kept until the run ends (the axes are fixed from all windows). */
interface PendingFrame {
  readonly windowIndex: number;
  readonly points: Float64Array;
  readonly n: number;
  readonly labels: Int32Array;
  readonly model: MixtureUpdate<unknown>['model'];
  readonly iterations: number;
  readonly restarted: boolean;
  readonly logLikelihood: number;
  readonly drift: string;
}

function grow(b: Bounds | null, next: Bounds): Bounds {
  if (b === null) return next;
  return { minX: Math.min(b.minX, next.minX), maxX: Math.max(b.maxX, next.maxX), minY: Math.min(b.minY, next.minY), maxY: Math.max(b.maxY, next.maxY) };
}

function fmt(x: number | null, digits = 3): string {
  return x === null ? '—' : x.toFixed(digits);
}

/**
 * Runs the demo pipeline in process.
 *
 * 1. the pipeline's synthetic source → `build` (windowVectors → fitMixture);
 * 2. per update: one line (window, iterations, log-likelihood, predictive log-likelihood, drift);
 * 3. every `every` windows, on drift and at the end: an SVG of the window's points coloured by label
 *    with 1σ/2σ ellipses and axis titles, all frames on the same axes (the bounds of every window of the run);
 * 4. index.html: the scenario in a sentence, the frames as a player, and under it the log-likelihood
 *    and drift charts (Chart.js, copied into `assets/`) with the drift windows marked.
 */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const started = performance.now();
  const out = resolve(options.out);
  makeDirectory(out);
  const instrumentation = new Instrumentation();
  let rejected = 0;
  const onInvalid = (_: InvalidVector<unknown>): void => {
    rejected++;
  };
  const total = Math.ceil(DEMO_POINTS / DEMO_WINDOW);
  const pending: PendingFrame[] = [];
  const driftWindows: number[] = [];
  const rows: TimelineRow[] = [];
  const marks: DriftMark[] = [];
  let bounds: Bounds | null = null;
  let windows = 0;
  let points = 0;
  let last: MixtureUpdate<unknown> | null = null;
  let lastRecord: WindowRecord | null = null;

  const keepFrame = (u: MixtureUpdate<unknown>): void => {
    const { n } = u.window;
    pending.push({
      windowIndex: u.windowIndex,
      points: u.window.points.slice(0, 2 * n),
      n,
      labels: u.labels.slice(0, n),
      model: u.model,
      iterations: u.iterations,
      restarted: u.restarted,
      logLikelihood: u.logLikelihood,
      drift: u.drift.map((e) => e.kind).join(', '),
    });
  };

  const updates = demo.build(demo.source!(), { instrumentation, onInvalid }).pipe(
    tap((u) => {
      windows++;
      points += u.window.n;
      bounds = grow(bounds, computeBounds(u.window.points, u.window.n, 0.1));
      if (u.drift.length > 0) driftWindows.push(u.windowIndex);
      const record = windowRecord(u, { in: u.window.n + u.window.rejected, labelled: u.window.n, deadLettered: u.window.rejected }, { pipelineId: 'demo', sample: false });
      rows.push(timelineRow(record, lastRecord));
      lastRecord = record;
      for (const r of driftRecords(u, last?.model ?? null, { pipelineId: 'demo' })) marks.push(driftMark(r));
      const drift = u.drift.map((e) => `${e.kind} ${e.statistic.toFixed(2)}>${Number(e.threshold.toFixed(2))}`).join('; ');
      options.write(
        `window ${String(u.windowIndex).padStart(3)}  n=${u.window.n}  iterations ${String(u.iterations).padStart(3)}  ` +
          `ll ${fmt(u.logLikelihood)}  predictive ${fmt(u.predictiveLogLikelihood)}  ${u.warmStarted ? 'warm' : 'cold'}` +
          `${u.restarted ? ' restart' : ''}  drift ${drift || '-'}`,
      );
      if (u.windowIndex % options.every === 0 || u.drift.length > 0) keepFrame(u);
      last = u;
      options.progress?.(windows, total);
    }),
  );
  await lastValueFrom(updates, { defaultValue: null });
  const final = last as MixtureUpdate<unknown> | null;
  if (final !== null && pending[pending.length - 1]?.windowIndex !== final.windowIndex) keepFrame(final);

  const frames: GalleryFrame[] = [];
  for (const f of pending) {
    const file = `window-${String(f.windowIndex).padStart(3, '0')}.svg`;
    const svg = renderMixtureSvg({
      points: f.points,
      n: f.n,
      labels: f.labels,
      params: paramsFromJSON(f.model),
      title: `window ${f.windowIndex}: after EM iteration ${f.iterations}${f.restarted ? ' (restarted)' : ''}`,
      subtitle: `mean log-likelihood ${f.logLikelihood.toFixed(3)}${f.drift ? ` · drift: ${f.drift}` : ''}`,
      bounds: bounds!,
      xLabel: 'x₁',
      yLabel: 'x₂',
    });
    writeFileSync(join(out, file), svg);
    frames.push({ file, windowIndex: f.windowIndex, caption: `window ${f.windowIndex} · iteration ${f.iterations} · ll ${f.logLikelihood.toFixed(3)}${f.drift ? ` · drift (${f.drift})` : ''}` });
  }
  copyChartJs(join(out, 'assets'));
  writeFileSync(
    join(out, 'index.html'),
    renderGalleryHtml(frames, 'emstream demo: streaming EM on a drifting 2-D stream', { description: DEMO_DESCRIPTION, timeline: { rows, drift: marks } }),
  );
  return { windows, points, frames: frames.map((f) => f.file), driftWindows, timeline: rows, rejected, seconds: (performance.now() - started) / 1000 };
}

/** Registers `emstream demo`. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the in-process demo pipeline (no Kafka): drifting 2-D stream → windowVectors → fitMixture, with SVG frames')
    .option('--out <dir>', 'output directory for SVG frames and index.html', 'demo-out')
    .option('--every <n>', 'write a frame every n windows (and on every drift window, and the last)', '4')
    .action(async (opts: { out: string; every: string }) => {
      const every = /^\s*\d+\s*$/.test(opts.every) ? Number(opts.every) : NaN;
      if (!Number.isSafeInteger(every) || every < 1) throw new UsageError(`--every must be a whole number ≥ 1 (a frame every n windows), got ${JSON.stringify(opts.every)}`);
      checkOutputDirectory(opts.out, '--out');
      const tty = process.stderr.isTTY === true;
      const summary = await runDemo({
        out: opts.out,
        every,
        write: (line) => process.stdout.write(`${line}\n`),
        progress: (done, total) => {
          const width = 30;
          const filled = Math.round((done / total) * width);
          const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} windows`;
          if (tty) process.stderr.write(`\r${bar}${done === total ? '\n' : ''}`);
          else if (done === total || done % 10 === 0) process.stderr.write(`${bar}\n`);
        },
      });
      process.stdout.write(
        `\n${summary.windows} windows, ${summary.points} points in ${summary.seconds.toFixed(2)} s; drift flagged at windows ${summary.driftWindows.join(', ') || 'none'}\n` +
          `${summary.frames.length} SVG frames, index.html and its charts written to ${resolve(opts.out)}\n`,
      );
    });
}
