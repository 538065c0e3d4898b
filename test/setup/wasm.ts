/**
 * Vitest global setup (and `npm run bench`'s first step): compiles the AssemblyScript kernels
 * (`src/gmm/simd/kernels.as.ts`, options in `src/gmm/simd/asconfig.json`) with `asc` into
 * `src/gmm/simd/kernels.wasm`, beside `simd.ts`, which loads it, when that file is missing or older than
 * its sources. So the tests run the WebAssembly kernels from the sources exactly as `dist` ships them
 * (`npm run build` compiles the same sources into `dist/src/gmm/simd/kernels.wasm`); the .wasm is never
 * committed.
 *
 * @module
 */
import { renameSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = new URL('../../src/gmm/simd/', import.meta.url);
const sources = ['kernels.as.ts', 'asconfig.json'].map((f) => fileURLToPath(new URL(f, dir)));

function mtime(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

/**
 * Compiles the kernels into `out` unless it is newer than every source.
 *
 * 1. compare modification times (a missing output is stale);
 * 2. run `asc --config asconfig.json` through its API, the binary kept in memory;
 * 3. write it beside `out` and rename it into place (a concurrent reader never sees half a module).
 *
 * @returns whether it compiled
 * @throws Error with asc's diagnostics when the compilation fails
 */
export async function buildKernels(out = fileURLToPath(new URL('kernels.wasm', dir))): Promise<boolean> {
  const built = mtime(out);
  if (built >= 0 && sources.every((s) => mtime(s) <= built)) return false;
  const asc = (await import('assemblyscript/asc')).default;
  let binary: Uint8Array | null = null;
  const errors: string[] = [];
  const { error } = await asc.main(['--config', sources[1], '--outFile', 'kernels.wasm'], {
    writeFile(name, contents) {
      if (name.endsWith('.wasm') && typeof contents !== 'string') binary = contents;
    },
    stdout: { write: () => true } as never,
    stderr: { write: (s: string | Uint8Array) => (errors.push(String(s)), true) } as never,
  });
  if (error !== null || binary === null) throw new Error(`asc could not compile ${sources[0]}: ${error?.message ?? 'no binary'}\n${errors.join('')}`);
  const tmp = `${out}.${process.pid}.tmp`;
  writeFileSync(tmp, binary);
  renameSync(tmp, out);
  return true;
}

export default async function setup(): Promise<void> {
  if (await buildKernels()) console.log('[wasm] compiled src/gmm/simd/kernels.as.ts');
}
