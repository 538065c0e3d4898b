import { describe, expect, it } from 'vitest';

import { EmstreamError, EmstreamOptionsError } from '../../src/errors.js';
import { fitGmm, runEM, type FitOptions } from '../../src/gmm/em.js';
import { CovarianceError, DataError, ModelFormatError } from '../../src/gmm/errors.js';
import { GaussianMixture, type MixtureJSON } from '../../src/gmm/model.js';
import { Rng } from '../../src/gmm/rng.js';
import { SufficientStats, type SufficientStatsJSON } from '../../src/gmm/stats.js';
import { COVARIANCE_TYPES, type Dataset, type GmmParams } from '../../src/gmm/types.js';

/**
 * Typed errors that tell the fix (GUIDE §2): every failure is an EmstreamError subclass with a
 * stable `name`, a context, and a message that says what is wrong, where, and what to do.
 */

/** Runs `fn`, expects it to throw an instance of `type`, and returns the error. */
function thrown<E extends Error>(fn: () => unknown, type: abstract new (...args: never[]) => E): E {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(type);
    expect(err).toBeInstanceOf(EmstreamError);
    return err as E;
  }
  throw new Error(`expected ${type.name} to be thrown, but nothing was thrown`);
}

/** Three tight, well-separated clusters in 2-D. */
function threeClusters(n = 90, spread = 0.05, seed = 1): Dataset {
  const rng = new Rng(seed);
  const centres = [0, 0, 10, 0, 0, 10];
  const data = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    const z = i % 3;
    data[i * 2] = centres[z * 2] + spread * rng.normal();
    data[i * 2 + 1] = centres[z * 2 + 1] + spread * rng.normal();
  }
  return { n, d: 2, data };
}

function expectFinite(p: GmmParams): void {
  for (const v of [...p.weights, ...p.means, ...p.covariances]) expect(Number.isFinite(v)).toBe(true);
  expect(Math.abs(p.weights.reduce((s, w) => s + w, 0) - 1)).toBeLessThan(1e-12);
}

describe('DataError: non-finite data', () => {
  it.each([NaN, Infinity, -Infinity])('names the row and column of %s (fitGmm on a Dataset)', (bad) => {
    const data = threeClusters();
    data.data[7 * 2 + 1] = bad;
    const err = thrown(() => fitGmm(data, { k: 2 }), DataError);
    expect(err.name).toBe('DataError');
    expect(err.retriable).toBe(false);
    expect(err.context).toMatchObject({ row: 7, column: 1 });
    expect(err.message).toContain('row 7');
    expect(err.message).toContain('column 1');
    expect(err.message).toContain(String(bad));
    expect(err.message).toMatch(/must be a finite number/);
  });

  it('also from nested arrays (GaussianMixture.fit) and when predicting', () => {
    const rows = [
      [0, 0],
      [1, 1],
      [2, Number.NaN],
    ];
    const err = thrown(() => GaussianMixture.fit(rows, { k: 1 }), DataError);
    expect(err.context).toMatchObject({ row: 2, column: 1 });
    const { model } = GaussianMixture.fit(threeClusters(), { k: 3, seed: 1 });
    for (const call of [
      () => model.predict([[0, 0], [Infinity, 1]]),
      () => model.predictProba([[0, 0], [Infinity, 1]]),
      () => model.scoreSamples([[0, 0], [Infinity, 1]]),
      () => model.score([[0, 0], [Infinity, 1]]),
    ]) {
      const e = thrown(call, DataError);
      expect(e.context).toMatchObject({ row: 1, column: 0 });
      expect(e.message).toMatch(/row 1, column 0/);
    }
  });

  it('a ragged nested array names the short row and asks for the same number of columns', () => {
    const err = thrown(() => GaussianMixture.fit([[0, 0], [1, 1], [2]], { k: 1 }), DataError);
    expect(err.context).toMatchObject({ row: 2 });
    expect(err.message).toMatch(/row 2/);
    expect(err.message).toMatch(/same number of columns/);
  });

  it('an empty data set asks for at least one point', () => {
    const err = thrown(() => fitGmm({ n: 0, d: 2, data: new Float64Array(0) }, { k: 1 }), DataError);
    expect(err.message).toMatch(/empty/);
    expect(err.message).toMatch(/at least one point/);
  });
});

