/**
 * A member's view of the global model (shared-model runs) on the real broker, when its follower is lost where
 * kafkajs does not restart it.
 */
import { describe, expect, it } from 'vitest';
import { runKafkaPipeline } from '../../src/kafka/run/runner.js';
import { standardPipeline } from '../../src/kafka/run/standardPipeline.js';
import { GlobalModelView } from '../../src/kafka/shared/modelView.js';
import { readModelMessage } from '../../src/kafka/state/format.js';
import { StateStore } from '../../src/kafka/state/store.js';
import { KafkaEdgeError } from '../../src/kafka/errors.js';
import { clusteredPoint, kafkaDroppingFindCoordinator, produceAll, readAll, testKafka, topicEnd, uniqueTopic, waitFor } from './helpers.js';

describe('GlobalModelView on a real broker', () => {
  it('a follower lost while it looked for its group coordinator (kafkajs does not restart it) is run again and reads the next model; no error reaches the run', { timeout: 120_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('view-coordinator');
    const models = `${input}.models`;
    // Real state messages of a pipeline id, written by a run.
    await produceAll(kafka, input, (i) => ({ key: `k${i}`, value: JSON.stringify(clusteredPoint(i)) }), 600);
    const run = await runKafkaPipeline({ kafka, producerInWorker: false, pipeline: standardPipeline({ window: 200, k: 2 }), input, group: `${input}-g`, pipelineId: input, fromBeginning: true });
    await waitFor(async () => (await topicEnd(kafka, models).catch(() => 0)) >= 3, 60_000, 'three state messages');
    await run.stop({ finishWindow: true });
    const written = await readAll(kafka, models);

    const faults = { findCoordinator: 2, dropped: 0 };
    const client = kafkaDroppingFindCoordinator(faults);
    const errors: KafkaEdgeError[] = [];
    const view = new GlobalModelView({
      kafka: client as never,
      store: new StateStore({ kafka: client as never, topic: models, pipelineId: input, maxMessageBytes: 1 << 20 }),
      pipelineId: input,
      fresh: true, // follows from the topic's end: only the message copied below
      waitMs: 60_000,
      startTimeoutMs: 60_000,
      onError: (e) => errors.push(e),
    });
    try {
      await view.start();
      // The follower's first join met the dropped connections; the copy of the last state comes after.
      await waitFor(() => faults.dropped === 2, 30_000, 'both faults');
      const last = written[written.length - 1];
      await produceAll(kafka, models, [{ key: last.key, value: last.value }]);
      const model = await view.next(0);
      expect(model.version).toBe(readModelMessage(last.value).message.modelVersion);
      expect(errors).toEqual([]);
    } finally {
      await view.stop();
    }
  });
});
