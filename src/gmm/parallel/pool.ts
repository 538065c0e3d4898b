/**
 * E-step over several threads on shared memory: {@link EStepPool} splits a batch's rows into one
 * contiguous chunk per thread (the calling thread takes the first), runs the ordinary E-step kernels
 * on each chunk, and merges the sums and the sufficient statistics (they are additive) in chunk order.
 *
 * The call is synchronous (the calling thread waits with `Atomics.wait`), so `fitGmm`,
 * `GaussianMixture.fit` and a streaming window fit keep their synchronous signatures.
 *
 * @module
 */
import { availableParallelism } from 'node:os';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { COVARIANCE } from '../covariance.js';
import { ThreadPoolError } from '../errors.js';
import { BLOCK } from '../kernels.js';
import { eStep, sharedScratch, type EStepOutputs, type EStepSums, type Precomputed } from '../estep.js';
import { SufficientStats } from '../stats.js';
import type { CovarianceType } from '../types.js';
import { CTRL_STRIDE, DONE, J, JOB_STRIDE, OUT, QUIT, R, READY, SEQ, STATUS, TYPE_INDEX, paramLayout, type BufferMessage } from './protocol.js';

/** A batch of points in shared memory, readable by every worker of a pool. */
export interface SharedBatch {
  readonly n: number;
  readonly d: number;
  /** N×D row-major, backed by a SharedArrayBuffer. */
  readonly data: Float64Array;
}

/** Options of {@link EStepPool.create}. */
export interface PoolOptions {
  /** Most ms to wait for the workers to start (default 60 000). */
  readonly startTimeoutMs?: number;
  /** Most ms to wait for one E-step of a worker (default 600 000). */
  readonly jobTimeoutMs?: number;
  /** Workers of {@link sharedPool} are terminated after this many idle ms (default 5 000). */
  readonly idleMs?: number;
}

/**
 * The number of threads to use when none is given: the number of cores (`os.availableParallelism()`).
 */
export function defaultThreads(): number {
  return Math.max(1, availableParallelism());
}

/**
 * Arithmetic of one E-step with statistics, in multiply-adds (log-densities plus second moments):
 * full/tied K·T + T per point (T = D(D+1)/2), diag/spherical 2·K·D per point.
 */
export function eStepWork(n: number, k: number, d: number, type: CovarianceType): number {
  return COVARIANCE[type].eStepWork(n, k, d);
}

/**
 * Below this many multiply-adds per E-step, a second thread does not pay for the hand-over (about
 * 30–60 µs per E-step on the 2-core benchmark machine; one thread does 1e6 multiply-adds in about
 * 0.4 ms): measured with `npm run bench -- threads`.
 */
export const MIN_PARALLEL_WORK = 1e6;

/**
 * How many threads an E-step of this size should use, at most `threads`: 1 below {@link MIN_PARALLEL_WORK},
 * and no more than one per block of 256 points.
 */
export function threadsFor(threads: number, n: number, k: number, d: number, type: CovarianceType): number {
  if (threads <= 1 || eStepWork(n, k, d, type) < MIN_PARALLEL_WORK) return 1;
  return Math.max(1, Math.min(threads, Math.ceil(n / BLOCK)));
}

/**
 * How to start a worker thread of this directory (`module`: `worker` or `windowWorker`): the compiled `.js` beside
 * this module, or the `.ts` through tsx's public API when running from source.
 */
export function workerEntry(module: string): { entry: URL | string; eval: boolean } {
  if (import.meta.url.endsWith('.ts')) {
    const tsxApi = import.meta.resolve('tsx/esm/api');
    const target = new URL(`./${module}.ts`, import.meta.url).href;
    return { entry: `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(target)}); });`, eval: true };
  }
  return { entry: new URL(`./${module}.js`, import.meta.url), eval: false };
}

interface Slot {
  readonly worker: Worker;
  readonly port: MessagePort;
  /** What this worker holds. */
  sent: BufferMessage;
  stats: SharedArrayBuffer | null;
}

/** The first `out.length` values of `data` into `out` (shared memory). */
function copyRows(data: ArrayLike<number>, out: Float64Array): Float64Array {
  if (data instanceof Float64Array || data instanceof Float32Array) out.set(data.subarray(0, out.length));
  else for (let i = 0; i < out.length; i++) out[i] = data[i];
  return out;
}