describe('DataError: K larger than the number of distinct points', () => {
  it('says how many distinct points there are, and to lower k or give more data', () => {
    // 6 points, 2 distinct
    const data: Dataset = { n: 6, d: 2, data: Float64Array.of(0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1) };
    const err = thrown(() => fitGmm(data, { k: 3 }), DataError);
    expect(err.message).toMatch(/k = 3/);
    expect(err.message).toMatch(/only 2/);
    expect(err.message).toMatch(/lower k/);
    expect(err.message).toMatch(/more data/);
    // k = 2 is fine
    expect(() => fitGmm(data, { k: 2 })).not.toThrow();
  });
});

describe('DataError: model/data dimension mismatch', () => {
  const { model } = GaussianMixture.fit(threeClusters(), { k: 3, seed: 1 });

  it.each(['predict', 'predictProba', 'scoreSamples', 'score', 'expectedScore', 'bic', 'aic'] as const)('%s with 3 columns on a 2-D model', (method) => {
    const err = thrown(() => model[method]([[1, 2, 3]]), DataError);
    expect(err.message).toMatch(/3 columns/);
    expect(err.message).toMatch(/dimension 2/);
    expect(err.message).toMatch(/give points with 2 values/);
  });

  it('initial parameters of the wrong shape name the array and the expected shape', () => {
    const data = threeClusters();
    const bad: FitOptions = { k: 2, covarianceType: 'diag', init: { weights: [0.5, 0.5], means: [[0, 0, 0], [1, 1, 1]], covariances: [[1, 1], [1, 1]] } };
    const err = thrown(() => fitGmm(data, bad), DataError);
    expect(err.message).toMatch(/initial means/);
    expect(err.message).toMatch(/K×D = 4/);
    const badCov: FitOptions = { k: 2, covarianceType: 'full', init: { weights: [0.5, 0.5], means: [[0, 0], [1, 1]], covariances: [1, 1] } };
    const e2 = thrown(() => fitGmm(data, badCov), DataError);
    expect(e2.message).toMatch(/full covariances/);
    expect(e2.message).toMatch(/K×D×D = 8/);
  });
});

