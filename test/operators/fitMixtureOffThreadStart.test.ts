/**
 * When Node refuses to create the worker thread at all (the constructor throws: no memory for a thread, workers not
 * supported where the code runs), `fitMixture({ offThread: true })` errors its output with a typed `ThreadPoolError`
 * that names the cause and the remedy, not a raw Node error. Node cannot be made to refuse a thread on demand, so
 * `Worker` is replaced in this file only by one whose constructor throws as Node's does.
 */
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it, vi } from 'vitest';

vi.mock('node:worker_threads', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:worker_threads')>();
  class RefusedWorker {
    constructor() {
      throw Object.assign(new Error('Worker initialization failure: 11'), { code: 'ERR_WORKER_INIT_FAILED' });
    }
  }
  return { ...original, Worker: RefusedWorker };
});

const { fitMixture, ThreadPoolError, windowVectors } = await import('emstream');

describe('fitMixture({ offThread: true }) when no thread can be created', () => {
  it('errors the output with a ThreadPoolError naming the cause and what to do', async () => {
    const points = Array.from({ length: 40 }, (_, i) => [i % 2 === 0 ? -5 + (i % 7) * 0.1 : 5 + (i % 5) * 0.1, (i % 3) * 0.2]);
    const run = lastValueFrom(from(points).pipe(windowVectors({ size: 20 }), fitMixture({ k: 2, seed: 1, offThread: true }), toArray()));
    const error = await run.then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ThreadPoolError);
    const e = error as InstanceType<typeof ThreadPoolError>;
    expect(e.message).toContain('could not start the window-fitting worker thread (Error: Worker initialization failure: 11)');
    expect(e.message).toContain('fit on the calling thread (fitMixture without offThread)');
    expect(e.retriable).toBe(true);
    expect((e.cause as { code?: string }).code).toBe('ERR_WORKER_INIT_FAILED');
  });
});
