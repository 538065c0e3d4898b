/**
 * Entry point of the producer worker thread started by {@link WorkerProducer}: owns a kafkajs client and
 * producer, decodes the batches the main thread posts, and sends them strictly one at a time, in the order
 * they arrive, answering `{ id, ok }` or `{ id, error }` for each.
 *
 * Not meant to be imported: it runs only as a `worker_threads` Worker (it does nothing otherwise).
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { isFenced, isRetriable, protocolErrorType } from './errorNames.js';
import { installFastGrouping, installFastProduceEncoder } from './fastProduce.js';
import { buildKafkajsClient, type KafkajsModule } from './kafkajs.js';
import type { ProducedMessage, ProducerLike } from './ports.js';
import { KafkajsTransactionalProducer } from './transactions.js';
import type { FromWorker, PackedBatch, ToWorker, TransactionRequest, WorkerConfig, WorkerError } from './workerProducer.js';

// The one-pass grouping goes in before kafkajs loads (its producer reads it once); kafkajs is imported after it.
const fastGrouping = parentPort !== null && (workerData as WorkerConfig).fastEncoder !== false && installFastGrouping();
const kafkajs = (await import('kafkajs')) as unknown as KafkajsModule;

/** A batch as kafkajs takes it, from its packed form (Buffers are views into the transferred blob, not copies). */
function decodeBatch(packed: PackedBatch): { topic: string; messages: ProducedMessage[] }[] {
  const { data, topics, segments, blob } = packed;
  const field = (x: string | number | null | undefined): string | Buffer | null | undefined =>
    typeof x === 'number' ? Buffer.from(blob!, segments[2 * x], segments[2 * x + 1]) : x;
  const out: { topic: string; messages: ProducedMessage[] }[] = [];
  let i = 0;
  for (let t = 0; t < topics.length; t++) {
    const count = data[i++] as number;
    const messages: ProducedMessage[] = new Array<ProducedMessage>(count);
    for (let m = 0; m < count; m++) {
      const key = field(data[i++] as string | number | null | undefined);
      const value = field(data[i++] as string | number | null) as string | Buffer | null;
      const meta = data[i++] as [number | undefined, string | undefined] | null;
      const headerCount = data[i++] as number;
      const message: ProducedMessage = { key, value };
      if (headerCount > 0) {
        const headers: Record<string, string | Buffer> = {};
        for (let h = 0; h < headerCount; h++) {
          const name = data[i++] as string;
          headers[name] = field(data[i++] as string | number) as string | Buffer;
        }
        message.headers = headers;
      }
      if (meta !== null) {
        if (meta[0] !== undefined) message.partition = meta[0];
        if (meta[1] !== undefined) message.timestamp = meta[1];
      }
      messages[m] = message;
    }
    out.push({ topic: topics[t], messages });
  }
  return out;
}

