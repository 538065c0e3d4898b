/**
 * A launcher for a throw-away, single-node Apache Kafka broker in KRaft mode, bound to loopback: a development
 * tool (`emstream broker`, the test setup, the benchmarks), imported as `emstream/broker`, not from the main entry.
 *
 * It needs only Java 17+ and Maven on the PATH (no Docker): the broker's jars are resolved once
 * from Maven Central into a cache directory and reused by every later launch. A broker started on a `dir` of its
 * own can be stopped and started again on the same data (same ports), as a real broker restart.
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafkaClient } from '../kafka/client/kafkajs.js';
import type { AdminLike } from '../kafka/client/ports.js';
import { BrokerLaunchError } from './errors.js';

/** The Apache Kafka release that {@link startLocalKafka} runs (newest 3.9.x on Maven Central). */
export const KAFKA_VERSION = '3.9.2';

/** The SLF4J 1.7 binding that Kafka 3.9 logs through (reload4j, the maintained log4j 1.2 fork). */
export const SLF4J_VERSION = '1.7.36';

/** The maven-dependency-plugin version pinned in the generated pom, so resolution is reproducible. */
const DEPENDENCY_PLUGIN_VERSION = '3.8.1';

/** Name of the marker file written last into a complete `lib` directory. */
const COMPLETE_MARKER = '.emstream-complete';

/** How many lines of broker output are kept for error messages. */
const LOG_TAIL_LINES = 60;

export { BrokerLaunchError, type BrokerLaunchReason } from './errors.js';

/** Options of {@link startLocalKafka}; every field is optional. */
export interface LocalKafkaOptions {
  /** PLAINTEXT (client) port on 127.0.0.1; a free port when omitted. */
  port?: number;
  /** CONTROLLER (KRaft quorum) port on 127.0.0.1; a free port when omitted. */
  controllerPort?: number;
  /** Directory for config and data; kept after stop. A temp directory (removed on stop) when omitted. */
  dir?: string;
  /** Base of the jar cache; default env `EMSTREAM_KAFKA_CACHE`, else `~/.cache/emstream`. Jars go to `<cacheDir>/kafka-<version>/lib`. */
  cacheDir?: string;
  /** Maximum JVM heap in MiB (default 512). */
  heapMb?: number;
  /** Receives each line of progress and broker output (default: dropped). */
  log?: (line: string) => void;
  /** Receives only the launcher's own progress messages (resolving jars, starting, ready), not the broker's log. */
  progress?: (message: string) => void;
  /** How long formatting the storage and waiting for the broker to answer may take together, after the jars are resolved (default 60 000 ms). */
  startTimeoutMs?: number;
  /** How long Maven may take to resolve the jars on a cold cache (default 600 000 ms). */
  resolveTimeoutMs?: number;
}

/** A running local broker, as returned by {@link startLocalKafka}. */
export interface LocalKafka {
  /** Bootstrap addresses for kafkajs' `brokers` option, e.g. `['127.0.0.1:9092']`. */
  readonly brokers: string[];
  /** The same address as a single string, e.g. `'127.0.0.1:9092'`. */
  readonly bootstrap: string;
  /** The client (PLAINTEXT) port. */
  readonly port: number;
  /** The KRaft controller port. */
  readonly controllerPort: number;
  /** The directory holding `server.properties` and the data (`data/`). */
  readonly dir: string;
  /** Resolves when the JVM exits, whether through `stop()` or by itself (a crash); never rejects. */
  readonly exited: Promise<BrokerExit>;
  /** Stops the JVM (SIGTERM, then SIGKILL after a timeout) and removes the directory if it was temporary; idempotent. */
  stop(): Promise<void>;
  /**
   * Stops the JVM and starts a new one on the same directory, data and ports (a broker restart; the directory
   * must have been given as `dir`, or it is removed by the stop). Resolves once the new broker answers.
   */
  restart(options?: { downMs?: number }): Promise<LocalKafka>;
}