function waitFor(ctrl: Int32Array, index: number, value: number, timeoutMs: number): boolean {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = Atomics.load(ctrl, index);
    if (v === value) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    Atomics.wait(ctrl, index, v, Math.min(left, 1000));
  }
}

/**
 * A pool of E-step worker threads on shared memory.
 *
 * 1. {@link share} puts a batch into shared memory once (a batch already backed by a SharedArrayBuffer
 *    is used as is);
 * 2. {@link eStep} writes the parameters' factors into shared memory, gives rows
 *    [j·c, (j+1)·c) to thread j (c a multiple of 256 points; the calling thread takes j = 0), waits, and
 *    adds the per-thread sums and statistics in thread order: the same thread count gives bit-identical
 *    results run after run, and any thread count equals the one-thread result to rounding;
 * 3. {@link close} stops the workers. Workers never keep the process alive (they are unref'd), and
 *    {@link sharedPool}'s are terminated after `idleMs` without work.
 *
 * ## Example
 * ```ts
 * import { GaussianMixture } from 'emstream';
 * import { EStepPool, SufficientStats, precompute } from 'emstream/core';
 *
 * const { model } = GaussianMixture.fit([[0, 0], [0, 1], [10, 10], [10, 11]], { k: 2, seed: 1 });
 * const pre = precompute(model.params);
 * const pool = EStepPool.create(2);
 * try {
 *   const batch = pool.share(new Float64Array(2000).map((_, i) => (i % 7) - 3), 1000, 2);
 *   const stats = new SufficientStats(2, 2, 'full');
 *   if (pre.ok) pool.eStep(pre.value, batch, false, stats); // stats now hold the batch's statistics
 * } finally {
 *   pool.close();
 * }
 * ```
 */
export class EStepPool {
  private readonly slots: Slot[] = [];
  private readonly ctrl: Int32Array;
  private readonly job: Float64Array;
  private params: SharedArrayBuffer | null = null;
  /** The buffer of {@link shareWindow}, grown as needed and reused. */
  private window: SharedArrayBuffer | null = null;
  private readonly outputs: { resp?: SharedArrayBuffer; logDensity?: SharedArrayBuffer; labels?: SharedArrayBuffer; maxProb?: SharedArrayBuffer } = {};
  private local: SufficientStats | null = null;
  private seq = 0;
  private closedFlag = false;
  private idleTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly jobTimeoutMs: number;

  private constructor(
    /** Threads used per E-step, the calling thread included. */
    readonly threads: number,
    options: PoolOptions,
  ) {
    const workers = threads - 1;
    this.ctrl = new Int32Array(new SharedArrayBuffer(Math.max(1, workers) * CTRL_STRIDE * 4));
    this.job = new Float64Array(new SharedArrayBuffer(Math.max(1, workers) * JOB_STRIDE * 8));
    this.jobTimeoutMs = options.jobTimeoutMs ?? 600_000;
    const entry = workerEntry('worker');
    try {
      for (let i = 0; i < workers; i++) {
        const { port1, port2 } = new MessageChannel();
        const worker = new Worker(entry.entry, {
          eval: entry.eval,
          workerData: { ctrl: this.ctrl.buffer, job: this.job.buffer, index: i, port: port2 },
          transferList: [port2],
          execArgv: [],
          name: `emstream-estep-${i}`,
        });
        worker.unref();
        port1.unref();
        // errors surface through the control block; an 'error' event must not crash the process
        worker.on('error', () => {});
        this.slots.push({ worker, port: port1, sent: {}, stats: null });
      }
      const start = options.startTimeoutMs ?? 60_000;
      for (let i = 0; i < workers; i++) {
        if (!waitFor(this.ctrl, i * CTRL_STRIDE + READY, 1, start)) throw new ThreadPoolError(`E-step worker ${i} did not start within ${start} ms`, threads);
      }
    } catch (e) {
      this.close();
      throw e instanceof ThreadPoolError ? e : new ThreadPoolError('could not start the E-step workers', threads, e);
    }
  }

  /**
   * Starts a pool of `threads` threads (the calling thread and `threads − 1` workers), waiting until
   * every worker runs.
   *
   * @throws ThreadPoolError when a worker does not start within `startTimeoutMs`
   */
  static create(threads: number = defaultThreads(), options: PoolOptions = {}): EStepPool {
    if (!Number.isInteger(threads) || threads < 1) throw new ThreadPoolError(`threads must be an integer ≥ 1, got ${threads}`, threads);
    return new EStepPool(threads, options);
  }

