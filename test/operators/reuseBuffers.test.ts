/**
 * `windowVectors({ reuseBuffers: true })` downstream: a fit on lent windows gives what it gives on owned ones, on the
 * calling thread and on a worker (which copies a lent window, since its update comes later); a reader that gets a
 * window after its memory was taken back fails with a `WindowReleasedError` that says what to do, never with another
 * window's values.
 */
import { bufferCount, concatMap, from, lastValueFrom, map, tap, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { describe, expect, it } from 'vitest';
import { fitMixture, syntheticStream, toLabels, windowRecord, windowVectors, WindowReleasedError, type FitMixtureOptions, type MixtureUpdate, type SyntheticCluster, type VectorWindow } from 'emstream';

const clusters: SyntheticCluster[] = [
  { mean: () => [0, 0, 0], sd: [1, 1, 1], weight: () => 1 },
  { mean: (t) => [6 + (t > 2000 ? 5 : 0), 0, 1], sd: [1, 0.5, 1], weight: () => 1 },
  { mean: () => [0, 7, -2], sd: [0.7, 1, 1], weight: () => 1 },
];
const points = Array.from(syntheticStream(clusters, 4000, 3), (p) => p.vector);

/** What an update says, read when it is emitted (its window's points too), comparable with toEqual. */
function summary(u: MixtureUpdate<unknown>): unknown {
  const { window, labels, probabilities, logDensities, model, state, ...rest } = u;
  return {
    rest: JSON.parse(JSON.stringify(rest)),
    window: { index: window.index, n: window.n, d: window.d, points: Array.from(window.points) },
    labels: Array.from(labels),
    probabilities: Array.from(probabilities),
    logDensities: Array.from(logDensities),
    model,
    state,
  };
}

async function fitted(options: FitMixtureOptions<number[]>, reuseBuffers: boolean): Promise<{ summaries: unknown[]; updates: MixtureUpdate<number[]>[] }> {
  const summaries: unknown[] = [];
  const updates = await lastValueFrom(
    from(points).pipe(
      windowVectors<number[]>({ size: 250, reuseBuffers }),
      fitMixture<number[]>(options),
      tap((u) => summaries.push(summary(u))),
      toArray(),
    ),
  );
  return { summaries, updates };
}

describe('reuseBuffers: fitting lent windows', () => {
  const options: FitMixtureOptions<number[]> = { k: 3, covarianceType: 'full', halfLife: 4, seed: 7 };

  it('gives the updates of owned windows, bit for bit, on the calling thread; the updates keep lent windows', async () => {
    const owned = await fitted(options, false);
    const lent = await fitted(options, true);
    expect(lent.summaries).toHaveLength(16);
    expect(lent.summaries).toEqual(owned.summaries);
    // Read after the stream: all but the last two windows gave their memory to later ones.
    expect(lent.updates.map((u) => u.window.points.length)).toEqual([...Array(14).fill(0), 750, 750]);
    expect(owned.updates.every((u) => u.window.points.length === 750)).toBe(true);
  });

  it('gives the same on a worker thread, which takes each lent window along: its updates keep whole windows', async () => {
    const owned = await fitted(options, false);
    const there = await fitted({ ...options, offThread: true }, true);
    expect(there.summaries).toEqual(owned.summaries);
    expect(there.updates.every((u) => u.window.points.length === 750)).toBe(true);
    expect(Array.from(there.updates[3].window.points.subarray(0, 3))).toEqual(points[750]);
  });

  it('labels every point once, in order', async () => {
    const labelled = await lastValueFrom(from(points).pipe(windowVectors<number[]>({ size: 250, reuseBuffers: true }), fitMixture<number[]>(options), toLabels(), toArray()));
    expect(labelled.map((l) => l.record)).toEqual(points);
  });
});

describe('reuseBuffers: sliding windows, and windows closed by time', () => {
  const inputs = Array.from({ length: 40 }, (_, i) => [i, 2 * i]);

  it.each([
    ['sliding (size 6, slide 2)', { size: 6, slide: 2 }],
    ['sliding (size 5, slide 3)', { size: 5, slide: 3 }],
    ['count and time (size 4, timeMs 5, on a virtual clock)', { size: 4, timeMs: 5 }],
  ] as const)('%s: each window holds what an owned one does, and stays whole while it and the next are handled', (_, options) => {
    const testScheduler = new TestScheduler((a, b) => expect(a).toEqual(b));
    testScheduler.run(({ cold, flush }) => {
      // a record every frame, a pause of 7 after every 9th (so that some time windows close before they are full)
      const marbles = inputs.map((_, i) => (i % 9 === 8 ? 'x 7ms ' : 'x ')).join('') + '|';
      const run = (reuseBuffers: boolean) => {
        const seen: { values: number[]; previous: number[] | null }[] = [];
        let previous: VectorWindow<number[]> | null = null;
        let i = 0;
        cold<number[]>(marbles, { x: [0, 0] })
          .pipe(
            map(() => inputs[i++]),
            windowVectors<number[]>({ ...options, reuseBuffers, scheduler: testScheduler }),
          )
          .subscribe((w) => {
            seen.push({ values: Array.from(w.points), previous: previous === null ? null : Array.from(previous.points) });
            previous = w;
          });
        flush();
        return seen;
      };
      const owned = run(false);
      expect(owned.length).toBeGreaterThan(6);
      expect(run(true)).toEqual(owned);
    });
  });
});

describe('reuseBuffers: a window read after its memory was taken back', () => {
  it('fails the fit with a WindowReleasedError naming the window and what to do (windows buffered before the fit)', async () => {
    const run = lastValueFrom(
      from(points).pipe(
        windowVectors<number[]>({ size: 250, reuseBuffers: true }),
        bufferCount(3),
        concatMap((ws) => from(ws)),
        fitMixture<number[]>({ k: 3, seed: 1 }),
        toArray(),
      ),
    );
    const error = await run.then(
      () => null,
      (err: unknown) => err,
    );
    expect(error).toBeInstanceOf(WindowReleasedError);
    const released = error as WindowReleasedError;
    expect(released.context).toEqual({ windowIndex: 0, reader: 'fitMixture' });
    expect(released.retriable).toBe(false);
    expect(released.message).toContain("window 0's points were read by fitMixture after windowVectors took their memory back");
    expect(released.message).toContain('points.slice()');
  });

  it('the same on a worker thread', async () => {
    const run = lastValueFrom(
      from(points).pipe(windowVectors<number[]>({ size: 250, reuseBuffers: true }), bufferCount(3), concatMap((ws) => from(ws)), fitMixture<number[]>({ k: 3, seed: 1, offThread: true })),
    );
    await expect(run).rejects.toThrow(WindowReleasedError);
  });

  it('a window record sampled too late fails the same way; one sampled while its window is handled holds its points', async () => {
    const counts = { in: 250, labelled: 250, deadLettered: 0 };
    const records = await lastValueFrom(
      from(points).pipe(
        windowVectors<number[]>({ size: 250, reuseBuffers: true }),
        fitMixture<number[]>({ k: 3, seed: 1 }),
        map((u) => ({ u, record: windowRecord(u, counts, { pipelineId: 'p', sample: { maxPoints: 5, maxValues: 15 } }) })),
        toArray(),
      ),
    );
    const first = records[0].record.sample!.points[0];
    expect(first).toHaveLength(3);
    first.forEach((x, c) => expect(x).toBeCloseTo(points[0][c], 4));
    expect(() => windowRecord(records[0].u, counts, { pipelineId: 'p', sample: { maxPoints: 5, maxValues: 15 } })).toThrow(WindowReleasedError);
    // without a sample, nothing reads the points
    expect(windowRecord(records[0].u, counts, { pipelineId: 'p', sample: false }).sample).toBeNull();
  });
});
