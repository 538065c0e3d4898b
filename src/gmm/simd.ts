/**
 * WebAssembly SIMD (f64x2) block log-density and statistics kernels for `diag`, `full` and `tied`
 * covariances with D > 16, behind the same interface as the JavaScript kernels of `blocked.ts`.
 *
 * The kernels are AssemblyScript (`simd/kernels.as.ts`), compiled by `asc` at build time into
 * `simd/kernels.wasm` beside this module (`npm run build` for `dist`; the test setup for the sources) and
 * loaded from there at first use: no native addon, nothing downloaded at install. Their lanes run over two
 * components (`diag`) or two points (`full`/`tied`), never over the coordinates, so every (point,
 * component) sum receives its terms in exactly the order of the JavaScript kernels: the results are
 * bit-identical to them (tested), and the JavaScript kernels stay the reference and the fallback (no
 * WebAssembly SIMD, no `kernels.wasm`, or `EMSTREAM_SIMD=0`).
 *
 * Per block the points are copied into the module's memory (a plain copy, rows kept), the parameters
 * once per E-step ({@link SimdLogProb.prepare}).
 *
 * @module
 */
import { outer1, SKIP_WEIGHT, type StatsArrays, type StatsScratch } from './blocked.js';
import { COVARIANCE, type CovarianceKind } from './covariance.js';
import type { CovarianceType } from './types.js';
import { wasm, wasmModule, type WasmApi, type WasmMemory } from './wasm.js';

export { KERNELS_URL, simdStatus } from './wasm.js';

interface Exports {
  diag(P: number, D: number, NB: number, X: number, MP: number, PP: number, LC: number, LP: number): void;
  diagPrune(P: number, D: number, NB: number, X: number, MP: number, PP: number, LC: number, LP: number, Q: number, BP: number, LIM: number, C: number, T: number): number;
  full(K: number, D: number, NB: number, X: number, M: number, W: number, WSTRIDE: number, LC: number, LP: number, DIFF: number, QS: number): void;
  fullPrune(K: number, D: number, NB: number, X: number, M: number, W: number, WSTRIDE: number, LC: number, LP: number, DIFF: number, Q: number, IDX: number, BEST: number, QS: number, R: number, T: number): number;
  outer4(D: number, C0: number, C1: number, C2: number, C3: number, V: number, WP: number): void;
  centre(N: number, X: number, S: number, C: number, D: number): void;
  diagAcc(D: number, X: number, S: number, U: number, V: number, WP: number, RP: number, M: number): void;
}

/** Coordinates `diagPrune` adds to a component between two checks of whether it can still matter. */
const PRUNE_CHUNK = 8;

/**
 * Blocks run by the plain kernels (`diag`, `full`) once the pruning ones' checks did not pay (overlapping
 * components: little stops early), before they are tried again. Both give the same bits.
 */
const PLAIN_BLOCKS = 32;

/** Points per call of the kernels (the E-step's block, padded to a multiple of 4). */
const MAX_ROWS = 260;

/**
 * The WebAssembly kernels of one thread: {@link prepare} once per E-step (copies the parameters), then
 * {@link logProb} per block.
 */
export class SimdLogProb {
  private readonly memory: WasmMemory;
  private readonly fns: Exports;
  private f64: Float64Array;
  private layout = { x: 0, mp: 0, pp: 0, lc: 0, lp: 0, q: 0, idx: 0, best: 0, qs: 0, lim: 0, diff: 0, c: 0, s: 0, u: 0, v: 0, wp: 0, rp: 0, wl: 0, end: 0 };
  private i32 = new Int32Array(1);
  /** The block last copied to `x` (so the statistics reuse it). */
  private last: { data: ArrayLike<number> | null; start: number; nb: number } = { data: null, start: -1, nb: 0 };
  private kind: CovarianceKind = COVARIANCE.diag;
  /** Blocks left for the plain kernels before the pruning ones are tried again (see {@link PLAIN_BLOCKS}). */
  private plainBlocks = 0;
  private K = 0;
  private D = 0;

  private constructor(api: WasmApi, module: object) {
    this.memory = new api.Memory({ initial: 1 });
    this.fns = new api.Instance(module, { env: { memory: this.memory } }).exports as unknown as Exports;
    this.f64 = new Float64Array(this.memory.buffer);
  }

