/**
 * Producing on a worker thread: a {@link ProducerLike} whose `sendBatch` posts the batch to a `worker_threads`
 * Worker that owns its own kafkajs client and producer (made by the client adapter, in that thread).
 *
 * Encoding produce requests (kafkajs allocates buffers per record) costs the main thread about half of its
 * time at high rates; on the worker it runs on another core while the main thread decodes and fits.
 *
 * @module
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { KafkaEdgeError } from '../errors.js';
import type { ProducedMessage, ProducerLike, TransactionOffsets } from './ports.js';
import type { TransactionalProducerLike } from './transactions.js';

/** What the worker needs to make its own client and producer (passed as `workerData`: plain data only). */
export interface WorkerConfig {
  readonly brokers: readonly string[];
  readonly clientId: string;
  /** kafkajs log level; its log lines are forwarded to the main thread's logger. */
  readonly logLevel: 'nothing' | 'error' | 'warn' | 'info' | 'debug';
  readonly allowAutoTopicCreation?: boolean;
  readonly idempotent?: boolean;
  readonly maxInFlightRequests?: number;
  /**
   * Encode uncompressed produce requests with emstream's encoder instead of kafkajs's (the same bytes, about 10×
   * less CPU per message; see `installFastProduceEncoder`), and group a send's messages per partition in one pass
   * (`installFastGrouping`). Default true: the worker's kafkajs is emstream's alone.
   */
  readonly fastEncoder?: boolean;
}

/**
 * A batch packed for `postMessage`: one flat array rather than an object per message (cheaper to clone), and
 * every Buffer's bytes copied into one transferred `blob` (a Buffer is often a view into a much larger one,
 * such as a fetched response, which structured cloning would copy whole).
 *
 * `data`, per topic (in the order of `topics`): the message count, then per message `key, value, meta,
 * headerCount, (name, value) × headerCount`, where a string or null stands for itself, a number `n` for bytes
 * `segments[2n] .. segments[2n] + segments[2n+1]` of `blob`, and `meta` is null or `[partition, timestamp]`.
 */
export interface PackedBatch {
  readonly topics: string[];
  readonly data: (string | number | null | undefined | [number | undefined, string | undefined])[];
  readonly segments: number[];
  readonly blob: ArrayBuffer | undefined;
  readonly acks: number | undefined;
}

/**
 * Main thread → worker. After a failed send the worker refuses every later one (answering it with the same error,
 * unsent) until `resume`, so a retry resends the failed batches in their order before anything posted after them.
 */
export type ToWorker =
  | { readonly type: 'send'; readonly id: number; readonly batch: PackedBatch }
  | { readonly type: 'resume' }
  | { readonly type: 'close' }
  | TransactionRequest;

/**
 * Main thread → worker: an operation of one transactional producer hosted by the worker (see
 * `TransactionalProducerLike`); each is answered with a `result` of its id. `session` names the producer: each
 * `transactional()` call makes a new one (its own kafkajs producer, so its `connect` initializes the transactional
 * id again even while an earlier producer of that id is still closing). Operations of one producer run one at a
 * time, in the order posted; producers are independent of each other.
 */
export type TransactionRequest =
  | { readonly type: 'txn-connect'; readonly id: number; readonly session: number; readonly transactionalId: string; readonly transactionTimeoutMs: number }
  | { readonly type: 'txn-send'; readonly id: number; readonly session: number; readonly batch: PackedBatch }
  | { readonly type: 'txn-commit'; readonly id: number; readonly session: number; readonly offsets: TransactionOffsets | undefined }
  | { readonly type: 'txn-abort'; readonly id: number; readonly session: number }
  | { readonly type: 'txn-disconnect'; readonly id: number; readonly session: number };

/** An error as it crosses the thread boundary. */
export interface WorkerError {
  readonly message: string;
  readonly name: string;
  /** The error's (or, for kafkajs's retries-exceeded wrapper, its cause's) `retriable` flag. */
  readonly retriable: boolean;
  /** A transactional producer was fenced (see `isFenced`). */
  readonly fenced?: boolean;
  /** The protocol error type, if any (e.g. `INVALID_PRODUCER_EPOCH`). */
  readonly clientErrorType?: string;
}

/** Worker → main thread. */
export type FromWorker =
  | { readonly type: 'ready'; readonly fastEncoder: boolean; readonly fastGrouping: boolean }
  | { readonly type: 'connect-failed'; readonly error: WorkerError }
  | { readonly type: 'result'; readonly id: number; readonly ok?: true; readonly error?: WorkerError }
  | { readonly type: 'log'; readonly level: 'error' | 'warn' | 'info' | 'debug'; readonly message: string; readonly fields: Record<string, unknown> }
  | { readonly type: 'closed' };

