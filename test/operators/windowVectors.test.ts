import fc from 'fast-check';
import { from, map } from 'rxjs';
import type { SchedulerAction, SchedulerLike, Subscription } from 'rxjs';
import { TestScheduler } from 'rxjs/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { EmstreamError, EmstreamOptionsError } from '../../src/errors.js';
import { isChecked } from '../../src/gmm/checked.js';
import { checkDataset } from '../../src/gmm/em.js';
import { withInvalid } from '../../src/operators/invalidChannel.js';
import { buildInPipelineScope } from '../../src/operators/pipelineScope.js';
import type { InvalidVector, VectorInput, VectorRecord, VectorWindow } from '../../src/operators/types.js';
import { MAX_COORDINATE } from '../../src/operators/vectorInput.js';
import { windowVectors } from '../../src/operators/windowVectors.js';

/** A window as plain data, so marble expectations can be written with arrays. */
interface PlainWindow<R> {
  index: number;
  n: number;
  d: number;
  rejected: number;
  points: number[];
  records: readonly R[];
}

const plain = <R>(w: VectorWindow<R>): PlainWindow<R> => ({
  index: w.index,
  n: w.n,
  d: w.d,
  rejected: w.rejected,
  points: Array.from(w.points),
  records: w.records,
});

/** Expected window built from its records (bare vectors). */
const win = (index: number, records: number[][], rejected = 0, d = records[0]?.length ?? 0): PlainWindow<number[]> => ({
  index,
  n: records.length,
  d,
  rejected,
  points: records.flat(),
  records,
});

const a = [1, 2];
const b = [3, 4];
const c = [5, 6];
const e = [7, 8];
const f = [9, 10];
const vectors = { a, b, c, d: e, e: f };

/** Collect every window of a synchronous source. */
function collect<R extends VectorInput>(source: R[], options: Parameters<typeof windowVectors<R>>[0]): VectorWindow<R>[] {
  const out: VectorWindow<R>[] = [];
  from(source).pipe(windowVectors<R>(options)).subscribe((w) => out.push(w));
  return out;
}

