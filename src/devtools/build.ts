/**
 * `npm run build` (also run by `npm start` and `prepare`): compiles what is out of date, and nothing else, so
 * `npm start` on a current `dist` starts the demo at once.
 *
 * 1. `tsc -b tsconfig.build.json`: TypeScript's build mode compares the sources, the configuration and `dist`
 *    (through `dist/.tsbuildinfo`) and compiles only when something changed (well under a second when nothing
 *    did, about 5 s otherwise);
 * 2. {@link buildKernels}: the AssemblyScript kernels (`src/gmm/simd/kernels.as.ts`) into
 *    `dist/src/gmm/simd/kernels.wasm`, when that file is missing or older than its sources.
 *
 * A development tool: not part of the package (`tsconfig.build.json` leaves it out), run by `tsx`.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, realpathSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = new URL('../../', import.meta.url);
const simd = new URL('src/gmm/simd/', root);
const kernelSources = ['kernels.as.ts', 'asconfig.json'].map((f) => fileURLToPath(new URL(f, simd)));

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
 * @param out - the .wasm file (default: beside `src/gmm/simd/simd.ts`, where the sources load it from)
 * @returns whether it compiled
 * @throws Error with asc's diagnostics when the compilation fails
 */
export async function buildKernels(out = fileURLToPath(new URL('kernels.wasm', simd))): Promise<boolean> {
  const built = mtime(out);
  if (built >= 0 && kernelSources.every((s) => mtime(s) <= built)) return false;
  const asc = (await import('assemblyscript/asc')).default;
  let binary: Uint8Array | null = null;
  const errors: string[] = [];
  const { error } = await asc.main(['--config', kernelSources[1], '--outFile', 'kernels.wasm'], {
    writeFile(name, contents) {
      if (name.endsWith('.wasm') && typeof contents !== 'string') binary = contents;
    },
    stdout: { write: () => true } as never,
    stderr: { write: (s: string | Uint8Array) => (errors.push(String(s)), true) } as never,
  });
  if (error !== null || binary === null) throw new Error(`asc could not compile ${kernelSources[0]}: ${error?.message ?? 'no binary'}\n${errors.join('')}`);
  const tmp = `${out}.${process.pid}.tmp`;
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(tmp, binary);
  renameSync(tmp, out);
  return true;
}

/**
 * Builds `dist`: `tsc -b` (a no-op when it is current), then the kernels when stale.
 *
 * @returns the exit code (tsc's when it failed)
 */
export async function build(): Promise<number> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const compiled = spawnSync(process.execPath, [tsc, '-b', 'tsconfig.build.json'], { cwd: fileURLToPath(root), stdio: 'inherit' });
  if (compiled.status !== 0) return compiled.status ?? 1;
  await buildKernels(fileURLToPath(new URL('dist/src/gmm/simd/kernels.wasm', root)));
  return 0;
}

const entry = process.argv[1];
if (entry !== undefined && realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url))) process.exitCode = await build();
