/**
 * The E-step kernels beyond D = 16: WebAssembly SIMD (AssemblyScript, `src/gmm/simd/kernels.as.ts`)
 * against the JavaScript reference (`src/gmm/blocked.ts`), log-densities and statistics of 20 000 points
 * in blocks of 256, interleaved on the same data and parameters; medians.
 */
import { BLOCKED } from '../src/gmm/blocked.js';
import { EStepScratch, precompute } from '../src/gmm/estep.js';
import { Rng } from '../src/gmm/rng.js';
import { SimdLogProb } from '../src/gmm/simd.js';
import { SufficientStats } from '../src/gmm/stats.js';
import type { CovarianceType, GmmParams } from '../src/gmm/types.js';
import { median } from './median.js';

export interface KernelRow {
  type: CovarianceType;
  d: number;
  k: number;
  wasmMs: number;
  jsMs: number;
}


function params(rng: Rng, type: CovarianceType, k: number, d: number): GmmParams {
  const means = Float64Array.from({ length: k * d }, () => 3 * rng.normal());
  let covariances: Float64Array;
  if (type === 'diag') covariances = Float64Array.from({ length: k * d }, () => 0.5 + rng.uniform());
  else {
    const one = (): Float64Array => {
      const c = new Float64Array(d * d);
      for (let a = 0; a < d; a++) c[a * d + a] = 1 + rng.uniform();
      for (let a = 1; a < d; a++) c[a * d + a - 1] = c[(a - 1) * d + a] = 0.2;
      return c;
    };
    covariances = new Float64Array((type === 'tied' ? 1 : k) * d * d);
    for (let c = 0; c < (type === 'tied' ? 1 : k); c++) covariances.set(one(), c * d * d);
  }
  return { k, d, covarianceType: type, weights: new Float64Array(k).fill(1 / k), means, covariances };
}

/** ms per pass over 20 000 points (log-densities and statistics), WebAssembly and JavaScript. */
export function kernelRates(): KernelRow[] | null {
  const simd = SimdLogProb.create();
  if (simd === null) return null;
  const n = 20_000;
  const B = 256;
  const rows: KernelRow[] = [];
  for (const [type, d, k] of [
    ['diag', 384, 16],
    ['diag', 256, 8],
    ['diag', 768, 8],
    ['full', 64, 8],
    ['full', 256, 8],
    ['tied', 64, 8],
  ] as [CovarianceType, number, number][]) {
    const rng = new Rng(3);
    const pre = precompute(params(rng, type, k, d));
    if (!pre.ok) throw new Error('benchmark parameters must factor');
    const p = pre.value;
    const x = Float64Array.from({ length: n * d }, () => 2 * rng.normal());
    const resp = new Float64Array(B * k);
    for (let i = 0; i < B; i++) resp[i * k + rng.int(k)] = 1;
    const LP = new Float64Array(B * k);
    const sc = new EStepScratch(k, d);
    const st = new SufficientStats(k, d, type, new Float64Array(d));
    const wasm = (): void => {
      simd.prepare(type, k, d, p.means, p.prec, p.lc);
      st.reset();
      for (let s = 0; s + B <= n; s += B) {
        simd.logProb(x, s, B, LP);
        st.addBlock(x, s, B, resp, (a, b, c, e, f, g) => simd.statsBlock(a, b, c, e, f, g));
      }
    };
    const js = (): void => {
      st.reset();
      for (let s = 0; s + B <= n; s += B) {
        BLOCKED[type].logProb(k, d, p.means, p.prec, p.lc, x, s, B, LP, sc.diff);
        st.addBlock(x, s, B, resp);
      }
    };
    const a: number[] = [];
    const b: number[] = [];
    const reps = type === 'full' && d >= 256 ? 4 : 9;
    for (let r = 0; r < reps + 1; r++) {
      let t = performance.now();
      wasm();
      const ta = performance.now() - t;
      t = performance.now();
      js();
      const tb = performance.now() - t;
      if (r > 0) {
        a.push(ta);
        b.push(tb);
      }
    }
    rows.push({ type, d, k, wasmMs: median(a), jsMs: median(b) });
  }
  return rows;
}
