import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { fitGmm } from '../../src/gmm/em.js';
import { EmstreamOptionsError } from '../../src/errors.js';
import { eStep, precompute, type Precomputed } from '../../src/gmm/estep.js';
import { GaussianMixture } from '../../src/gmm/model.js';
import { EStepPool, sharedPool, threadsFor } from '../../src/gmm/parallel/pool.js';
import { SufficientStats } from '../../src/gmm/stats.js';
import { COVARIANCE_TYPES, type CovarianceType, type Dataset } from '../../src/gmm/types.js';
import { randomMixture, seededUniform } from '../helpers/random.js';

/** Points drawn from a random mixture (separated along the first axis). */
function sample(n: number, k: number, d: number, type: CovarianceType, seed: number): { data: Dataset; pre: Precomputed; shift: Float64Array } {
  const params = randomMixture(seededUniform(seed), k, d, type);
  const model = new GaussianMixture(params);
  const { data } = model.sample(n, seed + 1);
  const pre = precompute(params);
  if (!pre.ok) throw new Error('random mixture must factor');
  const shift = Float64Array.from({ length: d }, (_, a) => data.data[a] + 0.5);
  return { data, pre: pre.value, shift };
}

function relClose(a: ArrayLike<number>, b: ArrayLike<number>, what: string, rel = 1e-12): void {
  expect(a.length).toBe(b.length);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  expect(worst, `${what}: max |diff| ${worst} at scale ${scale}`).toBeLessThanOrEqual(rel * Math.max(scale, 1e-300));
}

function bitIdentical(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) expect.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

const pool3 = EStepPool.create(3);
afterAll(() => pool3.close());

