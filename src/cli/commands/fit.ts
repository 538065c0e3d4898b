/**
 * `emstream fit FILE -k K [...]`: fits a Gaussian mixture to a CSV/NDJSON file (or stdin) and prints one JSON
 * report on stdout: the scores, every restart, and the model once (in full when it is small or `--json` asks;
 * `-o` writes it to a file).
 *
 * @module
 */
import { writeFile } from 'node:fs/promises';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { UsageError } from '../errors.js';
import { checkOutputFile, DATA_FORMATS, readData } from '../io.js';
import { fitGmm, type CandidateReport, type FitResult } from '../../gmm/em.js';
import { INIT_METHODS, type InitMethod } from '../../gmm/init.js';
import { defaultThreads } from '../../gmm/parallel/pool.js';
import { GaussianMixture, paramsToJSON, type MixtureJSON } from '../../gmm/model.js';
import { COVARIANCE_TYPES, type CovarianceType, type Dataset } from '../../gmm/types.js';
import { parseDecimal, type VectorTextFormat } from '../../io/readVectors.js';

/** Options of `emstream fit`, as parsed by commander. */
interface FitCommandOptions {
  components: number;
  covariance: CovarianceType;
  init: InitMethod;
  restarts: number;
  maxIter: number;
  tol: number;
  regCovar: number;
  seed: number;
  hard: boolean;
  select: 'expected' | 'marginal';
  threads?: number;
  output?: string;
  format?: VectorTextFormat;
  json: boolean;
}

/** One restart in the report: the fit's candidate report, as is. */
export type RestartReport = CandidateReport;

/** The JSON object `emstream fit` prints: the fit's scores and restarts, and the model (once). */
export interface FitReport {
  readonly covarianceType: CovarianceType;
  readonly k: number;
  readonly d: number;
  readonly n: number;
  /** Mean log-likelihood per point of the data under the final model. */
  readonly logLikelihood: number;
  /** Mean expected complete-data log-likelihood per point under the final model. */
  readonly expectedLogLikelihood: number;
  /** Iterations of the selected candidate. */
  readonly iterations: number;
  readonly converged: boolean;
  readonly bic: number;
  readonly aic: number;
  readonly restarts: RestartReport[];
  /** Index of the selected restart. */
  readonly selected: number;
  /** The model in its JSON form (`emstream label --model` reads it). */
  readonly model: MixtureJSON;
}

/** What `emstream fit` prints when the model is not printed: the report without it, and the weights. */
export type FitSummary = Omit<FitReport, 'model'> & { readonly weights: MixtureJSON['weights'] };

/** Models with more numbers than this (weights, means and covariances) are not printed unless `--json` asks. */
export const PRINTED_MODEL_LIMIT = 1000;

/** The numbers of a model: K weights, K×D means and the covariances of its type. */
export function modelSize(model: MixtureJSON): number {
  return model.weights.length + model.means.flat().length + [model.covariances].flat(Infinity).length;
}

/** Integer ≥ `min`, written as plain digits. */
function integer(what: string, min: number): (value: string) => number {
  return (value) => {
    const t = value.trim();
    const n = /^[+-]?\d+$/.test(t) ? Number(t) : NaN;
    if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`${what} must be a whole number${min > -Infinity ? ` ≥ ${min}` : ''}`);
    if (n < min) throw new InvalidArgumentError(`${what} must be at least ${min}`);
    return n;
  };
}

