/**
 * Every operator subscribes through one helper (`operate` + `operatorSubscriber`, in the manner of RxJS's own), so
 * whatever it throws while handling a value, a completion or a timer goes downstream as the stream's error, never
 * to RxJS's unhandled-error path (`config.onUnhandledError`, a thrown exception on a later tick).
 */
import { config, from, lastValueFrom, Observable, of, toArray } from 'rxjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataError, ModelFormatError, StateMismatchError } from '../../src/gmm/errors.js';
import { detectDrift } from '../../src/operators/detectDrift.js';
import { fitMixture } from '../../src/operators/fitMixture.js';
import { operate, operatorSubscriber } from '../../src/operators/operate.js';
import { toLabels } from '../../src/operators/toLabels.js';
import type { MixtureUpdate, VectorWindow } from '../../src/operators/types.js';
import { windowVectors } from '../../src/operators/windowVectors.js';

let unhandled: unknown[] = [];
let saved: typeof config.onUnhandledError;

beforeEach(() => {
  unhandled = [];
  saved = config.onUnhandledError;
  config.onUnhandledError = (err) => unhandled.push(err);
});
afterEach(() => {
  config.onUnhandledError = saved;
});

/** The error the stream ends with (its values before it are ignored), and the values seen. */
async function failure<T>(source: Observable<T>): Promise<unknown> {
  let caught: unknown;
  try {
    await lastValueFrom(source.pipe(toArray()));
  } catch (err) {
    caught = err;
  }
  // give a misrouted error a tick to reach the unhandled path
  await new Promise((resolve) => setTimeout(resolve, 5));
  return caught;
}

const window = (index: number, d: number, rows: number[][]): VectorWindow<number> => ({
  index,
  n: rows.length,
  d,
  points: Float64Array.from(rows.flat()),
  records: rows.map((_, i) => i),
  rejected: 0,
});

describe('operators send what they throw downstream', () => {
  it('windowVectors: an onInvalid that throws while a value is handled', async () => {
    const err = await failure(
      from([[1, 2], [Number.NaN, 0]]).pipe(
        windowVectors({
          size: 2,
          onInvalid: () => {
            throw new Error('handler failed');
          },
        }),
      ),
    );
    expect((err as Error).message).toBe('handler failed');
    expect(unhandled).toEqual([]);
  });

  it('fitMixture: a window of another dimension than the model (a StateMismatchError, not an unfittable window)', async () => {
    const first = window(0, 1, [[0], [0.1], [5], [5.1]]);
    const second = window(1, 2, [
      [0, 0],
      [5, 5],
    ]);
    const err = await failure(from([first, second]).pipe(fitMixture<number>({ k: 2, onInvalid: () => {} })));
    expect(err).toBeInstanceOf(StateMismatchError);
    expect(unhandled).toEqual([]);
  });

  it('detectDrift: an update whose model is not a model (a ModelFormatError)', async () => {
    const updates = await lastValueFrom(from([window(0, 1, [[0], [0.1], [5], [5.1]])]).pipe(fitMixture<number>({ k: 2 }), toArray()));
    const broken = { ...updates[0], model: { ...updates[0].model, weights: [2, -1] } } as MixtureUpdate<number>;
    const err = await failure(of(broken).pipe(detectDrift()));
    expect(err).toBeInstanceOf(ModelFormatError);
    expect(unhandled).toEqual([]);
  });

  it('toLabels: an update without its window', async () => {
    const updates = await lastValueFrom(from([window(0, 1, [[0], [0.1], [5], [5.1]])]).pipe(fitMixture<number>({ k: 2 }), toArray()));
    const broken = { ...updates[0], window: undefined } as unknown as MixtureUpdate<number>;
    const err = await failure(of(broken).pipe(toLabels()));
    expect(err).toBeInstanceOf(TypeError);
    expect(unhandled).toEqual([]);
  });

  it('operate: an error of the body itself, of a completion handler, and a value after the destination closed', async () => {
    const body = operate<number, number>(() => {
      throw new DataError('no body');
    });
    expect(await failure(of(1).pipe(body))).toBeInstanceOf(DataError);
    const onComplete = operate<number, number>((source, subscriber) =>
      source.subscribe(
        operatorSubscriber(subscriber, {
          complete: () => {
            throw new Error('completion failed');
          },
        }),
      ),
    );
    expect(((await failure(of(1).pipe(onComplete))) as Error).message).toBe('completion failed');
    // a synchronous source that keeps pushing after the error: the handler is not called again
    let calls = 0;
    const once = operate<number, number>((source, subscriber) =>
      source.subscribe(
        operatorSubscriber(subscriber, {
          next: () => {
            calls++;
            throw new Error('first value failed');
          },
        }),
      ),
    );
    expect(((await failure(from([1, 2, 3]).pipe(once))) as Error).message).toBe('first value failed');
    expect(calls).toBe(1);
    expect(unhandled).toEqual([]);
  });
});
