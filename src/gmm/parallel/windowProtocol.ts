/**
 * Messages between {@link WindowFitter} and its worker thread (`windowWorker.ts`), and the typed errors that cross
 * between them.
 *
 * @module
 */
import { EmstreamError, EmstreamOptionsError } from '../../errors.js';
import { CovarianceError, DataError, ModelFormatError, NumericError, StateMismatchError, ThreadPoolError } from '../errors.js';
import type { StreamingOptions, StreamingStateCopy, WindowFit } from '../streaming.js';

/** The worker's `workerData`: the options of its {@link StreamingGmm} (validated by the caller). */
export interface WindowWorkerInit {
  readonly options: StreamingOptions;
}

/**
 * A window to fit: n×d row-major points at `byteOffset` of `buffer`, either shared (read in place) or transferred to
 * the worker (`returned`: the worker transfers it back with its reply).
 */
export interface FitRequest {
  readonly id: number;
  readonly index: number;
  readonly n: number;
  readonly d: number;
  /** The values of the window in `buffer`: n×d, or fewer when the caller's buffer held fewer (the fit refuses it). */
  readonly length: number;
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  readonly byteOffset: number;
  readonly returned: boolean;
  /** Every value was checked where the window was built (`isChecked`): the fit need not scan it again. */
  readonly checked: boolean;
}

/** An error as it crosses threads: its class name, message, context and retriable flag. */
export interface ErrorMessage {
  readonly name: string;
  readonly message: string;
  readonly context?: unknown;
  readonly retriable?: boolean;
  readonly stack?: string;
}

/**
 * The worker's answer to a request (`fitted` or `failed`, in request order), `ready` once it has started (before any
 * answer), or `fatal` when it cannot start.
 */
export type WindowReply =
  | { readonly type: 'ready' }
  | { readonly type: 'fitted'; readonly id: number; readonly fit: WindowFit; readonly state: StreamingStateCopy; readonly durationMs: number; readonly buffer?: ArrayBuffer }
  | { readonly type: 'failed'; readonly id: number; readonly error: ErrorMessage; readonly buffer?: ArrayBuffer }
  | { readonly type: 'fatal'; readonly error: ErrorMessage };

/** An error as a plain message (structured-cloneable). */
export function errorMessage(err: unknown): ErrorMessage {
  if (err instanceof Error) {
    const context = err instanceof EmstreamError ? plainContext(err.context) : undefined;
    const retriable = err instanceof EmstreamError ? { retriable: err.retriable } : {};
    return { name: err.name, message: err.message, ...(context === undefined ? {} : { context }), ...retriable, ...(err.stack === undefined ? {} : { stack: err.stack }) };
  }
  return { name: 'Error', message: String(err) };
}

/** The context if it survives a structured clone, else nothing. */
function plainContext(context: unknown): unknown {
  try {
    return structuredClone(context);
  } catch {
    return undefined;
  }
}

/** The emstream error classes a fit can throw, by name: rebuilt as themselves on the calling thread. */
const TYPED: Record<string, { prototype: Error }> = {
  CovarianceError,
  DataError,
  NumericError,
  ModelFormatError,
  StateMismatchError,
  ThreadPoolError,
  EmstreamOptionsError,
  EmstreamError,
};

/**
 * The error a message stands for: an instance of the same emstream class (so `instanceof` and `context` work as if it
 * had been thrown on this thread), or an `Error` with the same name and message; the worker's stack is kept.
 */
export function errorFromMessage(m: ErrorMessage): Error {
  const proto = Object.hasOwn(TYPED, m.name) ? TYPED[m.name].prototype : Error.prototype;
  const err = Object.create(proto) as Error & { context?: unknown; retriable?: boolean };
  Object.defineProperty(err, 'message', { value: m.message, writable: true, configurable: true });
  Object.defineProperty(err, 'name', { value: m.name, writable: true, configurable: true, enumerable: proto !== Error.prototype });
  if (proto !== Error.prototype) {
    err.context = m.context ?? {};
    err.retriable = m.retriable ?? false;
  }
  Object.defineProperty(err, 'stack', { value: m.stack ?? `${m.name}: ${m.message}`, writable: true, configurable: true });
  return err;
}
