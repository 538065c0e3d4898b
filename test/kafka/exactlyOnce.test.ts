/**
 * The exactly-once mode on a real broker, in process: every input labelled exactly once for a read_committed reader,
 * the state messages match the labels, one task per input partition, dead letters in the transactions, a stop and a
 * restart, and the start-up check of the transaction timeout.
 */
import { first as firstWhere, firstValueFrom, scan } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { kafkaDashboardSource } from '../../src/dashboard/kafkaSource.js';
import { EmstreamOptionsError } from '../../src/errors.js';
import { readDeadLetter } from '../../src/kafka/messages/deadLetters.js';
import { resolveRunConfig } from '../../src/kafka/run/config.js';
import { runKafkaPipeline } from '../../src/kafka/run/runner.js';
import { standardPipeline } from '../../src/kafka/run/standardPipeline.js';
import { readModelMessage } from '../../src/kafka/state/format.js';
import { kafkaBrokers } from '../helpers/kafka.js';
import { clusteredPoint, committedOffset, committedTotal, exactlyOnceReport, produceAll, readCommitted, sourceOf, testKafka, uniqueTopic, waitFor } from './helpers.js';

describe('exactly once, in process', () => {
  const brokers = kafkaBrokers();

  it('checks the transaction timeout against the broker budget at start, and that it is only for exactly once', () => {
    const pipeline = standardPipeline({ window: 10, k: 2 });
    expect(resolveRunConfig({ pipeline, brokers, input: 'in', exactlyOnce: true })).toMatchObject({ exactlyOnce: true, transactionTimeoutMs: 180_000 });
    expect(resolveRunConfig({ pipeline, brokers, input: 'in', exactlyOnce: true, brokerTimeoutMs: 30_000 }).transactionTimeoutMs).toBe(90_000);
    expect(() => resolveRunConfig({ pipeline, brokers, input: 'in', exactlyOnce: true, transactionTimeoutMs: 60_000 })).toThrow(EmstreamOptionsError);
    expect(() => resolveRunConfig({ pipeline, brokers, input: 'in', exactlyOnce: true, transactionTimeoutMs: 60_000 })).toThrow(/transactionTimeoutMs: is 60000 ms, not more than brokerTimeoutMs \(120000 ms\).*raise it above 120000 ms/);
    expect(() => resolveRunConfig({ pipeline, brokers, input: 'in', transactionTimeoutMs: 200_000 })).toThrow(/transactionTimeoutMs: applies to the exactly-once mode only/);
  });

  it.each([
    ['on the calling thread', false],
    ['each window fitted on a worker thread (offThread: updates arrive asynchronously)', true],
  ])('one partition, %s: every input labelled exactly once (dead letters too), each state matches its labels, the offsets commit with them; a stop and a restart go on', { timeout: 120_000 }, async (_, offThread) => {
    const kafka = testKafka();
    const input = uniqueTopic('eos');
    const N = 3000;
    const bad = new Set([5, 777, 2500]);
    await produceAll(kafka, input, (i) => (bad.has(i) ? { key: `bad${i}`, value: '[1, "x"]' } : { key: `k${i}`, value: JSON.stringify(clusteredPoint(i)) }), N);
    const base = { brokers, pipeline: standardPipeline({ window: 250, k: 3, offThread }), input, group: `${input}-g`, pipelineId: input, fromBeginning: true, exactlyOnce: true } as const;

    const first = await runKafkaPipeline(base);
    await waitFor(() => first.counters.labelled >= 1500, 60_000, 'half the labels');
    const stopped = await first.stop(); // hands back the open window
    expect(stopped.counters.labelled % 250).toBe(0);
    const from = await committedOffset(kafka, `${input}-g`, input);
    expect(from).toBeGreaterThanOrEqual(1500); // the stop committed what it had labelled
    const second = await runKafkaPipeline(base);
    await waitFor(() => second.counters.consumed >= N - from, 60_000, 'the rest read');
    await second.stop({ finishWindow: true });
    expect(await committedOffset(kafka, `${input}-g`, input)).toBe(N);

    const labels = await readCommitted(kafka, `${input}.labels`);
    const models = await readCommitted(kafka, `${input}.models`);
    const { duplicates, distinct, mismatched } = exactlyOnceReport(labels, models);
    expect(duplicates).toBe(0);
    expect(distinct.size).toBe(N - bad.size);
    expect(mismatched).toEqual([]);
    expect(new Set(models.map((m) => m.key))).toEqual(new Set([`${input}/${input}/0`]));
    const versions = models.map((m) => readModelMessage(m.value).message.modelVersion);
    expect(versions).toEqual(versions.map((_, i) => i + 1)); // the second run continued the first's state
    const dead = await readCommitted(kafka, `${input}.dead-letters`);
    expect(dead.map((m) => sourceOf(m).offset).sort((a, b) => a - b)).toEqual([...bad]);
    expect(dead.every((m) => readDeadLetter(m.headers).reason === 'not-numeric')).toBe(true);

    // The dashboard of the run shows its windows and its models (keyed by task) as for an at-least-once run.
    const source = kafkaDashboardSource({ kafka: kafka as never, input });
    const seen = await firstValueFrom(source.messages.pipe(scan((acc: { windows: number; models: number[] }, m) => (m.type === 'window' ? { ...acc, windows: acc.windows + 1 } : m.type === 'model' ? { ...acc, models: [...acc.models, m.version] } : acc), { windows: 0, models: [] }), firstWhere((acc) => acc.windows >= 12 && acc.models.length >= 12)));
    await source.close();
    expect(seen.models.slice(0, 12)).toEqual(versions.slice(0, 12));
  });

  it('three partitions, one member: a task per partition, each with its own state key, version sequence and transactional id; the producer on the main thread', { timeout: 120_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('eos-3p');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: input, numPartitions: 3 }] });
    await admin.disconnect();
    const N = 3000;
    const producer = kafka.producer();
    await producer.connect();
    for (let start = 0; start < N; start += 500) {
      await producer.send({ topic: input, messages: Array.from({ length: 500 }, (_, j) => ({ partition: (start + j) % 3, key: `k${start + j}`, value: JSON.stringify(clusteredPoint(start + j)) })) });
    }
    await producer.disconnect();
    const run = await runKafkaPipeline({ kafka, producerInWorker: false, pipeline: standardPipeline({ window: 200, k: 3 }), input, group: `${input}-g`, pipelineId: input, fromBeginning: true, exactlyOnce: true });
    await waitFor(() => run.counters.consumed >= N, 60_000, 'every record read');
    await run.stop({ finishWindow: true });
    expect(await committedTotal(kafka, `${input}-g`, input)).toBe(N);
    const labels = await readCommitted(kafka, `${input}.labels`);
    const models = await readCommitted(kafka, `${input}.models`);
    const { duplicates, distinct, mismatched } = exactlyOnceReport(labels, models);
    expect(duplicates).toBe(0);
    expect(distinct.size).toBe(N);
    expect(mismatched).toEqual([]);
    expect(new Set(models.map((m) => m.key))).toEqual(new Set([0, 1, 2].map((p) => `${input}/${input}/${p}`)));
    for (const p of [0, 1, 2]) {
      const versions = models.filter((m) => m.key === `${input}/${input}/${p}`).map((m) => readModelMessage(m.value).message);
      expect(versions.map((v) => v.modelVersion)).toEqual(versions.map((_, i) => i + 1));
      expect(versions.every((v) => v.task?.partition === p && v.task.topic === input)).toBe(true);
    }
  });
});
