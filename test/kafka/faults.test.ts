/**
 * Fault tests on a real broker: the pipeline (`emstream run`) runs in a child process so it can be SIGKILLed;
 * the broker restart uses a broker of its own (started on a data directory, stopped and started again on it).
 *
 * Each test checks from outside, on the topics: every input offset is labelled (nothing lost), labels repeat at
 * most the in-flight bound, and the state continues (versions go on; the statistics of the first window after a
 * restart are exactly those of the last state message updated with that window).
 */
import { randomBytes } from 'node:crypto';
import type { Kafka } from 'kafkajs';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamingGmm, type StreamingStateJSON } from '../../src/gmm/streaming.js';
import { Instrumentation } from '../../src/instrumentation.js';
import { startLocalKafka } from '../../src/devtools/broker.js';
import type { KafkaEvents } from '../../src/kafka/events.js';
import { HEADERS } from '../../src/kafka/messages/headers.js';
import { readDeadLetter } from '../../src/kafka/messages/deadLetters.js';
import { readLabelMessage } from '../../src/kafka/messages/labels.js';
import { readModelMessage } from '../../src/kafka/state/format.js';
import { runKafkaPipeline } from '../../src/kafka/run/runner.js';
import { standardPipeline } from '../../src/kafka/run/standardPipeline.js';
import { kafkaBrokers } from '../helpers/kafka.js';
import { type ChildRun, clusteredPoint, committedOffset, committedTotal, coverage, killChildren, ownBroker, produceAll, readAll, type ReadMessage, sourceOf, spawnRun, testKafka, topicEnd, uniqueTopic, waitFor } from './helpers.js';

// A test that fails leaves no pipeline running behind it.
afterEach(killChildren);

/** Points per window and the in-flight bound of every run here: the replay bound is about one window, at most this. */
const WINDOW = 500;
const MAX_IN_FLIGHT = 2000;

/** The flags of the standard pipeline every test runs (K = 3 on 2-D points), plus topic flags. */
function runArgs(brokers: string, input: string, id: string, extra: string[] = []): string[] {
  return ['--brokers', brokers, '--input', input, '--group', `${id}-group`, '--pipeline-id', id, '--format', 'json-array', '-k', '3', '--window', String(WINDOW), '--from-beginning', '--max-in-flight', String(MAX_IN_FLIGHT), '--log-level', 'info', ...extra];
}

/** The state messages of a models topic, in order, read back. */
async function states(kafka: Kafka, topic: string): Promise<ReturnType<typeof readModelMessage>[]> {
  return (await readAll(kafka, topic)).map((m) => readModelMessage(m.value));
}

/** SIGTERM, then the exit code and the counters line the run prints on stdout. */
async function stopGracefully(run: ChildRun): Promise<{ code: number | null; counters: Record<string, unknown> }> {
  run.kill('SIGTERM');
  const { code } = await run.exited;
  const last = run.stdout().trim().split('\n').at(-1) ?? '{}';
  return { code, counters: JSON.parse(last) as Record<string, unknown> };
}

/**
 * Checks that `after` continues `before` exactly: the next version, the next window index, a predictive
 * log-likelihood (the model was there), and statistics equal to the saved state updated with that window's points
 * (in the order of its labels).
 */
function expectContinues(before: StreamingStateJSON, after: ReturnType<typeof readModelMessage>, labels: readonly ReadMessage[], point: (offset: number) => number[]): void {
  expect(after.message.modelVersion).toBe(before.modelVersion + 1);
  expect(after.message.windowIndex).toBe(before.windows);
  expect(after.message.predictiveLogLikelihood).not.toBeNull();
  const window = labels.filter((m) => readLabelMessage(m.value).modelVersion === after.message.modelVersion);
  const seen = new Set<string>();
  const offsets = window.map((m) => sourceOf(m)).filter((s) => (seen.has(`${s.partition}/${s.offset}`) ? false : (seen.add(`${s.partition}/${s.offset}`), true)));
  expect(offsets.length).toBe(after.message.n);
  const data = Float64Array.from(offsets.flatMap((s) => point(s.offset)));
  const gmm = new StreamingGmm({ k: 3, initialState: before });
  gmm.update({ n: offsets.length, d: 2, data });
  const expected = gmm.toJSON();
  expect(after.state?.stats).toEqual(expected.stats);
  expect(after.state?.modelVersion).toBe(expected.modelVersion);
  expect(after.state?.drift).toEqual(expected.drift);
}

