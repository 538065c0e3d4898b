/**
 * `fromKafka`: a Kafka consumer as an Observable of decoded records, with backpressure and commit discipline.
 *
 * @module
 */
import { Observable } from 'rxjs';
import type { Logger } from 'pino';
import type { Instrumentation } from '../../instrumentation.js';
import { GATED } from '../../operators/vectorInput.js';
import { ConsumerRestarts } from '../client/consumerRestart.js';
import { isRetriable } from '../client/errorNames.js';
import type { ConsumedMessageLike, ConsumerLike, EachBatchPayloadLike } from '../client/ports.js';
import { OffsetTracker } from '../delivery/offsets.js';
import { describeError, KafkaEdgeError } from '../errors.js';
import type { TopicPartitions } from '../events.js';
import { compareOffsets, partitionKey } from '../../offsets.js';
import type { VectorDecoder } from './formats.js';
import type { KafkaRecord, UndecodableMessage } from './record.js';

export type { KafkaRecord, UndecodableMessage } from './record.js';

/** Options of {@link fromKafka}. */
export interface FromKafkaOptions {
  /** Topic(s) to consume. */
  readonly topics: string | readonly string[];
  /** Start from the earliest offset when the group has no committed offset (default false: only new messages). */
  readonly fromBeginning?: boolean;
  /** Turns a message value into a vector (see `createDecoder`). */
  readonly decode: VectorDecoder;
  /**
   * Receives each message that fails to decode. It has been registered with the tracker: claim it and mark it
   * done once its dead letter is acknowledged (as `runKafkaPipeline` does). When omitted, such messages are
   * dropped (and count as finished).
   */
  readonly onDecodeError?: (message: UndecodableMessage) => void;
  /**
   * Shared with the sinks: they mark records finished once their outputs are acknowledged. When omitted, a
   * record counts as finished as soon as the subscriber's `next` returns, and nothing waits for outputs.
   */
  readonly tracker?: OffsetTracker;
  /** Most records registered but not finished; the consumer waits above it (default 20 000). Must exceed what the pipeline holds (a window). */
  readonly maxInFlight?: number;
  /** How often finished positions are committed, in ms (default 1000). 0 commits only when asked (`tracker.commit()`). */
  readonly commitIntervalMs?: number;
  /** Keep each message's raw value on its record (default true), for dead letters of records rejected later. */
  readonly keepValue?: boolean;
  /** Stop emitting, pause the topics and complete the Observable when this signal aborts (the consumer stays in its group until unsubscribe). */
  readonly signal?: AbortSignal;
  /** Logs (default: none). */
  readonly logger?: Logger;
  /** Receives `kafka.fetch`, `kafka.rebalance`, `kafka.consumer.crash` and `kafka.backpressure.wait`. */
  readonly instrumentation?: Instrumentation;
  /**
   * Per partition (key: `partitionKey(topic, partition)`), the first offset to emit (a decimal string): records below it are counted as finished
   * without being emitted (a restored state already covers them). Entries are dropped once passed.
   */
  readonly skipBelow?: Map<string, string>;
  /**
   * How long an outage of the brokers may last, from the first crash the client does not restart from, while
   * `fromKafka` restarts the consumer itself (ms, default 120 000; `runKafkaPipeline` passes `brokerTimeoutMs`).
   * Past it the Observable errors with a `BrokerUnavailableError`.
   */
  readonly restartWithinMs?: number;
  /** Told of what the consumer sees of the brokers: a fetched batch or heartbeat (`ok`), a crash it or `fromKafka` restarts from (`failed`). */
  readonly health?: { ok(): void; failed(operation: string, error: unknown): void };
  /** Called after each rebalance (kafkajs `GROUP_JOIN`), once kept partitions were sought past what was read. */
  readonly onRebalance?: (change: { assigned: TopicPartitions[]; revoked: TopicPartitions[] }) => void;
  /** Called when the consumer starts or stops waiting on backpressure for longer than `stuckAfterMs`. */
  readonly onStuck?: (stuck: boolean) => void;
  /** How long a backpressure wait lasts before `onStuck(true)` (default 30 000 ms). */
  readonly stuckAfterMs?: number;
  /** Called with the number of records skipped (see `skipBelow`), per batch. */
  readonly onSkipped?: (count: number) => void;
  /**
   * Each record of a partition is emitted once while the tracker tracks the partition (default false): a fetch that
   * comes back with records at or below the last one emitted (kafkajs fetching again from the last commit because a
   * seek after a rebalance or a restart came too late or was refused) is not emitted again, since those records are
   * in the pipeline already. The tracker forgets a partition when it is revoked (or its task closed), and reading it
   * again from its commit is then what is wanted. `runKafkaPipeline` sets it: in the exactly-once mode a record read
   * twice would be labelled twice within one window.
   */
  readonly readOnce?: boolean;
  /**
   * Whether records of a partition may be emitted now (default: all): the exactly-once mode holds a partition back
   * (paused) until its task is open. Asked when a batch starts and every few records; a batch of a partition not
   * accepted is left unread (not resolved: the partition is sought when it is accepted).
   */
  readonly accept?: (topic: string, partition: number) => boolean;
}

