/**
 * `emstream label FILE --model MODEL.json`: labels every row of a data file with a fitted model and
 * prints NDJSON, one line per row.
 *
 * @module
 */
import { Option, type Command } from 'commander';
import { EmstreamError } from '../../errors.js';
import { ModelFormatError } from '../../gmm/errors.js';
import { GaussianMixture } from '../../gmm/model.js';
import { readTextFile, type VectorTextFormat } from '../../io/readVectors.js';
import { DATA_FORMATS, readData } from '../io.js';

/** Options of `emstream label`, as parsed by commander. */
interface LabelCommandOptions {
  model: string;
  format?: VectorTextFormat;
}

/** Rows per write to stdout. */
const CHUNK = 1000;

/**
 * Loads a model file written by `emstream fit --output`, or the report `emstream fit` prints (its `model` field).
 *
 * @param path - the model file
 * @returns the model
 * @throws EmstreamError when the file cannot be read, is not JSON, or is not a valid model
 */
async function loadModel(path: string): Promise<GaussianMixture> {
  const text = await readTextFile(path, 'model file');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new EmstreamError(`model file ${path} is not valid JSON (${e instanceof Error ? e.message : String(e)}): give the file written by \`emstream fit --output\``, {
      cause: e,
    });
  }
  // The whole report printed by `emstream fit` is accepted too: its "model" field is the model.
  if (typeof json === 'object' && json !== null && 'model' in json && typeof json.model === 'object') json = json.model;
  try {
    return GaussianMixture.fromJSON(json);
  } catch (e) {
    if (e instanceof ModelFormatError) throw new EmstreamError(`model file ${path}: ${e.message}`, { cause: e, context: e.context });
    throw e;
  }
}

/** Writes to stdout, waiting for it to drain when its buffer is full. */
function write(text: string): Promise<void> {
  return new Promise((resolve) => {
    if (process.stdout.write(text)) resolve();
    else process.stdout.once('drain', resolve);
  });
}

/**
 * Adds `emstream label FILE --model MODEL.json` to the program.
 *
 * The command:
 * 1. loads the model (errors name the file and the offending field);
 * 2. reads FILE (`.csv` or `.ndjson`/`.jsonl`, or `--format`), or stdin for `-`; its dimension must be the model's;
 * 3. prints `{"index","label","logDensity","probabilities"}` per row, as NDJSON, in input order.
 *
 * @param program - the root `emstream` command
 */
export function registerLabel(program: Command): void {
  program
    .command('label')
    .description('label every row of a data file with a fitted model; prints NDJSON {index, label, logDensity, probabilities} per row')
    .argument('<file>', 'data: .csv or .ndjson/.jsonl, with the model\'s number of columns; - reads stdin')
    .requiredOption('-m, --model <model.json>', 'model JSON written by `emstream fit --output`, or the report printed by `emstream fit`')
    .addOption(new Option('--format <format>', 'data format (default: by extension; sniffed for stdin)').choices(DATA_FORMATS))
    .action(async (file: string, opts: LabelCommandOptions) => {
      const model = await loadModel(opts.model);
      const data = await readData(file, opts.format);
      if (data.d !== model.d) {
        throw new EmstreamError(
          `${file === '-' ? '<stdin>' : file} has ${data.d} column${data.d === 1 ? '' : 's'} but the model ${opts.model} has dimension ${model.d}: label data with the columns the model was fitted on`,
        );
      }
      const labels = model.predict(data);
      const logDensity = model.scoreSamples(data);
      const resp = model.predictProba(data);
      const k = model.k;
      for (let start = 0; start < data.n; start += CHUNK) {
        let out = '';
        for (let i = start; i < Math.min(data.n, start + CHUNK); i++) {
          const probabilities = Array.from(resp.subarray(i * k, (i + 1) * k));
          out += `${JSON.stringify({ index: i, label: labels[i], logDensity: logDensity[i], probabilities })}\n`;
        }
        await write(out);
      }
    });
}
