import { asyncScheduler } from 'rxjs';
import type { OperatorFunction, SchedulerLike, Subscription } from 'rxjs';
import { z } from 'zod';
import { markChecked } from '../gmm/checked.js';
import { WindowReleasedError } from '../errors.js';
import { parseOptions } from '../options.js';
import { guarded, operate, operatorSubscriber } from './operate.js';
import { scopeMaxWaitMs, scopeOnInvalid } from './pipelineScope.js';
import type { InvalidVector, VectorInput, VectorWindow } from './types.js';
import { checkValues, describeLocation, MAX_COORDINATE, validateVector } from './vectorInput.js';

/** Options of {@link windowVectors}. At least one of `size` and `timeMs` is required. */
export interface WindowOptions<R = VectorInput> {
  /** Count window: a window closes when it holds `size` valid points. Positive integer. */
  readonly size?: number;
  /** Time window: a window closes `timeMs` milliseconds after it opened. Positive. */
  readonly timeMs?: number;
  /**
   * Sliding count windows: a new window starts every `slide` valid points (1 ≤ slide ≤ size).
   * Requires `size`; cannot be combined with `timeMs`. Defaults to `size` (tumbling windows).
   */
  readonly slide?: number;
  /**
   * Count windows with a maximum wait: a window also closes `maxWaitMs` milliseconds after its first record (on
   * `scheduler`), holding what it has, so the tail of a slow or idle input is answered within that time instead of
   * waiting for `size` points. Requires `size`; cannot be combined with `timeMs` or `slide`. `false`: never, even
   * when a runner's scope sets a default (`emstream run --max-wait-ms`). Default: the runner's, else none.
   */
  readonly maxWaitMs?: number | false;
  /**
   * Expected dimension D. When omitted, D is the dimension of most valid vectors of the first window (the first
   * `size` of them, or those of the first `timeMs`): one stray vector of another dimension at the start does not
   * decide it. The others of the first window are rejected as `wrong-dimension`.
   */
  readonly dimension?: number;
  /** Scheduler of the `timeMs` and `maxWaitMs` timers (pass a `TestScheduler` for virtual time). Defaults to `asyncScheduler`. */
  readonly scheduler?: SchedulerLike;
  /**
   * Error channel: receives every rejected input. The stream itself never errors because of an invalid input.
   * Defaults to the runner's dead-letter path when the operator is created while a runner builds the pipeline
   * (`buildInPipelineScope`, as `runKafkaPipeline` does).
   */
  readonly onInvalid?: (invalid: InvalidVector<R>) => void;
  /** Emit time windows that hold no valid point (`n = 0`). Defaults to `false`. */
  readonly emitEmpty?: boolean;
  /**
   * Lend each full window's memory instead of giving it (count windows: requires `size`). A window's `points` stays
   * valid while that window and the one after it are handled; after that, its memory may be taken back for a later
   * window (moved with `ArrayBuffer.prototype.transfer`, not copied), and the old `points` is left detached: length
   * 0, `undefined` at every index, and a `TypeError` from methods such as `slice` or iteration. A window closed
   * before it is full (`maxWaitMs`, `timeMs`, the end of the input) is a copy it owns. Every operator of this library
   * reads a window while it is handled (`fitMixture`, `toLabels`, `detectDrift`, `windowRecord`, the Kafka runner;
   * `offThread` moves the window to its worker, a member of a shared model copies one it holds for a first model);
   * one of them given a window too late (after a buffering operator) throws `WindowReleasedError`. Copy `points`
   * (`points.slice()`) to keep it longer. What it saves: a new n·d buffer a full window, written cold and collected
   * later (at D = 384, 1000 points a window, a fifth to a third of the operator's time: docs/benchmarks.md).
   * Default `false`: every window owns its `points`.
   */
  readonly reuseBuffers?: boolean;
}

const OPERATOR = 'windowVectors';

const isScheduler = (value: unknown): value is SchedulerLike =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as SchedulerLike).now === 'function' &&
  typeof (value as SchedulerLike).schedule === 'function';

