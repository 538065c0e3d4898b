/**
 * Helpers for the Kafka integration tests: unique topics, fast producing, reading a topic to a count.
 *
 * @module
 */
import { spawn } from 'node:child_process';
import { connect as netConnect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, type ISocketFactory } from 'kafkajs';
import { afterAll, beforeAll } from 'vitest';
import { startLocalKafka, type LocalKafka } from '../../src/devtools/broker.js';
import { HEADERS, parseSourceHeader } from '../../src/kafka/messages/headers.js';
import { readLabelMessage } from '../../src/kafka/messages/labels.js';
import { readModelMessage } from '../../src/kafka/state/format.js';
import { installReadCommittedFix } from '../../src/kafka/client/readCommittedFix.js';
import { installRequestQueueFix } from '../../src/kafka/client/requestQueueFix.js';
import { kafkaBrokers } from '../helpers/kafka.js';

/** A kafkajs client on the test broker, quiet. */
export function testKafka(clientId = 'emstream-test'): Kafka {
  installRequestQueueFix(); // as emstream's own clients: no idle 1 ms timer loop per connection
  installReadCommittedFix(); // and read_committed that never returns records of aborted transactions
  return new Kafka({ clientId, brokers: kafkaBrokers(), logLevel: logLevel.NOTHING });
}

/** A topic name no other test uses. */
export function uniqueTopic(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** A message to produce. */
export interface TestMessage {
  key?: string | null;
  value: string | Buffer | null;
}

/**
 * Produces messages in order, in batches (one `sendBatch` per `chunk` messages — kafkajs is fastest around 1000 —
 * one send at a time, so the offsets follow the order of `messages`).
 *
 * @returns when every message is acknowledged
 */
export async function produceAll(kafka: Kafka, topic: string, messages: readonly TestMessage[] | ((i: number) => TestMessage), count?: number, chunk = 1000): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  try {
    const n = typeof messages === 'function' ? count! : messages.length;
    const at = (i: number): TestMessage => (typeof messages === 'function' ? messages(i) : messages[i]);
    for (let start = 0; start < n; start += chunk) {
      const batch: TestMessage[] = [];
      for (let i = start; i < Math.min(n, start + chunk); i++) batch.push(at(i));
      // One send at a time: concurrent kafkajs sends to one partition can land out of order.
      await producer.sendBatch({ topicMessages: [{ topic, messages: batch }] });
    }
  } finally {
    await producer.disconnect();
  }
}

/** A consumed message with its headers as text. */
export interface ReadMessage {
  readonly partition: number;
  readonly offset: number;
  readonly key: string | null;
  readonly value: Buffer | null;
  readonly headers: Record<string, string>;
  /** Create time in ms since the epoch, as a decimal string. */
  readonly timestamp: string;
}

/**
 * Reads a topic from the beginning with a fresh group until `count` messages arrived.
 *
 * @throws Error after `timeoutMs` with how many arrived
 */