describe('ModelFormatError: malformed model JSON names the field', () => {
  const good = (): MixtureJSON => GaussianMixture.fit(threeClusters(), { k: 3, seed: 1 }).model.toJSON();
  const mutate = (f: (o: Record<string, unknown>) => void): Record<string, unknown> => {
    const o = JSON.parse(JSON.stringify(good())) as Record<string, unknown>;
    f(o);
    return o;
  };
  const pathOf = (json: unknown): ModelFormatError => thrown(() => GaussianMixture.fromJSON(json), ModelFormatError);

  it('the unmodified JSON is accepted', () => {
    expect(() => GaussianMixture.fromJSON(good())).not.toThrow();
  });

  it('not an object', () => {
    for (const v of [null, 3, 'model', [1, 2]]) expect(pathOf(v).message).toMatch(/expected a JSON object/);
  });

  it('missing weights', () => {
    const err = pathOf(mutate((o) => delete o.weights));
    expect(err.context.path).toBe('weights');
    expect(err.message).toMatch(/at weights/);
    expect(err.message).toMatch(/expected an array of 3/);
  });

  it('wrong shapes: a mean row of the wrong length, too few weights, a covariance block of the wrong size', () => {
    const a = pathOf(mutate((o) => ((o.means as number[][])[1] = [1, 2, 3])));
    expect(a.context.path).toBe('means[1]');
    expect(a.message).toMatch(/expected an array of 2/);
    const b = pathOf(mutate((o) => (o.weights = [0.5, 0.5])));
    expect(b.context.path).toBe('weights');
    expect(b.message).toMatch(/expected an array of 3/);
    const c = pathOf(mutate((o) => ((o.covariances as number[][][])[2] = [[1, 0]])));
    expect(c.context.path).toBe('covariances[2]');
    expect(c.message).toMatch(/shape 3×2×2/);
    const d = pathOf(mutate((o) => ((o.covariances as number[][][])[0][1][0] = Number.NaN)));
    expect(d.context.path).toBe('covariances[0][1][0]');
    expect(d.message).toMatch(/finite number/);
    const e = pathOf(mutate((o) => (o.k = 4)));
    expect(e.context.path).toBe('k');
  });

  it('weights: negative, or not summing to 1', () => {
    const a = pathOf(mutate((o) => ((o.weights as number[])[1] = -0.1)));
    expect(a.context.path).toBe('weights[1]');
    expect(a.message).toMatch(/negative/);
    const b = pathOf(mutate((o) => (o.weights = [0.5, 0.5, 0.5])));
    expect(b.context.path).toBe('weights');
    expect(b.message).toMatch(/sum to 1/);
  });

  it('a covariance that is not positive definite names its component', () => {
    const err = pathOf(
      mutate((o) => {
        (o.covariances as number[][][])[1] = [
          [1, 2],
          [2, 1],
        ];
      }),
    );
    expect(err.context.path).toBe('covariances[1]');
    expect(err.message).toMatch(/component 1/);
    expect(err.message).toMatch(/not positive definite/);
    // diag with a zero variance
    const diag = GaussianMixture.fit(threeClusters(), { k: 3, seed: 1, covarianceType: 'diag' }).model.toJSON() as unknown as Record<string, unknown>;
    (diag.covariances as number[][])[2][0] = 0;
    expect(pathOf(diag).context.path).toBe('covariances[2]');
  });

  it('wrong version, wrong format, unknown covariance type', () => {
    const v = pathOf(mutate((o) => (o.version = 2)));
    expect(v.context.path).toBe('version');
    expect(v.message).toMatch(/version must be 1, got 2/);
    const f = pathOf(mutate((o) => (o.format = 'sklearn')));
    expect(f.context.path).toBe('format');
    expect(f.message).toMatch(/emstream\.gmm/);
    const t = pathOf(mutate((o) => (o.covarianceType = 'banana')));
    expect(t.context.path).toBe('covarianceType');
    expect(t.message).toMatch(/full, diag, spherical, tied/);
  });

  it('a covariance that is not symmetric is a ModelFormatError naming its component (not a plain Error)', () => {
    const json = mutate((o) => {
      const c = (o.covariances as number[][][])[1];
      c[0][1] = c[1][0] + 0.5;
    });
    const err = pathOf(json);
    expect(err.context.path).toBe('covariances[1]');
    expect(err.message).toMatch(/not symmetric/);
  });

  it('an asymmetry at rounding level (a JSON written elsewhere, off by an ulp) is accepted', () => {
    const json = mutate((o) => {
      const c = (o.covariances as number[][][])[1];
      c[0][1] = c[1][0] * (1 + 4 * Number.EPSILON);
    });
    expect(() => GaussianMixture.fromJSON(json)).not.toThrow();
  });

  it('a tied covariance that is not positive definite names the whole matrix', () => {
    const tied = GaussianMixture.fit(threeClusters(), { k: 3, seed: 1, covarianceType: 'tied' }).model.toJSON() as unknown as Record<string, unknown>;
    tied.covariances = [
      [1, 2],
      [2, 1],
    ];
    const err = pathOf(tied);
    expect(err.message).toMatch(/not positive definite/);
    expect(err.context.path).toBe('covariances');
  });
});

describe('SufficientStats.fromJSON rejects malformed statistics', () => {
  const valid = (): SufficientStatsJSON => new SufficientStats(2, 2, 'full', [1, 2]).addBatch(Float64Array.of(0, 0, 1, 1), 2, Float64Array.of(1, 0, 0, 1)).toJSON();

  it('wrong lengths of s0/s1/s2', () => {
    expect(() => SufficientStats.fromJSON({ ...valid(), s2: [1, 2] })).toThrow(/does not match/);
  });

  it('a shift with the wrong number of values is rejected', () => {
    expect(() => SufficientStats.fromJSON({ ...valid(), shift: [1] })).toThrow(/shift/);
  });
});