export const windowOptionsSchema = z
  .strictObject(
    {
      size: z
        .number({ error: 'must be a number (points per window)' })
        .int({ error: 'must be an integer (points per window)' })
        .positive({ error: 'must be at least 1 (points per window)' })
        .optional(),
      timeMs: z
        .number({ error: 'must be a finite number of milliseconds' })
        .positive({ error: 'must be greater than 0 milliseconds' })
        .optional(),
      slide: z
        .number({ error: 'must be a number (points between window starts)' })
        .int({ error: 'must be an integer (points between window starts)' })
        .positive({ error: 'must be at least 1 (points between window starts)' })
        .optional(),
      maxWaitMs: z
        .union([z.literal(false), z.number({ error: 'must be a number of milliseconds or false' }).positive({ error: 'must be greater than 0 milliseconds (or false: no maximum wait)' })], {
          error: 'must be a number of milliseconds > 0, or false',
        })
        .optional(),
      dimension: z
        .number({ error: 'must be a number (coordinates per point)' })
        .int({ error: 'must be an integer (coordinates per point)' })
        .positive({ error: 'must be at least 1 (coordinates per point)' })
        .optional(),
      scheduler: z
        .custom<SchedulerLike>(isScheduler, { error: 'must be an RxJS scheduler (e.g. asyncScheduler or a TestScheduler)' })
        .optional(),
      onInvalid: z
        .custom<(invalid: InvalidVector<unknown>) => void>((value) => typeof value === 'function', {
          error: 'must be a function receiving each rejected input',
        })
        .optional(),
      emitEmpty: z.boolean({ error: 'must be true or false' }).optional(),
      reuseBuffers: z.boolean({ error: 'must be true or false' }).optional(),
    },
    {
      // (unknown keys are reported, with the name meant, by parseOptions)
      error: 'options must be an object such as { size: 100 } or { timeMs: 1000 }',
    },
  )
  .superRefine((options, ctx) => {
    if (options.size === undefined && options.timeMs === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: 'give size (points per window), timeMs (milliseconds per window), or both',
      });
    }
    if (typeof options.maxWaitMs === 'number') {
      if (options.size === undefined) ctx.addIssue({ code: 'custom', path: ['maxWaitMs'], message: 'requires size: the maximum wait closes a count window early' });
      if (options.timeMs !== undefined) ctx.addIssue({ code: 'custom', path: ['maxWaitMs'], message: 'cannot be combined with timeMs, which already bounds how long a window stays open: drop one' });
      if (options.slide !== undefined) ctx.addIssue({ code: 'custom', path: ['maxWaitMs'], message: 'cannot be combined with slide: sliding windows overlap, a window closed early would leave the others open' });
    }
    if (options.reuseBuffers === true && options.size === undefined) {
      ctx.addIssue({ code: 'custom', path: ['reuseBuffers'], message: 'requires size: only count windows have buffers of one size to reuse' });
    }
    if (options.slide !== undefined) {
      if (options.size === undefined) {
        ctx.addIssue({ code: 'custom', path: ['slide'], message: 'requires size: slide counts points between the starts of count windows' });
      } else if (options.slide > options.size) {
        ctx.addIssue({
          code: 'custom',
          path: ['slide'],
          message: `must be at most size (${options.size}), got ${options.slide}: windows would skip points; lower slide or raise size`,
        });
      }
      if (options.timeMs !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['slide'],
          message: 'cannot be combined with timeMs: sliding windows are count windows only; drop slide or timeMs',
        });
      }
    }
  });

interface ParsedOptions<R> {
  readonly size: number | undefined;
  readonly timeMs: number | undefined;
  readonly slide: number | undefined;
  readonly maxWaitMs: number | undefined;
  readonly dimension: number | undefined;
  readonly scheduler: SchedulerLike;
  readonly onInvalid: ((invalid: InvalidVector<R>) => void) | undefined;
  readonly emitEmpty: boolean;
  readonly reuseBuffers: boolean;
}

