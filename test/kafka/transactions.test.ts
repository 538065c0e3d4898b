/**
 * Transactions behind the client adapter: pinned to kafkajs 2.2.4 with its transaction bugs kept out (one operation
 * at a time, `sendOffsets` retried on CONCURRENT_TRANSACTIONS), fencing as the exactly-once mode relies on it (on a
 * real broker, on the main thread and in the producer thread), and the exactly-once delivery's retry / fencing rules.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isFenced, protocolErrorType } from '../../src/kafka/client/errorNames.js';
import { createKafkaClient, KAFKAJS_VERSION } from '../../src/kafka/client/kafkajs.js';
import { installReadCommittedFix, orderAbortedTransactions } from '../../src/kafka/client/readCommittedFix.js';
import { installRequestQueueFix } from '../../src/kafka/client/requestQueueFix.js';
import type { KafkaClientLike, ProducerLike, TransactionLike, TransactionOffsets } from '../../src/kafka/client/ports.js';
import { KafkajsTransactionalProducer, type TransactionalProducerLike } from '../../src/kafka/client/transactions.js';
import { WorkerProducer } from '../../src/kafka/client/workerProducer.js';
import { ExactlyOnceDelivery } from '../../src/kafka/delivery/exactlyOnce.js';
import { OffsetTracker } from '../../src/kafka/delivery/offsets.js';
import type { MixtureUpdate } from '../../src/operators/types.js';
import { kafkaBrokers } from '../helpers/kafka.js';
import { readCommitted, uniqueTopic, waitFor } from './helpers.js';

const require = createRequire(import.meta.url);

/** A kafkajs-like protocol error. */
function protocolError(type: string, retriable: boolean): Error {
  return Object.assign(new Error(`protocol error ${type}`), { name: 'KafkaJSProtocolError', type, retriable });
}

/** A fake kafkajs client whose transactions record what they were asked, and how many operations overlapped. */
function fakeClient(behaviour: { sendOffsets?: (attempt: number) => void; sendBatch?: () => Promise<void> } = {}): { kafka: KafkaClientLike; log: string[]; overlap: () => number } {
  const log: string[] = [];
  let running = 0;
  let most = 0;
  let offsetAttempts = 0;
  const op = async (name: string, body: () => Promise<void> | void = () => undefined): Promise<void> => {
    running++;
    most = Math.max(most, running);
    log.push(name);
    try {
      await new Promise((r) => setTimeout(r, 2));
      await body();
    } finally {
      running--;
    }
  };
  const producer: ProducerLike = {
    connect: () => op('connect'),
    disconnect: () => op('disconnect'),
    sendBatch: () => op('plain-send'),
    transaction: async (): Promise<TransactionLike> => {
      await op('begin');
      return {
        sendBatch: () => op('send', behaviour.sendBatch),
        sendOffsets: (_: TransactionOffsets) => op('offsets', () => behaviour.sendOffsets?.(++offsetAttempts)),
        commit: () => op('commit'),
        abort: () => op('abort'),
      };
    },
  };
  const kafka = { producer: () => producer, consumer: () => ({}) as never, admin: () => ({}) as never } as unknown as KafkaClientLike;
  return { kafka, log, overlap: () => most };
}

const offsets: TransactionOffsets = { consumerGroupId: 'g', topics: [{ topic: 'in', partitions: [{ partition: 0, offset: '10' }] }] };

describe('read_committed with kafkajs 2.2.4', () => {
  // First in this file: kafkajs as it is, before anything installs the fix in this worker.
  it('kafkajs alone returns a record of an aborted transaction when two were aborted in the other order than they began; with installReadCommittedFix it does not', { timeout: 60_000 }, async () => {
    const { Kafka, logLevel } = await import('kafkajs');
    installRequestQueueFix(); // only the idle-timer fix (Node 24 warns without it), not the read_committed one
    const kafka = new Kafka({ brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
    const topic = uniqueTopic('aborted-order');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic }] });
    await admin.disconnect();
    const producer = (id: string) => kafka.producer({ transactionalId: `${topic}-${id}`, idempotent: true, maxInFlightRequests: 1 });
    const [p, q, plain] = [producer('p'), producer('q'), kafka.producer()];
    await Promise.all([p.connect(), q.connect(), plain.connect()]);
    const tp = await p.transaction();
    await tp.send({ topic, messages: [{ value: 'p1: aborted' }] }); // offset 0: P's transaction begins first
    const tq = await q.transaction();
    await tq.send({ topic, messages: [{ value: 'q1: aborted' }] }); // offset 1
    await tq.abort(); // Q's marker first...
    await tp.send({ topic, messages: [{ value: 'p2: aborted' }] });
    await tp.abort(); // ...then P's: the broker lists the aborted transactions in marker order, [Q, P]
    await plain.send({ topic, messages: [{ value: 'committed' }] });
    await Promise.all([p.disconnect(), q.disconnect(), plain.disconnect()]);

    const read = async (): Promise<string[]> => {
      const consumer = kafka.consumer({ groupId: uniqueTopic('rc') }); // read_committed: kafkajs's default
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      const values: string[] = [];
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            eachMessage: async ({ message }) => {
              values.push(message.value!.toString());
              if (message.value!.toString() === 'committed') resolve();
            },
          })
          .catch(reject);
      });
      await consumer.disconnect();
      return values;
    };
    expect(await read()).toEqual(['p1: aborted', 'committed']); // the bug, as kafkajs 2.2.4 has it
    expect(installReadCommittedFix()).toBe(true);
    expect(await read()).toEqual(['committed']);
    // The order kafkajs's filter expects, and that Kafka's Java consumer uses.
    expect(orderAbortedTransactions({ responses: [{ partitions: [{ abortedTransactions: [{ producerId: '7', firstOffset: '10' }, { producerId: '3', firstOffset: '9' }] }] }] })).toEqual({
      responses: [{ partitions: [{ abortedTransactions: [{ producerId: '3', firstOffset: '9' }, { producerId: '7', firstOffset: '10' }] }] }],
    });
  });
});

