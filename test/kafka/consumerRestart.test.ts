import { Kafka, KafkaJSConnectionError, KafkaJSGroupCoordinatorNotFound, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, logLevel } from 'kafkajs';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ConsumerRestarts, restartsAfterOutage, seekQuietly } from '../../src/kafka/client/consumerRestart.js';
import type { ConsumerLike } from '../../src/kafka/client/ports.js';
import { BrokerUnavailableError } from '../../src/kafka/errors.js';

/** The error as kafkajs 2.2.4 throws it (its types declare the class without the message argument it takes). */
const coordinatorNotFound = (): Error => new (KafkaJSGroupCoordinatorNotFound as unknown as new (message: string) => Error)('Failed to find group coordinator');

describe('restartsAfterOutage: which crashes without a restart from the client are restarted from', () => {
  it('"group coordinator not found" (kafkajs deems it not retriable): yes', () => {
    expect(restartsAfterOutage(coordinatorNotFound())).toBe(true);
  });

  it('errors kafkajs restarts from itself (it reached us with restart: false only if a restartOnFailure callback said no): no', () => {
    expect(restartsAfterOutage(new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092'))).toBe(false);
    expect(restartsAfterOutage(new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('Connection error'), { retryCount: 5, retryTime: 300 }))).toBe(false);
  });

  it('errors that are not an outage (a decoder bug, an authorization failure): no', () => {
    expect(restartsAfterOutage(new TypeError('decoder bug at offset 7'))).toBe(false);
    expect(restartsAfterOutage(new KafkaJSNonRetriableError('Not authorized to access group'))).toBe(false);
  });
});

describe('ConsumerRestarts', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const make = (overrides: { connect?: () => Promise<void>; withinMs?: number } = {}) => {
    const calls: string[] = [];
    const gaveUp: Error[] = [];
    const restarts = new ConsumerRestarts({
      what: 'the consumer of "points"',
      connect: overrides.connect ?? (async () => void calls.push('connect')),
      run: async () => void calls.push('run'),
      withinMs: overrides.withinMs ?? 60_000,
      onGiveUp: (error) => gaveUp.push(error),
    });
    return { restarts, calls, gaveUp };
  };
  const lost = coordinatorNotFound();

  it('connects and runs the consumer again after a backoff that doubles while the outage lasts, and starts afresh once it is back', async () => {
    const { restarts, calls } = make();
    restarts.crashed(lost);
    await vi.advanceTimersByTimeAsync(499);
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toEqual(['connect', 'run']);
    restarts.crashed(lost); // it crashed again while rejoining
    await vi.advanceTimersByTimeAsync(999);
    expect(calls).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(calls).toHaveLength(4);
    restarts.recovered();
    restarts.crashed(lost); // a new outage: the first wait again
    await vi.advanceTimersByTimeAsync(500);
    expect(calls).toHaveLength(6);
  });

  it('a restart whose connect fails on an outage is tried again; one that fails otherwise gives up with that error', async () => {
    let attempt = 0;
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:9092'), { code: 'ECONNREFUSED' });
    const denied = new KafkaJSNonRetriableError('Not authorized to access group');
    const { restarts, gaveUp } = make({ connect: async () => Promise.reject(++attempt === 1 ? refused : denied) });
    restarts.crashed(lost);
    await vi.advanceTimersByTimeAsync(500);
    expect(attempt).toBe(1);
    expect(gaveUp).toEqual([]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(attempt).toBe(2);
    expect(gaveUp).toEqual([denied]);
    restarts.crashed(lost); // nothing more is tried once it gave up
    await vi.advanceTimersByTimeAsync(10_000);
    expect(attempt).toBe(2);
  });

  it('gives up past withinMs with a BrokerUnavailableError naming the wait, the restarts and the last error, once', async () => {
    const { restarts, calls, gaveUp } = make({ withinMs: 4000 });
    restarts.crashed(lost);
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(5000);
      restarts.crashed(lost);
    }
    expect(gaveUp).toHaveLength(1);
    const error = gaveUp[0] as BrokerUnavailableError;
    expect(error).toBeInstanceOf(BrokerUnavailableError);
    expect(error.message).toBe(
      'the consumer of "points" could not rejoin its group: the brokers did not answer for 5 s (1 restart; last: Failed to find group coordinator); ' +
        'check that the brokers run, or raise the retry budget (brokerTimeoutMs, --broker-timeout-ms). Nothing unacknowledged was committed: running again loses nothing',
    );
    expect(error.context).toMatchObject({ operation: 'consume', waitedMs: 5000, attempts: 1 });
    expect(calls).toEqual(['connect', 'run']);
  });

  it('a crash that is not an outage is left to the caller: nothing is scheduled', async () => {
    const { restarts, calls, gaveUp } = make();
    expect(restarts.crashed(new TypeError('decoder bug at offset 7'))).toBe(false);
    expect(restarts.crashed(lost)).toBe(true);
    await vi.advanceTimersByTimeAsync(500);
    expect(calls).toEqual(['connect', 'run']);
    expect(gaveUp).toEqual([]);
  });

  it('stop cancels a pending restart', async () => {
    const { restarts, calls } = make();
    restarts.crashed(lost);
    restarts.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(calls).toEqual([]);
  });
});

describe('seekQuietly', () => {
  it('a seek kafkajs refuses (its consumer between a crash and its restart, not running) is logged, not thrown', () => {
    // A kafkajs consumer that does not run refuses a seek as one between a crash and its restart does.
    const consumer = new Kafka({ brokers: ['127.0.0.1:9'], logLevel: logLevel.NOTHING }).consumer({ groupId: 'g' });
    const position = { topic: 't', partition: 0, offset: '42' };
    expect(() => consumer.seek(position)).toThrow('Consumer group was not initialized, consumer#run must be called first');
    const logged: unknown[] = [];
    const logger = { debug: (fields: unknown) => logged.push(fields) } as never;
    expect(() => seekQuietly(consumer as unknown as ConsumerLike, position, logger)).not.toThrow();
    expect(logged).toEqual([expect.objectContaining(position)]);
  });

  it('a consumer that can seek is sought', () => {
    const sought: unknown[] = [];
    seekQuietly({ seek: (p: unknown) => void sought.push(p) } as unknown as ConsumerLike, { topic: 't', partition: 1, offset: '7' });
    expect(sought).toEqual([{ topic: 't', partition: 1, offset: '7' }]);
  });
});