/** How the broker's JVM ended. */
export interface BrokerExit {
  /** Exit code, or null when killed by a signal. */
  code: number | null;
  /** The signal that ended it, or null. */
  signal: NodeJS.Signals | null;
  /** True when the exit was requested through `stop()`. */
  requested: boolean;
}

/** Live JVMs, killed synchronously if the Node process exits without stopping them. */
const liveBrokers = new Set<{ child: ChildProcess; tempDir: string | undefined }>();
let exitHookInstalled = false;

/** Installs (once) a `process.on('exit')` hook that SIGKILLs every JVM still running and removes temp dirs. */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const b of liveBrokers) {
      try {
        b.child.kill('SIGKILL');
      } catch {
        // the process is already gone
      }
      if (b.tempDir !== undefined) {
        try {
          rmSync(b.tempDir, { recursive: true, force: true });
        } catch {
          // best effort at exit
        }
      }
    }
  });
}

/** A bounded buffer of the most recent output lines. */
class LineTail {
  private readonly lines: string[] = [];
  private partial = '';

  /**
   * @param max - how many lines to keep.
   * @param onLine - called with every complete line.
   */
  constructor(
    private readonly max: number,
    private readonly onLine?: (line: string) => void,
  ) {}

  /** Appends a chunk of output, splitting it into lines. */
  push(chunk: Buffer | string): void {
    const text = this.partial + chunk.toString();
    const parts = text.split(/\r?\n/);
    this.partial = parts.pop() ?? '';
    for (const line of parts) this.add(line);
  }

  /** Returns the kept lines (including an unterminated last line), oldest first. */
  snapshot(): string[] {
    return this.partial === '' ? [...this.lines] : [...this.lines, this.partial];
  }

  private add(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.max) this.lines.shift();
    this.onLine?.(line);
  }
}

/** Outcome of running a child process to completion. */
interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string[];
}

/**
 * Runs a command to completion, capturing the tail of its stdout and stderr.
 *
 * @param cmd - executable name, looked up on the PATH.
 * @param args - its arguments (no shell involved).
 * @param opts - working directory, timeout, line callback and extra environment.
 * @returns the exit code/signal and the last output lines.
 * @throws NodeJS.ErrnoException with code `ENOENT` when `cmd` is not installed.
 */
function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; timeoutMs: number; onLine?: (line: string) => void; env?: NodeJS.ProcessEnv },
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const tail = new LineTail(LOG_TAIL_LINES, opts.onLine);
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.stdout.on('data', (c: Buffer) => tail.push(c));
    child.stderr.on('data', (c: Buffer) => tail.push(c));
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output: tail.snapshot() });
    });
  });
}

/** True when `err` is the `ENOENT` a spawn raises for a missing executable. */
function isEnoent(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === 'ENOENT';
}

/**
 * Returns the base directory of the jar cache.
 *
 * @param cacheDir - explicit override.
 * @returns `cacheDir`, else env `EMSTREAM_KAFKA_CACHE`, else `~/.cache/emstream`.
 */
export function kafkaCacheBase(cacheDir?: string): string {
  return cacheDir ?? process.env.EMSTREAM_KAFKA_CACHE ?? join(homedir(), '.cache', 'emstream');
}

