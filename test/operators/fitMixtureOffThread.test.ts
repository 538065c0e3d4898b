/**
 * `fitMixture({ offThread: true })`: the fit of each window on a worker thread gives the updates, labels, state and
 * events of the fit on the calling thread, bit for bit and in order; unfittable windows are dead-lettered, a worker
 * that cannot start errors the output with the typed error, the output completes after the last update, and the
 * window's points come back with the update.
 */
import { from, lastValueFrom, NEVER, Subject, toArray } from 'rxjs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { WindowFitter, type WindowOutcome } from '../../src/gmm/parallel/windowFitter.js';
import { errorFromMessage, errorMessage } from '../../src/gmm/parallel/windowProtocol.js';
import { wasm } from '../../src/gmm/wasm.js';
import {
  DataError,
  EmstreamOptionsError,
  fitMixture,
  Instrumentation,
  StateMismatchError,
  syntheticStream,
  ThreadPoolError,
  windowVectors,
  type FitMixtureOptions,
  type InvalidVector,
  type MixtureUpdate,
  type SyntheticCluster,
  type VectorWindow,
} from 'emstream';

const moving: SyntheticCluster[] = [
  { mean: () => [0, 0, 0], sd: [1, 1, 1], weight: () => 1 },
  { mean: (t) => [6 + (t > 3000 ? 6 : 0), 0, 1], sd: [1, 0.5, 1], weight: () => 1 },
  { mean: () => [0, 7, -2], sd: [0.7, 1, 1], weight: (t) => (t > 4500 ? 0.2 : 1) },
];

/** Everything an update says (its model and state read, so made), comparable with toEqual. */
function everything(u: MixtureUpdate<unknown>): unknown {
  const { window, labels, probabilities, logDensities, model, state, ...rest } = u;
  return {
    rest: JSON.parse(JSON.stringify(rest)),
    window: { index: window.index, n: window.n, d: window.d, points: Array.from(window.points), records: window.records },
    labels: Array.from(labels),
    probabilities: Array.from(probabilities),
    logDensities: Array.from(logDensities),
    model,
    state,
  };
}

/** The events of a run, by name, in order (durations left out: they are timings). */
function recorder(): { instrumentation: Instrumentation; events: unknown[] } {
  const instrumentation = new Instrumentation();
  const events: unknown[] = [];
  for (const name of ['em.window.fitted', 'em.drift.detected', 'em.drift.ended', 'em.component.reseeded', 'em.component.reverted', 'em.window.deferred', 'em.window.failed'] as const) {
    instrumentation.on(name, (e: object) => {
      const { durationMs: _, ...rest } = e as { durationMs?: number };
      events.push([name, rest]);
    });
  }
  return { instrumentation, events };
}

/**
 * Runs a module (its lines) in a process of its own from the repository's root, and returns what it printed and how
 * it ended; a process still alive after 60 s (far longer than it takes: about a second) is killed.
 */
async function runScript(lines: readonly string[]): Promise<{ out: string; code: number | null; signal: string | null }> {
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', lines.join('\n')], { cwd: fileURLToPath(new URL('../..', import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(timer);
  return { out, code, signal };
}

async function run(points: number[][], options: FitMixtureOptions<number[]>, size: number) {
  const { instrumentation, events } = recorder();
  const updates = await lastValueFrom(from(points).pipe(windowVectors<number[]>({ size }), fitMixture<number[]>({ ...options, instrumentation }), toArray()));
  return { updates: updates.map(everything), events };
}

