/**
 * A real browser for the page tests: Debian's headless Chromium driven by puppeteer-core (`.ci/run`
 * installs the `chromium` package when it is missing).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The folder a test writes its screenshots to (`test/.output/NAME`, ignored by git). */
export function outputDir(name: string): string {
  const dir = fileURLToPath(new URL(`../.output/${name}/`, import.meta.url));
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A headless Chromium with a fresh profile; `close()` also removes the profile. */
export async function launchChromium(): Promise<{ browser: Browser; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium package (apt-get install -y chromium; .ci/run does it) or set CHROMIUM_PATH`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'emstream-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', `--user-data-dir=${profile}`],
  });
  return {
    browser,
    async close() {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** Opens a page that records its errors (uncaught exceptions and console errors). */
export async function openPage(browser: Browser, width = 1400, height = 1300): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e instanceof Error ? e.message : String(e)}`));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`));
  await page.setViewport({ width, height });
  return { page, errors };
}

/**
 * How a timeline chart draws its alarms, its series and its y range (browser-side source: `TIMELINE_VIEW(chart)`):
 * the alarm lines of every kind (with where they are drawn), the series with their alarm kind, the y axis'
 * limits, and the markers of values beyond it.
 */
export const TIMELINE_VIEW = `function (c) {
  const area = c.chartArea;
  const alarms = [];
  c.data.datasets.forEach((d, i) => {
    if (d.role !== 'drift') return;
    const meta = c.getDatasetMeta(i);
    for (let j = 0; j < d.data.length; j += 3) {
      const x = d.data[j].x;
      const el = meta.data[j];
      alarms.push({ kind: d.kind, label: d.label, colour: d.borderColor, window: x, px: el.x, expectedPx: c.scales.x.getPixelForValue(x), inside: el.x >= area.left && el.x <= area.right && !el.skip });
    }
  });
  alarms.sort((a, b) => a.window - b.window || a.kind.localeCompare(b.kind));
  const clipped = [];
  c.data.datasets.forEach((d, i) => {
    if (d.role !== 'clipped') return;
    const meta = c.getDatasetMeta(i);
    d.data.forEach((p, j) => clipped.push({ window: p.x, value: p.value, up: p.up, inside: meta.data[j].y >= area.top - 1 && meta.data[j].y <= area.bottom + 1 && meta.data[j].x >= area.left && meta.data[j].x <= area.right }));
  });
  return {
    alarms,
    series: c.data.datasets.filter((d) => !d.role).map((d) => ({ label: d.label, kind: d.kind ?? null, values: d.data.map((p) => p.y) })),
    threshold: c.data.datasets.filter((d) => d.role === 'threshold').map((d) => d.data.map((p) => p.y)),
    drifting: c.data.datasets.filter((d) => d.role === 'drifting').flatMap((d) => d.data.filter((p, j) => j % 3 === 0).map((p) => p.x + 0.5)),
    y: { min: c.scales.y.min, max: c.scales.y.max },
    clipped,
  };
}`;

/** What {@link TIMELINE_VIEW} returns. */
export interface TimelineView {
  alarms: { kind: string; label: string; colour: string; window: number; px: number; expectedPx: number; inside: boolean }[];
  series: { label: string; kind: string | null; values: (number | null)[] }[];
  threshold: number[][];
  drifting: number[];
  y: { min: number; max: number };
  clipped: { window: number; value: number; up: boolean; inside: boolean }[];
}

/** What the page shows, read from its Chart.js charts (datasets and the elements drawn for them). */
export const READ_PAGE = `(() => {
  const chart = (id) => Chart.getChart(document.getElementById(id));
  const view = ${TIMELINE_VIEW};
  const ll = chart('chart-likelihood');
  const mix = chart('chart-mixture');
  const role = (r) => mix.data.datasets.map((d, i) => ({ d, meta: mix.getDatasetMeta(i) })).filter((x) => x.d.role === r);
  const drawn = (xs) => xs.filter((x) => !x.meta.hidden && x.meta.data.length > 0 && x.meta.data.every((p) => Number.isFinite(p.x) && Number.isFinite(p.y))).length;
  return {
    windows: ll.data.datasets[0].data.map((p) => p.x),
    likelihood: view(ll),
    drift: view(chart('chart-drift')),
    sigma1: drawn(role('sigma1')),
    sigma2: drawn(role('sigma2')),
    means: drawn(role('mean')),
    points: role('points').reduce((a, x) => a + x.meta.data.length, 0),
    xTitle: mix.options.scales.x.title.text,
    caption: document.getElementById('mixture-caption').textContent,
    summary: document.getElementById('summary').textContent,
    connection: document.getElementById('connection').textContent,
    driftRows: document.querySelectorAll('#drift-rows tr').length,
  };
})()`;

export const WINDOWS_ON_PAGE = `Chart.getChart(document.getElementById('chart-likelihood')).data.datasets[0]?.data.length ?? 0`;

/** What {@link READ_PAGE} returns. */
export interface PageView {
  windows: number[];
  likelihood: TimelineView;
  drift: TimelineView;
  sigma1: number;
  sigma2: number;
  means: number;
  points: number;
  xTitle: string;
  caption: string;
  summary: string;
  connection: string;
  driftRows: number;
}
