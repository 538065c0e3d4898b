/**
 * Fault tests of the exactly-once mode on a real broker, beside the at-least-once ones (`faults.test.ts`): the
 * pipeline (`emstream run --exactly-once`) runs in child processes so it can be SIGKILLed and SIGSTOPped; the broker
 * restart uses a broker of its own, stopped and started again on its data directory.
 *
 * In every case a read_committed reader sees each input offset labelled exactly once, no transaction left pending at
 * the end (each output partition's last stable offset is its high watermark), and the state messages it reads match
 * the labels it reads (each state message of a partition and version holds as many points as there are labels of that
 * partition and version; no label without its state).
 */
import type { Kafka } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { runKafkaPipeline } from '../../src/kafka/run/runner.js';
import { standardPipeline } from '../../src/kafka/run/standardPipeline.js';
import { kafkaBrokers } from '../helpers/kafka.js';
import { clusteredPoint, committedTotal, createInput, exactlyOnceReport, killChildren, ownBroker, produceAll, produceLive, readCommittedTopic, spawnRun, testKafka, topicEnd, uniqueTopic, waitFor, type ChildRun } from './helpers.js';

afterEach(killChildren);

const WINDOW = 500;
/** Short sessions, so a dead or frozen member is replaced in seconds. */
const SESSION_MS = 6000;

function runArgs(brokers: string, input: string, extra: string[] = []): string[] {
  return ['--brokers', brokers, '--input', input, '--group', `${input}-g`, '--pipeline-id', input, '--format', 'json-array', '-k', '3', '--window', String(WINDOW), '--from-beginning', '--exactly-once', '--session-timeout-ms', String(SESSION_MS), '--log-level', 'info', ...extra];
}

const point = (i: number): { key: string; value: string } => ({ key: `k${i}`, value: JSON.stringify(clusteredPoint(i)) });

/** SIGTERM, then the exit code. */
async function stopGracefully(run: ChildRun): Promise<number | null> {
  run.kill('SIGTERM');
  return (await run.exited).code;
}

/** The rest of the input, by a last exactly-once run in process (restoring each task), its open windows finished. */
async function finishRemaining(kafka: Kafka, input: string, brokers: readonly string[]): Promise<void> {
  const end = await topicEnd(kafka, input);
  const from = await committedTotal(kafka, `${input}-g`, input);
  const run = await runKafkaPipeline({ brokers, pipeline: standardPipeline({ window: WINDOW, k: 3 }), input, group: `${input}-g`, pipelineId: input, fromBeginning: true, exactlyOnce: true, sessionTimeoutMs: SESSION_MS });
  await waitFor(() => run.counters.consumed >= end - from, 90_000, 'the last run to read the rest');
  await run.stop({ finishWindow: true });
  expect(await committedTotal(kafka, `${input}-g`, input)).toBe(end);
}

/** What a read_committed reader sees: every input labelled exactly once, no pending transaction, states matching labels. */
async function expectExactlyOnce(kafka: Kafka, input: string, n: number): Promise<{ duplicates: number; lost: number }> {
  const labels = await readCommittedTopic(kafka, `${input}.labels`);
  const models = await readCommittedTopic(kafka, `${input}.models`);
  const dead = await readCommittedTopic(kafka, `${input}.dead-letters`);
  const { duplicates, distinct, mismatched, repeated } = exactlyOnceReport(labels.messages, models.messages);
  const report = { duplicates, lost: n - distinct.size };
  expect(report, `${input}: labelled again: ${repeated.join('; ')}; states against labels: ${mismatched.join('; ') || 'matching'}`).toEqual({ duplicates: 0, lost: 0 });
  expect(mismatched).toEqual([]);
  expect(dead.messages).toEqual([]);
  expect({ labels: labels.stable, models: models.stable, deadLetters: dead.stable }).toEqual({ labels: true, models: true, deadLetters: true });
  return report;
}

