import { pino } from 'pino';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { Instrumentation } from '../../src/instrumentation.js';
import { componentShifts } from '../../src/monitoring/history.js';
import { WindowRecorder } from '../../src/monitoring/recorder.js';
import { fitMixture } from '../../src/operators/fitMixture.js';
import type { MixtureUpdate } from '../../src/operators/types.js';
import { windowVectors } from '../../src/operators/windowVectors.js';

/** Kafka-like records of a 2-D stream whose first cluster jumps by 30 along the second axis at window 6 (windows of 100). */
function records(): { vector: number[]; topic: string; partition: number; offset: string }[] {
  return Array.from({ length: 1200 }, (_, i) => ({ vector: [i % 2 === 0 ? 0 : 10, Math.sin(i) + (i >= 600 && i % 2 === 0 ? 30 : 0)], topic: 'in', partition: 0, offset: String(1000 + i) }));
}

async function updates(instrumentation?: Instrumentation): Promise<MixtureUpdate<unknown>[]> {
  return (await lastValueFrom(from(records()).pipe(windowVectors({ size: 100 }), fitMixture({ k: 2, seed: 1, instrumentation }), toArray()))) as MixtureUpdate<unknown>[];
}

describe('WindowRecorder', () => {
  it('builds each window record once, with offsets, counts since the previous window, fit time and lag', async () => {
    const instrumentation = new Instrumentation();
    let deadLetters = 0;
    const recorder = new WindowRecorder({ pipelineId: 'p', windows: true, instrumentation, deadLettered: () => deadLetters });
    const fitted = new Map<number, number>();
    instrumentation.on('em.window.fitted', (e) => fitted.set(e.windowIndex, e.durationMs));
    // the lag the consumer saw: two partitions, 5 and 7 behind
    instrumentation.emit('kafka.fetch', { topic: 'in', partition: 0, messages: 10, highWatermark: '106', lastOffset: '100' });
    instrumentation.emit('kafka.fetch', { topic: 'in', partition: 1, messages: 10, highWatermark: '58', lastOffset: '50' });
    const all = await updates(instrumentation);
    const out = all.map((u, i) => {
      deadLetters += i % 3; // dead letters sent meanwhile
      return recorder.observe(u, 40 + i);
    });
    for (const [i, { window }] of out.entries()) {
      const u = all[i];
      expect(window).toMatchObject({ pipelineId: 'p', windowIndex: 40 + i, modelVersion: u.version, counts: { labelled: 100, deadLettered: i % 3, in: 100 + (i % 3) }, lag: 5 + 7 });
      expect(window!.offsets).toEqual([{ topic: 'in', partition: 0, first: String(1000 + 100 * i), last: String(1099 + 100 * i) }]);
      expect(window!.fitSeconds).toBeCloseTo(fitted.get(u.windowIndex)! / 1000, 12);
    }
    expect(recorder.observe(all[11], 51), 'the same update: the same records').toBe(out[11]);
    // a revoked partition's lag no longer counts
    instrumentation.emit('kafka.rebalance', { groupId: 'g', assigned: [], revoked: [{ topic: 'in', partitions: [1] }] });
    expect(recorder.observe({ ...all[11] }, 52).window!.lag).toBe(5);
    recorder.close();
    instrumentation.emit('kafka.fetch', { topic: 'in', partition: 0, messages: 10, highWatermark: '1000', lastOffset: '100' });
    expect(recorder.observe({ ...all[11] }, 53).window!.lag, 'closed: no longer listening').toBe(5);
  });

  it('builds drift records against the previous model (the restored one first), logs them at warn, and only those without windows', async () => {
    const all = await updates();
    const jump = all.findIndex((u) => u.drift.length > 0);
    expect(jump).toBe(6);
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
    // Start at the jump: the model before it is the "restored" one.
    const recorder = new WindowRecorder({ pipelineId: 'p', previousModel: all[jump - 1].model, logger });
    const silent = new WindowRecorder({ pipelineId: 'p', previousModel: all[jump - 1].model, logger: pino({ level: 'silent' }) });
    expect(silent.observe(all[jump]).drift, 'neither a drift topic nor a warn log: nothing built').toEqual([]);
    const out = all.slice(jump).map((u) => recorder.observe(u));
    expect(out.every((r) => r.window === null), 'no window records without windows: true').toBe(true);
    const drift = out[0].drift;
    expect(drift.map((d) => d.kind)).toEqual(all[jump].drift.map((e) => e.kind));
    const detector = all[jump].state.drift.options;
    expect(drift[0].components).toEqual(componentShifts(all[jump - 1].model, all[jump].model, detector.metric, detector.distanceThreshold, all[jump].labelIds));
    const moved = drift[0].components.find((c) => c.moved)!;
    expect(moved.meanShift).toBeCloseTo(30, 0);
    expect(drift[0].offsets).toEqual([{ topic: 'in', partition: 0, first: '1600', last: '1699' }]);
    expect(out.slice(1).every((r) => r.drift.length === 0)).toBe(true);
    expect(lines.map((l) => [l.level, l.kind, l.windowIndex])).toEqual(drift.map((d) => [40, d.kind, jump]));
    expect(lines[0]).toMatchObject({ modelVersion: all[jump].version, offsets: drift[0].offsets, moved: [{ label: moved.label }] });
    expect(String(lines[0].msg)).toMatch(/^drift detected: \S+ on window 6 \(statistic [\d.e+]+ > threshold [\d.e+]+\)$/);
  });
});
