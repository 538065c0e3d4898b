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

/** What the page shows, read from its Chart.js charts (datasets and the elements drawn for them). */
export const READ_PAGE = `(() => {
  const chart = (id) => Chart.getChart(document.getElementById(id));
  const ll = chart('chart-likelihood');
  const driftIndex = ll.data.datasets.findIndex((d) => d.role === 'drift');
  const driftMeta = ll.getDatasetMeta(driftIndex);
  const area = ll.chartArea;
  const markers = [];
  for (let i = 0; i < driftMeta.data.length; i += 3) {
    const x = ll.data.datasets[driftIndex].data[i].x;
    const el = driftMeta.data[i];
    markers.push({ window: x, px: el.x, expectedPx: ll.scales.x.getPixelForValue(x), inside: el.x >= area.left && el.x <= area.right && !el.skip });
  }
  const mix = chart('chart-mixture');
  const role = (r) => mix.data.datasets.map((d, i) => ({ d, meta: mix.getDatasetMeta(i) })).filter((x) => x.d.role === r);
  const drawn = (xs) => xs.filter((x) => !x.meta.hidden && x.meta.data.length > 0 && x.meta.data.every((p) => Number.isFinite(p.x) && Number.isFinite(p.y))).length;
  return {
    windows: ll.data.datasets[0].data.map((p) => p.x),
    markers,
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
  markers: { window: number; px: number; expectedPx: number; inside: boolean }[];
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
