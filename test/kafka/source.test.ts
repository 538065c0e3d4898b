import { describe, expect, it } from 'vitest';
import { KafkaEdgeError } from '../../src/kafka/client.js';
import { createDecoder } from '../../src/kafka/formats.js';
import { fromKafka, type KafkaRecord } from '../../src/kafka/source.js';
import { produceAll, testKafka, uniqueTopic } from './helpers.js';

describe('fromKafka on a real broker', () => {
  it('a consumer crash the client will not restart from errors the Observable with a KafkaEdgeError (it does not hang)', async () => {
    const kafka = testKafka();
    const topic = uniqueTopic('crash');
    await produceAll(kafka, topic, (i) => ({ value: JSON.stringify([i, i]) }), 20);
    const consumer = kafka.consumer({ groupId: `${topic}-group` });
    await consumer.connect();
    const json = createDecoder({ format: 'json-array', dimension: 2 });
    const seen: KafkaRecord[] = [];
    try {
      const failure = await new Promise<unknown>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the Observable neither errored nor completed within 30 s')), 30_000);
        const subscription = fromKafka(consumer, {
          topics: topic,
          fromBeginning: true,
          commitIntervalMs: 0,
          // A decoder with a bug: kafkajs takes what it throws as not retriable and stops the consumer for good.
          decode: (value, at) => {
            if (at?.offset === '7') throw new TypeError('decoder bug at offset 7');
            return json(value, at);
          },
        }).subscribe({
          next: (record) => seen.push(record),
          error: (err: unknown) => {
            clearTimeout(timer);
            resolve(err);
          },
          complete: () => {
            clearTimeout(timer);
            reject(new Error('completed instead of erroring'));
          },
        });
        void subscription;
      });
      expect(failure).toBeInstanceOf(KafkaEdgeError);
      const error = failure as KafkaEdgeError;
      expect(error.message).toMatch(new RegExp(`the consumer of "${topic}" stopped on an error it does not retry: decoder bug at offset 7; .*run again`));
      expect(error.retriable).toBe(false);
      expect(error.context).toMatchObject({ topic, operation: 'consume', groupId: `${topic}-group` });
      expect(seen.map((r) => r.offset)).toEqual(['0', '1', '2', '3', '4', '5', '6']);
    } finally {
      await consumer.disconnect();
    }
  });
});
