/**
 * A dashboard source that reads a Kafka pipeline's window-history, drift and models topics: from the beginning,
 * then live.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Observable } from 'rxjs';
import { z } from 'zod';
import { ConsumerRestarts, seekQuietly } from '../kafka/client/consumerRestart.js';
import { createKafkaClient } from '../kafka/client/kafkajs.js';
import { type AdminLike, type ConsumerLike, type EachBatchPayloadLike, type KafkaClientLike } from '../kafka/client/ports.js';
import { KafkaEdgeError } from '../kafka/errors.js';
import { readDriftMessage, readWindowMessage } from '../kafka/messages/history.js';
import { readModelMessage } from '../kafka/state/format.js';
import { partitionKey } from '../offsets.js';
import { describeError } from '../kafka/errors.js';
import { brokerAddressProblem } from '../kafka/run/config.js';
import { retryBrokerOperation, type RetryOptions } from '../kafka/run/retry.js';
import { StateStore } from '../kafka/state/store.js';
import { parseOptions } from '../options.js';
import type { DashboardMessage, DashboardSource } from './source.js';

/** Options of {@link kafkaDashboardSource}. */
export interface KafkaDashboardSourceOptions {
  /** A client (kafkajs `Kafka` or compatible); or give `brokers`. */
  readonly kafka?: KafkaClientLike;
  /** Bootstrap addresses, used when `kafka` is not given. */
  readonly brokers?: readonly string[];
  /** The pipeline's input topic: the other topics default to its names (`<input>.windows`, `.drift`, `.models`). */
  readonly input?: string;
  /** Window-history topic (default `<input>.windows`). */
  readonly windows?: string;
  /** Drift topic (default `<input>.drift`); `false`: do not read one. */
  readonly drift?: string | false;
  /** Models topic (default `<input>.models`); `false`: do not read one (no mixture picture). */
  readonly models?: string | false;
  /** Show this pipeline id only (the messages' key); default: the first one seen. */
  readonly pipelineId?: string;
  /** Page title (default `emstream dashboard: <input or windows topic>`). */
  readonly title?: string;
  /** How often to look for the window-history topic while it does not exist yet, in ms (default 1000). */
  readonly pollMs?: number;
  /**
   * How long the brokers may not answer (connecting, looking up the topics) before the source errors with a
   * `BrokerUnavailableError`, in ms (default 120 000); one warning per retry meanwhile.
   */
  readonly brokerTimeoutMs?: number;
  readonly logger?: Logger;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
const topicName = z.string({ error: 'must be a topic name' }).min(1, 'must not be empty').regex(/^[A-Za-z0-9._-]+$/, 'may contain only letters, digits, ".", "_" and "-"');

const optionsSchema = z
  .object({
    kafka: z.custom<KafkaClientLike>((v) => isObject(v) && typeof v.consumer === 'function' && typeof v.admin === 'function', 'must be a Kafka client (kafkajs `new Kafka({...})`)').optional(),
    brokers: z
      .array(
        z.string().superRefine((v, ctx) => {
          const problem = brokerAddressProblem(v);
          if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
        }),
        { error: 'must be a list of host:port addresses, e.g. ["127.0.0.1:9092"]' },
      )
      .min(1, 'give at least one broker')
      .optional(),
    input: topicName.optional(),
    windows: topicName.optional(),
    drift: z.union([topicName, z.literal(false)]).optional(),
    models: z.union([topicName, z.literal(false)]).optional(),
    pipelineId: z.string().min(1, 'must not be empty').optional(),
    title: z.string().optional(),
    pollMs: z.number().int('must be an integer (ms)').min(10, 'must be at least 10 ms').default(1000),
    brokerTimeoutMs: z.number().int('must be an integer (ms)').positive('must be > 0 ms').default(120_000),
    logger: z.custom<Logger>((v) => isObject(v) && typeof v.debug === 'function' && typeof v.warn === 'function', 'must be a pino logger').optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.kafka === undefined && o.brokers === undefined) ctx.addIssue({ code: 'custom', path: ['brokers'], message: 'give a client (kafka) or bootstrap addresses (brokers), e.g. ["127.0.0.1:9092"]' });
    if (o.input === undefined && o.windows === undefined) ctx.addIssue({ code: 'custom', path: ['input'], message: "give the pipeline's input topic (input), or the window-history topic (windows)" });
    if (o.input === undefined && (o.drift === undefined || o.models === undefined)) {
      if (o.drift === undefined) ctx.addIssue({ code: 'custom', path: ['drift'], message: 'give the drift topic (or false), or the input topic its name derives from' });
      if (o.models === undefined) ctx.addIssue({ code: 'custom', path: ['models'], message: 'give the models topic (or false), or the input topic its name derives from' });
    }
  });

