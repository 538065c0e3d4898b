/**
 * A window that cannot be fitted numerically does not stop the stream: its records go to the dead-letter
 * path (`onInvalid`, else the runner's scope) with reason 'unfittable', `em.window.failed` is emitted, the
 * model stays exactly as it was, and the next window is fitted as if the bad one had never come.
 */
import { from, lastValueFrom, map, toArray } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  buildInPipelineScope,
  CovarianceError,
  DataError,
  fitMixture,
  Instrumentation,
  StreamingGmm,
  syntheticStream,
  type InvalidVector,
  type MixtureUpdate,
  type SyntheticCluster,
  type VectorWindow,
} from 'emstream';

const clusters: SyntheticCluster[] = [
  { mean: () => [0, 0], sd: [1, 1], weight: () => 1 },
  { mean: () => [8, 0], sd: [1, 0.5], weight: () => 1 },
];

/** A window of `n` synthetic points (records are their sequence numbers, offset by `first`). */
function windowOf(index: number, n: number, seed: number, first = index * 1000): VectorWindow<number> {
  const points = new Float64Array(n * 2);
  let i = 0;
  for (const p of syntheticStream(clusters, n, seed)) {
    points[2 * i] = p.vector[0];
    points[2 * i + 1] = p.vector[1];
    i++;
  }
  return { index, n, d: 2, points, records: Array.from({ length: n }, (_, j) => first + j), rejected: 0 };
}

/** The same window with one value replaced by `value` (e.g. 1e160, whose square overflows). */
function withValue(w: VectorWindow<number>, at: number, value: number): VectorWindow<number> {
  const points = Float64Array.from(w.points);
  points[at] = value;
  return { ...w, points };
}

/** A window no candidate can fit: a constant second column with regCovar 0. */
function degenerate(index: number): VectorWindow<number> {
  const n = 40;
  const points = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    points[2 * i] = i < n / 2 ? i % 7 : 20 + (i % 5);
    points[2 * i + 1] = 5;
  }
  return { index, n, d: 2, points, records: Array.from({ length: n }, (_, j) => index * 1000 + j), rejected: 0 };
}

/** What an update says, comparable with toEqual. */
const summary = (u: MixtureUpdate<number>) => ({ index: u.windowIndex, version: u.version, labels: Array.from(u.labels), state: u.state });

