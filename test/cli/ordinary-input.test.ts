/**
 * The CLI on ordinary input, as a newcomer meets it: stdin (`-`), quoted CSV, reader errors with file, line
 * and column counted from 1, the model printed once (a summary for large models), `-v`, scikit-learn-style
 * flags answered with the right one, and unwritable outputs refused at once. Every case spawns the real CLI.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GaussianMixture } from '../../src/gmm/model.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

/** Runs `emstream ...args` from the repository root, with `input` on stdin (stdin closed empty otherwise). */
function run(args: readonly string[], input = ''): Promise<RunResult> {
  const { EMSTREAM_DEBUG: _ignored, ...env } = process.env;
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: Date.now() - started }));
    child.stdin.end(input);
  });
}

/** A clean failure: the exit code, one `emstream:` line on stderr naming each fragment, nothing on stdout. */
function expectFailure(r: RunResult, code: number, ...fragments: string[]): void {
  const context = JSON.stringify(r);
  expect(r.code, context).toBe(code);
  expect(r.stdout, context).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, context).toHaveLength(1);
  for (const f of fragments) expect(lines[0], context).toContain(f);
  expect(r.stderr, context).not.toContain('    at ');
}

/** Two clusters in 2-D, 40 points, as rows of numbers. */
function points(): number[][] {
  let state = 7;
  const u = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  return Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? [u(), u()] : [6 + u(), 4 + u()]).map((x) => Number(x.toFixed(4))));
}

