import { describe, expect, it } from 'vitest';
import type { TopicPartitionOffset } from '../../src/kafka/client/ports.js';
import { OffsetTracker } from '../../src/kafka/delivery/offsets.js';
import { BatchSender } from '../../src/kafka/delivery/batchSender.js';
import { Coverage, lastOffsets } from '../../src/kafka/delivery/coverage.js';
import { compareOffsets, maxOffset, offsetAfter, partitionKey } from '../../src/offsets.js';

describe('offsets beyond 2^53 stay exact', () => {
  // 2^63 − 1 is Kafka's largest offset; near it a double is 1024 apart from its neighbours.
  const big = (delta: number): string => (2n ** 63n - 100n + BigInt(delta)).toString();

  it('compare, increment and keys: exact for int64 offsets, and the same as numbers for small ones', () => {
    expect(offsetAfter(big(0))).toBe(big(1));
    expect(Number(big(1)) === Number(big(0))).toBe(true); // what a number would have lost
    expect(compareOffsets(big(1), big(0))).toBeGreaterThan(0);
    expect(compareOffsets(big(0), big(0))).toBe(0);
    expect(compareOffsets('999', '1000')).toBeLessThan(0);
    expect(compareOffsets('-1', '0')).toBeLessThan(0);
    expect(maxOffset(big(3), big(2))).toBe(big(3));
    expect(offsetAfter('41')).toBe('42');
    expect(offsetAfter('999999999999999')).toBe('1000000000000000');
    expect(partitionKey('points', 3)).toBe('3:points');
  });

  it('the tracker registers, finishes and commits offsets near 2^63 exactly', async () => {
    const commits: TopicPartitionOffset[][] = [];
    const tracker = new OffsetTracker({ commit: async (o) => void commits.push(o) });
    for (let i = 0; i < 6; i++) tracker.register('t', 0, big(i));
    tracker.claim('t', 0, big(2));
    tracker.markDoneThrough('t', 0, big(4));
    expect(tracker.committable()).toEqual([{ topic: 't', partition: 0, offset: big(2) }]);
    tracker.markDone('t', 0, big(2));
    expect(await tracker.commit()).toEqual([{ topic: 't', partition: 0, offset: big(5) }]);
    expect(tracker.nextOffset('t', 0)).toBe(big(6));
    tracker.register('t', 0, big(1)); // went back (a seek): the partition starts over
    expect(tracker.inFlight).toBe(1);
    tracker.markDone('t', 0, big(1));
    expect(tracker.committable()).toEqual([{ topic: 't', partition: 0, offset: big(2) }]);
    expect(commits).toEqual([[{ topic: 't', partition: 0, offset: big(5) }]]);
  });

  it("a window's last offsets and a state's coverage are exact", () => {
    const records = [big(7), big(9), big(8)].map((offset) => ({ topic: 't', partition: 1, offset, vector: [0] }));
    const last = lastOffsets([...records, { topic: 'u', partition: 0, offset: '5', vector: [0] }, { vector: [1] }]);
    expect([...last.values()]).toEqual([
      { topic: 'u', partition: 0, offset: '5' },
      { topic: 't', partition: 1, offset: big(9) },
    ]);
    const coverage = new Coverage([{ topic: 't', partition: 1, offset: big(20) }]);
    coverage.advance(last); // behind the restored coverage on t/1: kept
    expect(coverage.offsets()).toEqual([
      { topic: 't', partition: 1, offset: big(20) },
      { topic: 'u', partition: 0, offset: '6' },
    ]);
    coverage.advance(lastOffsets([{ topic: 't', partition: 1, offset: big(30), vector: [0] }]));
    expect(coverage.offsets()[0].offset).toBe(big(31));
  });
});