/** Packs a `sendBatch` payload (see {@link PackedBatch}). */
export function packBatch(batch: { topicMessages: { topic: string; messages: ProducedMessage[] }[]; acks?: number }): { packed: PackedBatch; transfer: ArrayBuffer[] } {
  const topics: string[] = [];
  const data: PackedBatch['data'] = [];
  const buffers: Buffer[] = [];
  const field = (x: string | Buffer | null | undefined): string | number | null | undefined => {
    if (x === null || x === undefined || typeof x === 'string') return x;
    buffers.push(x);
    return buffers.length - 1;
  };
  for (const { topic, messages } of batch.topicMessages) {
    topics.push(topic);
    data.push(messages.length);
    for (const m of messages) {
      data.push(field(m.key), field(m.value), m.partition === undefined && m.timestamp === undefined ? null : [m.partition, m.timestamp]);
      const headers = m.headers;
      if (headers === undefined) {
        data.push(0);
        continue;
      }
      const at = data.length;
      data.push(0);
      let count = 0;
      for (const name in headers) {
        data.push(name, field(headers[name]));
        count++;
      }
      data[at] = count;
    }
  }
  let blob: ArrayBuffer | undefined;
  const segments: number[] = [];
  if (buffers.length > 0) {
    let total = 0;
    for (const b of buffers) total += b.length;
    blob = new ArrayBuffer(total);
    const bytes = new Uint8Array(blob);
    let offset = 0;
    for (const b of buffers) {
      bytes.set(b, offset);
      segments.push(offset, b.length);
      offset += b.length;
    }
  }
  return { packed: { topics, data, segments, blob, acks: batch.acks }, transfer: blob === undefined ? [] : [blob] };
}

/** An error from the worker, as a KafkaEdgeError with the client's message, its name (`context.clientError`) and `retriable` flag. */
function asError(e: WorkerError): KafkaEdgeError {
  return new KafkaEdgeError(e.message, { operation: 'produce', clientError: e.name, ...(e.clientErrorType === undefined ? {} : { clientErrorType: e.clientErrorType }), ...(e.fenced === true ? { fenced: true } : {}) }, { retriable: e.retriable });
}

/**
 * How to start the worker: the compiled `producerWorker.js` next to this module; or, when running from TypeScript
 * source (vitest, `node --import tsx`), a small ES module that registers tsx (a devDependency) in the worker and
 * then imports `producerWorker.ts` (a worker's entry does not go through the `--import` hooks of its parent on every Node line).
 */
function workerEntry(): { entry: URL | string; eval: boolean } {
  if (import.meta.url.endsWith('.ts')) {
    // tsx's public ESM API (`tsx/esm/api`), resolved through its package exports from here.
    const tsxApi = import.meta.resolve('tsx/esm/api');
    const target = new URL('./producerWorker.ts', import.meta.url).href;
    return { entry: `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(target)}); });`, eval: true };
  }
  return { entry: new URL('./producerWorker.js', import.meta.url), eval: false };
}

/** Options of {@link WorkerProducer}. */
export interface WorkerProducerOptions extends WorkerConfig {
  /** Receives the worker's kafkajs log lines and its own warnings. */
  readonly logger?: Logger;
  /** `'debug'`: the worker's kafkajs lines all go to `debug` (see `createKafkaClient`'s `forwardLogsAs`); default their own level. */
  readonly forwardLogsAs?: 'levels' | 'debug';
  /** Most ms `disconnect` waits for the worker to send what it holds and disconnect before terminating it (default 30 000). */
  readonly closeTimeoutMs?: number;
}

/**
 * A {@link ProducerLike} that produces from a worker thread with its own kafkajs client.
 *
 * 1. `connect` starts the worker (from `workerData`: brokers, client id, log level, producer config) and resolves
 *    once its producer is connected (rejects with the client's error otherwise, and the worker is gone).
 * 2. `sendBatch` packs the batch ({@link packBatch}) and posts it; the worker sends the batches strictly one at a
 *    time, in the order posted, so several can be outstanding without reordering. Each resolves or rejects (with
 *    the client's error name, message and `retriable`) when the worker answers; after a failure the worker sends
 *    nothing more (the later batches reject with the same error) until {@link resume}.
 * 3. `disconnect` lets the worker finish what it holds, disconnect its producer and exit (terminated after
 *    `closeTimeoutMs`). If the worker dies, every outstanding send rejects.
 *
 * The worker is only referenced (keeps the process alive) while something is outstanding.
 */
export class WorkerProducer implements ProducerLike {
  private worker: Worker | undefined;
  private nextId = 0;
  private nextSession = 0;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  private dead: Error | undefined;
  private closing: Promise<void> | undefined;
  private exited: Promise<void> = Promise.resolve();
  private fastEncoderInUse = false;
  private fastGroupingInUse = false;

  constructor(private readonly options: WorkerProducerOptions) {}

  /** Whether the connected worker encodes produce requests with emstream's encoder (see {@link WorkerConfig.fastEncoder}). */
  get fastEncoder(): boolean {
    return this.fastEncoderInUse;
  }

  /** Whether the connected worker groups the messages of a send in one pass (see `installFastGrouping`). */
  get fastGrouping(): boolean {
    return this.fastGroupingInUse;
  }

  /** The worker's thread id, while it runs (for tests). */
  get threadId(): number | undefined {
    return this.worker?.threadId;
  }

