/**
 * End-to-end tests of the `emstream` command: every case spawns the real CLI
 * (`node --import tsx src/cli/main.ts ...`) on small temporary files.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withOccupiedPort } from '../helpers/ports.js';
import { fitGmm, type FitOptions } from '../../src/gmm/em.js';
import { GaussianMixture, paramsToJSON } from '../../src/gmm/model.js';
import type { CovarianceType } from '../../src/gmm/types.js';
import { parseCsv } from '../../src/io/readVectors.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `emstream ...args` from the repository root. */
function run(args: readonly string[], env: Record<string, string> = {}): Promise<RunResult> {
  const { EMSTREAM_DEBUG: _ignored, ...base } = process.env;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', ...args],
      { cwd: ROOT, env: { ...base, ...env }, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Two well-separated 2-D clusters of 30 points each, from a fixed linear congruential sequence. */
function twoClusters(): string {
  let state = 12345;
  const u = (): number => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state / 2147483648;
  };
  const lines = ['x,y'];
  for (let i = 0; i < 60; i++) {
    const [cx, cy] = i % 2 === 0 ? [0, 0] : [6, 4];
    lines.push(`${(cx + 2 * u() - 1).toFixed(4)},${(cy + 1.5 * (u() - 0.5)).toFixed(4)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Expects a clean failure: the exit code, one `emstream:` line on stderr, no stack trace, nothing on stdout. */
function expectFailure(r: RunResult, code: number, ...fragments: string[]): void {
  const context = JSON.stringify(r);
  expect(r.code, context).toBe(code);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, context).toHaveLength(1);
  expect(lines[0], context).toMatch(/^emstream: /);
  expect(r.stderr, context).not.toContain('    at ');
  expect(r.stdout, context).not.toContain('NaN');
  expect(r.stdout, context).toBe('');
  for (const f of fragments) expect(lines[0], context).toContain(f);
}

let dir: string;
let csvText: string;
const file = (name: string): string => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'emstream-cli-'));
  csvText = twoClusters();
  await writeFile(file('data.csv'), csvText);
  const files: Record<string, string> = {
    'data3.csv': '1,2,3\n4,5,6\n7,8,9\n',
    'text.csv': 'x,y\n1,2\n3,4\n5,abc\n',
    'ragged.csv': 'x,y\n1,2\n3,4\n5\n',
    'nan.csv': '1,2\nNaN,3\n4,5\n',
    'inf.csv': '1,2\n3,4\n5,Infinity\n',
    'empty.csv': '',
    'few.csv': '0,0\n0,0\n1,1\n2,2\n1,1\n',
    'bad.ndjson': '[1,2]\n{"x":1}\n',
    'data.txt': '1,2\n3,4\n',
    'not-json.json': '{"format": "emstream.gmm", ',
    'malformed.json': JSON.stringify({
      format: 'emstream.gmm',
      version: 1,
      covarianceType: 'full',
      weights: [0.5, 0.5],
      means: [
        [0, 0],
        [1, 1],
      ],
      covariances: [
        [
          [1, 0],
          [0, 1],
        ],
      ],
    }),
  };
  await Promise.all(Object.entries(files).map(([name, text]) => writeFile(file(name), text)));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('emstream fit', () => {
  it('prints one JSON report identical to fitGmm in-process, for every covariance type', async () => {
    const data = parseCsv(csvText);
    const cases: { type: CovarianceType; init: string; shape: (k: number, d: number) => number[] }[] = [
      { type: 'full', init: 'kmeans++', shape: (k, d) => [k, d, d] },
      { type: 'diag', init: 'kmeans', shape: (k, d) => [k, d] },
      { type: 'spherical', init: 'random', shape: (k) => [k] },
      { type: 'tied', init: 'random-from-data', shape: (_k, d) => [d, d] },
    ];
    const outputs = await Promise.all(
      cases.map((c) =>
        run(['fit', file('data.csv'), '-k', '2', '--covariance', c.type, '--init', c.init, '--restarts', '3', '--seed', '7', '--tol', '1e-6', '--reg-covar', '1e-5']),
      ),
    );
    cases.forEach((c, i) => {
      const r = outputs[i];
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stdout).not.toContain('NaN');
      const report = JSON.parse(r.stdout) as Record<string, unknown>;
      expect(Object.keys(report).sort()).toEqual(
        [
          'covarianceType', 'k', 'd', 'n', 'logLikelihood', 'expectedLogLikelihood',
          'iterations', 'converged', 'bic', 'aic', 'restarts', 'selected', 'model',
        ].sort(),
      );
      const options: FitOptions = { k: 2, covarianceType: c.type, init: c.init as FitOptions['init'], restarts: 3, seed: 7, tol: 1e-6, regCovar: 1e-5 };
      const expected = fitGmm(data, options);
      const json = paramsToJSON(expected.params);
      const model = new GaussianMixture(expected.params);
      expect(report).toEqual({
        covarianceType: c.type,
        k: 2,
        d: 2,
        n: 60,
        logLikelihood: expected.logLikelihood,
        expectedLogLikelihood: expected.expectedLogLikelihood,
        iterations: expected.iterations,
        converged: expected.converged,
        bic: model.bic(data),
        aic: model.aic(data),
        restarts: expected.candidates.map((cand) => ({
          index: cand.index,
          init: cand.init,
          logLikelihood: cand.logLikelihood,
          expectedLogLikelihood: cand.expectedLogLikelihood,
          iterations: cand.iterations,
          converged: cand.converged,
          reseeded: cand.reseeded,
          selected: cand.selected,
        })),
        selected: expected.selected,
        model: json,
      });
      // Shapes per covariance type.
      const shape: number[] = [];
      const printed = report.model as { means: number[][]; covariances: unknown };
      for (let v: unknown = printed.covariances; Array.isArray(v); v = v[0]) shape.push(v.length);
      expect(shape).toEqual(c.shape(2, 2));
      expect((report.restarts as unknown[]).length).toBe(3);
      expect((report.restarts as { selected: boolean }[]).filter((x) => x.selected)).toHaveLength(1);
      // The two clusters are found.
      const means = printed.means.map((m) => m.map((x) => Math.round(x) + 0)).sort((a, b) => a[0] - b[0]);
      expect(means).toEqual([
        [0, 0],
        [6, 4],
      ]);
    });
  });

  it('--tol 0 runs exactly --max-iter iterations in every restart; --hard and --select are honoured', async () => {
    const [tol0, hard] = await Promise.all([
      run(['fit', file('data.csv'), '-k', '2', '--tol', '0', '--max-iter', '7', '--restarts', '2']),
      run(['fit', file('data.csv'), '-k', '3', '--hard', '--select', 'marginal', '--seed', '3', '--restarts', '2']),
    ]);
    expect(tol0.code, tol0.stderr).toBe(0);
    const report = JSON.parse(tol0.stdout) as { iterations: number; converged: boolean; restarts: { index: number; iterations: number; converged: boolean }[] };
    expect(report.iterations).toBe(7);
    expect(report.converged).toBe(false);
    expect(report.restarts.map((r) => [r.index, r.iterations, r.converged])).toEqual([
      [0, 7, false],
      [1, 7, false],
    ]);
    expect(hard.code, hard.stderr).toBe(0);
    const expected = fitGmm(parseCsv(csvText), { k: 3, mode: 'hard', select: 'marginal', seed: 3, restarts: 2 });
    expect(JSON.parse(hard.stdout)).toMatchObject({ k: 3, logLikelihood: expected.logLikelihood, selected: expected.selected, iterations: expected.iterations });
  });

  it('fit --output then label --model round-trips: labels equal GaussianMixture.predict', async () => {
    const [fit, printed] = await Promise.all([run(['fit', file('data.csv'), '-k', '2', '--seed', '1', '--output', file('model.json')]), run(['fit', file('data.csv'), '-k', '2', '--seed', '1'])]);
    expect(fit.code, fit.stderr).toBe(0);
    const saved = JSON.parse(await readFile(file('model.json'), 'utf8')) as { weights: number[] };
    // The model once: in the file with --output (stdout has the summary and the weights), else on stdout.
    const summary = JSON.parse(fit.stdout) as Record<string, unknown>;
    expect(summary.model).toBeUndefined();
    expect(summary.weights).toEqual(saved.weights);
    expect(fit.stderr).toBe('');
    expect(saved).toEqual((JSON.parse(printed.stdout) as { model: unknown }).model);
    const data = parseCsv(csvText);
    await writeFile(file('report.json'), printed.stdout);
    const [csv, fromReport] = await Promise.all([run(['label', file('data.csv'), '--model', file('model.json')]), run(['label', file('data.csv'), '-m', file('report.json')])]);
    expect(csv.code, csv.stderr).toBe(0);
    expect(fromReport.stdout).toBe(csv.stdout);
    const model = GaussianMixture.fromJSON(saved);
    const labels = Array.from(model.predict(data));
    const logDensity = model.scoreSamples(data);
    const proba = model.predictProba(data);
    const lines = csv.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { index: number; label: number; logDensity: number; probabilities: number[] });
    expect(lines).toHaveLength(60);
    expect(lines.map((l) => l.label)).toEqual(labels);
    lines.forEach((l, i) => {
      expect(Object.keys(l)).toEqual(['index', 'label', 'logDensity', 'probabilities']);
      expect(l.index).toBe(i);
      expect(l.logDensity).toBe(logDensity[i]);
      expect(l.probabilities).toEqual(Array.from(proba.subarray(i * 2, i * 2 + 2)));
    });
    // Same labels as the in-process fit.
    expect(labels).toEqual(Array.from(GaussianMixture.fit(data, { k: 2, seed: 1 }).model.predict(data)));
  });
});

describe('emstream: bad input fails cleanly (one line on stderr, no stack trace, no NaN on stdout)', () => {
  it('reports bad data, bad models and impossible fits with exit code 1', async () => {
    const cases: [string[], string[]][] = [
      [['fit', 'text.csv', '-k', '2'], ['line 4, column 2', '"abc" is not a number', 'remove text columns or the header row']],
      [['fit', 'ragged.csv', '-k', '2'], ['line 4 has 1 column but line 1 has 2']],
      [['fit', 'nan.csv', '-k', '1'], ['line 2, column 1', '"NaN" is not a finite number']],
      [['fit', 'inf.csv', '-k', '1'], ['line 3, column 2', '"Infinity" is not a finite number']],
      [['fit', 'bad.ndjson', '-k', '1'], ['line 2', 'expected a JSON array of numbers, got an object']],
      [['fit', 'empty.csv', '-k', '1'], ['empty.csv has no data rows']],
      [['fit', 'few.csv', '-k', '4'], ['k = 4 components need at least 4 distinct points, but the data has only 3']],
      [['fit', 'data.txt', '-k', '1'], ['unsupported file extension ".txt"', '.csv', '.ndjson/.jsonl']],
      [['fit', 'missing.csv', '-k', '1'], ['cannot read data file', 'missing.csv: no such file']],
      [['label', 'data3.csv', '--model', 'model2d.json'], ['data3.csv has 3 columns but the model', 'has dimension 2']],
      [['label', 'data.csv', '--model', 'malformed.json'], ['malformed.json', 'invalid model at covariances']],
      [['label', 'data.csv', '--model', 'not-json.json'], ['not-json.json is not valid JSON']],
      [['label', 'data.csv', '--model', 'nope.json'], ['cannot read model file', 'nope.json: no such file']],
    ];
    // A valid 2-D model, fitted in-process.
    await writeFile(file('model2d.json'), JSON.stringify(paramsToJSON(fitGmm(parseCsv(csvText), { k: 2 }).params)));
    const results = await Promise.all(cases.map(([args]) => run(args.map((a) => (/\.(csv|ndjson|txt|json)$/.test(a) ? file(a) : a)))));
    results.forEach((r, i) => expectFailure(r, 1, ...cases[i][1]));
  });

  it('reports usage errors (unknown option, invalid option values) with exit code 2, naming the option', async () => {
    const data = (): string => file('data.csv');
    const cases: [string[], string[]][] = [
      [['fit', data(), '-k', '2', '--bogus'], ["unknown option '--bogus'", 'emstream fit --help']],
      [['fit', data(), '-k', '0'], ['-k, --components', "'0' is invalid", 'at least 1']],
      [['fit', data(), '-k', '2.5'], ['-k, --components', "'2.5' is invalid", 'whole number']],
      [['fit', data()], ["required option '-k, --components <K>' not specified"]],
      [['fit', data(), '-k', '2', '--tol', '-1'], ['--tol', "'-1' is invalid", '≥ 0']],
      [['fit', data(), '-k', '2', '--max-iter', '0'], ['--max-iter', 'at least 1']],
      [['fit', data(), '-k', '2', '--covariance', 'banana'], ['--covariance', 'Allowed choices are full, diag, spherical, tied']],
      [['label', data()], ["required option '-m, --model <model.json>' not specified"]],
      [['frobnicate'], ["unknown command 'frobnicate'"]],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args)));
    results.forEach((r, i) => expectFailure(r, 2, ...cases[i][1]));
  });

  it('usage errors of run, demo and broker exit 2 with one line, before any connection', async () => {
    const cases: [string[], string[]][] = [
      [['run', '--brokers', '127.0.0.1:1', '-k', '2'], ['input: give the input topic (--input)']],
      [['run', '--brokers', '127.0.0.1:1', '--input', 'x', '-k', '2', '--format', 'float32le'], ['dimension: is required for the binary format float32le', '--dimension 16']],
      [['run', '--brokers', '127.0.0.1:1', '--input', 'x', '-k', '2', '--format', 'csv', '--fields', 'a,b'], ['fields: only apply to the json-object format']],
      [['run', '--brokers', '127.0.0.1:1', '--input', 'x', '-k', '2', '--fresh', '--restore'], ['--fresh and --restore contradict each other']],
      [['run', '--input', 'x', '-k', '2'], ['no Kafka broker given', 'emstream broker']],
      [['run', '--brokers', '127.0.0.1:1', '--input', 'x', '--window', '0', '-k', '2'], ['--window', 'whole number ≥ 1']],
      [['demo', '--every', '0'], ['--every must be a whole number ≥ 1', 'got "0"']],
      [['demo', '--every', 'often'], ['--every must be a whole number ≥ 1']],
      [['demo', '--out', join(dir, 'data.csv', 'frames')], ['cannot write to --out', 'data.csv/frames (a file is in the way)']],
      [['broker', '--port', '0'], ['--port', 'must be an integer port in 1..65535']],
    ];
    const results = await Promise.all(cases.map(([args]) => run(args, { KAFKA_BROKERS: '' })));
    results.forEach((r, i) => expectFailure(r, 2, ...cases[i][1]));
  });

  it('unreachable brokers at start: retried within --broker-timeout-ms (one line per retry), then exit 1 with one error line and no stack trace', async () => {
    const started = Date.now();
    const r = await run(['run', '--brokers', '127.0.0.1:1', '--input', 'x', '-k', '2', '--broker-timeout-ms', '3000']);
    const took = Date.now() - started;
    expect(r.code, JSON.stringify(r)).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).not.toContain('    at ');
    const lines = r.stderr.trimEnd().split('\n');
    // One JSON line per retry (saying the brokers do not answer), then the one line that ends the run.
    expect(lines.slice(0, -1).every((l) => (JSON.parse(l) as { msg: string }).msg.startsWith('the Kafka brokers do not answer (connect)')), r.stderr).toBe(true);
    expect(lines.at(-1)).toMatch(/^emstream: could not reach the Kafka brokers 127\.0\.0\.1:1 \(connect\) for [34] s \(\d+ attempts\): .*ECONNREFUSED.*--broker-timeout-ms; now 3000 ms/);
    expect(took).toBeGreaterThan(3000); // it retried for the budget, not less
  });

  it('emstream broker --port P on a port in use says so at once (exit 1, one line), without starting a JVM', async () => {
    await withOccupiedPort(async (port) => {
      const started = Date.now();
      const r = await run(['broker', '--port', String(port)]);
      expectFailure(r, 1, `the port ${port} on 127.0.0.1 is in use`, '--port');
      expect(Date.now() - started).toBeLessThan(15_000);
    });
  });

  it('prints the version, and the stack trace only with EMSTREAM_DEBUG=1', async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const [version, debug] = await Promise.all([run(['--version']), run(['fit', file('text.csv'), '-k', '1'], { EMSTREAM_DEBUG: '1' })]);
    expect(version).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    expect(debug.code).toBe(1);
    expect(debug.stderr.split('\n')[0]).toContain('emstream: ');
    expect(debug.stderr).toContain('    at ');
  });
});