  /** Whether {@link close} was called (or the idle timer closed the pool). */
  get closed(): boolean {
    return this.closedFlag;
  }

  /**
   * A batch in shared memory: `data` itself when it is a Float64Array on a SharedArrayBuffer, else a copy.
   *
   * @param data N×D row-major points
   */
  share(data: ArrayLike<number>, n: number, d: number): SharedBatch {
    if (data instanceof Float64Array && data.buffer instanceof SharedArrayBuffer && data.length >= n * d && data.byteOffset % (8 * d) === 0) return { n, d, data: data.subarray(0, n * d) };
    return { n, d, data: copyRows(data, new Float64Array(new SharedArrayBuffer(Math.max(8, n * d * 8)), 0, n * d)) };
  }

  /**
   * Like {@link share}, into one buffer the pool reuses: the returned batch is valid until the next call (a
   * streaming window, dropped when its fit returns). No new shared memory per window: a fresh 3 MB buffer's
   * first touch (page faults) cost more than the copy.
   *
   * @param data N×D row-major points
   */
  shareWindow(data: ArrayLike<number>, n: number, d: number): SharedBatch {
    const bytes = Math.max(8, n * d * 8);
    if (this.window === null || this.window.byteLength < bytes) this.window = new SharedArrayBuffer(bytes);
    return { n, d, data: copyRows(data, new Float64Array(this.window, 0, n * d)) };
  }

