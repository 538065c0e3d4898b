/**
 * Cold candidates from several seedings (`init`, default k-means++ and Lloyd's k-means, `restarts` from each): on
 * heavily overlapping clusters the two land in different optima, and the best of both by `select` is the better
 * start for the stream.
 */
import { describe, expect, it } from 'vitest';
import { generate, randomScenario } from '../../bench/streams.js';
import { adjustedRandIndex } from '../../src/gmm/metrics.js';
import { dataMean, initialise, KmeansPlusPlusSeeding } from '../../src/gmm/init.js';
import { Rng } from '../../src/gmm/rng.js';
import { GaussianMixture, StreamingGmm } from '../../src/index.js';

describe('cold candidates from k-means++ and k-means seedings', () => {
  // A tuning stream of the quality suite: ten overlapping full-covariance clusters in 3-D (true mixture ARI ≈ 0.8).
  const data = generate(randomScenario(108));
  const s = data.scenario;
  const window = (t: number): { n: number; d: number; data: Float64Array } => ({ n: s.size, d: s.d, data: data.windows[t] });
  const first = (init?: 'kmeans++' | 'kmeans'): { gmm: StreamingGmm; fit: ReturnType<StreamingGmm['update']> } => {
    const gmm = new StreamingGmm({ k: s.k, covarianceType: s.covarianceType, seed: 1, ...(init === undefined ? {} : { init }) });
    return { gmm, fit: gmm.update(window(0)) };
  };
  const ari = (gmm: StreamingGmm): number => adjustedRandIndex(data.truth[1], new GaussianMixture(gmm.model!).predict(window(1)));

  it('runs `restarts` candidates from each method on the first window (overlapping clusters: no start repeats another), k-means++ ones first', () => {
    const both = first();
    expect(both.fit.candidates).toHaveLength(20);
    expect(both.fit.candidates.every((c) => c.kind === 'cold')).toBe(true);
    expect(first('kmeans').fit.candidates).toHaveLength(10);
    // The k-means++ half is exactly the candidates init: 'kmeans++' alone runs (same generator forks, same order).
    const plus = first('kmeans++');
    expect(both.fit.candidates.slice(0, 10).map((c) => c.logLikelihood)).toEqual(plus.fit.candidates.map((c) => c.logLikelihood));
  });

  it('keeps the best of both by the expected log-likelihood; here a k-means start, nearer the true mixture', () => {
    const both = first();
    const plus = first('kmeans++');
    const selected = both.fit.candidates.findIndex((c) => c.selected);
    expect(selected).toBeGreaterThanOrEqual(10);
    const best = Math.max(...both.fit.candidates.map((c) => c.expectedLogLikelihood));
    expect(both.fit.candidates[selected].expectedLogLikelihood).toBe(best);
    expect(best).toBeGreaterThan(Math.max(...plus.fit.candidates.map((c) => c.expectedLogLikelihood)));
    // the next window, labelled by each first model (prequential), against the generating components
    expect(ari(both.gmm)).toBeGreaterThan(ari(plus.gmm) + 0.05);
  });

  it('a k-means start identical to its k-means++ start (separated clusters) is not run twice', () => {
    // four well separated blobs in 2-D: Lloyd's iterations from a k-means++ seeding that found all four change nothing
    const rng = new Rng(5);
    const centres = [[0, 0], [20, 0], [0, 20], [20, 20]];
    const n = 400;
    const x = new Float64Array(n * 2);
    for (let i = 0; i < n; i++) for (let a = 0; a < 2; a++) x[i * 2 + a] = centres[i % 4][a] + rng.normal();
    const gmm = new StreamingGmm({ k: 4, covarianceType: 'full', seed: 1 });
    const fit = gmm.update({ n, d: 2, data: x });
    const plus = new StreamingGmm({ k: 4, covarianceType: 'full', seed: 1, init: 'kmeans++' }).update({ n, d: 2, data: x });
    // the k-means++ candidates, then only those k-means starts that differ from their seeding's k-means++ start
    expect(fit.candidates.slice(0, 10).map((c) => c.logLikelihood)).toEqual(plus.candidates.map((c) => c.logLikelihood));
    expect(fit.candidates.length).toBeLessThan(20);
    // each seeding, shared: the k-means start is the k-means++ one (the same object) when Lloyd's change nothing
    const data = { n, d: 2, data: x };
    const ctx = { k: 4, covarianceType: 'full' as const, regCovar: 1e-6, shift: dataMean(data) };
    let same = 0;
    for (let seed = 1; seed <= 10; seed++) {
      const seeding = new KmeansPlusPlusSeeding(data, { ...ctx, rng: new Rng(seed) });
      const kmeansStart = seeding.start('kmeans');
      // a shared seeding gives each method exactly what that method alone draws from the same generator
      expect(Array.from(kmeansStart.means)).toEqual(Array.from(initialise(data, 'kmeans', { ...ctx, rng: new Rng(seed) }).means));
      expect(Array.from(seeding.start('kmeans++').means)).toEqual(Array.from(initialise(data, 'kmeans++', { ...ctx, rng: new Rng(seed) }).means));
      if (kmeansStart === seeding.start('kmeans++')) same++;
    }
    expect(same).toBeGreaterThan(0);
  });

  it('rejects an empty list of methods and an unknown one', () => {
    expect(() => new StreamingGmm({ k: 2, init: [] })).toThrow(/init: must name at least one method/);
    expect(() => new StreamingGmm({ k: 2, init: ['kmeans++', 'lloyd' as never] })).toThrow(/init/);
  });
});