/** {@link expectContinues} with the points read from each label (for inputs over several partitions). */
function expectContinuesWith(before: StreamingStateJSON, after: ReturnType<typeof readModelMessage>, labels: readonly ReadMessage[], point: (label: ReadMessage) => number[]): void {
  expect(after.message.modelVersion).toBe(before.modelVersion + 1);
  const window = labels.filter((m) => readLabelMessage(m.value).modelVersion === after.message.modelVersion);
  expect(window.length).toBe(after.message.n);
  const gmm = new StreamingGmm({ k: 3, initialState: before });
  gmm.update({ n: window.length, d: 2, data: Float64Array.from(window.flatMap(point)) });
  expect(after.state?.stats).toEqual(gmm.toJSON().stats);
}

/**
 * After a run stopped (handing its open window back uncommitted), runs the same pipeline id and group in process
 * until it has read everything, then stops with `finishWindow`: every input is labelled and committed. Its first
 * window is the one after the last state message (the restore check).
 */
async function finishRemaining(kafka: Kafka, input: string, id: string, brokers?: readonly string[]): Promise<{ restoredVersion: number | undefined; windows: number }> {
  const end = await topicEnd(kafka, input);
  const from = await committedTotal(kafka, `${id}-group`, input);
  const run = await runKafkaPipeline({ ...(brokers === undefined ? { kafka } : { brokers }), producerInWorker: false, pipeline: standardPipeline({ window: WINDOW, k: 3 }), input, group: `${id}-group`, pipelineId: id, fromBeginning: true });
  await waitFor(() => run.counters.consumed + run.counters.skipped >= end - from, 60_000, 'the last run to read the rest');
  const result = await run.stop({ finishWindow: true });
  expect(await committedTotal(kafka, `${id}-group`, input)).toBe(end);
  return { restoredVersion: run.restored?.message.modelVersion, windows: result.counters.windows };
}

/**
 * Versions on a models topic: each state message once, 1, 2, 3, … with no repeat and no gap.
 *
 * With `resent` (a broker restarted under the run): a produce request whose acknowledgement was lost is
 * sent again by the client (at-least-once, no idempotent producer), so a run of state messages may appear
 * twice. Then the distinct versions are 1 … n in order, every repeat equals its first copy (the same
 * window, offsets, model and statistics: a resend, not a refit), and at most `resent` messages repeat.
 *
 * @returns how many state messages repeat an earlier one
 */
function expectContiguousVersions(read: readonly ReturnType<typeof readModelMessage>[], resent = 0): number {
  const versions = read.map((r) => r.message.modelVersion);
  if (resent === 0) {
    expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));
    return 0;
  }
  const first = new Map<number, ReturnType<typeof readModelMessage>>();
  let repeats = 0;
  for (const r of read) {
    const earlier = first.get(r.message.modelVersion);
    if (earlier === undefined) {
      expect(r.message.modelVersion).toBe(first.size + 1); // a new version is the next one
      first.set(r.message.modelVersion, r);
    } else {
      expect(r).toEqual(earlier);
      repeats++;
    }
  }
  expect(repeats).toBeLessThanOrEqual(resent);
  return repeats;
}

