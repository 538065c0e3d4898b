import { createRequire } from 'node:module';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { groupMessagesPerPartition, installFastGrouping, installFastProduceEncoder, isFastProduceEncoderInstalled } from '../../src/kafka/client/fastProduce.js';
import { WorkerProducer } from '../../src/kafka/client/workerProducer.js';
import { kafkaBrokers } from '../helpers/kafka.js';
import { encodeProduceRequest, type EncodableMessage, type ProduceRequestFields } from '../../src/kafka/client/recordBatch.js';
import { readTopic, testKafka, uniqueTopic } from './helpers.js';

const require = createRequire(import.meta.url);
type RequestFactory = (fields: ProduceRequestFields & { compression?: number }) => { apiVersion: number; encode: () => Promise<{ buffer: Buffer }> };
/** kafkajs's own Produce v3 request, loaded before anything replaces it (kept by reference). */
const kafkajsProduceV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js') as RequestFactory;
const Long = require('kafkajs/src/utils/long.js') as { fromNumber(n: number): { toString(): string } };
const kafkajsCrc32c = require('kafkajs/src/protocol/recordBatch/crc32C/index.js') as (b: Buffer) => number;
const KafkajsDecoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => unknown;
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (
  d: unknown,
) => Promise<{ firstTimestamp: string; maxTimestamp: string; inTransaction: boolean; records: { key: Buffer | null; value: Buffer | null; timestamp: string; headers: Record<string, Buffer | Buffer[]> }[] }>;

/** Where the first record batch starts in a request body with one topic `topic` and one partition. */
function firstBatchAt(topic: string, transactionalId: string | null = null): number {
  return (transactionalId === null ? 2 : 2 + Buffer.byteLength(transactionalId)) + 2 + 4 + 4 + 2 + Buffer.byteLength(topic) + 4 + 4 + 4;
}

/** The first record batch of a one-partition request, decoded by kafkajs's consumer-side decoder. */
function decodeFirstBatch(body: Buffer, topic: string, transactionalId: string | null = null): ReturnType<typeof decodeRecordBatch> {
  return decodeRecordBatch(new KafkajsDecoder(body.subarray(firstBatchAt(topic, transactionalId))));
}

/** What kafkajs 2.2.4 itself writes for these fields. */
async function kafkajsBytes(fields: ProduceRequestFields & { compression?: number }): Promise<Buffer> {
  return (await kafkajsProduceV3(fields).encode()).buffer;
}

afterEach(() => {
  vi.restoreAllMocks();
});

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 20 }), fc.string({ minLength: 250, maxLength: 300 }));
const bytes = fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a));
const headerValue = fc.oneof(text, bytes);
const message: fc.Arbitrary<EncodableMessage> = fc.record(
  {
    key: fc.oneof(fc.constant(null), text, bytes),
    value: fc.oneof(fc.constant(null), text, bytes),
    headers: fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), fc.oneof(headerValue, fc.array(headerValue, { minLength: 1, maxLength: 3 })), { maxKeys: 3 }),
    // kafkajs sorts timestamps as strings: equal-length digit strings sort as numbers do.
    timestamp: fc.integer({ min: 1_700_000_000_000, max: 1_800_000_000_000 }).map(String),
  },
  { requiredKeys: ['value'] },
);