/** Heartbeat at least this often while a batch is processed or waiting for room. */
const HEARTBEAT_EVERY_MS = 1000;
/** Yield to the event loop (sends, acknowledgements, timers) at least this often while a batch is processed. */
const YIELD_EVERY_MS = 2;
/** Look at the clock (to yield or heartbeat) every this many records (a power of two). */
const CLOCK_CHECK_EVERY = 64;

/** The partitions of `before` not in `after`, per topic. */
function revokedPartitions(before: Readonly<Record<string, readonly number[]>>, after: Readonly<Record<string, readonly number[]>>): TopicPartitions[] {
  const out: TopicPartitions[] = [];
  for (const [topic, partitions] of Object.entries(before)) {
    const lost = partitions.filter((p) => after[topic]?.includes(p) !== true);
    if (lost.length > 0) out.push({ topic, partitions: lost });
  }
  return out;
}

/** A record's key as text (UTF-8), or null. */
function keyText(key: Buffer | null): string | null {
  return key === null ? null : key.toString('utf8');
}

/**
 * Consumes Kafka topics as an Observable of {@link KafkaRecord}s.
 *
 * 1. On subscribe: `consumer.subscribe` then `consumer.run` with `eachBatch`, `eachBatchAutoResolve: false` and
 *    `autoCommit: false` — offsets are committed only through the tracker.
 * 2. For each message: register it with the tracker, decode it, emit the record (or hand the failure to
 *    `onDecodeError`). `resolveOffset` (the in-memory fetch position, not a commit) follows the last emitted
 *    message before every pause and when the batch ends (not per message: kafkajs parses the offset each time).
 *    The loop yields to the event loop every few milliseconds, so outputs are sent and acknowledged while a
 *    large fetched batch is consumed.
 * 3. Backpressure: while `tracker.inFlight` ≥ `maxInFlight`, wait inside `eachBatch` for the sinks to
 *    acknowledge outputs, sending heartbeats meanwhile; also heartbeat every second during long batches.
 * 4. Commits: every `commitIntervalMs`, the tracker commits each partition's position past its finished prefix
 *    (last finished offset + 1).
 * 5. On `signal` abort: stop emitting, pause the topics and complete — the consumer stays in its group, so the
 *    final positions can still be committed. On unsubscribe: stop the consumer (in the background; disconnect it
 *    to wait). A failed `run` errors the Observable, and so does a consumer crash the client will not restart from
 *    (kafkajs `consumer.events.CRASH` with `restart: false`: a non-retriable error, such as one thrown by `decode`),
 *    unless its error says the brokers were away: kafkajs 2.2.4 does not restart from "group coordinator not
 *    found", thrown when every broker is away while the consumer rejoins. Then `fromKafka` connects and runs the
 *    consumer again itself, with a backoff, for at most `restartWithinMs` ({@link ConsumerRestarts}).
 * 6. On a rebalance (kafkajs `GROUP_JOIN`), the tracker forgets the partitions no longer assigned
 *    ({@link OffsetTracker.retainOnly}); a partition kept is sought (`consumer.seek`) to the offset after the last
 *    record read, so what is in flight is not read again (kafkajs would go back to the last commit) and the
 *    tracker keeps its progress. The same holds after a crash the client restarts from.
 * 7. Records below `skipBelow` (covered by a restored state) are finished without being emitted. With `readOnce`,
 *    records at or below the last one emitted of a partition still tracked are not emitted again.
 *
 * ## Example
 * ```ts
 * import { Kafka } from 'kafkajs';
 * import { fromKafka, createDecoder, windowVectors } from 'emstream';
 *
 * const consumer = new Kafka({ brokers: ['127.0.0.1:9092'] }).consumer({ groupId: 'demo' });
 * await consumer.connect();
 * fromKafka(consumer, { topics: 'points', fromBeginning: true, decode: createDecoder({ format: 'json-array' }) })
 *   .pipe(windowVectors({ size: 100 }))
 *   .subscribe((w) => console.log(w.index, w.n, w.records[0].offset));
 * ```
 *
 * @param consumer - a connected consumer (kafkajs or compatible)
 * @param options - topics, decoder, tracker, bounds
 * @returns a cold Observable: each subscription subscribes and runs the consumer once
 */