  connect(): Promise<void> {
    if (this.worker !== undefined) return Promise.resolve();
    const entry = workerEntry();
    const config: WorkerConfig = {
      brokers: [...this.options.brokers],
      clientId: this.options.clientId,
      logLevel: this.options.logLevel,
      allowAutoTopicCreation: this.options.allowAutoTopicCreation,
      idempotent: this.options.idempotent,
      maxInFlightRequests: this.options.maxInFlightRequests,
      fastEncoder: this.options.fastEncoder,
    };
    const worker = new Worker(entry.entry, { eval: entry.eval, workerData: config, execArgv: [], name: 'emstream-producer' });
    this.worker = worker;
    this.dead = undefined;
    this.closing = undefined;
    this.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    const logger = this.options.logger;
    return new Promise<void>((resolve, reject) => {
      let connected = false;
      worker.on('message', (message: FromWorker) => {
        switch (message.type) {
          case 'ready':
            connected = true;
            this.fastEncoderInUse = message.fastEncoder;
            this.fastGroupingInUse = message.fastGrouping;
            this.updateRef();
            resolve();
            break;
          case 'connect-failed':
            this.die(asError(message.error));
            void worker.terminate();
            reject(asError(message.error));
            break;
          case 'result': {
            const request = this.pending.get(message.id);
            if (request === undefined) break;
            this.pending.delete(message.id);
            this.updateRef();
            if (message.error !== undefined) request.reject(asError(message.error));
            else request.resolve();
            break;
          }
          case 'log':
            logger?.[this.options.forwardLogsAs === 'debug' ? 'debug' : message.level](message.fields, message.message);
            break;
          case 'closed':
            break;
        }
      });
      worker.on('error', (err) => {
        logger?.error({ err }, 'the producer worker failed');
        this.die(err);
        if (!connected) reject(err);
      });
      worker.on('exit', (code) => {
        if (this.worker === worker) this.worker = undefined;
        const error = new KafkaEdgeError(`the producer worker exited (code ${code}) with ${this.pending.size} batch(es) unacknowledged`, { operation: 'produce' }, { retriable: false });
        if (this.pending.size > 0) logger?.error({ code }, error.message);
        this.die(error);
        if (!connected) reject(error);
      });
    });
  }

  /** Rejects every outstanding send and refuses later ones. */
  private die(error: Error): void {
    this.dead ??= error;
    for (const request of this.pending.values()) request.reject(this.dead);
    this.pending.clear();
  }

  private updateRef(): void {
    if (this.worker === undefined) return;
    if (this.pending.size > 0 || this.closing !== undefined) this.worker.ref();
    else this.worker.unref();
  }

  sendBatch(batch: { topicMessages: { topic: string; messages: ProducedMessage[] }[]; acks?: number }): Promise<unknown> {
    const { packed, transfer } = packBatch(batch);
    return this.request((id) => ({ type: 'send', id, batch: packed }), transfer);
  }

  /** Posts a request to the worker and resolves (or rejects) with its answer. */
  private request(make: (id: number) => ToWorker, transfer: ArrayBuffer[] = []): Promise<void> {
    const worker = this.worker;
    if (worker === undefined || this.closing !== undefined || this.dead !== undefined) {
      return Promise.reject(this.dead ?? new KafkaEdgeError('the producer worker is not running: connect() first', { operation: 'produce' }, { retriable: false }));
    }
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) this.updateRef();
      worker.postMessage(make(id), transfer);
    });
  }

  /**
   * A transactional producer hosted by the worker (its own kafkajs producer there, encoding with the same encoder),
   * for the exactly-once mode. Connect it before use; disconnect it before this worker.
   *
   * @param transactionalId - its transactional id
   * @param transactionTimeoutMs - how long the coordinator lets one of its transactions stay open
   */
  transactional(transactionalId: string, transactionTimeoutMs: number): TransactionalProducerLike {
    const session = this.nextSession++;
    return {
      transactionalId,
      connect: () => this.request((id) => ({ type: 'txn-connect', id, session, transactionalId, transactionTimeoutMs })),
      send: (batch) => {
        const { packed, transfer } = packBatch(batch);
        return this.request((id) => ({ type: 'txn-send', id, session, batch: packed }), transfer);
      },
      commit: (offsets) => this.request((id) => ({ type: 'txn-commit', id, session, offsets })),
      abort: () => this.request((id) => ({ type: 'txn-abort', id, session })),
      disconnect: () => (this.worker === undefined ? Promise.resolve() : this.request((id) => ({ type: 'txn-disconnect', id, session }))),
    };
  }

  /** After a failed send: let the worker send again (the next batches posted are sent, in order). */
  resume(): void {
    this.worker?.postMessage({ type: 'resume' } satisfies ToWorker);
  }

  disconnect(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return this.exited;
    this.closing ??= (async () => {
      worker.ref(); // until it has exited
      worker.postMessage({ type: 'close' } satisfies ToWorker);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = await Promise.race([this.exited.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), this.options.closeTimeoutMs ?? 30_000)))]);
      clearTimeout(timer);
      if (timedOut) {
        this.options.logger?.warn('the producer worker did not stop in time: terminating it');
        await worker.terminate();
      }
    })();
    return this.closing;
  }
}