  /**
   * The E-step of a shared batch over the pool's threads (see the class comment), fused with the
   * statistics like `eStep`.
   *
   * @param pre factors of the current parameters
   * @param batch from {@link share}
   * @param stats accumulator to add the batch to (its shift is used), or null
   * @param out optional per-point outputs (filled for every row)
   * @returns the sums of the whole batch
   * @throws ThreadPoolError when a worker fails or does not answer within `jobTimeoutMs`
   */
  eStep(pre: Precomputed, batch: SharedBatch, hard: boolean, stats: SufficientStats | null, out: EStepOutputs = {}, unrolled = true): EStepSums {
    if (this.closedFlag) throw new ThreadPoolError('the E-step pool is closed', this.threads);
    const { n, d: D } = batch;
    const { k: K, covarianceType: type } = pre;
    const kind = COVARIANCE[type];
    const chunk = Math.max(BLOCK, Math.ceil(n / this.threads / BLOCK) * BLOCK);
    const parts = Math.max(1, Math.min(this.threads, Math.ceil(n / chunk)));
    this.touch();
    const rowOffset = batch.data.byteOffset / 8 / D; // rows of the shared buffer before the batch's view
    let local: SufficientStats | null = null;
    if (stats !== null && parts > 1) {
      if (this.local === null || this.local.k !== K || this.local.d !== D || this.local.covarianceType !== type) this.local = new SufficientStats(K, D, type, stats.shift);
      else this.local.shift.set(stats.shift);
      local = this.local.reset();
    }
    if (parts === 1) return eStep(pre, batch.data, n, hard, stats, out, sharedScratch(K, D), unrolled);
    // 1. parameters into shared memory
    const precSize = kind.precSize(K, D);
    const layout = paramLayout(K, D, precSize);
    if (this.params === null || this.params.byteLength < layout.size * 8) this.params = new SharedArrayBuffer(layout.size * 8);
    const params = new Float64Array(this.params);
    params.set(pre.means.subarray(0, K * D), layout.means);
    params.set(pre.prec.subarray(0, precSize), layout.prec);
    params.set(pre.lc.subarray(0, K), layout.lc);
    if (stats !== null) params.set(stats.shift, layout.shift);
    const outBits = (out.resp ? OUT.resp : 0) | (out.logDensity ? OUT.logDensity : 0) | (out.labels ? OUT.labels : 0) | (out.maxProb ? OUT.maxProb : 0) | (out.exactTails === true ? OUT.exactTails : 0);
    const sharedOut = this.sharedOutputs(out, rowOffset + n, K);
    // 2. post the jobs of rows chunk .. n
    const statsSize = K + K * D + kind.statsSize(K, D);
    this.seq++;
    for (let w = 0; w < parts - 1; w++) {
      const slot = this.slots[w];
      if (slot.stats === null || slot.stats.byteLength < statsSize * 8) slot.stats = new SharedArrayBuffer(statsSize * 8);
      const want: BufferMessage = { data: batch.data.buffer as SharedArrayBuffer, params: this.params, stats: slot.stats, ...sharedOut };
      const message: Record<string, SharedArrayBuffer> = {};
      let changed = false;
      for (const key of Object.keys(want) as (keyof BufferMessage)[]) {
        if (want[key] !== undefined && want[key] !== slot.sent[key]) {
          message[key] = want[key];
          changed = true;
        }
      }
      if (changed) {
        slot.port.postMessage(message);
        slot.sent = { ...slot.sent, ...message };
      }
      const jb = w * JOB_STRIDE;
      const lo = (w + 1) * chunk;
      this.job[jb + J.lo] = rowOffset + lo;
      this.job[jb + J.hi] = rowOffset + Math.min(n, lo + chunk);
      this.job[jb + J.k] = K;
      this.job[jb + J.d] = D;
      this.job[jb + J.type] = TYPE_INDEX.indexOf(type);
      this.job[jb + J.hard] = hard ? 1 : 0;
      this.job[jb + J.outputs] = outBits;
      this.job[jb + J.stats] = stats !== null ? 1 : 0;
      this.job[jb + J.unrolled] = unrolled ? 1 : 0;
      Atomics.store(this.ctrl, w * CTRL_STRIDE + SEQ, this.seq);
      Atomics.notify(this.ctrl, w * CTRL_STRIDE + SEQ);
    }
    // 3. the first chunk here
    const first = Math.min(n, chunk);
    const view = (a: Float64Array | Int32Array | undefined, stride: number) => (a === undefined ? undefined : a.subarray(0, first * stride));
    const sums = eStep(
      pre,
      batch.data.subarray(0, first * D),
      first,
      hard,
      local,
      { resp: view(out.resp, K) as Float64Array | undefined, logDensity: view(out.logDensity, 1) as Float64Array | undefined, labels: view(out.labels, 1) as Int32Array | undefined, maxProb: view(out.maxProb, 1) as Float64Array | undefined, exactTails: out.exactTails },
      sharedScratch(K, D),
      unrolled,
    );
    let ll = sums.logLikelihood;
    let q = sums.expected;
    let worst = sums.worst;
    let worstValue = sums.worstLogDensity;
    if (stats !== null && local !== null) addInto(stats, local.s0, local.s1, local.s2);
    // 4. wait, then merge in thread order
    const errors: string[] = [];
    for (let w = 0; w < parts - 1; w++) {
      if (!waitFor(this.ctrl, w * CTRL_STRIDE + DONE, this.seq, this.jobTimeoutMs)) {
        this.close();
        throw new ThreadPoolError(`E-step worker ${w} did not answer within ${this.jobTimeoutMs} ms`, this.threads);
      }
      if (Atomics.load(this.ctrl, w * CTRL_STRIDE + STATUS) !== 0) {
        const m = receiveMessageOnPort(this.slots[w].port);
        errors.push((m?.message as { error?: string } | undefined)?.error ?? 'unknown error');
      }
    }
    if (errors.length > 0) throw new ThreadPoolError(`an E-step worker failed (${errors[0]})`, this.threads);
    for (let w = 0; w < parts - 1; w++) {
      const jb = w * JOB_STRIDE;
      ll += this.job[jb + R.ll];
      q += this.job[jb + R.q];
      const wv = this.job[jb + R.worstValue];
      if (wv < worstValue) {
        worstValue = wv;
        worst = this.job[jb + R.worst] - rowOffset;
      }
      if (stats !== null) {
        const s = new Float64Array(this.slots[w].stats!, 0, statsSize);
        addInto(stats, s.subarray(0, K), s.subarray(K, K + K * D), s.subarray(K + K * D, statsSize));
      }
    }
    // 5. the workers' rows of the per-point outputs
    const copy = (dst: Float64Array | Int32Array | undefined, src: SharedArrayBuffer | undefined, stride: number) => {
      if (dst === undefined || src === undefined) return;
      const all = dst instanceof Int32Array ? new Int32Array(src) : new Float64Array(src);
      dst.set(all.subarray((rowOffset + first) * stride, (rowOffset + n) * stride), first * stride);
    };
    copy(out.resp, sharedOut.resp, K);
    copy(out.logDensity, sharedOut.logDensity, 1);
    copy(out.labels, sharedOut.labels, 1);
    copy(out.maxProb, sharedOut.maxProb, 1);
    return { logLikelihood: ll, expected: q, worst, worstLogDensity: worstValue };
  }