describe('encodeProduceRequest', () => {
  it('writes the same bytes as kafkajs for any topics, partitions, keys, values, headers and timestamps', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_764_150_000_500);
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          acks: fc.constantFrom(-1, 0, 1),
          timeout: fc.integer({ min: 0, max: 60_000 }),
          transactionalId: fc.option(fc.string({ minLength: 1, maxLength: 10 }), { nil: null }),
          producerId: fc.option(fc.integer({ min: 0, max: 2 ** 40 }), { nil: undefined }),
          producerEpoch: fc.integer({ min: 0, max: 100 }),
          topicData: fc.array(
            fc.record({
              topic: fc.string({ minLength: 1, maxLength: 20 }),
              partitions: fc.array(
                fc.record({ partition: fc.nat(50), firstSequence: fc.nat(10_000), messages: fc.array(message, { minLength: 1, maxLength: 20 }) }),
                { minLength: 1, maxLength: 3 },
              ),
            }),
            { minLength: 1, maxLength: 3 },
          ),
        }),
        async (raw) => {
          const fields: ProduceRequestFields = { ...raw, producerId: raw.producerId === undefined ? undefined : Long.fromNumber(raw.producerId) };
          const ours = encodeProduceRequest(fields);
          expect(ours.equals(await kafkajsBytes(fields))).toBe(true);
        },
      ),
      { numRuns: 300, seed: 20261126 },
    );
  });

  it('transactional batches, as the exactly-once mode sends them: the same bytes as kafkajs (transactional id, producer id and epoch, first sequence, the transactional attribute bit)', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_764_150_000_500);
    const label = (i: number): EncodableMessage => ({ key: `k${i}`, value: `{"label":${i % 3},"probability":0.99,"logDensity":-3.2,"windowIndex":7,"modelVersion":8}`, headers: { 'emstream.source': `points/2/${i}` } });
    for (const [producerId, epoch, sequence] of [
      [0, 0, 0],
      [4021, 3, 1000],
      [2 ** 40 + 17, 32767, 2 ** 31 - 1000],
    ] as const) {
      const fields: ProduceRequestFields = {
        acks: -1,
        timeout: 30_000,
        transactionalId: 'points-gmm/points/2',
        producerId: Long.fromNumber(producerId),
        producerEpoch: epoch,
        topicData: [
          { topic: 'points.labels', partitions: [{ partition: 0, firstSequence: sequence, messages: Array.from({ length: 300 }, (_, i) => label(i)) }] },
          { topic: 'points.models', partitions: [{ partition: 0, firstSequence: sequence % 7, messages: [{ key: 'points-gmm/points/2', value: '{"modelVersion":8}' }] }] },
        ],
      };
      const ours = encodeProduceRequest(fields);
      expect(ours.equals(await kafkajsBytes(fields))).toBe(true);
      // The batch is transactional (attributes bit 4) and carries the producer id, epoch and first sequence.
      const at = firstBatchAt('points.labels', 'points-gmm/points/2');
      expect(ours.readInt16BE(at + 8 + 4 + 4 + 1 + 4) & 0x10).toBe(0x10);
      expect(ours.readBigInt64BE(at + 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8)).toBe(BigInt(producerId));
      expect(ours.readInt16BE(at + 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8)).toBe(epoch);
      expect(ours.readInt32BE(at + 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8 + 8 + 8 + 2)).toBe(sequence);
      const decoded = await decodeFirstBatch(ours, 'points.labels', 'points-gmm/points/2');
      expect(decoded.inTransaction).toBe(true);
      expect(decoded.records).toHaveLength(300);
    }
  });

  it('stamps messages without a timestamp with Date.now(), as kafkajs does, and mixes them with given ones', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_764_150_000_000);
    const fields: ProduceRequestFields = {
      acks: -1,
      timeout: 30_000,
      topicData: [{ topic: 'labels', partitions: [{ partition: 0, messages: [{ value: 'a' }, { value: 'b', timestamp: '1764149999000' }, { key: 'k', value: 'c', timestamp: 1_764_150_004_000 }] }] }],
    };
    const ours = encodeProduceRequest(fields);
    expect(ours.equals(await kafkajsBytes(fields))).toBe(true);
    // firstTimestamp and maxTimestamp of the batch: the given timestamps' range.
    const batchAt = 2 + 2 + 4 + 4 + 2 + 'labels'.length + 4 + 4 + 4;
    expect(ours.readBigInt64BE(batchAt + 8 + 4 + 4 + 1 + 4 + 2 + 4)).toBe(1_764_149_999_000n);
    expect(ours.readBigInt64BE(batchAt + 8 + 4 + 4 + 1 + 4 + 2 + 4 + 8)).toBe(1_764_150_004_000n);
  });

  it('checksums each record batch with CRC-32C over attributes..end (checked with kafkajs’s own CRC)', () => {
    const messages: EncodableMessage[] = Array.from({ length: 500 }, (_, i) => ({ key: `k${i}`, value: `{"label":${i % 7}}`, headers: { 'emstream.source': `in/0/${i}` } }));
    const body = encodeProduceRequest({ acks: 1, timeout: 1000, topicData: [{ topic: 't', partitions: [{ partition: 3, messages }] }] });
    const batchAt = 2 + 2 + 4 + 4 + 2 + 1 + 4 + 4 + 4;
    const batchSize = body.readInt32BE(batchAt - 4);
    expect(batchAt + batchSize).toBe(body.length);
    expect(body.readInt8(batchAt + 16)).toBe(2); // magic
    const crc = body.readUInt32BE(batchAt + 17);
    expect(crc).toBe(kafkajsCrc32c(body.subarray(batchAt + 21, batchAt + batchSize)));
    expect(body.readInt32BE(batchAt + 8)).toBe(batchSize - 12); // batchLength
    expect(body.readInt32BE(batchAt + 57)).toBe(500); // record count
  });

  it('where kafkajs goes wrong it does not: timestamps compared as numbers, Uint8Array values as bytes, values converted to text once', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_764_150_000_000);
    // An object whose text changes after the first conversion: sizing and writing must see the same bytes.
    const fickle = (): string => {
      let calls = 0;
      return { toString: () => (calls++ === 0 ? 'the first text' : 'x') } as unknown as string;
    };
    const messages: EncodableMessage[] = [
      { value: 'a', timestamp: '999' },
      { value: 'b', timestamp: '1000' },
      { value: new Uint8Array([1, 2, 3]), timestamp: 'not a time' },
      { key: fickle(), value: fickle(), headers: { h: null, bytes: new Uint8Array([9]) } },
    ];
    const body = encodeProduceRequest({ acks: 1, timeout: 1000, transactionalId: '', topicData: [{ topic: 't', partitions: [{ partition: 0, messages }] }] });
    const batch = await decodeFirstBatch(body, 't', '');
    expect([batch.firstTimestamp, batch.maxTimestamp]).toEqual(['999', '1000']); // kafkajs (text order) would give 1000, 999
    expect(batch.inTransaction).toBe(false); // '' is no transactional id (as in kafkajs)
    expect(batch.records.map((r) => r.timestamp)).toEqual(['999', '1000', '1764150000000', '1764150000000']);
    expect([...batch.records[2].value!]).toEqual([1, 2, 3]);
    expect(batch.records[3].key!.toString()).toBe('the first text');
    expect(batch.records[3].value!.toString()).toBe('the first text');
    expect([...(batch.records[3].headers.bytes as Buffer)]).toEqual([9]);
    const crcAt = firstBatchAt('t', '') + 17;
    expect(body.readUInt32BE(crcAt)).toBe(kafkajsCrc32c(body.subarray(crcAt + 4)));
  });
});

