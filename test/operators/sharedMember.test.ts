/**
 * A member of a shared model: the window's E-step under a given model split by input partition
 * (`windowContributions`, against a per-point reference computed with ml-matrix), and `fitMixture` built in a
 * shared-model scope (labels through the global model's label ids, offsets already counted left out, windows held
 * for the first model and seeding it, a model of another K refused).
 */
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { from, lastValueFrom, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { StateMismatchError } from '../../src/gmm/errors.js';
import { paramsToJSON } from '../../src/gmm/model.js';
import { mStep } from '../../src/gmm/mstep.js';
import { StreamingGmm } from '../../src/gmm/streaming.js';
import type { GmmParams } from '../../src/gmm/types.js';
import { fitMixture } from '../../src/operators/fitMixture.js';
import { buildInPipelineScope } from '../../src/operators/pipelineScope.js';
import type { GlobalModel, SharedModelLink } from '../../src/operators/sharedMember.js';
import type { MixtureUpdate } from '../../src/operators/types.js';
import { windowContributions } from '../../src/operators/windowContributions.js';
import { windowVectors } from '../../src/operators/windowVectors.js';
import { randomMixture, seededUniform } from '../helpers/random.js';

/** Points drawn around the model's means (not from it exactly: the reference does not care). */
function points(params: GmmParams, n: number, seed: number): Float64Array {
  const u = seededUniform(seed);
  const out = new Float64Array(n * params.d);
  for (let i = 0; i < n; i++) {
    const k = i % params.k;
    for (let a = 0; a < params.d; a++) out[i * params.d + a] = params.means[k * params.d + a] + 3 * (u() - 0.5);
  }
  return out;
}

/** Per point and component, log(π_k N(x | μ_k, Σ_k)) with ml-matrix's Cholesky and determinant (full covariances). */
function referenceLogJoint(p: GmmParams, x: Float64Array, n: number): number[][] {
  const { k: K, d: D } = p;
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: K }, (_, k) => {
      const cov = new Matrix(D, D);
      for (let a = 0; a < D; a++) for (let b = 0; b < D; b++) cov.set(a, b, p.covariances[k * D * D + a * D + b]);
      const chol = new CholeskyDecomposition(cov);
      const diff = Matrix.columnVector(Array.from({ length: D }, (_, a) => x[i * D + a] - p.means[k * D + a]));
      const y = chol.solve(diff);
      let maha = 0;
      for (let a = 0; a < D; a++) maha += diff.get(a, 0) * y.get(a, 0);
      let logDet = 0;
      const L = chol.lowerTriangularMatrix;
      for (let a = 0; a < D; a++) logDet += 2 * Math.log(L.get(a, a));
      return Math.log(p.weights[k]) - 0.5 * (D * Math.log(2 * Math.PI) + logDet + maha);
    }),
  );
}

