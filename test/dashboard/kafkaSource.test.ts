/**
 * The dashboard's Kafka source on the real broker, when its consumer is lost where kafkajs does not restart it.
 */
import { firstValueFrom, take, toArray } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { kafkaDashboardSource } from '../../src/dashboard/kafkaSource.js';
import { KafkaEdgeError } from '../../src/kafka/errors.js';
import { kafkaDroppingFindCoordinator, produceAll, testKafka, uniqueTopic } from '../kafka/helpers.js';

/** A window-history message as `readWindowMessage` accepts it (the fields the source reads). */
const windowRecord = (i: number): string =>
  JSON.stringify({ format: 'emstream.window', version: 1, pipelineId: 'p', windowIndex: i, modelVersion: i + 1, weights: [1], counts: { labelled: 10 }, pageHinkley: { statistic: null, threshold: null } });

describe('kafkaDashboardSource on a real broker', () => {
  it('a consumer lost while it looked for its group coordinator (kafkajs does not restart it) is run again: every window is shown, once, in order', async () => {
    const input = uniqueTopic('dash-coordinator');
    await produceAll(testKafka(), `${input}.windows`, (i) => ({ key: 'p', value: windowRecord(i) }), 20);
    const faults = { findCoordinator: 2, dropped: 0 };
    const source = kafkaDashboardSource({ kafka: kafkaDroppingFindCoordinator(faults) as never, input, drift: false, models: false, brokerTimeoutMs: 60_000 });
    try {
      const shown = await firstValueFrom(source.messages.pipe(take(20), toArray()));
      expect(shown.map((m) => (m.type === 'window' ? m.record.windowIndex : -1))).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(faults.dropped).toBe(2);
    } finally {
      await source.close();
    }
  });

  it('past brokerTimeoutMs without a coordinator, the source ends with a KafkaEdgeError instead of staying idle', async () => {
    const input = uniqueTopic('dash-coordinator-lost');
    await produceAll(testKafka(), `${input}.windows`, (i) => ({ key: 'p', value: windowRecord(i) }), 3);
    const faults = { findCoordinator: Number.POSITIVE_INFINITY, dropped: 0 };
    const source = kafkaDashboardSource({ kafka: kafkaDroppingFindCoordinator(faults) as never, input, drift: false, models: false, brokerTimeoutMs: 3000 });
    try {
      const failure = await firstValueFrom(source.messages).then(
        () => new Error('a window was shown although no coordinator was ever found'),
        (err: unknown) => err,
      );
      expect(failure).toBeInstanceOf(KafkaEdgeError);
      expect((failure as Error).message).toMatch(/^the dashboard's consumer could not rejoin its group: the brokers did not answer for \d+ s \(\d+ restarts?; last: Failed to find group coordinator\)/);
    } finally {
      await source.close();
    }
  });
});
