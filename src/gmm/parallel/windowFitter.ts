/**
 * A {@link StreamingGmm} on a worker thread: {@link WindowFitter.fit} moves a window to the worker (or copies it into
 * shared memory) and returns at once; the worker fits the windows in the order they were given and each answer comes
 * back, in that order, to the callback of its window. The calling thread is free meanwhile (to read and check the next window), so assembly and
 * fitting run on two cores.
 *
 * @module
 */
import { Worker } from 'node:worker_threads';
import { isChecked } from '../checked.js';
import { ThreadPoolError } from '../errors.js';
import type { StreamingOptions, StreamingStateCopy, WindowFit } from '../streaming.js';
import type { Dataset } from '../types.js';
import { workerEntry } from './pool.js';
import { errorFromMessage, type FitRequest, type WindowReply, type WindowWorkerInit } from './windowProtocol.js';

/** A window's answer: its fit and the state after it (typed copies), or the error its fit threw. */
export type WindowOutcome = (
  | { readonly ok: true; readonly fit: WindowFit; readonly state: StreamingStateCopy; readonly durationMs: number }
  | { readonly ok: false; readonly error: Error }
) & {
  /** The window's points, when they were moved to the worker ({@link WindowFitter.fit}): a new view of the same memory. */
  readonly points?: Float64Array;
};

interface Pending {
  readonly id: number;
  /** The shared buffer the window was copied into (null: moved). */
  readonly slot: SharedArrayBuffer | null;
  /** Where the moved points were: their offset and length in the buffer that comes back. */
  readonly moved: { readonly byteOffset: number; readonly length: number } | null;
  readonly done: (outcome: WindowOutcome) => void;
}

/** What to do when the worker fails. */
const REMEDY = 'fit on the calling thread (fitMixture without offThread)';

/** Free window buffers kept for reuse (a window in flight holds one; reused memory is not page-faulted in again). */
const KEEP_FREE = 4;

/**
 * One streaming fit on its own worker thread.
 *
 * 1. the worker is started by the constructor and builds its {@link StreamingGmm} from `options` (already validated);
 *    if that throws (e.g. an `initialState` that does not match the options), `onFatal` receives the typed error;
 * 2. {@link fit} posts a window (moved or copied); answers arrive in the order of the calls, each to its own
 *    `done`;
 * 3. `onFatal` receives a `ThreadPoolError` when the worker dies (an uncaught error, an exit); no `done` is called
 *    after it;
 * 4. {@link close} stops the worker; pending windows get no answer.
 *
 * The thread keeps the process alive while it starts and while windows are in flight.
 *
 * @throws ThreadPoolError from the constructor when Node cannot create the thread at all
 */
export class WindowFitter {
  private readonly worker: Worker;
  private readonly pending: Pending[] = [];
  private readonly free: SharedArrayBuffer[] = [];
  private nextId = 0;
  private closed = false;
  /** The worker built its StreamingGmm (`ready`): from then on it holds the process only while windows are in flight. */
  private started = false;

  /**
   * @param options - the streaming options of the fit (structured-cloneable: validated plain data)
   * @param onFatal - called once if the worker cannot start or stops
   */
  constructor(
    options: StreamingOptions,
    private readonly onFatal: (error: Error) => void,
  ) {
    const entry = workerEntry('windowWorker');
    try {
      this.worker = new Worker(entry.entry, {
        eval: entry.eval,
        workerData: { options } satisfies WindowWorkerInit,
        execArgv: [],
        name: 'emstream-window-fit',
      });
    } catch (err) {
      // Node refuses a thread at once (no memory for one, workers not supported here): typed, as a failure after the start.
      const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      throw new ThreadPoolError(`could not start the window-fitting worker thread (${what})`, 2, err, REMEDY);
    }
    this.worker.on('message', (reply: WindowReply) => this.answer(reply));
    this.worker.on('error', (err) => {
      // What failed goes into the message: it is the one line a CLI prints (the cause is not printed).
      const what = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      this.fatal(new ThreadPoolError(`the window-fitting worker thread failed (${what})`, 2, err, REMEDY));
    });
    this.worker.on('exit', (code) => {
      if (!this.closed) this.fatal(new ThreadPoolError(`the window-fitting worker thread exited (code ${code})`, 2, undefined, REMEDY));
    });
    // Held (a 'message' listener refs it) until the worker has built its StreamingGmm: a worker that cannot start
    // must get to say so even while no window is in flight.
  }

  /** Windows given to {@link fit} and not answered yet. */
  get inFlight(): number {
    return this.pending.length;
  }