describe('fitMixture({ offThread: true })', () => {
  it.each([
    ['full', { k: 3, covarianceType: 'full', halfLife: 4, restart: { every: 3 }, restarts: 2, seed: 7 }],
    ['diag, K from 2 to 4', { k: { min: 2, max: 4 }, covarianceType: 'diag', halfLife: 3, seed: 2 }],
    ['spherical, hard EM', { k: 3, covarianceType: 'spherical', mode: 'hard', seed: 5 }],
  ] as const)('gives the updates and events of the fit on the calling thread, bit for bit (%s)', async (_, options) => {
    // A first window of one distinct point (deferred to the next), then a stream that jumps and loses a cluster.
    const points = [...Array.from({ length: 400 }, () => [1, 1, 1]), ...Array.from(syntheticStream(moving, 6000, 11), (p) => p.vector)];
    const here = await run(points, options, 400);
    const there = await run(points, { ...options, offThread: true }, 400);
    expect(there.updates).toHaveLength(here.updates.length);
    expect(there.updates).toEqual(here.updates);
    expect(there.events).toEqual(here.events);
    expect(here.events.some((e) => (e as [string])[0] === 'em.window.deferred')).toBe(true);
    expect(here.events.some((e) => (e as [string])[0] === 'em.drift.detected')).toBe(true);
  });

  it('is asynchronous: updates come after the windows were pushed, in window order, and the output completes after the last', async () => {
    const subject = new Subject<number[]>();
    const seen: number[] = [];
    let completed = false;
    const done = new Promise<void>((resolve, reject) => {
      subject.pipe(windowVectors<number[]>({ size: 300 }), fitMixture<number[]>({ k: 3, seed: 1, offThread: true })).subscribe({
        next: (u) => seen.push(u.windowIndex),
        error: reject,
        complete: () => {
          completed = true;
          resolve();
        },
      });
    });
    for (const p of syntheticStream(moving, 3000, 2)) subject.next(p.vector);
    subject.complete();
    expect(seen).toEqual([]);
    expect(completed).toBe(false);
    await done;
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("moves the window's points to the worker and back: the update holds them", async () => {
    const points = Array.from(syntheticStream(moving, 900, 4), (p) => p.vector);
    const updates = await lastValueFrom(from(points).pipe(windowVectors<number[]>({ size: 300 }), fitMixture<number[]>({ k: 3, seed: 1, offThread: true }), toArray()));
    expect(updates.map((u) => u.window.points.length)).toEqual([900, 900, 900]);
    expect(Array.from(updates[2].window.points.subarray(0, 3))).toEqual(points[600]);
  });

  it('reads and keeps windows it does not own: a view into a larger buffer is copied, the caller keeps it', async () => {
    const flat = Float64Array.from(Array.from(syntheticStream(moving, 400, 6), (p) => p.vector).flat());
    const window: VectorWindow<number> = { index: 0, n: 200, d: 3, points: flat.subarray(300, 900), records: Array.from({ length: 200 }, (_, i) => i), rejected: 0 };
    const [here] = await lastValueFrom(from([window]).pipe(fitMixture<number>({ k: 3, seed: 1 }), toArray()));
    const [there] = await lastValueFrom(from([window]).pipe(fitMixture<number>({ k: 3, seed: 1, offThread: true }), toArray()));
    expect(window.points.length).toBe(600);
    expect(there.window).toBe(window);
    expect(everything(there)).toEqual(everything(here));
  });

  it('copies a window whose buffer cannot be moved (all of a WebAssembly memory), and leaves it to the caller', async () => {
    // (the project's TypeScript libs do not declare the WebAssembly API)
    const { Memory } = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number }) => { buffer: ArrayBuffer } } }).WebAssembly;
    const memory = new Memory({ initial: 1 }); // 64 KiB: 4096 points of D = 2, all of its buffer
    const whole = new Float64Array(memory.buffer);
    whole.set(Array.from(syntheticStream(moving, 4096, 8), (p) => p.vector.slice(0, 2)).flat());
    const window: VectorWindow<number> = { index: 0, n: 4096, d: 2, points: whole, records: Array.from({ length: 4096 }, (_, i) => i), rejected: 0 };
    const [here] = await lastValueFrom(from([{ ...window, points: whole.slice() }]).pipe(fitMixture<number>({ k: 3, seed: 1 }), toArray()));
    const [there] = await lastValueFrom(from([window]).pipe(fitMixture<number>({ k: 3, seed: 1, offThread: true }), toArray()));
    expect(window.points.length).toBe(8192);
    expect(there.window).toBe(window);
    expect(everything(there)).toEqual(everything(here));
  });

  it('sends the records of an unfittable window to onInvalid and goes on with the model as it was', async () => {
    const good = (index: number): VectorWindow<number> => {
      const points = Float64Array.from(Array.from(syntheticStream(moving, 300, 20 + index), (p) => p.vector).flat());
      return { index, n: 300, d: 3, points, records: Array.from({ length: 300 }, (_, j) => index * 1000 + j), rejected: 0 };
    };
    const bad: VectorWindow<number> = { ...good(1), points: good(1).points.map((v, i) => (i === 5 ? 1e200 : v)) };
    const windows = [good(0), bad, good(2)];
    const invalid: InvalidVector<number>[] = [];
    const options = { k: 3, seed: 1, regCovar: 1e-6, onInvalid: (i: InvalidVector<number>) => invalid.push(i) };
    const here = await lastValueFrom(from(windows.map((w) => ({ ...w, points: w.points.slice() }))).pipe(fitMixture<number>(options), toArray()));
    const hereInvalid = invalid.splice(0);
    const there = await lastValueFrom(from(windows).pipe(fitMixture<number>({ ...options, offThread: true }), toArray()));
    expect(hereInvalid).toHaveLength(300);
    expect(invalid.map((i) => [i.record, i.reason, i.message])).toEqual(hereInvalid.map((i) => [i.record, i.reason, i.message]));
    expect(there.map((u) => u.windowIndex)).toEqual([0, 2]);
    expect(there.map(everything)).toEqual(here.map(everything));
  });

  it('errors the output with the typed error when its worker cannot start (a saved state for other options)', async () => {
    const points = Array.from(syntheticStream(moving, 600, 3), (p) => p.vector);
    const [first] = await lastValueFrom(from(points).pipe(windowVectors<number[]>({ size: 600 }), fitMixture<number[]>({ k: 3, seed: 1 }), toArray()));
    const error = await lastValueFrom(from(points).pipe(windowVectors<number[]>({ size: 300 }), fitMixture<number[]>({ k: 4, initialState: first.state, offThread: true }), toArray())).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(StateMismatchError);
    expect((error as StateMismatchError).message).toMatch(/does not match this configuration \(k: saved 3, requested 4\)/);
    expect((error as StateMismatchError).context.differences).toEqual([{ setting: 'k', saved: '3', requested: '4' }]);
  });

  it('refuses a saved state for other options when subscribed, as on the calling thread (a runner refuses it before it consumes)', async () => {
    const points = Array.from(syntheticStream(moving, 600, 3), (p) => p.vector);
    const [first] = await lastValueFrom(from(points).pipe(windowVectors<number[]>({ size: 600 }), fitMixture<number[]>({ k: 3, seed: 1 }), toArray()));
    const errors = (offThread: boolean): unknown[] => {
      const seen: unknown[] = [];
      NEVER.pipe(fitMixture<number[]>({ k: 4, initialState: first.state, offThread })).subscribe({ error: (e: unknown) => seen.push(e) }).unsubscribe();
      return seen;
    };
    const here = errors(false);
    const there = errors(true);
    expect(here).toHaveLength(1);
    expect(there).toHaveLength(1);
    expect(there[0]).toBeInstanceOf(StateMismatchError);
    expect((there[0] as StateMismatchError).message).toBe((here[0] as StateMismatchError).message);
  });

  it('ends a stream that never had K distinct points as on the calling thread', async () => {
    const invalid: InvalidVector<number[]>[] = [];
    const updates = await lastValueFrom(
      from([[1, 1], [1, 1], [1, 1]]).pipe(windowVectors<number[]>({ size: 2 }), fitMixture<number[]>({ k: 2, offThread: true, onInvalid: (i) => invalid.push(i) }), toArray()),
    );
    expect(updates).toEqual([]);
    expect(invalid.map((i) => i.reason)).toEqual(['unfittable', 'unfittable', 'unfittable']);
    expect(invalid[0].message).toMatch(/a first model needs at least k = 2 distinct points/);
  });

  it('stops on unsubscribe: no update after it', async () => {
    const subject = new Subject<number[]>();
    const seen: unknown[] = [];
    const sub = subject.pipe(windowVectors<number[]>({ size: 300 }), fitMixture<number[]>({ k: 3, offThread: true })).subscribe((u) => seen.push(u));
    for (const p of syntheticStream(moving, 900, 2)) subject.next(p.vector);
    sub.unsubscribe();
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(seen).toEqual([]);
    expect(subject.observed).toBe(false);
  });

  it('does not keep the process alive while no window is in flight (a subscription whose source is idle)', { timeout: 90_000 }, async () => {
    // One pipeline that never gets a window, one whose windows were all answered: both subscribed, neither complete.
    const script = [
      "import { NEVER, Subject } from 'rxjs';",
      "import { fitMixture, windowVectors } from './src/index.ts';",
      'NEVER.pipe(fitMixture({ k: 2, offThread: true })).subscribe();',
      'const input = new Subject();',
      'let updates = 0;',
      "input.pipe(windowVectors({ size: 4 }), fitMixture({ k: 2, seed: 1, offThread: true })).subscribe(() => { if (++updates === 2) console.log('updated 2'); });",
      'for (const x of [0, 0.1, 5, 5.1, 0.2, 0.3, 5.2, 5.3]) input.next([x]);',
    ];
    expect(await runScript(script)).toEqual({ out: 'updated 2\n', code: 0, signal: null });
  });

  it('keeps the process alive until its worker has started: a worker that cannot start reports it', { timeout: 90_000 }, async () => {
    // A worker given a saved state for another K (fitMixture refuses one on the calling thread first), and no window:
    // its error is all that keeps the process from ending quietly.
    const script = [
      "import { StreamingGmm } from './src/index.ts';",
      "import { WindowFitter } from './src/gmm/parallel/windowFitter.ts';",
      'const gmm = new StreamingGmm({ k: 2, seed: 1 });',
      'gmm.update({ n: 4, d: 1, data: Float64Array.of(0, 0.1, 5, 5.1) });',
      "new WindowFitter({ k: 3, initialState: gmm.toJSON() }, (e) => { console.log(e.name); process.exitCode = 1; });",
    ];
    expect(await runScript(script)).toEqual({ out: 'StateMismatchError\n', code: 1, signal: null });
  });

  it('refuses an offThread that is not a boolean', () => {
    expect(() => fitMixture({ k: 2, offThread: 'yes' as unknown as boolean })).toThrow(EmstreamOptionsError);
    expect(() => fitMixture({ k: 2, offThread: 'yes' as unknown as boolean })).toThrow(/offThread: must be true or false, got "yes"/);
  });
});

