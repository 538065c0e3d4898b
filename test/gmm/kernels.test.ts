import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BLOCKED, SKIP_WEIGHT } from '../../src/gmm/blocked.js';
import { COVARIANCE } from '../../src/gmm/covariance.js';
import { EStepScratch, PRUNE_GAP, eStep, precompute } from '../../src/gmm/estep.js';
import { cholesky, choleskyJs, precisionFactor, precisionFactorJs } from '../../src/gmm/linalg.js';
import { GaussianMixture } from '../../src/gmm/model.js';
import { Rng } from '../../src/gmm/rng.js';
import { SimdLogProb } from '../../src/gmm/simd.js';
import { SufficientStats } from '../../src/gmm/stats.js';
import { KERNELS_URL, missingKernels } from '../../src/gmm/wasm.js';
import { COVARIANCE_TYPES, type CovarianceType } from '../../src/gmm/types.js';
import { randomMixture, seededUniform } from '../helpers/random.js';

/**
 * The blocked kernels (any D) against the plain per-point loops they reorganise, and the WebAssembly SIMD
 * kernels against the JavaScript ones: every value bit-identical (the tiles keep each sum's term order).
 */

function bits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  expect(a.length, what).toBe(b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) expect.fail(`${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

/** Plain per-point log-densities (the reference the tiles must reproduce). */
function naiveLogProb(type: CovarianceType, K: number, D: number, means: Float64Array, prec: Float64Array, lc: Float64Array, x: Float64Array, start: number, nb: number): Float64Array {
  const LP = new Float64Array(nb * K);
  const diff = new Float64Array(D);
  for (let i = 0; i < nb; i++) {
    const o = (start + i) * D;
    for (let k = 0; k < K; k++) {
      let sq = 0;
      if (type === 'diag') {
        for (let a = 0; a < D; a++) {
          const y = (x[o + a] - means[k * D + a]) * prec[k * D + a];
          sq += y * y;
        }
        LP[i * K + k] = lc[k] - 0.5 * sq;
      } else if (type === 'spherical') {
        for (let a = 0; a < D; a++) {
          const y = x[o + a] - means[k * D + a];
          sq += y * y;
        }
        LP[i * K + k] = lc[k] - 0.5 * sq * prec[k] * prec[k];
      } else {
        const wb = type === 'tied' ? 0 : k * D * D;
        for (let a = 0; a < D; a++) diff[a] = x[o + a] - means[k * D + a];
        for (let j = 0; j < D; j++) {
          let s = 0;
          for (let a = 0; a <= j; a++) s += prec[wb + j * D + a] * diff[a];
          sq += s * s;
        }
        LP[i * K + k] = lc[k] - 0.5 * sq;
      }
    }
  }
  return LP;
}

/** Plain per-point statistics, each block summed first then added (the order of the kernels). */
function naiveStats(type: CovarianceType, K: number, D: number, x: Float64Array, start: number, nb: number, resp: Float64Array, shift: Float64Array): { s0: Float64Array; s1: Float64Array; s2: Float64Array } {
  const T = (D * (D + 1)) / 2;
  const s0 = new Float64Array(K);
  const s1 = new Float64Array(K * D);
  const s2 = new Float64Array(COVARIANCE[type].statsSize(K, D));
  const c = new Float64Array(D);
  const u = new Float64Array(D);
  const v = new Float64Array(type === 'full' || type === 'tied' ? T : D);
  for (let k = 0; k < K; k++) {
    let t0 = 0;
    u.fill(0);
    v.fill(0);
    for (let i = 0; i < nb; i++) {
      const w = resp[i * K + k];
      if (w < SKIP_WEIGHT) continue;
      for (let a = 0; a < D; a++) c[a] = x[(start + i) * D + a] - shift[a];
      t0 += w;
      let p = 0;
      for (let a = 0; a < D; a++) {
        u[a] += w * c[a];
        if (type === 'full') for (let b = 0; b <= a; b++) v[p++] += w * c[a] * c[b];
        else if (type !== 'tied') v[a] += w * c[a] * c[a];
      }
    }
    s0[k] += t0;
    for (let a = 0; a < D; a++) s1[k * D + a] += u[a];
    if (type === 'full') for (let p = 0; p < T; p++) s2[k * T + p] += v[p];
    else if (type !== 'tied') for (let a = 0; a < D; a++) s2[k * D + a] += v[a];
  }
  if (type === 'tied') {
    v.fill(0);
    for (let i = 0; i < nb; i++) {
      let wsum = 0;
      for (let k = 0; k < K; k++) wsum += resp[i * K + k];
      for (let a = 0; a < D; a++) c[a] = x[(start + i) * D + a] - shift[a];
      let p = 0;
      for (let a = 0; a < D; a++) for (let b = 0; b <= a; b++) v[p++] += wsum * c[a] * c[b];
    }
    for (let p = 0; p < T; p++) s2[p] += v[p];
  }
  return { s0, s1, s2 };
}

const caseArb = fc.record({
  type: fc.constantFrom(...COVARIANCE_TYPES),
  d: fc.integer({ min: 17, max: 70 }),
  k: fc.integer({ min: 1, max: 7 }),
  nb: fc.integer({ min: 1, max: 256 }),
  start: fc.integer({ min: 0, max: 9 }),
  seed: fc.integer({ min: 0, max: 0x7fffffff }),
  oneHot: fc.boolean(),
});

function setup(c: { type: CovarianceType; d: number; k: number; nb: number; start: number; seed: number; oneHot: boolean }) {
  const rng = new Rng(c.seed);
  const params = randomMixture(() => rng.uniform(), c.k, c.d, c.type);
  const pre = precompute(params);
  if (!pre.ok) throw new Error('random mixture must factor');
  const x = Float64Array.from({ length: (c.start + c.nb) * c.d }, () => 2 * rng.normal());
  const resp = new Float64Array(c.nb * c.k);
  for (let i = 0; i < c.nb; i++) {
    if (c.oneHot) resp[i * c.k + rng.int(c.k)] = 1;
    else {
      let s = 0;
      for (let k = 0; k < c.k; k++) s += resp[i * c.k + k] = rng.uniform() < 0.3 ? 0 : rng.uniform();
      if (s === 0) resp[i * c.k] = s = 1;
      for (let k = 0; k < c.k; k++) resp[i * c.k + k] /= s;
    }
  }
  const shift = Float64Array.from({ length: c.d }, () => rng.normal());
  return { pre: pre.value, x, resp, shift };
}

describe('blocked kernels (D > 16)', () => {
  it('log-densities are bit-identical to the per-point loops', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { pre, x } = setup(c);
        const LP = new Float64Array(c.nb * c.k);
        BLOCKED[c.type].logProb(c.k, c.d, pre.means, pre.prec, pre.lc, x, c.start, c.nb, LP, new Float64Array(4 * c.d));
        bits(LP, naiveLogProb(c.type, c.k, c.d, pre.means, pre.prec, pre.lc, x, c.start, c.nb), `${c.type} D=${c.d} K=${c.k} nb=${c.nb}`);
      }),
      { seed: 101, numRuns: 120 },
    );
  });

  it('statistics are bit-identical to the per-point loops (soft and one-hot responsibilities)', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        const { x, resp, shift } = setup(c);
        const st = new SufficientStats(c.k, c.d, c.type, shift);
        st.addBlock(x, c.start, c.nb, resp);
        const ref = naiveStats(c.type, c.k, c.d, x, c.start, c.nb, resp, shift);
        bits(st.s0, ref.s0, 's0');
        bits(st.s1, ref.s1, 's1');
        bits(st.s2, ref.s2, 's2');
      }),
      { seed: 102, numRuns: 120 },
    );
  });
});

const simd = SimdLogProb.create();

describe('WebAssembly SIMD kernels', () => {
  it('are available on every supported Node (fixed-width SIMD)', () => {
    expect(simd).not.toBeNull();
  });

  it('give the JavaScript kernels’ log-densities bit for bit (diag, full, tied; any D > 16, any block)', () => {
    fc.assert(
      fc.property(
        caseArb.filter((c) => c.type !== 'spherical'),
        (c) => {
          const { pre, x } = setup(c);
          const js = new Float64Array(c.nb * c.k);
          BLOCKED[c.type].logProb(c.k, c.d, pre.means, pre.prec, pre.lc, x, c.start, c.nb, js, new Float64Array(4 * c.d));
          const w = new Float64Array(c.nb * c.k);
          simd!.prepare(c.type, c.k, c.d, pre.means, pre.prec, pre.lc);
          simd!.logProb(x, c.start, c.nb, w);
          bits(w, js, `${c.type} D=${c.d} K=${c.k} nb=${c.nb}`);
        },
      ),
      { seed: 103, numRuns: 150 },
    );
  });

  it('with pruning (diag, full, tied): every entry the JavaScript kernel’s bit for bit, or −∞ only where that entry lies more than the gap below the point’s best', () => {
    let pruned = 0;
    let kept = 0;
    fc.assert(
      fc.property(caseArb, fc.constantFrom('diag', 'full', 'tied'), fc.constantFrom(0.5, 5, PRUNE_GAP), fc.double({ min: 0.2, max: 4, noNaN: true }), (c0, type, gap, spread) => {
        const c = { ...c0, type };
        const { pre, x } = setup(c);
        // spread the means out so that some components are far from some points and pruned
        const means = Float64Array.from(pre.means, (m) => m * spread * 4);
        const js = new Float64Array(c.nb * c.k);
        BLOCKED[type].logProb(c.k, c.d, means, pre.prec, pre.lc, x, c.start, c.nb, js, new Float64Array(4 * c.d));
        const w = new Float64Array(c.nb * c.k);
        // a fresh instance: the pruning kernel itself, not the plain one a run of overlapping cases switches to
        const fresh = SimdLogProb.create()!;
        fresh.prepare(type, c.k, c.d, means, pre.prec, pre.lc);
        fresh.logProb(x, c.start, c.nb, w, gap);
        for (let i = 0; i < c.nb; i++) {
          let best = -Infinity;
          for (let k = 0; k < c.k; k++) best = Math.max(best, js[i * c.k + k]);
          for (let k = 0; k < c.k; k++) {
            const at = `${type} D=${c.d} K=${c.k} point ${i} component ${k}`;
            const [a, b] = [w[i * c.k + k], js[i * c.k + k]];
            if (a === -Infinity) {
              pruned++;
              expect(b, at).toBeLessThan(best - gap);
            } else {
              kept++;
              expect(Object.is(a, b), `${at}: ${a} vs ${b}`).toBe(true);
            }
          }
          // the best entry is always finished
          expect(Math.max(...w.subarray(i * c.k, i * c.k + c.k))).toBe(best);
        }
      }),
      { seed: 107, numRuns: 300 },
    );
    // both branches ran, many times
    expect(Math.min(pruned, kept)).toBeGreaterThan(3000);
  });

  it('give the JavaScript statistics bit for bit (diag, full, tied; soft and one-hot)', () => {
    fc.assert(
      fc.property(
        caseArb.filter((c) => c.type !== 'spherical'),
        (c) => {
          const { pre, x, resp, shift } = setup(c);
          const js = new SufficientStats(c.k, c.d, c.type, shift);
          js.addBlock(x, c.start, c.nb, resp);
          const w = new SufficientStats(c.k, c.d, c.type, shift);
          simd!.prepare(c.type, c.k, c.d, pre.means, pre.prec, pre.lc);
          w.addBlock(x, c.start, c.nb, resp, (st, data, start, nb, r, sc) => simd!.statsBlock(st, data, start, nb, r, sc));
          bits(w.s0, js.s0, 's0');
          bits(w.s1, js.s1, 's1');
          bits(w.s2, js.s2, `${c.type} D=${c.d} K=${c.k} nb=${c.nb} s2`);
        },
      ),
      { seed: 104, numRuns: 100 },
    );
  });

  it('eStep with SIMD (its kernels stopping early on far components) equals the JavaScript E-step bit for bit (sums, statistics, outputs), with and without exact tails', () => {
    let zeroedTotal = 0;
    for (const type of ['diag', 'full', 'tied'] as const) {
      for (const [d, spread] of [[17, 1], [48, 1], [129, 1], [48, 12], [129, 12]]) {
        // spread 12: components far apart, so that the kernels stop early on most of them
        const base = randomMixture(seededUniform(d), 3, d, type);
        const params = { ...base, means: base.means.map((m) => m * spread) };
        const { data } = new GaussianMixture(params).sample(700, d + 1);
        const pre = precompute(params);
        if (!pre.ok) throw new Error('must factor');
        const shift = Float64Array.from(data.data.subarray(0, d));
        const run = (useSimd: boolean, exactTails: boolean) => {
          const st = new SufficientStats(3, d, type, shift);
          const out = { resp: new Float64Array(700 * 3), logDensity: new Float64Array(700), labels: new Int32Array(700), exactTails };
          // unrolled = false selects the plain JavaScript kernels (no compiled pass, no SIMD)
          const sums = eStep(pre.value, data.data, 700, false, st, out, new EStepScratch(3, d), useSimd);
          return { sums, st, out };
        };
        for (const exact of [false, true]) {
          const a = run(true, exact);
          const b = run(false, exact);
          const at = `${type} ${d} ×${spread}${exact ? ' exact tails' : ''}`;
          expect(Object.is(a.sums.logLikelihood, b.sums.logLikelihood), at).toBe(true);
          expect(Object.is(a.sums.expected, b.sums.expected), at).toBe(true);
          bits(a.st.s2, b.st.s2, `${at} s2`);
          bits(a.out.resp, b.out.resp, `${at} resp`);
          bits(a.out.logDensity, b.out.logDensity, `${at} logDensity`);
          bits(a.out.labels, b.out.labels, `${at} labels`);
        }
        {
          // the cut-off: responsibilities below 2⁻⁶⁰ of the best are 0, exact tails keep them
          const cut = run(true, false).out.resp;
          const exact = run(true, true).out.resp;
          let zeroed = 0;
          for (let i = 0; i < cut.length; i++) {
            if (cut[i] === exact[i]) continue;
            expect(cut[i], `${type} ${d} entry ${i}`).toBe(0);
            expect(exact[i]).toBeLessThan(SKIP_WEIGHT);
            zeroed++;
          }
          zeroedTotal += zeroed;
        }
        if (spread > 1) {
          // the kernels did stop early here (entries left at −∞); diag tries its checks again within 33 blocks of a
          // run of blocks where they did not pay (earlier tests' overlapping components)
          const lp = new Float64Array(256 * 3);
          simd!.prepare(type, 3, d, pre.value.means, pre.value.prec, pre.value.lc);
          let left = 0;
          for (let call = 0; call < 34 && left === 0; call++) {
            simd!.logProb(data.data, 0, 256, lp, PRUNE_GAP);
            left = lp.filter((v) => v === -Infinity).length;
          }
          expect(left, `${type} ${d}`).toBeGreaterThan(100);
        }
      }
    }
    expect(zeroedTotal, 'responsibilities between e^−746 and 2⁻⁶⁰ of the best were met').toBeGreaterThan(0);
  });
});

describe('WebAssembly SIMD factorisations', () => {
  /** A random SPD matrix B·Bᵀ/D + δI, its mirrored entries differing by an ulp-sized rounding now and then. */
  function spd(d: number, rng: Rng, jitter: boolean): Float64Array {
    const b = Float64Array.from({ length: d * d }, () => rng.normal());
    const a = new Float64Array(d * d);
    for (let i = 0; i < d; i++) {
      for (let j = 0; j <= i; j++) {
        let s = 0;
        for (let p = 0; p < d; p++) s += b[i * d + p] * b[j * d + p];
        a[i * d + j] = a[j * d + i] = s / d + (i === j ? 0.1 : 0);
      }
    }
    if (jitter) for (let i = 1; i < d; i++) a[i] = a[i] * (1 + 1e-15);
    return a;
  }

  it('cholesky and precisionFactor give the JavaScript loops’ results bit for bit (D = 12…130, odd and even; at an offset)', () => {
    const rng = new Rng(7);
    for (const d of [12, 13, 16, 17, 33, 64, 65, 130]) {
      for (const jitter of [false, true]) {
        const a = spd(d, rng, jitter);
        const padded = new Float64Array(d * d + 5);
        padded.set(a, 5);
        bits(cholesky(padded, d, 5)!, choleskyJs(padded, d, 5)!, `cholesky D=${d}`);
        const w1 = new Float64Array(d * d + 3).fill(9);
        const w2 = new Float64Array(d * d + 3).fill(9);
        const l1 = precisionFactor(padded, d, 5, w1, 3);
        const l2 = precisionFactorJs(padded, d, 5, w2, 3);
        expect(Object.is(l1, l2), `log det D=${d}`).toBe(true);
        bits(w1, w2, `precision factor D=${d}`);
      }
    }
  });

  it('refuse what the JavaScript loops refuse: not positive definite, NaN, Infinity', () => {
    const rng = new Rng(8);
    for (const d of [12, 31]) {
      const a = spd(d, rng, false);
      const singular = a.slice();
      singular[(d - 1) * d + (d - 1)] = -1;
      const nan = a.slice();
      nan[3 * d + 1] = Number.NaN;
      const inf = a.slice();
      inf[5 * d + 5] = Number.POSITIVE_INFINITY;
      // left of the diagonal in a later block of rows (the kernel factors four rows at a time), on both sides
      const nanLate = a.slice();
      nanLate[(d - 2) * d + 1] = Number.NaN;
      const infLate = a.slice();
      infLate[2 * d + (d - 3)] = Number.NEGATIVE_INFINITY;
      const notPdLate = a.slice();
      notPdLate[(d - 3) * d + 0] = notPdLate[0 * d + (d - 3)] = 1e3;
      for (const m of [singular, nan, inf, nanLate, infLate, notPdLate]) {
        expect(cholesky(m, d)).toBeNull();
        expect(choleskyJs(m, d)).toBeNull();
        expect(precisionFactor(m, d, 0, new Float64Array(d * d), 0)).toBeNull();
      }
    }
  });
});

describe('the compiled kernels file', () => {
  it('is used only when it has every kernel: one built from older sources is refused (the JavaScript kernels run), with the fix in the reason', () => {
    const api = (globalThis as unknown as { WebAssembly: { Module: new (b: Uint8Array) => object } }).WebAssembly;
    expect(missingKernels(new api.Module(readFileSync(KERNELS_URL)))).toEqual([]);
    // a module with no exports at all: what an old build looks like to the loader, at the extreme
    const empty = new api.Module(Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00));
    expect(missingKernels(empty)).toEqual(['diag', 'diagPrune', 'full', 'fullPrune', 'outer4', 'centre', 'diagAcc', 'chol', 'invLower']);
  });
});