describe('windowContributions', () => {
  it('matches a per-point reference: labels, log-densities, and per-part statistics (through the M-step) and sums', () => {
    const params = randomMixture(seededUniform(3), 3, 4, 'full');
    const n = 300;
    const data = points(params, n, 5);
    const shift = Float64Array.of(1, -2, 0.5, 3);
    // Rows 0..99 part 0, 100..149 not counted, 150..219 part 1, 220..299 part 0 again.
    const segments = [
      { part: 0, start: 0, end: 100 },
      { part: -1, start: 100, end: 150 },
      { part: 1, start: 150, end: 220 },
      { part: 0, start: 220, end: 300 },
    ];
    const out = windowContributions(params, { n, d: 4, data }, { shift, segments, parts: 2, hard: false, samplePoints: 16, sampleSeed: (p) => 40 + p });
    const joint = referenceLogJoint(params, data, n);
    const logp = joint.map((row) => {
      const m = Math.max(...row);
      return m + Math.log(row.reduce((s, v) => s + Math.exp(v - m), 0));
    });
    const resp = joint.map((row, i) => row.map((v) => Math.exp(v - logp[i])));
    for (let i = 0; i < n; i++) {
      expect(out.logDensities[i]).toBeCloseTo(logp[i], 9);
      const best = resp[i].indexOf(Math.max(...resp[i]));
      expect(out.labels[i]).toBe(best);
      expect(out.probabilities[i]).toBeCloseTo(resp[i][best], 9);
    }
    const rowsOf = (part: number): number[] => segments.filter((s) => s.part === part).flatMap((s) => Array.from({ length: s.end - s.start }, (_, j) => s.start + j));
    for (const part of [0, 1]) {
      const rows = rowsOf(part);
      const c = out.parts[part];
      expect(c.count).toBe(rows.length);
      expect(c.logLikelihood).toBeCloseTo(rows.reduce((s, i) => s + logp[i], 0), 7);
      expect(c.logLikelihoodSquares).toBeCloseTo(rows.reduce((s, i) => s + logp[i] ** 2, 0), 5);
      expect(c.expectedLogLikelihood).toBeCloseTo(rows.reduce((s, i) => s + resp[i].reduce((q, w, k) => q + w * joint[i][k], 0), 0), 7);
      expect(Array.from(c.stats.shift)).toEqual(Array.from(shift));
      // The statistics through the M-step: weighted means and covariances of the part's rows.
      const { params: fitted } = mStep(c.stats, { regCovar: 0 });
      for (let k = 0; k < 3; k++) {
        const w = rows.map((i) => resp[i][k]);
        const W = w.reduce((s, v) => s + v, 0);
        expect(c.stats.s0[k]).toBeCloseTo(W, 9);
        const mean = [0, 1, 2, 3].map((a) => rows.reduce((s, i, j) => s + w[j] * data[i * 4 + a], 0) / W);
        for (let a = 0; a < 4; a++) expect(fitted.means[k * 4 + a]).toBeCloseTo(mean[a], 8);
        for (let a = 0; a < 4; a++) {
          for (let b = 0; b < 4; b++) {
            const cov = rows.reduce((s, i, j) => s + w[j] * (data[i * 4 + a] - mean[a]) * (data[i * 4 + b] - mean[b]), 0) / W;
            expect(fitted.covariances[k * 16 + a * 4 + b]).toBeCloseTo(cov, 7);
          }
        }
      }
      // The sample: distinct rows of the part, in window order, the same for the same seed.
      expect(c.sampleSize).toBe(16);
      const sampled = Array.from({ length: 16 }, (_, j) => rows.find((i) => [0, 1, 2, 3].every((a) => data[i * 4 + a] === c.sample[j * 4 + a]))!);
      expect(new Set(sampled).size).toBe(16);
      expect(sampled).toEqual([...sampled].sort((x, y) => x - y));
    }
    const again = windowContributions(params, { n, d: 4, data }, { shift, segments, parts: 2, hard: false, samplePoints: 16, sampleSeed: (p) => 40 + p });
    expect(Array.from(again.parts[0].sample)).toEqual(Array.from(out.parts[0].sample));
    expect(out.logLikelihood).toBeCloseTo(logp.reduce((s, v) => s + v, 0), 7);
  });

  it('the parts add up to the whole window (statistics are additive), for every covariance type', () => {
    for (const type of ['full', 'diag', 'spherical', 'tied'] as const) {
      const params = randomMixture(seededUniform(11), 4, 3, type);
      const n = 500;
      const data = points(params, n, 12);
      const shift = Float64Array.of(0.5, 0.5, 0.5);
      const whole = windowContributions(params, { n, d: 3, data }, { shift, segments: [{ part: 0, start: 0, end: n }], parts: 1, hard: false, samplePoints: 0, sampleSeed: () => 0 });
      const split = windowContributions(params, { n, d: 3, data }, { shift, segments: [{ part: 0, start: 0, end: 137 }, { part: 1, start: 137, end: 400 }, { part: 0, start: 400, end: n }], parts: 2, hard: false, samplePoints: 0, sampleSeed: () => 0 });
      const sum = split.parts[0].stats.clone().merge(split.parts[1].stats);
      for (const key of ['s0', 's1', 's2'] as const) {
        const a = whole.parts[0].stats[key];
        const b = sum[key];
        for (let i = 0; i < a.length; i++) expect(b[i], `${type} ${key}[${i}]`).toBeCloseTo(a[i], 8);
      }
      expect(Array.from(split.labels)).toEqual(Array.from(whole.labels));
    }
  });
});

