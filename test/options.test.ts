/**
 * Unknown option names suggest the right one, from one table of aliases and one suggestion function, in every
 * public options object; messages name the public function the user called.
 */
import { describe, expect, it } from 'vitest';
import {
  detectDrift,
  driftOptionsSchema,
  EmstreamOptionsError,
  fitGmm,
  fitMixture,
  GaussianMixture,
  OPTION_ALIASES,
  runKafkaPipeline,
  runOptionsSchema,
  stateDifferences,
  StreamingGmm,
  suggestOption,
  windowVectors,
  type StreamingStateJSON,
} from 'emstream';
import { fitOptionsSchema } from '../src/gmm/em.js';
import { streamingOptionsSchema } from '../src/gmm/streamingOptions.js';
import { optionNames } from '../src/options.js';
import { windowOptionsSchema } from '../src/operators/windowVectors.js';

const points = [
  [0, 0],
  [0, 1],
  [1, 0],
  [9, 9],
  [9, 8],
  [8, 9],
];

/** The EmstreamOptionsError a call throws. */
function optionsError(call: () => unknown): EmstreamOptionsError {
  try {
    call();
  } catch (e) {
    expect(e).toBeInstanceOf(EmstreamOptionsError);
    return e as EmstreamOptionsError;
  }
  throw new Error('expected an EmstreamOptionsError, nothing was thrown');
}

describe('suggestOption', () => {
  const fitNames = optionNames(fitOptionsSchema);

  it.each([
    ['maxIter', 'maxIterations'],
    ['max_iter', 'maxIterations'],
    ['MAX_ITER', 'maxIterations'],
    ['max_iterations', 'maxIterations'],
    ['n_components', 'k'],
    ['nComponents', 'k'],
    ['n_clusters', 'k'],
    ['random_state', 'seed'],
    ['randomState', 'seed'],
    ['nInit', 'restarts'],
    ['n_init', 'restarts'],
    ['covariance_type', 'covarianceType'],
    ['reg_covar', 'regCovar'],
    ['init_params', 'init'],
    ['tolerance', 'tol'],
    ['maxIteration', 'maxIterations'],
    ['regCovr', 'regCovar'],
    ['seeed', 'seed'],
    ['restart', 'restarts'],
    ['covarianceTyp', 'covarianceType'],
  ])('GaussianMixture.fit: %s → %s', (given, expected) => {
    expect(suggestOption(given, fitNames)).toBe(expected);
  });

  it('suggests nothing for a name close to no option, nor a target the function lacks', () => {
    expect(suggestOption('banana', fitNames)).toBeUndefined();
    expect(suggestOption('bootstrap_servers', fitNames)).toBeUndefined(); // → brokers, which fit has not
    expect(suggestOption('x', ['k', 'seed'])).toBeUndefined(); // one-letter names only by alias
    expect(suggestOption('', fitNames)).toBeUndefined();
  });

  it('every alias targets an option of some public schema or a CLI flag (no dead entries)', () => {
    const cliFlags = ['maxIter', 'components', 'covariance', 'hard', 'halflife', 'window'];
    const all = new Set([
      ...fitNames,
      ...optionNames(streamingOptionsSchema),
      ...optionNames(windowOptionsSchema),
      ...optionNames(driftOptionsSchema),
      ...optionNames(runOptionsSchema),
      ...cliFlags,
    ]);
    for (const [alias, targets] of Object.entries(OPTION_ALIASES)) {
      expect(alias, 'aliases are written normalised').toMatch(/^[a-z0-9]+$/);
      for (const t of targets) expect(all.has(t), `${alias} → ${t}`).toBe(true);
    }
  });

  it('lists the nested option names of a schema path', () => {
    expect(optionNames(streamingOptionsSchema, ['adaptive']).sort()).toEqual(['alpha', 'minPoints']);
    expect(optionNames(runOptionsSchema, ['windowSample']).sort()).toEqual(['maxPoints', 'maxValues']);
    expect(optionNames(runOptionsSchema, ['brokers'])).toEqual([]);
  });
});

