import { describe, expect, it } from 'vitest';
import { EmstreamOptionsError } from '../../src/errors.js';
import { StreamingGmm } from '../../src/gmm/streaming.js';
import { BatchSender } from '../../src/kafka/delivery/batchSender.js';
import type { ProducedMessage, ProducerLike } from '../../src/kafka/client/ports.js';
import { resolveRunConfig } from '../../src/kafka/run/config.js';
import { BATCH_OVERHEAD_BYTES, messageBytes } from '../../src/kafka/messages/sizes.js';
import { compactState, expandState, modelMessage, readModelMessage } from '../../src/kafka/state/format.js';
import { deadLetterMessage, readDeadLetter } from '../../src/kafka/messages/deadLetters.js';
import { HEADERS } from '../../src/kafka/messages/headers.js';
import { MessageFormatError } from '../../src/kafka/errors.js';
import { recordCoordinates } from '../../src/operators/vectorInput.js';
import { isRetriable } from '../../src/kafka/client/errorNames.js';
import type { MixtureUpdate } from '../../src/operators/types.js';
import { standardPipeline } from '../../src/kafka/run/standardPipeline.js';

/** A fitted window of a streaming model, as fitMixture would emit it. */
function update(): { gmm: StreamingGmm; update: MixtureUpdate<unknown> } {
  const gmm = new StreamingGmm({ k: 2, halfLife: 5, seed: 3 });
  const data = Float64Array.from({ length: 200 }, (_, i) => (i % 4 < 2 ? 0 : 6) + Math.sin(i * 1.7) / 3);
  const fit = gmm.update({ n: 100, d: 2, data });
  const { params: _params, ...rest } = fit;
  const model = gmm.toJSON().model!;
  return {
    gmm,
    update: { ...rest, windowIndex: 0, model, state: gmm.toJSON(), window: { index: 0, n: 100, d: 2, points: data, records: [], rejected: 0 } },
  };
}

describe('record coordinates', () => {
  it('one function reads topic/partition/offset of any input, undefined where missing or mistyped', () => {
    const record = { vector: [1], topic: 't', partition: 2, offset: '9' };
    expect(recordCoordinates(record)).toMatchObject({ topic: 't', partition: 2, offset: '9' });
    expect(recordCoordinates(record)).toBe(record); // a Kafka record is its own coordinates: nothing allocated per record
    expect(recordCoordinates({ topic: 't', partition: 1.5, offset: 7 })).toEqual({ topic: 't', partition: undefined, offset: '7' });
    expect(recordCoordinates([1, 2])).toEqual({ topic: undefined, partition: undefined, offset: undefined });
    expect(recordCoordinates(null)).toEqual({ topic: undefined, partition: undefined, offset: undefined });
  });
});

describe('state messages', () => {
  it('carry the whole state compactly (the model once, statistics as float64 base64) and read back exactly; old readers keep the top-level fields', () => {
    const { update: u, gmm } = update();
    const message = modelMessage(u, 'p1', { windowIndex: 41, offsets: [{ topic: 'in', partition: 0, offset: '100' }] });
    const value = JSON.parse(String(message.value)) as Record<string, unknown>;
    expect(value).toMatchObject({ format: 'emstream.gmm', k: 2, d: 2, pipelineId: 'p1', windowIndex: 41, modelVersion: 1, messageVersion: 2, offsets: [{ topic: 'in', partition: 0, offset: '100' }] });
    expect((value.state as Record<string, unknown>).model).toBeUndefined(); // not repeated
    const read = readModelMessage(message.value);
    expect(read.state).toEqual(gmm.toJSON());
    expect(read.offsets).toEqual([{ topic: 'in', partition: 0, offset: '100' }]);
    // Compact: the statistics take fewer bytes than as JSON numbers.
    const stats = gmm.toJSON().stats!;
    expect(JSON.stringify(compactState(gmm.toJSON()).stats).length).toBeLessThan(JSON.stringify(stats).length);
    expect(expandState(compactState(gmm.toJSON()), gmm.toJSON().model)).toEqual(gmm.toJSON());
  });

  it('reads a message written before states were saved (no state, no offsets), and refuses what is not a model', () => {
    const { update: u } = update();
    const { state: _state, offsets: _offsets, messageVersion: _v, ...v1 } = JSON.parse(String(modelMessage(u, 'p1').value)) as Record<string, unknown>;
    const read = readModelMessage(JSON.stringify(v1));
    expect(read.state).toBeUndefined();
    expect(read.offsets).toEqual([]);
    expect(read.model.k).toBe(2);
    expect(() => readModelMessage('{"x": 1}')).toThrow(MessageFormatError);
    expect(() => readModelMessage('not json')).toThrow(/not JSON/);
    expect(() => readModelMessage(null)).toThrow(/tombstone/);
  });
});

