/**
 * The dashboard of a Kafka pipeline in a real browser: `emstream run` and `emstream dashboard --brokers` in child
 * processes on the real broker; a stream whose cluster jumps; headless Chromium must receive every window (the
 * history, then live), mark the drift after the jump where the drift topic says, and draw K ellipses.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { syntheticStream } from '../../src/data/synthetic.js';
import { readDriftMessage, readWindowMessage } from '../../src/kafka/messages/history.js';
import { kafkaBrokers } from '../helpers/kafka.js';
import { killChildren, produceAll, readAll, spawnRun, testKafka, topicEnd, uniqueTopic, waitFor } from '../kafka/helpers.js';
import { READ_PAGE, WINDOWS_ON_PAGE, launchChromium, openPage, outputDir, type PageView } from './browser.js';
import { JUMP_WINDOW, WINDOWS, WINDOW_SIZE, jumpingClusters } from './streams.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const dashboards = new Set<ChildProcess>();
afterEach(async () => {
  for (const d of dashboards) d.kill('SIGKILL');
  dashboards.clear();
  await killChildren();
});

/** `emstream dashboard …args` in a child process; resolves with its URL once it prints it. */
async function spawnDashboard(args: readonly string[]): Promise<{ url: string; child: ChildProcess; stderr: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'dashboard', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  dashboards.add(child);
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  await waitFor(() => /dashboard: \S+\n/.test(out) || child.exitCode !== null, 60_000, 'the dashboard URL');
  if (child.exitCode !== null) throw new Error(`emstream dashboard exited ${child.exitCode}: ${err}`);
  return { url: /dashboard: (\S+)\n/.exec(out)![1], child, stderr: () => err };
}

describe('the dashboard of a Kafka pipeline, in headless Chromium', () => {
  it('shows the history then the live windows, the drift marker after the jump and K ellipses', async () => {
    const kafka = testKafka();
    const input = uniqueTopic('dash');
    const d = 3;
    const points = [...syntheticStream(jumpingClusters(d), WINDOWS * WINDOW_SIZE, 3)].map((p) => ({ value: JSON.stringify(p.vector) }));
    const half = JUMP_WINDOW * WINDOW_SIZE;
    await produceAll(kafka, input, points.slice(0, half));
    const run = spawnRun(['--brokers', kafkaBrokers().join(','), '--input', input, '-k', '2', '--window', String(WINDOW_SIZE), '--from-beginning', '--pipeline-id', 'jumping']);
    // (a topic just created may not have its leader yet: ask again)
    await waitFor(async () => (await topicEnd(kafka, `${input}.windows`).catch(() => -1)) === JUMP_WINDOW, 60_000, 'the windows before the jump on the window-history topic');

    // The dashboard starts after the first half: it reads the history first.
    const dashboard = await spawnDashboard(['--brokers', kafkaBrokers().join(','), '--input', input, '--port', '0']);
    expect(dashboard.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const chromium = await launchChromium();
    try {
      const { page, errors } = await openPage(chromium.browser);
      await page.goto(dashboard.url, { waitUntil: 'load' });
      await page.waitForFunction(`${WINDOWS_ON_PAGE} === ${JUMP_WINDOW}`, { timeout: 60_000 });
      expect(await page.title()).toBe(`emstream dashboard: ${input}`);

      // The jump arrives live.
      await produceAll(kafka, input, points.slice(half));
      await page.waitForFunction(`${WINDOWS_ON_PAGE} === ${WINDOWS}`, { timeout: 60_000 });
      await page.waitForFunction(`document.getElementById('mixture-caption').textContent.startsWith('window ${WINDOWS - 1} ')`, { timeout: 60_000 });
      const drift = (await readAll(kafka, `${input}.drift`)).map((m) => readDriftMessage(m.value));
      await page.waitForFunction(`document.querySelectorAll('#drift-rows tr').length === ${drift.length}`, { timeout: 30_000 });
      const shown = (await page.evaluate(READ_PAGE)) as PageView;
      await page.screenshot({ path: join(outputDir('dashboard-kafka'), 'dashboard.png'), fullPage: true });

      const windows = (await readAll(kafka, `${input}.windows`)).map((m) => readWindowMessage(m.value));
      expect(windows.map((w) => w.pipelineId)).toEqual(Array(WINDOWS).fill('jumping'));
      expect(shown.windows).toEqual(windows.map((w) => w.windowIndex));
      expect(shown.windows).toEqual(Array.from({ length: WINDOWS }, (_, i) => i));
      // the drift markers: where the drift topic says, none before the jump, drawn inside the plot
      expect(drift.length, 'the jump raises drift').toBeGreaterThan(0);
      expect(drift.map((r) => r.kind)).toContain('likelihood');
      const expected = drift.map((r) => ({ window: r.windowIndex, kind: r.kind })).sort((a, b) => a.window - b.window || a.kind.localeCompare(b.kind));
      expect(shown.likelihood.alarms.map((m) => ({ window: m.window, kind: m.kind }))).toEqual(expected);
      for (const m of shown.likelihood.alarms) {
        expect(m.window, 'no marker before the jump').toBeGreaterThanOrEqual(JUMP_WINDOW);
        expect(m.inside, `marker at window ${m.window} is drawn inside the plot`).toBe(true);
        expect(m.px).toBeCloseTo(m.expectedPx, 3);
      }
      // from the window-history topic, every alarm statistic against its threshold
      expect(shown.drift.series.map((x) => x.kind)).toEqual(['likelihood', 'model-distance', 'component', 'weights']);
      const w = windows[WINDOWS - 1].driftStatistics!;
      expect(shown.drift.series[2].values[WINDOWS - 1]).toBeCloseTo(w.component.statistic! / w.component.threshold!, 9);
      expect(shown.driftRows).toBe(drift.length);
      // K = 2 components: two means, two 1σ and two 2σ ellipses; the latest window's sample; the projection of D = 3
      expect([shown.sigma1, shown.sigma2, shown.means]).toEqual([2, 2, 2]);
      expect(shown.points).toBe(windows[WINDOWS - 1].sample!.points.length);
      expect(shown.points).toBeGreaterThan(0);
      expect(shown.xTitle).toMatch(/^PC1 \(\d+% of the variance\)$/);
      expect(shown.caption).toContain('D = 3, projected on the first two principal axes of the mixture');
      expect(shown.summary).toContain(`${WINDOWS} windows`);
      expect(shown.connection).toBe('live');
      expect(errors).toEqual([]);
    } finally {
      await chromium.close();
    }
    dashboard.child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => (dashboard.child.exitCode !== null ? resolve(dashboard.child.exitCode) : dashboard.child.once('exit', (c) => resolve(c))));
    expect(code).toBe(0);
    run.kill('SIGTERM');
    expect((await run.exited).code).toBe(0);
  });
});
