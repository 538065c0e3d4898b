import { describe, expect, it } from 'vitest';
import { BrokerUnavailableError, KafkaEdgeError } from '../../src/kafka/errors.js';
import { createDecoder } from '../../src/kafka/source/formats.js';
import { OffsetTracker } from '../../src/kafka/delivery/offsets.js';
import { fromKafka } from '../../src/kafka/source/fromKafka.js';
import { type KafkaRecord } from '../../src/kafka/source/record.js';
import { kafkaDroppingFindCoordinator, produceAll, testKafka, uniqueTopic, waitFor } from './helpers.js';

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

  it('a rebalance that takes a partition away: its records stop counting in flight and are never committed by the old owner; the kept one is not read again', async () => {
    const kafka = testKafka();
    const topic = uniqueTopic('rebalance');
    const groupId = `${topic}-group`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    const N = 400;
    await produceAll(kafka, topic, (i) => ({ key: `k${i}`, value: JSON.stringify([i, i]) }), N);
    const a = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
    const b = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 500 });
    await a.connect();
    const assignments: Record<string, number[]>[] = [];
    a.on(a.events.GROUP_JOIN, (e) => void assignments.push(e.payload.memberAssignment));
    const tracker = new OffsetTracker({ commit: (offsets) => a.commitOffsets(offsets) });
    const seen: KafkaRecord[] = [];
    const rebalances: { assigned: { topic: string; partitions: number[] }[]; revoked: { topic: string; partitions: number[] }[] }[] = [];
    // The records are held (as a window would hold them): nothing marks them done until the test says so.
    const subscription = fromKafka(a, {
      topics: topic,
      fromBeginning: true,
      decode: createDecoder({ format: 'json-array', dimension: 2 }),
      tracker,
      commitIntervalMs: 0,
      onRebalance: (change) => rebalances.push(change),
    }).subscribe((r) => seen.push(r));
    try {
      await waitFor(() => seen.length === N, 30_000, 'every record at the first consumer');
      expect(tracker.inFlight).toBe(N);
      const perPartition = [0, 1].map((p) => seen.filter((r) => r.partition === p).length);
      expect(perPartition[0] + perPartition[1]).toBe(N);

      await b.connect();
      await b.subscribe({ topics: [topic], fromBeginning: true });
      await b.run({ autoCommit: false, eachBatch: async () => undefined });
      // The group rebalances: each member keeps one partition; A forgets the other one.
      await waitFor(() => tracker.inFlight < N, 60_000, 'the first consumer to lose a partition');
      expect(assignments.at(-1)?.[topic]).toHaveLength(1);
      const kept = assignments.at(-1)![topic][0];
      const revoked = 1 - kept;
      expect(rebalances.at(-1)).toEqual({ assigned: [{ topic, partitions: [kept] }], revoked: [{ topic, partitions: [revoked] }] });
      // The kept partition goes on after what was read (kafkajs alone would fetch it again from the last commit, none
      // here: the beginning): nothing is read twice, and what A holds of it is still in flight.
      expect(tracker.inFlight).toBe(perPartition[kept]);
      const keptSeen = (): number => seen.filter((r) => r.partition === kept).length;
      await new Promise((r) => setTimeout(r, 3000));
      expect(keptSeen()).toBe(perPartition[kept]);
      // New records on the kept partition are read once.
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ partition: kept, value: JSON.stringify([i, -i]) })) });
      await producer.disconnect();
      await waitFor(() => keptSeen() === perPartition[kept] + 10, 30_000, 'the new records of the kept partition');
      await new Promise((r) => setTimeout(r, 500));
      expect(keptSeen()).toBe(perPartition[kept] + 10);
      expect(new Set(seen.filter((r) => r.partition === kept).map((r) => r.offset)).size).toBe(perPartition[kept] + 10);

      // Outputs of every held record acknowledged now, including those of the revoked partition.
      const last = (p: number): string => seen.filter((r) => r.partition === p).at(-1)!.offset;
      tracker.markDoneThrough(topic, revoked, last(revoked));
      tracker.markDoneThrough(topic, kept, last(kept));
      expect(tracker.inFlight).toBe(0);
      expect(await tracker.commit()).toEqual([{ topic, partition: kept, offset: String(Number(last(kept)) + 1) }]);
      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      const byPartition = Object.fromEntries(committed.partitions.map((p) => [p.partition, p.offset]));
      expect(byPartition[kept]).toBe(String(perPartition[kept] + 10));
      expect(byPartition[revoked]).toBe('-1'); // nothing committed for it by the member that lost it
    } finally {
      subscription.unsubscribe();
      await Promise.all([a.disconnect(), b.disconnect(), admin.disconnect()]);
    }
  }, 120_000);

  it.each([true, false])('readOnce %s: a fetch that goes back before what was read (a late seek, a fetch from the last commit) emits nothing twice with readOnce, and does without it', async (readOnce) => {
    const kafka = testKafka();
    const topic = uniqueTopic('read-once');
    const N = 100;
    await produceAll(kafka, topic, (i) => ({ value: JSON.stringify([i, i]) }), N);
    const consumer = kafka.consumer({ groupId: `${topic}-group` });
    await consumer.connect();
    // The records are held (as a window holds them): nothing marks them done, so the tracker keeps the partition.
    const tracker = new OffsetTracker();
    const seen: KafkaRecord[] = [];
    const subscription = fromKafka(consumer, { topics: topic, fromBeginning: true, decode: createDecoder({ format: 'json-array', dimension: 2 }), tracker, commitIntervalMs: 0, readOnce }).subscribe((r) => seen.push(r));
    try {
      await waitFor(() => seen.length === N, 30_000, 'every record');
      // What a fetch from the last commit (none here: the beginning) does after a seek that came too late.
      consumer.seek({ topic, partition: 0, offset: '0' });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({ topic, messages: Array.from({ length: 10 }, (_, i) => ({ value: JSON.stringify([N + i, 0]) })) });
      await producer.disconnect();
      await waitFor(() => seen.some((r) => r.offset === String(N + 9)), 30_000, 'the records produced after the seek');
      await new Promise((r) => setTimeout(r, 500));
      const offsets = seen.map((r) => Number(r.offset));
      if (readOnce) {
        // Each offset once, in order; the held records still in flight.
        expect(offsets).toEqual(Array.from({ length: N + 10 }, (_, i) => i));
        expect(tracker.inFlight).toBe(N + 10);
      } else {
        // Without it the partition is read again from the seek: every record emitted twice.
        expect(offsets.length).toBe(2 * N + 10);
        expect(new Set(offsets).size).toBe(N + 10);
      }
    } finally {
      subscription.unsubscribe();
      await consumer.disconnect();
    }
  }, 60_000);

  it('a consumer the client does not restart after "group coordinator not found" (every broker lost while it looked) is restarted by fromKafka and reads on', async () => {
    const topic = uniqueTopic('coordinator');
    await produceAll(testKafka(), topic, (i) => ({ value: JSON.stringify([i, i]) }), 50);
    const faults = { findCoordinator: 3, dropped: 0 };
    const consumer = kafkaDroppingFindCoordinator(faults).consumer({ groupId: `${topic}-group` });
    await consumer.connect();
    const crashes: { error: string; restart: boolean }[] = [];
    consumer.on(consumer.events.CRASH, (e) => void crashes.push({ error: `${e.payload.error.name}: ${e.payload.error.message}`, restart: e.payload.restart }));
    const seen: KafkaRecord[] = [];
    let failure: unknown;
    const subscription = fromKafka(consumer, { topics: topic, fromBeginning: true, commitIntervalMs: 0, decode: createDecoder({ format: 'json-array', dimension: 2 }) }).subscribe({
      next: (record) => seen.push(record),
      error: (err: unknown) => (failure = err),
    });
    try {
      await waitFor(() => seen.length === 50 || failure !== undefined, 60_000, 'every record, or an error');
      expect(failure).toBeUndefined();
      expect(seen.map((r) => Number(r.offset))).toEqual(Array.from({ length: 50 }, (_, i) => i));
      // The fault happened where it was meant to, and the client itself would not have restarted from it.
      expect(faults.dropped).toBe(3);
      expect(crashes.filter((c) => !c.restart).map((c) => c.error)).toContain('KafkaJSGroupCoordinatorNotFound: Failed to find group coordinator');
    } finally {
      subscription.unsubscribe();
      await consumer.disconnect();
    }
  });

  it('a coordinator never found within restartWithinMs errors the Observable with a BrokerUnavailableError that says what to do', async () => {
    const topic = uniqueTopic('coordinator-lost');
    await produceAll(testKafka(), topic, (i) => ({ value: JSON.stringify([i, i]) }), 5);
    const faults = { findCoordinator: Number.POSITIVE_INFINITY, dropped: 0 };
    const consumer = kafkaDroppingFindCoordinator(faults).consumer({ groupId: `${topic}-group` });
    await consumer.connect();
    const started = Date.now();
    try {
      const failure = await new Promise<unknown>((resolve, reject) => {
        fromKafka(consumer, { topics: topic, fromBeginning: true, commitIntervalMs: 0, restartWithinMs: 3000, decode: createDecoder({ format: 'json-array', dimension: 2 }) }).subscribe({
          next: () => reject(new Error('a record came although no coordinator was ever found')),
          error: resolve,
          complete: () => reject(new Error('completed instead of erroring')),
        });
      });
      expect(failure).toBeInstanceOf(BrokerUnavailableError);
      const error = failure as BrokerUnavailableError;
      expect(error.message).toMatch(new RegExp(`^the consumer of "${topic}" could not rejoin its group: the brokers did not answer for \\d+ s \\(\\d+ restarts; last: Failed to find group coordinator\\); check that the brokers run, or raise the retry budget`));
      expect(error.retriable).toBe(true);
      expect(error.context.attempts).toBeGreaterThanOrEqual(2);
      expect(error.context.waitedMs).toBeGreaterThanOrEqual(3000);
      expect(Date.now() - started).toBeLessThan(30_000);
      expect(faults.dropped).toBeGreaterThanOrEqual(3);
    } finally {
      await consumer.disconnect();
    }
  });
});