  /** Shared output buffers for the requested outputs (rows indexed like the batch's buffer). */
  private sharedOutputs(out: EStepOutputs, rows: number, K: number): Pick<BufferMessage, 'resp' | 'logDensity' | 'labels' | 'maxProb'> {
    const ensure = (key: 'resp' | 'logDensity' | 'labels' | 'maxProb', bytes: number): SharedArrayBuffer => {
      const have = this.outputs[key];
      if (have !== undefined && have.byteLength >= bytes) return have;
      const b = new SharedArrayBuffer(Math.max(8, bytes));
      this.outputs[key] = b;
      return b;
    };
    // rows are addressed as in the batch's shared buffer
    const r: { resp?: SharedArrayBuffer; logDensity?: SharedArrayBuffer; labels?: SharedArrayBuffer; maxProb?: SharedArrayBuffer } = {};
    if (out.resp) r.resp = ensure('resp', rows * K * 8);
    if (out.logDensity) r.logDensity = ensure('logDensity', rows * 8);
    if (out.labels) r.labels = ensure('labels', rows * 4);
    if (out.maxProb) r.maxProb = ensure('maxProb', rows * 8);
    return r;
  }

  private touch(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    if (this.idleMs === null) return;
    this.idleTimer = setTimeout(() => this.close(), this.idleMs);
    this.idleTimer.unref();
  }

  /** Idle ms after which the pool closes itself (null: never; set by {@link sharedPool}). */
  idleMs: number | null = null;

  /** Stops the workers (idempotent). */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    for (let w = 0; w < this.slots.length; w++) {
      Atomics.store(this.ctrl, w * CTRL_STRIDE + QUIT, 1);
      Atomics.add(this.ctrl, w * CTRL_STRIDE + SEQ, 1);
      Atomics.notify(this.ctrl, w * CTRL_STRIDE + SEQ);
      this.slots[w].port.close();
      void this.slots[w].worker.terminate();
    }
    if (shared === this) shared = null;
  }
}

/** s += the given statistics, elementwise (same shift). */
function addInto(stats: SufficientStats, s0: Float64Array, s1: Float64Array, s2: Float64Array): void {
  for (let i = 0; i < s0.length; i++) stats.s0[i] += s0[i];
  for (let i = 0; i < s1.length; i++) stats.s1[i] += s1[i];
  for (let i = 0; i < s2.length; i++) stats.s2[i] += s2[i];
}

let shared: EStepPool | null = null;

/**
 * The process-wide pool of `threads` threads, started on first use and reused (one with another thread
 * count replaces it); it terminates its workers after `idleMs` (default 5 s) without work and starts
 * them again when asked.
 */
export function sharedPool(threads: number, options: PoolOptions = {}): EStepPool {
  if (shared !== null && !shared.closed && shared.threads === threads) {
    if (options.idleMs !== undefined) shared.idleMs = options.idleMs;
    return shared;
  }
  shared?.close();
  const pool = EStepPool.create(threads, options);
  pool.idleMs = options.idleMs ?? 5_000;
  shared = pool;
  return pool;
}

/**
 * The shared pool when an E-step of this size gains from `threads` threads ({@link threadsFor}), else null
 * (no worker is started for small batches). The one call a window fit needs: pass the result as
 * `RunOptions.pool` to `runEM`, which shares the window and splits every E-step.
 */
export function poolFor(threads: number, n: number, k: number, d: number, type: CovarianceType, options: PoolOptions = {}): EStepPool | null {
  return threadsFor(threads, n, k, d, type) > 1 ? sharedPool(threads, options) : null;
}

/**
 * An E-step that uses `pool` when given and the batch is large enough ({@link threadsFor}), else the
 * calling thread alone (`eStep`). The entry point for callers that hold a {@link SharedBatch}.
 */
export function pooledEStep(
  pool: EStepPool | null,
  pre: Precomputed,
  batch: SharedBatch,
  hard: boolean,
  stats: SufficientStats | null,
  out: EStepOutputs = {},
): EStepSums {
  if (pool === null || pool.closed || threadsFor(pool.threads, batch.n, pre.k, batch.d, pre.covarianceType) === 1) return eStep(pre, batch.data, batch.n, hard, stats, out);
  return pool.eStep(pre, batch, hard, stats, out);
}
