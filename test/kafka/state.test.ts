/**
 * Durable state on a real broker: every pipeline resumes from the state message on its models topic (versions,
 * statistics, drift detector), a state of another configuration is refused, `fresh` starts over, a state newer
 * than the committed offsets skips what it covers, and a realistic K·D² state fits its (sized) topic.
 */
import { ConfigResourceTypes } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { loadPipeline } from '../../src/cli/commands/run.js';
import { StreamingGmm } from '../../src/gmm/streaming.js';
import { fitMixture } from '../../src/operators/fitMixture.js';
import { windowVectors } from '../../src/operators/windowVectors.js';
import { definePipeline } from '../../src/pipeline.js';
import { KafkaEdgeError, StateRestoreError } from '../../src/kafka/errors.js';
import { encodeVector } from '../../src/kafka/source/formats.js';
import { readModelMessage } from '../../src/kafka/state/format.js';
import { runKafkaPipeline } from '../../src/kafka/run/runner.js';
import { standardPipeline } from '../../src/kafka/run/standardPipeline.js';
import { restoreLatestState, restoreLatestStates } from '../../src/kafka/state/restore.js';
import { KafkajsTransactionalProducer } from '../../src/kafka/client/transactions.js';
import { modelMessage } from '../../src/kafka/state/format.js';
import { clusteredPoint, committedOffset, kafkaDroppingFindCoordinator, produceAll, readAll, testKafka, uniqueTopic, waitFor } from './helpers.js';

const states = async (topic: string): Promise<ReturnType<typeof readModelMessage>[]> => (await readAll(testKafka(), topic)).map((m) => readModelMessage(m.value));

/** The update of one tiny window (K = 2, D = 1), for a state message. */
function tinyUpdate(): never {
  const gmm = new StreamingGmm({ k: 2, seed: 1 });
  const fit = gmm.update({ n: 4, d: 1, data: Float64Array.of(0, 0.1, 5, 5.1) });
  return { ...fit, windowIndex: 0, model: { format: 'emstream.gmm', version: 1, covarianceType: 'full', k: 2, d: 1, weights: [...fit.params.weights], means: [[fit.params.means[0]], [fit.params.means[1]]], covariances: [[[fit.params.covariances[0]]], [[fit.params.covariances[1]]]] }, state: gmm.toJSON(), window: { index: 0, n: 4, d: 1, points: new Float64Array(4), records: [], rejected: 0 } } as never;
}