/** A global model for the operator tests: a fitted stream's, with its label ids permuted. */
function globalModel(version: number, labelIds: number[], covered: Record<number, string> = {}): GlobalModel {
  const gmm = new StreamingGmm({ k: 2, seed: 1 });
  const data = Float64Array.from({ length: 400 }, (_, i) => (i % 4 < 2 ? 0 : 10) + Math.sin(i));
  gmm.update({ n: 200, d: 2, data });
  const state = gmm.toJSON();
  const params = gmm.model!;
  return {
    version,
    params,
    model: paramsToJSON(params),
    labelIds,
    shift: Float64Array.from(state.stats!.shift),
    state,
    pageHinkley: { statistic: 0, threshold: 50 },
    covered: (_topic, partition) => covered[partition],
  };
}

/** Kafka-like records: `n` points alternating between two clusters, on the given partition, from offset `from`. */
function records(n: number, partition: number, from: number): { vector: number[]; topic: string; partition: number; offset: string }[] {
  return Array.from({ length: n }, (_, i) => ({ vector: [(from + i) % 2 === 0 ? 0.1 : 10.1, 0.2], topic: 'points', partition, offset: String(from + i) }));
}

/** A link over a fixed list of models: `current` is the last published. */
function link(initial?: GlobalModel): SharedModelLink & { publish(m: GlobalModel): void; seeds: number[] } {
  let current = initial;
  const waiters: { version: number; resolve: (m: GlobalModel) => void }[] = [];
  const seeds: number[] = [];
  return {
    seeds,
    samplePoints: 4,
    current: () => current,
    next: (version) => (current !== undefined && current.version > version ? Promise.resolve(current) : new Promise((resolve) => waiters.push({ version, resolve }))),
    seed: (w) => void seeds.push(w.n),
    publish(m) {
      current = m;
      for (const w of waiters.splice(0)) if (m.version > w.version) w.resolve(m);
    },
  };
}

/** Runs `fitMixture` built in a shared-model scope over the records, in windows of `size`. */
function member(shared: SharedModelLink, input: readonly { vector: number[] }[], size: number, k = 2, reuseBuffers = false): Promise<MixtureUpdate<unknown>[]> {
  const { result, sharedClaimed, sharedOptions } = buildInPipelineScope({ sharedModel: shared }, () =>
    from(input).pipe(windowVectors<{ vector: number[] }>({ size, reuseBuffers }), fitMixture({ k, seed: 3 }), toArray()),
  );
  expect(sharedClaimed).toBe(true);
  expect(sharedOptions).toMatchObject({ k, seed: 3 });
  return lastValueFrom(result as never);
}

