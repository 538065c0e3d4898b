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
import { launchChromium, openPage, outputDir, TIMELINE_VIEW, type TimelineView } from '../dashboard/browser.js';

const READ_TIMELINE = `(() => {
  const view = ${TIMELINE_VIEW};
  const charts = window.emstreamTimeline.charts.map((c) => c.chart);
  const marks = (chart, role) => {
    const i = chart.data.datasets.findIndex((d) => d.role === role);
    if (i < 0) return [];
    const out = [];
    for (let j = 0; j < chart.data.datasets[i].data.length; j += 3) out.push(chart.data.datasets[i].data[j].x);
    return out;
  };
  return {
    rows: charts[0].data.datasets[0].data.length,
    views: charts.map(view),
    cursor: charts.map((c) => marks(c, 'cursor')),
    counter: document.getElementById('player-counter').textContent,
    image: document.getElementById('player-img').getAttribute('src'),
    imageLoaded: document.getElementById('player-img').complete && document.getElementById('player-img').naturalWidth > 0,
  };
})()`;

interface Timeline {
  rows: number;
  views: TimelineView[];
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
    // one alarm per change: the moving cluster's onset and the split, each drawn by kind, on both charts
    expect(summary.driftWindows.length).toBeLessThanOrEqual(3);
    for (const view of shown.views) {
      expect([...new Set(view.alarms.map((m) => m.window))]).toEqual(summary.driftWindows);
      expect(view.alarms.every((m) => m.inside && m.label === `${m.kind} alarm`)).toBe(true);
    }
    // every statistic that can raise an alarm, against its threshold (the component and weights kinds included)
    const [likelihood, drift] = shown.views;
    expect(drift.series.map((x) => x.kind)).toEqual(['likelihood', 'model-distance', 'component', 'weights']);
    for (const x of drift.series) expect(x.values.slice(1).every((v) => v !== null && Number.isFinite(v)), x.label).toBe(true);
    expect(drift.series[2].values.filter((v) => v !== null && v > 1).length, 'the component statistic crosses its threshold').toBeGreaterThan(0);
    expect(drift.threshold[0].every((v) => v === 1)).toBe(true);
    expect(drift.y.min).toBe(0);
    expect(drift.y.max).toBeLessThanOrEqual(3);
    // the drifting state is shaded from the first onset on
    expect(drift.drifting[0]).toBe(summary.driftWindows[0]);
    expect(summary.timeline.filter((r) => r.drifting).map((r) => r.windowIndex)).toEqual(drift.drifting);
    expect(likelihood.series.map((x) => x.label)).toEqual(['fitted', 'predictive (previous model)', 'expected complete-data']);
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