  /** The kernels, or null when WebAssembly SIMD is not available (or `EMSTREAM_SIMD=0`). */
  static create(): SimdLogProb | null {
    const m = wasmModule();
    return m === null || wasm === undefined ? null : new SimdLogProb(wasm, m);
  }

  /** Whether these kernels serve a covariance type at dimension D (D > 16; not spherical). The statistics kernel serves the same types. */
  static serves(type: CovarianceType, d: number): boolean {
    return d > 16 && COVARIANCE[type].simd !== null;
  }

  private ensure(bytes: number): void {
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / 65536));
    this.f64 = new Float64Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
  }

  /** The statistics' region from byte `at`: centred rows, shift, u (D), v (`vSize`), 4 weights. */
  private tail(at: number, D: number, vSize: number): { c: number; s: number; u: number; v: number; wp: number; rp: number; wl: number; end: number } {
    const c = at;
    const s = c + MAX_ROWS * D * 8;
    const u = s + D * 8;
    const v = u + D * 8;
    const wp = v + vSize * 8 + 8;
    const wl = wp + 32;
    const rp = wl + MAX_ROWS * 8;
    return { c, s, u, v, wp, rp, wl, end: rp + MAX_ROWS * 4 };
  }

  /** Copies rows start..start+nb−1 of `x` to the block area, padded with zero rows to a multiple of 4. */
  private copyBlock(x: ArrayLike<number>, start: number, nb: number): void {
    const D = this.D;
    const f = this.f64;
    const nbp = (nb + 3) & ~3;
    if (x instanceof Float64Array || x instanceof Float32Array) f.set(x.subarray(start * D, (start + nb) * D), 0);
    else for (let i = 0; i < nb * D; i++) f[i] = x[start * D + i];
    f.fill(0, nb * D, nbp * D);
    this.last = { data: x, start, nb };
  }

  /**
   * Copies the parameters for the next blocks.
   *
   * @param means K×D; `prec` as in `covariance.ts`; `lc` K
   */
  prepare(type: CovarianceType, K: number, D: number, means: Float64Array, prec: Float64Array, lc: Float64Array): void {
    const kind = (this.kind = COVARIANCE[type]);
    this.K = K;
    this.D = D;
    this.last = { data: null, start: -1, nb: 0 };
    const x = 0;
    const xBytes = MAX_ROWS * D * 8;
    if (kind.simd === 'variances') {
      const P = Math.ceil(K / 2);
      const mp = xBytes;
      const pp = mp + P * D * 16;
      const lcOff = pp + P * D * 16;
      const lp = lcOff + P * 16;
      const q = lp + MAX_ROWS * P * 16;
      const lim = q + MAX_ROWS * P * 16;
      const best = lim + MAX_ROWS * 8;
      const tail = this.tail(best + MAX_ROWS * 4, D, D);
      this.ensure(tail.end);
      const f = this.f64;
      for (let p = 0; p < P; p++) {
        for (let l = 0; l < 2; l++) {
          const k = 2 * p + l;
          const base = (p * D * 2 + l) as number;
          if (k < K) {
            for (let a = 0; a < D; a++) {
              f[mp / 8 + base + 2 * a] = means[k * D + a];
              f[pp / 8 + base + 2 * a] = prec[k * D + a];
            }
            f[lcOff / 8 + k] = lc[k];
          } else {
            for (let a = 0; a < D; a++) {
              f[mp / 8 + base + 2 * a] = 0;
              f[pp / 8 + base + 2 * a] = 0;
            }
            // (−∞: the unused lane is never a point's best, which `diagPrune` relies on)
            f[lcOff / 8 + k] = -Infinity;
          }
        }
      }
      this.layout = { x, mp, pp, lc: lcOff, lp, q, idx: 0, best, qs: 0, lim, diff: 0, ...tail };
    } else {
      const mOff = xBytes;
      const wOff = mOff + K * D * 8;
      const wCount = kind.precSize(K, D);
      const lcOff = wOff + wCount * 8;
      const lp = lcOff + K * 8;
      const diff = lp + MAX_ROWS * K * 8;
      const q = diff + 4 * D * 8;
      const qs = q + MAX_ROWS * K * 8;
      const idx = qs + 32;
      const best = idx + (MAX_ROWS + 4) * 4;
      const tail = this.tail(best + MAX_ROWS * 4, D, (D * (D + 1)) / 2);
      this.ensure(tail.end);
      const f = this.f64;
      f.set(means.subarray(0, K * D), mOff / 8);
      f.set(prec.subarray(0, wCount), wOff / 8);
      f.set(lc.subarray(0, K), lcOff / 8);
      this.layout = { x, mp: mOff, pp: wOff, lc: lcOff, lp, q, idx, best, qs, lim: 0, diff, ...tail };
    }
  }

  /**
   * The statistics of a block for `full` or `tied` (after {@link prepare} for that type): `fullStatsBlock`
   * / `tiedStatsBlock` of blocked.ts with the second-moment tiles in WebAssembly (bit-identical).
   */
  statsBlock(st: StatsArrays, data: ArrayLike<number>, start: number, nb: number, resp: ArrayLike<number>, sc: StatsScratch): void {
    const { k: K, d: D, s0, s1, s2, shift } = st;
    const diag = this.kind.simd === 'variances';
    const tied = this.kind.shared;
    const T = diag ? D : (D * (D + 1)) / 2;
    const { idx } = sc;
    const L = this.layout;
    if (this.last.data !== data || this.last.start !== start || this.last.nb !== nb) this.copyBlock(data, start, nb);
    const f = this.f64;
    // centre the block once, C = X − shift (diag centres each row as it reads it)
    f.set(shift, L.s / 8);
    if (!diag) this.fns.centre(nb, L.x, L.s, L.c, D);
    const c = f.subarray(L.c / 8, L.c / 8 + nb * D);
    const u = f.subarray(L.u / 8, L.u / 8 + D);
    const v = f.subarray(L.v / 8, L.v / 8 + T);
    const w = f.subarray(L.wp / 8, L.wp / 8 + 4);
    const row = (i: number): number => L.c + i * D * 8;
    for (let k = 0; k < K; k++) {
      let m = 0;
      for (let i = 0; i < nb; i++) if (resp[i * K + k] >= SKIP_WEIGHT) idx[m++] = i;
      if (m === 0) continue;
      let t0 = 0;
      u.fill(0);
      if (diag) {
        v.fill(0);
        const wl = L.wl / 8;
        const rp = L.rp / 4;
        for (let j = 0; j < m; j++) {
          const wk = resp[idx[j] * K + k];
          f[wl + j] = wk;
          this.i32[rp + j] = idx[j] * D * 8;
          t0 += wk;
        }
        this.fns.diagAcc(D, L.x, L.s, L.u, L.v, L.wl, L.rp, m);
        for (let a = 0; a < D; a++) s2[k * D + a] += v[a];
      } else if (tied) {
        for (let j = 0; j < m; j++) {
          const wk = resp[idx[j] * K + k];
          const o = idx[j] * D;
          t0 += wk;
          for (let a = 0; a < D; a++) u[a] += wk * c[o + a];
        }
      } else {
        v.fill(0);
        let j = 0;
        for (; j + 4 <= m; j += 4) {
          const i0 = idx[j];
          const i1 = idx[j + 1];
          const i2 = idx[j + 2];
          const i3 = idx[j + 3];
          w[0] = resp[i0 * K + k];
          w[1] = resp[i1 * K + k];
          w[2] = resp[i2 * K + k];
          w[3] = resp[i3 * K + k];
          t0 += w[0];
          t0 += w[1];
          t0 += w[2];
          t0 += w[3];
          const o0 = i0 * D;
          const o1 = i1 * D;
          const o2 = i2 * D;
          const o3 = i3 * D;
          for (let a = 0; a < D; a++) {
            let t = u[a];
            t += w[0] * c[o0 + a];
            t += w[1] * c[o1 + a];
            t += w[2] * c[o2 + a];
            t += w[3] * c[o3 + a];
            u[a] = t;
          }
          this.fns.outer4(D, row(i0), row(i1), row(i2), row(i3), L.v, L.wp);
        }
        for (; j < m; j++) {
          const wk = resp[idx[j] * K + k];
          const ci = c.subarray(idx[j] * D, idx[j] * D + D);
          t0 += wk;
          for (let a = 0; a < D; a++) u[a] += wk * ci[a];
          outer1(v, ci, wk, D);
        }
        for (let p = 0; p < T; p++) s2[k * T + p] += v[p];
      }
      s0[k] += t0;
      for (let a = 0; a < D; a++) s1[k * D + a] += u[a];
    }
    if (tied) {
      v.fill(0);
      const wsum = (i: number): number => {
        let t = 0;
        for (let k = 0; k < K; k++) t += resp[i * K + k];
        return t;
      };
      let i = 0;
      for (; i + 4 <= nb; i += 4) {
        for (let q = 0; q < 4; q++) w[q] = wsum(i + q);
        this.fns.outer4(D, row(i), row(i + 1), row(i + 2), row(i + 3), L.v, L.wp);
      }
      for (; i < nb; i++) outer1(v, c.subarray(i * D, i * D + D), wsum(i), D);
      for (let p = 0; p < T; p++) s2[p] += v[p];
    }
  }

  /** Whether this block runs a pruning kernel: asked to (`prune` finite) and not within a run of plain blocks. */
  private pruning(prune: number): boolean {
    if (prune === Infinity) return false;
    if (this.plainBlocks === 0) return true;
    this.plainBlocks--;
    return false;
  }

  /** After a pruning kernel: when its checks did not pay, the next {@link PLAIN_BLOCKS} blocks run the plain one. */
  private paid(paid: boolean): void {
    if (!paid) this.plainBlocks = PLAIN_BLOCKS;
  }

  /**
   * `LP[i·K + k]` for the nb points of the block at row `start` of `x` (see `LogProbKernel`).
   *
   * @param prune leave a component unfinished, its entry −∞, once its log-density is sure to lie more than
   *   `prune` nats below the point's best (`diagPrune`, `fullPrune`; every other entry bit-identical). Infinity
   *   (the default) finishes every entry.
   */
  logProb(x: ArrayLike<number>, start: number, nb: number, LP: Float64Array, prune = Infinity): void {
    const { K, D, layout } = this;
    const f = this.f64;
    const nbp = (nb + 3) & ~3;
    this.copyBlock(x, start, nb);
    if (this.kind.simd === 'variances') {
      const P = Math.ceil(K / 2);
      if (this.pruning(prune)) {
        const work = this.fns.diagPrune(P, D, nbp, layout.x, layout.mp, layout.pp, layout.lc, layout.lp, layout.q, layout.best, layout.lim, PRUNE_CHUNK, prune);
        // checked one pair at a time, at about half the speed of diag's tiles: they pay while the other pairs take
        // less than a third of the coordinates diag would
        this.paid(work * 3 <= nbp * (P - 1) * Math.max(0, D - PRUNE_CHUNK));
      } else this.fns.diag(P, D, nbp, layout.x, layout.mp, layout.pp, layout.lc, layout.lp);
      const stride = 2 * P;
      const base = layout.lp / 8;
      for (let i = 0; i < nb; i++) for (let k = 0; k < K; k++) LP[i * K + k] = f[base + i * stride + k];
    } else {
      const stride = this.kind.shared ? 0 : D * D * 8;
      if (this.pruning(prune)) {
        // the first quarter of the rows (a sixteenth of the work) before the check, an even count
        const rows = Math.max(8, 2 * Math.ceil(D / 8));
        const finished = this.fns.fullPrune(K, D, nbp, layout.x, layout.mp, layout.pp, stride, layout.lc, layout.lp, layout.diff, layout.q, layout.idx, layout.best, layout.qs, rows, prune);
        // the check pays while most entries beside a point's best stop early (each finished one is gathered again)
        this.paid(finished * 2 <= nbp * (K - 1));
      } else this.fns.full(K, D, nbp, layout.x, layout.mp, layout.pp, stride, layout.lc, layout.lp, layout.diff, layout.qs);
      LP.set(f.subarray(layout.lp / 8, layout.lp / 8 + nb * K));
    }
  }
}