describe('fitMixture as a member of a shared model', () => {
  it('labels with the global model (component → label through its label ids) and contributes one part per partition', async () => {
    const model = globalModel(7, [1, 0]);
    const input = [...records(6, 0, 100), ...records(4, 3, 50)];
    const [update] = await member(link(model), input, 10);
    expect(update.version).toBe(7);
    expect(update.iterations).toBe(0);
    // Component 0 holds the points near 0 (the fit put it first or second: labels follow the ids, not the index).
    const nearZero = model.params.means[0] < 5 ? 0 : 1;
    for (let i = 0; i < 10; i++) expect(update.labels[i]).toBe(model.labelIds[(i % 2 === 0) === (nearZero === 0) ? 0 : 1]);
    expect(update.contributions!.map((c) => [c.partition, c.firstOffset, c.lastOffset, c.count, c.modelVersion])).toEqual([
      [0, '100', '105', 6, 7],
      [3, '50', '53', 4, 7],
    ]);
    expect(update.contributions!.reduce((s, c) => s + c.windowShare, 0)).toBeCloseTo(1, 12);
    expect(update.contributions!.every((c) => c.sampleSize === 4)).toBe(true);
  });

  it('leaves out of its contributions the records the global statistics already count (a replay), but labels them', async () => {
    const model = globalModel(3, [0, 1], { 0: '104' });
    const [update] = await member(link(model), records(10, 0, 100), 10);
    expect(update.labels.length).toBe(10);
    expect(update.contributions!.map((c) => [c.firstOffset, c.lastOffset, c.count])).toEqual([['104', '109', 6]]);
    expect(update.contributions![0].windowShare).toBeCloseTo(0.6, 12);
  });

  it('holds its windows until the first global model, seeds it with the first one, then labels them in order', async () => {
    const shared = link();
    const running = member(shared, records(30, 0, 0), 10);
    await new Promise((r) => setTimeout(r, 20));
    expect(shared.seeds).toEqual([10]);
    shared.publish(globalModel(1, [0, 1]));
    const updates = await running;
    expect(updates.map((u) => [u.windowIndex, u.version, u.contributions![0].firstOffset])).toEqual([
      [0, 1, '0'],
      [1, 1, '10'],
      [2, 1, '20'],
    ]);
  });

  it('copies the lent windows it holds for the first model (reuseBuffers): it labels and contributes as with owned ones', async () => {
    const outcome = async (reuseBuffers: boolean) => {
      const shared = link();
      const running = member(shared, records(50, 0, 0), 10, 2, reuseBuffers);
      await new Promise((r) => setTimeout(r, 20));
      shared.publish(globalModel(1, [0, 1]));
      return (await running).map((u) => ({ labels: Array.from(u.labels), points: Array.from(u.window.points), contributions: JSON.parse(JSON.stringify(u.contributions)) as unknown }));
    };
    const lent = await outcome(true);
    expect(lent).toHaveLength(5);
    expect(lent).toEqual(await outcome(false));
  });

  it('refuses a global model of another K or covariance type (StateMismatchError)', async () => {
    await expect(member(link(globalModel(2, [0, 1])), records(10, 0, 0), 10, 3)).rejects.toBeInstanceOf(StateMismatchError);
  });

  it('an error while handling a window goes downstream, not to the unhandled-error path (also while it waits for the first model)', async () => {
    const broken = { ...link(globalModel(1, [0, 1])), current: (): GlobalModel => { throw new Error('link broken'); } };
    await expect(member(broken, records(10, 0, 0), 10)).rejects.toThrow('link broken');
    const waiting = link();
    let published = false;
    const current = (): GlobalModel | undefined => {
      if (published) throw new Error('link broken after the wait');
      return undefined;
    };
    const running = member({ ...waiting, current }, records(10, 0, 0), 10);
    await new Promise((r) => setTimeout(r, 20));
    published = true;
    waiting.publish(globalModel(1, [0, 1]));
    await expect(running).rejects.toThrow('link broken after the wait');
  });

  it('a fitMixture given a model of its own is not a member: it fits alone', () => {
    const own = globalModel(1, [0, 1]).model;
    const { sharedClaimed, mixtures } = buildInPipelineScope({ sharedModel: link() }, () => from([[0, 0]]).pipe(windowVectors({ size: 1 }), fitMixture({ k: 2, initialModel: own })));
    expect(sharedClaimed).toBe(false);
    expect(mixtures).toBe(1);
  });
});