describe('fitMixture({ offThread: true }): windows it does not own, and a source that fails', () => {
  const windowOf = (index: number, seed = 20 + index): VectorWindow<number> => {
    const points = Float64Array.from(Array.from(syntheticStream(moving, 300, seed), (p) => p.vector).flat());
    return { index, n: 300, d: 3, points, records: Array.from({ length: 300 }, (_, j) => index * 1000 + j), rejected: 0 };
  };

  it('dead-letters a window whose points hold fewer than n×d values, with the DataError of the calling thread, and goes on', async () => {
    // Two windows that claim 300 points and hold 299: one a whole buffer of its own, one a view into a larger buffer
    // (whose values past the view are not the window's).
    const whole: VectorWindow<number> = { ...windowOf(1), points: windowOf(1).points.slice(0, 897) };
    const view: VectorWindow<number> = { ...windowOf(2), points: windowOf(2).points.subarray(0, 897) };
    const windows = () => [windowOf(0), { ...whole, points: whole.points.slice() }, view, windowOf(3)];
    const invalid: InvalidVector<number>[] = [];
    const options = { k: 3, seed: 1, onInvalid: (i: InvalidVector<number>) => invalid.push(i) };
    const here = await lastValueFrom(from(windows()).pipe(fitMixture<number>(options), toArray()));
    const hereInvalid = invalid.splice(0);
    const there = await lastValueFrom(from(windows()).pipe(fitMixture<number>({ ...options, offThread: true }), toArray()));
    expect(hereInvalid).toHaveLength(600);
    expect(hereInvalid[0].message).toMatch(/the data buffer holds 897 values, fewer than n×d = 900/);
    expect(invalid.map((i) => [i.record, i.reason, i.message])).toEqual(hereInvalid.map((i) => [i.record, i.reason, i.message]));
    expect(there.map((u) => u.windowIndex)).toEqual([0, 3]);
    expect(there.map(everything)).toEqual(here.map(everything));
  });

  it('after a first window that could not be fitted, defers a window of too few distinct points to the next, as on the calling thread', async () => {
    const first: VectorWindow<number> = { ...windowOf(0), points: windowOf(0).points.map((v, i) => (i === 5 ? 1e200 : v)) };
    const few: VectorWindow<number> = { index: 1, n: 300, d: 3, points: new Float64Array(900).fill(1), records: Array.from({ length: 300 }, (_, j) => 1000 + j), rejected: 0 };
    const windows = () => [first, few, windowOf(2), windowOf(3)].map((w) => ({ ...w, points: w.points.slice() }));
    const invalid: InvalidVector<number>[] = [];
    const { instrumentation, events } = recorder();
    const options = { k: 3, seed: 1, instrumentation, onInvalid: (i: InvalidVector<number>) => invalid.push(i) };
    const here = await lastValueFrom(from(windows()).pipe(fitMixture<number>(options), toArray()));
    const hereInvalid = invalid.splice(0);
    const hereEvents = events.splice(0);
    const there = await lastValueFrom(from(windows()).pipe(fitMixture<number>({ ...options, offThread: true }), toArray()));
    expect(hereInvalid.map((i) => i.record)).toEqual(Array.from({ length: 300 }, (_, j) => j));
    expect(here.map((u) => [u.windowIndex, u.window.n])).toEqual([[2, 600], [3, 300]]);
    expect(invalid.map((i) => [i.record, i.reason, i.message])).toEqual(hereInvalid.map((i) => [i.record, i.reason, i.message]));
    expect(there.map(everything)).toEqual(here.map(everything));
    expect(events).toEqual(hereEvents);
  });

  it('leaves the windows a caller holds as they were (it moves only the buffers windowVectors made)', async () => {
    const windows = [windowOf(0), windowOf(1)];
    const before = windows.map((w) => Array.from(w.points));
    const here = await lastValueFrom(from(windows).pipe(fitMixture<number>({ k: 3, seed: 1 }), toArray()));
    const there = await lastValueFrom(from(windows).pipe(fitMixture<number>({ k: 3, seed: 1, offThread: true }), toArray()));
    expect(windows.map((w) => Array.from(w.points))).toEqual(before);
    expect(there.map((u) => u.window)).toEqual(windows);
    expect(there.map((u) => u.window === windows[u.windowIndex])).toEqual([true, true]);
    expect(there.map(everything)).toEqual(here.map(everything));
  });

  it('fits the values a window held when it was pushed, though its shared memory is written again after', async () => {
    const memory = new SharedArrayBuffer(900 * 8);
    const shared = new Float64Array(memory);
    const [a, b] = [windowOf(0), windowOf(1, 99)];
    const here = await lastValueFrom(from([a]).pipe(fitMixture<number>({ k: 3, seed: 1 }), toArray()));
    const updates: MixtureUpdate<number>[] = [];
    const subject = new Subject<VectorWindow<number>>();
    const done = new Promise<void>((resolve, reject) => subject.pipe(fitMixture<number>({ k: 3, seed: 1, offThread: true })).subscribe({ next: (u) => updates.push(u), error: reject, complete: resolve }));
    shared.set(a.points);
    subject.next({ ...a, points: shared });
    shared.set(b.points); // the producer reuses its memory for the next window
    subject.complete();
    await done;
    expect(updates.map((u) => Array.from(u.labels))).toEqual(here.map((u) => Array.from(u.labels)));
    expect(updates[0].model).toEqual(here[0].model);
  });

  it('delivers the updates of the windows before a source error, then the error', async () => {
    const subject = new Subject<number[]>();
    const seen: number[] = [];
    const failed = new Promise<unknown>((resolve) => {
      subject.pipe(windowVectors<number[]>({ size: 300 }), fitMixture<number[]>({ k: 3, seed: 1, offThread: true })).subscribe({
        next: (u) => seen.push(u.windowIndex),
        error: resolve,
        complete: () => resolve(null),
      });
    });
    for (const p of syntheticStream(moving, 900, 2)) subject.next(p.vector);
    subject.error(new Error('the source failed'));
    const error = await failed;
    expect(seen).toEqual([0, 1, 2]);
    expect((error as Error).message).toBe('the source failed');
  });
});