export function fromKafka(consumer: ConsumerLike, options: FromKafkaOptions): Observable<KafkaRecord> {
  const topics = typeof options.topics === 'string' ? [options.topics] : [...options.topics];
  const maxInFlight = options.maxInFlight ?? 20_000;
  const keepValue = options.keepValue ?? true;
  const commitIntervalMs = options.commitIntervalMs ?? 1000;
  const stuckAfterMs = options.stuckAfterMs ?? 30_000;
  const { decode, onDecodeError, logger, signal, instrumentation, health, skipBelow, accept, readOnce } = options;
  // A decoder made by createDecoder ran the input gate: its records carry the brand, so windowVectors does not scan them again.
  const gated = (decode as { [GATED]?: unknown })[GATED] === true;

  return new Observable<KafkaRecord>((subscriber) => {
    const tracker =
      options.tracker ?? new OffsetTracker({ commit: (offsets) => consumer.commitOffsets(offsets) });
    const ownTracker = options.tracker === undefined;
    let closed = false;
    let stopping: Promise<void> | undefined;
    let lastWaitWarning = 0;
    let lastCrashWarning = 0;
    const topicList = topics.map((t) => JSON.stringify(t)).join(', ');

    const commitTimer =
      commitIntervalMs > 0
        ? setInterval(() => {
            tracker.commit().catch((err: unknown) => logger?.warn({ err }, 'offset commit failed; will retry at the next interval'));
          }, commitIntervalMs)
        : undefined;

    /** The partitions assigned at the last rebalance (kafkajs GROUP_JOIN), if the client reports them. */
    let assignment: Readonly<Record<string, readonly number[]>> | undefined;
    let assignmentGeneration = 0;
    const isAssigned = (topic: string, partition: number): boolean => assignment === undefined || assignment[topic]?.includes(partition) === true;

    const stopConsumer = (): Promise<void> => {
      closed = true;
      restarts.stop();
      tracker.wakeAll();
      stopping ??= consumer.stop().catch((err: unknown) => logger?.warn({ err }, 'consumer.stop failed'));
      return stopping;
    };

    /** Waits until there is room for more records, heartbeating. Returns false when the batch should end. */
    const waitForRoom = async (payload: EachBatchPayloadLike): Promise<boolean> => {
      const started = Date.now();
      if (instrumentation?.listening('kafka.backpressure.wait')) instrumentation.emit('kafka.backpressure.wait', { inFlight: tracker.inFlight, maxInFlight, waitedMs: 0, done: false });
      let stuck = false;
      try {
        while (!closed && tracker.inFlight >= maxInFlight) {
          if (!payload.isRunning() || payload.isStale()) return false;
          await tracker.changed(HEARTBEAT_EVERY_MS);
          await payload.heartbeat();
          const waited = Date.now() - started;
          if (!stuck && waited > stuckAfterMs) {
            stuck = true;
            options.onStuck?.(true);
          }
          if (waited > 30_000 && Date.now() - lastWaitWarning > 30_000) {
            lastWaitWarning = Date.now();
            logger?.warn(
              { inFlight: tracker.inFlight, maxInFlight, waitedMs: waited },
              'consumer waiting for outputs to be acknowledged; if this persists, maxInFlight may be smaller than what the pipeline holds (a window)',
            );
          }
        }
        return !closed;
      } finally {
        if (stuck) options.onStuck?.(false);
        if (instrumentation?.listening('kafka.backpressure.wait')) {
          instrumentation.emit('kafka.backpressure.wait', { inFlight: tracker.inFlight, maxInFlight, waitedMs: Date.now() - started, done: true });
        }
      }
    };

    const emitMessage = (topic: string, partition: number, message: ConsumedMessageLike): void => {
      tracker.register(topic, partition, message.offset);
      const result = decode(message.value, { topic, partition, offset: message.offset });
      const headers = message.headers ?? {};
      if (result.ok) {
        const record: KafkaRecord = gated
          ? keepValue
            ? { vector: result.vector, key: keyText(message.key), topic, partition, offset: message.offset, timestamp: message.timestamp, headers, value: message.value, [GATED]: true as const }
            : { vector: result.vector, key: keyText(message.key), topic, partition, offset: message.offset, timestamp: message.timestamp, headers, [GATED]: true as const }
          : keepValue
            ? { vector: result.vector, key: keyText(message.key), topic, partition, offset: message.offset, timestamp: message.timestamp, headers, value: message.value }
            : { vector: result.vector, key: keyText(message.key), topic, partition, offset: message.offset, timestamp: message.timestamp, headers };
        subscriber.next(record);
        if (ownTracker) tracker.markDone(topic, partition, message.offset);
      } else if (onDecodeError !== undefined) {
        onDecodeError({ topic, partition, offset: message.offset, key: message.key, value: message.value, timestamp: message.timestamp, headers, failure: result });
        if (ownTracker) tracker.markDone(topic, partition, message.offset);
      } else {
        logger?.debug({ topic, partition, offset: message.offset, reason: result.reason }, result.message);
        tracker.markDone(topic, partition, message.offset);
      }
    };

    /** `resolveOffset` of the last of the first `count` messages (once per stretch, not per message: it parses the offset). */
    const resolveThrough = (payload: EachBatchPayloadLike, messages: readonly ConsumedMessageLike[], count: number): void => {
      if (count > 0) payload.resolveOffset(messages[count - 1].offset);
    };

    const eachBatch = async (payload: EachBatchPayloadLike): Promise<void> => {
      const progress = { processed: 0 };
      try {
        await consumeBatch(payload, progress);
      } finally {
        // The in-memory fetch position follows what was emitted, however the batch ended.
        resolveThrough(payload, payload.batch.messages, progress.processed);
      }
    };

    const consumeBatch = async (payload: EachBatchPayloadLike, progress: { processed: number }): Promise<void> => {
      const { topic, partition, messages } = payload.batch;
      health?.ok();
      restarts.recovered();
      if (messages.length > 0 && instrumentation?.listening('kafka.fetch')) {
        instrumentation.emit('kafka.fetch', { topic, partition, messages: messages.length, highWatermark: payload.batch.highWatermark ?? '', lastOffset: messages[messages.length - 1].offset });
      }
      if (payload.isStale() || !isAssigned(topic, partition)) return;
      if (accept !== undefined && !accept(topic, partition)) return;
      let first = 0;
      if (skipBelow !== undefined && skipBelow.size > 0) {
        // Records a restored state already covers: finished, not emitted.
        const id = partitionKey(topic, partition);
        const below = skipBelow.get(id);
        if (below !== undefined) {
          while (first < messages.length && compareOffsets(messages[first].offset, below) < 0) {
            tracker.register(topic, partition, messages[first].offset);
            tracker.markDone(topic, partition, messages[first].offset);
            first++;
          }
          if (first < messages.length) skipBelow.delete(id);
          if (first > 0) {
            options.onSkipped?.(first);
            progress.processed = first;
          }
        }
      }
      if (readOnce === true && first < messages.length) {
        // Records this partition already emitted: still in the pipeline (or done with), not emitted again.
        const next = tracker.nextOffset(topic, partition);
        if (next !== undefined && compareOffsets(messages[first].offset, next) < 0) {
          const from = first;
          while (first < messages.length && compareOffsets(messages[first].offset, next) < 0) first++;
          logger?.debug({ topic, partition, from: messages[from].offset, next, records: first - from }, 'a fetch came back with records already read (from an older position): not emitted again');
          progress.processed = first;
        }
      }
      // Checked per message as a number; the assignment itself only when a rebalance changed it.
      let generation = assignmentGeneration;
      let lastBeat = Date.now();
      let lastYield = lastBeat;
      for (let i = first; i < messages.length; i++) {
        const message = messages[i];
        if ((i & (CLOCK_CHECK_EVERY - 1)) === CLOCK_CHECK_EVERY - 1) {
          resolveThrough(payload, messages, i);
          const now = Date.now();
          if (now - lastYield >= YIELD_EVERY_MS) {
            // Let the event loop run now and then: a fetched batch can hold tens of thousands of records, and
            // while this loop runs synchronously no output is sent and no acknowledgement is read.
            await new Promise<void>((resolve) => setImmediate(resolve));
            lastYield = Date.now();
          }
          if (now - lastBeat >= HEARTBEAT_EVERY_MS) {
            lastBeat = now;
            await payload.heartbeat();
          }
          // kafkajs answers isStale with a JSON.stringify'd map lookup: every few records, not per record.
          if (payload.isStale()) return;
          if (accept !== undefined && !accept(topic, partition)) return;
        }
        if (closed || subscriber.closed || !payload.isRunning()) return;
        if (generation !== assignmentGeneration) {
          if (!isAssigned(topic, partition)) return;
          generation = assignmentGeneration;
        }
        if (tracker.inFlight >= maxInFlight) {
          resolveThrough(payload, messages, i);
          if (!(await waitForRoom(payload)) || payload.isStale() || !isAssigned(topic, partition)) return;
        }
        emitMessage(topic, partition, message);
        progress.processed = i + 1;
      }
    };

    const onAbort = (): void => {
      // Stop emitting and fetching, but stay in the group so the caller can still commit; the consumer is
      // stopped on unsubscribe.
      closed = true;
      restarts.stop();
      tracker.wakeAll();
      try {
        consumer.pause(topics.map((topic) => ({ topic })));
      } catch (err) {
        logger?.debug({ err }, 'consumer.pause failed');
      }
      if (!subscriber.closed) subscriber.complete();
    };
    const runConfig = { autoCommit: false, eachBatchAutoResolve: false, eachBatch } as const;
    // Restarts after crashes kafkajs does not restart from although the brokers were only away.
    const restarts = new ConsumerRestarts({
      what: `the consumer of ${topicList}`,
      connect: () => consumer.connect(),
      run: () => consumer.run(runConfig),
      withinMs: options.restartWithinMs ?? 120_000,
      logger,
      onGiveUp: (error) => {
        if (closed || subscriber.closed) return;
        void stopConsumer();
        subscriber.error(
          error instanceof KafkaEdgeError
            ? error
            : new KafkaEdgeError(`the consumer of ${topicList} could not be restarted: ${describeError(error)}; fix the cause and run again`, { topic: topics[0], operation: 'consume' }, { cause: error, retriable: false }),
        );
      },
    });
    // A consumer that crashed without restarting (an error kafkajs deems not retriable, thrown by a decoder, say)
    // has left its group and fetches nothing more: error the Observable, or the pipeline would wait forever. The
    // exception: an error that says the brokers were away (restarted above).
    const removeCrashListener =
      consumer.on !== undefined && consumer.events !== undefined
        ? consumer.on(consumer.events.CRASH, ({ payload }) => {
            if (closed || subscriber.closed) return;
            const reason = describeError(payload.error);
            instrumentation?.emit('kafka.consumer.crash', { groupId: payload.groupId ?? '', error: reason, restart: payload.restart === true });
            if (payload.restart === true) {
              if (isRetriable(payload.error)) health?.failed('consume', payload.error);
              // One warning per outage, not one per restart attempt.
              const now = Date.now();
              const level = now - lastCrashWarning > 30_000 ? 'warn' : 'debug';
              if (level === 'warn') lastCrashWarning = now;
              logger?.[level]({ error: reason, groupId: payload.groupId }, 'consumer crashed; the client restarts it (partitions kept resume where they were read)');
              return;
            }
            if (restarts.crashed(payload.error)) {
              health?.failed('consume', payload.error);
              return;
            }
            void stopConsumer();
            subscriber.error(
              new KafkaEdgeError(
                `the consumer of ${topicList} stopped on an error it does not retry: ${reason}; nothing past the last acknowledged outputs was committed — fix the cause and run again`,
                { topic: topics[0], groupId: payload.groupId, operation: 'consume' },
                { cause: payload.error, retriable: false },
              ),
            );
          })
        : undefined;
    // After a rebalance, forget the partitions given to another member: their records still in windows no longer
    // hold the consumer back, and no late commit moves the new owner's position back.
    const groupJoin = consumer.events?.GROUP_JOIN;
    const removeJoinListener =
      consumer.on !== undefined && groupJoin !== undefined
        ? consumer.on(groupJoin, ({ payload }) => {
            if (payload.memberAssignment === undefined) return;
            health?.ok();
            restarts.recovered();
            const previous = assignment;
            assignment = payload.memberAssignment;
            assignmentGeneration++;
            const revoked = tracker.retainOnly(payload.memberAssignment);
            // Kept partitions: go on after the last record read (kafkajs would fetch again from the last commit).
            const sought: { topic: string; partition: number; offset: string }[] = [];
            if (consumer.seek !== undefined) {
              for (const { topic, partition } of tracker.partitions()) {
                const next = tracker.nextOffset(topic, partition);
                if (next === undefined) continue;
                try {
                  consumer.seek({ topic, partition, offset: String(next) });
                  sought.push({ topic, partition, offset: String(next) });
                } catch (err) {
                  logger?.debug({ err, topic, partition }, 'seek after a rebalance failed: the partition is read again from its last commit');
                }
              }
            }
            const change = {
              assigned: Object.entries(payload.memberAssignment).map(([topic, partitions]) => ({ topic, partitions: [...partitions] })),
              revoked: previous === undefined ? [] : revokedPartitions(previous, payload.memberAssignment),
            };
            instrumentation?.emit('kafka.rebalance', { groupId: payload.groupId ?? '', ...change });
            logger?.info({ groupId: payload.groupId, assigned: payload.memberAssignment, revoked: revoked.length > 0 ? revoked : undefined, resumed: sought.length > 0 ? sought : undefined }, 'partitions assigned');
            options.onRebalance?.(change);
          })
        : undefined;
    const heartbeatEvent = consumer.events?.HEARTBEAT;
    const removeHeartbeatListener =
      consumer.on !== undefined && heartbeatEvent !== undefined && health !== undefined ? consumer.on(heartbeatEvent, () => health.ok()) : undefined;
    if (signal?.aborted) {
      subscriber.complete();
    } else {
      signal?.addEventListener('abort', onAbort, { once: true });
      const start = async (): Promise<void> => {
        await consumer.subscribe({ topics, fromBeginning: options.fromBeginning ?? false });
        if (closed) return;
        await consumer.run(runConfig);
        logger?.info({ topics, maxInFlight }, 'consuming');
      };
      start().catch((err: unknown) => {
        if (closed) return;
        subscriber.error(
          new KafkaEdgeError(`could not consume ${topicList}: ${err instanceof Error ? err.message : String(err)}; check the brokers and that the topics exist`, { topic: topics[0], operation: 'consume' }, { cause: err }),
        );
      });
    }

    return () => {
      restarts.stop();
      removeCrashListener?.();
      removeJoinListener?.();
      removeHeartbeatListener?.();
      signal?.removeEventListener('abort', onAbort);
      if (commitTimer !== undefined) clearInterval(commitTimer);
      // After an abort the caller owns the paused consumer (to commit, then disconnect); otherwise stop it.
      if (!closed) void stopConsumer();
    };
  });
}