describe('faults of the exactly-once mode (pipelines in child processes)', () => {
  const brokers = (): string => kafkaBrokers().join(',');

  it('SIGKILL mid-window, then a restart: each input labelled exactly once, nothing pending, states match labels', { timeout: 150_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('eos-kill');
    const N = 30_000;
    await produceAll(kafka, input, point, N);
    const first = spawnRun(runArgs(brokers(), input));
    await waitFor(async () => (await topicEnd(kafka, `${input}.labels`)) >= 8000, 90_000, 'labels committed');
    first.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const second = spawnRun(runArgs(brokers(), input));
    await second.waitForLog((e) => e.msg === 'restored the saved state: the stream continues from it', 60_000, 'the restore');
    await waitFor(async () => (await committedTotal(kafka, `${input}-g`, input)) > N - WINDOW, 90_000, 'all but the open window committed');
    expect(await stopGracefully(second)).toBe(0);
    await finishRemaining(kafka, input, kafkaBrokers());
    const { duplicates, lost } = await expectExactlyOnce(kafka, input, N);
    console.log(`[faults/eos] SIGKILL mid-window and restart: ${duplicates} duplicates, ${lost} lost of ${N}`);
  });

  it('a member joins, then is SIGKILLed: each input labelled exactly once, nothing pending, states match labels', { timeout: 180_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('eos-rebalance');
    await createInput(kafka, input, 4);
    const BACKLOG = 10_000;
    const LIVE = 30_000;
    await produceAll(kafka, input, point, BACKLOG);
    const producing = produceLive(kafka, input, BACKLOG, LIVE, 4000, point);
    const a = spawnRun(runArgs(brokers(), input));
    await waitFor(async () => (await topicEnd(kafka, `${input}.labels`)) >= 5000, 90_000, 'the first member to get going');
    const b = spawnRun(runArgs(brokers(), input));
    const bAssigned = await b.waitForLog((e) => e.msg === 'partitions assigned', 60_000, 'the second member to get partitions');
    const bPartitions = (bAssigned.assigned as Record<string, number[]>)[input];
    expect(bPartitions.length).toBeGreaterThan(0);
    expect(bPartitions.length).toBeLessThan(4);
    await b.waitForLog((e) => typeof e.msg === 'string' && (e.msg.startsWith('restored the saved state') || e.msg.startsWith('task opened')), 60_000, 'a task of the second member to open');
    const atJoin = await topicEnd(kafka, `${input}.labels`);
    // 3000 more labels, or (on a loaded machine the first member may have caught up with the live producer before the
    // join) all but the open windows
    const enough = Math.min(atJoin + 3000, BACKLOG + LIVE - 4 * WINDOW);
    await waitFor(async () => (await topicEnd(kafka, `${input}.labels`)) >= enough, 60_000, 'labels from both members');
    b.kill('SIGKILL');
    const killedAt = Date.now();
    await b.exited;
    await a.waitForLog((e) => e.msg === 'partitions assigned' && ((e.assigned as Record<string, number[]>)[input]?.length ?? 0) === 4 && (e.time as number) > killedAt, 60_000, 'the survivor to take every partition back');
    await producing;
    await waitFor(async () => (await committedTotal(kafka, `${input}-g`, input)) > BACKLOG + LIVE - 4 * WINDOW, 120_000, 'all but the open windows committed');
    expect(await stopGracefully(a)).toBe(0);
    await finishRemaining(kafka, input, kafkaBrokers());
    const { duplicates, lost } = await expectExactlyOnce(kafka, input, BACKLOG + LIVE);
    console.log(`[faults/eos] member joined (partitions ${bPartitions.join(',')}) then SIGKILLed: ${duplicates} duplicates, ${lost} lost of ${BACKLOG + LIVE}`);
  });

  it('a zombie: one of two members frozen (SIGSTOP) mid-transaction past the session timeout while the other takes its partitions, then thawed (SIGCONT): its commit is refused (fenced), each input labelled exactly once', { timeout: 180_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('eos-zombie');
    await createInput(kafka, input, 4);
    const BACKLOG = 8000;
    const BURST = 60_000;
    await produceAll(kafka, input, point, BACKLOG);
    const a = spawnRun(runArgs(brokers(), input));
    await waitFor(async () => (await topicEnd(kafka, `${input}.labels`)) >= 2000, 90_000, 'the first member to get going');
    const b = spawnRun(runArgs(brokers(), input));
    const bAssigned = await b.waitForLog((e) => e.msg === 'partitions assigned', 60_000, 'the second member to get partitions');
    const bPartitions = (bAssigned.assigned as Record<string, number[]>)[input];
    expect(bPartitions.length).toBeGreaterThan(0);
    expect(bPartitions.length).toBeLessThan(4);
    await waitFor(() => b.logs.filter((e) => typeof e.msg === 'string' && (e.msg.startsWith('restored the saved state') || e.msg.startsWith('task opened'))).length >= bPartitions.length, 60_000, 'the tasks of the second member to open');
    await waitFor(async () => (await committedTotal(kafka, `${input}-g`, input)) >= BACKLOG - 4 * WINDOW, 60_000, 'the backlog committed by both');

    // A burst on the second member's partitions: it is busy with back-to-back transactions when it is frozen.
    const producer = kafka.producer();
    await producer.connect();
    for (let start = 0; start < BURST; start += 2000) {
      await producer.send({ topic: input, messages: Array.from({ length: 2000 }, (_, j) => ({ ...point(BACKLOG + start + j), partition: bPartitions[(start + j) % bPartitions.length] })) });
    }
    await producer.disconnect();
    const atBurst = await topicEnd(kafka, `${input}.labels`);
    await waitFor(async () => (await topicEnd(kafka, `${input}.labels`)) >= atBurst + 4000, 60_000, 'the second member to work through the burst');
    b.kill('SIGSTOP');
    const stoppedAt = Date.now();
    await a.waitForLog((e) => e.msg === 'partitions assigned' && ((e.assigned as Record<string, number[]>)[input]?.length ?? 0) === 4 && (e.time as number) > stoppedAt, 60_000, 'the other member to take every partition');
    // The new owner's tasks for the frozen member's partitions open after their producers fenced the zombie's.
    await waitFor(() => a.logs.filter((e) => (e.time as number) > stoppedAt && typeof e.msg === 'string' && e.msg.startsWith('restored the saved state')).length >= bPartitions.length, 60_000, 'the takeover tasks to open');
    const atTakeover = await topicEnd(kafka, `${input}.labels`);
    await waitFor(async () => (await topicEnd(kafka, `${input}.labels`)) >= atTakeover + 2000, 60_000, 'the new owner to label');
    // Frozen past the session timeout (the coordinator counts it from the last heartbeat, which came before the stop).
    await new Promise((r) => setTimeout(r, Math.max(0, SESSION_MS + 1000 - (Date.now() - stoppedAt))));
    const frozenMs = Date.now() - stoppedAt;
    expect(frozenMs).toBeGreaterThan(SESSION_MS);

    // Thawed: the transaction it was in the middle of is refused (its producer was fenced), then it rejoins the group.
    b.kill('SIGCONT');
    await b.waitForLog((e) => typeof e.msg === 'string' && e.msg.startsWith('the task lost its transactional producer'), 30_000, 'the zombie to be fenced');
    await waitFor(async () => (await committedTotal(kafka, `${input}-g`, input)) > BACKLOG + BURST - 4 * WINDOW, 120_000, 'all but the open windows committed');
    const [codeA, codeB] = await Promise.all([stopGracefully(a), stopGracefully(b)]);
    expect([codeA, codeB]).toEqual([0, 0]);
    await finishRemaining(kafka, input, kafkaBrokers());
    const { duplicates, lost } = await expectExactlyOnce(kafka, input, BACKLOG + BURST);
    const fenced = b.logs.filter((e) => typeof e.msg === 'string' && e.msg.startsWith('the task lost its transactional producer')).length;
    console.log(
      `[faults/eos] zombie (partitions ${bPartitions.join(',')}, frozen ${(frozenMs / 1000).toFixed(1)} s, session ${SESSION_MS / 1000} s): ${fenced} of its tasks fenced after SIGCONT; ${duplicates} duplicates, ${lost} lost of ${BACKLOG + BURST}`,
    );
  });
});