/** The tiny pom whose dependencies are the broker's runtime classpath. */
function kafkaPom(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>emstream.local</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>${KAFKA_VERSION}</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>${KAFKA_VERSION}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId>
      <artifactId>slf4j-reload4j</artifactId>
      <version>${SLF4J_VERSION}</version>
    </dependency>
  </dependencies>
  <build>
    <pluginManagement>
      <plugins>
        <plugin>
          <groupId>org.apache.maven.plugins</groupId>
          <artifactId>maven-dependency-plugin</artifactId>
          <version>${DEPENDENCY_PLUGIN_VERSION}</version>
        </plugin>
      </plugins>
    </pluginManagement>
  </build>
</project>
`;
}

/** Sends a launcher message to both the `log` and the `progress` callbacks. */
function announce(opts: { log?: (line: string) => void; progress?: (message: string) => void }, message: string): void {
  opts.log?.(message);
  opts.progress?.(message);
}

/** Resolves after `ms` milliseconds. */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Takes an exclusive lock file, waiting while another live process holds it.
 *
 * A lock whose owner pid is gone, or that is older than `staleMs`, is taken over.
 *
 * @param path - the lock file.
 * @param staleMs - age after which a lock is considered abandoned.
 * @param isDone - checked while waiting: when it turns true the lock is not needed any more.
 * @returns a release function, or `undefined` if `isDone()` became true while waiting.
 */
async function acquireLock(path: string, staleMs: number, isDone: () => boolean): Promise<(() => Promise<void>) | undefined> {
  for (;;) {
    if (isDone()) return undefined;
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => rm(path, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    // Someone holds it: take it over if its owner died or it is too old, else wait.
    try {
      const [owner, info] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
      const pid = Number.parseInt(owner, 10);
      let alive = Number.isInteger(pid) && pid > 0;
      if (alive) {
        try {
          process.kill(pid, 0);
        } catch (e) {
          alive = (e as NodeJS.ErrnoException).code === 'EPERM';
        }
      }
      if (!alive || Date.now() - info.mtimeMs > staleMs) await rm(path, { force: true });
    } catch {
      // the lock vanished between the calls: just retry
    }
    await sleep(500);
  }
}

/**
 * Makes sure the Kafka jars are in the cache and returns the `lib` directory holding them.
 *
 * 1. If `<base>/kafka-<version>/lib/.emstream-complete` exists, return at once (warm cache).
 * 2. Take `<base>/kafka-<version>/.lock` so concurrent resolutions (e.g. parallel test runs) wait for each other.
 * 3. Write the tiny pom into a fresh temp directory beside `lib` and run
 *    `mvn -q -B dependency:copy-dependencies -DoutputDirectory=lib -DincludeScope=runtime` there.
 * 4. Write the completion marker, then rename the temp `lib` to its final place (atomic on one filesystem),
 *    so a half-downloaded directory is never seen as complete.
 *
 * @param opts - `cacheDir` (see {@link kafkaCacheBase}), `log` for Maven's output and progress, `progress` for progress only, `timeoutMs` for Maven.
 * @returns the absolute path of the `lib` directory (use `join(lib, '*')` as the Java classpath).
 * @throws BrokerLaunchError `maven-missing` when `mvn` is not installed, `resolve-failed` when Maven fails.
 */
export async function resolveKafkaJars(
  opts: { cacheDir?: string; log?: (line: string) => void; progress?: (message: string) => void; timeoutMs?: number } = {},
): Promise<string> {
  const versionDir = join(kafkaCacheBase(opts.cacheDir), `kafka-${KAFKA_VERSION}`);
  const lib = join(versionDir, 'lib');
  const complete = (): boolean => existsSync(join(lib, COMPLETE_MARKER));
  if (complete()) return lib;

  await mkdir(versionDir, { recursive: true });
  const timeoutMs = opts.timeoutMs ?? 600_000;
  const release = await acquireLock(join(versionDir, '.lock'), timeoutMs + 60_000, complete);
  if (release === undefined) return lib;
  const work = await mkdtemp(join(versionDir, '.resolve-'));
  try {
    if (complete()) return lib;
    announce(opts, `resolving Apache Kafka ${KAFKA_VERSION} jars with Maven into ${lib} (first run only)...`);
    await writeFile(join(work, 'pom.xml'), kafkaPom());
    let result: RunResult;
    try {
      result = await run(
        'mvn',
        ['-q', '-B', 'dependency:copy-dependencies', '-DoutputDirectory=lib', '-DincludeScope=runtime'],
        { cwd: work, timeoutMs, onLine: opts.log },
      );
    } catch (err) {
      if (isEnoent(err)) {
        throw new BrokerLaunchError('maven-missing', 'Maven (`mvn`) is not on the PATH; it is needed once to fetch the Kafka jars.', { cause: err });
      }
      throw err;
    }
    if (result.code !== 0) {
      throw new BrokerLaunchError(
        'resolve-failed',
        `Maven could not resolve org.apache.kafka:kafka_2.13:${KAFKA_VERSION} (exit ${result.code ?? result.signal}); check network access to Maven Central and ~/.m2/settings.xml.`,
        { logTail: result.output, retriable: true },
      );
    }
    const jars = (await readdir(join(work, 'lib'))).filter((f) => f.endsWith('.jar'));
    if (!jars.some((f) => f.startsWith(`kafka_2.13-${KAFKA_VERSION}`))) {
      throw new BrokerLaunchError('resolve-failed', `Maven finished but kafka_2.13-${KAFKA_VERSION}.jar is missing from the copied dependencies.`, {
        logTail: result.output,
      });
    }
    await writeFile(join(work, 'lib', COMPLETE_MARKER), `${new Date().toISOString()} ${jars.length} jars\n`);
    await rm(lib, { recursive: true, force: true }); // an incomplete leftover without the marker
    await rename(join(work, 'lib'), lib);
    announce(opts, `resolved ${jars.length} jars into ${lib}`);
    return lib;
  } finally {
    await rm(work, { recursive: true, force: true });
    await release();
  }
}

/**
 * Finds a free TCP port on 127.0.0.1 by listening on port 0 and closing again.
 *
 * @returns a port that was free a moment ago (another process may still take it before the broker binds).
 */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new BrokerLaunchError('port-in-use', 'could not read the port of a listening socket on 127.0.0.1: pass --port'))));
    });
  });
}

/**
 * Whether a TCP port on 127.0.0.1 is free to listen on (nothing is bound to it).
 *
 * @param port - the port
 * @returns true when a server could listen on it (and was closed again)
 */
export function isLoopbackPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * Generates a KRaft cluster id the way `kafka-storage.sh random-uuid` does (Kafka's `Uuid.randomUuid()`):
 * 16 random bytes in URL-safe base64 without padding, never starting with '-'. Done in Node to save a JVM start.
 *
 * @returns a 22-character cluster id.
 */
export function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * Builds the single-node KRaft `server.properties`.
 *
 * @param port - PLAINTEXT port.
 * @param controllerPort - CONTROLLER port.
 * @param dataDir - `log.dirs`.
 * @returns the file's text.
 */
function serverProperties(port: number, controllerPort: number, dataDir: string): string {
  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    'log.dirs': dataDir,
    'num.partitions': 1,
    'auto.create.topics.enable': true,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 1,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 1,
    'group.initial.rebalance.delay.ms': 0,
    'log.cleaner.enable': true,
    'log.cleaner.backoff.ms': 1000,
    'num.network.threads': 2,
    'num.io.threads': 4,
  };
  // Java properties files treat '\' as an escape: write Windows-style paths safely.
  return Object.entries(props)
    .map(([k, v]) => `${k}=${String(v).replace(/\\/g, '\\\\')}`)
    .join('\n')
    .concat('\n');
}

/** log4j 1.2 (reload4j) config sending the broker's log to stdout, where the launcher reads it. */
const LOG4J_PROPERTIES = `log4j.rootLogger=INFO, stdout
log4j.appender.stdout=org.apache.log4j.ConsoleAppender
log4j.appender.stdout.layout=org.apache.log4j.PatternLayout
log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka.request.logger=WARN
log4j.logger.org.apache.kafka.clients.NetworkClient=WARN
`;

/** log4j config for the storage tool: warnings and errors only (its INFO output is a full config dump). */
const LOG4J_TOOLS_PROPERTIES = `log4j.rootLogger=WARN, stderr
log4j.appender.stderr=org.apache.log4j.ConsoleAppender
log4j.appender.stderr.Target=System.err
log4j.appender.stderr.layout=org.apache.log4j.PatternLayout
log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n
`;

/**
 * JVM flags shared by the storage tool and the broker (Kafka's own scripts use the same GC settings).
 *
 * @param lib - the jar directory.
 * @param heapMb - maximum heap in MiB.
 * @param dir - the broker directory holding the log4j config files.
 * @param log4jFile - which log4j config in `dir` to use.
 * @returns the flags, ending with the classpath.
 */
function jvmArgs(lib: string, heapMb: number, dir: string, log4jFile = 'log4j.properties'): string[] {
  return [
    `-Xmx${heapMb}m`,
    `-Xms${Math.min(heapMb, 128)}m`,
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${join(dir, log4jFile)}`,
    `-Dkafka.logs.dir=${join(dir, 'logs')}`,
    '-cp',
    join(lib, '*'),
  ];
}

