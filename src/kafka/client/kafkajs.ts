/**
 * The client adapter: the one place that creates Kafka clients (kafkajs 2.2.4, pinned), maps their log lines to
 * pino, and installs the kafkajs fixes emstream needs (`requestQueueFix.ts`, `readCommittedFix.ts`; `fastProduce.ts`
 * in the producer thread). Everything else in the edge sees the ports of `ports.ts` only.
 *
 * @module
 */
import type { Logger } from 'pino';
import type { ClientRetryOptions, KafkaClientLike } from './ports.js';
import { installReadCommittedFix } from './readCommittedFix.js';
import { installRequestQueueFix } from './requestQueueFix.js';

/** The kafkajs version the adapter and its patches are written for (package.json pins it exactly). */
export const KAFKAJS_VERSION = '2.2.4';

/** A log level emstream forwards kafkajs lines at. */
export type ForwardLevel = 'error' | 'warn' | 'info' | 'debug';

/** Options of {@link createKafkaClient}. */
export interface CreateKafkaClientOptions {
  readonly clientId?: string;
  /** Receives kafkajs's own log lines. */
  readonly logger?: Logger;
  /** The kafkajs log level (default `'warn'`). */
  readonly logLevel?: 'nothing' | 'error' | 'warn' | 'info' | 'debug';
  /**
   * `'levels'` (default): kafkajs ERROR/WARN/INFO/DEBUG go to the pino levels of the same name. `'debug'`: every
   * kafkajs line goes to `debug` — for a runner that reports what matters itself (retries, crashes, rebalances), so
   * an unreachable broker does not print a dozen lines per attempt.
   */
  readonly forwardLogsAs?: 'levels' | 'debug';
  /** kafkajs `retry` of every client made (connections, requests). */
  readonly retry?: ClientRetryOptions;
  /** kafkajs `connectionTimeout` in ms (default 1000). */
  readonly connectionTimeout?: number;
  /** kafkajs `requestTimeout` in ms (default 30 000). */
  readonly requestTimeout?: number;
}

/**
 * Forwards one kafkajs log entry to a pino logger: without the stack (unless `EMSTREAM_DEBUG=1`) and without
 * kafkajs 2's one-time partitioner notice.
 */
export function forwardKafkajsLog(logger: Logger | undefined, level: ForwardLevel, namespace: string, log: { message: string } & Record<string, unknown>): void {
  if (logger === undefined) return;
  forwardKafkajsEntry((l, fields, message) => logger[l](fields, message), level, namespace, log);
}

/** {@link forwardKafkajsLog} to any sink (the producer thread posts its lines to the main thread). */
export function forwardKafkajsEntry(
  sink: (level: ForwardLevel, fields: Record<string, unknown>, message: string) => void,
  level: ForwardLevel,
  namespace: string,
  log: { message: string } & Record<string, unknown>,
): void {
  if (log.message.startsWith('KafkaJS v2.0.0 switched default partitioner')) return;
  const { message, stack, ...rest } = log;
  const fields: Record<string, unknown> = { kafkajs: namespace, ...rest };
  if (stack !== undefined && process.env.EMSTREAM_DEBUG === '1') fields.stack = stack;
  sink(level, fields, message);
}

/** The kafkajs module's exports this adapter uses. */
export interface KafkajsModule {
  readonly Kafka: new (config: Record<string, unknown>) => unknown;
  readonly logLevel: { readonly NOTHING: number; readonly ERROR: number; readonly WARN: number; readonly INFO: number; readonly DEBUG: number };
}

/** Options of {@link buildKafkajsClient}: those of {@link createKafkaClient}, with any log sink. */
export interface BuildKafkajsClientOptions extends Omit<CreateKafkaClientOptions, 'logger'> {
  readonly sink?: (level: ForwardLevel, fields: Record<string, unknown>, message: string) => void;
}

/**
 * A kafkajs client from the loaded module (for the producer thread, which imports kafkajs itself).
 *
 * @param kafkajs - the kafkajs module
 * @param brokers - bootstrap addresses
 * @param options - client id, levels, retry, connection timeout, where log lines go
 */
export function buildKafkajsClient(kafkajs: KafkajsModule, brokers: readonly string[], options: BuildKafkajsClientOptions = {}): KafkaClientLike {
  installRequestQueueFix(); // kafkajs 2.2.4's idle 1 ms timer loop (Node 24's TimeoutNegativeWarning)
  installReadCommittedFix(); // kafkajs 2.2.4's read_committed filter, which can return records of aborted transactions
  const { Kafka, logLevel } = kafkajs;
  const levels = { nothing: logLevel.NOTHING, error: logLevel.ERROR, warn: logLevel.WARN, info: logLevel.INFO, debug: logLevel.DEBUG };
  const asDebug = options.forwardLogsAs === 'debug';
  const sink = options.sink;
  return new Kafka({
    clientId: options.clientId ?? 'emstream',
    brokers: [...brokers],
    logLevel: levels[options.logLevel ?? 'warn'],
    connectionTimeout: options.connectionTimeout,
    requestTimeout: options.requestTimeout,
    retry: options.retry === undefined ? undefined : { ...options.retry },
    logCreator: () => (entry: { level: number; namespace: string; log: { message: string } & Record<string, unknown> }) => {
      if (sink === undefined) return;
      const level: ForwardLevel = asDebug ? 'debug' : entry.level <= logLevel.ERROR ? 'error' : entry.level === logLevel.WARN ? 'warn' : entry.level === logLevel.INFO ? 'info' : 'debug';
      forwardKafkajsEntry(sink, level, entry.namespace, entry.log);
    },
  }) as KafkaClientLike;
}

/**
 * Creates a kafkajs client whose own log goes to a pino logger.
 *
 * 1. Import kafkajs (lazily, so the rest of the edge stays client-agnostic).
 * 2. Map kafkajs levels (ERROR, WARN, INFO, DEBUG) to pino levels (or all to `debug`); only WARN and above by
 *    default; stacks are dropped unless `EMSTREAM_DEBUG=1`.
 *
 * ## Example
 * ```ts
 * import { createKafkaClient } from 'emstream';
 *
 * const kafka = await createKafkaClient(['127.0.0.1:9092'], { clientId: 'my-service' });
 * const admin = kafka.admin();
 * ```
 *
 * @param brokers - bootstrap addresses, e.g. `['127.0.0.1:9092']`
 * @param options - client id, logger, kafkajs log level, how to forward its lines, retry settings
 * @returns the kafkajs `Kafka` instance, typed as {@link KafkaClientLike}
 */
export async function createKafkaClient(brokers: readonly string[], options: CreateKafkaClientOptions = {}): Promise<KafkaClientLike> {
  const kafkajs = (await import('kafkajs')) as unknown as KafkajsModule;
  const logger = options.logger;
  return buildKafkajsClient(kafkajs, brokers, { ...options, sink: logger === undefined ? undefined : (level, fields, message) => logger[level](fields, message) });
}