describe('the exactly-once mode when the brokers restart (a broker of its own, stopped and started again on its data directory)', () => {
  const own = ownBroker('emstream-eos-restart-');

  it('the broker stopped and started again while the pipeline runs: it retries, goes on, exits 0; each input labelled exactly once, nothing pending', { timeout: 240_000 }, async () => {
    const { Kafka, logLevel } = await import('kafkajs');
    const kafka = new Kafka({ brokers: own.broker!.brokers, logLevel: logLevel.NOTHING });
    const input = uniqueTopic('eos-outage');
    const HALF = 15_000;
    await createInput(kafka, input, 1);
    await produceAll(kafka, input, point, HALF);
    const child = spawnRun(runArgs(own.broker!.bootstrap, input));
    await waitFor(async () => (await topicEnd(kafka, `${input}.labels`)) >= HALF / 3, 90_000, 'labels before the restart');
    const restartedAt = Date.now();
    own.broker = await own.broker!.restart({ downMs: 6000 });
    const downMs = Date.now() - restartedAt;
    await produceAll(kafka, input, (i) => point(HALF + i), HALF);
    await waitFor(async () => (await committedTotal(kafka, `${input}-g`, input)) > 2 * HALF - WINDOW, 150_000, 'all but the open window committed');
    expect(await stopGracefully(child)).toBe(0);
    expect(child.logs.some((e) => e.msg === 'pipeline stopped on an error')).toBe(false);
    await finishRemaining(kafka, input, own.broker!.brokers);
    const { duplicates, lost } = await expectExactlyOnce(kafka, input, 2 * HALF);
    const retried = child.logs.filter((e) => typeof e.msg === 'string' && e.msg.startsWith('a transaction failed')).length;
    console.log(`[faults/eos] broker down ${(downMs / 1000).toFixed(1)} s: ${retried > 0 ? 'transactions aborted and sent again' : 'no transaction failed'}; ${duplicates} duplicates, ${lost} lost of ${2 * HALF}`);
  });
});
