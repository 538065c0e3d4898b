/**
 * The package as a user gets it: `npm pack` (which builds through `prepare`), the tarball installed into a
 * fresh project, every subpath of package.json `exports` imported there, and the `emstream` bin run through
 * `npx`. A broken `exports`, `files` or `bin` fails here, not in a user's project.
 *
 * Offline-friendly: the temporary project gets a lockfile holding the repository lockfile's production
 * entries, so npm installs exactly the tested dependency versions from its cache (`--prefer-offline`) and
 * needs the network only for what the cache lacks. Child processes run on the Node running this test.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GaussianMixture } from '../../src/gmm/model.js';
import * as sourceEntry from '../../src/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** npm, npx and `#!/usr/bin/env node` scripts resolve `node` from PATH: put this test's Node first. */
const childEnv = (): NodeJS.ProcessEnv => {
  const { EMSTREAM_DEBUG: _debug, ...env } = process.env;
  return { ...env, PATH: `${dirname(process.execPath)}${delimiter}${env.PATH ?? ''}`, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
};

/** Runs a command; resolves with its exit code and output (never rejects). */
function run(command: string, args: readonly string[], cwd: string): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: childEnv(), maxBuffer: 64 * 1024 * 1024, timeout: 240_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

type ExportTarget = string | null | { [condition: string]: ExportTarget } | ExportTarget[];

/** The file a Node `import` of an exports target loads (`import`, then `node`, then `default` condition). */
function importTarget(target: ExportTarget): string | undefined {
  if (typeof target === 'string') return target;
  if (target === null) return undefined;
  if (Array.isArray(target)) return target.map(importTarget).find((t) => t !== undefined);
  for (const condition of ['import', 'node', 'default']) {
    if (condition in target) return importTarget(target[condition]);
  }
  return undefined;
}

/** Every `types` condition of an exports target. */
function typesTargets(target: ExportTarget): string[] {
  if (target === null || typeof target === 'string') return [];
  if (Array.isArray(target)) return target.flatMap(typesTargets);
  return Object.entries(target).flatMap(([condition, t]) => (condition === 'types' && typeof t === 'string' ? [t] : typesTargets(t)));
}

/** All files under `dir`, as `./`-relative POSIX paths. */
async function listFiles(dir: string, base = dir): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(path, base)));
    else out.push(`./${relative(base, path).split(sep).join('/')}`);
  }
  return out;
}

/**
 * The import specifiers for package.json `exports`: each plain subpath as is; each `*` pattern expanded to the
 * files of the installed package its target matches (as Node matches it: `*` stands for any string).
 */
async function exportSpecifiers(name: string, exportsField: Record<string, ExportTarget>, installed: string): Promise<{ specifier: string; file: string }[]> {
  const files = await listFiles(installed);
  const out: { specifier: string; file: string }[] = [];
  for (const [subpath, target] of Object.entries(exportsField)) {
    const file = importTarget(target);
    if (file === undefined) continue; // a `null` target blocks the subpath
    const specifier = (sub: string): string => (sub === '.' ? name : `${name}/${sub.slice(2)}`);
    if (!subpath.includes('*')) {
      out.push({ specifier: specifier(subpath), file });
      continue;
    }
    const [before, after] = file.split('*');
    const matches = files.filter((f) => f.startsWith(before) && f.endsWith(after) && f.length >= before.length + after.length);
    expect(matches, `exports["${subpath}"] → ${file} matches no file in the package`).not.toHaveLength(0);
    for (const f of matches) out.push({ specifier: specifier(subpath.replace('*', f.slice(before.length, f.length - after.length))), file: f });
  }
  return out;
}

/** Two well-separated 2-D clusters of 40 points each, from a fixed linear congruential sequence. */
function twoClusters(): number[][] {
  let state = 2024;
  const u = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  return Array.from({ length: 80 }, (_, i) => {
    const [cx, cy] = i % 2 === 0 ? [0, 0] : [8, 5];
    return [Number((cx + 2 * u() - 1).toFixed(4)), Number((cy + 2 * u() - 1).toFixed(4))];
  });
}

interface PackageJson {
  name: string;
  main?: string;
  types?: string;
  bin?: Record<string, string>;
  exports: Record<string, ExportTarget>;
}

let work: string;
let project: string;
let installed: string;
let pkg: PackageJson;
let packed: { filename: string; files: { path: string }[] };