describe('one-pass grouping per partition (the producer thread)', () => {
  type Group = typeof groupMessagesPerPartition;
  const kafkajsGroup = require('kafkajs/src/producer/groupMessagesPerPartition.js') as Group;
  const { DefaultPartitioner } = require('kafkajs/src/producer/partitioners/index.js') as Record<string, () => Parameters<Group>[0]['partitioner']>;

  it('groups as kafkajs 2.2.4 does (same partitions, same messages in the same order), with explicit partitions, keys and a round-robin', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.record({ key: fc.option(fc.string({ maxLength: 8 }), { nil: null }), value: fc.string({ maxLength: 8 }), partition: fc.option(fc.nat(7), { nil: undefined }) }), { maxLength: 200 }),
        (partitions, raw) => {
          const partitionMetadata = Array.from({ length: partitions }, (_, p) => ({ partitionId: p, leader: 1 }));
          const messages = raw.map((m) => ({ ...m, partition: m.partition === undefined ? undefined : m.partition % partitions }));
          // kafkajs's own partitioner places keyed messages by murmur2 (deterministic) and keyless ones round-robin
          // from a random start: each side gets a partitioner that is kafkajs's for keys and a counter from 0 otherwise.
          const partitioner = (): Parameters<Group>[0]['partitioner'] => {
            const byKey = DefaultPartitioner();
            let next = 0;
            return (args) => {
              const message = args.message as { key: string | null; partition?: number };
              return message.partition ?? (message.key !== null ? byKey(args) : next++ % partitions);
            };
          };
          const ours = groupMessagesPerPartition({ topic: 't', partitionMetadata, messages, partitioner: partitioner() });
          const theirs = kafkajsGroup({ topic: 't', partitionMetadata, messages, partitioner: partitioner() });
          expect(ours).toEqual(theirs);
          for (const [p, list] of Object.entries(ours)) list.forEach((m, i) => expect(m).toBe(theirs[Number(p)][i]));
        },
      ),
      { numRuns: 200, seed: 20261207 },
    );
    expect(kafkajsGroup({ topic: 't', partitionMetadata: [], messages: [{}], partitioner: () => 0 })).toEqual(groupMessagesPerPartition({ topic: 't', partitionMetadata: [], messages: [{}], partitioner: () => 0 }));
  });

  it('cannot go in once kafkajs has loaded its producer here (it keeps its own); the producer thread installs it first', async () => {
    expect(installFastGrouping()).toBe(false); // this thread loaded kafkajs already
    const worker = new WorkerProducer({ brokers: kafkaBrokers(), clientId: 'grouping', logLevel: 'nothing' });
    await worker.connect();
    expect({ fastEncoder: worker.fastEncoder, fastGrouping: worker.fastGrouping }).toEqual({ fastEncoder: true, fastGrouping: true });
    await worker.disconnect();
    const plain = new WorkerProducer({ brokers: kafkaBrokers(), clientId: 'grouping', logLevel: 'nothing', fastEncoder: false });
    await plain.connect();
    expect({ fastEncoder: plain.fastEncoder, fastGrouping: plain.fastGrouping }).toEqual({ fastEncoder: false, fastGrouping: false });
    await plain.disconnect();
  });
});

