/**
 * The dashboard in a real browser: an in-process stream whose cluster jumps is served live; headless
 * Chromium must receive every window, mark the drift after the jump, and draw K ellipses.
 */
import { join } from 'node:path';
import { Subject } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from '../../src/dashboard/server.js';
import { mixtureUpdateSource } from '../../src/dashboard/source.js';
import type { MixtureUpdate } from '../../src/operators/types.js';
import { READ_PAGE, WINDOWS_ON_PAGE, launchChromium, openPage, outputDir, type PageView } from './browser.js';
import { JUMP_WINDOW, WINDOWS, WINDOW_SIZE, jumpingUpdates } from './streams.js';

describe('the dashboard in headless Chromium', () => {
  let chromium: Awaited<ReturnType<typeof launchChromium>>;
  let dashboard: Dashboard;
  let updates: MixtureUpdate<unknown>[];
  const subject = new Subject<MixtureUpdate<unknown>>();

  beforeAll(async () => {
    ({ updates } = await jumpingUpdates(3));
    dashboard = await startDashboard({
      source: mixtureUpdateSource(subject, { title: 'emstream dashboard: a cluster jumps', description: `Two clusters in 3-D; the first jumps at window ${JUMP_WINDOW}.` }),
      port: 0,
    });
    chromium = await launchChromium();
  }, 120_000);

  afterAll(async () => {
    await chromium?.close();
    await dashboard?.close();
  });

  it('receives the windows live, marks the drift after the jump and draws K ellipses', async () => {
    for (const u of updates.slice(0, 5)) subject.next(u);
    const { page, errors } = await openPage(chromium.browser);
    await page.goto(dashboard.url, { waitUntil: 'load' });
    await page.waitForFunction(`${WINDOWS_ON_PAGE} === 5`, { timeout: 30_000 });
    expect(dashboard.clients()).toBe(1);
    // the rest arrives while the page is open
    for (const u of updates.slice(5)) {
      subject.next(u);
      await new Promise((r) => setTimeout(r, 15));
    }
    await page.waitForFunction(`${WINDOWS_ON_PAGE} === ${WINDOWS}`, { timeout: 30_000 });
    await page.waitForFunction(`document.getElementById('mixture-caption').textContent.startsWith('window ${WINDOWS - 1} ')`, { timeout: 30_000 });
    const shown = (await page.evaluate(READ_PAGE)) as PageView;
    await page.screenshot({ path: join(outputDir('dashboard'), 'dashboard.png'), fullPage: true });

    expect(shown.windows).toEqual(Array.from({ length: WINDOWS }, (_, i) => i));
    const alarms = updates.flatMap((u) => u.drift.map((e) => ({ window: e.windowIndex, kind: e.kind })));
    expect(alarms.length, 'the jump raises drift').toBeGreaterThan(0);
    // every alarm is a line of its kind's colour, labelled by kind, on the likelihood chart and on the drift chart
    for (const view of [shown.likelihood, shown.drift]) {
      expect(view.alarms.map((m) => ({ window: m.window, kind: m.kind }))).toEqual([...alarms].sort((a, b) => a.window - b.window || a.kind.localeCompare(b.kind)));
      for (const m of view.alarms) {
        expect(m.window, 'no marker before the jump').toBeGreaterThanOrEqual(JUMP_WINDOW);
        expect(m.inside, `marker at window ${m.window} is drawn inside the plot`).toBe(true);
        expect(m.px).toBeCloseTo(m.expectedPx, 3);
        expect(m.label).toBe(`${m.kind} alarm`);
      }
      expect(new Set(view.alarms.map((m) => m.colour)).size).toBe(new Set(alarms.map((a) => a.kind)).size);
    }
    // the drift chart: the four statistics that can raise an alarm, each ÷ its threshold, against the threshold line at 1
    expect(shown.drift.series.map((s) => s.kind)).toEqual(['likelihood', 'model-distance', 'component', 'weights']);
    expect(shown.drift.threshold).toEqual([Array.from({ length: WINDOWS }, () => 1)]);
    const last = updates[WINDOWS - 1];
    expect(shown.drift.series[2].values[WINDOWS - 1]).toBeCloseTo(last.driftStatistics.component.statistic / last.driftStatistics.component.threshold, 9);
    expect(shown.drift.series[3].values[WINDOWS - 1]).toBeCloseTo(last.driftStatistics.weights.statistic / last.driftStatistics.weights.threshold, 9);
    expect(shown.drift.drifting).toEqual(updates.filter((u) => u.drifting.active).map((u) => u.windowIndex));
    // the jump's deep dip of the predictive log-likelihood does not flatten the axis: it is drawn at the edge, marked
    const dip = updates[JUMP_WINDOW].predictiveLogLikelihood!;
    const usual = updates.slice(1, JUMP_WINDOW).map((u) => u.predictiveLogLikelihood!);
    expect(dip).toBeLessThan(Math.min(...usual) - 5);
    expect(shown.likelihood.y.min).toBeGreaterThan(dip);
    expect(shown.likelihood.y.min).toBeLessThan(Math.min(...usual));
    expect(shown.likelihood.clipped.find((c) => c.window === JUMP_WINDOW)).toMatchObject({ value: dip, up: false, inside: true });
    expect(shown.driftRows).toBe(alarms.length);
    expect([shown.sigma1, shown.sigma2, shown.means]).toEqual([2, 2, 2]);
    expect(shown.points).toBe(WINDOW_SIZE);
    expect(shown.xTitle).toMatch(/^PC1 \(\d+% of the variance\)$/);
    expect(shown.caption).toContain('D = 3, projected on the first two principal axes of the mixture');
    expect(shown.summary).toContain(`${WINDOWS} windows`);
    expect(shown.connection).toBe('live');
    expect(errors).toEqual([]);
  });
});