describe('EmstreamOptionsError: invalid fit options', () => {
  const data = threeClusters();
  const optionsError = (o: unknown): EmstreamOptionsError => {
    const err = thrown(() => fitGmm(data, o as FitOptions), EmstreamOptionsError);
    expect(err.name).toBe('EmstreamOptionsError');
    expect(err.context.operator).toBe('fitGmm');
    expect(err.message).toMatch(/^fitGmm: invalid options: /);
    return err;
  };

  it('k 0', () => {
    const err = optionsError({ k: 0 });
    expect(err.context.issues).toEqual([{ path: 'k', message: 'must be at least 1 (got 0)' }]);
    expect(err.message).toMatch(/k: must be at least 1 \(got 0\)/);
  });

  it('k missing or not an integer', () => {
    expect(optionsError({}).message).toMatch(/k \(the number of components\) is required/);
    expect(optionsError({ k: 2.5 }).message).toMatch(/k: must be an integer \(got 2\.5\)/);
  });

  it('negative tol', () => {
    const err = optionsError({ k: 2, tol: -1 });
    expect(err.context.issues[0].path).toBe('tol');
    expect(err.message).toMatch(/tol: must be ≥ 0/);
    expect(err.message).toMatch(/\(got -1\)/);
  });

  it('unknown option', () => {
    const err = optionsError({ k: 2, nComponents: 3 });
    expect(err.message).toMatch(/nComponents: unknown option, did you mean k\?/);
  });

  it('bad covarianceType lists the valid ones', () => {
    const err = optionsError({ k: 2, covarianceType: 'banana' });
    expect(err.context.issues[0].path).toBe('covarianceType');
    for (const t of COVARIANCE_TYPES) expect(err.message).toContain(`"${t}"`);
    expect(err.message).toMatch(/got the string "banana"/);
  });

  it('every issue is listed at once', () => {
    const err = optionsError({ k: 0, tol: -1, maxIterations: 0, regCovar: -1 });
    expect(err.context.issues.map((i) => i.path).sort()).toEqual(['k', 'maxIterations', 'regCovar', 'tol']);
  });

  it('an unknown init method lists the valid methods', () => {
    const err = optionsError({ k: 2, init: 'kmeans-plus-plus' });
    expect(err.context.issues[0].path).toBe('init');
    expect(err.message).toContain('kmeans++');
    expect(err.message).toContain('random-from-data');
  });
});

describe('collapsing components are re-seeded, never NaN', () => {
  it('hard EM, K = 4 on 3 tight clusters, two starting means equal: the shadowed one is re-seeded', () => {
    const data = threeClusters(90, 0.05);
    for (const covarianceType of COVARIANCE_TYPES) {
      const covariances = covarianceType === 'full' ? Array(4).fill([[1, 0], [0, 1]]) : covarianceType === 'diag' ? Array(4).fill([1, 1]) : covarianceType === 'tied' ? [[1, 0], [0, 1]] : [1, 1, 1, 1];
      const r = fitGmm(data, {
        k: 4,
        covarianceType,
        mode: 'hard',
        // components 0 and 3 start on the same mean: every tie goes to 0, so 3 gets no point
        init: { weights: [0.25, 0.25, 0.25, 0.25], means: [[0, 0], [10, 0], [0, 10], [0, 0]], covariances },
        maxIterations: 50,
      });
      expect(r.reseeded).toBeGreaterThan(0);
      expectFinite(r.params);
      expect(Number.isFinite(r.logLikelihood)).toBe(true);
      const m = new GaussianMixture(r.params);
      for (const v of m.predictProba(data)) expect(Number.isFinite(v)).toBe(true);
    }
  });

  it('soft EM with a starting mean far from all data: the component is re-seeded', () => {
    const data = threeClusters(90, 0.5);
    for (const covarianceType of COVARIANCE_TYPES) {
      const covariances = covarianceType === 'full' ? Array(4).fill([[1, 0], [0, 1]]) : covarianceType === 'diag' ? Array(4).fill([1, 1]) : covarianceType === 'tied' ? [[1, 0], [0, 1]] : [1, 1, 1, 1];
      const r = fitGmm(data, {
        k: 4,
        covarianceType,
        init: { weights: [0.25, 0.25, 0.25, 0.25], means: [[0, 0], [10, 0], [0, 10], [1e6, -1e6]], covariances },
        maxIterations: 50,
      });
      expect(r.reseeded).toBeGreaterThan(0);
      expectFinite(r.params);
      expect(Number.isFinite(r.logLikelihood)).toBe(true);
      // the far mean was pulled back into the data
      for (let c = 0; c < 4; c++) expect(Math.abs(r.params.means[c * 2]) + Math.abs(r.params.means[c * 2 + 1])).toBeLessThan(100);
    }
  });

  it('K = 4 on 3 tight clusters from every init method stays finite', () => {
    const data = threeClusters(90, 0.01);
    for (const covarianceType of COVARIANCE_TYPES) {
      for (const mode of ['soft', 'hard'] as const) {
        const r = fitGmm(data, { k: 4, covarianceType, mode, restarts: 3, seed: 5 });
        expectFinite(r.params);
        for (const c of r.candidates) expect(Number.isFinite(c.logLikelihood) && Number.isFinite(c.expectedLogLikelihood)).toBe(true);
      }
    }
  });
});

