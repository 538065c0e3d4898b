/**
 * The package as a user gets it: `npm pack` (which builds through `prepare`), the tarball installed with rxjs
 * (its peer dependency) into a default `npm init -y` project (CommonJS), and an ES-module project beside it
 * (a `"type": "module"` package inside the first, resolving the same install). From each kind of project the
 * package is used by CommonJS `require`, by ESM `import`, and by a TypeScript file both compiled by `tsc` and
 * run by `tsx`; every subpath of `exports` loads both ways; the `emstream` bin runs through `npx`, and SIGTERM
 * sent to `npx emstream run` stops the pipeline (npx's `sh -c` does not pass it on). A broken `exports`,
 * `files`, `bin`, peer dependency or type declaration fails here, not in a user's project.
 *
 * Offline-friendly and one install: the project gets a lockfile holding the repository lockfile's entries for the
 * package's dependencies and rxjs, so npm installs exactly the tested versions from its cache (`--prefer-offline`);
 * TypeScript, tsx and @types/node come from the repository. Child processes run on the Node running this test.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GaussianMixture } from '../../src/gmm/model.js';
import * as sourceEntry from '../../src/index.js';
import { kafkaBrokers } from '../helpers/kafka.js';
import { produceAll, readTopic, testKafka, uniqueTopic, waitFor } from '../kafka/helpers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TSC = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const TSX = join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** npm, npx and `#!/usr/bin/env node` scripts resolve `node` from PATH: put this test's Node first. */
const childEnv = (): NodeJS.ProcessEnv => {
  const { EMSTREAM_DEBUG: _debug, NODE_OPTIONS: _options, ...env } = process.env;
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

/** Runs a Node script (this test's Node) and expects it to succeed silently on stderr; returns its stdout. */
async function node(args: readonly string[], cwd: string): Promise<string> {
  const r = await run(process.execPath, args, cwd);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  expect(r.stderr, args.join(' ')).toBe(''); // no ExperimentalWarning, no stack trace
  return r.stdout;
}

type ExportTarget = string | null | { [condition: string]: ExportTarget } | ExportTarget[];

/** The file Node loads for an exports target under the given conditions (in the target's key order). */
function resolveTarget(target: ExportTarget, conditions: readonly string[]): string | undefined {
  if (typeof target === 'string') return target;
  if (target === null) return undefined;
  if (Array.isArray(target)) return target.map((t) => resolveTarget(t, conditions)).find((t) => t !== undefined);
  for (const [condition, t] of Object.entries(target)) if (conditions.includes(condition)) return resolveTarget(t, conditions);
  return undefined;
}
const importTarget = (t: ExportTarget): string | undefined => resolveTarget(t, ['import', 'node', 'default']);
const requireTarget = (t: ExportTarget): string | undefined => resolveTarget(t, ['require', 'node', 'default']);

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
 * The specifiers for package.json `exports`: each plain subpath as is; each `*` pattern expanded to the
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
  dependencies: Record<string, string>;
  peerDependencies?: Record<string, string>;
  files?: string[];
}