describe('installFastProduceEncoder', () => {
  it('puts the encoder in place for Produce v3–v7, once, keeping kafkajs’s request fields and its compressed path', async () => {
    vi.spyOn(Date, 'now').mockReturnValue(1_764_150_000_000);
    expect(installFastProduceEncoder()).toBe(true);
    expect(installFastProduceEncoder()).toBe(true);
    expect(isFastProduceEncoderInstalled()).toBe(true);
    // Timestamps whose text order is not their numeric order: the one input where the two encoders differ, so the
    // bytes tell which encoder ran.
    const messages = [
      { key: 'k', value: 'v', headers: { h: 'é' }, timestamp: '999' },
      { value: 'w', timestamp: '1000' },
    ];
    const fields: ProduceRequestFields = { acks: -1, timeout: 30_000, topicData: [{ topic: 'x', partitions: [{ partition: 0, messages }] }] };
    const expected = encodeProduceRequest(fields);
    expect(expected.equals(await kafkajsBytes(fields))).toBe(false);
    for (const version of [3, 4, 5, 6, 7]) {
      const factory = require(`kafkajs/src/protocol/requests/produce/v${version}/request.js`) as RequestFactory;
      const request = factory(fields);
      expect(request.apiVersion).toBe(version);
      expect((await request.encode()).buffer.equals(expected)).toBe(true);
    }
    // Through kafkajs's own version table, as the broker connection uses it.
    const { requests } = require('kafkajs/src/protocol/requests/index.js') as {
      requests: { Produce: { protocol: (v: { version: number }) => (f: unknown) => { request: { encode: () => Promise<{ buffer: Buffer }> } } } };
    };
    const viaTable = requests.Produce.protocol({ version: 7 })({ ...fields, compression: 0 });
    expect((await viaTable.request.encode()).buffer.equals(expected)).toBe(true);
    // Compressed sends stay kafkajs's: GZIP (1) yields a compressed batch (attributes' codec bits = 1).
    const v7 = require('kafkajs/src/protocol/requests/produce/v7/request.js') as RequestFactory;
    const gzip = (await v7({ ...fields, compression: 1 }).encode()).buffer;
    const batchAt = 2 + 2 + 4 + 4 + 2 + 1 + 4 + 4 + 4;
    expect(gzip.readInt16BE(batchAt + 21) & 0x7).toBe(1);
  });
});

describe('fast produce encoder on a real broker', () => {
  it('produces keys, values, headers and timestamps that the broker accepts and consumers read back unchanged', async () => {
    expect(installFastProduceEncoder()).toBe(true);
    const kafka = testKafka('emstream-fast-encoder-test');
    const topic = uniqueTopic('fast-encoder');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const N = 3000;
    const sent = Array.from({ length: N }, (_, i) => ({
      key: i % 5 === 0 ? null : `key-${i % 17}-ü`,
      value: i % 11 === 0 ? Buffer.from([i & 0xff, 0, 255]) : `{"label":${i % 8},"text":"${'x'.repeat(i % 300)}","ω":${i}}`,
      headers: { 'emstream.source': `in/0/${i}`, multi: [`a${i}`, `b${i}`] },
      partition: i % 2,
      timestamp: String(1_764_000_000_000 + i * 1000),
    }));
    for (let at = 0; at < N; at += 1000) await producer.sendBatch({ topicMessages: [{ topic, messages: sent.slice(at, at + 1000) }] });
    await producer.disconnect();
    const read = await readTopic(kafka, topic, N);
    expect(read).toHaveLength(N);
    const byIndex = new Map(read.map((m) => [Number(m.headers['emstream.source'].split('/')[2]), m]));
    for (let i = 0; i < N; i++) {
      const m = byIndex.get(i)!;
      const s = sent[i];
      expect(m.partition).toBe(s.partition);
      expect(m.key).toBe(s.key);
      expect(m.value!.equals(Buffer.isBuffer(s.value) ? s.value : Buffer.from(s.value))).toBe(true);
      expect(m.timestamp).toBe(s.timestamp);
      expect(m.headers.multi).toBe(`a${i},b${i}`); // a repeated header comes back as both values
    }
    // Per partition, offsets follow the send order.
    for (const partition of [0, 1]) {
      const order = read.filter((m) => m.partition === partition).sort((a, b) => a.offset - b.offset).map((m) => Number(m.headers['emstream.source'].split('/')[2]));
      expect(order).toEqual(sent.map((_, i) => i).filter((i) => i % 2 === partition));
    }
  });
});