describe('dead letters', () => {
  const source = { topic: 'in', partition: 0, offset: '5', key: 'k', value: Buffer.alloc(1 << 20, 7) };

  it('keep the original bytes when they fit; are cut to the limit with a header saying the original length when not', () => {
    const whole = deadLetterMessage(source, 'not-json', 'bad', { maxMessageBytes: 2 << 20 });
    expect(whole.value).toBe(source.value);
    expect(whole.headers?.[HEADERS.truncated]).toBeUndefined();
    const cut = deadLetterMessage(source, 'not-json', 'bad', { pipelineId: 'p', maxMessageBytes: 1 << 20 });
    expect(BATCH_OVERHEAD_BYTES + messageBytes(cut)).toBeLessThanOrEqual(1 << 20);
    expect((cut.value as Buffer).length).toBeGreaterThan((1 << 20) - 1024);
    expect(readDeadLetter(cut.headers as Record<string, string>)).toEqual({ reason: 'not-json', message: 'bad', source: { topic: 'in', partition: 0, offset: '5' }, pipelineId: 'p', truncatedFrom: 1 << 20 });
  });

  it('cut a huge key too, and bound the message header', () => {
    const cut = deadLetterMessage({ ...source, key: 'k'.repeat(100_000), value: Buffer.alloc(10) }, 'empty', 'm'.repeat(5000), { maxMessageBytes: 50_000 });
    expect(BATCH_OVERHEAD_BYTES + messageBytes(cut)).toBeLessThanOrEqual(50_000);
    expect(String(cut.headers![HEADERS.message]).length).toBe(1001);
  });
});

describe('BatchSender', () => {
  function producer(fail: (call: number) => unknown): { producer: ProducerLike & { resume: () => void }; batches: number[][]; resumed: number } {
    const out = { batches: [] as number[][], resumed: 0 };
    let calls = 0;
    return {
      ...out,
      get batches() {
        return out.batches;
      },
      get resumed() {
        return out.resumed;
      },
      producer: {
        connect: () => Promise.resolve(),
        disconnect: () => Promise.resolve(),
        resume: () => void out.resumed++,
        sendBatch: (batch) => {
          const error = fail(calls++);
          if (error !== undefined) return Promise.reject(error);
          out.batches.push(batch.topicMessages.flatMap((t) => t.messages.map((m) => (m.value as Buffer).length)));
          return Promise.resolve();
        },
      },
    };
  }
  const big = (kib: number): { topic: string; message: ProducedMessage } => ({ topic: 'dlq', message: { value: Buffer.alloc(kib << 10) } });

  it('never batches past maxBatchBytes: 400 KiB and 700 KiB dead letters go in separate batches', async () => {
    const p = producer(() => undefined);
    const sender = new BatchSender(p.producer, { maxBatchBytes: 512 << 10, lingerMs: 50 });
    sender.enqueue([big(400)]);
    sender.enqueue([big(700)]);
    sender.enqueue([big(100), big(100)]);
    await sender.flush();
    expect(p.batches).toEqual([[400 << 10], [700 << 10], [100 << 10, 100 << 10]]);
  });

  it('retries a retriable failure in order after the delay (resuming the producer), then acknowledges in order', async () => {
    const unavailable = Object.assign(new Error('Connection error: connect ECONNREFUSED'), { name: 'KafkaJSConnectionError', retriable: true });
    const p = producer((call) => (call < 2 ? unavailable : undefined));
    const retries: number[] = [];
    const acks: number[] = [];
    const sender = new BatchSender(p.producer, { maxBatchMessages: 1, retry: { shouldRetry: isRetriable, delayMs: () => 5, onRetry: (r) => retries.push(r.attempt) } });
    for (let i = 1; i <= 3; i++) sender.enqueue([big(i)], () => acks.push(i));
    await sender.flush();
    expect(retries).toEqual([1, 2]);
    expect(p.resumed).toBe(2);
    expect(p.batches).toEqual([[1 << 10], [2 << 10], [3 << 10]]);
    expect(acks).toEqual([1, 2, 3]);
  });

  it('a failure no retry fixes (MESSAGE_TOO_LARGE) is fatal at once', async () => {
    const tooLarge = Object.assign(new Error('The request included a message larger than the max message size the server will accept'), { name: 'KafkaJSProtocolError', retriable: false });
    const p = producer(() => tooLarge);
    const sender = new BatchSender(p.producer, { retry: { shouldRetry: isRetriable, delayMs: () => 5 } });
    sender.enqueue([big(1)]);
    await expect(sender.flush()).rejects.toMatchObject({ name: 'KafkaEdgeError', retriable: false, message: expect.stringMatching(/larger than the max message size/) });
  });
});

