import { describe, expect, it } from 'vitest';
import { KafkaEdgeError } from '../../src/kafka/errors.js';
import { HEADERS } from '../../src/kafka/messages/headers.js';
import { packBatch, WorkerProducer } from '../../src/kafka/client/workerProducer.js';
import { WorkerSender } from '../../src/kafka/delivery/workerSender.js';
import { kafkaBrokers } from '../helpers/kafka.js';
import { readTopic, testKafka, uniqueTopic } from './helpers.js';

describe('packBatch', () => {
  it('packs strings as themselves and Buffers as segments of one blob, copying only their bytes', () => {
    const big = Buffer.alloc(1 << 20, 7);
    const slice = big.subarray(100, 103); // a view into 1 MiB: only its 3 bytes may travel
    const { packed, transfer } = packBatch({
      topicMessages: [
        { topic: 'a', messages: [{ key: 'k', value: 'v', headers: { h: 'x' } }, { key: null, value: slice }] },
        { topic: 'b', messages: [{ value: null, headers: { bin: Buffer.from('yz') }, partition: 0 }] },
      ],
    });
    expect(packed.topics).toEqual(['a', 'b']);
    expect(packed.data).toEqual([2, 'k', 'v', null, 1, 'h', 'x', null, 0, null, 0, 1, undefined, null, [0, undefined], 1, 'bin', 1]);
    expect(packed.segments).toEqual([0, 3, 3, 2]);
    expect(transfer).toHaveLength(1);
    expect(Buffer.from(packed.blob!).toString('latin1')).toBe('\x07\x07\x07yz');
  });
});

