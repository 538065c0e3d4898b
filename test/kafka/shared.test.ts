/**
 * The shared-model mode on a real broker: members of one consumer group fit one model. Each test compares the global
 * model with the model one member fits alone over the whole stream (the default mode, windows over all four
 * partitions), component by component, in units of each parameter's standard error (see `modelGap`), and checks the
 * labels from outside: every input labelled, with a global model version, and label k the same cluster on every
 * partition.
 */
import type { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { EmstreamOptionsError } from '../../src/errors.js';
import { matchComponents } from '../../src/gmm/align.js';
import { paramsFromJSON, type MixtureJSON } from '../../src/gmm/model.js';
import { Rng } from '../../src/gmm/rng.js';
import { Instrumentation } from '../../src/instrumentation.js';
import { readDriftMessage } from '../../src/kafka/messages/history.js';
import { readLabelMessage } from '../../src/kafka/messages/labels.js';
import type { KafkaPipelineHandle } from '../../src/kafka/run/handle.js';
import { runKafkaPipeline, type RunKafkaPipelineOptions } from '../../src/kafka/run/runner.js';
import { fitMixture } from '../../src/operators/fitMixture.js';
import { windowVectors } from '../../src/operators/windowVectors.js';
import { definePipeline } from '../../src/pipeline.js';
import { readModelMessage, type ReadModelMessage } from '../../src/kafka/state/format.js';
import { kafkaBrokers } from '../helpers/kafka.js';
import { createInput, produceAll, produceLive, readCommitted, sourceOf, testKafka, uniqueTopic, waitFor, type ReadMessage } from './helpers.js';

const WINDOW = 500;
const K = 3;
/** Short sessions: a member that joins or dies moves partitions in seconds. */
const SESSION_MS = 6000;
const CENTRES = [
  [0, 0, 0],
  [8, 0, 0],
  [0, 8, 4],
];
/** Standard deviations per axis of each cluster (so the covariances are not all alike). */
const SPREAD = [
  [1, 1, 1],
  [1.5, 0.7, 1],
  [0.8, 1.2, 2],
];

/** Point i: cluster i mod 3 (its key says which), Gaussian around its centre, seeded by i. */
function point(i: number): { key: string; value: string } {
  const c = i % 3;
  const rng = new Rng(1000 + i);
  return { key: `c${c}-${i}`, value: JSON.stringify(CENTRES[c].map((m, a) => m + SPREAD[c][a] * rng.normal())) };
}

/** The last state message of a key on a models topic, read_committed. */
async function latestState(kafka: Kafka, topic: string, key: string): Promise<ReadModelMessage | undefined> {
  const messages = (await readCommitted(kafka, topic)).filter((m) => m.key === key);
  return messages.length === 0 ? undefined : readModelMessage(messages[messages.length - 1].value);
}

/** Points the state counts: the sum of its covered offsets (each input partition's next offset not counted). */
const counted = (state: ReadModelMessage | undefined): number => state?.offsets.reduce((s, o) => s + Number(o.offset), 0) ?? 0;

/**
 * How far the shared model is from the single member's, in standard errors: components matched (Hungarian on the
 * Bhattacharyya distance), then the largest |difference| / standard error over the weights (√(π(1 − π)/N)), the
 * means (√(Σ_aa/N_k)) and the covariances (√((Σ_aa Σ_bb + Σ_ab²)/N_k)), N_k = π_k N, from the single member's model.
 */
export function modelGap(single: MixtureJSON, shared: MixtureJSON, n: number): { weights: number; means: number; covariances: number } {
  const a = paramsFromJSON(single);
  const b = paramsFromJSON(shared);
  const perm = matchComponents(a, b, 'bhattacharyya');
  const D = a.d;
  const gap = { weights: 0, means: 0, covariances: 0 };
  for (let k = 0; k < a.k; k++) {
    const j = perm[k];
    const pi = a.weights[k];
    const nk = pi * n;
    gap.weights = Math.max(gap.weights, Math.abs(a.weights[k] - b.weights[j]) / Math.sqrt((pi * (1 - pi)) / n));
    const cov = (p: typeof a, c: number, r: number, s: number): number => p.covariances[c * D * D + r * D + s];
    for (let r = 0; r < D; r++) {
      gap.means = Math.max(gap.means, Math.abs(a.means[k * D + r] - b.means[j * D + r]) / Math.sqrt(cov(a, k, r, r) / nk));
      for (let s = 0; s < D; s++) {
        const se = Math.sqrt((cov(a, k, r, r) * cov(a, k, s, s) + cov(a, k, r, s) ** 2) / nk);
        gap.covariances = Math.max(gap.covariances, Math.abs(cov(a, k, r, s) - cov(b, j, r, s)) / se);
      }
    }
  }
  return gap;
}

/**
 * The labels from outside: every input labelled (at least once), each with a version of the global model, and each
 * label one cluster on every partition (the cluster of most of its points, the same everywhere; purity per partition).
 */
function checkLabels(labels: readonly ReadMessage[], versions: ReadonlySet<number>, n: number): { purity: number; versions: number } {
  const seen = new Set<string>();
  const byLabel = new Map<number, Map<number, number[]>>(); // label → partition → counts per true cluster
  const used = new Set<number>();
  for (const m of labels) {
    const s = sourceOf(m);
    seen.add(`${s.partition}/${s.offset}`);
    const { label, modelVersion } = readLabelMessage(m.value);
    expect(versions.has(modelVersion), `label version ${modelVersion} is a global model version`).toBe(true);
    used.add(modelVersion);
    const truth = Number(m.key!.slice(1, m.key!.indexOf('-')));
    const perPartition = byLabel.get(label) ?? byLabel.set(label, new Map()).get(label)!;
    const counts = perPartition.get(s.partition) ?? perPartition.set(s.partition, [0, 0, 0]).get(s.partition)!;
    counts[truth]++;
  }
  expect(seen.size).toBe(n);
  let purity = 1;
  const clusterOf = new Map<number, number>();
  for (const [label, perPartition] of byLabel) {
    const majorities = [...perPartition.values()].map((counts) => counts.indexOf(Math.max(...counts)));
    expect(new Set(majorities).size, `label ${label} is one cluster on every partition`).toBe(1);
    clusterOf.set(label, majorities[0]);
    for (const counts of perPartition.values()) purity = Math.min(purity, Math.max(...counts) / counts.reduce((s, c) => s + c, 0));
  }
  expect(new Set(clusterOf.values()).size).toBe(K);
  return { purity, versions: used.size };
}

/**
 * The pipeline of every run here: windows of 500, K = 3, cumulative statistics (the default forgetting) and no
 * adaptive forgetting — on a stationary stream both the single member and the group then estimate the same thing,
 * the mixture of every point seen, so their difference is what distributing EM changes and nothing else.
 */
const pipeline = definePipeline({
  name: 'shared-test',
  build: (input, { onInvalid }) => input.pipe(windowVectors({ size: WINDOW, onInvalid }), fitMixture({ k: K, seed: 7, adaptive: false })),
});

/** Options of every run here. */
function runOptions(input: string, id: string, extra: Partial<RunKafkaPipelineOptions> = {}): RunKafkaPipelineOptions {
  return { brokers: kafkaBrokers(), pipeline, input, group: `${id}-g`, pipelineId: id, models: `${id}.models`, labels: `${id}.labels`, deadLetters: `${id}.dead-letters`, windows: false, drift: false, fromBeginning: true, sessionTimeoutMs: SESSION_MS, ...extra };
}

/** A member of the shared model `id` on `input`, started (not yet assigned). */
function sharedMember(input: string, id: string): Promise<KafkaPipelineHandle> {
  return runKafkaPipeline(runOptions(input, id, { sharedModel: true }));
}

/** The global model versions published on the models topic of `id`, in order. */
async function globalVersions(kafka: Kafka, id: string): Promise<number[]> {
  return (await readCommitted(kafka, `${id}.models`)).filter((m) => m.key === id).map((m) => readModelMessage(m.value).message.modelVersion);
}

/** The single member's model over the whole input (the default mode), its last window finished. */
async function singleMemberModel(kafka: Kafka, input: string, n: number): Promise<MixtureJSON> {
  const id = `${input}-single`;
  const run = await runKafkaPipeline(runOptions(input, id));
  await waitFor(() => run.counters.consumed >= n, 90_000, 'the single member to read the input');
  await run.stop({ finishWindow: true });
  const state = await latestState(kafka, `${id}.models`, id);
  expect(counted(state)).toBe(n);
  return state!.model;
}

/** Waits until the global model counts every input, then stops the members (the reducer last). */
async function finishShared(kafka: Kafka, id: string, members: readonly KafkaPipelineHandle[], n: number): Promise<ReadModelMessage> {
  await waitFor(async () => members.reduce((s, m) => s + m.counters.consumed, 0) >= n, 90_000, 'the members to read the input');
  // Stopped with their open windows finished, the reducer last: the last contributions go out, and it merges them.
  const order = [...members].sort((x, y) => Number(x.sharedModel!.reducer) - Number(y.sharedModel!.reducer));
  for (const m of order) await m.stop({ finishWindow: true });
  const state = await latestState(kafka, `${id}.models`, id);
  expect(counted(state)).toBe(n);
  return state!;
}

describe('the shared-model mode on a real broker', () => {
  it('two members over a 4-partition topic end with the model one member fits over the whole stream; labels carry global versions and mean the same cluster on every partition', { timeout: 180_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('shared-two');
    await createInput(kafka, input, 4);
    const N = 24_000;
    const id = `${input}-shared`;
    // Both members in the group before the input comes, so each reads two partitions.
    const a = await sharedMember(input, id);
    const b = await sharedMember(input, id);
    await waitFor(() => a.ready && b.ready, 60_000, 'both members to be assigned partitions');
    await produceAll(kafka, input, point, N);
    const state = await finishShared(kafka, id, [b, a], N);
    const single = await singleMemberModel(kafka, input, N);
    expect(a.counters.labelled).toBeGreaterThan(0);
    expect(b.counters.labelled).toBeGreaterThan(0);

    const gap = modelGap(single, state.model, N);
    const ledger = state.shared!.ledger;
    expect(ledger.points).toBe(N);
    expect(ledger.counts).toMatchObject({ duplicate: 0, partial: 0, stale: 0, mismatched: 0 });
    const models = await globalVersions(kafka, id);
    expect(models).toEqual(models.map((_, i) => i + 1)); // versions 1, 2, 3, … with no gap or repeat
    const { purity, versions } = checkLabels(await readCommitted(kafka, `${id}.labels`), new Set(models), N);
    console.log(`[shared] two members vs one: gap in standard errors ${JSON.stringify(gap)}; ${models.length} global versions, labels under ${versions}; purity ${purity.toFixed(4)}; ${JSON.stringify(ledger.counts)}`);
    expect(purity).toBeGreaterThan(0.99);
    expect(gap.weights).toBeLessThan(TOLERANCE);
    expect(gap.means).toBeLessThan(TOLERANCE);
    expect(gap.covariances).toBeLessThan(TOLERANCE);
  });
});

describe('the shared-model mode refuses', () => {
  it('a statistics topic of more than one partition (several reducers would merge at once), with the fix', { timeout: 60_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('shared-stats2');
    await createInput(kafka, input, 2);
    await createInput(kafka, `${input}.stats`, 2);
    const err = await runKafkaPipeline({ ...runOptions(input, input, { sharedModel: true }), stats: `${input}.stats` }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EmstreamOptionsError);
    expect((err as Error).message).toMatch(/statistics topic ".*\.stats" has 2 partitions: the shared model needs exactly one/);
  });
});

describe('the shared-model mode when members come and go', () => {
  it('a third member joining mid-stream changes nothing in the model beyond the tolerance; replays are not counted twice', { timeout: 180_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('shared-join');
    await createInput(kafka, input, 4);
    const N = 24_000;
    const id = `${input}-shared`;
    const a = await sharedMember(input, id);
    const b = await sharedMember(input, id);
    await waitFor(() => a.ready && b.ready, 60_000, 'both members to be assigned partitions');
    const producing = produceLive(kafka, input, 0, N, 3000, point);
    await waitFor(() => a.counters.labelled + b.counters.labelled >= N / 4, 60_000, 'a quarter of the stream labelled');
    const c = await sharedMember(input, id);
    await waitFor(() => c.counters.labelled > 0, 60_000, 'the third member to label');
    const versionAtJoin = c.sharedModel!.version;
    await producing;
    const state = await finishShared(kafka, id, [a, b, c], N);
    const single = await singleMemberModel(kafka, input, N);
    const gap = modelGap(single, state.model, N);
    const ledger = state.shared!.ledger;
    const models = await globalVersions(kafka, id);
    expect(models).toEqual(models.map((_, i) => i + 1));
    const { purity } = checkLabels(await readCommitted(kafka, `${id}.labels`), new Set(models), N);
    console.log(`[shared] a third member joined at version ${versionAtJoin} of ${models.length}: gap ${JSON.stringify(gap)}; ledger ${JSON.stringify(ledger.counts)}, points ${ledger.points}; purity ${purity.toFixed(4)}`);
    // At least once, a rebalance replays what was in flight: never counted twice (a partial overlap by its share).
    expect(Math.abs(ledger.points - N)).toBeLessThan(WINDOW);
    expect(ledger.counts.stale + ledger.counts.structural + ledger.counts.mismatched).toBe(0);
    expect(purity).toBeGreaterThan(0.99);
    expect(Math.max(gap.weights, gap.means, gap.covariances)).toBeLessThan(TOLERANCE);
  });

  it('more members than partitions: the idle member changes nothing (it may hold the reducer role)', { timeout: 180_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('shared-idle');
    await createInput(kafka, input, 2);
    const N = 12_000;
    const id = `${input}-shared`;
    const members = [await sharedMember(input, id), await sharedMember(input, id), await sharedMember(input, id)];
    // Two of the three get a partition; the third is in the group with none (ready means assigned, even nothing).
    await waitFor(() => members.every((m) => m.ready), 60_000, 'the members to be assigned');
    await produceAll(kafka, input, point, N);
    await waitFor(() => members.filter((m) => m.counters.labelled > 0).length === 2 && members.reduce((s, m) => s + m.counters.consumed, 0) >= N, 60_000, 'two members to label everything');
    const idle = members.find((m) => m.counters.consumed === 0)!;
    const idleReduces = idle.sharedModel!.reducer;
    const state = await finishShared(kafka, id, members, N);
    const single = await singleMemberModel(kafka, input, N);
    const gap = modelGap(single, state.model, N);
    const models = await globalVersions(kafka, id);
    checkLabels(await readCommitted(kafka, `${id}.labels`), new Set(models), N);
    console.log(`[shared] an idle member (${idleReduces ? 'the reducer' : 'not the reducer'}): gap ${JSON.stringify(gap)}`);
    expect(idle.counters.labelled).toBe(0);
    expect(state.shared!.ledger.points).toBe(N);
    expect(Math.max(gap.weights, gap.means, gap.covariances)).toBeLessThan(TOLERANCE);
  });
});

/** Point i after the jump: cluster 2 has moved from (0, 8, 4) to (−10, 14, 4); the others stay. */
function jumped(i: number): { key: string; value: string } {
  const c = i % 3;
  const rng = new Rng(1000 + i);
  const centre = c === 2 ? [-10, 14, 4] : CENTRES[c];
  return { key: `c${c}-${i}`, value: JSON.stringify(centre.map((m, a) => m + SPREAD[c][a] * rng.normal())) };
}

describe('drift in the shared-model mode', () => {
  it('a jump: the reducer raises the likelihood alarm once, on the rounds of the jump, and every cluster keeps its label on every partition', { timeout: 180_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('shared-drift');
    await createInput(kafka, input, 4);
    const BEFORE = 15_000;
    const AFTER = 9_000;
    const id = `${input}-shared`;
    const driftPipeline = definePipeline({
      name: 'shared-drift-test',
      build: (source, { onInvalid }) => source.pipe(windowVectors({ size: WINDOW, onInvalid }), fitMixture({ k: K, seed: 7, halfLife: 10 })),
    });
    const alarms: string[] = [];
    const member = (): Promise<KafkaPipelineHandle> => {
      const instrumentation = new Instrumentation();
      instrumentation.on('em.drift.detected', (e) => void alarms.push(e.kind));
      return runKafkaPipeline(runOptions(input, id, { sharedModel: true, pipeline: driftPipeline, drift: `${id}.drift`, instrumentation }));
    };
    const a = await member();
    const b = await member();
    await waitFor(() => a.ready && b.ready, 60_000, 'both members to be assigned partitions');
    await produceLive(kafka, input, 0, BEFORE, 3000, point);
    await produceLive(kafka, input, BEFORE, AFTER, 3000, jumped);
    await finishShared(kafka, id, [b, a], BEFORE + AFTER);

    // Labels: the version that labelled each point, and per cluster and phase the label of most of its points.
    const labels = await readCommitted(kafka, `${id}.labels`);
    let firstJumpedVersion = Infinity;
    const votes = new Map<string, Map<number, number>>(); // "<phase>/<cluster>/<partition>" → label → count
    for (const m of labels) {
      const { label, modelVersion } = readLabelMessage(m.value);
      const i = Number(m.key!.slice(m.key!.indexOf('-') + 1));
      const cluster = Number(m.key!.slice(1, m.key!.indexOf('-')));
      const phase = i < BEFORE ? 'before' : 'after';
      if (phase === 'after') firstJumpedVersion = Math.min(firstJumpedVersion, modelVersion);
      // (after the jump, the points of the first rounds are labelled by the model from before it: leave them out)
      if (phase === 'after' && i < BEFORE + 3000) continue;
      const key = `${phase}/${cluster}/${sourceOf(m).partition}`;
      const count = votes.get(key) ?? votes.set(key, new Map()).get(key)!;
      count.set(label, (count.get(label) ?? 0) + 1);
    }
    const majority = (key: string): number => [...votes.get(key)!].sort((x, y) => y[1] - x[1])[0][0];
    for (let c = 0; c < K; c++) {
      const before = new Set([0, 1, 2, 3].map((p) => majority(`before/${c}/${p}`)));
      const after = new Set([0, 1, 2, 3].map((p) => majority(`after/${c}/${p}`)));
      expect(before.size, `cluster ${c}: one label on every partition before the jump`).toBe(1);
      expect(after, `cluster ${c} keeps its label after the jump (the moved one too)`).toEqual(before);
    }

    // Drift: alarms are the reducer's, one message each; the likelihood alarm once, on the rounds right after the jump.
    const drift = (await readCommitted(kafka, `${id}.drift`)).map((m) => readDriftMessage(m.value));
    const likelihood = drift.filter((d) => d.kind === 'likelihood');
    console.log(`[shared] drift: ${drift.map((d) => `${d.kind}@v${d.modelVersion}`).join(', ')}; the jumped points first labelled under v${firstJumpedVersion}`);
    expect(likelihood).toHaveLength(1);
    expect(likelihood[0].modelVersion).toBeGreaterThan(firstJumpedVersion);
    expect(likelihood[0].modelVersion).toBeLessThanOrEqual(firstJumpedVersion + 3);
    expect(drift.filter((d) => d.modelVersion <= firstJumpedVersion), 'no alarm on the stationary rounds').toEqual([]);
    expect(new Set(drift.map((d) => `${d.kind}/${d.modelVersion}`)).size, 'each alarm published once').toBe(drift.length);
    // The same alarms as events (metrics count them): from the reducer, once for the group.
    expect(alarms.sort()).toEqual(drift.map((d) => d.kind).sort());
  });
});

/** The tolerance of the comparison, in standard errors of each parameter (see docs/scaling.md for why). */
const TOLERANCE = 0.5;