function parseWindowOptions<R>(options: WindowOptions<R>): ParsedOptions<R> {
  const parsed = parseOptions(windowOptionsSchema, options, OPERATOR);
  return {
    size: parsed.size,
    timeMs: parsed.timeMs,
    slide: parsed.slide,
    // The runner's default applies to plain count windows only (not to time or sliding windows).
    maxWaitMs:
      parsed.maxWaitMs === false
        ? undefined
        : (parsed.maxWaitMs ?? (parsed.size !== undefined && parsed.timeMs === undefined && parsed.slide === undefined ? scopeMaxWaitMs() : undefined)),
    dimension: parsed.dimension,
    scheduler: parsed.scheduler ?? asyncScheduler,
    // The schema checked it is a function; its parameter type is the caller's. Without one, the runner's dead-letter path.
    onInvalid: options.onInvalid ?? (scopeOnInvalid() as ((invalid: InvalidVector<R>) => void) | undefined),
    emitEmpty: parsed.emitEmpty ?? false,
    reuseBuffers: parsed.reuseBuffers ?? false,
  };
}

/**
 * Whether every element of a plain array is a number of magnitude at most {@link MAX_COORDINATE} (what the gate
 * accepts); false sends the input through the gate ({@link validateVector}) for its message.
 */
function plainNumbers(values: readonly unknown[]): boolean {
  for (let i = 0; i < values.length; i++) if (!isCoordinate(values[i])) return false;
  return true;
}

/** Whether a value is what the gate accepts as a coordinate: a number of magnitude at most {@link MAX_COORDINATE}. */
function isCoordinate(x: unknown): x is number {
  return typeof x === 'number' && x <= MAX_COORDINATE && x >= -MAX_COORDINATE;
}

/**
 * A buffer of `length` values, not zeroed: a window's rows are written in order before anyone reads them, and a window
 * emitted before its buffer is full is a copy of its written rows, so no unwritten value is ever reachable. Zeroing
 * a fresh buffer cost more than filling it (windows of 1000 × 32: 0.2 against 0.06 ms).
 */
function unzeroed(length: number): Float64Array {
  if (typeof Buffer === 'undefined') return new Float64Array(length);
  const bytes = Buffer.allocUnsafeSlow(length * 8);
  return new Float64Array(bytes.buffer, bytes.byteOffset, length);
}

/** The points of windows emitted with `reuseBuffers`: lent, their memory taken back once the next window was emitted too. */
const lent = new WeakSet<Float64Array>();

/**
 * Throws a {@link WindowReleasedError} when a window's points were lent (`reuseBuffers`) and have been taken back: a
 * reader that got the window too late (after it and the next window were handled), e.g. through a buffering operator.
 *
 * @param window - the window about to be read
 * @param reader - what reads it, for the message
 */
export function checkNotReleased(window: Pick<VectorWindow<unknown>, 'index' | 'n' | 'd' | 'points'>, reader: string): void {
  if (window.points.length < window.n * window.d && lent.has(window.points)) throw new WindowReleasedError(window.index, reader);
}

/**
 * The window itself, or, when its points are lent (`reuseBuffers`), the window with a copy of them that it owns
 * (marked checked as the lent points were): for a reader that holds a window beyond the next one.
 */
export function ownedWindow<W extends VectorWindow<unknown>>(window: W): W {
  if (!lent.has(window.points)) return window;
  const points = window.points.slice();
  markChecked(points);
  return { ...window, points };
}

/** `buffer.transfer()` (ES2024, in every Node this package supports), typed here since the project's libs are ES2023. */
type MovableBuffer = ArrayBuffer & { transfer: () => ArrayBuffer };

/** Rows allocated for a window whose size is unknown (time-only windows); doubled when full. */
const INITIAL_ROWS = 64;

/** A window being filled. */
interface OpenWindow<R> {
  points: Float64Array;
  n: number;
  readonly records: R[];
  rejected: number;
}

