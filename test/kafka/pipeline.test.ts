import { ConfigResourceTypes } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { encodeVector } from '../../src/kafka/source/formats.js';
import { runKafkaPipeline } from '../../src/kafka/run/runner.js';
import { standardPipeline } from '../../src/kafka/run/standardPipeline.js';
import { restoreLatestModel } from '../../src/kafka/state/restore.js';
import { HEADERS } from '../../src/kafka/messages/headers.js';
import { type ModelMessage } from '../../src/kafka/state/format.js';
import { KafkaEdgeError } from '../../src/kafka/errors.js';
import { type KafkaClientLike } from '../../src/kafka/client/ports.js';
import { kafkaBrokers } from '../helpers/kafka.js';
import { EmstreamOptionsError } from '../../src/errors.js';
import { clusteredPoint, committedOffset, produceAll, readTopic, sourceOf, testKafka, uniqueTopic, waitFor } from './helpers.js';

interface LabelValue {
  label: number;
  probability: number;
  logDensity: number;
  windowIndex: number;
  modelVersion: number;
  vector?: number[];
}

// Both producer modes: on the main thread (the given client's producer), and on a worker thread with its own client.
describe.each([
  { mode: 'producer on the main thread', producerInWorker: false },
  { mode: 'producer on a worker thread', producerInWorker: true },
])('runKafkaPipeline on a real broker ($mode)', ({ producerInWorker }) => {
  const producerMode = (): { producerInWorker: boolean; brokers?: string[] } => (producerInWorker ? { producerInWorker, brokers: kafkaBrokers() } : { producerInWorker });

  it('labels N vectors, each traceable to its input offset; models go to a compacted topic, latest readable by key', async () => {
    const kafka = testKafka();
    // The structural interface is satisfied by kafkajs as is.
    const client: KafkaClientLike = kafka;
    const input = uniqueTopic('points');
    const N = 3000;
    await produceAll(kafka, input, (i) => ({ key: `k${i}`, value: JSON.stringify(clusteredPoint(i)) }), N);

    const run = await runKafkaPipeline({
      kafka: client,
      ...producerMode(),
      pipeline: standardPipeline({ window: 500, k: 3, halfLife: 5 }),
      input,
      group: `${input}-group`,
      fromBeginning: true,
      format: 'json-array',
      dimension: 2,
      pipelineId: 'test-points',
      includeVector: true,
    });
    expect(run.config).toMatchObject({ labels: `${input}.labels`, models: `${input}.models`, deadLetters: `${input}.dead-letters` });
    await waitFor(() => run.counters.labelled === N, 60_000, 'every vector to be labelled');
    await waitFor(async () => (await committedOffset(kafka, `${input}-group`, input)) === N, 10_000, 'the commit of offset N');
    const result = await run.stop();
    expect(result.counters).toMatchObject({ consumed: N, labelled: N, deadLettered: 0, windows: 6 });
    expect(result.handedBack).toBe(0);

    const labels = await readTopic(kafka, `${input}.labels`, N);
    expect(labels).toHaveLength(N);
    // One header carries the source as text, `<topic>/<partition>/<offset>` (readable by kcat's %h).
    expect(Object.keys(labels[0].headers)).toEqual([HEADERS.source]);
    expect(labels[0].headers[HEADERS.source]).toBe(`${input}/0/0`);
    // In the order of their inputs on the labels topic: one partition in, one out, sends in order.
    const offsets = labels.map((m) => sourceOf(m).offset);
    expect(offsets).toEqual(Array.from({ length: N }, (_, i) => i));
    const byCluster = new Map<number, Set<number>>();
    for (const m of labels) {
      const source = sourceOf(m);
      expect(source.topic).toBe(input);
      expect(source.partition).toBe(0);
      const offset = source.offset;
      expect(m.key).toBe(`k${offset}`);
      const value = JSON.parse(m.value!.toString()) as LabelValue;
      expect(value.vector).toEqual(clusteredPoint(offset));
      expect(value.probability).toBeGreaterThan(0.5);
      expect(Number.isFinite(value.logDensity)).toBe(true);
      if (!byCluster.has(offset % 3)) byCluster.set(offset % 3, new Set());
      byCluster.get(offset % 3)!.add(value.label);
    }
    // each true cluster gets one label, and the three labels differ
    expect([...byCluster.values()].map((s) => s.size)).toEqual([1, 1, 1]);
    expect(new Set([...byCluster.values()].map((s) => [...s][0])).size).toBe(3);

    const models = await readTopic(kafka, `${input}.models`, 6);
    expect(models.map((m) => m.key)).toEqual(Array(6).fill('test-points'));
    expect(models.map((m) => (JSON.parse(m.value!.toString()) as ModelMessage).modelVersion)).toEqual([1, 2, 3, 4, 5, 6]);
    const last = JSON.parse(models[5].value!.toString()) as ModelMessage;
    expect(last).toMatchObject({ format: 'emstream.gmm', k: 3, d: 2, pipelineId: 'test-points', modelVersion: 6, windowIndex: 5, n: 500 });

    const admin = kafka.admin();
    await admin.connect();
    const described = await admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: `${input}.models`, configNames: ['cleanup.policy'] }] });
    await admin.disconnect();
    expect(described.resources[0].configEntries.find((e) => e.configName === 'cleanup.policy')?.configValue).toBe('compact');

    const restored = await restoreLatestModel(client, { topic: `${input}.models`, pipelineId: 'test-points' });
    expect(restored?.message.modelVersion).toBe(6);
    expect(restored?.model).toEqual({ format: last.format, version: last.version, covarianceType: last.covarianceType, k: 3, d: 2, weights: last.weights, means: last.means, covariances: last.covariances });
    expect(await restoreLatestModel(client, { topic: `${input}.models`, pipelineId: 'someone-else' })).toBeUndefined();
  });

  it('sends poison messages of every kind to the dead-letter topic with reason headers and keeps labelling the good ones', async () => {
    const kafka = testKafka();
    const input = uniqueTopic('poison');
    const good = (i: number): string => JSON.stringify(clusteredPoint(i));
    const poison: [string | Buffer | null, string][] = [
      ['{"not": "an array"}', 'not-a-vector'],
      ['[1, 2', 'not-json'],
      ['NaN', 'not-json'],
      ['[1, 2, 3]', 'wrong-dimension'], // rejected by windowVectors (the runner's dead-letter path): D = 2, the majority of the first window
      ['[1, 1e999]', 'non-finite'],
      ['[1, "x"]', 'not-numeric'],
      [null, 'empty'],
      ['', 'empty'],
      ['[]', 'empty'],
      [JSON.stringify(Array(100).fill(1)), 'oversized'],
    ];
    const messages: { key: string; value: string | Buffer | null }[] = [];
    const expected = new Map<number, string>();
    let g = 0;
    for (let round = 0; round < 3; round++) {
      for (const [value, reason] of poison) {
        for (let j = 0; j < 40; j++) messages.push({ key: `good-${g}`, value: good(g++) });
        expected.set(messages.length, reason);
        messages.push({ key: `bad-${messages.length}`, value });
      }
    }
    for (let j = 0; j < 60; j++) messages.push({ key: `good-${g}`, value: good(g++) });
    await produceAll(kafka, input, messages);
    const goodCount = g; // 3 * 10 * 40 + 60 = 1260

    const run = await runKafkaPipeline({
      kafka,
      ...producerMode(),
      pipeline: standardPipeline({ window: 90, k: 3 }),
      input,
      group: `${input}-group`,
      fromBeginning: true,
      format: 'json-array',
      maxBytes: 200,
    });
    await waitFor(() => run.counters.labelled === goodCount && run.counters.deadLettered === expected.size, 60_000, 'all good labelled and all bad dead-lettered');
    await waitFor(async () => (await committedOffset(kafka, `${input}-group`, input)) === messages.length, 10_000, 'the commit past the last message');
    const result = await run.stop();
    expect(result.counters).toMatchObject({ consumed: messages.length, labelled: goodCount, deadLettered: expected.size });

    const dead = await readTopic(kafka, `${input}.dead-letters`, expected.size);
    expect(dead).toHaveLength(expected.size);
    for (const m of dead) {
      const { topic, partition, offset } = sourceOf(m);
      expect(m.headers[HEADERS.reason], `offset ${offset}`).toBe(expected.get(offset));
      expect(topic).toBe(input);
      expect(partition).toBe(0);
      expect(m.headers[HEADERS.message]).toMatch(/offset \d+/);
      expect(m.key).toBe(`bad-${offset}`);
      const original = messages[offset].value;
      // the original bytes (a null value stays null; an empty one may come back as null or empty)
      if (original === null || original === '') expect(m.value === null || m.value.length === 0).toBe(true);
      else expect(m.value?.toString()).toBe(original.toString());
    }
    const labels = await readTopic(kafka, `${input}.labels`, goodCount);
    const labelled = new Set(labels.map((m) => sourceOf(m).offset));
    expect(labelled.size).toBe(goodCount);
    for (const offset of expected.keys()) expect(labelled.has(offset)).toBe(false);
  });

  it('commits only after outputs: stopped mid-way and restarted with the same group, every input is labelled at least once', async () => {
    const kafka = testKafka();
    const input = uniqueTopic('restart');
    const group = `${input}-group`;
    // Enough that the stop at 2000 labels comes mid-way: with 6000 the run (over 100k vectors/s) once labelled all of
    // them between two polls of waitFor, and nothing was left for the restart.
    const N = 24_000;
    await produceAll(kafka, input, (i) => ({ key: null, value: encodeVector(clusteredPoint(i), 'float32le') }), N);
    const options = {
      kafka,
      ...producerMode(),
      pipeline: standardPipeline({ window: 400, k: 3 }),
      input,
      group,
      fromBeginning: true,
      format: 'float32le' as const,
      dimension: 2,
      maxInFlight: 1000,
      commitIntervalMs: 100,
    };

    const first = await runKafkaPipeline(options);
    await waitFor(() => first.counters.labelled >= 2000, 60_000, 'a third of the labels');
    const stopped = await first.stop(); // hands back the open window
    const committed1 = await committedOffset(kafka, group, input);
    // Committed means labelled: the position never passes what the labels cover, and stops on a window boundary.
    expect(committed1).toBeGreaterThan(0);
    expect(committed1).toBeLessThanOrEqual(stopped.counters.labelled);
    expect(committed1 % 400).toBe(0);
    expect(committed1).toBeLessThan(N);

    const second = await runKafkaPipeline(options);
    await waitFor(async () => (await committedOffset(kafka, group, input)) === N, 60_000, 'the second run to commit offset N');
    const result2 = await second.stop();
    expect(result2.counters.consumed).toBe(N - committed1); // resumed from the commit

    const total = stopped.counters.labelled + result2.counters.labelled;
    const labels = await readTopic(kafka, `${input}.labels`, total);
    const seen = new Set(labels.map((m) => sourceOf(m).offset));
    expect(seen.size).toBe(N); // none lost
    expect(labels.length).toBe(total); // duplicates only where the first run's labels were not committed
  });

  it('a send that fails for good stops the run: done rejects with a KafkaEdgeError naming the topic, nothing is committed past it', async () => {
    const kafka = testKafka();
    const input = uniqueTopic('fail');
    await produceAll(kafka, input, (i) => ({ value: JSON.stringify(clusteredPoint(i)) }), 300);
    // A labels topic that accepts no batch of labels: the broker answers MESSAGE_TOO_LARGE, which no retry fixes.
    const labels = `${input}.tiny-labels`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: labels, configEntries: [{ name: 'max.message.bytes', value: '200' }] }] });
    await admin.disconnect();
    const run = await runKafkaPipeline({
      kafka,
      ...producerMode(),
      pipeline: standardPipeline({ window: 100, k: 3 }),
      input,
      labels,
      group: `${input}-g`,
      fromBeginning: true,
      format: 'json-array',
    });
    const error = await run.done.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KafkaEdgeError);
    expect((error as KafkaEdgeError).message).toMatch(/^could not produce \d+ message\(s\) to /);
    expect((error as KafkaEdgeError).message).toContain(`"${labels}"`);
    expect((error as KafkaEdgeError).message).toMatch(/larger than the max message size/);
    expect((error as KafkaEdgeError).context).toMatchObject({ operation: 'produce', topic: labels });
    expect((error as KafkaEdgeError).retriable).toBe(false);
    expect(run.counters.labelled).toBe(0);
    expect(await committedOffset(kafka, `${input}-g`, input)).toBeLessThanOrEqual(0);
  });

  it('finishWindow: stop() fits the open window and commits everything', async () => {
    const kafka = testKafka();
    const input = uniqueTopic('finish');
    const N = 1234;
    await produceAll(kafka, input, (i) => ({ value: clusteredPoint(i).join(',') }), N);
    const run = await runKafkaPipeline({ kafka, ...producerMode(), pipeline: standardPipeline({ window: 500, k: 3 }), input, group: `${input}-g`, fromBeginning: true, format: 'csv', dimension: 2 });
    await waitFor(() => run.counters.consumed === N && run.counters.labelled === 1000, 60_000, 'two full windows');
    const result = await run.stop({ finishWindow: true });
    expect(result.counters).toMatchObject({ labelled: N, windows: 3 });
    expect(result.handedBack).toBe(0);
    expect(await committedOffset(kafka, `${input}-g`, input)).toBe(N);
  });
});

describe('runKafkaPipeline producerInWorker option', () => {
  it('needs brokers: the thread cannot be handed a client object', async () => {
    const error = await runKafkaPipeline({ kafka: testKafka(), producerInWorker: true, pipeline: standardPipeline({ window: 10, k: 2 }), input: 'x' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EmstreamOptionsError);
    expect((error as Error).message).toMatch(/producerInWorker/);
  });
});