/** Consumer group looked up once at start-up, only to have the group coordinator ready. */
const WARMUP_GROUP = 'emstream-broker-warmup';

/**
 * Polls the broker with a kafkajs admin client until it answers metadata and group-coordinator requests.
 *
 * 1. `describeCluster()` must list the broker and a controller.
 * 2. `listTopics()` must answer.
 * 3. `describeGroups()` must find a coordinator (this creates `__consumer_offsets`).
 *
 * @param bootstrap - `host:port`.
 * @param deadline - epoch ms after which to give up.
 * @param exited - returns true once the JVM has exited, to stop polling early.
 * @returns true when the broker answered, false on timeout or exit.
 */
async function waitUntilAnswering(bootstrap: string, deadline: number, exited: () => boolean): Promise<boolean> {
  const kafka = await createKafkaClient([bootstrap], { clientId: 'emstream-broker-probe', logLevel: 'nothing', connectionTimeout: 1000, requestTimeout: 2000, retry: { retries: 0 } });
  while (Date.now() < deadline && !exited()) {
    // kafkajs's admin also describes the cluster and groups (not part of the edge's ports).
    const admin = kafka.admin({ retry: { retries: 0 } }) as AdminLike & {
      describeCluster(): Promise<{ brokers: unknown[]; controller: number | null }>;
      describeGroups(groups: string[]): Promise<unknown>;
    };
    try {
      await admin.connect();
      const cluster = await admin.describeCluster();
      if (cluster.brokers.length > 0 && cluster.controller !== null) {
        await admin.listTopics();
        // Looking up a group coordinator makes the broker create __consumer_offsets now, so the
        // first consumer group of the caller does not meet "group coordinator not available".
        await admin.describeGroups([WARMUP_GROUP]);
        return true;
      }
    } catch {
      // not up yet
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    await sleep(250);
  }
  return false;
}

/**
 * Waits for a child process to exit, up to `ms` milliseconds.
 *
 * @returns true if it exited within the time.
 */
function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * Starts a single-node Apache Kafka broker (KRaft, PLAINTEXT on 127.0.0.1) and resolves once it answers.
 *
 * 1. Resolve the jars with Maven into the cache, once ({@link resolveKafkaJars}).
 * 2. Pick free loopback ports for the client and controller listeners unless given; make a temp dir unless `dir` is given.
 * 3. Write `server.properties` and `log4j.properties`, then, unless `dir` already holds a formatted cluster
 *    (`data/meta.properties`), format the storage with `kafka.tools.StorageTool format -t <cluster id> -c server.properties`.
 * 4. Spawn `java … kafka.Kafka server.properties`, keeping the tail of its output.
 * 5. Poll with a kafkajs admin (`describeCluster`, `listTopics`, `describeGroups`) until it answers; fail fast if the JVM exits.
 *    If auto-picked ports were taken in the meantime ("Address already in use"), try again with new ones.
 *
 * Ports given explicitly are checked first: a taken one fails at once with `BrokerLaunchError` `port-in-use`.
 *
 * ## Example
 * ```ts
 * import { startLocalKafka } from 'emstream/broker';
 * const kafka = await startLocalKafka({ log: console.error });
 * console.log(kafka.bootstrap); // e.g. 127.0.0.1:40123
 * await kafka.stop();
 * ```
 *
 * @param opts - see {@link LocalKafkaOptions}.
 * @returns the running broker; call `stop()` when done (the JVM is also killed when Node exits).
 * @throws BrokerLaunchError when Java/Maven are missing, the jars cannot be resolved, formatting fails,
 *   the JVM exits early, or the broker does not answer within `startTimeoutMs`.
 */
export async function startLocalKafka(opts: LocalKafkaOptions = {}): Promise<LocalKafka> {
  // A port asked for must be free: say so at once rather than after a JVM start.
  for (const [name, port] of [['port', opts.port], ['controller port', opts.controllerPort]] as const) {
    if (port !== undefined && !(await isLoopbackPortFree(port))) {
      throw new BrokerLaunchError('port-in-use', `the ${name} ${port} on 127.0.0.1 is in use: stop what listens there, pick another with --${name === 'port' ? 'port' : 'controller-port'}, or leave it out for a free one`, {
        port,
      });
    }
  }
  const lib = await resolveKafkaJars({ cacheDir: opts.cacheDir, log: opts.log, progress: opts.progress, timeoutMs: opts.resolveTimeoutMs });
  const autoPorts = opts.port === undefined || opts.controllerPort === undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(lib, opts);
    } catch (err) {
      const portRace = err instanceof BrokerLaunchError && err.reason === 'exited-early' && err.logTail.some((l) => /Address already in use/i.test(l));
      if (!(portRace && autoPorts && attempt < 3)) throw err;
      announce(opts, 'a picked port was taken before the broker bound it; retrying with new ports');
    }
  }
}