describe('unknown options in the public functions', () => {
  it('GaussianMixture.fit names itself and suggests the scikit-learn spelling’s equivalent', () => {
    const err = optionsError(() => GaussianMixture.fit(points, { k: 2, maxIter: 10 } as never));
    expect(err.message).toBe('GaussianMixture.fit: invalid options: maxIter: unknown option, did you mean maxIterations?');
    expect(err.message).not.toContain('fitGmm');
    expect(err.context.operator).toBe('GaussianMixture.fit');
    expect(err.context.issues).toEqual([{ path: 'maxIter', message: 'unknown option, did you mean maxIterations?', suggestion: 'maxIterations' }]);
  });

  it('several unknown options: one issue each, beside the other issues', () => {
    const err = optionsError(() => GaussianMixture.fit(points, { k: 2, n_init: 3, random_state: 1, tol: -1 } as never));
    expect(err.context.issues.map((i) => [i.path, i.suggestion])).toEqual(
      expect.arrayContaining([
        ['n_init', 'restarts'],
        ['random_state', 'seed'],
        ['tol', undefined],
      ]),
    );
  });

  it('an unknown option close to nothing lists the valid ones', () => {
    const err = optionsError(() => GaussianMixture.fit(points, { k: 2, banana: 1 } as never));
    expect(err.message).toMatch(/banana: unknown option; the options are k, covarianceType, init, restarts, maxIterations, tol, regCovar, seed/);
  });

  it('fitGmm names itself', () => {
    const err = optionsError(() => fitGmm({ n: 6, d: 2, data: Float64Array.from(points.flat()) }, { k: 2, max_iter: 5 } as never));
    expect(err.message).toMatch(/^fitGmm: invalid options: max_iter: unknown option, did you mean maxIterations\?$/);
  });

  it('windowVectors', () => {
    const err = optionsError(() => windowVectors({ windowSize: 100 } as never));
    expect(err.message).toMatch(/^windowVectors: invalid options: .*windowSize: unknown option, did you mean size\?/);
  });

  it('fitMixture, also inside a nested options object', () => {
    expect(optionsError(() => fitMixture({ k: 2, half_life: 4 } as never)).message).toBe('fitMixture: invalid options: half_life: unknown option, did you mean halfLife?');
    expect(optionsError(() => fitMixture({ k: 2, adaptive: { alfa: 0.01 } } as never)).message).toBe(
      'fitMixture: invalid options: adaptive.alfa: unknown option, did you mean adaptive.alpha?',
    );
    expect(optionsError(() => fitMixture({ k: 2, drift: { min_instances: 3 } } as never)).message).toBe(
      'fitMixture: invalid options: drift.min_instances: unknown option, did you mean drift.minInstances?',
    );
  });

  it('StreamingGmm and stateDifferences name themselves', () => {
    expect(optionsError(() => new StreamingGmm({ k: 2, n_init: 2 } as never)).message).toMatch(/^StreamingGmm: invalid options: n_init: unknown option, did you mean restarts\?$/);
    const state = new StreamingGmm({ k: 1 }).toJSON() as StreamingStateJSON;
    expect(optionsError(() => stateDifferences(state, { k: 1, decay_factor: 0.5 } as never)).message).toMatch(/^stateDifferences: .*did you mean decay\?$/);
  });

  it('detectDrift: River’s threshold is λ', () => {
    expect(optionsError(() => detectDrift({ threshold: 5 } as never)).message).toBe('detectDrift: invalid options: threshold: unknown option, did you mean lambda?');
    expect(optionsError(() => detectDrift({ min_instances: 5 } as never)).message).toBe(
      'detectDrift: invalid options: min_instances: unknown option, did you mean minInstances?',
    );
  });

  it('runKafkaPipeline: Kafka client names (before any connection)', async () => {
    const pipeline = { name: 'p', build: (s: unknown) => s } as never;
    const err = await runKafkaPipeline({ bootstrap_servers: ['127.0.0.1:1'], pipeline, input: 'in' } as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EmstreamOptionsError);
    expect((err as Error).message).toMatch(/^runKafkaPipeline: invalid options: .*bootstrap_servers: unknown option, did you mean brokers\?/);
    const group = await runKafkaPipeline({ brokers: ['127.0.0.1:1'], groupId: 'g', pipeline, input: 'in' } as never).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((group as Error).message).toMatch(/groupId: unknown option, did you mean group\?/);
  });
});
