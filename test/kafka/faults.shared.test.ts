/**
 * Faults of the shared-model mode on a real broker, the members in child processes (`emstream run --shared-model`)
 * so the one holding the reducer role can be SIGKILLed mid-stream. The other member takes the role over (Kafka gives
 * it the statistics topic's partition after the session timeout), resumes the global state, and the model versions
 * go on; checked from outside: every input labelled (exactly once with --exactly-once), every label's version a global
 * version, the versions 1, 2, 3, … with no gap or repeat, and the last global state counting every input offset once.
 */
import type { Kafka } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { readLabelMessage } from '../../src/kafka/messages/labels.js';
import { runKafkaPipeline } from '../../src/kafka/run/runner.js';
import { standardPipeline } from '../../src/kafka/run/standardPipeline.js';
import { readModelMessage } from '../../src/kafka/state/format.js';
import { kafkaBrokers } from '../helpers/kafka.js';
import { clusteredPoint, committedTotal, coverage, createInput, exactlyOnceReport, killChildren, produceLive, readCommitted, readCommittedTopic, spawnRun, testKafka, topicEnd, uniqueTopic, waitFor, type ChildRun } from './helpers.js';

afterEach(killChildren);

const WINDOW = 500;
const SESSION_MS = 6000;

function runArgs(brokers: string, input: string, extra: string[] = []): string[] {
  return ['--brokers', brokers, '--input', input, '--group', `${input}-g`, '--pipeline-id', input, '--format', 'json-array', '-k', '3', '--window', String(WINDOW), '--from-beginning', '--shared-model', '--session-timeout-ms', String(SESSION_MS), '--log-level', 'info', ...extra];
}

const point = (i: number): { key: string; value: string } => ({ key: `k${i}`, value: JSON.stringify(clusteredPoint(i)) });

const isMsg = (prefix: string) => (e: Record<string, unknown>) => typeof e.msg === 'string' && e.msg.startsWith(prefix);

/** The member that holds the reducer role now (its last role line says it took the role). */
function reducerOf(runs: readonly ChildRun[]): ChildRun | undefined {
  return runs.find((r) => {
    const lines = r.logs.filter((e) => isMsg('this member is the reducer')(e) || isMsg('this member is no longer the reducer')(e));
    return lines.length > 0 && isMsg('this member is the reducer')(lines[lines.length - 1]);
  });
}

/** The global versions on the models topic (read_committed), in order. */
async function versions(kafka: Kafka, input: string): Promise<number[]> {
  return (await readCommitted(kafka, `${input}.models`)).filter((m) => m.key === input).map((m) => readModelMessage(m.value).message.modelVersion);
}

/** The rest of the input by a last member in process, its open windows finished and merged (it reduces alone). */
async function finishRemaining(kafka: Kafka, input: string, exactlyOnce: boolean): Promise<void> {
  const end = await topicEnd(kafka, input);
  const run = await runKafkaPipeline({ brokers: kafkaBrokers(), pipeline: standardPipeline({ window: WINDOW, k: 3 }), input, group: `${input}-g`, pipelineId: input, fromBeginning: true, sharedModel: true, exactlyOnce, sessionTimeoutMs: SESSION_MS });
  await waitFor(async () => (await committedTotal(kafka, `${input}-g`, input)) + run.counters.inFlight >= end && run.sharedModel!.reducer, 90_000, 'the last member to read the rest and hold the reducer role');
  await run.stop({ finishWindow: true });
}