describe('E-step on worker threads (EStepPool)', () => {
  // D = 5 runs the compiled kernels, D = 40 the blocked ones; n not a multiple of the 256-point chunks
  for (const type of COVARIANCE_TYPES) {
    for (const d of [5, 40]) {
      it(`${type}, D = ${d}: sums and statistics equal one thread's to rounding, per-point outputs bit-identical`, () => {
        const n = 1337;
        const k = 4;
        const { data, pre, shift } = sample(n, k, d, type, 11 + d);
        const one = new SufficientStats(k, d, type, shift);
        const many = new SufficientStats(k, d, type, shift);
        const out1 = { resp: new Float64Array(n * k), logDensity: new Float64Array(n), labels: new Int32Array(n), maxProb: new Float64Array(n) };
        const outN = { resp: new Float64Array(n * k), logDensity: new Float64Array(n), labels: new Int32Array(n), maxProb: new Float64Array(n) };
        const a = eStep(pre, data.data, n, false, one, out1);
        const b = pool3.eStep(pre, pool3.share(data.data, n, d), false, many, outN);
        expect(Math.abs(a.logLikelihood - b.logLikelihood)).toBeLessThanOrEqual(1e-12 * Math.abs(a.logLikelihood));
        expect(Math.abs(a.expected - b.expected)).toBeLessThanOrEqual(1e-12 * Math.abs(a.expected));
        expect(b.worst).toBe(a.worst);
        expect(b.worstLogDensity).toBe(a.worstLogDensity);
        relClose(many.s0, one.s0, 's0');
        relClose(many.s1, one.s1, 's1');
        relClose(many.s2, one.s2, 's2');
        bitIdentical(outN.resp, out1.resp, 'resp');
        bitIdentical(outN.logDensity, out1.logDensity, 'logDensity');
        bitIdentical(outN.labels, out1.labels, 'labels');
        bitIdentical(outN.maxProb, out1.maxProb, 'maxProb');
      });
    }
  }

  it('is bit-identical run after run with the same thread count (hard EM too)', () => {
    const n = 3000;
    const { data, pre, shift } = sample(n, 5, 24, 'full', 5);
    const batch = pool3.share(data.data, n, 24);
    const runs = [0, 1].map(() => {
      const st = new SufficientStats(5, 24, 'full', shift);
      const sums = pool3.eStep(pre, batch, true, st);
      return { sums, st };
    });
    expect(Object.is(runs[0].sums.logLikelihood, runs[1].sums.logLikelihood)).toBe(true);
    expect(Object.is(runs[0].sums.expected, runs[1].sums.expected)).toBe(true);
    bitIdentical(runs[0].st.s2, runs[1].st.s2, 's2');
  });

  it('reads a batch that is a row-aligned view into a SharedArrayBuffer in place', () => {
    const n = 2000;
    const d = 9;
    const { data, pre, shift } = sample(n, 3, d, 'diag', 8);
    const sab = new Float64Array(new SharedArrayBuffer(n * d * 8));
    sab.set(data.data);
    const view = sab.subarray(300 * d, 1900 * d);
    const batch = pool3.share(view, 1600, d);
    expect(batch.data.buffer).toBe(sab.buffer);
    const one = new SufficientStats(3, d, 'diag', shift);
    const many = new SufficientStats(3, d, 'diag', shift);
    const l1 = new Int32Array(1600);
    const lN = new Int32Array(1600);
    const a = eStep(pre, view, 1600, false, one, { labels: l1 });
    const b = pool3.eStep(pre, batch, false, many, { labels: lN });
    expect(b.worst).toBe(a.worst);
    relClose(many.s2, one.s2, 's2');
    bitIdentical(lN, l1, 'labels');
  });

  it('fitGmm with threads equals one thread to rounding, and repeats bit for bit', () => {
    const n = 6000;
    const d = 32;
    const { data } = sample(n, 4, d, 'diag', 3);
    // large enough to use the threads
    expect(threadsFor(2, n, 4, d, 'diag')).toBe(2);
    const opts = { k: 4, covarianceType: 'diag' as const, maxIterations: 15, tol: 0, seed: 4, init: 'random-from-data' as const };
    const one = fitGmm(data, { ...opts, threads: 1 });
    const two = fitGmm(data, { ...opts, threads: 2 });
    const again = fitGmm(data, { ...opts, threads: 2 });
    relClose(two.params.means, one.params.means, 'means', 1e-9);
    relClose(two.params.covariances, one.params.covariances, 'covariances', 1e-9);
    relClose(two.params.weights, one.params.weights, 'weights', 1e-9);
    expect(Math.abs(two.logLikelihood - one.logLikelihood)).toBeLessThanOrEqual(1e-12 * Math.abs(one.logLikelihood));
    bitIdentical(again.params.means, two.params.means, 'means');
    bitIdentical(again.params.covariances, two.params.covariances, 'covariances');
    expect(Object.is(again.logLikelihood, two.logLikelihood)).toBe(true);
  });

  it('GaussianMixture.fit takes threads; a bad value is an options error', () => {
    const { data } = sample(500, 2, 3, 'full', 9);
    const { model } = GaussianMixture.fit(data, { k: 2, seed: 1, threads: 2 });
    expect(model.k).toBe(2);
    expect(() => fitGmm(data, { k: 2, threads: 0 })).toThrow(EmstreamOptionsError);
    expect(() => fitGmm(data, { k: 2, threads: 1.5 })).toThrow(/threads/);
  });

  it('the shared pool terminates its workers when idle and starts again when asked', async () => {
    const pool = sharedPool(2, { idleMs: 50 });
    const { data, pre, shift } = sample(2000, 3, 16, 'full', 2);
    pool.eStep(pre, pool.share(data.data, 2000, 16), false, new SufficientStats(3, 16, 'full', shift));
    await new Promise((r) => setTimeout(r, 400));
    expect(pool.closed).toBe(true);
    const again = sharedPool(2, { idleMs: 50 });
    expect(again).not.toBe(pool);
    const st = new SufficientStats(3, 16, 'full', shift);
    again.eStep(pre, again.share(data.data, 2000, 16), false, st);
    expect(st.total()).toBeCloseTo(2000, 6);
    again.close();
  });

  it('threads never keep the process alive: a fit with threads exits even with an hour of idle time', () => {
    const script = `
      import { sharedPool } from './src/gmm/parallel/pool.ts';
      import { fitGmm } from './src/gmm/em.ts';
      import { Rng } from './src/gmm/rng.ts';
      sharedPool(2, { idleMs: 3_600_000 });
      const rng = new Rng(1);
      const n = 4000, d = 32;
      const data = Float64Array.from({ length: n * d }, (_, i) => rng.normal() + (i % 64 < 32 ? 0 : 6));
      const r = fitGmm({ n, d, data }, { k: 2, covarianceType: 'diag', threads: 2, maxIterations: 3, tol: 0 });
      console.log('fitted', r.iterations);
    `;
    const res = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(res.error).toBeUndefined();
    expect(res.stderr).toBe('');
    expect(res.stdout.trim()).toBe('fitted 3');
    expect(res.status).toBe(0);
  });
});
