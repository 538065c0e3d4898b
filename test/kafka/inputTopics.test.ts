/**
 * A service started before its producer: the runner waits (within `inputTimeoutMs`) for an input topic that does
 * not exist yet, then runs; a topic that never comes ends the start with a typed, retriable error.
 */
import { describe, expect, it } from 'vitest';
import { InputTopicMissingError } from 'emstream';
import { runKafkaPipeline } from '../../src/kafka/run/runner.js';
import { standardPipeline } from '../../src/kafka/run/standardPipeline.js';
import { clusteredPoint, produceAll, testKafka, uniqueTopic, waitFor } from './helpers.js';

describe('input topics that do not exist yet', () => {
  it('are waited for: created a few seconds after the start, their records are labelled', async () => {
    const kafka = testKafka();
    const input = uniqueTopic('late-input');
    const starting = runKafkaPipeline({ kafka, producerInWorker: false, pipeline: standardPipeline({ window: 100, k: 2 }), input, group: `${input}-group`, fromBeginning: true, inputTimeoutMs: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    const admin = kafka.admin();
    await admin.connect();
    // The runner has not created the input itself (it never does).
    expect(await admin.listTopics()).not.toContain(input);
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: input }] });
    await admin.disconnect();
    await produceAll(kafka, input, (i) => ({ key: `k${i}`, value: JSON.stringify(clusteredPoint(i)) }), 300);
    const run = await starting;
    await waitFor(() => run.counters.labelled === 300, 60_000, 'the late topic to be labelled');
    expect((await run.stop()).counters).toMatchObject({ consumed: 300, labelled: 300 });
  });

  it('that never come end the start after the wait with an InputTopicMissingError that says what to do', async () => {
    const input = uniqueTopic('never-input');
    const started = Date.now();
    const error = await runKafkaPipeline({ kafka: testKafka(), producerInWorker: false, pipeline: standardPipeline({ window: 100, k: 2 }), input, inputTimeoutMs: 2000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InputTopicMissingError);
    expect((error as InputTopicMissingError).context).toMatchObject({ missing: [input], operation: 'input-topics' });
    expect((error as InputTopicMissingError).retriable).toBe(true);
    expect((error as Error).message).toMatch(new RegExp(`the input topic "${input}" does not exist \\(waited 2 s\\): create it .*--input-timeout`));
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000);
    const admin = testKafka().admin();
    await admin.connect();
    expect(await admin.listTopics()).not.toContain(input);
    await admin.disconnect();
  });
});
