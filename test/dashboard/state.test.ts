import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { mixtureUpdateSource, type DashboardMessage } from '../../src/dashboard/source.js';
import { DashboardState, driftMark, type DashboardSnapshot } from '../../src/dashboard/state.js';
import type { WindowRecord } from '../../src/monitoring/history.js';
import { JUMP_WINDOW, WINDOWS, jumpingUpdates } from './streams.js';

async function messagesOf(d: number): Promise<DashboardMessage[]> {
  const { updates, instrumentation } = await jumpingUpdates(d);
  // Replay the updates through the source, emitting the fit events as fitMixture did.
  const source = mixtureUpdateSource(from(updates), { title: 't', instrumentation });
  return lastValueFrom(source.messages.pipe(toArray()));
}

describe('mixtureUpdateSource', () => {
  it('sends, per window, its model, its record, then its drift records', async () => {
    const { updates, instrumentation } = await jumpingUpdates(2);
    const source = mixtureUpdateSource(from(updates), { title: 'jump', description: 'a cluster jumps', pipelineId: 'p9', instrumentation });
    expect(source.title).toBe('jump');
    expect(source.description).toBe('a cluster jumps');
    const messages = await lastValueFrom(source.messages.pipe(toArray()));
    let i = 0;
    for (const u of updates) {
      expect(messages[i]).toMatchObject({ type: 'model', windowIndex: u.windowIndex, version: u.version, model: u.model });
      const w = messages[i + 1];
      expect(w.type).toBe('window');
      const r = (w as { record: WindowRecord }).record;
      expect(r).toMatchObject({ pipelineId: 'p9', windowIndex: u.windowIndex, counts: { in: u.window.n + u.window.rejected, labelled: u.window.n, deadLettered: u.window.rejected } });
      expect(r.fitSeconds, 'no em.window.fitted event was emitted during this replay').toBeNull();
      i += 2;
      for (const e of u.drift) {
        expect(messages[i]).toMatchObject({ type: 'drift', record: { kind: e.kind, windowIndex: u.windowIndex } });
        i++;
      }
    }
    expect(i).toBe(messages.length);
  });

  it('takes the fit time from the em.window.fitted events of a live pipeline', async () => {
    const { Instrumentation } = await import('../../src/instrumentation.js');
    const { windowVectors } = await import('../../src/operators/windowVectors.js');
    const { fitMixture } = await import('../../src/operators/fitMixture.js');
    const instrumentation = new Instrumentation();
    const durations = new Map<number, number>();
    instrumentation.on('em.window.fitted', (e) => durations.set(e.windowIndex, e.durationMs));
    const points = Array.from({ length: 600 }, (_, i) => [i % 2 === 0 ? 0 : 10, Math.sin(i)]);
    const source = mixtureUpdateSource(from(points).pipe(windowVectors({ size: 200 }), fitMixture({ k: 2, instrumentation })), { instrumentation });
    const records = (await lastValueFrom(source.messages.pipe(toArray()))).filter((m) => m.type === 'window').map((m) => (m as { record: WindowRecord }).record);
    expect(records).toHaveLength(3);
    for (const r of records) expect(r.fitSeconds).toBeCloseTo(durations.get(r.windowIndex)! / 1000, 12);
  });
});