describe('isRetriable', () => {
  it('retries what the brokers being away causes, also through kafkajs\'s "retries exceeded" wrapper; not what the request got wrong', () => {
    const connection = Object.assign(new Error('connect ECONNREFUSED'), { name: 'KafkaJSConnectionError', retriable: true });
    const exceeded = Object.assign(new Error('connect ECONNREFUSED', { cause: connection }), { name: 'KafkaJSNumberOfRetriesExceeded', retriable: false });
    expect(isRetriable(connection)).toBe(true);
    expect(isRetriable(exceeded)).toBe(true);
    expect(isRetriable(Object.assign(new Error('x'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isRetriable(Object.assign(new Error('invalid topic'), { name: 'KafkaJSProtocolError', retriable: false, type: 'INVALID_TOPIC_EXCEPTION' }))).toBe(false);
    expect(isRetriable(new TypeError('bug'))).toBe(false);
  });
});

describe('run configuration', () => {
  it('is a zod schema: every problem listed with its option and the fix, the pipeline defaults applied', () => {
    const pipeline = standardPipeline({ window: 10, k: 2 });
    expect(() => resolveRunConfig({ pipeline, brokers: ['b:1'], format: 'float32le', input: 'in', maxInFlight: 0 })).toThrow(EmstreamOptionsError);
    const error = (() => {
      try {
        resolveRunConfig({ pipeline, brokers: ['b:1'], input: 'bad topic', commitIntervalMs: -1, bogus: 1 } as never);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(EmstreamOptionsError);
    expect((error as EmstreamOptionsError).context.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['input', 'commitIntervalMs', 'bogus']));
    expect(() => resolveRunConfig({ pipeline, brokers: ['b:1'], input: 'in', format: 'float64le' })).toThrow(/dimension: is required for the binary format float64le/);
    expect(() => resolveRunConfig({ pipeline, brokers: ['b:1'] })).toThrow(/input: give the input topic/);
    const config = resolveRunConfig({ pipeline: { ...pipeline, kafka: { input: 'sensors', format: 'json-object', fields: ['a', 'b'] } }, brokers: ['b:1'] });
    expect(config).toMatchObject({
      input: ['sensors'],
      labels: 'sensors.labels',
      models: 'sensors.models',
      deadLetters: 'sensors.dead-letters',
      group: 'emstream-standard',
      dimension: 2,
      fresh: false,
      commitOnAcknowledge: true,
      commitIntervalMs: 1000,
      brokerTimeoutMs: 120_000,
      sessionTimeoutMs: 10_000,
      heartbeatIntervalMs: 1000,
      producerInWorker: true,
      modelsMaxMessageBytes: 16 << 20,
      inputTimeoutMs: 120_000,
      drift: 'sensors.drift',
      windows: 'sensors.windows',
    });
    expect(resolveRunConfig({ pipeline, brokers: ['b:1'], input: 'in', restore: false }).fresh).toBe(true);
    // The monitoring topics from the pipeline's defaults (a name, or false for none); options override them.
    const named = { ...pipeline, kafka: { input: 'in', drift: 'alarms', windows: false as const } };
    expect(resolveRunConfig({ pipeline: named, brokers: ['b:1'] })).toMatchObject({ drift: 'alarms', windows: null });
    expect(resolveRunConfig({ pipeline: named, brokers: ['b:1'], drift: false, windows: 'history' })).toMatchObject({ drift: null, windows: 'history' });
    expect(() => resolveRunConfig({ pipeline: { ...pipeline, kafka: { input: 'in', drift: 'in.labels' } }, brokers: ['b:1'] })).toThrow(/drift: is the topic "in.labels", already the labels topic/);
  });
});
