/**
 * The in-process demo's page (npm start): frames on fixed axes with axis titles, the scenario in a
 * sentence, and the log-likelihood / drift charts under the player with the drift windows marked,
 * checked in headless Chromium.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_DESCRIPTION, runDemo, type DemoSummary } from '../../src/cli/commands/demo.js';
import { chartJsFile } from '../../src/viz/charts.js';
import { launchChromium, openPage, outputDir } from '../dashboard/browser.js';

const READ_TIMELINE = `(() => {
  const charts = window.emstreamTimeline.charts.map((c) => c.chart);
  const marks = (chart, role) => {
    const i = chart.data.datasets.findIndex((d) => d.role === role);
    if (i < 0) return [];
    const meta = chart.getDatasetMeta(i);
    const out = [];
    for (let j = 0; j < meta.data.length; j += 3) out.push({ x: chart.data.datasets[i].data[j].x, drawn: !meta.data[j].skip && meta.data[j].x >= chart.chartArea.left && meta.data[j].x <= chart.chartArea.right });
    return out;
  };
  return {
    rows: charts[0].data.datasets[0].data.length,
    drift: charts.map((c) => marks(c, 'drift')),
    cursor: charts.map((c) => marks(c, 'cursor').map((m) => m.x)),
    counter: document.getElementById('player-counter').textContent,
    image: document.getElementById('player-img').getAttribute('src'),
    imageLoaded: document.getElementById('player-img').complete && document.getElementById('player-img').naturalWidth > 0,
  };
})()`;

interface Timeline {
  rows: number;
  drift: { x: number; drawn: boolean }[][];
  cursor: number[][];
  counter: string;
  image: string;
  imageLoaded: boolean;
}

describe('the demo page', () => {
  const out = outputDir('demo');
  let summary: DemoSummary;
  let chromium: Awaited<ReturnType<typeof launchChromium>>;

  beforeAll(async () => {
    summary = await runDemo({ out, every: 4, write: () => {} });
    chromium = await launchChromium();
  }, 120_000);
  afterAll(async () => {
    await chromium?.close();
  });

  it('draws every frame on the same axes, with axis titles', () => {
    expect(summary.frames.length).toBeGreaterThan(5);
    const axes = summary.frames.map((f) => {
      const svg = readFileSync(join(out, f), 'utf8');
      expect(svg).toContain('<text class="x-label"');
      expect(svg).toMatch(/<text class="x-label"[^>]*>x₁<\/text>/);
      expect(svg).toMatch(/<text class="y-label"[^>]*>x₂<\/text>/);
      const at = svg.indexOf('<g class="axes"');
      return svg.slice(at, svg.indexOf('</g>', at));
    });
    for (const a of axes) expect(a).toBe(axes[0]);
    expect(readFileSync(join(out, 'assets', 'chart.umd.min.js')).equals(readFileSync(chartJsFile()))).toBe(true);
    const html = readFileSync(join(out, 'index.html'), 'utf8');
    expect(html).toContain(DEMO_DESCRIPTION.slice(0, 60));
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('shows the log-likelihood and drift charts under the player, drift windows marked', async () => {
    expect(summary.driftWindows.length, 'the demo stream drifts').toBeGreaterThan(0);
    expect(summary.timeline).toHaveLength(summary.windows);
    const { page, errors } = await openPage(chromium.browser, 1000, 1500);
    const url = pathToFileURL(join(out, 'index.html')).href;
    expect(existsSync(join(out, 'index.html'))).toBe(true);
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForFunction('window.emstreamTimeline !== undefined', { timeout: 30_000 });
    let shown = (await page.evaluate(READ_TIMELINE)) as Timeline;
    expect(shown.rows).toBe(summary.windows);
    for (const marks of shown.drift) {
      expect([...new Set(marks.map((m) => m.x))]).toEqual(summary.driftWindows);
      expect(marks.every((m) => m.drawn)).toBe(true);
    }
    expect(shown.cursor).toEqual([[0], [0]]);
    expect(shown.imageLoaded).toBe(true);
    await page.screenshot({ path: join(out, 'demo-page.png') });

    await page.click('#player-next');
    shown = (await page.evaluate(READ_TIMELINE)) as Timeline;
    expect(shown.image).toBe(summary.frames[1]);
    const second = Number(/window-(\d+)\.svg/.exec(summary.frames[1])![1]);
    expect(shown.cursor).toEqual([[second], [second]]);
    expect(shown.counter).toBe(`2 / ${summary.frames.length}`);
    expect(errors).toEqual([]);
  });
});