describe('DashboardState', () => {
  it('keeps the rows in order, marks the drift and draws K components on fixed axes', async () => {
    const messages = await messagesOf(3);
    const state = new DashboardState({ title: 't', description: 'd' });
    const deltas = messages.flatMap((m) => state.apply(m));
    const s = state.snapshot();
    expect(s.rows.map((r) => r.windowIndex)).toEqual(Array.from({ length: WINDOWS }, (_, i) => i));
    expect(s.windows).toBe(WINDOWS);
    expect(s.drift.length).toBeGreaterThan(0);
    expect(Math.min(...s.drift.map((d) => d.windowIndex)), 'no alarm before the jump').toBeGreaterThanOrEqual(JUMP_WINDOW);
    expect(s.mixture!.components).toHaveLength(2);
    expect(s.mixture!.windowIndex).toBe(WINDOWS - 1);
    expect(s.mixture!.axes.x).toMatch(/^PC1/);
    expect(deltas.filter((d) => d.event === 'window')).toHaveLength(WINDOWS);
    expect(deltas.filter((d) => d.event === 'snapshot')).toHaveLength(0);
    // The axes never shrink, and stay put most of the time.
    const views = deltas.filter((d) => d.event === 'mixture').map((d) => d.data as { bounds: { minX: number; maxX: number; minY: number; maxY: number }; axes: unknown });
    for (let i = 1; i < views.length; i++) {
      const [a, b] = [views[i - 1].bounds, views[i].bounds];
      expect(b.minX).toBeLessThanOrEqual(a.minX);
      expect(b.maxX).toBeGreaterThanOrEqual(a.maxX);
      expect(b.minY).toBeLessThanOrEqual(a.minY);
      expect(b.maxY).toBeGreaterThanOrEqual(a.maxY);
      expect(views[i].axes).toEqual(views[0].axes);
    }
    const changes = views.filter((v, i) => i > 0 && JSON.stringify(v.bounds) !== JSON.stringify(views[i - 1].bounds)).length;
    expect(changes, 'the limits change only when the data leaves them').toBeLessThanOrEqual(4);
  });

  it('replaces a replayed window and resends a snapshot; keeps the newest rows only', async () => {
    const messages = await messagesOf(2);
    const windows = messages.filter((m) => m.type === 'window');
    const state = new DashboardState({ title: 't', maxWindows: 10 });
    for (const m of messages) state.apply(m);
    expect(state.snapshot().rows.map((r) => r.windowIndex)).toEqual(Array.from({ length: 10 }, (_, i) => WINDOWS - 10 + i));
    const replay = windows[WINDOWS - 3] as { type: 'window'; record: WindowRecord };
    const again = { type: 'window' as const, record: { ...replay.record, logLikelihood: -99 } };
    const deltas = state.apply(again);
    expect(deltas.map((d) => d.event)).toEqual(['snapshot']);
    const rows = state.snapshot().rows;
    expect(rows).toHaveLength(10);
    expect(rows.find((r) => r.windowIndex === WINDOWS - 3)!.logLikelihood).toBe(-99);
    expect(rows.map((r) => r.windowIndex)).toEqual(Array.from({ length: 10 }, (_, i) => WINDOWS - 10 + i));
  });

  it('reports the end of the stream and a failure', () => {
    const state = new DashboardState({ title: 't' });
    expect(state.snapshot().status).toEqual({ state: 'live', message: 'waiting for windows' });
    expect(state.end()).toEqual([{ event: 'status', data: { state: 'ended', message: 'the stream ended after 0 windows' } }]);
    expect(state.end(new Error('broker gone'))[0].data).toEqual({ state: 'failed', message: 'the source failed: broker gone' });
  });
});

describe('the throughput of the timelines', () => {
  /** A window record with only what the timeline row reads. */
  const record = (windowIndex: number, fittedAt: number, n: number): WindowRecord =>
    ({
      format: 'emstream.window', version: 1, pipelineId: 'p', windowIndex, modelVersion: windowIndex + 1, fittedAt, n, k: 1, d: 1,
      logLikelihood: 0, expectedLogLikelihood: 0, predictiveLogLikelihood: null, modelDistance: 0, distanceThreshold: 0.5,
      pageHinkley: { statistic: 0, threshold: 1 }, iterations: 1, converged: true, warmStarted: true, restarted: false, reseeded: [],
      weights: [1], drift: [], counts: { in: n, labelled: n, deadLettered: 0 }, fitSeconds: null, lag: null, offsets: null, sample: null,
    }) satisfies WindowRecord;

  it('is the records of the last five windows over the time they took, and starts again after a replay', () => {
    const state = new DashboardState({ title: 't' });
    // windows of 100 records fitted 1 s apart, except a burst: windows 3-5 within 10 ms
    const times = [0, 1000, 2000, 3000, 3005, 3010, 4010, 5010, 6010, 7010];
    const rates = times.map((t, i) => {
      const deltas = state.apply({ type: 'window', record: record(i, t, 100) });
      return (deltas.find((d) => d.event === 'window')!.data as { rate: number | null }).rate;
    });
    expect(rates[0]).toBeNull();
    expect(rates[1]).toBeCloseTo(100, 9); // 100 records in 1 s
    expect(rates[2]).toBeCloseTo(200 / 2, 9);
    expect(rates[4]).toBeCloseTo(400 / 3.005, 9);
    expect(rates[5], 'five windows: the burst does not spike it').toBeCloseTo(500 / 3.01, 9);
    expect(rates[9], 'windows 5-9, from the fit of window 4').toBeCloseTo(500 / ((7010 - 3005) / 1000), 9);
    // a replay (window 4 again) has no rate, and the next window's span starts at it
    const replay = state.apply({ type: 'window', record: record(4, 8000, 100) });
    expect((replay.find((d) => d.event === 'snapshot')!.data as DashboardSnapshot).rows[4].rate).toBeNull();
  });
});

describe('driftMark', () => {
  it('names the components a component alarm flagged, else those that moved beyond the threshold, by label', () => {
    const base = { format: 'emstream.drift' as const, version: 1 as const, pipelineId: 'p', windowIndex: 3, modelVersion: 4, statistic: 2, threshold: 1, detectedAt: 0, offsets: null };
    const components = [
      { index: 0, label: 5, meanShift: 9, weightChange: 0, distance: 3, moved: true },
      { index: 1, label: 6, meanShift: 0.1, weightChange: 0, distance: 0.01, moved: false },
    ];
    expect(driftMark({ ...base, kind: 'likelihood', components, flagged: [] }).moved).toEqual([5]);
    expect(driftMark({ ...base, kind: 'component', components, flagged: [6] }).moved).toEqual([6]);
  });
});