describe('CovarianceError: a covariance that cannot be factored', () => {
  /** 20 points whose second column is the constant 5: with regCovar 0 its variance is exactly 0. */
  const constantColumn: Dataset = (() => {
    const data = new Float64Array(40);
    for (let i = 0; i < 20; i++) {
      data[2 * i] = i % 7;
      data[2 * i + 1] = 5;
    }
    return { n: 20, d: 2, data };
  })();

  it.each(['full', 'diag', 'tied'] as const)('%s, regCovar 0, a constant column', (covarianceType) => {
    const err = thrown(() => fitGmm(constantColumn, { k: 2, covarianceType, regCovar: 0 }), CovarianceError);
    expect(err.name).toBe('CovarianceError');
    expect(err.retriable).toBe(false);
    expect(err.context).toMatchObject({ covarianceType, regCovar: 0 });
    expect(typeof err.context.component).toBe('number');
    expect(err.message).toMatch(/not positive definite/);
    expect(err.message).toMatch(/use fewer components/);
    expect(err.message).toMatch(/larger regCovar \(now 0\)/);
    expect(err.message).toMatch(/scale the data/);
    // the default regCovar fixes it
    expect(() => fitGmm(constantColumn, { k: 2, covarianceType })).not.toThrow();
  });

  it('tied, regCovar 0, exactly collinear data (y = 2x + 1)', () => {
    const data = new Float64Array(60);
    for (let i = 0; i < 30; i++) {
      const x = ((i * 37) % 11) + (i > 15 ? 20 : 0);
      data[2 * i] = x;
      data[2 * i + 1] = 2 * x + 1;
    }
    const err = thrown(() => fitGmm({ n: 30, d: 2, data }, { k: 2, covarianceType: 'tied', regCovar: 0 }), CovarianceError);
    expect(err.context.covarianceType).toBe('tied');
  });

  it('spherical pools the variances, so a constant column alone does not break it', () => {
    const r = fitGmm(constantColumn, { k: 2, covarianceType: 'spherical', regCovar: 0 });
    for (const v of r.params.covariances) expect(v).toBeGreaterThan(0);
  });

  it('runEM from given parameters raises it too; the GaussianMixture constructor rejects a non-PD covariance', () => {
    const init: GmmParams = { k: 1, d: 2, covarianceType: 'tied', weights: Float64Array.of(1), means: Float64Array.of(3, 5), covariances: Float64Array.of(1, 0, 0, 1) };
    expect(() => runEM(constantColumn, init, { maxIterations: 5, tol: 0, regCovar: 0, mode: 'soft' })).toThrow(CovarianceError);
    const bad: GmmParams = { ...init, covariances: Float64Array.of(1, 2, 2, 1) };
    expect(() => new GaussianMixture(bad)).toThrow(CovarianceError);
  });
});
