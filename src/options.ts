/**
 * Option validation for every public options object (`GaussianMixture.fit`, `fitGmm`, `windowVectors`,
 * `fitMixture`, `detectDrift`, `runKafkaPipeline`, …) and the one place that suggests the right name for a
 * misspelt option, in the library as in the CLI ({@link suggestOption}, {@link OPTION_ALIASES}).
 *
 * @module
 */
import { z } from 'zod';
import { EmstreamOptionsError, type OptionIssue } from './errors.js';

/**
 * Option names users bring from other libraries (scikit-learn's `GaussianMixture`, River's `PageHinkley`,
 * kafkajs and Kafka's client configuration) or from habit, and the emstream names they mean, best first. Keys are
 * {@link normaliseOptionName normalised} (lower case, without `_`, `-`, `.` and spaces), so one entry covers
 * `max_iter`, `maxIter` and `--max-iter`. A target is suggested only where it is an option of the function
 * called (the CLI's flags are in the lists too: `maxIter` for `--max-iter`, `components` for `-k, --components`).
 */
export const OPTION_ALIASES: Readonly<Record<string, readonly string[]>> = {
  // scikit-learn GaussianMixture / KMeans
  maxiter: ['maxIterations', 'maxIter'],
  maxiters: ['maxIterations', 'maxIter'],
  maxiterations: ['maxIterations', 'maxIter'],
  niter: ['maxIterations', 'maxIter'],
  iterations: ['maxIterations', 'maxIter'],
  ncomponents: ['k', 'components'],
  nclusters: ['k', 'components'],
  numcomponents: ['k', 'components'],
  components: ['k', 'components'],
  randomstate: ['seed'],
  randomseed: ['seed'],
  ninit: ['restarts'],
  nrestarts: ['restarts'],
  initparams: ['init'],
  meansinit: ['init'],
  weightsinit: ['init'],
  precisionsinit: ['init'],
  covariancetype: ['covarianceType', 'covariance'],
  covtype: ['covarianceType', 'covariance'],
  tolerance: ['tol'],
  njobs: ['threads'],
  numthreads: ['threads'],
  hard: ['mode', 'hard'],
  warmstart: ['initialModel', 'initialState'],
  // Spark StreamingKMeans, streaming habits
  decayfactor: ['decay'],
  halflife: ['halfLife', 'halflife'],
  windowsize: ['size', 'window'],
  batchsize: ['size', 'window'],
  window: ['size', 'window'],
  // River PageHinkley
  threshold: ['lambda'],
  // kafkajs / Kafka client configuration
  bootstrapservers: ['brokers'],
  broker: ['brokers'],
  groupid: ['group'],
  topic: ['input'],
  topics: ['input'],
  inputtopic: ['input'],
};

/** Lower case, without `_`, `-`, `.` and spaces: `max_iter`, `maxIter` and `--max-iter` are all `maxiter`. */
export function normaliseOptionName(name: string): string {
  return name.toLowerCase().replace(/[-_.\s]/g, '');
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array<number>(rows * cols).fill(0);
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[(i - 1) * cols + j] + 1, d[i * cols + j - 1] + 1, d[(i - 1) * cols + j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[(i - 2) * cols + j - 2] + 1);
      d[i * cols + j] = best;
    }
  }
  return d[rows * cols - 1];
}

/**
 * The option a user most likely meant by an unknown name, or undefined when none is close.
 *
 * 1. the same name in another spelling (`max_iterations`, `MaxIterations` → `maxIterations`);
 * 2. a name from another library or habit ({@link OPTION_ALIASES}: `max_iter` → `maxIterations`, `n_components`
 *    → `k`, `random_state` → `seed`, `n_init` → `restarts`), when its target is one of `candidates`;
 * 3. a plain typo: the candidate at the smallest edit distance (at most 3, and under 60% of the longer name, as
 *    commander decides its own suggestions), when no other is as close.
 *
 * ## Example
 * ```ts
 * import { suggestOption } from 'emstream';
 *
 * const names = ['k', 'maxIterations', 'seed', 'restarts', 'tol'];
 * console.log(suggestOption('max_iter', names), suggestOption('random_state', names), suggestOption('seeed', names));
 * // → maxIterations seed seed
 * ```
 *
 * @param given - the unknown name, as written (`max_iter`, `--max_iter` without its dashes)
 * @param candidates - the valid names (option keys, or a command's flags without dashes)
 * @returns one of `candidates`, or undefined
 */