/**
 * Group a stream of vectors into windows of valid points, as flat n×d row-major `Float64Array`s.
 *
 * 1. Each input is checked once with `validateVector` (the gate; a vector a Kafka decoder already checked is
 *    not scanned again) against the dimension D: the `dimension` option, or else the dimension of most valid
 *    vectors of the first window (the first `size` valid inputs, or those of the first `timeMs`, are held until
 *    the vote; the others are rejected as `wrong-dimension`). A rejected input goes to `onInvalid` and is counted
 *    in the `rejected` field of every open window (or, when none is open, of the next window); it never errors
 *    the stream.
 * 2. A valid vector is copied into each open window's buffer (preallocated to `size·d` rows when `size`
 *    is given, grown geometrically otherwise); the record itself is kept by reference in `records`.
 * 3. Count windows (`size`) close when they hold `size` points. With `slide < size`, a new window starts
 *    every `slide` valid points, so windows overlap (like RxJS `bufferCount(size, slide)`).
 * 4. Time windows (`timeMs`) close `timeMs` after they opened; the timer starts on subscription. With
 *    both `size` and `timeMs`, a window closes on whichever comes first, and a count close restarts the
 *    timer. A time window with no valid point is emitted only when `emitEmpty` is true; otherwise it is
 *    skipped and its `rejected` count carries over to the next emitted window. A count window with
 *    `maxWaitMs` also closes that long after its first record (the wait starts with the record, not the
 *    window; a count close cancels it), holding fewer than `size` points: an idle input's tail is answered.
 * 5. On complete, the open windows that hold at least one point are emitted (oldest first), then the
 *    output completes. On error, open windows are dropped (as RxJS `bufferCount` does) and the error is
 *    forwarded. On unsubscribe, the timer is cleared and buffers are released.
 *
 * Every emitted window owns its `points` (exactly n·d long, never written again; with `reuseBuffers`, a full window's
 * are lent while it and the next window are handled) and `records`; `index` counts emitted windows from 0; `d` is 0 for an empty window
 * emitted before D is known. An exception thrown by `onInvalid` (while a value is handled, on completion or in a
 * timer) is forwarded as the stream's error.
 *
 * ## Example
 * ```ts
 * import { from } from 'rxjs';
 * import { windowVectors } from 'emstream';
 *
 * from([[1, 2], [3, 4], [Number.NaN, 0], [5, 6]])
 *   .pipe(windowVectors({ size: 2, onInvalid: (bad) => console.warn(bad.message) }))
 *   .subscribe((w) => console.log(w.index, w.n, w.d, Array.from(w.points), w.rejected));
 * // → 0 2 2 [ 1, 2, 3, 4 ] 0
 * // (warning) element 0 is NaN: …
 * // → 1 1 2 [ 5, 6 ] 1
 * ```
 *
 * @param options - window size and/or duration, slide, maximum wait, expected dimension, scheduler, error channel
 * @returns an operator from inputs (bare vectors or records with a `vector` field) to windows
 * @throws EmstreamOptionsError when the options are invalid (at creation, not on subscribe)
 */
