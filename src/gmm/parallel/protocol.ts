/**
 * The shared-memory protocol between {@link EStepPool} and its workers (`worker.ts`): a control block of
 * Int32 slots per worker (woken with `Atomics.wait`/`notify`), a job block of Float64 slots per worker,
 * and buffers sent once per change through the worker's MessagePort (read synchronously with
 * `receiveMessageOnPort`, so a worker never needs its event loop while it serves jobs).
 *
 * @module
 */
import type { CovarianceType } from '../types.js';

/** Int32 slots per worker in the control block. */
export const CTRL_STRIDE = 16;
/** Main → worker: incremented to post a job. */
export const SEQ = 0;
/** Worker → main: the SEQ value of the last finished job. */
export const DONE = 1;
/** Worker → main: 0 ok, 1 the last job failed (the message follows on the port). */
export const STATUS = 2;
/** Worker → main: 1 once started. */
export const READY = 3;
/** Worker → main: incremented per block of work (a heartbeat while a job runs). */
export const PROGRESS = 4;
/** Main → worker: 1 to exit. */
export const QUIT = 5;

/** Float64 slots per worker in the job block. */
export const JOB_STRIDE = 16;
/** Job slots: first row, end row, K, D, covariance type index, hard, outputs bit mask, with statistics, unrolled. */
export const J = { lo: 0, hi: 1, k: 2, d: 3, type: 4, hard: 5, outputs: 6, stats: 7, unrolled: 8 } as const;
/** Output bits of `J.outputs`. */
export const OUT = { resp: 1, logDensity: 2, labels: 4, maxProb: 8, exactTails: 16 } as const;
/** Result slots (after the job slots): Σ log p, Q, worst index, worst log-density. */
export const R = { ll: 10, q: 11, worst: 12, worstValue: 13 } as const;

export const TYPE_INDEX: readonly CovarianceType[] = ['full', 'tied', 'diag', 'spherical'];

/** Buffers a worker uses; sent whenever one changes (each field replaces the previous when present). */
export interface BufferMessage {
  readonly data?: SharedArrayBuffer;
  /** means K×D, prec, lc K, shift D (offsets from K, D and the type: {@link paramLayout}). */
  readonly params?: SharedArrayBuffer;
  /** This worker's statistics: s0 K, s1 K×D, s2. */
  readonly stats?: SharedArrayBuffer;
  readonly resp?: SharedArrayBuffer;
  readonly logDensity?: SharedArrayBuffer;
  readonly labels?: SharedArrayBuffer;
  readonly maxProb?: SharedArrayBuffer;
}

/** Offsets (in Float64 values) of the parameter block. */
export function paramLayout(k: number, d: number, precSize: number): { means: number; prec: number; lc: number; shift: number; size: number } {
  const means = 0;
  const prec = k * d;
  const lc = prec + precSize;
  const shift = lc + k;
  return { means, prec, lc, shift, size: shift + d };
}