describe('WindowFitter', () => {
  it('copies a window it may move when the runtime will not move its buffer (all of a WebAssembly memory)', async () => {
    const memory = new wasm!.Memory({ initial: 1 }); // 64 KiB: 4096 points of D = 2
    const whole = new Float64Array(memory.buffer);
    whole.set(Array.from(syntheticStream(moving, 4096, 8), (p) => p.vector.slice(0, 2)).flat());
    const outcome = await new Promise<WindowOutcome>((resolve, reject) => {
      const fitter = new WindowFitter({ k: 3, seed: 1 }, reject);
      fitter.fit({ n: 4096, d: 2, data: whole }, 0, true, (o) => {
        fitter.close();
        resolve(o);
      });
    });
    expect(outcome.ok).toBe(true);
    expect(outcome.points).toBeUndefined();
    expect(whole.length).toBe(8192);
  });

  it('reports a worker thread that dies as a ThreadPoolError, once, and answers nothing after it', async () => {
    const errors: Error[] = [];
    const answers: unknown[] = [];
    const dead = new Promise<void>((resolve) => {
      const fitter = new WindowFitter({ k: 2 }, (err) => {
        errors.push(err);
        resolve();
      });
      // A request whose points lie past the end of its buffer (fit() never sends one): reading it throws in the worker,
      // outside any fit, and the thread dies.
      const worker = (fitter as unknown as { worker: Worker }).worker;
      worker.postMessage({ id: -1, index: 0, n: 100, d: 2, length: 200, buffer: new ArrayBuffer(32), byteOffset: 0, returned: false });
      fitter.fit({ n: 2, d: 2, data: Float64Array.of(0, 0, 1, 1) }, 0, true, (o) => answers.push(o));
      fitter.fit({ n: 2, d: 2, data: Float64Array.of(0, 0, 1, 1) }, 1, false, (o) => answers.push(o));
    });
    await dead;
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(ThreadPoolError);
    // What failed, in the one line a CLI prints (the cause is not printed).
    expect(errors[0].message).toMatch(/^the window-fitting worker thread failed \(RangeError: [^)]*length[^)]*\): fit on the calling thread \(fitMixture without offThread\)/);
    expect(answers).toEqual([]);
  });
});

describe('errors across threads', () => {
  it('are rebuilt as their class with their context and retriable flag', () => {
    const pool = errorFromMessage(structuredClone(errorMessage(new ThreadPoolError('an E-step worker failed', 2))));
    expect(pool).toBeInstanceOf(ThreadPoolError);
    expect(pool.message).toBe(new ThreadPoolError('an E-step worker failed', 2).message);
    expect((pool as ThreadPoolError).context).toEqual({ threads: 2 });
    expect((pool as ThreadPoolError).retriable).toBe(true);
    const data = errorFromMessage(structuredClone(errorMessage(new DataError('value at row 3, column 1 is NaN', { row: 3, column: 1 }))));
    expect(data).toBeInstanceOf(DataError);
    expect((data as DataError).context).toEqual({ row: 3, column: 1 });
    expect((data as DataError).retriable).toBe(false);
  });
});