describe('faults on a real broker (pipeline in a child process)', () => {
  const brokers = (): string => kafkaBrokers().join(',');

  it.each([
    ['', [] as string[]],
    [' (each window fitted on a worker thread: --off-thread)', ['--off-thread']],
  ])('SIGKILL mid-stream, then a restart%s: nothing lost, duplicates at most what was in flight, the state continues', { timeout: 150_000 }, async (_, extra) => {
    const kafka = testKafka();
    const input = uniqueTopic('kill');
    const id = input;
    const N = 120_000;
    await produceAll(kafka, input, (i) => ({ key: `k${i}`, value: JSON.stringify(clusteredPoint(i)) }), N);

    const first = spawnRun(runArgs(brokers(), input, id, extra));
    await waitFor(async () => (await topicEnd(kafka, `${input}.labels`)) >= 30_000, 90_000, 'a quarter of the labels');
    first.kill('SIGKILL');
    expect((await first.exited).signal).toBe('SIGKILL');
    const beforeKill = await states(kafka, `${input}.models`);
    const committedAtKill = await committedOffset(kafka, `${id}-group`, input);
    expect(committedAtKill).toBeGreaterThan(0); // commits followed the acknowledgements

    const second = spawnRun(runArgs(brokers(), input, id, extra));
    const restored = await second.waitForLog((e) => e.msg === 'restored the saved state: the stream continues from it', 60_000, 'the restore');
    expect(restored.modelVersion).toBe(beforeKill.at(-1)!.message.modelVersion);
    // Every input read, all but the open window committed (a stop hands that one back).
    await waitFor(async () => (await committedOffset(kafka, `${id}-group`, input)) > N - WINDOW, 90_000, 'the commit of every input but the open window');
    const { code, counters } = await stopGracefully(second);
    expect(code).toBe(0);
    await finishRemaining(kafka, input, id);

    const labels = await readAll(kafka, `${input}.labels`);
    const { distinct, duplicates } = coverage(labels);
    expect(distinct.size).toBe(N); // nothing lost
    expect(duplicates).toBeLessThanOrEqual(MAX_IN_FLIGHT);
    console.log(`[faults] SIGKILL after ${committedAtKill} committed: ${duplicates} duplicate labels (bound ${MAX_IN_FLIGHT}, window ${WINDOW}); restart skipped ${String(counters.skipped)} records the state covered`);

    const all = await states(kafka, `${input}.models`);
    expectContiguousVersions(all);
    expectContinues(beforeKill.at(-1)!.state!, all[beforeKill.length], labels, clusteredPoint);
  });

  it('poison pills: 1 000 random-byte and malformed messages among good ones, huge ones, a 3-D first message, [1e160, 0]: every bad one dead-lettered with its bytes, every good one labelled, the run never stops', { timeout: 150_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('poison');
    const id = input;
    // An input topic that accepts 3 MiB messages, so a 2 MiB one can be produced at all.
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: input, configEntries: [{ name: 'max.message.bytes', value: String(3 << 20) }] }] });
    await admin.disconnect();

    const malformed: (string | null)[] = ['[1, 2', '{"a": 1}', '"x"', 'null', '[]', '[1, "x"]', '[NaN, 1]', '[1e999, 0]', '[1e160, 0]', '[1, 2, 3]', '', null, '{"vector": [1, 2]}', '[[1, 2]]', 'true'];
    const random = (): Buffer => randomBytes(1 + Math.floor(Math.random() * 64));
    const messages: { key: string; value: Buffer | string | null }[] = [{ key: 'bad-first', value: '[1, 2, 3]' }]; // the first message has another dimension
    const bad = new Map<number, Buffer | string | null>([[0, '[1, 2, 3]']]);
    let g = 0;
    for (let b = 0; b < 1000; b++) {
      for (let j = 0; j < 8; j++) messages.push({ key: `good-${g}`, value: JSON.stringify(clusteredPoint(g++)) });
      const value = b % 2 === 0 ? random() : malformed[(b >> 1) % malformed.length];
      bad.set(messages.length, value);
      messages.push({ key: `bad-${messages.length}`, value });
    }
    // The pills of the issue: near the 1 MiB limit, 2 MiB, and 400 KiB + 700 KiB back to back (one batch if nothing cut it).
    const pills: [number, Buffer][] = [
      [1500, randomBytes((1 << 20) - 300)],
      [3500, randomBytes(2 << 20)],
      [5500, randomBytes(400 << 10)],
      [5501, randomBytes(700 << 10)],
    ];
    for (const [at, value] of pills) {
      messages.splice(at, 0, { key: `pill-${at}`, value });
    }
    // Re-index the bad offsets after the insertions.
    const expectedBad = new Map<number, Buffer | string | null>();
    messages.forEach((m, offset) => {
      if (!m.key.startsWith('good-')) expectedBad.set(offset, m.value);
    });
    const goodCount = g;
    expect(expectedBad.size).toBe(1000 + 1 + pills.length);
    await produceAll(kafka, input, messages);

    const run = spawnRun(runArgs(brokers(), input, id));
    await waitFor(async () => (await committedOffset(kafka, `${id}-group`, input)) === messages.length, 120_000, 'the commit past every message');
    expect(run.logs.some((e) => e.msg === 'pipeline stopped on an error')).toBe(false);
    const { code, counters } = await stopGracefully(run); // still running after all of them
    expect(code).toBe(0);
    expect(counters).toMatchObject({ labelled: goodCount });

    const labels = await readAll(kafka, `${input}.labels`);
    const { distinct } = coverage(labels);
    expect(distinct.size).toBe(goodCount);
    for (const offset of expectedBad.keys()) expect(distinct.has(`0/${offset}`)).toBe(false);

    const dead = await readAll(kafka, `${input}.dead-letters`);
    const byOffset = new Map<number, ReadMessage>();
    for (const m of dead) byOffset.set(sourceOf(m).offset, m);
    expect([...byOffset.keys()].sort((a, b) => a - b)).toEqual([...expectedBad.keys()]);
    const reasons = new Map<string, number>();
    for (const [offset, original] of expectedBad) {
      const m = byOffset.get(offset)!;
      const letter = readDeadLetter(m.headers);
      expect(letter.reason, `offset ${offset}`).toMatch(/^(empty|oversized|not-json|not-a-vector|not-numeric|non-finite|non-finite-in-use|wrong-dimension)$/);
      expect(letter.message).toMatch(/offset \d+/);
      reasons.set(letter.reason!, (reasons.get(letter.reason!) ?? 0) + 1);
      // The dead-letter topic was sized from the input topic: every value comes back whole.
      expect(letter.truncatedFrom, `offset ${offset}`).toBeUndefined();
      if (original === null || original.length === 0) expect(m.value === null || m.value.length === 0).toBe(true);
      else expect(Buffer.compare(m.value!, Buffer.from(original)), `offset ${offset}`).toBe(0);
    }
    expect(readDeadLetter(byOffset.get(0)!.headers).reason).toBe('wrong-dimension'); // D = 2 by the majority, not by the first message
    expect(readDeadLetter(byOffset.get(messages.findIndex((m) => m.key.startsWith('pill-3500')))!.headers).reason).toBe('oversized');
    const overflow = messages.findIndex((m) => m.value === '[1e160, 0]');
    expect(readDeadLetter(byOffset.get(overflow)!.headers)).toMatchObject({ reason: 'non-finite-in-use' });
    console.log(`[faults] poison: ${expectedBad.size} dead letters (${[...reasons].map(([r, n]) => `${r} ${n}`).join(', ')}), ${goodCount} labelled`);
  });

  it('a dead-letter topic that exists with a smaller limit: dead letters are cut to fit, with a header giving the original length', { timeout: 90_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('cut');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [
        { topic: input, configEntries: [{ name: 'max.message.bytes', value: String(2 << 20) }] },
        { topic: `${input}.dead-letters` }, // the broker's default: 1 MiB
      ],
    });
    await admin.disconnect();
    const near = randomBytes((1 << 20) - 100); // fits the input topic, but not with the dead-letter headers in 1 MiB
    const huge = randomBytes(1_500_000);
    const messages = [
      ...Array.from({ length: 600 }, (_, i) => ({ key: `g${i}`, value: JSON.stringify(clusteredPoint(i)) as string | Buffer })),
      { key: 'near', value: near },
      { key: 'huge', value: huge },
      ...Array.from({ length: 400 }, (_, i) => ({ key: `g${600 + i}`, value: JSON.stringify(clusteredPoint(600 + i)) as string | Buffer })),
    ];
    // The two big ones alone in their sends (together they pass the input topic's 2 MiB).
    await produceAll(kafka, input, messages.slice(0, 600));
    await produceAll(kafka, input, messages.slice(600, 601));
    await produceAll(kafka, input, messages.slice(601, 602));
    await produceAll(kafka, input, messages.slice(602));
    const run = await runKafkaPipeline({ kafka, producerInWorker: false, pipeline: standardPipeline({ window: 250, k: 3 }), input, group: `${input}-g`, fromBeginning: true, maxBytes: 2 << 20 });
    await waitFor(async () => (await committedOffset(kafka, `${input}-g`, input)) === messages.length, 60_000, 'the commit past every message');
    await run.stop();
    const dead = await readAll(kafka, `${input}.dead-letters`);
    expect(dead.map((m) => m.key).sort()).toEqual(['huge', 'near']);
    for (const m of dead) {
      const original = m.key === 'near' ? near : huge;
      const letter = readDeadLetter(m.headers);
      expect(letter.reason).toBe('not-json');
      expect(letter.truncatedFrom).toBe(original.length);
      expect(m.headers[HEADERS.truncated]).toBe(String(original.length));
      expect(m.value!.length).toBeLessThan(1 << 20);
      expect(m.value!.length).toBeGreaterThan((1 << 20) - 4096);
      expect(Buffer.compare(m.value!, original.subarray(0, m.value!.length))).toBe(0); // a prefix of the original bytes
    }
    expect(coverage(await readAll(kafka, `${input}.labels`)).distinct.size).toBe(1000);
  });

  it('a rebalance: a second instance joins, then is SIGKILLed: nothing lost, duplicates at most what was in flight, the survivor takes over within the session timeout', { timeout: 180_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('rebalance');
    const id = input;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: input, numPartitions: 4 }] });
    await admin.disconnect();
    // A live stream: a backlog, then about 10 000 points a second while the instances come and go.
    const N = 200_000;
    const BACKLOG = 20_000;
    const point = (i: number): { key: string; value: string } => ({ key: `k${i}`, value: JSON.stringify(clusteredPoint(i)) });
    await produceAll(kafka, input, point, BACKLOG);
    const producing = (async () => {
      const producer = kafka.producer();
      await producer.connect();
      try {
        for (let start = BACKLOG; start < N; start += 1000) {
          const tick = Date.now();
          await producer.send({ topic: input, messages: Array.from({ length: Math.min(1000, N - start) }, (_, j) => point(start + j)) });
          await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - tick))));
        }
      } finally {
        await producer.disconnect();
      }
    })();
    const assignedAll = (e: Record<string, unknown>): boolean => e.msg === 'partitions assigned' && ((e.assigned as Record<string, number[]>)[input]?.length ?? 0) === 4;

    const a = spawnRun(runArgs(brokers(), input, id));
    await waitFor(async () => (await topicEnd(kafka, `${input}.labels`)) >= 20_000, 90_000, 'the first instance to get going');
    const b = spawnRun(runArgs(brokers(), input, id));
    const bAssigned = await b.waitForLog((e) => e.msg === 'partitions assigned', 60_000, 'the second instance to get partitions');
    const bPartitions = (bAssigned.assigned as Record<string, number[]>)[input];
    expect(bPartitions.length).toBeGreaterThan(0);
    expect(bPartitions.length).toBeLessThan(4);
    const bRestored = b.logs.find((e) => e.msg === 'restored the saved state: the stream continues from it');
    expect(bRestored?.modelVersion).toBeGreaterThan(0); // it resumed the state the first instance saved
    // Let the second one label some of its partitions, then kill it.
    const labelsAtJoin = await topicEnd(kafka, `${input}.labels`);
    await waitFor(async () => (await topicEnd(kafka, `${input}.labels`)) >= labelsAtJoin + 10_000, 60_000, 'labels from both instances');
    expect(b.logs.some((e) => e.msg === 'pipeline stopped on an error')).toBe(false);
    b.kill('SIGKILL');
    const killedAt = Date.now();
    await b.exited;
    const takeover = await a.waitForLog((e) => assignedAll(e) && (e.time as number) > killedAt, 60_000, 'the survivor to take every partition back');
    const takeoverMs = (takeover.time as number) - killedAt;
    await producing;
    await waitFor(async () => (await committedTotal(kafka, `${id}-group`, input)) > N - WINDOW, 120_000, 'the commit of every input but the open window');
    const { code } = await stopGracefully(a);
    expect(code).toBe(0);
    const labelsOfRuns = await readAll(kafka, `${input}.labels`);
    const before = await states(kafka, `${input}.models`);
    const latest = before.reduce((x, y) => (y.message.modelVersion > x.message.modelVersion ? y : x));
    // The rest (the handed-back open window, and one more window of new points) by a last run that restores the state.
    await produceAll(kafka, input, (i) => point(N + i), WINDOW);
    const last = await finishRemaining(kafka, input, id);
    expect(last.restoredVersion).toBe(latest.message.modelVersion);

    const labels = await readAll(kafka, `${input}.labels`);
    const { distinct, duplicates } = coverage(labels);
    expect(distinct.size).toBe(N + WINDOW); // nothing lost
    // What the second instance had in flight when killed, and what the first had of the partitions it gave away.
    expect(duplicates).toBeLessThanOrEqual(2 * MAX_IN_FLIGHT);
    // The default session timeout (10 s) lets the survivor take over (30 s before).
    expect(takeoverMs).toBeLessThan(20_000);
    console.log(`[faults] rebalance over 4 partitions: ${duplicates} duplicate labels (bound ${2 * MAX_IN_FLIGHT}); partitions ${bPartitions.join(',')} taken back ${(takeoverMs / 1000).toFixed(1)} s after SIGKILL`);

    // The last run's first window continues the last state message exactly.
    const after = await states(kafka, `${input}.models`);
    const next = after.find((r) => r.message.modelVersion === latest.message.modelVersion + 1 && r.message.producedAt >= latest.message.producedAt)!;
    const newLabels = labels.slice(labelsOfRuns.length);
    expectContinuesWith(latest.state!, next, newLabels, (m) => clusteredPoint(Number(m.key!.slice(1))));
  });
});