export async function readTopic(kafka: Kafka, topic: string, count: number, timeoutMs = 60_000): Promise<ReadMessage[]> {
  const out: ReadMessage[] = [];
  if (count === 0) return out;
  const consumer = kafka.consumer({ groupId: uniqueTopic('reader'), maxBytesPerPartition: 4 << 20 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${out.length} of ${count} messages arrived on ${topic}`)), timeoutMs);
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            for (const m of batch.messages) {
              const headers: Record<string, string> = {};
              for (const [name, value] of Object.entries(m.headers ?? {})) if (value !== undefined) headers[name] = value.toString();
              out.push({ partition: batch.partition, offset: Number(m.offset), key: m.key?.toString() ?? null, value: m.value, headers, timestamp: m.timestamp });
            }
            if (out.length >= count) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/**
 * The source coordinates of a label or dead letter, from its `emstream.source` header (`<topic>/<partition>/<offset>`).
 *
 * @throws Error when the header is missing or malformed
 */
export function sourceOf(message: ReadMessage): { topic: string; partition: number; offset: number } {
  const source = parseSourceHeader(message.headers[HEADERS.source]);
  if (source === undefined || source.partition === undefined || source.offset === undefined) {
    throw new Error(`no valid ${HEADERS.source} header: ${JSON.stringify(message.headers)}`);
  }
  return { topic: source.topic, partition: source.partition, offset: Number(source.offset) };
}

/** The committed offset of a group on partition 0 of a topic (-1 when none). */
export async function committedOffset(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return Number(entry.partitions.find((p) => p.partition === 0)?.offset ?? -1);
  } finally {
    await admin.disconnect();
  }
}

/**
 * Waits until `check()` is true, polling. A check that throws a retriable Kafka error (a broker that has
 * just started and has no partition leaders yet answers NOT_LEADER_FOR_PARTITION) counts as not yet true;
 * any other error, and the last retriable one at the timeout, is thrown.
 */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  for (;;) {
    let last: unknown;
    try {
      if (await check()) return;
    } catch (e) {
      if ((e as { retriable?: unknown }).retriable !== true) throw e;
      last = e;
    }
    if (Date.now() - start > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : ` (last: ${String(last)})`}`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Three well separated 2-D clusters, deterministic. */
export function clusteredPoint(i: number): [number, number] {
  const centres: [number, number][] = [
    [0, 0],
    [10, 10],
    [-10, 10],
  ];
  const c = centres[i % 3];
  // cheap deterministic jitter in [-1, 1)
  const jx = (((i * 7919) % 2000) / 1000) - 1;
  const jy = (((i * 104729) % 2000) / 1000) - 1;
  return [c[0] + jx, c[1] + jy];
}

/**
 * Reads every message of a topic up to its current end (all partitions), with a fresh group.
 *
 * @throws Error after `timeoutMs`
 */
export async function readAll(kafka: Kafka, topic: string, timeoutMs = 60_000): Promise<ReadMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  let total: number;
  try {
    total = (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
  return readTopic(kafka, topic, total, timeoutMs);
}

/** Messages on a topic now (sum of the partitions' end offsets), 0 when it does not exist yet. */
export async function topicEnd(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(topic)) return 0;
    return (await admin.fetchTopicOffsets(topic)).reduce((sum, p) => sum + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

/** How the labels of a run cover its inputs: distinct `<partition>/<offset>` sources, and how many labels repeat one. */
export function coverage(labels: readonly ReadMessage[]): { distinct: Set<string>; duplicates: number } {
  const distinct = new Set<string>();
  let duplicates = 0;
  for (const m of labels) {
    const s = sourceOf(m);
    const id = `${s.partition}/${s.offset}`;
    if (distinct.has(id)) duplicates++;
    else distinct.add(id);
  }
  return { distinct, duplicates };
}

/** A pipeline (`emstream run …`) in a child process, so it can be killed. */
export interface ChildRun {
  readonly pid: number;
  /** The JSON log lines (stderr) so far, parsed; other stderr lines as `{ line }`. */
  readonly logs: Record<string, unknown>[];
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves when the process exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits for a log line matching `test`; rejects after `timeoutMs` or if the process exits first. */
  waitForLog(test: (entry: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>>;
  kill(signal: NodeJS.Signals): void;
}

/** Every child spawned by {@link spawnRun} and not exited yet (see {@link killChildren}). */
const children = new Set<ChildRun>();
/** Every child spawned since the last {@link killChildren} (a failed test's children's logs are kept). */
const spawnedInTest: { args: readonly string[]; run: ChildRun }[] = [];

/**
 * SIGKILLs every child of {@link spawnRun} still running (for `afterEach`: a failed test leaves none behind). When
 * vitest passes a failed test's context, the children's logs (stderr, one JSON line each) are written to a new
 * directory under the system's temporary directory, named on the console: a flaky failure can be read afterwards.
 */
export async function killChildren(context?: { readonly task: { readonly name: string; readonly result?: { readonly state?: string } } }): Promise<void> {
  const running = [...children];
  for (const child of running) child.kill('SIGKILL');
  await Promise.all(running.map((c) => c.exited));
  const spawned = spawnedInTest.splice(0);
  if (context?.task.result?.state !== 'fail' || spawned.length === 0) return;
  const dir = mkdtempSync(join(tmpdir(), 'emstream-failed-test-'));
  spawned.forEach(({ args, run }, i) => writeFileSync(join(dir, `child-${i}-${run.pid}.log`), `${JSON.stringify(args)}\n${run.stderr()}`));
  console.log(`[children] the logs of the failed test's ${spawned.length} child processes ("${context.task.name}") are kept in ${dir}`);
}

/** Spawns `node --import tsx src/cli/main.ts run …args` from the repository root. */
export function spawnRun(args: readonly string[], env: Record<string, string> = {}): ChildRun {
  return spawnCli(['run', ...args], env);
}

/** Spawns `node --import tsx src/cli/main.ts …args` (any command) from the repository root. */
export function spawnCli(args: readonly string[], env: Record<string, string> = {}): ChildRun {
  const root = new URL('../..', import.meta.url);
  const { EMSTREAM_DEBUG: _ignored, ...base } = process.env;
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  let out = '';
  let err = '';
  let partial = '';
  const listeners = new Set<() => void>();
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => {
    const text = c.toString();
    err += text;
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        logs.push({ line });
      }
    }
    for (const l of listeners) l();
  });
  let exitedNow = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => {
      exitedNow = true;
      for (const l of listeners) l();
      resolve({ code, signal });
    }),
  );
  const run: ChildRun = {
    pid: child.pid!,
    logs,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill: (signal) => {
      if (!exitedNow) child.kill(signal);
    },
    waitForLog: (test, timeoutMs, what) =>
      new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = logs.find(test);
          if (found !== undefined) {
            done();
            resolve(found);
            return true;
          }
          if (exitedNow) {
            done();
            reject(new Error(`the pipeline exited before ${what}; stderr:\n${err.slice(-3000)}`));
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr:\n${err.slice(-3000)}`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          listeners.delete(listener);
        };
        const listener = (): void => void check();
        listeners.add(listener);
        check();
      }),
  };
  children.add(run);
  spawnedInTest.push({ args, run });
  void exited.then(() => children.delete(run));
  return run;
}

/**
 * Reads every committed message of a topic, read_committed: each partition up to its last stable offset (ListOffsets
 * read_committed, what `fetchTopicOffsets` answers), records of aborted transactions and the transaction markers
 * left out. A partition is read to its end once the fetch position passes it (a marker ends most partitions written
 * in transactions, and a read_committed fetch does not return it as a message).
 *
 * @param isolation - `read_committed` (default) or `read_uncommitted` (to see what aborted transactions wrote)
 * @throws Error after `timeoutMs`, saying which partitions were not read to their end
 */
export async function readCommitted(kafka: Kafka, topic: string, timeoutMs = 60_000, isolation: 'read_committed' | 'read_uncommitted' = 'read_committed'): Promise<ReadMessage[]> {
  return (await readCommittedTopic(kafka, topic, timeoutMs, isolation)).messages;
}

/**
 * {@link readCommitted}, and whether the topic is stable: on every partition the last stable offset is the high
 * watermark, so no transaction is left open (pending) on it.
 */
export async function readCommittedTopic(
  kafka: Kafka,
  topic: string,
  timeoutMs = 60_000,
  isolation: 'read_committed' | 'read_uncommitted' = 'read_committed',
): Promise<{ messages: ReadMessage[]; stable: boolean }> {
  installReadCommittedFix(); // kafkajs alone can return records of aborted transactions (see readCommittedFix.ts)
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, bigint>;
  try {
    ends = new Map((await admin.fetchTopicOffsets(topic)).filter((p) => BigInt(p.high) > BigInt(p.low)).map((p) => [p.partition, BigInt(p.high)]));
  } finally {
    await admin.disconnect();
  }
  const out: ReadMessage[] = [];
  if (ends.size === 0) return { messages: out, stable: true };
  const highWatermarks = new Map<number, bigint>();
  const consumer = kafka.consumer({ groupId: uniqueTopic('committed-reader'), maxBytesPerPartition: 4 << 20, readUncommitted: isolation === 'read_uncommitted' });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const remaining = new Set(ends.keys());
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`read_committed: partitions ${[...remaining].join(',')} of ${topic} not read to their end (${out.length} messages so far)`)), timeoutMs);
      consumer
        .run({
          eachBatch: async ({ batch }) => {
            const end = ends.get(batch.partition);
            const hw = BigInt(batch.highWatermark);
            if (hw > (highWatermarks.get(batch.partition) ?? -1n)) highWatermarks.set(batch.partition, hw);
            for (const m of batch.messages) {
              if (end !== undefined && BigInt(m.offset) >= end) continue;
              const headers: Record<string, string> = {};
              for (const [name, value] of Object.entries(m.headers ?? {})) if (value !== undefined) headers[name] = value.toString();
              out.push({ partition: batch.partition, offset: Number(m.offset), key: m.key?.toString() ?? null, value: m.value, headers, timestamp: m.timestamp });
            }
            if (end !== undefined && BigInt(batch.lastOffset()) + 1n >= end) remaining.delete(batch.partition);
            if (remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  const stable = [...ends].every(([p, end]) => (highWatermarks.get(p) ?? end) === end);
  return { messages: out.sort((a, b) => a.partition - b.partition || a.offset - b.offset), stable };
}

/**
 * What a read_committed reader sees of an exactly-once run: labels that repeat an input (`duplicates`), the inputs
 * labelled (`distinct`, `<partition>/<offset>`), and states that do not match their labels (`mismatched`: a state
 * message of partition p and version v must hold as many points as there are labels of p with version v, and no
 * label may have a version without its state message).
 */
export function exactlyOnceReport(labels: readonly ReadMessage[], models: readonly ReadMessage[]): { duplicates: number; distinct: Set<string>; mismatched: string[]; repeated: string[] } {
  let duplicates = 0;
  // Where repeats are, for a failure's message: per partition and label version, the offsets labelled again.
  const again = new Map<string, number[]>();
  // Per input labelled, its first label's version and where that label is (its position and window).
  const first = new Map<string, { version: number; at: string }>();
  // Where each copy of the first few repeated inputs is.
  const copies: string[] = [];
  // Per task (input partition) and model version, the labels of that version.
  const byVersion = new Map<string, number>();
  for (const m of labels) {
    const s = sourceOf(m);
    const id = `${s.partition}/${s.offset}`;
    const { modelVersion: version, windowIndex } = readLabelMessage(m.value);
    const at = `labels ${m.partition}:${m.offset} window ${windowIndex} v${version} at ${m.timestamp}`;
    const earlier = first.get(id);
    if (earlier !== undefined) {
      duplicates++;
      if (copies.length < 5) copies.push(`input ${id}: ${earlier.at}, then ${at}`);
      const pair = `${s.partition}@v${earlier.version}+v${version}`;
      (again.get(pair) ?? again.set(pair, []).get(pair)!).push(s.offset);
    } else first.set(id, { version, at });
    const key = `${s.partition}@${version}`;
    byVersion.set(key, (byVersion.get(key) ?? 0) + 1);
  }
  // Each state message of a task holds the window of labels of its version: as many labels as its n, and no label
  // of a version without its state message.
  const mismatched: string[] = [];
  const stated = new Set<string>();
  for (const m of models) {
    const { message } = readModelMessage(m.value);
    const partition = message.task?.partition ?? 0;
    const key = `${partition}@${message.modelVersion}`;
    stated.add(key);
    if ((byVersion.get(key) ?? 0) !== message.n) mismatched.push(`${key}: state n ${message.n}, labels ${byVersion.get(key) ?? 0}`);
  }
  for (const key of byVersion.keys()) if (!stated.has(key)) mismatched.push(`${key}: labels without a state message`);
  const repeated = [...again].map(([pair, offsets]) => `${pair}: ${offsets.length} offsets ${Math.min(...offsets)}..${Math.max(...offsets)}`).concat(copies);
  return { duplicates, distinct: new Set(first.keys()), mismatched, repeated };
}

/** A broker of a describe block's own (see {@link ownBroker}). */
export interface OwnBroker {
  /** The broker now (a test that restarts it puts the new one here, so it is the one stopped at the end). */
  broker: LocalKafka | undefined;
  /** Its data directory (to start it again on the same data). */
  dir: string;
}

/**
 * A broker of its own for the tests of a describe block, on a data directory of its own: started before them,
 * stopped (and its directory removed) after. For tests that stop and start a broker again on its data.
 *
 * @param prefix - the data directory's name prefix
 */
export function ownBroker(prefix: string): OwnBroker {
  const own: OwnBroker = { broker: undefined, dir: '' };
  beforeAll(async () => {
    own.dir = await mkdtemp(join(tmpdir(), prefix));
    own.broker = await startLocalKafka({ dir: own.dir });
  }, 180_000);
  afterAll(async () => {
    await own.broker?.stop();
    await rm(own.dir, { recursive: true, force: true });
  });
  return own;
}

/** Committed positions of a group on a topic, summed over its partitions (a partition without a commit counts 0). */
export async function committedTotal(kafka: Kafka, groupId: string, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [topic] });
    return entry.partitions.reduce((sum, p) => sum + Math.max(0, Number(p.offset)), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Creates a topic of `partitions` partitions (and waits for its leaders). */
export async function createInput(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: partitions }] });
  await admin.disconnect();
}

/** Produces messages `make(from)` … `make(from + count − 1)`, about `perSecond` a second (round-robin over the partitions). */
export async function produceLive(kafka: Kafka, topic: string, from: number, count: number, perSecond: number, make: (i: number) => { key: string; value: string }): Promise<void> {
  const producer = kafka.producer();
  await producer.connect();
  try {
    const chunk = Math.max(1, Math.round(perSecond / 10));
    for (let start = from; start < from + count; start += chunk) {
      const tick = Date.now();
      await producer.send({ topic, messages: Array.from({ length: Math.min(chunk, from + count - start) }, (_, j) => make(start + j)) });
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - tick))));
    }
  } finally {
    await producer.disconnect();
  }
}

/** Kafka protocol API key of FindCoordinator. */
const FIND_COORDINATOR = 10;

/**
 * A kafkajs client whose connections drop, while `faults.findCoordinator > 0`, when a FindCoordinator request is
 * written (the request is not sent; each drop counts one down): a broker lost while the consumer looks for its
 * group's coordinator, at exactly that point. kafkajs 2.2.4 then throws `KafkaJSGroupCoordinatorNotFound`, which it
 * deems not retriable: its consumer crashes with `restart: false`.
 */
export function kafkaDroppingFindCoordinator(faults: { findCoordinator: number; dropped: number }): Kafka {
  const socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket: Socket = netConnect({ host, port }, onConnect);
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    // A request is written whole: int32 size, int16 API key, int16 version, int32 correlation id, ...
    socket.write = ((chunk: unknown, ...rest: unknown[]): boolean => {
      if (faults.findCoordinator > 0 && Buffer.isBuffer(chunk) && chunk.length >= 6 && chunk.readInt16BE(4) === FIND_COORDINATOR) {
        faults.findCoordinator--;
        faults.dropped++;
        socket.destroy(Object.assign(new Error('connection reset by the test, at a FindCoordinator request'), { code: 'ECONNRESET' }));
        return false;
      }
      return write(chunk, ...rest);
    }) as Socket['write'];
    return socket;
  };
  return new Kafka({ clientId: 'emstream-test', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING, socketFactory, retry: { retries: 2, initialRetryTime: 100 } });
}