interface LockEntry {
  version?: string;
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

/**
 * The lockfile entries a project needs for these top-level packages: each package and, recursively, its
 * dependencies, found where npm's layout puts them (nested `node_modules` first, then up to the top).
 */
function lockClosure(packages: Record<string, LockEntry>, roots: readonly string[]): Record<string, LockEntry> {
  const out: Record<string, LockEntry> = {};
  const visit = (from: string, name: string): void => {
    for (let base = from; ; base = base.includes('/node_modules/') ? base.slice(0, base.lastIndexOf('/node_modules/')) : '') {
      const path = `${base === '' ? '' : `${base}/`}node_modules/${name}`;
      const entry = packages[path];
      if (entry !== undefined) {
        if (path in out) return;
        const { dev: _dev, devOptional: _devOptional, peer: _peer, ...kept } = entry;
        out[path] = kept;
        for (const dep of Object.keys({ ...entry.dependencies, ...entry.optionalDependencies })) visit(path, dep);
        return;
      }
      if (base === '') throw new Error(`the repository lockfile has no entry for ${name} (needed from ${from || 'the project'})`);
    }
  };
  for (const name of roots) visit('', name);
  return out;
}

/** What the apps below print: the same in every module kind and every way of loading. */
const APP_OUTPUT = { labels: [0, 1, 0, 1], windows: 2, simd: true, broker: 'function', sameRxjs: true, offThread: true };

/**
 * The app, as a user writes it in each kind of file: a batch fit, the operators in an RxJS pipeline built with
 * the app's own rxjs, the `core` and `broker` subpaths. `load(x)` is `require(x)` or `await import(x)`.
 */
function appSource(kind: 'require' | 'import'): string {
  const load = (what: string, from: string): string => (kind === 'require' ? `const ${what} = require('${from}');` : `import ${what.startsWith('{') ? what : `* as ${what}`} from '${from}';`);
  return [
    load('{ GaussianMixture, windowVectors, fitMixture }', 'emstream'),
    load('{ simdStatus }', 'emstream/core'),
    load('broker', 'emstream/broker'),
    load('{ from, lastValueFrom, toArray, Observable }', 'rxjs'),
    ...body(false),
  ].join('\n');
}

/** The statements after the imports (`typed`: TypeScript annotations). */
function body(typed: boolean): string[] {
  const t = (annotation: string): string => (typed ? annotation : '');
  return [
    `const points${t(': number[][]')} = [[0, 0], [0, 1], [1, 0], [9, 9], [9, 8], [8, 9], [1, 1], [8, 8]];`,
    'const { model } = GaussianMixture.fit(points, { k: 2, seed: 1 });',
    'const labels = Array.from(model.predict([[0, 0], [9, 9], [0.5, 0.5], [8.5, 8.5]]));',
    'const first = labels[0];',
    'const windows$ = from(points).pipe(windowVectors({ size: 4 }));',
    'const updates$ = windows$.pipe(fitMixture({ k: 2, seed: 1 }), toArray());',
    'const offThread$ = windows$.pipe(fitMixture({ k: 2, seed: 1, offThread: true }), toArray()); // the shipped worker thread',
    `const same = (a${t(': { labels: Int32Array }[]')}, b${t(': { labels: Int32Array }[]')}) => JSON.stringify(a.map((u) => Array.from(u.labels))) === JSON.stringify(b.map((u) => Array.from(u.labels)));`,
    'Promise.all([lastValueFrom(updates$), lastValueFrom(offThread$)]).then(([updates, elsewhere]) => {',
    '  console.log(JSON.stringify({',
    '    labels: labels.map((l) => (l === first ? 0 : 1)),',
    '    windows: updates.length,',
    '    simd: simdStatus().available,',
    '    broker: typeof broker.startLocalKafka,',
    '    sameRxjs: windows$ instanceof Observable, // the operator built its Observable with the app’s rxjs',
    '    offThread: elsewhere.length === 2 && same(updates, elsewhere),',
    '  }));',
    '});',
  ];
}

let work: string;
let project: string;
let esm: string;
let installed: string;
let pkg: PackageJson;
let packed: { filename: string; files: { path: string }[] };

beforeAll(async () => {
  pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as PackageJson;
  work = await mkdtemp(join(tmpdir(), 'emstream-pack-'));
  project = join(work, 'app');
  esm = join(project, 'esm');

  // 1. Pack (runs `prepare`, i.e. the build) into the temporary directory.
  const pack = await run('npm', ['pack', '--json', '--pack-destination', work], ROOT);
  expect(pack.code, pack.stderr).toBe(0);
  packed = (JSON.parse(pack.stdout.slice(pack.stdout.indexOf('['))) as (typeof packed)[])[0];
  const tarball = join(work, packed.filename);

  // 2. A default project (`npm init -y`), depending on the tarball and on rxjs, locked to the repository's versions.
  await mkdir(project);
  const init = await run('npm', ['init', '-y'], project);
  expect(init.code, init.stderr).toBe(0);
  const appPkg = JSON.parse(await readFile(join(project, 'package.json'), 'utf8')) as Record<string, unknown>;
  expect(appPkg.type ?? 'commonjs').toBe('commonjs');
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const peers = Object.keys(pkg.peerDependencies ?? {});
  const closure = lockClosure(lock.packages, [...Object.keys(pkg.dependencies), ...peers]);
  const dependencies: Record<string, string> = { [pkg.name]: `file:${tarball}` };
  for (const peer of peers) dependencies[peer] = closure[`node_modules/${peer}`].version!;
  await writeFile(join(project, 'package.json'), JSON.stringify({ ...appPkg, dependencies }, null, 2));
  const packages = { '': { name: appPkg.name, version: appPkg.version, dependencies }, ...closure };
  await writeFile(join(project, 'package-lock.json'), JSON.stringify({ name: appPkg.name, version: appPkg.version, lockfileVersion: 3, requires: true, packages }, null, 2));

  // 3. Install it the way a user would (npm links the bin into node_modules/.bin).
  const install = await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], project);
  expect(install.code, install.stderr).toBe(0);
  installed = join(project, 'node_modules', pkg.name);