/**
 * Formats the KRaft storage of a new broker directory with a fresh cluster id.
 *
 * @param lib - the jar directory.
 * @param heapMb - heap of the broker (the tool uses at most 256 MiB).
 * @param dir - the broker directory (holds the log4j config files).
 * @param propsFile - the `server.properties` to format for.
 * @param timeoutMs - how long the tool may run.
 * @throws BrokerLaunchError `java-missing` or `format-failed`.
 */
async function formatStorage(lib: string, heapMb: number, dir: string, propsFile: string, timeoutMs: number): Promise<void> {
  let format: RunResult;
  try {
    format = await run(
      'java',
      [
        '-XX:TieredStopAtLevel=1', // a short-lived JVM: the client compiler alone starts faster
        ...jvmArgs(lib, Math.min(heapMb, 256), dir, 'log4j-tools.properties'),
        'kafka.tools.StorageTool',
        'format',
        '-t',
        randomClusterId(),
        '-c',
        propsFile,
      ],
      { timeoutMs },
    );
  } catch (err) {
    if (isEnoent(err)) throw new BrokerLaunchError('java-missing', 'Java (`java`) is not on the PATH; Kafka needs Java 17 or newer.', { cause: err });
    throw err;
  }
  if (format.code !== 0) {
    throw new BrokerLaunchError('format-failed', `kafka.tools.StorageTool format failed (exit ${format.code ?? format.signal}) for ${dir}.`, {
      logTail: format.output,
    });
  }
}