let dir: string;
const file = (name: string): string => join(dir, name);
const rows = points();
const csv = `x,y\n${rows.map((r) => r.join(',')).join('\n')}\n`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'emstream-ordinary-'));
  await writeFile(file('points.csv'), csv);
  await writeFile(file('quoted.csv'), `"x","y"\n${rows.map((r) => r.map((x) => `"${x}"`).join(',')).join('\n')}\n`);
  await writeFile(file('quoted-no-header.csv'), `${rows.map((r) => r.map((x) => `"${x}"`).join(',')).join('\n')}\n`);
  await writeFile(file('big.csv'), 'a,b\n1,2\n3,4\n1e200,5\n');
  // 3 components in 20 dimensions, full covariances: 3 + 60 + 1200 numbers, over the printing limit.
  const wide = Array.from({ length: 90 }, (_, i) => Array.from({ length: 20 }, (_, j) => ((i % 3) * 10 + Math.sin(i * 7 + j * 13)).toFixed(5)).join(','));
  await writeFile(file('wide.csv'), `${wide.join('\n')}\n`);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('emstream fit and label on ordinary input', () => {
  it('reads stdin with -: CSV sniffed, NDJSON sniffed or named by --format; the same fit as from the file', async () => {
    const ndjson = `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
    const [fromFile, fromStdin, fromNdjson, named] = await Promise.all([
      run(['fit', file('points.csv'), '-k', '2', '--seed', '1']),
      run(['fit', '-', '-k', '2', '--seed', '1'], csv),
      run(['fit', '-', '-k', '2', '--seed', '1'], ndjson),
      run(['fit', '-', '-k', '2', '--seed', '1', '--format', 'ndjson'], ndjson),
    ]);
    for (const r of [fromFile, fromStdin, fromNdjson, named]) expect(r.code, r.stderr).toBe(0);
    expect(fromStdin.stdout).toBe(fromFile.stdout);
    expect(fromNdjson.stdout).toBe(fromFile.stdout);
    expect(named.stdout).toBe(fromFile.stdout);
    expect(JSON.parse(fromFile.stdout)).toMatchObject({ k: 2, d: 2, n: 40 });
  });

  it('label - reads the data from stdin', async () => {
    await writeFile(file('model.json'), JSON.stringify(GaussianMixture.fit(rows, { k: 2, seed: 1 }).model.toJSON()));
    const [fromFile, fromStdin] = await Promise.all([run(['label', file('points.csv'), '-m', file('model.json')]), run(['label', '-', '-m', file('model.json')], csv)]);
    expect(fromStdin.code, fromStdin.stderr).toBe(0);
    expect(fromStdin.stdout).toBe(fromFile.stdout);
    expect(fromStdin.stdout.trimEnd().split('\n')).toHaveLength(40);
  });

  it('accepts quoted CSV numbers, under a quoted header or none', async () => {
    const [plain, quoted, bare] = await Promise.all([
      run(['fit', file('points.csv'), '-k', '2', '--seed', '1']),
      run(['fit', file('quoted.csv'), '-k', '2', '--seed', '1']),
      run(['fit', file('quoted-no-header.csv'), '-k', '2', '--seed', '1']),
    ]);
    expect(quoted.code, quoted.stderr).toBe(0);
    expect(quoted.stdout).toBe(plain.stdout);
    expect(bare.code, bare.stderr).toBe(0);
    expect(JSON.parse(bare.stdout)).toMatchObject({ n: 40 }); // the first row is data, not a header
  });

  it('reader errors name the file (or <stdin>), the line and the column, counted from 1', async () => {
    const [big, bigStdin, text, quote] = await Promise.all([
      run(['fit', file('big.csv'), '-k', '1']),
      run(['fit', '-', '-k', '1'], '1,2\n3,4\n5,-1e155\n'),
      run(['fit', '-', '-k', '1'], '[1,2]\n[3,"x"]\n'),
      run(['fit', '-', '-k', '1'], '1,2\n3,"4\n'),
    ]);
    expectFailure(big, 1, `${file('big.csv')}: line 4, column 1: "1e200" is too large`, 'at most 1e+150', 'scale the data');
    expectFailure(bigStdin, 1, '<stdin>: line 3, column 2: "-1e155" is too large');
    expectFailure(text, 1, '<stdin>: line 2, column 2: element is the string "x", not a number');
    expectFailure(quote, 1, '<stdin>: line 2, column 2: a quoted cell is not closed');
  });

  it('an unknown extension is refused with the way out (--format), which works', async () => {
    await writeFile(file('points.txt'), csv);
    const [refused, named] = await Promise.all([run(['fit', file('points.txt'), '-k', '2']), run(['fit', file('points.txt'), '-k', '2', '--format', 'csv'])]);
    expectFailure(refused, 1, 'unsupported file extension ".txt"', '--format csv|ndjson');
    expect(named.code, named.stderr).toBe(0);
  });
});

describe('emstream fit prints the model once', () => {
  it('small model: the report with the model, no copy of its parameters beside it', async () => {
    const r = await run(['fit', file('points.csv'), '-k', '2', '--seed', '1']);
    const report = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(Object.keys(report)).not.toContain('means');
    expect(Object.keys(report)).not.toContain('covariances');
    expect(Object.keys(report)).not.toContain('weights');
    expect(report.model).toEqual(GaussianMixture.fit(rows, { k: 2, seed: 1 }).model.toJSON());
    expect(r.stdout.split('"covariances"')).toHaveLength(2);
    expect(r.stderr).toBe('');
  });

  it('large model: a summary with a note on stderr; --json prints it all; -o writes it to the file only', async () => {
    const [summary, json, written] = await Promise.all([
      run(['fit', file('wide.csv'), '-k', '3', '--seed', '2']),
      run(['fit', file('wide.csv'), '-k', '3', '--seed', '2', '--json']),
      run(['fit', file('wide.csv'), '-k', '3', '--seed', '2', '-o', file('wide-model.json')]),
    ]);
    for (const r of [summary, json, written]) expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(summary.stdout) as Record<string, unknown>;
    expect(s.model).toBeUndefined();
    expect(s).toMatchObject({ k: 3, d: 20, n: 90, covarianceType: 'full' });
    expect((s.weights as number[]).length).toBe(3);
    expect(summary.stderr).toBe('emstream: the model (1263 numbers: k = 3, d = 20, full covariances) is summarised: write it with -o model.json, or print it with --json\n');
    const full = JSON.parse(json.stdout) as { model: { weights: number[] } };
    expect(full.model.weights).toEqual(s.weights);
    expect(json.stderr).toBe('');
    expect(written.stdout).toBe(summary.stdout);
    expect(written.stderr).toBe('');
    expect(JSON.parse(await readFile(file('wide-model.json'), 'utf8'))).toEqual(full.model);
  });
});

describe('emstream flags', () => {
  it('-v and --version print the version', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const [short, long] = await Promise.all([run(['-v']), run(['--version'])]);
    expect(short).toMatchObject({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    expect(long.stdout).toBe(short.stdout);
  });

  it('scikit-learn-style and misspelt flags name the right one (exit 2)', async () => {
    const data = file('points.csv');
    const cases: [string[], string][] = [
      [['fit', data, '-k', '2', '--max_iter', '5'], "unknown option '--max_iter', did you mean --max-iter?"],
      [['fit', data, '--n_components', '2'], "unknown option '--n_components', did you mean -k?"],
      [['fit', data, '-k', '2', '--random-state', '1'], "unknown option '--random-state', did you mean --seed?"],
      [['fit', data, '-k', '2', '--n-init', '3'], "unknown option '--n-init', did you mean --restarts?"],
      [['fit', data, '-k', '2', '--covariance_type', 'diag'], "unknown option '--covariance_type', did you mean --covariance?"],
      [['fit', data, '-k', '2', '--sed=4'], "unknown option '--sed', did you mean --seed?"],
      [['run', '--bootstrap-servers', '127.0.0.1:1', '--input', 'x', '-k', '2'], "unknown option '--bootstrap-servers', did you mean --brokers?"],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    results.forEach((r, i) => expectFailure(r, 2, cases[i][1], `(see emstream ${cases[i][0][0]} --help)`));
  });

  it('an unwritable --out or --output exits 2 at once, before reading or computing anything', async () => {
    const [demo, fit] = await Promise.all([
      run(['demo', '--out', '/proc/nope/x']),
      // The data file does not exist either: the output is checked first.
      run(['fit', file('missing.csv'), '-k', '2', '-o', '/proc/nope/model.json']),
    ]);
    expectFailure(demo, 2, 'cannot write to --out /proc/nope/x', 'give a directory you can write');
    expect(demo.ms).toBeLessThan(30_000); // it used to hang for ever in Node's recursive mkdir
    expectFailure(fit, 2, 'cannot write --output /proc/nope/model.json');
  });
});

describe('the README example of stdin', () => {
  it('emstream fit - < file and a pipe give the same report', async () => {
    const shell = await new Promise<string>((resolve, reject) => {
      execFile('sh', ['-c', `node --import tsx src/cli/main.ts fit - -k 2 --seed 1 < '${file('points.csv')}'`], { cwd: ROOT }, (error, stdout) =>
        error === null ? resolve(stdout) : reject(error),
      );
    });
    const piped = await run(['fit', '-', '-k', '2', '--seed', '1'], csv);
    expect(shell).toBe(piped.stdout);
  });
});
