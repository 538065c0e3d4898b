/**
 * No untyped error escapes the numeric core: on data of any scale (1e-300 … 1e160, repeated values,
 * constant columns, regCovar 0) a fit either succeeds or throws an EmstreamError subclass. Before the
 * one Cholesky checked finiteness, NaN statistics reached ml-matrix, which threw a plain
 * "Matrix is not symmetric".
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { COVARIANCE_TYPES, DataError, EmstreamError, fitGmm, GaussianMixture, StreamingGmm } from 'emstream';
import { cholesky } from '../../src/gmm/linalg.js';
import { Rng } from '../../src/gmm/rng.js';

const caseArb = fc.record({
  d: fc.integer({ min: 1, max: 4 }),
  n: fc.integer({ min: 5, max: 60 }),
  k: fc.integer({ min: 1, max: 3 }),
  exponent: fc.double({ min: -300, max: 160, noNaN: true }),
  type: fc.constantFrom(...COVARIANCE_TYPES),
  regCovar: fc.constantFrom(0, 1e-6),
  seed: fc.integer({ min: 0, max: 1000 }),
});

function data(c: { d: number; n: number; exponent: number; seed: number }): Float64Array {
  const rng = new Rng(c.seed);
  const scale = Math.pow(10, c.exponent);
  return Float64Array.from({ length: c.n * c.d }, () => (rng.uniform() < 0.3 ? Math.round(rng.normal()) : rng.normal()) * scale * (rng.uniform() < 0.1 ? 1e10 : 1));
}

/** Runs `fn`; returns 'ok' or the error's name, failing on an error that is not an EmstreamError. */
function outcome(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (!(err instanceof EmstreamError)) throw new Error(`untyped error escaped: ${String(err)}`);
    return err.name;
  }
}

describe('numeric safety', () => {
  it('fitGmm and StreamingGmm succeed or throw typed errors at every scale', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(caseArb, (c) => {
        const x = data(c);
        seen.add(outcome(() => fitGmm({ n: c.n, d: c.d, data: x }, { k: c.k, covarianceType: c.type, regCovar: c.regCovar, seed: c.seed })));
        seen.add(
          outcome(() => {
            const g = new StreamingGmm({ k: c.k, covarianceType: c.type, regCovar: c.regCovar, seed: c.seed, halfLife: 2 });
            g.update({ n: c.n, d: c.d, data: x });
            g.update({ n: c.n, d: c.d, data: x.map((v) => v * 1.5) });
          }),
        );
      }),
      { numRuns: 150, seed: 8 },
    );
    // The generator reaches all three outcomes, so the property is not vacuous.
    expect(seen).toEqual(new Set(['ok', 'CovarianceError', 'DataError']));
  });

  it('a value whose square overflows is a DataError naming its row and column', () => {
    const x = Float64Array.of(0, 1, 2, 3, 1e160, 5);
    expect(() => fitGmm({ n: 3, d: 2, data: x }, { k: 1 })).toThrow(DataError);
    expect(() => GaussianMixture.fit([[0, 1], [2, 3], [1e160, 5]], { k: 1 })).toThrow(/row 2, column 0 is 1e\+160: its square overflows/);
    expect(() => fitGmm({ n: 3, d: 2, data: Float64Array.of(0, 1, 2, 3, 1e150, 5) }, { k: 1 })).not.toThrow();
  });

  it('the Cholesky factor is null, never an exception, for NaN, infinite or indefinite matrices', () => {
    expect(cholesky(Float64Array.of(4, 2, 2, 3), 2)).toEqual(Float64Array.of(2, 0, 1, Math.sqrt(2)));
    expect(cholesky(Float64Array.of(Number.NaN, 0, 0, 1), 2)).toBeNull();
    expect(cholesky(Float64Array.of(1, Number.NaN, Number.NaN, 1), 2)).toBeNull();
    expect(cholesky(Float64Array.of(Infinity, 0, 0, 1), 2)).toBeNull();
    expect(cholesky(Float64Array.of(1, 2, 2, 1), 2)).toBeNull();
    expect(cholesky(Float64Array.of(0, 0, 0, 1), 2)).toBeNull();
  });
});