/** One launch attempt of {@link startLocalKafka}, after the jars are resolved. */
async function launch(lib: string, opts: LocalKafkaOptions): Promise<LocalKafka> {
  const heapMb = opts.heapMb ?? 512;
  const startTimeoutMs = opts.startTimeoutMs ?? 60_000;
  const deadline = Date.now() + startTimeoutMs; // one budget for formatting and readiness
  const port = opts.port ?? (await freeLoopbackPort());
  let controllerPort = opts.controllerPort ?? (await freeLoopbackPort());
  while (controllerPort === port) controllerPort = await freeLoopbackPort();

  const tempDir = opts.dir === undefined ? await mkdtemp(join(tmpdir(), 'emstream-kafka-')) : undefined;
  const dir = opts.dir ?? tempDir!;
  const cleanup = async (): Promise<void> => {
    if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true });
  };

  try {
    await mkdir(join(dir, 'logs'), { recursive: true });
    const propsFile = join(dir, 'server.properties');
    await writeFile(propsFile, serverProperties(port, controllerPort, join(dir, 'data')));
    await writeFile(join(dir, 'log4j.properties'), LOG4J_PROPERTIES);
    await writeFile(join(dir, 'log4j-tools.properties'), LOG4J_TOOLS_PROPERTIES);

    // Format the storage, unless a `dir` from an earlier run already holds a formatted cluster.
    const metaFile = join(dir, 'data', 'meta.properties');
    const formatted = existsSync(metaFile) && /^cluster\.id=\S+/m.test(await readFile(metaFile, 'utf8'));
    if (!formatted) await formatStorage(lib, heapMb, dir, propsFile, startTimeoutMs);
  } catch (err) {
    await cleanup();
    throw err;
  }

  const bootstrap = `127.0.0.1:${port}`;
  announce(opts, `starting Kafka ${KAFKA_VERSION} on ${bootstrap} (controller ${controllerPort}, dir ${dir})`);
  const tail = new LineTail(LOG_TAIL_LINES, opts.log);
  const child = spawn('java', [...jvmArgs(lib, heapMb, dir), 'kafka.Kafka', join(dir, 'server.properties')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const entry = { child, tempDir };
  liveBrokers.add(entry);
  installExitHook();
  child.stdout!.on('data', (c: Buffer) => tail.push(c));
  child.stderr!.on('data', (c: Buffer) => tail.push(c));
  let spawnError: Error | undefined;
  let exited = false;
  let stopRequested = false;
  const exitedPromise = new Promise<BrokerExit>((resolve) => {
    child.once('error', (err) => {
      spawnError = err;
      if (child.pid === undefined) {
        // spawn itself failed: there will be no 'exit' event
        exited = true;
        liveBrokers.delete(entry);
        resolve({ code: null, signal: null, requested: stopRequested });
      }
    });
    child.once('exit', (code, signal) => {
      exited = true;
      liveBrokers.delete(entry);
      resolve({ code, signal, requested: stopRequested });
    });
  });

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopRequested = true;
    stopping ??= (async () => {
      if (!exited) {
        child.kill('SIGTERM');
        if (!(await waitForExit(child, 20_000))) {
          child.kill('SIGKILL');
          await waitForExit(child, 5_000);
        }
      }
      liveBrokers.delete(entry);
      await cleanup();
    })();
    return stopping;
  };

  const ready = await waitUntilAnswering(bootstrap, deadline, () => exited);
  if (!ready) {
    const wasExited = exited;
    const code = child.exitCode;
    await stop();
    if (spawnError !== undefined && isEnoent(spawnError)) {
      throw new BrokerLaunchError('java-missing', 'Java (`java`) is not on the PATH; Kafka needs Java 17 or newer.', { cause: spawnError });
    }
    if (wasExited) {
      throw new BrokerLaunchError('exited-early', `The Kafka JVM exited (code ${code}) before it answered on ${bootstrap}.`, {
        logTail: tail.snapshot(),
        cause: spawnError,
        retriable: true,
      });
    }
    throw new BrokerLaunchError('start-timeout', `Kafka did not answer on ${bootstrap} within ${startTimeoutMs} ms.`, {
      logTail: tail.snapshot(),
      retriable: true,
    });
  }
  announce(opts, `Kafka is answering on ${bootstrap}`);
  const restart = async (options: { downMs?: number } = {}): Promise<LocalKafka> => {
    if (tempDir !== undefined) throw new BrokerLaunchError('format-failed', 'restart() needs a broker started on a dir of its own (the temporary one is removed on stop): pass dir');
    await stop();
    if (options.downMs !== undefined) await sleep(options.downMs);
    // The ports were just released by the JVM; Java binds with SO_REUSEADDR, so they can be taken again at once.
    return startLocalKafka({ ...opts, dir, port, controllerPort });
  };
  return { brokers: [bootstrap], bootstrap, port, controllerPort, dir, exited: exitedPromise, stop, restart };
}