describe('the transactional producer of the client adapter', () => {
  it('is pinned to kafkajs 2.2.4, the version its patches and transaction workarounds are written for', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { dependencies: Record<string, string> };
    expect(pkg.dependencies.kafkajs).toBe(KAFKAJS_VERSION); // exactly, no range
    expect((require('kafkajs/package.json') as { version: string }).version).toBe(KAFKAJS_VERSION);
  });

  it('initializes the transactional id at connect (an empty transaction, aborted: InitProducerId and nothing else), and never overlaps operations (kafkajs #1068)', async () => {
    const { kafka, log, overlap } = fakeClient();
    const producer = new KafkajsTransactionalProducer(kafka, { transactionalId: 't', transactionTimeoutMs: 60_000 });
    await producer.connect();
    expect(log).toEqual(['connect', 'begin', 'abort']);
    log.length = 0;
    const batch = { topicMessages: [{ topic: 'out', messages: [{ value: 'x' }] }] };
    // Called without waiting: they still run one after the other.
    await Promise.all([producer.send(batch), producer.send(batch), producer.commit(offsets), producer.send(batch), producer.commit(offsets)]);
    expect(log).toEqual(['begin', 'send', 'send', 'offsets', 'commit', 'begin', 'send', 'offsets', 'commit']);
    expect(overlap()).toBe(1);
  });

  it('retries sendOffsets on CONCURRENT_TRANSACTIONS, which kafkajs 2.2.4 does not (its issues #430, #1068), and gives up after the bound', async () => {
    const transient = fakeClient({
      sendOffsets: (attempt) => {
        if (attempt <= 3) throw protocolError('CONCURRENT_TRANSACTIONS', true);
      },
    });
    const producer = new KafkajsTransactionalProducer(transient.kafka, { transactionalId: 't', transactionTimeoutMs: 60_000 });
    await producer.connect();
    await producer.send({ topicMessages: [{ topic: 'out', messages: [{ value: 'x' }] }] });
    await producer.commit(offsets);
    expect(transient.log.filter((l) => l === 'offsets')).toHaveLength(4);
    expect(transient.log.at(-1)).toBe('commit');

    const stuck = fakeClient({
      sendOffsets: () => {
        throw protocolError('CONCURRENT_TRANSACTIONS', true);
      },
    });
    const giving = new KafkajsTransactionalProducer(stuck.kafka, { transactionalId: 't', transactionTimeoutMs: 60_000, concurrentTransactionRetries: 4 });
    await giving.connect();
    await expect(giving.commit(offsets)).rejects.toMatchObject({ type: 'CONCURRENT_TRANSACTIONS' });
    expect(stuck.log.filter((l) => l === 'offsets')).toHaveLength(4);
    expect(stuck.log).not.toContain('commit');
  });

  it('a fenced producer refuses every later operation at once; other errors leave it usable after an abort', async () => {
    let fence = false;
    const { kafka, log } = fakeClient({
      sendBatch: async () => {
        if (fence) throw protocolError('INVALID_PRODUCER_EPOCH', false);
      },
    });
    const producer = new KafkajsTransactionalProducer(kafka, { transactionalId: 't', transactionTimeoutMs: 60_000 });
    await producer.connect();
    fence = true;
    const error = await producer.send({ topicMessages: [{ topic: 'out', messages: [{ value: 'x' }] }] }).catch((e: unknown) => e);
    expect(isFenced(error)).toBe(true);
    log.length = 0;
    const later = await producer.commit(offsets).catch((e: unknown) => e);
    expect(isFenced(later)).toBe(true);
    expect(log).toEqual([]); // no request sent
    expect(isFenced(protocolError('CONCURRENT_TRANSACTIONS', true))).toBe(false);
    expect(protocolErrorType({ name: 'KafkaJSNumberOfRetriesExceeded', cause: protocolError('PRODUCER_FENCED', false) })).toBe('PRODUCER_FENCED');
  });
});

