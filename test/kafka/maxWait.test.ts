/**
 * Count windows with a maximum wait on a real broker: the tail of a slow topic is labelled (and committed) within
 * the wait instead of waiting for a full window; `emstream run --max-wait-ms` sets it, on by default.
 */
import { Command } from 'commander';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_WAIT_MS, registerRun } from '../../src/cli/commands/run.js';
import type { KafkaPipelineHandle } from '../../src/kafka/run/handle.js';
import { runKafkaPipeline } from '../../src/kafka/run/runner.js';
import { standardPipeline } from '../../src/kafka/run/standardPipeline.js';
import { kafkaBrokers } from '../helpers/kafka.js';
import { clusteredPoint, committedOffset, produceAll, readTopic, testKafka, uniqueTopic, waitFor } from './helpers.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('count windows with a maximum wait, on a real broker', () => {
  it('labels and commits the tail of a slow topic within the wait; without it the tail waits for a full window', async () => {
    const kafka = testKafka();
    const WAIT = 1500;
    for (const maxWaitMs of [WAIT, undefined]) {
      const input = uniqueTopic('slow');
      const message = (i: number) => ({ key: `k${i}`, value: JSON.stringify(clusteredPoint(i)) });
      await produceAll(kafka, input, message, 1000);
      const run = await runKafkaPipeline({ kafka, producerInWorker: false, pipeline: standardPipeline({ window: 500, k: 3 }), input, group: `${input}-g`, fromBeginning: true, ...(maxWaitMs === undefined ? {} : { maxWaitMs }) });
      expect(run.config.maxWaitMs).toBe(maxWaitMs);
      await waitFor(() => run.counters.labelled === 1000, 60_000, 'the two full windows to be labelled');
      // The tail: 120 more records, trickling in over about a second, far fewer than a window.
      for (let b = 0; b < 3; b++) {
        await produceAll(kafka, input, (i) => message(1000 + 40 * b + i), 40);
        await sleep(300);
      }
      const lastSent = Date.now();
      if (maxWaitMs !== undefined) {
        await waitFor(() => run.counters.labelled === 1120, 20_000, 'the tail to be labelled');
        // within the wait of the tail's first record (sent before the last one), plus the time to fit and send
        expect(Date.now() - lastSent).toBeLessThan(WAIT + 5000);
        await waitFor(async () => (await committedOffset(kafka, `${input}-g`, input)) === 1120, 10_000, 'the commit of the tail');
        const labels = await readTopic(kafka, `${input}.labels`, 1120);
        expect(labels).toHaveLength(1120);
        const result = await run.stop();
        expect(result.handedBack).toBe(0);
        expect(result.counters.windows).toBeGreaterThanOrEqual(3);
      } else {
        await sleep(2 * WAIT);
        expect(run.counters.labelled).toBe(1000);
        const result = await run.stop();
        expect(result.handedBack).toBe(120);
      }
    }
  });

  it('emstream run sets it (default 10 s; --max-wait-ms MS, or --max-wait; 0 turns it off), and its pipeline labels the tail', async () => {
    expect(DEFAULT_MAX_WAIT_MS).toBe(10_000);
    const kafka = testKafka();
    const started = async (args: string[]): Promise<{ handle: KafkaPipelineHandle; stop: () => Promise<void> }> => {
      const stop = new AbortController();
      let handle: KafkaPipelineHandle | undefined;
      const cmd = new Command('emstream').exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
      registerRun(cmd, { signal: stop.signal, onStarted: (h) => (handle = h), logger: pino({ level: 'silent' }) });
      const running = cmd.parseAsync(['node', 'emstream', 'run', '--brokers', kafkaBrokers().join(','), '-k', '3', '--window', '500', '--from-beginning', ...args]);
      await waitFor(() => handle !== undefined, 60_000, 'the run to start');
      return {
        handle: handle!,
        stop: async () => {
          stop.abort();
          await running;
        },
      };
    };
    const input = uniqueTopic('cli-slow');
    await produceAll(kafka, input, (i) => ({ key: `k${i}`, value: JSON.stringify(clusteredPoint(i)) }), 550);
    const run = await started(['--input', input, '--max-wait-ms', '1000']);
    expect(run.handle.config.maxWaitMs).toBe(1000);
    await waitFor(() => run.handle.counters.labelled === 550, 30_000, 'the full window and the tail of 50 to be labelled');
    await run.stop();
    for (const [args, expected] of [
      [[], DEFAULT_MAX_WAIT_MS],
      [['--max-wait-ms', '0'], undefined],
      [['--max-wait', '2000'], 2000],
    ] as const) {
      const idle = uniqueTopic('cli-idle');
      await produceAll(kafka, idle, [{ key: 'k', value: JSON.stringify(clusteredPoint(0)) }]);
      const other = await started(['--input', idle, ...args]);
      expect(other.handle.config.maxWaitMs).toBe(expected);
      await other.stop();
    }
  });
});
