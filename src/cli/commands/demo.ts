/**
 * `emstream demo [--out DIR]`: runs the in-process demo pipeline (pipelines/demo.ts, no Kafka),
 * printing one line per window and writing an SVG every few windows plus an index.html.
 */
import { accessSync, constants, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { lastValueFrom, tap } from 'rxjs';
import demo, { DEMO_POINTS, DEMO_WINDOW } from '../../../pipelines/demo.js';
import { paramsFromJSON } from '../../gmm/model.js';
import { Instrumentation } from '../../instrumentation.js';
import type { MixtureUpdate, InvalidVector } from '../../operators/types.js';
import { UsageError } from '../errors.js';
import { renderGalleryHtml, type GalleryFrame } from '../../viz/gallery.js';
import { computeBounds, renderMixtureSvg, type Bounds } from '../../viz/svg.js';

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
  readonly rejected: number;
  readonly seconds: number;
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
 *    with 1σ/2σ ellipses; finally index.html showing the frames in order.
 */
export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const started = performance.now();
  const out = resolve(options.out);
  mkdirSync(out, { recursive: true });
  const instrumentation = new Instrumentation();
  let rejected = 0;
  const onInvalid = (_: InvalidVector<unknown>): void => {
    rejected++;
  };
  const total = Math.ceil(DEMO_POINTS / DEMO_WINDOW);
  const frames: GalleryFrame[] = [];
  const driftWindows: number[] = [];
  let bounds: Bounds | null = null;
  let windows = 0;
  let points = 0;
  let last: MixtureUpdate<unknown> | null = null;

  const writeFrame = (u: MixtureUpdate<unknown>): void => {
    const file = `window-${String(u.windowIndex).padStart(3, '0')}.svg`;
    const drift = u.drift.map((e) => e.kind).join(', ');
    const svg = renderMixtureSvg({
      points: u.window.points,
      n: u.window.n,
      labels: u.labels,
      params: paramsFromJSON(u.model),
      title: `window ${u.windowIndex}: after EM iteration ${u.iterations}${u.restarted ? ' (restarted)' : ''}`,
      subtitle: `mean log-likelihood ${u.logLikelihood.toFixed(3)}${drift ? ` · drift: ${drift}` : ''}`,
      bounds: bounds!,
    });
    writeFileSync(join(out, file), svg);
    frames.push({ file, caption: `window ${u.windowIndex} · iteration ${u.iterations} · ll ${u.logLikelihood.toFixed(3)}${drift ? ` · drift (${drift})` : ''}` });
  };

  const updates = demo.build(demo.source!(), { instrumentation, onInvalid }).pipe(
    tap((u) => {
      windows++;
      points += u.window.n;
      bounds = grow(bounds, computeBounds(u.window.points, u.window.n, 0.1));
      if (u.drift.length > 0) driftWindows.push(u.windowIndex);
      const drift = u.drift.map((e) => `${e.kind} ${e.statistic.toFixed(2)}>${e.threshold}`).join('; ');
      options.write(
        `window ${String(u.windowIndex).padStart(3)}  n=${u.window.n}  iterations ${String(u.iterations).padStart(3)}  ` +
          `ll ${fmt(u.logLikelihood)}  predictive ${fmt(u.predictiveLogLikelihood)}  ${u.warmStarted ? 'warm' : 'cold'}` +
          `${u.restarted ? ' restart' : ''}  drift ${drift || '-'}`,
      );
      if (u.windowIndex % options.every === 0 || u.drift.length > 0) writeFrame(u);
      last = u;
      options.progress?.(windows, total);
    }),
  );
  await lastValueFrom(updates, { defaultValue: null });
  const final = last as MixtureUpdate<unknown> | null;
  if (final !== null && frames[frames.length - 1]?.file !== `window-${String(final.windowIndex).padStart(3, '0')}.svg`) writeFrame(final);
  writeFileSync(join(out, 'index.html'), renderGalleryHtml(frames, 'emstream demo: streaming EM on a drifting 2-D stream'));
  return { windows, points, frames: frames.map((f) => f.file), driftWindows, rejected, seconds: (performance.now() - started) / 1000 };
}

/**
 * Makes sure `--out` is a directory we can write into (creating it), before any work.
 *
 * @throws UsageError when it cannot be created or written
 */
function checkWritableDir(dir: string): void {
  const path = resolve(dir);
  try {
    mkdirSync(path, { recursive: true });
    accessSync(path, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'ENOTDIR' || code === 'EEXIST' ? 'a file is in the way' : code === 'EROFS' ? 'read-only file system' : (e as Error).message;
    throw new UsageError(`cannot write to --out ${dir} (${why}): give a directory you can write, e.g. --out ./demo-out`, { cause: e });
  }
}

/** Registers `emstream demo`. */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run the in-process demo pipeline (no Kafka): drifting 2-D stream → windowVectors → fitMixture, with SVG frames')
    .option('--out <dir>', 'output directory for SVG frames and index.html', 'demo-out')
    .option('--every <n>', 'write a frame every n windows', '4')
    .action(async (opts: { out: string; every: string }) => {
      const every = /^\s*\d+\s*$/.test(opts.every) ? Number(opts.every) : NaN;
      if (!Number.isSafeInteger(every) || every < 1) throw new UsageError(`--every must be a whole number ≥ 1 (a frame every n windows), got ${JSON.stringify(opts.every)}`);
      checkWritableDir(opts.out);
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
          `${summary.frames.length} SVG frames and index.html written to ${resolve(opts.out)}\n`,
      );
    });
}