  // 4. The ES-module project: a "type": "module" package inside the first, using its install.
  await mkdir(esm);
  await writeFile(join(esm, 'package.json'), JSON.stringify({ name: 'esm-app', version: '1.0.0', private: true, type: 'module' }, null, 2));
}, 300_000);

afterAll(async () => {
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships the built entry points, the bin, the type declarations and the LICENSE, and nothing else of the repository', async () => {
    const paths = new Set(packed.files.map((f) => `./${f.path}`));
    const named = [
      pkg.main,
      pkg.types,
      ...Object.values(pkg.bin ?? {}),
      ...Object.values(pkg.exports).flatMap((t) => [importTarget(t), requireTarget(t), ...typesTargets(t)]),
    ];
    for (const file of named) {
      if (file === undefined || file.includes('*')) continue;
      expect(paths.has(file.startsWith('./') ? file : `./${file}`), `${file} is named in package.json but not in the tarball`).toBe(true);
    }
    expect(paths.has('./LICENSE')).toBe(true);
    expect(await readFile(join(installed, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    // Nothing from the sources or the tests leaks in beside the built output, nor the build's bookkeeping.
    expect([...paths].filter((p) => p.startsWith('./test/') || p.startsWith('./src/') || p.endsWith('.tsbuildinfo'))).toEqual([]);
  });

  it('ships no source map naming a file it does not ship', async () => {
    const paths = new Set(packed.files.map((f) => f.path));
    for (const map of [...paths].filter((p) => p.endsWith('.map'))) {
      const { sources, sourceRoot } = JSON.parse(await readFile(join(installed, map), 'utf8')) as { sources: string[]; sourceRoot?: string };
      for (const source of sources) {
        const path = join(dirname(map), sourceRoot ?? '', source).split(sep).join('/');
        expect(paths.has(path), `${map} names ${source}, which is not in the package`).toBe(true);
      }
    }
  });

  it('has types, import, require and default conditions for every subpath; rxjs is a peer dependency, installed once', async () => {
    for (const [subpath, target] of Object.entries(pkg.exports)) {
      if (subpath === './package.json') continue;
      expect(Object.keys(target as object), subpath).toEqual(['types', 'import', 'require', 'default']);
    }
    expect(pkg.dependencies.rxjs).toBeUndefined();
    expect(pkg.peerDependencies?.rxjs).toMatch(/^\^7\./);
    await expect(stat(join(installed, 'node_modules', 'rxjs'))).rejects.toThrow(/ENOENT/);
    const resolved = await node(['-p', `require.resolve('rxjs', { paths: [${JSON.stringify(installed)}] }) === require.resolve('rxjs')`], project);
    expect(resolved.trim()).toBe('true');
  });
});

describe('installed into a default (CommonJS) project and an ES-module project', () => {
  it('loads the main entry and every subpath of exports by import and by require, with the same exports', async () => {
    const specifiers = await exportSpecifiers(pkg.name, pkg.exports, installed);
    expect(specifiers.map((s) => s.specifier)).toContain(pkg.name);
    const load = (how: 'import' | 'require'): string =>
      [
        'const specs = JSON.parse(process.argv[2]);',
        'const out = {};',
        how === 'import' ? '(async () => {' : '{',
        '  for (const { specifier, file } of specs) {',
        how === 'import'
          ? "    const ns = file.endsWith('.json') ? await import(specifier, { with: { type: 'json' } }) : await import(specifier);"
          : '    const ns = require(specifier);',
        '    out[specifier] = Object.keys(ns).filter((k) => k !== "module.exports" && k !== "__esModule").sort();',
        '  }',
        '  console.log(JSON.stringify(out));',
        how === 'import' ? '})();' : '}',
      ].join('\n');
    await writeFile(join(project, 'imports.mjs'), load('import'));
    await writeFile(join(project, 'requires.js'), load('require')); // CommonJS: the project's type
    await writeFile(join(esm, 'requires.cjs'), load('require'));
    const json = JSON.stringify(specifiers);
    const [imported, required, requiredFromEsm] = await Promise.all([
      node(['imports.mjs', json], project),
      node(['requires.js', json], project),
      node(['requires.cjs', json], esm),
    ]);
    const names = JSON.parse(imported) as Record<string, string[]>;
    expect(Object.keys(names).sort()).toEqual(specifiers.map((s) => s.specifier).sort());
    for (const [specifier, keys] of Object.entries(names)) expect(keys, `${specifier} has no exports`).not.toHaveLength(0);
    // The built main entry is the current source's: the same export names as src/index.ts.
    expect(names[pkg.name]).toEqual(Object.keys(sourceEntry).sort());
    // require() gives the same module (Node ≥ 22.12 loads the ES module; package.json as JSON).
    const viaRequire = JSON.parse(required) as Record<string, string[]>;
    for (const { specifier } of specifiers) {
      if (specifier.endsWith('package.json')) expect(viaRequire[specifier]).toEqual(expect.arrayContaining(['name', 'version', 'exports']));
      else expect(viaRequire[specifier], specifier).toEqual(names[specifier]);
    }
    expect(JSON.parse(requiredFromEsm)).toEqual(viaRequire);
    for (const { file } of specifiers) await expect(stat(join(installed, file))).resolves.toBeDefined();
  });

  it('runs the same app by require and by import, from each kind of project', async () => {
    await writeFile(join(project, 'app.js'), appSource('require'));
    await writeFile(join(project, 'app.mjs'), appSource('import'));
    await writeFile(join(esm, 'app.js'), appSource('import'));
    await writeFile(join(esm, 'app.cjs'), appSource('require'));
    const outputs = await Promise.all([node(['app.js'], project), node(['app.mjs'], project), node(['app.js'], esm), node(['app.cjs'], esm)]);
    for (const out of outputs) expect(JSON.parse(out)).toEqual(APP_OUTPUT);
  });

  it('a TypeScript file compiles with tsc (strict, module nodenext) in both kinds of project, runs as compiled and by tsx', async () => {
    const source = [
      "import { GaussianMixture, windowVectors, fitMixture, type FitOptions, type MixtureUpdate } from 'emstream';",
      "import { simdStatus } from 'emstream/core';",
      "import * as broker from 'emstream/broker';",
      "import { from, lastValueFrom, toArray, Observable } from 'rxjs';",
      ...body(true).map((l) => l.replace('{ k: 2, seed: 1 });', '{ k: 2, seed: 1 } satisfies FitOptions);').replace('.then((updates) =>', '.then((updates: MixtureUpdate<number[]>[]) =>')),
    ].join('\n');
    // A type error the declarations must catch (k is a number): proves the types are emstream's, not `any`.
    const wrong = "import { GaussianMixture } from 'emstream';\nGaussianMixture.fit([[0]], { k: '2' });\n";
    await writeFile(join(project, 'typed.ts'), source);
    await writeFile(join(esm, 'typed.ts'), source);
    await writeFile(join(project, 'wrong.ts'), wrong);
    const compilerOptions = { module: 'nodenext', target: 'es2022', strict: true, skipLibCheck: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')] };
    await writeFile(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['typed.ts', 'esm/typed.ts'] }, null, 2));
    await writeFile(join(project, 'tsconfig.wrong.json'), JSON.stringify({ compilerOptions: { ...compilerOptions, noEmit: true }, files: ['wrong.ts'] }, null, 2));
    const [tsc, wrongTsc] = await Promise.all([run(process.execPath, [TSC, '-p', 'tsconfig.json'], project), run(process.execPath, [TSC, '-p', 'tsconfig.wrong.json'], project)]);
    expect(tsc.code, tsc.stdout + tsc.stderr).toBe(0);
    expect(wrongTsc.code).not.toBe(0);
    expect(wrongTsc.stdout).toMatch(/wrong\.ts\(2,\d+\): error TS2322: Type 'string' is not assignable to type 'number'/);
    // tsc wrote CommonJS for the default project and an ES module for the other, each by its package.json.
    expect(await readFile(join(project, 'typed.js'), 'utf8')).toContain('require("emstream")');
    expect(await readFile(join(esm, 'typed.js'), 'utf8')).toMatch(/^import .* from 'emstream';/m);
    const outputs = await Promise.all([node(['typed.js'], project), node(['typed.js'], esm), node([TSX, 'typed.ts'], project), node([TSX, 'typed.ts'], esm)]);
    for (const out of outputs) expect(JSON.parse(out)).toEqual(APP_OUTPUT);
  });

  it('under the configuration `tsc --init` writes (verbatimModuleSyntax), a CommonJS file imports it with import = require', async () => {
    const dir = join(project, 'tsinit');
    await mkdir(dir);
    const init = await run(process.execPath, [TSC, '--init'], dir);
    expect(init.code, init.stdout).toBe(0);
    expect(await readFile(join(dir, 'tsconfig.json'), 'utf8')).toMatch(/"verbatimModuleSyntax": true/);
    await writeFile(
      join(dir, 'app.ts'),
      [
        "import emstream = require('emstream');",
        'const { model } = emstream.GaussianMixture.fit([[0, 0], [0, 1], [9, 9], [9, 8]], { k: 2, seed: 1 });',
        'console.log(JSON.stringify(Array.from(model.predict([[0, 0], [9, 9]]))));',
      ].join('\n'),
    );
    const tsc = await run(process.execPath, [TSC, '-p', '.'], dir);
    expect(tsc.code, tsc.stdout + tsc.stderr).toBe(0);
    const labels = JSON.parse(await node(['app.js'], dir)) as number[];
    expect(labels[0]).not.toBe(labels[1]);
  });
});

