/**
 * A stream that ends before a first model can be fitted (fewer distinct points than K) says so instead of
 * completing silently: `em.window.failed` with reason 'too-few-points', its records to the dead-letter path,
 * or a DataError when there is none; the `emstream run` log turns the event into one warn line.
 */
import { firstValueFrom, from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { DataError, fitMixture, Instrumentation, windowVectors, type InvalidVector } from 'emstream';

const three = [
  [0, 0],
  [1, 1],
  [2, 0],
];

describe('fitMixture on a stream too short to fit', () => {
  it('emits em.window.failed and sends every record to onInvalid, then completes', async () => {
    const failed: { windowIndex: number; n: number; reason: string; message: string }[] = [];
    const instrumentation = new Instrumentation();
    instrumentation.on('em.window.failed', (e) => failed.push(e));
    const invalid: InvalidVector<number[]>[] = [];
    const updates = await lastValueFrom(
      from(three).pipe(windowVectors<number[]>({ size: 2 }), fitMixture<number[]>({ k: 5, instrumentation, onInvalid: (i) => invalid.push(i) }), toArray()),
    );
    expect(updates).toEqual([]);
    const message = 'the stream ended with 3 points and no model: a first model needs at least k = 5 distinct points; lower k or send more data';
    expect(failed).toEqual([{ windowIndex: 1, n: 3, reason: 'too-few-points', message }]);
    expect(invalid.map((i) => [i.record, i.reason, i.message])).toEqual(three.map((p) => [p, 'unfittable', message]));
  });

  it('errors with a DataError naming fitMixture when there is no dead-letter path', async () => {
    const error = await firstValueFrom(from(three).pipe(windowVectors<number[]>({ size: 10 }), fitMixture<number[]>({ k: 5 }))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DataError);
    expect((error as Error).message).toBe(
      'fitMixture: the stream ended with 3 points and no model: a first model needs at least k = 5 distinct points; lower k or send more data',
    );
    expect((error as DataError).context).toMatchObject({ n: 3, k: 5 });
  });

  it('uses the smallest K of a range, and says nothing when the stream was fitted or empty', async () => {
    const error = await firstValueFrom(from(three).pipe(windowVectors<number[]>({ size: 10 }), fitMixture<number[]>({ k: { min: 4, max: 6 } }))).catch((e: unknown) => e);
    expect((error as Error).message).toContain('at least k = 4 distinct points');
    const failed: unknown[] = [];
    const instrumentation = new Instrumentation();
    instrumentation.on('em.window.failed', (e) => failed.push(e));
    const fitted = await lastValueFrom(from(three).pipe(windowVectors<number[]>({ size: 10 }), fitMixture<number[]>({ k: 2, instrumentation }), toArray()));
    expect(fitted).toHaveLength(1);
    const empty = await lastValueFrom(from([] as number[][]).pipe(windowVectors<number[]>({ size: 10 }), fitMixture<number[]>({ k: 2, instrumentation }), toArray()));
    expect(empty).toEqual([]);
    expect(failed).toEqual([]);
  });
});
