/**
 * The compiled WebAssembly kernels (`simd/kernels.as.ts`, built by `asc` into `simd/kernels.wasm` beside this
 * module), loaded once at first use: the E-step kernels (`simd.ts`) and the factorisations (`simdFactor.ts`) each
 * instantiate it with their own memory. No native addon, nothing downloaded at install; without WebAssembly SIMD,
 * without `kernels.wasm`, or with `EMSTREAM_SIMD=0`, the JavaScript kernels run (the same results).
 *
 * @module
 */
import { readFileSync } from 'node:fs';

/** The compiled kernels, next to this module (built from `simd/kernels.as.ts`). */
export const KERNELS_URL = new URL('./simd/kernels.wasm', import.meta.url);

/** Every function the modules of this directory call: a `kernels.wasm` built from older sources lacks some, and is not used. */
const KERNEL_EXPORTS = ['diag', 'diagPrune', 'full', 'fullPrune', 'outer4', 'centre', 'diagAcc', 'chol', 'invLower'];

/** The part of the WebAssembly JS API used here (the project's TypeScript libs do not declare it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
export interface WasmApi {
  Module: { new (bytes: Uint8Array): object; exports(module: object): { name: string }[] };
  Instance: new (module: object, imports: object) => { exports: unknown };
  Memory: new (descriptor: { initial: number }) => WasmMemory;
}
/** The runtime's WebAssembly API, if any. */
export const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: object | null | undefined;
let unavailable = '';

/** The compiled module (compiled once), or null when the kernels cannot run here ({@link simdStatus} says why). */
export function wasmModule(): object | null {
  if (compiled === undefined) {
    compiled = null;
    if (process.env.EMSTREAM_SIMD === '0') unavailable = 'EMSTREAM_SIMD=0';
    else if (wasm === undefined) unavailable = 'no WebAssembly in this runtime';
    else {
      let bytes: Uint8Array | null = null;
      try {
        bytes = readFileSync(KERNELS_URL);
      } catch {
        unavailable = `${KERNELS_URL.pathname} is missing (built by npm run build, or by the test setup from simd/kernels.as.ts)`;
      }
      if (bytes !== null) {
        try {
          compiled = new wasm.Module(bytes);
        } catch (err) {
          unavailable = `WebAssembly SIMD is not supported here (${(err as Error).message})`;
        }
        if (compiled !== null) {
          const missing = missingKernels(compiled);
          if (missing.length > 0) {
            compiled = null;
            unavailable = `${KERNELS_URL.pathname} is out of date (it lacks ${missing.join(', ')}): rebuild it with npm run build`;
          }
        }
      }
    }
  }
  return compiled;
}

/**
 * Whether the WebAssembly SIMD kernels run in this process, and why not when they do not (then the
 * JavaScript kernels do, with the same results).
 */
export function simdStatus(): { readonly available: boolean; readonly reason: string } {
  const m = wasmModule();
  return { available: m !== null, reason: m !== null ? '' : unavailable };
}

/** The kernels a compiled module lacks (an old `kernels.wasm` lacks those added since it was built). */
export function missingKernels(module: object): string[] {
  const have = new Set((wasm?.Module.exports(module) ?? []).map((e) => e.name));
  return KERNEL_EXPORTS.filter((name) => !have.has(name));
}