/** Finite decimal number ≥ 0. */
function nonNegative(what: string): (value: string) => number {
  return (value) => {
    const n = parseDecimal(value);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${what} must be a finite decimal number (e.g. 1e-3)`);
    if (n < 0) throw new InvalidArgumentError(`${what} must be ≥ 0`);
    return n;
  };
}

/**
 * Assembles the report printed by `emstream fit`.
 *
 * @param data - the fitted data (for N, BIC and AIC)
 * @param result - what `fitGmm` returned
 * @returns the report, every number finite
 */
export function fitReport(data: Dataset, result: FitResult): FitReport {
  const model = paramsToJSON(result.params);
  const mixture = new GaussianMixture(result.params);
  return {
    covarianceType: model.covarianceType,
    k: model.k,
    d: model.d,
    n: data.n,
    logLikelihood: result.logLikelihood,
    expectedLogLikelihood: result.expectedLogLikelihood,
    iterations: result.iterations,
    converged: result.converged,
    bic: mixture.bic(data),
    aic: mixture.aic(data),
    restarts: result.candidates,
    selected: result.selected,
    model,
  };
}

/**
 * Adds `emstream fit FILE -k K [--covariance T] [--init M] [--restarts N] [--max-iter N] [--tol X]
 * [--reg-covar X] [--seed N] [--hard] [--select expected|marginal] [--threads N] [--format F] [-o MODEL.json] [--json]`.
 *
 * The command:
 * 1. checks that `--output` can be written (exit 2 at once if not);
 * 2. reads FILE (`.csv` or `.ndjson`/`.jsonl`, or `--format`), or stdin for `-` (the format sniffed);
 * 3. runs `fitGmm` with the options (its validation reports what the parsers here let through);
 * 4. writes the model JSON to `--output`, and prints one JSON object on stdout: the {@link FitReport} with the
 *    model when `--json` is given or the model is small (at most {@link PRINTED_MODEL_LIMIT} numbers) and not
 *    written to a file, else the {@link FitSummary} (and, when the model went nowhere, a note on stderr).
 *    Pretty-printed on a terminal, one line otherwise.
 *
 * @param program - the root `emstream` command
 */
export function registerFit(program: Command): void {
  program
    .command('fit')
    .description('fit a Gaussian mixture to a data file (or stdin) by EM and print a JSON report: scores, restarts and the model')
    .argument('<file>', 'data: .csv (numbers separated by commas, optional header row) or .ndjson/.jsonl (one JSON array per line); - reads stdin')
    .requiredOption('-k, --components <K>', 'number of components (≥ 1)', integer('K (the number of components)', 1))
    .addOption(new Option('--covariance <type>', 'covariance type').choices(COVARIANCE_TYPES).default('full'))
    .addOption(new Option('--init <method>', 'initialisation').choices(INIT_METHODS).default('kmeans++'))
    .option('--restarts <n>', 'number of EM runs from different starts; the best is kept', integer('the number of restarts', 1), 1)
    .option('--max-iter <n>', 'maximum EM iterations per restart', integer('the maximum number of iterations', 1), 100)
    .option('--tol <x>', 'stop when the mean log-likelihood per point changes by less (0: run exactly --max-iter)', nonNegative('the tolerance'), 1e-3)
    .option('--reg-covar <x>', 'added to covariance diagonals', nonNegative('the covariance regularisation'), 1e-6)
    .option('--seed <n>', 'seed of the random source', integer('the seed', -Infinity), 0)
    .option('--hard', 'hard (classification) EM instead of soft EM', false)
    .addOption(
      new Option('--select <objective>', 'how the best restart is picked: expected complete-data or marginal log-likelihood').choices(['expected', 'marginal']).default('expected'),
    )
    .option('--threads <n>', `threads for the E-step (default: the number of cores, ${defaultThreads()} here; small data runs on one)`, integer('the number of threads', 1))
    .addOption(new Option('--format <format>', 'data format (default: by extension; sniffed for stdin)').choices(DATA_FORMATS))
    .option('-o, --output <model.json>', 'write the model JSON (for `emstream label --model`) to this file instead of printing it')
    .option('--json', `print the whole report with the model, however large (by default a model of more than ${PRINTED_MODEL_LIMIT} numbers is summarised)`, false)
    .action(async (file: string, opts: FitCommandOptions) => {
      if (opts.output !== undefined) checkOutputFile(opts.output, '--output');
      const data = await readData(file, opts.format);
      const result = fitGmm(data, {
        k: opts.components,
        covarianceType: opts.covariance,
        init: opts.init,
        restarts: opts.restarts,
        maxIterations: opts.maxIter,
        tol: opts.tol,
        regCovar: opts.regCovar,
        seed: opts.seed,
        mode: opts.hard ? 'hard' : 'soft',
        select: opts.select,
        threads: opts.threads,
      });
      const report = fitReport(data, result);
      if (opts.output !== undefined) {
        try {
          await writeFile(opts.output, `${JSON.stringify(report.model, null, 2)}\n`);
        } catch (e) {
          throw new UsageError(`cannot write the model to --output ${opts.output}: ${e instanceof Error ? e.message : String(e)}; give a path you can write`, { cause: e });
        }
      }
      const size = modelSize(report.model);
      const printModel = opts.json || (opts.output === undefined && size <= PRINTED_MODEL_LIMIT);
      const { model, ...rest } = report;
      const printed: FitReport | FitSummary = printModel ? report : { ...rest, weights: model.weights };
      process.stdout.write(`${JSON.stringify(printed, null, process.stdout.isTTY === true ? 2 : undefined)}\n`);
      if (!printModel && opts.output === undefined) {
        process.stderr.write(
          `emstream: the model (${size} numbers: k = ${model.k}, d = ${model.d}, ${model.covarianceType} covariances) is summarised: write it with -o model.json, or print it with --json\n`,
        );
      }
    });
}