export function suggestOption(given: string, candidates: readonly string[]): string | undefined {
  const key = normaliseOptionName(given);
  if (key === '') return undefined;
  const byNormal = new Map<string, string>();
  for (const c of candidates) if (!byNormal.has(normaliseOptionName(c))) byNormal.set(normaliseOptionName(c), c);
  const same = byNormal.get(key);
  if (same !== undefined && same !== given) return same;
  for (const target of OPTION_ALIASES[key] ?? []) {
    const found = byNormal.get(normaliseOptionName(target));
    if (found !== undefined && found !== given) return found;
  }
  let best: string | undefined;
  let bestDistance = Infinity;
  let tie = false;
  for (const [normal, c] of byNormal) {
    if (normal.length < 2) continue; // one-letter names (k, -k) only by alias
    const distance = editDistance(key, normal);
    const longer = Math.max(key.length, normal.length);
    if (distance > 3 || (longer - distance) / longer <= 0.4) continue; // commander's rule for its own suggestions
    if (distance < bestDistance) {
      best = c;
      bestDistance = distance;
      tie = false;
    } else if (distance === bestDistance) tie = true;
  }
  return tie ? undefined : best;
}

/** The schema inside wrappers that do not change the accepted keys (optional, default, nullable, readonly, catch, pipe). */
function unwrap(schema: z.ZodType): z.ZodType {
  let s: z.ZodType = schema;
  for (let i = 0; i < 16; i++) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable || s instanceof z.ZodDefault || s instanceof z.ZodPrefault || s instanceof z.ZodReadonly || s instanceof z.ZodCatch) {
      s = s.unwrap() as z.ZodType;
    } else if (s instanceof z.ZodPipe) s = s.in as z.ZodType;
    else break;
  }
  return s;
}

/** The object schemas a value at this schema may be (a union of `false` and an object gives the object). */
function objectsOf(schema: z.ZodType): z.ZodObject[] {
  const s = unwrap(schema);
  if (s instanceof z.ZodObject) return [s];
  if (s instanceof z.ZodUnion) return (s.options as z.ZodType[]).flatMap(objectsOf);
  return [];
}

/**
 * The option names at a path of an options schema: the top-level keys for `[]`, the keys of a nested options
 * object for `['producerBatch']`; empty when the path names no object.
 *
 * @param schema - an options schema (a zod object, possibly refined, optional or defaulted)
 * @param path - the path of a nested options object
 */
export function optionNames(schema: z.ZodType, path: readonly PropertyKey[] = []): string[] {
  let level = objectsOf(schema);
  for (const key of path) {
    level = level.flatMap((o) => {
      const child = (o.shape as Record<PropertyKey, z.ZodType | undefined>)[key];
      return child === undefined ? [] : objectsOf(child);
    });
  }
  return [...new Set(level.flatMap((o) => Object.keys(o.shape)))];
}

function describeGot(options: unknown, path: readonly PropertyKey[]): string {
  if (path.length !== 1 || typeof options !== 'object' || options === null) return '';
  const value = (options as Record<PropertyKey, unknown>)[path[0]];
  if (typeof value === 'number' || typeof value === 'boolean') return ` (got ${String(value)})`;
  if (typeof value === 'string') return ` (got the string ${JSON.stringify(value)})`;
  if (value === null) return ' (got null)';
  return '';
}

/** One issue per unknown key, each naming the option it most likely meant (or listing the valid ones). */
function unknownKeyIssues(schema: z.ZodType, parent: readonly PropertyKey[], keys: readonly string[]): OptionIssue[] {
  const names = optionNames(schema, parent);
  return keys.map((key) => {
    const path = [...parent.map(String), key].join('.');
    const suggestion = suggestOption(key, names);
    const message =
      suggestion !== undefined
        ? `unknown option, did you mean ${[...parent.map(String), suggestion].join('.')}?`
        : `unknown option; the options${parent.length > 0 ? ` of ${parent.map(String).join('.')}` : ''} are ${names.join(', ')}`;
    return suggestion === undefined ? { path, message } : { path, message, suggestion };
  });
}

/**
 * Validates options against a zod schema, or throws an {@link EmstreamOptionsError} listing every
 * issue with its option path, what was given, and what is expected; an unknown option names the one it
 * most likely meant ({@link suggestOption}).
 *
 * @param schema the zod schema of the options
 * @param options what the caller gave
 * @param operator the public function the user called, for the message (`'GaussianMixture.fit'`, `'windowVectors'`)
 * @returns the parsed options (with defaults applied)
 */
export function parseOptions<S extends z.ZodType>(schema: S, options: unknown, operator: string): z.output<S> {
  const result = schema.safeParse(options);
  if (result.success) return result.data;
  const issues = result.error.issues.flatMap((issue): OptionIssue[] => {
    if (issue.code === 'unrecognized_keys') return unknownKeyIssues(schema, issue.path, issue.keys);
    const got = issue.code === 'custom' ? '' : describeGot(options, issue.path);
    return [{ path: issue.path.map(String).join('.'), message: `${issue.message}${got}` }];
  });
  throw new EmstreamOptionsError(operator, issues, result.error);
}
