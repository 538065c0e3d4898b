/**
 * The statistics topic's messages (contributions, seeds) read back exactly, refused with the field that is wrong,
 * kept within the topic's limit; and a reducer's round: weighted merging about the global origin, bounded samples and
 * seeds.
 */
import { describe, expect, it } from 'vitest';
import { SufficientStats } from '../../src/gmm/stats.js';
import { MessageFormatError, KafkaEdgeError } from '../../src/kafka/errors.js';
import { contributionBytesBound, contributionMessage, contributionsOutput, readStatsMessage, seedMessage, type ContributionMessage } from '../../src/kafka/messages/contributions.js';
import { messageBytes } from '../../src/kafka/messages/sizes.js';
import type { OutgoingMessage } from '../../src/kafka/messages/outputs.js';
import { MAX_ROUND_SAMPLE, MAX_SEED_POINTS, Round } from '../../src/kafka/shared/round.js';
import type { MixtureUpdate, WindowContribution } from '../../src/operators/types.js';
import { seededUniform } from '../helpers/random.js';
import { EmstreamOptionsError } from '../../src/errors.js';
import { resolveRunConfig } from '../../src/kafka/run/config.js';
import { standardPipeline } from '../../src/kafka/run/standardPipeline.js';
import { sharedModelOptions } from '../../src/kafka/shared/sharedModel.js';
import { fitMixture } from '../../src/operators/fitMixture.js';
import { windowVectors } from '../../src/operators/windowVectors.js';
import { definePipeline } from '../../src/pipeline.js';

/** A contribution with random statistics (K = 3, D = 2, full) about `shift`. */
function contribution(seed: number, shift = [1, 2], sampleSize = 5): WindowContribution {
  const u = seededUniform(seed);
  const stats = new SufficientStats(3, 2, 'full', shift);
  for (const a of [stats.s0, stats.s1, stats.s2]) for (let i = 0; i < a.length; i++) a[i] = u() * 100 + 1e-7 * u();
  const sample = Float64Array.from({ length: sampleSize * 2 }, () => u() * 10);
  return { topic: 'points', partition: 2, firstOffset: '9007199254740993', lastOffset: '9007199254741992', count: 1000, windowShare: 0.5, modelVersion: 12, stats, logLikelihood: -1234.5678901234, logLikelihoodSquares: 9876.54321, expectedLogLikelihood: -1500.25, sample, sampleSize };
}