describe('the emstream bin through npx', () => {
  it('runs `npx emstream fit` on a small CSV: the report matches the in-process fit and the cluster means', async () => {
    const points = twoClusters();
    await writeFile(join(project, 'points.csv'), `x,y\n${points.map((p) => p.join(',')).join('\n')}\n`);
    // --no: never fetch a package called emstream from the registry if the bin link is missing.
    const r = await run('npx', ['--no', 'emstream', 'fit', 'points.csv', '-k', '2', '--seed', '3', '--tol', '1e-8'], project);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const report = JSON.parse(r.stdout) as { k: number; d: number; n: number; converged: boolean; model: { means: number[][] } };
    expect(report).toMatchObject({ k: 2, d: 2, n: 80, converged: true });

    const { model } = GaussianMixture.fit(points, { k: 2, seed: 3, tol: 1e-8 });
    const json = model.toJSON() as { means: number[][] };
    expect(report.model.means).toEqual(json.means);
    const sampleMean = (parity: number): number[] => {
      const rows = points.filter((_, i) => i % 2 === parity);
      return [0, 1].map((j) => rows.reduce((s, p) => s + p[j], 0) / rows.length);
    };
    const byX = [...report.model.means].sort((a, b) => a[0] - b[0]);
    [0, 1].forEach((c) => byX[c].forEach((v, j) => expect(v).toBeCloseTo(sampleMean(c)[j], 6)));
  });

  it('runs `npx emstream run --help` and `npx -- emstream -v` (without `--`, npx answers -v itself)', async () => {
    const [help, version] = await Promise.all([run('npx', ['--no', 'emstream', 'run', '--help'], project), run('npx', ['--no', '--', 'emstream', '-v'], project)]);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: emstream run \[options\]/);
    expect(help.stdout).toContain('--brokers');
    expect(version.stdout.trim()).toBe((JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('kill -TERM on `npx emstream run` stops the pipeline gracefully (no orphan), though npx’s shell does not pass SIGTERM on', async () => {
    const input = uniqueTopic('npx-sigterm');
    const kafka = testKafka();
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: input, numPartitions: 1 }], waitForLeaders: true });
    await produceAll(kafka, input, Array.from({ length: 200 }, (_, i) => ({ value: JSON.stringify([i % 2 === 0 ? 0 : 8, (i * 37) % 11]) })));
    const child = spawn('npx', ['--no', 'emstream', 'run', '--brokers', kafkaBrokers().join(','), '--input', input, '-k', '2', '--window', '50', '--from-beginning'], {
      cwd: project,
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const npxExited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    let pipelinePid: number | undefined;
    try {
      // Every input labelled, then npx gets SIGTERM.
      await waitFor(async () => (await admin.listTopics()).includes(`${input}.labels`), 60_000, 'the pipeline to create its labels topic');
      await readTopic(kafka, `${input}.labels`, 200);
      // npx (npm) → sh -c → node: the pipeline is the node process running the bin with this run's unique topic.
      const ps = await run('ps', ['-e', '-o', 'pid=,args='], project);
      const line = ps.stdout.split('\n').find((l) => l.includes(input) && l.includes('.bin/emstream') && !/^\s*\d+\s+(npm|sh)\b/.test(l));
      expect(line, ps.stdout).toBeDefined();
      pipelinePid = Number(line!.trim().split(/\s+/)[0]);
      expect(pipelinePid).not.toBe(child.pid);
      process.kill(child.pid!, 'SIGTERM');
      await npxExited;
      const alive = (): boolean => {
        try {
          process.kill(pipelinePid!, 0);
          return true;
        } catch {
          return false;
        }
      };
      await waitFor(() => !alive(), 30_000, 'the pipeline process to exit after SIGTERM to npx');
      await waitFor(() => stdout.includes('"consumed"'), 5000, 'the final counters on stdout');
      expect(stderr).toContain('SIGTERM: stopping gracefully');
      expect(JSON.parse(stdout.trim().split('\n').pop()!)).toMatchObject({ consumed: 200 });
    } finally {
      if (pipelinePid !== undefined) {
        try {
          process.kill(pipelinePid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      child.kill('SIGKILL');
      await admin.disconnect();
    }
  }, 120_000);
});