describe('faults of the shared-model mode (members in child processes)', () => {
  for (const exactlyOnce of [true, false]) {
    const mode = exactlyOnce ? 'exactly once' : 'at least once';
    it(`SIGKILL the member holding the reducer role mid-stream (${mode}): the other takes the role over, versions go on, nothing is lost`, { timeout: 240_000 }, async () => {
      const kafka = testKafka();
      const input = uniqueTopic(exactlyOnce ? 'shared-kill-eos' : 'shared-kill');
      await createInput(kafka, input, 4);
      const BACKLOG = 6000;
      const LIVE = 24_000;
      const N = BACKLOG + LIVE;
      const extra = exactlyOnce ? ['--exactly-once'] : [];
      const brokers = kafkaBrokers().join(',');
      const { produceAll } = await import('./helpers.js');
      await produceAll(kafka, input, point, BACKLOG);
      const a = spawnRun(runArgs(brokers, input, extra));
      await a.waitForLog(isMsg('this member is the reducer'), 60_000, 'the first member to take the reducer role');
      const b = spawnRun(runArgs(brokers, input, extra));
      await b.waitForLog((e) => e.msg === 'partitions assigned' && e.role === undefined, 60_000, 'the second member to get input partitions');
      const producing = produceLive(kafka, input, BACKLOG, LIVE, 3000, point);
      await waitFor(async () => (await versions(kafka, input)).length >= 5, 60_000, 'a few global versions');
      // Settled: one of them reduces (the role may have moved when the second joined).
      await waitFor(() => reducerOf([a, b]) !== undefined, 30_000, 'a reducer');
      const victim = reducerOf([a, b])!;
      const survivor = victim === a ? b : a;
      const before = await versions(kafka, input);
      victim.kill('SIGKILL');
      const killedAt = Date.now();
      await victim.exited;
      const takeover = await survivor.waitForLog((e) => isMsg('this member is the reducer')(e) && (e.time as number) > killedAt, 60_000, 'the survivor to take the reducer role');
      const resumedFrom = takeover.modelVersion as number;
      await waitFor(async () => (await versions(kafka, input)).some((v) => v > resumedFrom), 60_000, 'a version made by the new reducer');
      await producing;
      await waitFor(async () => (await committedTotal(kafka, `${input}-g`, input)) > N - 4 * WINDOW, 120_000, 'all but the open windows committed');
      survivor.kill('SIGTERM');
      expect((await survivor.exited).code).toBe(0);
      await finishRemaining(kafka, input, exactlyOnce);

      // Versions 1, 2, …, with no gap or repeat across the takeover; the new reducer went on from the last committed one.
      const all = await versions(kafka, input);
      expect(all).toEqual(all.map((_, i) => i + 1));
      expect(resumedFrom).toBeGreaterThanOrEqual(before[before.length - 1]);
      const labels = await readCommittedTopic(kafka, `${input}.labels`);
      const versionSet = new Set(all);
      for (const m of labels.messages) expect(versionSet.has(readLabelMessage(m.value).modelVersion)).toBe(true);
      const last = readModelMessage((await readCommitted(kafka, `${input}.models`)).filter((m) => m.key === input).at(-1)!.value);
      const ledger = last.shared!.ledger;
      expect(last.offsets.reduce((s, o) => s + Number(o.offset), 0)).toBe(N);
      let report: string;
      if (exactlyOnce) {
        const { duplicates, distinct } = exactlyOnceReport(labels.messages, []);
        expect({ duplicates, lost: N - distinct.size }).toEqual({ duplicates: 0, lost: 0 });
        expect(labels.stable).toBe(true);
        // Every input counted once in the global statistics.
        expect(ledger.points).toBe(N);
        expect(ledger.counts).toMatchObject({ duplicate: 0, partial: 0, mismatched: 0 });
        report = `0 duplicate labels`;
      } else {
        const { distinct, duplicates } = coverage(labels.messages);
        expect(distinct.size).toBe(N);
        // Replays are never counted twice: a partial overlap counts by its share, so the total stays within a window.
        expect(Math.abs(ledger.points - N)).toBeLessThan(WINDOW);
        report = `${duplicates} duplicate labels`;
      }
      console.log(
        `[faults/shared] ${mode}: reducer SIGKILLed at version ${before[before.length - 1]}, the survivor resumed from ${resumedFrom} after ${((Number(takeover.time) - killedAt) / 1000).toFixed(1)} s; ` +
          `${all.length} versions; ${report}; ledger ${JSON.stringify(ledger.counts)}, points ${ledger.points} of ${N}`,
      );
    });
  }
});
