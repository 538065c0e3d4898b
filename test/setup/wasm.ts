/**
 * Vitest global setup (and `npm run bench`'s first step): compiles the AssemblyScript kernels
 * (`src/gmm/simd/kernels.as.ts`, options in `src/gmm/simd/asconfig.json`) with `asc` into
 * `src/gmm/simd/kernels.wasm`, beside `simd.ts`, which loads it, when that file is missing or older than
 * its sources (`buildKernels` of `src/devtools/build.ts`, which `npm run build` uses for `dist`). So the tests
 * run the WebAssembly kernels from the sources exactly as `dist` ships them; the .wasm is never committed.
 *
 * @module
 */
import { buildKernels } from '../../src/devtools/build.js';

export { buildKernels };

export default async function setup(): Promise<void> {
  if (await buildKernels()) console.log('[wasm] compiled src/gmm/simd/kernels.as.ts');
}