/** Longest wait for the consumer to leave its group when the source stops. */
const DISCONNECT_TIMEOUT_MS = 10_000;

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * A {@link DashboardSource} that follows a Kafka pipeline through its topics (what `emstream run` writes): window
 * records from the window-history topic, drift records from the drift topic, models from the compacted models topic.
 *
 * 1. Wait until the window-history topic exists (polling every `pollMs`: the dashboard may start before the
 *    pipeline), then subscribe to it and to the drift and models topics that exist, with a fresh consumer group
 *    from the beginning, committing nothing: the whole history first, then live.
 * 2. Each message is read with its format's reader (`readWindowMessage`, `readDriftMessage`, `readModelMessage`);
 *    one that is not emstream's is skipped (logged at debug), never an error.
 * 3. Only one pipeline is shown: `pipelineId`, or the first key seen (the others are skipped, logged once).
 * 4. Unsubscribing (or `close()`) stops the consumer and leaves its group.
 * 5. A consumer crash its client does not restart from ends the source with a `KafkaEdgeError`, except one that only
 *    says the brokers were away (kafkajs's "group coordinator not found" in a broker restart): the consumer is run
 *    again, after what was shown, for at most `brokerTimeoutMs` ({@link ConsumerRestarts}).
 *
 * ## Example
 * Needs a broker and a running pipeline, so it is not run with the doc examples (test/dashboard/kafka.test.ts does the same):
 * ```typescript
 * import { kafkaDashboardSource, startDashboard } from 'emstream';
 *
 * const source = kafkaDashboardSource({ brokers: ['127.0.0.1:9092'], input: 'points' }); // what `emstream run --input points` writes
 * const dashboard = await startDashboard({ source, port: 8080 });
 * console.log(dashboard.url); // http://127.0.0.1:8080/
 * process.once('SIGTERM', () => void dashboard.close()); // stops the consumer too
 * ```
 *
 * @param options - client or brokers, topics, pipeline id
 * @returns the source (it connects when subscribed)
 * @throws EmstreamOptionsError when the options are invalid
 */
export function kafkaDashboardSource(options: KafkaDashboardSourceOptions): DashboardSource & { close(): Promise<void> } {
  const o = parseOptions(optionsSchema, options, 'kafkaDashboardSource');
  const windows = o.windows ?? `${o.input!}.windows`;
  const drift = o.drift === false ? null : (o.drift ?? `${o.input!}.drift`);
  const models = o.models === false ? null : (o.models ?? `${o.input!}.models`);
  const topics = [windows, drift, models].filter((t): t is string => t !== null);
  const where = o.brokers !== undefined ? ` on ${o.brokers.join(',')}` : '';
  const description = `${o.pipelineId === undefined ? 'The pipeline' : `Pipeline ${JSON.stringify(o.pipelineId)}`} writing ${topics.join(', ')}${where}: its whole history, then live.`;
  const closers = new Set<() => Promise<void>>();

  const messages = new Observable<DashboardMessage>((subscriber) => {
    const abort = new AbortController();
    let consumer: ConsumerLike | undefined;
    let restarts: ConsumerRestarts | undefined;
    let followed = o.pipelineId;
    let followedModelKey: string | undefined;
    const ignored = new Set<string>();
    let stopped: Promise<void> | undefined;

    const accept = (raw: string | null, topic: string): boolean => {
      if (raw === null) return false;
      // Exactly once, each input partition's state has its own key, `<pipelineId>/<topic>/<partition>`: the
      // models of the first partition seen are shown (each partition has a model of its own).
      const key = topic === models ? StateStore.pipelineIdOf(raw) : raw;
      if (followed === undefined) {
        followed = key;
        o.logger?.info({ pipelineId: key }, `dashboard: following pipeline ${JSON.stringify(key)} (the first seen on ${topic})`);
      }
      if (key === followed && topic === models && raw !== key) {
        followedModelKey ??= raw;
        return raw === followedModelKey;
      }
      if (key === followed) return true;
      if (!ignored.has(key)) {
        ignored.add(key);
        o.logger?.info({ pipelineId: key, followed }, `dashboard: skipping the messages of pipeline ${JSON.stringify(key)} (showing ${JSON.stringify(followed)}; pass pipelineId to choose)`);
      }
      return false;
    };

    const toMessage = (topic: string, value: Buffer | null): DashboardMessage | null => {
      if (topic === windows) return { type: 'window', record: readWindowMessage(value) };
      if (topic === drift) return { type: 'drift', record: readDriftMessage(value) };
      const { message, model } = readModelMessage(value);
      return { type: 'model', windowIndex: message.windowIndex, version: message.modelVersion, model };
    };

    const run = async (): Promise<void> => {
      const kafka = o.kafka ?? (await createKafkaClient(o.brokers!, { clientId: 'emstream-dashboard', logger: o.logger, forwardLogsAs: 'debug', retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 } }));
      // While the brokers do not answer: one warning per retry, then a BrokerUnavailableError past the budget.
      const retry = (): RetryOptions => ({ deadline: Date.now() + o.brokerTimeoutMs, budgetMs: o.brokerTimeoutMs, brokers: o.brokers, logger: o.logger, signal: abort.signal });
      // 1. The window-history topic (the pipeline creates all its topics at once).
      const admin: AdminLike = kafka.admin();
      await retryBrokerOperation('connect', () => admin.connect(), retry());
      let present: string[] = [];
      try {
        for (;;) {
          const existing = new Set(await retryBrokerOperation('list-topics', () => admin.listTopics(), retry()));
          if (existing.has(windows)) {
            present = topics.filter((t) => existing.has(t));
            break;
          }
          o.logger?.debug({ topic: windows }, 'dashboard: waiting for the window-history topic');
          await sleep(o.pollMs, abort.signal);
          if (abort.signal.aborted) return;
        }
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
      if (abort.signal.aborted) return;
      const missing = topics.filter((t) => !present.includes(t));
      if (missing.length > 0) o.logger?.warn({ missing }, `dashboard: ${missing.join(', ')} ${missing.length === 1 ? 'does' : 'do'} not exist: not shown`);
      // 2. A fresh group, from the beginning, nothing committed.
      const c = kafka.consumer({ groupId: `emstream-dashboard-${randomBytes(6).toString('hex')}`, maxBytesPerPartition: 4 << 20 });
      consumer = c;
      await retryBrokerOperation('connect', () => c.connect(), retry());
      if (abort.signal.aborted) return void (await c.disconnect().catch(() => undefined));
      await c.subscribe({ topics: present, fromBeginning: true });
      if (abort.signal.aborted) return void (await c.disconnect().catch(() => undefined));
      /** Per topic and partition, the last message read: a restarted consumer goes on after it. */
      const lastRead = new Map<string, { topic: string; partition: number; offset: string }>();
      const runConfig = {
        autoCommit: false,
        eachBatch: async ({ batch }: EachBatchPayloadLike): Promise<void> => {
          restarts?.recovered();
          for (const m of batch.messages) {
            if (abort.signal.aborted || subscriber.closed) return;
            lastRead.set(partitionKey(batch.topic, batch.partition), { topic: batch.topic, partition: batch.partition, offset: m.offset });
            if (!accept(m.key === null ? null : m.key.toString('utf8'), batch.topic)) continue;
            let message: DashboardMessage | null;
            try {
              message = toMessage(batch.topic, m.value);
            } catch (err) {
              o.logger?.debug({ topic: batch.topic, partition: batch.partition, offset: m.offset, error: describeError(err) }, 'dashboard: skipped a message that is not emstream’s');
              continue;
            }
            if (message !== null) subscriber.next(message);
          }
        },
      };
      // kafkajs does not restart its consumer from some errors that only say the brokers were away (a broker
      // restart while it rejoined): restart it here, after what was shown. Any other crash ends the source.
      restarts = new ConsumerRestarts({
        what: "the dashboard's consumer",
        connect: () => c.connect(),
        run: async () => {
          await c.run(runConfig);
          for (const position of lastRead.values()) seekQuietly(c, { ...position, offset: String(BigInt(position.offset) + 1n) }, o.logger);
        },
        withinMs: o.brokerTimeoutMs,
        logger: o.logger,
        onGiveUp: (error) => fail(error),
      });
      if (c.on !== undefined && c.events !== undefined) {
        c.on(c.events.CRASH, ({ payload }) => {
          if (abort.signal.aborted || payload.restart === true || restarts?.crashed(payload.error) === true) return;
          fail(payload.error);
        });
      }
      await c.run(runConfig);
    };

    const fail = (err: unknown): void => {
      if (abort.signal.aborted || subscriber.closed) return;
      restarts?.stop();
      subscriber.error(
        err instanceof KafkaEdgeError ? err : new KafkaEdgeError(`the dashboard cannot read ${topics.join(', ')}: ${describeError(err)}`, { topic: windows, operation: 'dashboard' }, { cause: err }),
      );
    };

    run().catch(fail);

    const stop = (): Promise<void> => {
      abort.abort();
      restarts?.stop();
      if (stopped === undefined) {
        // Leaving the group is bounded in time: brokers that went away must not keep the dashboard from stopping.
        const left = (consumer?.disconnect() ?? Promise.resolve()).catch(() => undefined);
        let timer: NodeJS.Timeout | undefined;
        stopped = Promise.race([left, new Promise<void>((resolve) => (timer = setTimeout(resolve, DISCONNECT_TIMEOUT_MS)))]).finally(() => clearTimeout(timer));
      }
      return stopped;
    };
    closers.add(stop);
    return () => {
      void stop().finally(() => closers.delete(stop));
    };
  });

  return {
    title: o.title ?? `emstream dashboard: ${o.input ?? windows}`,
    description,
    messages,
    async close() {
      await Promise.all([...closers].map((c) => c()));
    },
  };
}