describe('durable state', () => {
  it('a ready pipeline (sensors) resumes from its state: versions continue, the first window after a restart is warm and predicted', { timeout: 120_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('sensors-state');
    const topics = { input, labels: `${input}.labels`, models: `${input}.models`, deadLetters: `${input}.dlq`, group: `${input}-g`, pipelineId: input };
    const reading = (i: number): { key: string; value: string } => {
      const r = [[20, 45, 0.05, 0.5], [60, 35, 0.8, 12], [85, 25, 2.5, 20]][i % 3];
      const j = ((i * 7919) % 100) / 100;
      return { key: `press-${i % 5}`, value: JSON.stringify({ temperature: r[0] + j, humidity: r[1] - j, vibration: r[2] * (1 + j / 10), current: r[3] + j / 2 }) };
    };
    await produceAll(kafka, input, reading, 1000);
    const pipeline = await loadPipeline('sensors');
    const first = await runKafkaPipeline({ kafka, pipeline, ...topics, fromBeginning: true });
    expect(first.restored).toBeUndefined();
    await waitFor(() => first.counters.windows === 5, 60_000, 'five windows');
    await first.stop();
    const saved = (await states(topics.models)).at(-1)!;
    expect(saved.message.modelVersion).toBe(5);
    expect(saved.state?.stats?.d).toBe(4);

    await produceAll(kafka, input, (i) => reading(1000 + i), 200);
    const second = await runKafkaPipeline({ kafka, pipeline, ...topics, fromBeginning: true });
    expect(second.restored?.message.modelVersion).toBe(5);
    await waitFor(() => second.counters.windows === 1, 60_000, 'one more window');
    await second.stop();
    const next = (await states(topics.models)).at(-1)!;
    expect(next.message).toMatchObject({ modelVersion: 6, windowIndex: 5, restarted: false });
    expect(next.message.predictiveLogLikelihood).not.toBeNull();
    expect(next.state?.drift.pageHinkley).not.toEqual(saved.state?.drift.pageHinkley); // the detector went on from its sums
  });

  it('a state of another configuration is refused with what differs and how to start fresh; fresh starts over', { timeout: 120_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('mismatch');
    await produceAll(kafka, input, (i) => ({ value: JSON.stringify(clusteredPoint(i)) }), 1000);
    const base = { kafka, input, group: `${input}-g`, pipelineId: input, fromBeginning: true } as const;
    const first = await runKafkaPipeline({ ...base, pipeline: standardPipeline({ window: 500, k: 3 }) });
    await waitFor(() => first.counters.windows === 2, 60_000, 'two windows');
    await first.stop();

    const refused = await runKafkaPipeline({ ...base, pipeline: standardPipeline({ window: 500, k: 4, covarianceType: 'diag' }) }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(StateRestoreError);
    const error = refused as StateRestoreError;
    expect(error.message).toMatch(new RegExp(`^the saved state of pipeline "${input}" on "${input}.models" \\(model version 2\\) does not match this pipeline \\(k: saved 3, requested 4; covarianceType: saved full, requested diag\\): run with --fresh`));
    expect(error.retriable).toBe(false);
    expect(error.context.differences.map((d) => d.setting)).toEqual(['k', 'covarianceType']);
    const dimension = await runKafkaPipeline({ ...base, pipeline: standardPipeline({ window: 500, k: 3 }), dimension: 5 }).catch((e: unknown) => e);
    expect((dimension as Error).message).toMatch(/\(d: saved 2, requested 5\): run with --fresh/);

    await produceAll(kafka, input, (i) => ({ value: JSON.stringify(clusteredPoint(1000 + i)) }), 500);
    const fresh = await runKafkaPipeline({ ...base, pipeline: standardPipeline({ window: 500, k: 4, covarianceType: 'diag' }), fresh: true });
    expect(fresh.restored).toBeUndefined();
    await waitFor(() => fresh.counters.windows === 1, 60_000, 'a fresh window');
    await fresh.stop();
    expect((await states(`${input}.models`)).map((s) => [s.message.modelVersion, s.message.k])).toEqual([
      [1, 3],
      [2, 3],
      [1, 4],
    ]);
  });

  it('a state of another configuration is refused at startup with the fit on a worker thread too (--off-thread)', { timeout: 120_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('mismatch-off');
    await produceAll(kafka, input, (i) => ({ value: JSON.stringify(clusteredPoint(i)) }), 1000);
    const base = { kafka, input, group: `${input}-g`, pipelineId: input, fromBeginning: true } as const;
    const first = await runKafkaPipeline({ ...base, pipeline: standardPipeline({ window: 500, k: 3, offThread: true }) });
    await waitFor(() => first.counters.windows === 2, 60_000, 'two windows');
    await first.stop();

    const refused = await runKafkaPipeline({ ...base, pipeline: standardPipeline({ window: 500, k: 4, offThread: true }) }).then(
      async (run) => {
        await run.stop();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(StateRestoreError);
    expect((refused as StateRestoreError).message).toMatch(new RegExp(`^the saved state of pipeline "${input}" on "${input}.models" \\(model version 2\\) does not match this pipeline \\(k: saved 3, requested 4\\): run with --fresh`));
  });

  it('a state newer than the committed offsets: the records it covers are skipped, not counted twice', { timeout: 120_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('newer');
    const group = `${input}-g`;
    const N = 3000;
    await produceAll(kafka, input, (i) => ({ value: JSON.stringify(clusteredPoint(i)) }), N);
    const base = { kafka, input, group, pipelineId: input, fromBeginning: true, pipeline: standardPipeline({ window: 500, k: 3 }) } as const;
    const first = await runKafkaPipeline(base);
    await waitFor(async () => (await committedOffset(kafka, group, input)) === N, 60_000, 'every input committed');
    await first.stop();
    // The group's position goes back (as when a crash comes between the state's acknowledgement and the commit).
    const admin = kafka.admin();
    await admin.connect();
    await admin.setOffsets({ groupId: group, topic: input, partitions: [{ partition: 0, offset: '1000' }] });
    await admin.disconnect();
    const labelsBefore = (await readAll(kafka, `${input}.labels`)).length;

    await produceAll(kafka, input, (i) => ({ value: JSON.stringify(clusteredPoint(N + i)) }), 500);
    const second = await runKafkaPipeline(base);
    expect(second.restored?.offsets).toEqual([{ topic: input, partition: 0, offset: String(N) }]);
    await waitFor(() => second.counters.windows === 1, 60_000, 'the window of the new points');
    await second.stop();
    expect(second.counters).toMatchObject({ skipped: N - 1000, consumed: 500, labelled: 500 });
    expect((await readAll(kafka, `${input}.labels`)).length).toBe(labelsBefore + 500); // none labelled twice
    const saved = await states(`${input}.models`);
    expect(saved.map((s) => s.message.modelVersion)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(saved.at(-1)!.state!.stats!.s0.reduce((a, b) => a + b, 0)).toBeCloseTo(N + 500, 6); // each point counted once
  });

  it('a state every 3 windows: commits go no further than the last state, a stop writes the waiting windows\' state, and the restart continues exactly as an uninterrupted run', { timeout: 150_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('state-every');
    await produceAll(kafka, input, (i) => ({ value: JSON.stringify(clusteredPoint(i)) }), 2000);
    const pipeline = standardPipeline({ window: 500, k: 3 });
    const scheduled = { kafka, input, group: `${input}-g`, pipelineId: input, fromBeginning: true, pipeline, stateEveryWindows: 3, stateIntervalMs: 0, commitIntervalMs: 100 } as const;
    const first = await runKafkaPipeline(scheduled);
    await waitFor(() => first.counters.windows === 4, 60_000, 'four windows');
    // Window 4 waits for a state: the commit stays at the state of window 3 (1500 records).
    await waitFor(async () => (await committedOffset(kafka, scheduled.group, input)) === 1500, 30_000, 'the commit of the first state');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await committedOffset(kafka, scheduled.group, input)).toBe(1500);
    expect((await states(`${input}.models`)).map((m) => [m.message.modelVersion, m.offsets[0]?.offset])).toEqual([[3, '1500']]);
    await first.stop();
    // The stop wrote the state of window 4, then committed it.
    expect((await states(`${input}.models`)).map((m) => [m.message.modelVersion, m.offsets[0]?.offset])).toEqual([
      [3, '1500'],
      [4, '2000'],
    ]);
    expect(await committedOffset(kafka, scheduled.group, input)).toBe(2000);

    await produceAll(kafka, input, (i) => ({ value: JSON.stringify(clusteredPoint(2000 + i)) }), 1000);
    const second = await runKafkaPipeline(scheduled);
    expect(second.restored?.message.modelVersion).toBe(4);
    await waitFor(() => second.counters.windows === 2, 60_000, 'two more windows');
    await second.stop();
    const resumed = (await states(`${input}.models`)).at(-1)!;
    expect(resumed.message.modelVersion).toBe(6);

    // The same 3000 records in one uninterrupted run, a state every window: the same model and statistics, to the bit.
    const whole = await runKafkaPipeline({ kafka, input, group: `${input}-whole`, pipelineId: `${input}-whole`, models: `${input}.whole-models`, labels: `${input}.whole-labels`, fromBeginning: true, pipeline });
    await waitFor(() => whole.counters.windows === 6, 60_000, 'six windows');
    await whole.stop();
    const reference = (await states(`${input}.whole-models`)).at(-1)!;
    expect(reference.message.modelVersion).toBe(6);
    expect(resumed.model).toEqual(reference.model);
    expect(resumed.state!.stats).toEqual(reference.state!.stats);
    expect(resumed.state!.drift).toEqual(reference.state!.drift);
  });

  it('a realistic state (K = 10, D = 64, full: 2 × 40 960 numbers) is over 1 MiB; the models topic is sized for it and it restores exactly', { timeout: 180_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('big-state');
    const D = 64;
    const K = 10;
    const vector = (i: number): number[] => Array.from({ length: D }, (_, a) => (i % K) * 4 + Math.sin(i * 31 + a * 7) + 0.5 * Math.cos(i * a));
    await produceAll(kafka, input, (i) => ({ value: encodeVector(vector(i), 'float64le') }), 1000);
    const pipeline = definePipeline({
      name: 'big',
      build: (records, { instrumentation }) => records.pipe(windowVectors({ size: 1000, dimension: D }), fitMixture({ k: K, covarianceType: 'full', maxIterations: 3, restarts: 1, instrumentation })),
    });
    const run = await runKafkaPipeline({ kafka, producerInWorker: false, pipeline, input, pipelineId: input, group: `${input}-g`, fromBeginning: true, format: 'float64le', dimension: D });
    await waitFor(() => run.counters.windows === 1, 120_000, 'the window');
    await run.stop();
    const [message] = await readAll(kafka, `${input}.models`);
    expect(message.value!.length).toBeGreaterThan(1 << 20);
    console.log(`[state] K=${K}, D=${D}, full: the state message is ${(message.value!.length / 2 ** 20).toFixed(2)} MiB`);

    const admin = kafka.admin();
    await admin.connect();
    const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: `${input}.models`, configNames: ['max.message.bytes', 'cleanup.policy'] }] });
    await admin.disconnect();
    const config = Object.fromEntries(described.resources[0].configEntries.map((e) => [e.configName, e.configValue]));
    expect(config).toEqual({ 'max.message.bytes': String(16 << 20), 'cleanup.policy': 'compact' });

    const restored = await restoreLatestState(kafka, { topic: `${input}.models`, pipelineId: input });
    const read = readModelMessage(message.value);
    expect(restored?.state).toEqual(read.state);
    // Exactly the numbers: resuming gives the same next window as the in-memory state would.
    const gmm = new StreamingGmm({ k: K, covarianceType: 'full', maxIterations: 3, restarts: 1, initialState: restored!.state });
    expect(gmm.toJSON().stats).toEqual(read.state!.stats);
  });

  it('a models topic that ends with an aborted transaction is read to its end (kafkajs calls no eachBatch for an all-aborted fetch)', { timeout: 60_000 }, async () => {
    const kafka = testKafka();
    const topic = uniqueTopic('aborted-tail');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic }] });
    await admin.disconnect();
    const update = tinyUpdate();
    const producer = new KafkajsTransactionalProducer(kafka, { transactionalId: `${topic}-t`, transactionTimeoutMs: 60_000 });
    await producer.connect();
    // Only an aborted transaction: the partition's records are all filtered out of a read_committed fetch.
    await producer.send({ topicMessages: [{ topic, messages: [modelMessage(update, 'p')] }] });
    await producer.abort();
    const started = Date.now();
    expect((await restoreLatestStates(kafka, { topic, keys: ['p'], timeoutMs: 20_000 })).size).toBe(0);
    // A committed state, then an aborted one after it: the committed one, at once.
    await producer.send({ topicMessages: [{ topic, messages: [modelMessage(update, 'p')] }] });
    await producer.commit();
    await producer.send({ topicMessages: [{ topic, messages: [modelMessage(update, 'p')] }] });
    await producer.abort();
    const found = await restoreLatestStates(kafka, { topic, keys: ['p'], timeoutMs: 20_000 });
    expect(found.get('p')?.message.modelVersion).toBe(1);
    expect(Date.now() - started).toBeLessThan(15_000);
    await producer.disconnect();
  });

  it('a reader lost while it looks for its group coordinator (kafkajs does not restart it) ends at once with a retriable error, not at its timeout; the next read succeeds', { timeout: 60_000 }, async () => {
    const kafka = testKafka();
    const topic = uniqueTopic('restore-coordinator');
    await produceAll(kafka, topic, [modelMessage(tinyUpdate(), 'p') as { key: string; value: string }]);
    // The run's retry budget is the read's timeout: waiting it out would end the run.
    const faults = { findCoordinator: 1, dropped: 0 };
    const lossy = kafkaDroppingFindCoordinator(faults);
    const failedAt = Date.now();
    const failure = await restoreLatestStates(lossy as never, { topic, keys: ['p'], timeoutMs: 20_000 }).then(
      () => new Error('the read succeeded although its consumer crashed'),
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(KafkaEdgeError);
    expect((failure as KafkaEdgeError).message).toBe(`the reader of the models topic ${JSON.stringify(topic)} stopped: Failed to find group coordinator`);
    expect((failure as KafkaEdgeError).retriable).toBe(true);
    expect(Date.now() - failedAt).toBeLessThan(10_000);
    expect(faults.dropped).toBe(1);
    expect((await restoreLatestStates(lossy as never, { topic, keys: ['p'], timeoutMs: 20_000 })).get('p')?.message.modelVersion).toBe(1);
  });
});