export function windowVectors<R extends VectorInput>(options: WindowOptions<R>): OperatorFunction<R, VectorWindow<R>> {
  const { size, timeMs, slide, maxWaitMs, dimension, scheduler, onInvalid, emitEmpty, reuseBuffers } = parseWindowOptions(options);
  const sliding = size !== undefined && slide !== undefined && slide < size;

  return operate((source, subscriber) => {
    let d = dimension;
    /** Until D is known: the first window's inputs with valid elements, held for the majority vote on D. */
    let held: { input: R; values: ArrayLike<number> }[] | undefined = d === undefined ? [] : undefined;
    let index = 0;
    let validCount = 0;
    let pendingRejected = 0;
    let open: OpenWindow<R>[] = [];
    let timer: Subscription | undefined;
    /** The maximum wait of the open count window, from its first record. */
    let wait: Subscription | undefined;

    /** reuseBuffers: buffers never handed out (a window closed early emits a copy of its rows), then emitted windows' points, oldest first. */
    let spare: Float64Array[] = [];
    let lentOut: { points: Float64Array; index: number }[] = [];

    /**
     * A window's buffer of `length` values: with `reuseBuffers`, a spare one, else the memory of the oldest lent window
     * once a later window has been emitted too (moved: that window's `points` is left detached); else a new one.
     */
    const buffer = (length: number): Float64Array => {
      if (reuseBuffers) {
        const unused = spare.pop();
        if (unused !== undefined) return unused;
        const oldest = lentOut[0];
        if (oldest !== undefined && oldest.index < index - 1) {
          lentOut.shift();
          const memory = oldest.points.buffer as MovableBuffer;
          // (a buffer someone else moved away, e.g. to a worker, is detached: left to them)
          if (memory.byteLength === length * 8) return new Float64Array(memory.transfer());
        }
      }
      return unzeroed(length);
    };

    const openWindow = (dim: number): OpenWindow<R> => {
      const rows = size ?? INITIAL_ROWS;
      const win: OpenWindow<R> = { points: buffer(rows * dim), n: 0, records: [], rejected: pendingRejected };
      pendingRejected = 0;
      open.push(win);
      return win;
    };

    const emit = (win: OpenWindow<R>): void => {
      const dim = d ?? 0;
      const length = win.n * dim;
      const points = win.points.length === length ? win.points : win.points.slice(0, length);
      // Every value passed the gate (finite, within MAX_COORDINATE) and no one writes this array again (a lent one is
      // detached before its memory is): the fit need not scan it again.
      markChecked(points);
      if (reuseBuffers) {
        if (points === win.points) {
          lent.add(points);
          lentOut.push({ points, index });
        } else spare.push(win.points); // (a count window's buffer: size·d, never grown)
      }
      subscriber.next({ index: index++, n: win.n, d: dim, points, records: win.records, rejected: win.rejected });
    };

    const startTimer = (): void => {
      if (timeMs === undefined) return;
      timer?.unsubscribe();
      timer = scheduler.schedule(() => guarded(subscriber, onTimer), timeMs);
    };

    function onTimer(): void {
      // The first time window decides D among what it holds.
      if (held !== undefined && held.length > 0) decideDimension();
      const win = open[0];
      open = [];
      timer = undefined; // this action has run; do not cancel it from inside itself
      // Restart first, so the next window's span starts now even if a consumer is slow.
      startTimer();
      if (win !== undefined) {
        emit(win);
      } else if (emitEmpty) {
        const rejected = pendingRejected;
        pendingRejected = 0;
        subscriber.next({ index: index++, n: 0, d: d ?? 0, points: new Float64Array(0), records: [], rejected });
      }
    }

    const startWait = (): void => {
      if (maxWaitMs === undefined || wait !== undefined) return;
      wait = scheduler.schedule(() => guarded(subscriber, onWait), maxWaitMs);
    };

    const stopWait = (): void => {
      wait?.unsubscribe();
      wait = undefined;
    };

    /** The maximum wait of the open count window is over: it closes with what it holds. */
    function onWait(): void {
      wait = undefined;
      if (held !== undefined && held.length > 0) decideDimension();
      const win = open[0];
      open = [];
      stopWait();
      if (win !== undefined && win.n > 0) emit(win);
    }

    const reject = (bad: InvalidVector<R>): void => {
      if (open.length === 0) pendingRejected++;
      else for (const win of open) win.rejected++;
      onInvalid?.(bad);
    };

    const onValue = (input: R): void => {
      // The common case first: a plain array of D finite numbers once D is known, checked in one tight pass (no
      // result object); anything else, or a failure, goes through the gate, which says what is wrong.
      if (held === undefined && Array.isArray(input) && input.length === d && acceptPlain(input, input as readonly unknown[])) return;
      const result = validateVector(input, d);
      if (!result.ok) {
        reject(result.invalid);
        return;
      }
      if (held !== undefined) {
        held.push({ input, values: result.values });
        if (held.length === 1) startWait();
        if (size !== undefined && held.length >= size) decideDimension();
        return;
      }
      accept(input, result.values);
    };

    /** D is the most common dimension among the held inputs (the first to reach the top count on a tie); replay them. */
    function decideDimension(): void {
      const inputs = held!;
      held = undefined;
      const counts = new Map<number, number>();
      let best = 0;
      let bestCount = 0;
      for (const { values } of inputs) {
        const c = (counts.get(values.length) ?? 0) + 1;
        counts.set(values.length, c);
        if (c > bestCount) {
          best = values.length;
          bestCount = c;
        }
      }
      const dim = (d = best);
      for (const { input, values } of inputs) {
        if (values.length === dim) {
          accept(input, values);
          continue;
        }
        const failure = checkValues(values as readonly number[], () => describeLocation(input), {
          dimension: dim,
          dimensionHint: `or set the dimension option: ${dim} is the dimension of ${bestCount} of the first window's ${inputs.length} valid points`,
        })!;
        reject({ record: input, reason: 'wrong-dimension', message: failure.message });
      }
    }

    /**
     * A plain array of D values: with one count window open (not sliding), checked and copied into its next row in
     * one pass, the row counted only when every value passed; else checked, then accepted. False: a value failed
     * (nothing counted; the gate says what is wrong).
     */
    const acceptPlain = (input: R, values: readonly unknown[]): boolean => {
      if (sliding || open.length !== 1) {
        if (!plainNumbers(values)) return false;
        accept(input, values as readonly number[]);
        return true;
      }
      const win = open[0];
      const dim = d!;
      const offset = win.n * dim;
      if (offset + dim > win.points.length) grow(win, offset + dim);
      const points = win.points;
      for (let j = 0; j < dim; j++) {
        const x = values[j];
        if (!isCoordinate(x)) return false;
        points[offset + j] = x;
      }
      validCount++;
      win.records.push(input);
      win.n++;
      accepted();
      return true;
    };

    const grow = (win: OpenWindow<R>, rows: number): void => {
      const grown = unzeroed(Math.max(rows, win.points.length * 2));
      grown.set(win.points.subarray(0, win.n * d!));
      win.points = grown;
    };

    const accept = (input: R, values: ArrayLike<number>): void => {
      const dim = d!;

      if (sliding ? validCount % slide! === 0 : open.length === 0) openWindow(dim);
      validCount++;

      for (const win of open) {
        const offset = win.n * dim;
        if (offset + dim > win.points.length) grow(win, offset + dim);
        // A plain loop: TypedArray#set from a short JS array costs more than copying D values.
        const points = win.points;
        for (let j = 0; j < dim; j++) points[offset + j] = values[j];
        win.records.push(input);
        win.n++;
      }
      accepted();
    };

    /** After a point joined the open windows: the first point of a window starts its wait; a full one is emitted. */
    const accepted = (): void => {
      if (open[0].n === 1) startWait();

      if (size !== undefined) {
        // At most one window (the oldest) can be full at a time.
        const first = open[0];
        if (first.n === size) {
          open.shift();
          stopWait();
          if (!sliding) startTimer();
          emit(first);
        }
      }
    };

    startTimer();
    const subscription = source.subscribe(
      operatorSubscriber<R>(subscriber, {
        next: onValue,
        error: (err: unknown) => {
          open = [];
          held = undefined;
          spare = [];
          lentOut = [];
          timer?.unsubscribe();
          stopWait();
          subscriber.error(err);
        },
        complete: () => {
          timer?.unsubscribe();
          stopWait();
          if (held !== undefined && held.length > 0) decideDimension();
          const remaining = open;
          open = [];
          for (const win of remaining) {
            if (win.n > 0) emit(win);
          }
          subscriber.complete();
        },
      }),
    );

    return () => {
      subscription.unsubscribe();
      timer?.unsubscribe();
      timer = undefined;
      stopWait();
      open = [];
      held = undefined;
      spare = [];
      lentOut = [];
    };
  });
}