describe('fitMixture: unfittable windows', () => {
  let scheduler: TestScheduler;
  beforeEach(() => {
    scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  });

  it('drops a window with a value like 1e160 to onInvalid and goes on (marble)', () => {
    const a = windowOf(0, 120, 1);
    const b = withValue(windowOf(1, 120, 2), 37, 1e160);
    const c = windowOf(2, 120, 3);
    const options = { k: 2, halfLife: 3, seed: 4 };
    // The reference: the same stream without the bad window.
    const reference = new StreamingGmm(options);
    reference.update({ n: a.n, d: 2, data: a.points });
    const expectedC = reference.update({ n: c.n, d: 2, data: c.points }, 2);

    const invalid: InvalidVector<number>[] = [];
    const failed: unknown[] = [];
    const instrumentation = new Instrumentation();
    instrumentation.on('em.window.failed', (e) => failed.push(e));
    scheduler.run(({ cold, expectObservable }) => {
      const source = cold<VectorWindow<number>>('a-b-c-|', { a, b, c });
      const out = source.pipe(
        fitMixture<number>({ ...options, instrumentation, onInvalid: (x) => invalid.push(x) }),
        map((u) => [u.windowIndex, u.version, u.warmStarted]),
      );
      expectObservable(out).toBe('x---y-|', { x: [0, 1, false], y: [2, 2, true] });
    });
    expect(invalid.map((x) => x.record)).toEqual(b.records);
    expect(invalid.every((x) => x.reason === 'unfittable')).toBe(true);
    expect(invalid[0].message).toMatch(/^window 1 could not be fitted: value at row 18, column 1 is 1e\+160: its square overflows double precision .*scale the data/);
    expect(failed).toEqual([{ windowIndex: 1, n: 120, reason: 'unfittable', message: expect.stringMatching(/row 18, column 1/) }]);

    // The model after c is exactly the one of a stream that never saw b.
    let last: MixtureUpdate<number> | undefined;
    from([a, b, c])
      .pipe(fitMixture<number>({ ...options, onInvalid: () => {} }))
      .subscribe((u) => (last = u));
    expect(Array.from(last!.labels)).toEqual(Array.from(expectedC.labels));
    expect(last!.state).toEqual(reference.toJSON());
  });

  it('a first window no candidate can factor (CovarianceError) is dropped; later the carried history makes the same window fittable', async () => {
    const invalid: InvalidVector<number>[] = [];
    const options = { k: 2, regCovar: 0, seed: 1, onInvalid: (x: InvalidVector<number>) => invalid.push(x) };
    const updates = await lastValueFrom(from([degenerate(0), windowOf(1, 100, 5), degenerate(2)]).pipe(fitMixture<number>(options), toArray()));
    expect(updates.map((u) => [u.windowIndex, u.version, u.warmStarted])).toEqual([
      [1, 1, false], // window 1 made the first model
      [2, 2, true], // the statistics carried from window 1 give the constant column a variance
    ]);
    expect(invalid.map((x) => x.record)).toEqual(degenerate(0).records);
    expect(invalid[0].message).toMatch(/ill-defined .* covariance/);
  });

  it('without onInvalid the runner scope’s dead-letter path receives them', async () => {
    const invalid: InvalidVector<unknown>[] = [];
    const { result } = buildInPipelineScope({ onInvalid: (x) => invalid.push(x) }, () =>
      from([windowOf(0, 80, 1), withValue(windowOf(1, 80, 2), 0, -1e160), windowOf(2, 80, 3)]).pipe(fitMixture<number>({ k: 2 }), toArray()),
    );
    const updates = await lastValueFrom(result);
    expect(updates.map((u) => u.version)).toEqual([1, 2]);
    expect(invalid).toHaveLength(80);
    expect(invalid.every((x) => x.reason === 'unfittable')).toBe(true);
  });

  it('with neither handler the stream errors with the typed error, as before', async () => {
    const bad = lastValueFrom(from([windowOf(0, 80, 1), withValue(windowOf(1, 80, 2), 5, 1e160)]).pipe(fitMixture<number>({ k: 2 }), toArray()));
    await expect(bad).rejects.toBeInstanceOf(DataError);
    const degenerateOnly = lastValueFrom(from([degenerate(0)]).pipe(fitMixture<number>({ k: 2, regCovar: 0 }), toArray()));
    await expect(degenerateOnly).rejects.toBeInstanceOf(CovarianceError);
  });

  it('a configuration error (another dimension than the model) still errors the stream', async () => {
    const gmm = new StreamingGmm({ k: 2 });
    gmm.update({ n: 80, d: 2, data: windowOf(0, 80, 1).points });
    const three: VectorWindow<number> = { index: 1, n: 3, d: 3, points: new Float64Array(9).fill(1), records: [1, 2, 3], rejected: 0 };
    const invalid: unknown[] = [];
    const run = lastValueFrom(from([three]).pipe(fitMixture<number>({ k: 2, initialState: gmm.toJSON(), onInvalid: (x) => invalid.push(x) }), toArray()));
    await expect(run).rejects.toThrow(/d: saved 2, requested 3/);
    expect(invalid).toEqual([]);
  });

  it('keeps summaries of a normal stream unchanged (no handler called)', async () => {
    const invalid: unknown[] = [];
    const windows = [windowOf(0, 100, 1), windowOf(1, 100, 2)];
    const withHandler = await lastValueFrom(from(windows).pipe(fitMixture<number>({ k: 2, onInvalid: (x) => invalid.push(x) }), toArray()));
    const without = await lastValueFrom(from(windows).pipe(fitMixture<number>({ k: 2 }), toArray()));
    expect(withHandler.map(summary)).toEqual(without.map(summary));
    expect(invalid).toEqual([]);
  });
});
