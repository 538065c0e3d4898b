/**
 * `npm run bench -- quality`: prequential accuracy of streaming EM on seeded streams (bench/streams.ts),
 * next to the true mixture and to scikit-learn's `GaussianMixture(warm_start=True)` refitted per window
 * (bench/sklearn_quality.py, when python3 — or $EMSTREAM_PYTHON — can import scikit-learn).
 *
 * Every window t ≥ 1 is labelled and scored by the model from before it (test-then-train); the table
 * gives the mean over those windows of the adjusted Rand index against the generating components and of
 * the predictive log-likelihood per point.
 *
 *   node --import tsx bench/quality.ts [stream …]     # or: npm run bench -- quality
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { StreamingOptions } from '../src/index.js';
import { generate, mean, runEmstream, scenarios, scorePredictions, scoreTruth, type Prequential, type StreamData } from './streams.js';

const python = process.env.EMSTREAM_PYTHON ?? 'python3';

/** The configuration benchmarked: emstream's defaults (K and the covariance type come from the stream). */
export const QUALITY_OPTIONS: Omit<StreamingOptions, 'k'> = { seed: 1 };

function sklearnVersion(): string | null {
  const r = spawnSync(python, ['-c', 'import sklearn; print(sklearn.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** scikit-learn's warm-start refit per window on the same stream. */
function runSklearn(data: StreamData, dir: string): Prequential {
  const s = data.scenario;
  const file = join(dir, `${s.name}.f64`);
  const all = new Float64Array(s.windows * s.size * s.d);
  data.windows.forEach((w, t) => all.set(w, t * s.size * s.d));
  writeFileSync(file, Buffer.from(all.buffer));
  const args = ['bench/sklearn_quality.py', '--data', file, '--windows', `${s.windows}`, '--size', `${s.size}`, '--d', `${s.d}`, '--k', `${s.k}`, '--cov', s.covarianceType, '--seed', `${s.seed}`];
  const r = spawnSync(python, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`sklearn_quality.py failed: ${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { labels: number[][]; logLikelihood: number[] };
  return scorePredictions(data, out.labels, out.logLikelihood);
}

const f3 = (x: number): string => (Math.abs(x) < 5e-4 ? 0 : x).toFixed(3);
const f2 = (x: number): string => x.toFixed(2);

export interface QualityRow {
  readonly stream: string;
  readonly emstream: { ari: number; logLikelihood: number; secondHalfAri: number };
  readonly sklearn: { ari: number; logLikelihood: number; secondHalfAri: number } | null;
  readonly truth: { ari: number; logLikelihood: number; secondHalfAri: number };
  readonly notes: string;
}

function summarise(p: Prequential): { ari: number; logLikelihood: number; secondHalfAri: number } {
  return { ari: mean(p.ari), logLikelihood: mean(p.logLikelihood), secondHalfAri: mean(p.ari.slice(Math.floor(p.ari.length / 2))) };
}

/** Runs every stream (or those named) and prints the Markdown table. */
export async function qualitySection(names: readonly string[] = []): Promise<QualityRow[]> {
  const sk = sklearnVersion();
  const list = scenarios().filter((s) => names.length === 0 || names.includes(s.name));
  console.log(`\n## Accuracy on streams (prequential; emstream defaults; scikit-learn ${sk ?? 'not available'} GaussianMixture(warm_start=True) refitted per window)\n`);
  console.log('| stream | windows × points | emstream ARI | sklearn warm refit ARI | true mixture ARI | emstream log-lik | sklearn log-lik | true log-lik | emstream ARI, 2nd half | sklearn, 2nd half | notes |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  const dir = mkdtempSync(join(tmpdir(), 'emstream-quality-'));
  const rows: QualityRow[] = [];
  try {
    for (const s of list) {
      const data = generate(s);
      let coldWins = 0;
      let restarts = 0;
      let reseeded = 0;
      let alarms = 0;
      const ours = runEmstream(data, QUALITY_OPTIONS, (fit, t) => {
        if (t > 0 && fit.restarted) restarts++;
        if (t > 0 && fit.restarted && !fit.warmStarted) coldWins++;
        reseeded += (fit as { reseeded?: readonly number[] }).reseeded?.length ?? 0;
        alarms += fit.drift.length;
      });
      const theirs = sk ? runSklearn(data, dir) : null;
      const row: QualityRow = {
        stream: s.name,
        emstream: summarise(ours),
        sklearn: theirs ? summarise(theirs) : null,
        truth: summarise(scoreTruth(data)),
        notes: `${restarts} restarts (${coldWins} cold won), ${reseeded} re-seeded, ${alarms} drift alarms`,
      };
      rows.push(row);
      const t = row.truth;
      const e = row.emstream;
      const k = row.sklearn;
      console.log(
        `| ${s.name} | ${s.windows} × ${s.size} | ${f3(e.ari)} | ${k ? f3(k.ari) : '—'} | ${f3(t.ari)} | ${f2(e.logLikelihood)} | ${k ? f2(k.logLikelihood) : '—'} | ${f2(t.logLikelihood)} | ${f3(e.secondHalfAri)} | ${k ? f3(k.secondHalfAri) : '—'} | ${row.notes} |`,
      );
    }
    // The same streams drawn with three other seeds: means over them, to show the table is not one lucky draw.
    const seeds = [11, 12, 13];
    console.log(`\nthe same streams drawn with seeds ${seeds.join(', ')} (mean ARI over the three; emstream / sklearn warm refit / true mixture; worst of the three emstream − sklearn):\n`);
    console.log('| stream | emstream ARI | sklearn warm refit ARI | true mixture ARI | worst emstream − sklearn | worst true − emstream |');
    console.log('|---|---|---|---|---|---|');
    for (const s of list) {
      const e: number[] = [];
      const k: number[] = [];
      const t: number[] = [];
      for (const seed of seeds) {
        const data = generate({ ...s, seed });
        e.push(mean(runEmstream(data, QUALITY_OPTIONS).ari));
        if (sk) k.push(mean(runSklearn(data, dir).ari));
        t.push(mean(scoreTruth(data).ari));
      }
      const worstVs = sk ? Math.min(...e.map((x, i) => x - k[i])) : NaN;
      const worstTrue = Math.max(...e.map((x, i) => t[i] - x));
      console.log(`| ${s.name} | ${f3(mean(e))} | ${sk ? f3(mean(k)) : '—'} | ${f3(mean(t))} | ${sk ? f3(worstVs) : '—'} | ${f3(worstTrue)} |`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await qualitySection(process.argv.slice(2).filter((a) => !a.startsWith('-')));
}
