/**
 * The Cholesky factor and the inverse of a lower-triangular matrix in WebAssembly SIMD (`chol` and `invLower` of
 * `simd/kernels.as.ts`), for `cholesky` and `precisionFactor` in linalg.ts from D = {@link MIN_SIMD_FACTOR_D}: the
 * factorisations of a window's fit (every M-step's K covariances, the per-component tests, the model distance)
 * were a quarter of its time at D = 64 in JavaScript. Bit-identical to the JavaScript loops (each sum takes its
 * terms in the same order; tested), which stay the reference and the fallback.
 *
 * Per call the matrix is copied into the module's memory and the result out (O(D²) against O(D³) work).
 *
 * @module
 */
import { wasm, wasmModule, type WasmApi, type WasmMemory } from './wasm.js';

interface FactorExports {
  chol(D: number, A: number, L: number, LT: number): number;
  invLower(D: number, L: number, OUT: number): void;
}

/** From this dimension the WebAssembly factorisations run (below it the copies cost more than they save). */
export const MIN_SIMD_FACTOR_D = 12;

/** The factorisation kernels of this thread: one instance of the module, its memory holding A, L, Lᵀ and L⁻¹. */
export class SimdFactor {
  private readonly memory: WasmMemory;
  private readonly fns: FactorExports;
  private f64: Float64Array;

  private constructor(api: WasmApi, module: object) {
    this.memory = new api.Memory({ initial: 1 });
    this.fns = new api.Instance(module, { env: { memory: this.memory } }).exports as unknown as FactorExports;
    this.f64 = new Float64Array(this.memory.buffer);
  }

  /** Room for four D×D matrices. */
  private ensure(d: number): void {
    const bytes = 4 * d * d * 8;
    const have = this.memory.buffer.byteLength;
    if (bytes > have) this.memory.grow(Math.ceil((bytes - have) / 65536));
    if (this.f64.buffer !== this.memory.buffer) this.f64 = new Float64Array(this.memory.buffer);
  }

  /** Copies the D×D matrix at `offset` of `a` into A and factors it into L (and Lᵀ); false when it is not positive definite or not finite. */
  private factor(a: ArrayLike<number>, d: number, offset: number): boolean {
    this.ensure(d);
    const dd = d * d;
    const f = this.f64;
    if (a instanceof Float64Array) f.set(a.subarray(offset, offset + dd), 0);
    else for (let i = 0; i < dd; i++) f[i] = a[offset + i];
    return this.fns.chol(d, 0, dd * 8, 2 * dd * 8) === 0;
  }

  /**
   * L with A = L·Lᵀ (as `cholesky`): A read at `offset` of `a`, L written to `out` (D×D, upper triangle zeroed).
   *
   * @returns false when A is not positive definite or not finite (`out` then undefined)
   */
  cholesky(a: ArrayLike<number>, d: number, offset: number, out: Float64Array): boolean {
    if (!this.factor(a, d, offset)) return false;
    out.set(this.f64.subarray(d * d, 2 * d * d));
    return true;
  }

  /**
   * W = L⁻¹ with Σ = L·Lᵀ (as `precisionFactor`): Σ read at `offset` of `cov`, W written at `outOffset` of `out`.
   *
   * @returns log det W = −Σ log L_ii, or null when Σ is not positive definite
   */
  precisionFactor(cov: Float64Array, d: number, offset: number, out: Float64Array, outOffset: number): number | null {
    if (!this.factor(cov, d, offset)) return null;
    const dd = d * d;
    const f = this.f64;
    this.fns.invLower(d, dd * 8, 3 * dd * 8);
    out.set(f.subarray(3 * dd, 4 * dd), outOffset);
    let logDet = 0;
    for (let i = 0; i < d; i++) logDet -= Math.log(f[dd + i * d + i]);
    return logDet;
  }

  /** This thread's kernels (one instance, made at first use), or null without WebAssembly SIMD (or with `EMSTREAM_SIMD=0`). */
  static get(): SimdFactor | null {
    if (instance === undefined) {
      const m = wasmModule();
      instance = m === null || wasm === undefined ? null : new SimdFactor(wasm, m);
    }
    return instance;
  }
}

let instance: SimdFactor | null | undefined;