describe('statistics-topic messages', () => {
  it('a contribution reads back exactly (every double, offsets beyond 2^53), keyed <pipelineId>/<topic>/<partition>', () => {
    const c = contribution(1);
    const message = contributionMessage(c, 'sensors');
    expect(message.key).toBe('sensors/points/2');
    const read = readStatsMessage(message.value as string) as ContributionMessage;
    expect(read.kind).toBe('contribution');
    expect(read.pipelineId).toBe('sensors');
    expect([read.firstOffset, read.lastOffset, read.count, read.windowShare, read.modelVersion]).toEqual([c.firstOffset, c.lastOffset, 1000, 0.5, 12]);
    for (const key of ['shift', 's0', 's1', 's2'] as const) expect(Array.from(read.stats[key])).toEqual(Array.from(c.stats[key]));
    expect([read.logLikelihood, read.logLikelihoodSquares, read.expectedLogLikelihood]).toEqual([c.logLikelihood, c.logLikelihoodSquares, c.expectedLogLikelihood]);
    expect(Array.from(read.sample)).toEqual(Array.from(c.sample));
    expect(read.sampleSize).toBe(5);
    expect(messageBytes(message)).toBeLessThanOrEqual(contributionBytesBound(3, 2, 'full', 5));
  });

  it('a seed reads back exactly', () => {
    const points = Float64Array.from({ length: 20 }, (_, i) => i / 7);
    const read = readStatsMessage(seedMessage('sensors', { n: 10, d: 2, points }).value as string);
    expect(read).toMatchObject({ kind: 'seed', pipelineId: 'sensors', n: 10, d: 2 });
    expect(Array.from(read.kind === 'seed' ? read.points : [])).toEqual(Array.from(points));
  });

  it('refuses what is not a well-formed statistics message, naming the field', () => {
    const good = JSON.parse(contributionMessage(contribution(2), 'p').value as string) as Record<string, unknown>;
    const bad = (patch: Record<string, unknown>): unknown => {
      try {
        readStatsMessage(JSON.stringify({ ...good, ...patch }));
      } catch (err) {
        return err;
      }
      return undefined;
    };
    expect(() => readStatsMessage('not json')).toThrow(MessageFormatError);
    expect(bad({ format: 'other' })).toMatchObject({ context: { field: 'format' } });
    expect(bad({ messageVersion: 9 })).toMatchObject({ context: { field: 'messageVersion' } });
    expect(bad({ firstOffset: 12 })).toMatchObject({ context: { field: 'firstOffset' } });
    expect(bad({ count: 0 })).toMatchObject({ context: { field: 'count' } });
    expect(bad({ modelVersion: -1 })).toMatchObject({ context: { field: 'modelVersion' } });
    expect(bad({ logLikelihood: null })).toMatchObject({ context: { field: 'logLikelihood' } });
    expect(bad({ stats: { ...(good.stats as object), s0: Buffer.from(new Float64Array([1, 2]).buffer).toString('base64') } })).toMatchObject({ context: { field: 'stats.s0' } });
    expect(bad({ stats: { ...(good.stats as object), s1: Buffer.from(new Float64Array([1, 2, 3, 4, 5, Number.NaN]).buffer).toString('base64') } })).toMatchObject({ context: { field: 'stats.s1' } });
    expect(bad({ sample: { n: 3, values: (good.sample as { values: string }).values } })).toMatchObject({ context: { field: 'sample.values' } });
    expect(bad({ kind: 'other' })).toMatchObject({ context: { field: 'kind' } });
  });

  it('the contributions output writes one message per contribution, and refuses one over the topic limit with the fix', () => {
    const c = contribution(3, [1, 2], 5);
    const update = { contributions: [c, { ...c, partition: 3 }] } as unknown as MixtureUpdate<unknown>;
    const into: OutgoingMessage[] = [];
    contributionsOutput('points.stats', { maxMessageBytes: 1 << 20 }).messages({ update, pipelineId: 'p', windowIndex: 0, offsets: [] }, into);
    expect(into.map((m) => [m.topic, m.message.key])).toEqual([
      ['points.stats', 'p/points/2'],
      ['points.stats', 'p/points/3'],
    ]);
    const small = contributionsOutput('points.stats', { maxMessageBytes: 500 });
    const err = (() => {
      try {
        small.messages({ update, pipelineId: 'p', windowIndex: 0, offsets: [] }, []);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(KafkaEdgeError);
    expect((err as Error).message).toMatch(/more than max\.message\.bytes 500 of the statistics topic "points\.stats": raise it .*samplePoints/);
  });
});

describe('a round of the reducer', () => {
  it('merges contributions with their weights about the global origin (contributions about other origins moved exactly)', () => {
    const shape = { k: 3, d: 2, covarianceType: 'full' as const, shift: Float64Array.of(0, 0) };
    const round = new Round(shape, 1);
    const a = { ...contribution(4, [1, 2]), kind: 'contribution' as const, pipelineId: 'p', producedAt: 0 };
    const b = { ...contribution(5, [-3, 0.5]), kind: 'contribution' as const, pipelineId: 'p', producedAt: 0 };
    round.add(a, 1, 0);
    round.add(b, 0.25, 3);
    const merged = round.merged();
    const expected = new SufficientStats(3, 2, 'full', [0, 0]).merge(a.stats).merge(b.stats, 0.25);
    for (const key of ['s0', 's1', 's2'] as const) for (let i = 0; i < expected[key].length; i++) expect(merged.stats[key][i]).toBeCloseTo(expected[key][i], 8);
    expect(merged.count).toBe(1250);
    expect(merged.windows).toBeCloseTo(0.625, 12);
    expect(merged.logLikelihood).toBeCloseTo(a.logLikelihood + 0.25 * b.logLikelihood, 9);
    expect(merged.contributions).toBe(2);
    expect(merged.stalenessMax).toBe(3);
    expect(merged.sample.n).toBe(10);
  });

  it('pools at most MAX_ROUND_SAMPLE sampled points (a seeded reservoir) and MAX_SEED_POINTS seed points', () => {
    const shape = { k: 3, d: 2, covarianceType: 'full' as const, shift: Float64Array.of(0, 0) };
    const round = new Round(shape, 9);
    const many = { ...contribution(6, [0, 0], 1000), kind: 'contribution' as const, pipelineId: 'p', producedAt: 0 };
    for (let i = 0; i < 6; i++) round.add(many, 1, 0);
    expect(round.merged().sample.n).toBe(MAX_ROUND_SAMPLE);
    const seeds = new Round(null, 1);
    for (let i = 0; i < 3; i++) seeds.seed({ kind: 'seed', pipelineId: 'p', n: 8000, d: 2, points: new Float64Array(16000).fill(i), producedAt: 0 });
    seeds.seed({ kind: 'seed', pipelineId: 'p', n: 10, d: 3, points: new Float64Array(30), producedAt: 0 });
    const data = seeds.seedData();
    expect([data.n, data.d]).toEqual([MAX_SEED_POINTS, 2]);
    expect(data.data[MAX_SEED_POINTS * 2 - 1]).toBe(2);
  });
});

describe('the shared-model options', () => {
  const pipeline = standardPipeline({ k: 3, window: 100 });
  const brokers = ['127.0.0.1:9092'];

  it('resolve to the statistics topic <input>.stats, the reducer group <group>.reducer and the defaults', () => {
    expect(resolveRunConfig({ pipeline, brokers, input: 'in' }).shared).toBeNull();
    expect(resolveRunConfig({ pipeline, brokers, input: 'in', sharedModel: true }).shared).toEqual({ stats: 'in.stats', reducerGroup: 'emstream-standard.reducer', maxStaleness: 8, samplePoints: 32, roundMs: 200, modelTimeoutMs: 120_000 });
    expect(resolveRunConfig({ pipeline, brokers, input: 'in', group: 'g', stats: 's', sharedModel: { maxStaleness: 2, roundMs: 50 }, brokerTimeoutMs: 30_000 }).shared).toMatchObject({ stats: 's', reducerGroup: 'g.reducer', maxStaleness: 2, roundMs: 50, modelTimeoutMs: 30_000 });
  });

  it('are refused with the fix: stats without the mode, a statistics topic that is another output, bad bounds', () => {
    expect(() => resolveRunConfig({ pipeline, brokers, input: 'in', stats: 's' })).toThrow(/stats: applies to the shared-model mode only: add sharedModel: true/);
    expect(() => resolveRunConfig({ pipeline, brokers, input: 'in', sharedModel: true, stats: 'in.labels' })).toThrow(/stats: is the topic "in.labels", already the labels topic/);
    expect(() => resolveRunConfig({ pipeline, brokers, input: 'in', sharedModel: true, stats: 'in' })).toThrow(/stats: is the input topic/);
    expect(() => resolveRunConfig({ pipeline, brokers, input: 'in', sharedModel: { maxStaleness: -1 } })).toThrow(EmstreamOptionsError);
    expect(() => resolveRunConfig({ pipeline, brokers, input: 'in', sharedModel: { samplePoints: 5000 } })).toThrow(/samplePoints.*at most 4096/);
    expect(() => resolveRunConfig({ pipeline, brokers, input: 'in', sharedModel: { every: 3 } as never })).toThrow(EmstreamOptionsError);
  });

  it("the reducer fits with the options of the pipeline's fitMixture, learned by building it once", () => {
    expect(sharedModelOptions(standardPipeline({ k: 4, window: 10, halfLife: 5, seed: 9 }))).toMatchObject({ k: 4, halfLife: 5, seed: 9 });
    const none = definePipeline({ name: 'none', build: (input) => input.pipe(windowVectors({ size: 10 })) as never });
    expect(() => sharedModelOptions(none)).toThrow(/no fitMixture to share \(it creates none\)/);
    const own = definePipeline({ name: 'own', build: (input) => input.pipe(windowVectors({ size: 10 }), fitMixture({ k: 2, initialModel: { format: 'emstream.gmm', version: 1, covarianceType: 'diag', k: 2, d: 1, weights: [0.5, 0.5], means: [[0], [1]], covariances: [[1], [1]] } })) });
    expect(() => sharedModelOptions(own)).toThrow(/each was given a model or state of its own/);
  });

  it('refuses a fitMixture with a range of K: the reducer makes no changes of K from merged statistics', () => {
    const ranged = definePipeline({ name: 'ranged', build: (input) => input.pipe(windowVectors({ size: 10 }), fitMixture({ k: { min: 2, max: 6 } })) });
    try {
      sharedModelOptions(ranged);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(EmstreamOptionsError);
      expect((err as EmstreamOptionsError).context.issues[0].path).toBe('sharedModel');
      expect((err as EmstreamOptionsError).message).toMatch(/pipeline "ranged" has a range of K \(k: \{ min: 2, max: 6 \}\), which the shared-model mode does not support .*give the fitMixture a fixed k, or run without sharedModel/);
    }
  });
});