describe('WorkerSender on a real broker', () => {
  const config = (): { brokers: string[]; clientId: string; logLevel: 'nothing'; allowAutoTopicCreation: boolean } => ({
    brokers: kafkaBrokers(),
    clientId: 'emstream-worker-test',
    logLevel: 'nothing',
    allowAutoTopicCreation: true,
  });

  it('produces in order from the worker, runs acknowledgements in enqueue order, and closes its thread', async () => {
    const kafka = testKafka();
    const topic = uniqueTopic('worker');
    const other = uniqueTopic('worker-other');
    const sender = await WorkerSender.start({ ...config(), batch: { maxBatchMessages: 100, lingerMs: 1, maxConcurrentSends: 3 } });
    const threadId = sender.workerProducer.threadId;
    expect(threadId).toBeGreaterThan(0);
    expect(sender.workerProducer.fastEncoder).toBe(true); // emstream's produce encoder, by default
    const acks: number[] = [];
    const N = 2500;
    for (let i = 0; i < N; i += 50) {
      const messages = [];
      for (let j = i; j < i + 50; j++) {
        messages.push({ topic, message: { key: `k${j}`, value: j % 2 === 0 ? `v${j}` : Buffer.from(`v${j}`), headers: { [HEADERS.source]: `in/0/${j}`, bin: Buffer.from([j & 0xff]) } } });
      }
      if (i % 500 === 0) messages.push({ topic: other, message: { key: 'model', value: `m${i}` } });
      sender.enqueue(messages, () => acks.push(i));
    }
    await sender.flush();
    expect(acks).toEqual(Array.from({ length: N / 50 }, (_, i) => i * 50));
    expect(sender.acknowledged).toBe(N + 5);
    await sender.close();
    expect(sender.workerProducer.threadId).toBeUndefined();

    const read = await readTopic(kafka, topic, N);
    expect(read.map((m) => m.offset)).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(read.map((m) => m.key)).toEqual(Array.from({ length: N }, (_, i) => `k${i}`));
    expect(read.map((m) => m.value?.toString())).toEqual(Array.from({ length: N }, (_, i) => `v${i}`));
    expect(read[300].headers[HEADERS.source]).toBe('in/0/300');
    expect(read.slice(0, 3).map((m) => m.headers.bin)).toEqual([0, 1, 2].map((j) => String.fromCharCode(j)));
    const models = await readTopic(kafka, other, 5);
    expect(models.map((m) => m.value?.toString())).toEqual(['m0', 'm500', 'm1000', 'm1500', 'm2000']);
  });

  it('a failed send (invalid topic) rejects flush with a KafkaEdgeError; later batches, already handed to the worker, are never acknowledged, close still ends the thread', async () => {
    const topic = uniqueTopic('worker-ok');
    const errors: KafkaEdgeError[] = [];
    const sender = await WorkerSender.start({ ...config(), batch: { maxBatchMessages: 1, maxConcurrentSends: 3, onError: (e) => errors.push(e) } });
    const acks: string[] = [];
    sender.enqueue([{ topic, message: { value: 'first' } }], () => acks.push('first'));
    await sender.flush();
    sender.enqueue([{ topic: 'not a valid topic name!', message: { value: 'x' } }], () => acks.push('bad'));
    sender.enqueue([{ topic, message: { value: 'after' } }], () => acks.push('after'));
    const failure = await sender.flush().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(KafkaEdgeError);
    const error = failure as KafkaEdgeError;
    expect(error.message).toMatch(/could not produce 1 message\(s\) to "not a valid topic name!": .+; nothing after the last acknowledged output was committed/);
    expect(error.context).toMatchObject({ operation: 'produce', topic: 'not a valid topic name!' });
    expect((error.cause as KafkaEdgeError).context.clientError).toMatch(/^KafkaJS/);
    expect(errors).toEqual([error]);
    expect(sender.error).toBe(error);
    expect(acks).toEqual(['first']);
    await expect(sender.close()).rejects.toBe(error);
    expect(sender.workerProducer.threadId).toBeUndefined();
  });

  it('an unreachable broker: connect rejects with the client error and no thread is left', async () => {
    const producer = new WorkerProducer({ brokers: ['127.0.0.1:1'], clientId: 'emstream-worker-test', logLevel: 'nothing', closeTimeoutMs: 5000 });
    // kafkajs retries the connection (about 5 attempts with backoff) before giving up.
    const failure = await producer.connect().then(
      () => undefined,
      (e: unknown) => e as KafkaEdgeError,
    );
    expect(failure).toBeInstanceOf(KafkaEdgeError);
    expect(failure!.context.clientError).toMatch(/^KafkaJS/);
    expect(typeof failure!.retriable).toBe('boolean');
    await producer.disconnect();
    expect(producer.threadId).toBeUndefined();
    await expect(producer.sendBatch({ topicMessages: [{ topic: 't', messages: [{ value: 'x' }] }] })).rejects.toThrow();
  }, 60_000);

  it('with fastEncoder: false the worker keeps kafkajs’s own encoder, and the messages are the same', async () => {
    const kafka = testKafka();
    const topic = uniqueTopic('worker-kafkajs-encoder');
    const sender = await WorkerSender.start({ ...config(), fastEncoder: false, batch: { maxBatchMessages: 100 } });
    expect(sender.workerProducer.fastEncoder).toBe(false);
    sender.enqueue(Array.from({ length: 250 }, (_, j) => ({ topic, message: { key: `k${j}`, value: `v${j}é`, headers: { [HEADERS.source]: `in/0/${j}` } } })));
    await sender.flush();
    await sender.close();
    const read = await readTopic(kafka, topic, 250);
    expect(read.map((m) => [m.key, m.value?.toString(), m.headers[HEADERS.source]])).toEqual(Array.from({ length: 250 }, (_, j) => [`k${j}`, `v${j}é`, `in/0/${j}`]));
  });

  it('close right after start, and twice, is clean', async () => {
    const sender = await WorkerSender.start(config());
    await Promise.all([sender.close(), sender.close()]);
    expect(sender.workerProducer.threadId).toBeUndefined();
  });
});