const port = parentPort;
if (port !== null) {
  const config = workerData as WorkerConfig;
  const post = (message: FromWorker): void => port.postMessage(message);
  const wantFastEncoder = config.fastEncoder !== false;
  const fastEncoder = wantFastEncoder && installFastProduceEncoder();
  if (wantFastEncoder && !fastEncoder) {
    post({ type: 'log', level: 'warn', message: 'this kafkajs is not laid out as 2.2.x: produce requests keep kafkajs\'s own (slower) encoder', fields: {} });
  }
  // The client adapter makes the client; its log lines cross to the main thread (plain data only).
  const kafka = buildKafkajsClient(kafkajs, config.brokers, {
    clientId: config.clientId,
    logLevel: config.logLevel,
    sink: (level, fields, message) => {
      let plain: Record<string, unknown>;
      try {
        plain = structuredClone(fields);
      } catch {
        plain = { kafkajs: fields.kafkajs };
      }
      post({ type: 'log', level, message, fields: plain });
    },
  });
  const producer: ProducerLike = kafka.producer({ allowAutoTopicCreation: config.allowAutoTopicCreation, idempotent: config.idempotent, maxInFlightRequests: config.maxInFlightRequests });
  const queue: Extract<ToWorker, { type: 'send' }>[] = [];
  let pumping: Promise<void> | undefined;
  let failed = false;
  let closing: Promise<void> | undefined;

  const errorOf = (err: unknown): WorkerError => {
    const type = protocolErrorType(err);
    return {
      message: err instanceof Error ? err.message : String(err),
      name: err instanceof Error ? err.name : 'Error',
      retriable: isRetriable(err),
      ...(isFenced(err) ? { fenced: true } : {}),
      ...(type === undefined ? {} : { clientErrorType: type }),
    };
  };

  // The transactional producers of the exactly-once mode (one per task opened), by session.
  const transactional = new Map<number, KafkajsTransactionalProducer>();
  const onTransaction = (request: TransactionRequest): void => {
    const { id } = request;
    let session = transactional.get(request.session);
    if (session === undefined && request.type === 'txn-connect') {
      session = new KafkajsTransactionalProducer(kafka, { transactionalId: request.transactionalId, transactionTimeoutMs: request.transactionTimeoutMs });
      transactional.set(request.session, session);
    }
    if (session === undefined) {
      post({ type: 'result', id, ...(request.type === 'txn-disconnect' ? { ok: true as const } : { error: { message: `no transactional producer (session ${request.session}) in the producer thread`, name: 'Error', retriable: false } }) });
      return;
    }
    const run =
      request.type === 'txn-connect'
        ? session.connect()
        : request.type === 'txn-send'
          ? session.send({ topicMessages: decodeBatch(request.batch) })
          : request.type === 'txn-commit'
            ? session.commit(request.offsets)
            : request.type === 'txn-abort'
              ? session.abort()
              : session.disconnect().finally(() => transactional.delete(request.session));
    run.then(
      () => post({ type: 'result', id, ok: true }),
      (err: unknown) => post({ type: 'result', id, error: errorOf(err) }),
    );
  };

  let lastError: WorkerError | undefined;
  /** Sends queued batches one at a time; after a failure the rest are answered with the same error, unsent, until `resume`. */
  const pump = async (): Promise<void> => {
    while (queue.length > 0) {
      const request = queue.shift()!;
      if (failed) {
        post({ type: 'result', id: request.id, error: lastError ?? { message: 'an earlier send failed', name: 'Error', retriable: true } });
        continue;
      }
      try {
        const topicMessages: { topic: string; messages: ProducedMessage[] }[] = decodeBatch(request.batch);
        await producer.sendBatch({ topicMessages, acks: request.batch.acks });
        post({ type: 'result', id: request.id, ok: true });
      } catch (err) {
        failed = true;
        lastError = errorOf(err);
        post({ type: 'result', id: request.id, error: lastError });
      }
    }
  };
  const startPump = (): void => {
    pumping ??= pump().finally(() => {
      pumping = undefined;
      if (queue.length > 0) startPump();
    });
  };

  port.on('message', (message: ToWorker) => {
    if (message.type === 'send') {
      queue.push(message);
      startPump();
    } else if (message.type.startsWith('txn-')) {
      onTransaction(message as TransactionRequest);
    } else if (message.type === 'resume') {
      // The main thread resumes only once every send posted before was answered: the next ones go out.
      failed = false;
      lastError = undefined;
    } else if (message.type === 'close') {
      closing ??= (async () => {
        // Whatever was posted before `close` is still sent (in order) before disconnecting.
        while (pumping !== undefined) await pumping;
        await Promise.all([...transactional.values()].map((t) => t.disconnect().catch(() => undefined)));
        await producer.disconnect().catch(() => undefined);
        post({ type: 'closed' });
        port.close();
      })();
    }
  });

  producer.connect().then(
    () => post({ type: 'ready', fastEncoder, fastGrouping }),
    (err: unknown) => post({ type: 'connect-failed', error: errorOf(err) }),
  );
}