describe('OffsetTracker', () => {
  it('commits last finished + 1 over the finished prefix only, per partition', async () => {
    const commits: TopicPartitionOffset[][] = [];
    const tracker = new OffsetTracker({ commit: async (o) => void commits.push(o) });
    for (const o of [0, 1, 2, 5, 6]) tracker.register('t', 0, String(o)); // gaps (compaction, markers) are fine
    tracker.register('t', 1, '10');
    expect(tracker.inFlight).toBe(6);
    tracker.claim('t', 0, '1'); // a dead letter in flight
    tracker.markDoneThrough('t', 0, '5'); // a window covering 0..5 acknowledged
    expect(tracker.inFlight).toBe(3);
    expect(tracker.committable()).toEqual([{ topic: 't', partition: 0, offset: '1' }]); // 1 still waits for its dead letter
    tracker.markDone('t', 0, '1');
    expect(tracker.committable()).toEqual([{ topic: 't', partition: 0, offset: '6' }]);
    expect(await tracker.commit()).toEqual([{ topic: 't', partition: 0, offset: '6' }]);
    expect(await tracker.commit()).toEqual([]); // nothing moved
    tracker.markDoneThrough('t', 1, '10');
    tracker.markDoneThrough('t', 0, '6');
    await tracker.commit();
    expect(commits.at(-1)).toEqual(
      expect.arrayContaining([
        { topic: 't', partition: 0, offset: '7' },
        { topic: 't', partition: 1, offset: '11' },
      ]),
    );
    expect(tracker.inFlight).toBe(0);
  });

  it('a partition that goes back with finished entries past a gap keeps inFlight exact (never negative)', () => {
    const tracker = new OffsetTracker();
    for (let o = 0; o < 4; o++) tracker.register('t', 0, o);
    tracker.markDone('t', 0, 2); // finished out of order: 0, 1, 3 still unfinished
    expect(tracker.inFlight).toBe(3);
    tracker.register('t', 0, 0); // re-consumed from 0
    expect(tracker.inFlight).toBe(1);
    tracker.markDone('t', 0, 0);
    expect(tracker.inFlight).toBe(0);
    expect(tracker.committable()).toEqual([{ topic: 't', partition: 0, offset: '1' }]);
  });

  it('retainOnly forgets revoked partitions: no longer in flight, acknowledgements ignored, never committed again', async () => {
    const commits: TopicPartitionOffset[][] = [];
    const tracker = new OffsetTracker({ commit: async (o) => void commits.push(o) });
    for (let o = 0; o < 5; o++) {
      tracker.register('a', 0, o);
      tracker.register('a', 1, o);
      tracker.register('b', 0, o);
    }
    tracker.markDoneThrough('a', 1, 1);
    tracker.claim('a', 1, 3);
    tracker.markDone('a', 1, 4);
    expect(tracker.inFlight).toBe(15 - 3);
    const dropped = tracker.retainOnly({ a: [0], b: [0, 7] });
    expect(dropped).toEqual([{ topic: 'a', partition: 1 }]);
    expect(tracker.inFlight).toBe(10); // a/0 and b/0: 5 each
    tracker.markDoneThrough('a', 1, 4); // the window holding a/1's records is acknowledged after the revocation
    tracker.markDone('a', 1, 3);
    expect(tracker.inFlight).toBe(10);
    tracker.markDoneThrough('a', 0, 4);
    tracker.markDoneThrough('b', 0, 2);
    expect(await tracker.commit()).toEqual([
      { topic: 'a', partition: 0, offset: '5' },
      { topic: 'b', partition: 0, offset: '3' },
    ]);
    expect(commits.flat().some((c) => c.topic === 'a' && c.partition === 1)).toBe(false);
    // Assigned again later: starts afresh from what the consumer delivers.
    tracker.register('a', 1, 2);
    tracker.markDone('a', 1, 2);
    expect(tracker.committable()).toContainEqual({ topic: 'a', partition: 1, offset: '3' });
    expect(tracker.retainOnly({ a: [0, 1], b: [0] })).toEqual([]);
  });

  it('drops unfinished entries when a partition goes back (rebalance, seek)', () => {
    const tracker = new OffsetTracker();
    for (let o = 0; o < 5; o++) tracker.register('t', 0, o);
    tracker.markDoneThrough('t', 0, 1);
    tracker.register('t', 0, 2); // re-consumed from offset 2
    expect(tracker.inFlight).toBe(1);
    tracker.markDone('t', 0, 2);
    expect(tracker.committable()).toEqual([{ topic: 't', partition: 0, offset: '3' }]);
  });

  it('wakes a waiting source when records finish', async () => {
    const tracker = new OffsetTracker();
    tracker.register('t', 0, 0);
    const waited = tracker.changed(5000);
    setTimeout(() => tracker.markDone('t', 0, 0), 10);
    const start = Date.now();
    await waited;
    expect(Date.now() - start).toBeLessThan(1000);
  });
});

describe('BatchSender', () => {
  it('splits into bounded batches, sends them in order, and runs acknowledgements in enqueue order', async () => {
    const sent: number[] = [];
    const resolvers: (() => void)[] = [];
    const producer = {
      connect: async () => undefined,
      disconnect: async () => undefined,
      sendBatch: (b: { topicMessages: { topic: string; messages: unknown[] }[] }) => {
        sent.push(b.topicMessages.reduce((n, t) => n + t.messages.length, 0));
        return new Promise<void>((r) => resolvers.push(r));
      },
    };
    const sender = new BatchSender(producer, { maxBatchMessages: 3, maxConcurrentSends: 2, lingerMs: 1 });
    const acks: string[] = [];
    const msg = (i: number) => ({ topic: i % 2 === 0 ? 'a' : 'b', message: { value: String(i) } });
    sender.enqueue([0, 1, 2, 3].map(msg), () => acks.push('first'));
    sender.enqueue([4].map(msg), () => acks.push('second'));
    const flushed = sender.flush();
    expect(sent).toEqual([3, 2]); // two sends in flight, never more than 3 messages each
    resolvers[1](); // the later batch is acknowledged first …
    await new Promise((r) => setTimeout(r, 5));
    expect(acks).toEqual([]); // … but nothing runs before the earlier batch
    resolvers[0]();
    await flushed;
    expect(acks).toEqual(['first', 'second']);
    expect(sender.acknowledged).toBe(5);
  });

  it('fails for good when a send fails: flush rejects with a KafkaEdgeError and later acknowledgements never run', async () => {
    const producer = { connect: async () => undefined, disconnect: async () => undefined, sendBatch: async () => Promise.reject(new Error('broker down')) };
    let error: Error | undefined;
    const sender = new BatchSender(producer, { onError: (e) => (error = e) });
    let acked = false;
    sender.enqueue([{ topic: 'x', message: { value: '1' } }], () => (acked = true));
    await expect(sender.flush()).rejects.toThrow(/could not produce 1 message\(s\) to "x": broker down/);
    expect(error?.name).toBe('KafkaEdgeError');
    expect(acked).toBe(false);
  });
});