beforeAll(async () => {
  pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
  work = await mkdtemp(join(tmpdir(), 'emstream-pack-'));
  project = join(work, 'project');

  // 1. Pack (runs `prepare`, i.e. the build) into the temporary directory.
  const pack = await run('npm', ['pack', '--json', '--pack-destination', work], ROOT);
  expect(pack.code, pack.stderr).toBe(0);
  packed = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as (typeof packed)[])[0];
  const tarball = join(work, packed.filename);

  // 2. A fresh project depending on the tarball, locked to the repository's production dependency versions.
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; devOptional?: boolean }> };
  const dependencies = { [pkg.name]: `file:${tarball}` };
  const packages: Record<string, unknown> = { '': { name: 'emstream-pack-test', dependencies } };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path !== '' && entry.dev !== true && entry.devOptional !== true) packages[path] = entry;
  }
  await mkdir(project);
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'emstream-pack-test', private: true, type: 'module', dependencies }, null, 2));
  await writeFile(join(project, 'package-lock.json'), JSON.stringify({ name: 'emstream-pack-test', lockfileVersion: 3, requires: true, packages }, null, 2));

  // 3. Install it the way a user would (npm links the bin into node_modules/.bin).
  const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], project);
  expect(install.code, install.stderr).toBe(0);
  installed = join(project, 'node_modules', pkg.name);
}, 300_000);

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('the packed package, installed into a fresh project', () => {
  it('ships the built entry points, the bin and the type declarations that package.json names', async () => {
    const paths = new Set(packed.files.map((f) => `./${f.path}`));
    const named = [pkg.main, pkg.types, ...Object.values(pkg.bin ?? {}), ...Object.values(pkg.exports).flatMap((t) => [importTarget(t), ...typesTargets(t)])];
    for (const file of named) {
      if (file === undefined || file.includes('*')) continue;
      expect(paths.has(file.startsWith('./') ? file : `./${file}`), `${file} is named in package.json but not in the tarball`).toBe(true);
    }
    // Nothing from the sources or the tests leaks in beside the built output.
    expect([...paths].filter((p) => p.startsWith('./test/') || p.startsWith('./src/'))).toEqual([]);
  });

  it('imports the main entry and every subpath of exports (read from package.json), each with exports', async () => {
    const specifiers = await exportSpecifiers(pkg.name, pkg.exports, installed);
    expect(specifiers.map((s) => s.specifier)).toContain(pkg.name);
    const script = [
      'const specs = JSON.parse(process.argv[2]);',
      'const out = {};',
      'for (const { specifier, file } of specs) {',
      "  const ns = file.endsWith('.json') ? await import(specifier, { with: { type: 'json' } }) : await import(specifier);",
      '  out[specifier] = Object.keys(ns).sort();',
      '}',
      'console.log(JSON.stringify(out));',
    ].join('\n');
    await writeFile(join(project, 'imports.mjs'), script);
    const r = await run(process.execPath, ['imports.mjs', JSON.stringify(specifiers)], project);
    expect(r.code, r.stderr).toBe(0);
    const names = JSON.parse(r.stdout) as Record<string, string[]>;
    expect(Object.keys(names).sort()).toEqual(specifiers.map((s) => s.specifier).sort());
    for (const [specifier, keys] of Object.entries(names)) expect(keys, `${specifier} has no exports`).not.toHaveLength(0);
    // The built main entry is the current source's: the same export names as src/index.ts.
    expect(names[pkg.name]).toEqual(Object.keys(sourceEntry).sort());
    for (const { file } of specifiers) await expect(stat(join(installed, file))).resolves.toBeDefined();
  });

  it('ships the WebAssembly kernels compiled from the AssemblyScript sources, and loads them', async () => {
    expect(packed.files.map((f) => f.path)).toContain('dist/src/gmm/simd/kernels.wasm');
    await writeFile(join(project, 'simd.mjs'), "import { simdStatus } from 'emstream/core';\nconsole.log(JSON.stringify(simdStatus()));\n");
    const r = await run(process.execPath, ['simd.mjs'], project);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ available: true, reason: '' });
  });

  it('runs `npx emstream fit` on a small CSV: the report matches the in-process fit and the cluster means', async () => {
    const points = twoClusters();
    await writeFile(join(project, 'points.csv'), `x,y\n${points.map((p) => p.join(',')).join('\n')}\n`);
    // --no: never fetch a package called emstream from the registry if the bin link is missing.
    const r = await run('npx', ['--no', 'emstream', 'fit', 'points.csv', '-k', '2', '--seed', '3', '--tol', '1e-8'], project);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as { k: number; d: number; n: number; converged: boolean; means: number[][] };
    expect(report).toMatchObject({ k: 2, d: 2, n: 80, converged: true });

    const { model } = GaussianMixture.fit(points, { k: 2, seed: 3, tol: 1e-8 });
    const json = model.toJSON() as { means: number[][] };
    expect(report.means).toEqual(json.means);
    const sampleMean = (parity: number): number[] => {
      const rows = points.filter((_, i) => i % 2 === parity);
      return [0, 1].map((j) => rows.reduce((s, p) => s + p[j], 0) / rows.length);
    };
    const byX = [...report.means].sort((a, b) => a[0] - b[0]);
    [0, 1].forEach((c) => byX[c].forEach((v, j) => expect(v).toBeCloseTo(sampleMean(c)[j], 6)));
  });

  it('runs `npx emstream run --help`', async () => {
    const r = await run('npx', ['--no', 'emstream', 'run', '--help'], project);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^Usage: emstream run \[options\]/);
    expect(r.stdout).toContain('--brokers');
  });
});