describe('faults of the brokers (a broker of its own, stopped and started again on its data directory)', () => {
  const own = ownBroker('emstream-restart-');

  it('brokers unavailable at start, then restarted while pipelines run: they retry and go on, nothing lost, the child exits 0; every kafka.* event fires', { timeout: 240_000 }, async () => {
    const { Kafka, logLevel } = await import('kafkajs');
    const kafka = new Kafka({ brokers: own.broker!.brokers, logLevel: logLevel.NOTHING });
    const { port, controllerPort } = own.broker!;
    const inChild = uniqueTopic('outage-child');
    const inProcess = uniqueTopic('outage-events');
    const HALF = 20_000;
    const point = (i: number): { key: string; value: string } => ({ key: `k${i}`, value: JSON.stringify(clusteredPoint(i)) });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: inChild }, { topic: inProcess }] });
    await admin.disconnect();
    await produceAll(kafka, inChild, point, HALF);
    // One bad message among the in-process run's inputs (an extra one, at offset 777), for kafka.dead-letter.
    await produceAll(kafka, inProcess, (i) => (i === 777 ? { key: 'bad', value: '[1, 2' } : point(i < 777 ? i : i - 1)), HALF + 1);

    // Both start while the broker is down.
    await own.broker!.stop();
    const events = new Map<string, unknown[]>();
    const instrumentation = new Instrumentation();
    const names: (keyof KafkaEvents)[] = [
      'kafka.connect', 'kafka.disconnect', 'kafka.retry', 'kafka.rebalance', 'kafka.consumer.crash', 'kafka.fetch', 'kafka.backpressure.wait', 'kafka.ack',
      'kafka.commit', 'kafka.dead-letter', 'kafka.window.acknowledged', 'kafka.state.restored', 'kafka.state.fresh', 'kafka.ready',
    ];
    for (const name of names) instrumentation.on(name, (e) => void (events.get(name) ?? events.set(name, []).get(name)!).push(e));
    // At debug, to see the notice that retrying began (a start-up notice, logged at debug).
    const child = spawnRun(runArgs(own.broker!.bootstrap, inChild, inChild, ['--broker-timeout-ms', '120000', '--log-level', 'debug']));
    const running = runKafkaPipeline({
      brokers: own.broker!.brokers,
      producerInWorker: false,
      pipeline: standardPipeline({ window: WINDOW, k: 3 }),
      input: inProcess,
      pipelineId: inProcess,
      group: `${inProcess}-group`,
      fromBeginning: true,
      maxInFlight: 600,
      instrumentation,
    });
    await child.waitForLog((e) => typeof e.msg === 'string' && e.msg.startsWith('the Kafka brokers do not answer'), 30_000, 'the child to retry');
    await waitFor(() => (events.get('kafka.retry')?.length ?? 0) > 0, 30_000, 'the in-process run to retry');
    own.broker = await startLocalKafka({ dir: own.dir, port, controllerPort });
    const handle = await running;
    await waitFor(async () => (await topicEnd(kafka, `${inChild}.labels`)) >= HALF / 2 && handle.counters.labelled >= HALF / 2, 90_000, 'labels from both runs');

    // Restarted while they run.
    const restartedAt = Date.now();
    own.broker = await own.broker!.restart({ downMs: 6000 });
    const downMs = Date.now() - restartedAt;
    await produceAll(kafka, inChild, (i) => point(HALF + i), HALF);
    await produceAll(kafka, inProcess, (i) => point(HALF + i), HALF);
    const ends = { [inChild]: 2 * HALF, [inProcess]: 2 * HALF + 1 };
    const committed = { child: -1, inProcess: -1 };
    await waitFor(
      async () => {
        committed.child = await committedOffset(kafka, `${inChild}-group`, inChild);
        committed.inProcess = await committedOffset(kafka, `${inProcess}-group`, inProcess);
        return committed.child > ends[inChild] - WINDOW && committed.inProcess > ends[inProcess] - WINDOW;
      },
      150_000,
      'the commit of every input of both runs but their open windows',
    ).catch((err: unknown) => {
      // Where each run stood, should a run stop again: which run, and what the child last said. (Twice in CI this
      // said the child stopped on "Failed to find group coordinator", which kafkajs does not restart from; fromKafka
      // now restarts the consumer itself: see test/kafka/source.test.ts.)
      const said = child.logs.slice(-8).map((e) => String(e.msg ?? e.line)).join(' | ');
      throw new Error(
        `${(err as Error).message}: committed ${committed.child} of ${ends[inChild]} (child), ${committed.inProcess} of ${ends[inProcess]} (in process: ${handle.counters.labelled} labelled); the child last logged: ${said}`,
        { cause: err },
      );
    });
    await handle.stop({ finishWindow: true });
    const { code } = await stopGracefully(child);
    expect(code).toBe(0);
    expect(child.logs.some((e) => e.msg === 'pipeline stopped on an error')).toBe(false);
    expect(await committedOffset(kafka, `${inProcess}-group`, inProcess)).toBe(ends[inProcess]);
    await finishRemaining(kafka, inChild, inChild, own.broker!.brokers);

    for (const topic of [inChild, inProcess]) {
      const { distinct, duplicates } = coverage(await readAll(kafka, `${topic}.labels`));
      expect(distinct.size).toBe(2 * HALF); // nothing lost
      expect(duplicates).toBeLessThanOrEqual(MAX_IN_FLIGHT);
      // versions go on through the outage; a resent produce request may repeat the windows it held
      const resent = expectContiguousVersions(await states(kafka, `${topic}.models`), MAX_IN_FLIGHT / WINDOW);
      console.log(`[faults] broker down ${(downMs / 1000).toFixed(1)} s while ${topic} ran: ${duplicates} duplicate labels, ${resent} state messages resent`);
    }

    // A second run resumes the state (kafka.state.restored), with nothing left to do.
    const again = await runKafkaPipeline({ brokers: own.broker!.brokers, producerInWorker: false, pipeline: standardPipeline({ window: WINDOW, k: 3 }), input: inProcess, pipelineId: inProcess, group: `${inProcess}-group`, instrumentation });
    await again.stop();

    const get = <E extends keyof KafkaEvents>(name: E): KafkaEvents[E][] => (events.get(name) ?? []) as KafkaEvents[E][];
    expect(new Set(get('kafka.connect').map((e) => e.role))).toEqual(new Set(['admin', 'producer', 'consumer']));
    expect(new Set(get('kafka.disconnect').map((e) => e.role))).toEqual(new Set(['admin', 'producer', 'consumer']));
    expect(get('kafka.retry')[0]).toMatchObject({ operation: 'connect', attempt: 1, delayMs: expect.any(Number), error: expect.stringMatching(/\S/) });
    expect(get('kafka.retry').some((e) => e.operation === 'produce') || get('kafka.consumer.crash').length > 0).toBe(true);
    expect(get('kafka.consumer.crash').every((e) => e.groupId === `${inProcess}-group` && typeof e.error === 'string' && typeof e.restart === 'boolean')).toBe(true);
    expect(get('kafka.rebalance')[0]).toEqual({ groupId: `${inProcess}-group`, assigned: [{ topic: inProcess, partitions: [0] }], revoked: [] });
    expect(get('kafka.fetch').find((e) => e.messages > 0)).toMatchObject({ topic: inProcess, partition: 0, highWatermark: expect.stringMatching(/^\d+$/), lastOffset: expect.stringMatching(/^\d+$/) });
    const waits = get('kafka.backpressure.wait');
    expect(waits.some((e) => !e.done && e.maxInFlight === 600)).toBe(true);
    expect(waits.some((e) => e.done && e.waitedMs >= 0)).toBe(true);
    expect(get('kafka.ack').every((e) => e.messages > 0 && e.bytes > 0 && e.durationMs >= 0)).toBe(true);
    expect(get('kafka.commit').at(-1)).toEqual({ offsets: [{ topic: inProcess, partition: 0, offset: String(2 * HALF + 1) }] });
    expect(get('kafka.dead-letter')).toEqual([{ reason: 'not-json', topic: inProcess, partition: 0, offset: '777', bytes: 5, truncated: false }]);
    const acknowledged = get('kafka.window.acknowledged');
    expect(acknowledged.length).toBeGreaterThanOrEqual((2 * HALF) / WINDOW);
    expect(acknowledged[0]).toMatchObject({ windowIndex: 0, version: 1, labelled: WINDOW });
    expect(acknowledged[0].records).toHaveLength(WINDOW);
    expect(acknowledged[0].acknowledgedAt).toBeGreaterThanOrEqual(Number(acknowledged[0].records[0].timestamp));
    expect(get('kafka.state.fresh')).toEqual([{ pipelineId: inProcess, reason: 'none-saved' }]);
    const lastVersion = acknowledged.at(-1)!.version;
    expect(get('kafka.state.restored')).toEqual([{ pipelineId: inProcess, modelVersion: lastVersion, windowIndex: lastVersion - 1, offsets: [{ topic: inProcess, partition: 0, offset: String(2 * HALF + 1) }] }]);
    const ready = get('kafka.ready');
    expect(ready[0]).toEqual({ ready: true, reason: 'assigned' });
    expect(ready.some((e) => !e.ready && e.reason === 'brokers-unavailable')).toBe(true);
    expect(ready.at(-1)).toEqual({ ready: false, reason: 'stopping' });
  });
});