  /**
   * Sends a window to the worker; `done` receives the answer.
   *
   * 1. with `move`, points that are a whole `ArrayBuffer` of their own are moved to the worker (no copy: `window.data`
   *    is left empty, detached) and come back with the answer as `outcome.points`;
   * 2. otherwise (and for points in shared memory) they are copied into a shared buffer reused from window to window
   *    (the caller may then write them again at once: the worker reads its copy later).
   *
   * @param window - n×d row-major points
   * @param index - the window's index (`StreamingGmm.update`'s `windowIndex`)
   * @param move - whether the points may be moved or read in place later (the caller owns their buffer and gives it up)
   * @param done - receives the window's fit, or the error its fit threw
   */
  fit(window: Dataset, index: number, move: boolean, done: (outcome: WindowOutcome) => void): void {
    if (this.closed) throw new ThreadPoolError('the window-fitting worker thread was closed', 2, undefined, REMEDY);
    const points = window.data;
    // The values the fit reads: n×d, or fewer when the buffer holds fewer (the fit then throws the DataError it throws
    // on the calling thread).
    const length = Math.min(window.n * window.d, points.length);
    const id = this.nextId++;
    const request = { id, index, n: window.n, d: window.d, length, checked: isChecked(points) };
    if (move && points.buffer instanceof ArrayBuffer && points.byteLength === points.buffer.byteLength && this.tryMove(points, request, done)) return;
    const slot = this.slot(length * Float64Array.BYTES_PER_ELEMENT);
    new Float64Array(slot, 0, length).set(length === points.length ? points : points.subarray(0, length));
    this.send({ id, slot, moved: null, done }, { ...request, buffer: slot, byteOffset: 0, returned: false }, []);
  }

  /**
   * Moves the points' buffer to the worker; false (nothing sent) when the buffer cannot be moved (one the runtime
   * marks as not transferable, e.g. a WebAssembly memory's): the caller copies it then.
   */
  private tryMove(points: Float64Array, request: Omit<FitRequest, 'buffer' | 'byteOffset' | 'returned'>, done: (outcome: WindowOutcome) => void): boolean {
    const buffer = points.buffer as ArrayBuffer; // (the caller checked it is one)
    try {
      this.send({ id: request.id, slot: null, moved: { byteOffset: points.byteOffset, length: points.length }, done }, { ...request, buffer, byteOffset: points.byteOffset, returned: true }, [buffer]);
      return true;
    } catch (err) {
      if (!(err instanceof Error && err.name === 'DataCloneError')) throw err;
      this.pending.pop();
      if (this.pending.length === 0 && this.started) this.worker.unref();
      return false;
    }
  }

  private send(pending: Pending, request: FitRequest, transfer: ArrayBuffer[]): void {
    this.pending.push(pending);
    if (this.pending.length === 1) this.worker.ref();
    this.worker.postMessage(request, transfer);
  }

  /** Stops the worker thread; windows in flight are dropped. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pending.length = 0;
    this.free.length = 0;
    void this.worker.terminate();
  }

  /** A free shared buffer of at least `bytes` (the smallest that fits), or a new one. */
  private slot(bytes: number): SharedArrayBuffer {
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      if (this.free[i].byteLength >= bytes && (best < 0 || this.free[i].byteLength < this.free[best].byteLength)) best = i;
    }
    if (best < 0) return new SharedArrayBuffer(Math.max(bytes, 8));
    return this.free.splice(best, 1)[0];
  }

  private answer(reply: WindowReply): void {
    if (this.closed) return;
    if (reply.type === 'fatal') {
      this.fatal(errorFromMessage(reply.error));
      return;
    }
    if (reply.type === 'ready') {
      this.started = true;
      if (this.pending.length === 0) this.worker.unref();
      return;
    }
    const next = this.pending.shift();
    if (next === undefined || next.id !== reply.id) {
      this.fatal(new ThreadPoolError(`the window-fitting worker thread answered window ${reply.id} out of order`, 2, undefined, REMEDY));
      return;
    }
    if (this.pending.length === 0) this.worker.unref();
    if (next.slot !== null && this.free.length < KEEP_FREE) this.free.push(next.slot);
    const back = next.moved !== null && reply.buffer !== undefined ? { points: new Float64Array(reply.buffer, next.moved.byteOffset, next.moved.length) } : {};
    next.done(reply.type === 'fitted' ? { ok: true, fit: reply.fit, state: reply.state, durationMs: reply.durationMs, ...back } : { ok: false, error: errorFromMessage(reply.error), ...back });
  }

  private fatal(error: Error): void {
    if (this.closed) return;
    this.close();
    this.onFatal(error);
  }
}