describe('windowVectors', () => {
  let testScheduler: TestScheduler;

  beforeEach(() => {
    testScheduler = new TestScheduler((actual, expected) => {
      expect(actual).toEqual(expected);
    });
  });

  describe('window buffers', () => {
    it('hold exactly the window’s values and nothing else (count, partial and grown time windows): no unwritten memory is reachable', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 200 }), (d, total, size) => {
          const inputs = Array.from({ length: total }, (_, i) => Array.from({ length: d }, (_, j) => i * 10 + j + 0.5));
          const windows = collect<number[]>(inputs, { size, dimension: d });
          // a time window, unbounded: all of them at complete, its buffer grown from 64 rows
          const timed: VectorWindow<number[]>[] = [];
          from(inputs).pipe(windowVectors<number[]>({ timeMs: 1e9, dimension: d })).subscribe((w) => timed.push(w));
          for (const w of [...windows, ...timed]) {
            expect(w.points.length).toBe(w.n * w.d);
            expect(w.points.buffer.byteLength).toBe(w.n * w.d * 8);
          }
          expect(windows.flatMap((w) => Array.from(w.points))).toEqual(inputs.flat());
          expect(timed.flatMap((w) => Array.from(w.points))).toEqual(inputs.flat());
        }),
        { seed: 11, numRuns: 60 },
      );
    });
  });

  describe('reuseBuffers: lent windows', () => {
    const inputs = Array.from({ length: 23 }, (_, i) => [i, -i, i / 4]);

    it('holds the values of owned windows; a window stays whole while it and the next are handled, then its memory goes to a later window', () => {
      const owned = collect<number[]>(inputs, { size: 4 });
      const lent: VectorWindow<number[]>[] = [];
      const whenEmitted: number[][] = [];
      const whileNextHandled: number[][] = [];
      from(inputs)
        .pipe(windowVectors<number[]>({ size: 4, reuseBuffers: true }))
        .subscribe((w) => {
          whenEmitted.push(Array.from(w.points));
          if (lent.length > 0) whileNextHandled.push(Array.from(lent[lent.length - 1].points));
          lent.push(w);
          expect(isChecked(w.points)).toBe(true);
        });
      expect(whenEmitted).toEqual(owned.map((w) => Array.from(w.points)));
      expect(whileNextHandled).toEqual(owned.slice(0, -1).map((w) => Array.from(w.points)));
      // Windows 0–3 (of 0–5; the last, partial, is a copy) gave their memory to windows 2–5: moved, so detached here.
      expect(lent.map((w) => w.points.length)).toEqual([0, 0, 0, 0, 12, 9]);
      expect(lent.map((w) => w.n)).toEqual([4, 4, 4, 4, 4, 3]);
      // Two buffers' memory went round: a window's memory is the memory of the window two before it.
      expect(lent[4].points.buffer.byteLength).toBe(12 * 8);
    });

    it('a window closed early by its maximum wait is a copy it owns: it stays whole while later windows reuse memory', () => {
      testScheduler.run(({ cold, flush }) => {
        const g = [13, 14];
        const windows: VectorWindow<number[]>[] = [];
        cold<number[]>('a 20ms b-c-d-e-f-g|', { ...vectors, f: [11, 12], g })
          .pipe(windowVectors<number[]>({ size: 2, maxWaitMs: 10, reuseBuffers: true, scheduler: testScheduler }))
          .subscribe((w) => windows.push(w));
        flush();
        expect(windows.map((w) => w.n)).toEqual([1, 2, 2, 2]);
        // window 0 (closed by its wait) owns a copy; window 1's memory went to window 3
        expect(windows.map((w) => (w.points.length === 0 ? 'detached' : Array.from(w.points)))).toEqual([[1, 2], 'detached', [7, 8, 9, 10], [11, 12, 13, 14]]);
        // (reading a detached window's values throws, rather than give another window's)
        expect(() => Array.from(windows[1].points)).toThrow(TypeError);
      });
    });

    it('leaves alone a lent buffer someone else moved away, and goes on with new memory', () => {
      const seen: number[][] = [];
      from(inputs)
        .pipe(windowVectors<number[]>({ size: 4, reuseBuffers: true }))
        .subscribe((w) => {
          seen.push(Array.from(w.points));
          // moved out of reach (as postMessage with a transfer list does)
          if (w.index === 0) structuredClone(w.points.buffer, { transfer: [w.points.buffer as ArrayBuffer] });
        });
      expect(seen).toEqual(collect<number[]>(inputs, { size: 4 }).map((w) => Array.from(w.points)));
    });
  });

  describe('windows checked once', () => {
    it('marks the buffers it emits as checked (the fit does not scan them again); a buffer a caller builds is still scanned', () => {
      const windows = collect<number[]>([a, [Number.NaN, 1], b, [1e160, 0], c], { size: 2, onInvalid: () => undefined });
      expect(windows.map((w) => w.n)).toEqual([2, 1]);
      for (const w of windows) expect(isChecked(w.points)).toBe(true);
      // The same values in a buffer of the caller's: not marked, scanned, its bad value named.
      const own = Float64Array.from([1, 2, Number.NaN, 4]);
      expect(isChecked(own)).toBe(false);
      expect(() => checkDataset({ n: 2, d: 2, data: own })).toThrow(/row 1, column 0 is NaN/);
      expect(isChecked([1, 2])).toBe(false);
    });
  });

  describe('count windows', () => {
    it('emits a window every `size` points and flushes the partial last one on complete', () => {
      testScheduler.run(({ cold, expectObservable, expectSubscriptions }) => {
        const source = cold<number[]>('a-b-c-d-e-|', vectors);
        const result = source.pipe(windowVectors({ size: 2 }), map(plain));
        expectObservable(result).toBe('--x---y---(z|)', {
          x: win(0, [a, b]),
          y: win(1, [c, e]),
          z: win(2, [f]),
        });
        expectSubscriptions(source.subscriptions).toBe('^---------!');
      });
    });

    it('emits nothing extra on complete when the last window is full', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold<number[]>('a-b-|', vectors);
        expectObservable(source.pipe(windowVectors({ size: 2 }), map(plain))).toBe('--x-|', { x: win(0, [a, b]) });
      });
    });

    it('completes without a window when the source is empty', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        expectObservable(cold<number[]>('---|').pipe(windowVectors({ size: 2 }))).toBe('---|');
      });
    });

    it('preallocates exactly size·d and gives every window its own buffer', () => {
      const windows = collect([a, b, c, e, f], { size: 2 });
      expect(windows.map((w) => w.points.length)).toEqual([4, 4, 2]);
      expect(windows[0].points.buffer).not.toBe(windows[1].points.buffer);
    });
  });

  describe('time windows', () => {
    it('closes a window every timeMs of virtual time and skips empty spans', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold<number[]>('a-b------c-|', vectors);
        const result = source.pipe(windowVectors({ timeMs: 4, scheduler: testScheduler }), map(plain));
        // Spans [0,4) → a,b; [4,8) → nothing (skipped); [8,11] → c, flushed on complete.
        expectObservable(result).toBe('----x------(y|)', { x: win(0, [a, b]), y: win(1, [c]) });
      });
    });

    it('emits empty windows when emitEmpty is true', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold<number[]>('a-b------c-|', vectors);
        const result = source.pipe(windowVectors({ timeMs: 4, scheduler: testScheduler, emitEmpty: true }), map(plain));
        expectObservable(result).toBe('----x---o--(y|)', {
          x: win(0, [a, b]),
          o: win(1, [], 0, 2),
          y: win(2, [c]),
        });
      });
    });

    it('reports d = 0 for an empty window emitted before any valid point', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold<number[]>('------a|', vectors);
        const result = source.pipe(windowVectors({ timeMs: 4, scheduler: testScheduler, emitEmpty: true }), map(plain));
        expectObservable(result).toBe('----o--(y|)', { o: win(0, [], 0, 0), y: win(1, [a]) });
      });
    });

    it('carries the rejected count of a skipped empty span to the next window', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold<number[]>('a----x---b-|', { ...vectors, x: [Number.NaN, 0] });
        const result = source.pipe(windowVectors({ timeMs: 4, scheduler: testScheduler }), map(plain));
        // x arrives in the span [4,8), which has no valid point and is skipped.
        expectObservable(result).toBe('----x------(y|)', { x: win(0, [a]), y: win(1, [b], 1) });
      });
    });

    it('grows its buffer geometrically when size is unknown', () => {
      const input = Array.from({ length: 1000 }, (_, i) => [i, -i, i / 2]);
      const [w] = collect(input, { timeMs: 60_000 });
      expect(w.n).toBe(1000);
      expect(w.d).toBe(3);
      expect(w.points.length).toBe(3000);
      expect(Array.from(w.points)).toEqual(input.flat());
    });
  });

  describe('count and time together', () => {
    it('closes on whichever comes first, and a count close restarts the timer', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold<number[]>('abc-d-----e|', vectors);
        const result = source.pipe(windowVectors({ size: 3, timeMs: 5, scheduler: testScheduler }), map(plain));
        // Count closes at 2 (restarting the timer: next tick at 7, not 5); the timer closes [d] at 7.
        expectObservable(result).toBe('--x----y---(z|)', {
          x: win(0, [a, b, c]),
          y: win(1, [e]),
          z: win(2, [f]),
        });
      });
    });
  });

  describe('count windows with a maximum wait', () => {
    it('closes a window maxWaitMs after its first record; a count close cancels the wait, the next record starts the next', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold<number[]>('a b 20ms c d e a 5ms |', vectors);
        const result = source.pipe(windowVectors({ size: 3, maxWaitMs: 10, dimension: 2, scheduler: testScheduler }), map(plain));
        // [a, b] waits from 0 and closes at 10; the next window fills at 24 (its wait from 22 is cancelled); [a] waits from 25, flushed at 31
        expectObservable(result).toBe('10ms x 13ms y 6ms (z|)', {
          x: win(0, [a, b]),
          y: win(1, [c, e, f]),
          z: win(2, [a]),
        });
      });
    });

    it('waits from the first held record of the first window, whose dimension is decided by what it holds', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold<number[]>('a b q 20ms |', { ...vectors, q: [1, 2, 3] });
        const rejected: string[] = [];
        const result = source.pipe(windowVectors({ size: 5, maxWaitMs: 10, scheduler: testScheduler, onInvalid: (x) => rejected.push(x.reason) }), map(plain));
        expectObservable(result).toBe('10ms x 12ms |', { x: win(0, [a, b], 1) });
        testScheduler.flush();
        expect(rejected).toEqual(['wrong-dimension']);
      });
    });

    it('an exception thrown by onInvalid inside the wait goes downstream as the stream error', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const failure = new Error('callback failed');
        const source = cold<number[]>('a b q 20ms |', { ...vectors, q: [1, 2, 3] });
        const onInvalid = (): void => {
          throw failure;
        };
        expectObservable(source.pipe(windowVectors({ size: 5, maxWaitMs: 10, scheduler: testScheduler, onInvalid }))).toBe('10ms #', undefined, failure);
      });
    });

    it("takes a runner's default for plain count windows only; false refuses it", () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold<number[]>('a 20ms |', vectors);
        const inScope = (options: Parameters<typeof windowVectors<number[]>>[0]) => buildInPipelineScope({ maxWaitMs: 5 }, () => windowVectors<number[]>(options)).result;
        expectObservable(source.pipe(inScope({ size: 3, dimension: 2, scheduler: testScheduler }), map(plain))).toBe('5ms x 15ms |', { x: win(0, [a]) });
        expectObservable(source.pipe(inScope({ size: 3, dimension: 2, maxWaitMs: false, scheduler: testScheduler }), map(plain))).toBe('21ms (x|)', { x: win(0, [a]) });
        expectObservable(source.pipe(inScope({ size: 3, timeMs: 8, dimension: 2, scheduler: testScheduler }), map(plain))).toBe('8ms x 12ms |', { x: win(0, [a]) });
      });
    });

    it('clears the wait on unsubscribe and on error', () => {
      testScheduler.run(({ cold, hot, expectObservable, flush }) => {
        const tracked = trackingScheduler(testScheduler);
        const source = hot<number[]>('a 20ms b|', vectors);
        expectObservable(source.pipe(windowVectors({ size: 3, maxWaitMs: 10, dimension: 2, scheduler: tracked.scheduler })), '^ 3ms !').toBe('');
        const failing = trackingScheduler(testScheduler);
        expectObservable(cold<number[]>('a-#', vectors).pipe(windowVectors({ size: 3, maxWaitMs: 10, dimension: 2, scheduler: failing.scheduler }))).toBe('--#');
        flush();
        expect(tracked.fired).toEqual([]);
        expect(failing.fired).toEqual([]);
      });
    });
  });

  describe('sliding windows', () => {
    it('starts a window every `slide` points, like bufferCount(size, slide)', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold<number[]>('a-b-c-d-|', vectors);
        const result = source.pipe(windowVectors({ size: 3, slide: 1 }), map(plain));
        expectObservable(result).toBe('----x-y-(zw|)', {
          x: win(0, [a, b, c]),
          y: win(1, [b, c, e]),
          z: win(2, [c, e]),
          w: win(3, [e]),
        });
      });
    });

    it('slides by 2 over windows of 4', () => {
      const input = Array.from({ length: 9 }, (_, i) => [i]);
      const windows = collect(input, { size: 4, slide: 2 }).map((w) => Array.from(w.points));
      expect(windows).toEqual([[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8], [8]]);
    });

    it('never shares a mutable buffer between overlapping windows', () => {
      const windows = collect([a, b, c, e], { size: 3, slide: 1 });
      const second = Array.from(windows[1].points);
      windows[0].points.fill(-1);
      expect(Array.from(windows[1].points)).toEqual(second);
      expect(windows[0].points.buffer).not.toBe(windows[1].points.buffer);
    });

    it('counts a rejected input in every open window', () => {
      const rejected: InvalidVector<number[]>[] = [];
      const windows = collect([a, b, [1], c, e], { size: 3, slide: 1, onInvalid: (x) => rejected.push(x) });
      expect(windows.map((w) => [w.n, w.rejected])).toEqual([
        [3, 1],
        [3, 1],
        [2, 0],
        [1, 0],
      ]);
      expect(rejected.map((x) => x.reason)).toEqual(['wrong-dimension']);
    });
  });

  describe('error and unsubscribe', () => {
    it('forwards a source error and drops the partial window', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold<number[]>('a-b-c-#', vectors, new Error('boom'));
        expectObservable(source.pipe(windowVectors({ size: 2 }), map(plain))).toBe(
          '--x---#',
          { x: win(0, [a, b]) },
          new Error('boom'),
        );
      });
    });

    it('forwards the error and clears the timer of a time window', () => {
      testScheduler.run(({ cold, expectObservable, flush }) => {
        const { scheduler, fired } = trackingScheduler(testScheduler);
        const source = cold<number[]>('a-#', vectors);
        expectObservable(source.pipe(windowVectors({ timeMs: 4, scheduler }))).toBe('--#');
        flush();
        expect(fired).toEqual([]);
      });
    });

    it('unsubscribes from the source and clears its timer on early unsubscribe', () => {
      testScheduler.run(({ hot, expectObservable, expectSubscriptions, flush }) => {
        const { scheduler, fired, scheduled } = trackingScheduler(testScheduler);
        const source = hot<number[]>('a-b-c-d-e-|', vectors);
        const result = source.pipe(windowVectors({ size: 2, timeMs: 5, scheduler }), map(plain));
        expectObservable(result, '^----!').toBe('--x---', { x: win(0, [a, b]) });
        expectSubscriptions(source.subscriptions).toBe('^----!');
        flush();
        // The count close at 2 restarted the timer (tick due at 7); leaving at 5 cancelled it.
        expect(fired).toEqual([]);
        expect(scheduled).toHaveLength(2);
        expect(scheduled.every((s) => s.closed)).toBe(true);
      });
    });

    it('stops a time window timer after unsubscribe (no tick after leaving)', () => {
      testScheduler.run(({ cold, expectObservable, flush }) => {
        const { scheduler, fired } = trackingScheduler(testScheduler);
        const source = cold<number[]>('a--------------|', vectors);
        expectObservable(source.pipe(windowVectors({ timeMs: 3, scheduler, emitEmpty: true })), '^----!').toBe('---x--', {
          x: expect.objectContaining({ index: 0, n: 1 }),
        });
        flush();
        expect(fired).toEqual([3]);
      });
    });

    it('forwards an exception thrown by onInvalid as the stream error', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const failure = new Error('callback failed');
        const source = cold<number[]>('a-x-b|', { ...vectors, x: [Number.NaN, 1] });
        const onInvalid = (): void => {
          throw failure;
        };
        expectObservable(source.pipe(windowVectors({ size: 2, onInvalid }))).toBe('--#', undefined, failure);
      });
    });
  });

  describe('invalid vectors', () => {
    it('routes invalid inputs to onInvalid and counts them while the window goes on', () => {
      testScheduler.run(({ cold, expectObservable }) => {
        const rejected: InvalidVector<number[]>[] = [];
        const values = { ...vectors, x: [Number.NaN, 1], y: [1, 2, 3] };
        const source = cold<number[]>('a-x-b-y-c|', values);
        const result = source.pipe(windowVectors({ size: 2, onInvalid: (x) => rejected.push(x) }), map(plain));
        // x lands in window 0 (open); y arrives after window 0 closed, so it is counted in window 1.
        expectObservable(result).toBe('----x----(y|)', { x: win(0, [a, b], 1), y: win(1, [c], 1) });
        testScheduler.flush();
        expect(rejected.map(({ record, reason, field }) => ({ record, reason, field }))).toEqual([
          { record: values.x, reason: 'non-finite', field: 0 },
          { record: values.y, reason: 'wrong-dimension', field: undefined },
        ]);
      });
    });

    it('fixes the dimension by the majority of the first window, not by the first vector', () => {
      const rejected: InvalidVector<unknown>[] = [];
      // A stray 3-D vector first, then 2-D ones: D = 2 (4 of the first window's 5 valid inputs); the last, 4-D, input
      // comes after the window closed and counts in the next one.
      const input: unknown[] = [['x', 1], [1, 2, 3], [4, 5], [6, 7], [8, 9], [10, 11], [12, 13], [1, 2, 3, 4]];
      const windows = collect(input as number[][], { size: 5, onInvalid: (x) => rejected.push(x) });
      expect(windows.map(plain)).toEqual([
        { index: 0, n: 5, d: 2, rejected: 2, points: [4, 5, 6, 7, 8, 9, 10, 11, 12, 13], records: [[4, 5], [6, 7], [8, 9], [10, 11], [12, 13]] },
      ]);
      expect(rejected.map((x) => [x.reason, x.record])).toEqual([
        ['not-numeric', ['x', 1]],
        ['wrong-dimension', [1, 2, 3]],
        ['wrong-dimension', [1, 2, 3, 4]],
      ]);
      expect(rejected[1].message).toContain('dimension 3, expected 2');
      expect(rejected[1].message).toContain("2 is the dimension of 4 of the first window's 5 valid points");
    });

    it('a tie goes to the dimension that reached the top count first; a first time window votes on what it holds', () => {
      const rejected: InvalidVector<unknown>[] = [];
      const tie = collect([[1, 2, 3], [1, 2], [4, 5, 6], [3, 4]], { size: 4, onInvalid: (x) => rejected.push(x) });
      expect(tie.map((w) => [w.d, w.n])).toEqual([[3, 2]]);
      expect(rejected.map((x) => x.record)).toEqual([[1, 2], [3, 4]]);
      testScheduler.run(({ cold, expectObservable }) => {
        const source = cold<number[]>('abcd 7ms e|', { a: [1], b: [2, 3], c: [4, 5], d: [6], e: [7, 8] });
        expectObservable(source.pipe(windowVectors({ timeMs: 5, scheduler: testScheduler }), map((w) => [w.d, w.n, w.rejected]))).toBe('5ms x 6ms (y|)', { x: [2, 2, 2], y: [2, 1, 0] });
      });
    });

    it('rejects a coordinate whose square would overflow as non-finite-in-use, keeping the window going', () => {
      const rejected: InvalidVector<unknown>[] = [];
      const windows = collect([[1e160, 0], [1, 2], [-MAX_COORDINATE, 2], [3, -1e151]], { size: 2, onInvalid: (x) => rejected.push(x) });
      expect(windows.map(plain)).toEqual([win(0, [[1, 2], [-MAX_COORDINATE, 2]], 1)].map((w) => ({ ...w, rejected: 1 })));
      expect(rejected.map((x) => [x.reason, x.field])).toEqual([
        ['non-finite-in-use', 0],
        ['non-finite-in-use', 1],
      ]);
      expect(rejected[0].message).toMatch(/^element 0 is 1e\+160: its square overflows double precision/);
    });

    it('uses the dimension option instead of the first vector', () => {
      const rejected: InvalidVector<number[]>[] = [];
      const windows = collect([[1, 2, 3], a, b], { size: 2, dimension: 2, onInvalid: (x) => rejected.push(x) });
      expect(windows.map(plain)).toEqual([win(0, [a, b], 1)]);
      expect(rejected[0].message).toContain('dimension 3, expected 2');
    });

    it('keeps records (with their Kafka coordinates) by reference and accepts typed arrays', () => {
      type KafkaRecord = VectorRecord & { topic: string; partition: number; offset: string };
      const records: KafkaRecord[] = [
        { vector: new Float64Array([1, 2]), topic: 'points', partition: 0, offset: '10' },
        { vector: new Float32Array([3, 4]), topic: 'points', partition: 0, offset: '11' },
        { vector: [5, Number.POSITIVE_INFINITY], topic: 'points', partition: 1, offset: '12' },
      ];
      const { onInvalid, invalid$ } = withInvalid<VectorRecord>();
      const rejected: InvalidVector<VectorRecord>[] = [];
      invalid$.subscribe((x) => rejected.push(x));
      const [w] = collect(records, { size: 2, onInvalid });
      expect(w.records[0]).toBe(records[0]);
      expect(w.records[1]).toBe(records[1]);
      expect(Array.from(w.points)).toEqual([1, 2, 3, 4]);
      expect(rejected).toHaveLength(1);
      expect(rejected[0].record).toBe(records[2]);
      expect(rejected[0].message).toContain('(topic "points", partition 1, offset 12)');
    });
  });

  describe('withInvalid', () => {
    it('turns onInvalid into an Observable that completes on demand', () => {
      const { onInvalid, invalid$, complete } = withInvalid<number[]>();
      const seen: string[] = [];
      let completed = false;
      invalid$.subscribe({ next: (x) => seen.push(x.reason), complete: () => (completed = true) });
      collect([a, [], ['1', 2] as unknown as number[], b], { size: 2, onInvalid });
      complete();
      expect(seen).toEqual(['empty', 'not-numeric']);
      expect(completed).toBe(true);
    });
  });

  describe('options', () => {
    const bad: [string, unknown, string][] = [
      ['size 0', { size: 0 }, 'size'],
      ['fractional size', { size: 2.5 }, 'size'],
      ['slide > size', { size: 2, slide: 3 }, 'slide'],
      ['slide 0', { size: 2, slide: 0 }, 'slide'],
      ['slide without size', { timeMs: 10, slide: 1 }, 'slide'],
      ['neither size nor timeMs', {}, ''],
      ['negative timeMs', { timeMs: -5 }, 'timeMs'],
      ['infinite timeMs', { timeMs: Number.POSITIVE_INFINITY }, 'timeMs'],
      ['dimension 0', { size: 2, dimension: 0 }, 'dimension'],
      ['unknown option', { size: 2, windowSize: 3 }, 'windowSize'],
      ['not a scheduler', { timeMs: 5, scheduler: {} }, 'scheduler'],
      ['onInvalid not a function', { size: 2, onInvalid: 'log' }, 'onInvalid'],
      ['emitEmpty not a boolean', { timeMs: 5, emitEmpty: 'yes' }, 'emitEmpty'],
      ['no options at all', undefined, ''],
      ['maxWaitMs without size', { timeMs: 5, maxWaitMs: 10 }, 'maxWaitMs'],
      ['maxWaitMs with slide', { size: 4, slide: 2, maxWaitMs: 10 }, 'maxWaitMs'],
      ['maxWaitMs 0', { size: 4, maxWaitMs: 0 }, 'maxWaitMs'],
      ['maxWaitMs true', { size: 4, maxWaitMs: true }, 'maxWaitMs'],
      ['reuseBuffers without size', { timeMs: 5, reuseBuffers: true }, 'reuseBuffers'],
      ['reuseBuffers not a boolean', { size: 4, reuseBuffers: 1 }, 'reuseBuffers'],
    ];

    it.each(bad)('throws EmstreamOptionsError at creation for %s', (_, options, path) => {
      let error: unknown;
      try {
        windowVectors(options as never);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(EmstreamOptionsError);
      expect(error).toBeInstanceOf(EmstreamError);
      const optionsError = error as EmstreamOptionsError;
      expect(optionsError.name).toBe('EmstreamOptionsError');
      expect(optionsError.retriable).toBe(false);
      expect(optionsError.message).toMatch(/^windowVectors: invalid options: /);
      expect(optionsError.context.operator).toBe('windowVectors');
      expect(optionsError.context.issues.map((i) => i.path)).toContain(path);
      expect(optionsError.cause).toBeDefined();
    });

    it('says what is wrong and what to do', () => {
      expect(() => windowVectors({ size: 0 })).toThrow('size: must be at least 1 (points per window) (got 0)');
      expect(() => windowVectors({ size: 2, slide: 3 })).toThrow('slide: must be at most size (2), got 3');
      expect(() => windowVectors({})).toThrow('give size (points per window), timeMs (milliseconds per window), or both');
      expect(() => windowVectors({ size: 4, timeMs: 5, maxWaitMs: 10 })).toThrow('maxWaitMs: cannot be combined with timeMs');
      expect(() => windowVectors({ timeMs: 5, reuseBuffers: true })).toThrow('reuseBuffers: requires size');
    });

    it('accepts valid combinations', () => {
      expect(() => windowVectors({ size: 5 })).not.toThrow();
      expect(() => windowVectors({ timeMs: 0.5 })).not.toThrow();
      expect(() => windowVectors({ size: 5, timeMs: 100, dimension: 3, emitEmpty: true })).not.toThrow();
      expect(() => windowVectors({ size: 5, slide: 5 })).not.toThrow();
      expect(() => windowVectors({ size: 5, slide: 1 })).not.toThrow();
      expect(() => windowVectors({ size: 5, slide: 2, timeMs: undefined, reuseBuffers: true })).not.toThrow();
    });
  });

  describe('properties', () => {
    const vectorsOf = (d: number) =>
      fc.array(fc.array(fc.double({ noNaN: true, min: -MAX_COORDINATE, max: MAX_COORDINATE }), { minLength: d, maxLength: d }), {
        maxLength: 60,
      });
    const input = fc.integer({ min: 1, max: 4 }).chain((d) => fc.tuple(fc.constant(d), vectorsOf(d)));

    it('count windows reproduce the input in order; all but the last hold exactly size points', () => {
      fc.assert(
        fc.property(input, fc.integer({ min: 1, max: 12 }), ([d, points], size) => {
          const windows = collect(points, { size });
          expect(windows.length).toBe(Math.ceil(points.length / size));
          expect(windows.flatMap((w) => Array.from(w.points))).toEqual(points.flat());
          expect(windows.flatMap((w) => w.records)).toEqual(points);
          windows.forEach((w, i) => {
            expect(w.index).toBe(i);
            expect(w.d).toBe(d);
            expect(w.points.length).toBe(w.n * d);
            if (i < windows.length - 1) expect(w.n).toBe(size);
            else expect(w.n).toBeGreaterThanOrEqual(1);
            expect(w.n).toBeLessThanOrEqual(size);
          });
        }),
      );
    });

    it('a vector rejected part-way through its values leaves nothing behind: the windows hold exactly the valid inputs, in order', () => {
      const bad = fc.constantFrom(Number.NaN, Infinity, -Infinity, 2 * MAX_COORDINATE, 'x' as unknown as number);
      const stream = fc.integer({ min: 2, max: 5 }).chain((d) =>
        fc.tuple(
          fc.constant(d),
          fc.array(
            fc.oneof(
              fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: d, maxLength: d }).map((v) => ({ ok: true, v })),
              // a bad value in any column: the columns before it are written before it is seen
              fc.tuple(fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: d, maxLength: d }), fc.integer({ min: 0, max: d - 1 }), bad).map(([v, at, x]) => {
                const w = v.slice();
                w[at] = x;
                return { ok: false, v: w };
              }),
            ),
            { maxLength: 60 },
          ),
        ),
      );
      fc.assert(
        fc.property(stream, fc.integer({ min: 1, max: 12 }), ([d, items], size) => {
          const windows = collect(
            items.map((it) => it.v),
            { size, dimension: d, onInvalid: () => undefined },
          );
          const valid = items.filter((it) => it.ok).map((it) => it.v);
          expect(windows.flatMap((w) => Array.from(w.points))).toEqual(valid.flat());
          expect(windows.flatMap((w) => w.records)).toEqual(valid);
        }),
        { seed: 31, numRuns: 200 },
      );
    });

    it('sliding window i holds inputs [i·slide, i·slide + size)', () => {
      fc.assert(
        fc.property(input, fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 8 }), ([, points], x, y) => {
          const size = Math.max(x, y);
          const slide = Math.min(x, y);
          const windows = collect(points, { size, slide });
          const expected: number[][][] = [];
          for (let start = 0; start < points.length; start += slide) expected.push(points.slice(start, start + size));
          expect(windows.map((w) => w.records)).toEqual(expected);
        }),
      );
    });
  });
});

const MAX_FIRINGS = 50;

/**
 * Wrap a scheduler to record when scheduled work actually runs (virtual time) and every
 * Subscription it hands out, to check that timers are cleared.
 */
function trackingScheduler(inner: SchedulerLike): { scheduler: SchedulerLike; fired: number[]; scheduled: Subscription[] } {
  const fired: number[] = [];
  const scheduled: Subscription[] = [];
  const scheduler: SchedulerLike = {
    now: () => inner.now(),
    schedule<T>(work: (this: SchedulerAction<T>, state?: T) => void, delay?: number, state?: T): Subscription {
      const subscription = inner.schedule<T>(
        function (this: SchedulerAction<T>, s?: T) {
          fired.push(inner.now());
          // A leaked periodic timer would run forever in virtual time: stop it so the test fails instead.
          if (fired.length <= MAX_FIRINGS) work.call(this, s);
        },
        delay,
        state,
      );
      scheduled.push(subscription);
      return subscription;
    },
  };
  return { scheduler, fired, scheduled };
}