describe('fencing on a real broker', () => {
  const brokers = kafkaBrokers();

  for (const where of ['main thread', 'producer thread'] as const) {
    it(`a second producer of a transactional id fences the first (${where}): its open transaction is aborted, its commit refused, nothing of it read_committed`, { timeout: 60_000 }, async () => {
      const kafka = await createKafkaClient(brokers, { logLevel: 'nothing' });
      const topic = uniqueTopic(`fence-${where === 'main thread' ? 'main' : 'worker'}`);
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({ waitForLeaders: true, topics: [{ topic }, { topic: `${topic}.in` }] });
      await admin.disconnect();
      // Two members: two producer threads (or two producers on this thread), one transactional id.
      const workers = where === 'producer thread' ? [new WorkerProducer({ brokers, clientId: 'fence-zombie', logLevel: 'nothing' }), new WorkerProducer({ brokers, clientId: 'fence-owner', logLevel: 'nothing' })] : [];
      await Promise.all(workers.map((w) => w.connect()));
      const made: TransactionalProducerLike[] = [];
      const make = (): TransactionalProducerLike => {
        const producer = workers[made.length]?.transactional(`${topic}/0`, 60_000) ?? new KafkajsTransactionalProducer(kafka, { transactionalId: `${topic}/0`, transactionTimeoutMs: 60_000 });
        made.push(producer);
        return producer;
      };
      const zombie = make();
      await zombie.connect();
      await zombie.send({ topicMessages: [{ topic, messages: [{ key: 'z', value: 'committed by the first' }] }] });
      await zombie.commit({ consumerGroupId: `${topic}-g`, topics: [{ topic: `${topic}.in`, partitions: [{ partition: 0, offset: '1' }] }] });
      await zombie.send({ topicMessages: [{ topic, messages: [{ key: 'z', value: 'left open by the first' }] }] });
      // The new owner initializes the same transactional id: the open transaction is aborted, the first producer fenced.
      const owner = make();
      await owner.connect();
      await owner.send({ topicMessages: [{ topic, messages: [{ key: 'o', value: 'committed by the second' }] }] });
      await owner.commit({ consumerGroupId: `${topic}-g`, topics: [{ topic: `${topic}.in`, partitions: [{ partition: 0, offset: '2' }] }] });
      const refused = await zombie.commit({ consumerGroupId: `${topic}-g`, topics: [{ topic: `${topic}.in`, partitions: [{ partition: 0, offset: '5' }] }] }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(Error);
      expect(isFenced(refused)).toBe(true);
      await waitFor(async () => (await readCommitted(kafka as never, topic)).length === 2, 30_000, 'the committed messages');
      expect((await readCommitted(kafka as never, topic)).map((m) => m.value?.toString())).toEqual(['committed by the first', 'committed by the second']);
      const fetched = await (kafka.admin() as unknown as { connect(): Promise<void>; fetchOffsets(o: { groupId: string; topics: string[] }): Promise<{ partitions: { offset: string }[] }[]>; disconnect(): Promise<void> });
      await fetched.connect();
      expect((await fetched.fetchOffsets({ groupId: `${topic}-g`, topics: [`${topic}.in`] }))[0].partitions[0].offset).toBe('2');
      await fetched.disconnect();
      await zombie.disconnect();
      await owner.disconnect();
      await Promise.all(workers.map((w) => w.disconnect()));
    });
  }
});

/** A window update of `n` records of `in`/0 from offset `from`. */
function update(from: number, n: number, version: number): MixtureUpdate<unknown> {
  const records = Array.from({ length: n }, (_, i) => ({ vector: [0, 0], topic: 'in', partition: 0, offset: String(from + i) }));
  return {
    windowIndex: version - 1,
    version,
    model: { format: 'emstream.gmm', version: 1, covarianceType: 'diag', k: 1, d: 2, weights: [1], means: [[0, 0]], covariances: [[1, 1]] },
    labels: new Int32Array(n),
    probabilities: new Float64Array(n).fill(1),
    logDensities: new Float64Array(n),
    window: { index: version - 1, n, d: 2, data: new Float64Array(2 * n), records },
  } as unknown as MixtureUpdate<unknown>;
}

describe('ExactlyOnceDelivery', () => {
  /** A fake transactional producer: records calls; `fail` decides each call's outcome. */
  function fakeProducer(fail: (op: string, call: number) => unknown = () => undefined): { producer: TransactionalProducerLike; calls: string[]; committed: (TransactionOffsets | undefined)[] } {
    const calls: string[] = [];
    const committed: (TransactionOffsets | undefined)[] = [];
    let n = 0;
    const step = async (op: string): Promise<void> => {
      calls.push(op);
      await new Promise((r) => setTimeout(r, 1));
      const error = fail(op, n++);
      if (error !== undefined) throw error;
    };
    return {
      calls,
      committed,
      producer: {
        transactionalId: 't',
        connect: () => step('connect'),
        send: () => step('send'),
        commit: async (o) => {
          await step('commit');
          committed.push(o);
        },
        abort: () => step('abort'),
        disconnect: () => step('disconnect'),
      },
    };
  }

  const labelsOutput = { topic: 'out', messages: ({ update: u }: { update: MixtureUpdate<unknown> }, into: { topic: string; message: { value: string } }[]) => void into.push(...Array.from({ length: u.labels.length }, () => ({ topic: 'out', message: { value: 'label' } }))) };

  function delivery(producer: TransactionalProducerLike, tracker: OffsetTracker, events: { lost?: unknown[]; errors?: unknown[] } = {}): ExactlyOnceDelivery<unknown> {
    return new ExactlyOnceDelivery({
      producer,
      tracker,
      task: { topic: 'in', partition: 0 },
      group: 'g',
      outputs: [labelsOutput as never],
      deadLetters: { topic: 'dlq' },
      pipelineId: 'p',
      onLost: (e) => events.lost?.push(e),
      onError: (e) => events.errors?.push(e),
    });
  }

  it('commits each window with the position after it; holds its records in flight until then', async () => {
    const tracker = new OffsetTracker();
    for (let o = 0; o < 30; o++) tracker.register('in', 0, o);
    const fake = fakeProducer();
    const d = delivery(fake.producer, tracker);
    d.window(update(0, 10, 1));
    expect(tracker.inFlight).toBe(30); // finished in the ledger, held until committed
    d.window(update(10, 10, 2));
    await d.flush();
    expect(tracker.inFlight).toBe(10);
    expect(fake.committed.map((o) => o?.topics[0].partitions[0].offset)).toEqual(expect.arrayContaining(['20']));
    expect(d.counters).toMatchObject({ windows: 2, labelled: 20 });
  });

  it('a retriable failure: abort, then the same windows again in a new transaction with the same position', async () => {
    const tracker = new OffsetTracker();
    for (let o = 0; o < 10; o++) tracker.register('in', 0, o);
    const fake = fakeProducer((op, call) => (op === 'commit' && call < 3 ? Object.assign(new Error('timeout'), { name: 'KafkaJSRequestTimeoutError' }) : undefined));
    const d = delivery(fake.producer, tracker);
    d.window(update(0, 10, 1));
    await d.flush();
    expect(fake.calls).toEqual(['send', 'commit', 'abort', 'send', 'commit']);
    expect(fake.committed.map((o) => o?.topics[0].partitions[0].offset)).toEqual(['10']);
    expect(tracker.inFlight).toBe(0);
  });

  it('fenced: the task is lost, its uncommitted windows dropped and their records released', async () => {
    const tracker = new OffsetTracker();
    for (let o = 0; o < 10; o++) tracker.register('in', 0, o);
    const fake = fakeProducer((op) => (op === 'commit' ? protocolError('INVALID_PRODUCER_EPOCH', false) : undefined));
    const events = { lost: [] as unknown[], errors: [] as unknown[] };
    const d = delivery(fake.producer, tracker, events);
    d.window(update(0, 10, 1));
    await d.flush();
    expect(events.lost).toHaveLength(1);
    expect(events.errors).toEqual([]);
    expect(d.isLost).toBe(true);
    expect(tracker.inFlight).toBe(0);
    expect(d.counters.windows).toBe(0);
    d.window(update(10, 10, 2)); // ignored: nothing more is sent
    expect(fake.calls.filter((c) => c === 'send')).toHaveLength(1);
  });

  it('any other failure ends the run with one error saying nothing of the transaction was committed', async () => {
    const tracker = new OffsetTracker();
    tracker.register('in', 0, 0);
    const fake = fakeProducer((op) => (op === 'send' ? protocolError('MESSAGE_TOO_LARGE', false) : undefined));
    const events = { lost: [] as unknown[], errors: [] as unknown[] };
    const d = delivery(fake.producer, tracker, events);
    d.window(update(0, 1, 1));
    await expect(d.flush()).rejects.toThrow(/the transaction of "t" \(input in\/0\) failed: protocol error MESSAGE_TOO_LARGE; nothing of it was committed/);
    expect(events.errors).toHaveLength(1);
    expect(events.lost).toEqual([]);
  });
});
