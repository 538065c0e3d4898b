/**
 * The reducer of a shared model: the member to which Kafka assigns the statistics topic's one partition in the group
 * `<group>.reducer` merges the members' contributions, round by round, into the next global model, and publishes it
 * with its whole state on the models topic — in one transaction with its position on the statistics topic.
 *
 * @module
 */
import type { Logger } from 'pino';
import type { Subscription } from 'rxjs';
import { StateMismatchError } from '../../gmm/errors.js';
import { paramsToJSON } from '../../gmm/model.js';
import { StatisticsGmm } from '../../gmm/stream/statistics.js';
import type { StreamingOptions, StreamingStateJSON, WindowFit } from '../../gmm/streaming.js';
import type { Dataset, GmmParams } from '../../gmm/types.js';
import type { Instrumentation } from '../../instrumentation.js';
import { compareOffsets, offsetAfter, partitionKey } from '../../offsets.js';
import { emitModelEvents } from '../../operators/fitMixture.js';
import type { MixtureUpdate } from '../../operators/types.js';
import { seekQuietly } from '../client/consumerRestart.js';
import type { AdminLike, ConsumerLike, KafkaClientLike } from '../client/ports.js';
import type { TransactionalProducerLike } from '../client/transactions.js';
import { ExactlyOnceDelivery } from '../delivery/exactlyOnce.js';
import { OffsetTracker } from '../delivery/offsets.js';
import { describeError, KafkaEdgeError } from '../errors.js';
import type { EventOffset, TopicPartitions } from '../events.js';
import { readStatsMessage, type ContributionMessage } from '../messages/contributions.js';
import type { WindowOutput } from '../messages/outputs.js';
import { fromKafka } from '../source/fromKafka.js';
import type { KafkaRecord } from '../source/record.js';
import type { SharedStateJSON } from '../state/format.js';
import type { RestoredModel } from '../state/restore.js';
import type { StateStore } from '../state/store.js';
import type { RunConfig, SharedModelConfig } from '../run/config.js';
import { retryBrokerOperation, type RetryOptions } from '../run/retry.js';
import { asEmstreamError } from '../run/startup.js';
import { ContributionLedger } from './ledger.js';
import { Round, type MergedRound } from './round.js';

/**
 * The numeric step of the reducer (the core's statistics-driven entry points): the global model, a first fit to
 * seed points, and a round merged into the next model.
 */
export interface ReducerCore {
  /** The global model (null before the first). */
  readonly model: GmmParams | null;
  /** The global model's version. */
  readonly version: number;
  /** Rounds merged so far. */
  readonly windowCount: number;
  /** The origin of the global statistics (null before the first model). */
  readonly shift: Float64Array | null;
  /** The first model, fitted to seed points; no statistics are carried (the same points come back as contributions). */
  seed(data: Dataset, windowIndex: number): WindowFit;
  /** The next model from a round's merged statistics (forgetting, restarts, birth and death, K, drift on the round). */
  merge(round: MergedRound, windowIndex: number): WindowFit;
  toJSON(): StreamingStateJSON;
}

/** Makes the reducer's numeric step from the members' streaming options and, when resuming, the saved state. */
export type ReducerCoreFactory = (options: StreamingOptions, state: StreamingStateJSON | undefined) => ReducerCore;

/**
 * The reducer's numeric step: the streaming core's {@link StatisticsGmm} (restarts, birth and death and drift decided
 * on the rounds), continuing the saved global state when there is one.
 */
export const statisticsCore: ReducerCoreFactory = (options, state) => new StatisticsGmm({ ...options, initialModel: undefined, initialStats: undefined, initialState: state });

/** A round's update, with what the reducer's state message says besides the model. */
interface ReducerUpdate extends MixtureUpdate<KafkaRecord> {
  readonly coverage: readonly EventOffset[];
  readonly shared: SharedStateJSON;
}

/** What the reducer needs from the run. */
export interface ReducerRoleOptions {
  readonly kafka: KafkaClientLike;
  readonly config: RunConfig;
  readonly shared: SharedModelConfig;
  readonly store: StateStore;
  /** The streaming options of the pipeline's `fitMixture` (the members'). */
  readonly streaming: StreamingOptions;
  readonly makeCore: ReducerCoreFactory;
  /** A transactional producer for the reducer's transactional id. */
  readonly producerFor: (transactionalId: string) => TransactionalProducerLike;
  /** Outputs of each round besides the state message (drift alarms, window history). */
  readonly outputs: readonly WindowOutput<KafkaRecord>[];
  readonly deadLetters: { readonly topic: string; readonly maxMessageBytes: number };
  readonly batchMaxBytes: number;
  /** With `fresh`: per partition of the models topic, its end when the run started (earlier states are not used). */
  readonly freshFrom: ReadonlyMap<number, string> | undefined;
  readonly retry: () => RetryOptions;
  readonly instrumentation: Instrumentation;
  readonly health: { ok(): void; failed(operation: string, error: unknown): void };
  readonly logger: Logger;
  /** A failure that ends the run (a state of another configuration, a transaction that failed for good). */
  readonly onError: (error: unknown) => void;
  /** Refuses a restored state that does not match the pipeline (the run's error for it). */
  readonly refuse: (restored: RestoredModel | undefined, error: StateMismatchError) => KafkaEdgeError;
}

/** The decoder of the statistics topic's records: nothing to decode here (the reducer reads each value itself). */
const RAW = (): { ok: true; vector: Float64Array } => ({ ok: true, vector: new Float64Array(0) });

/**
 * How long the statistics topic must stay quiet, from the start of a drain, before a stopping reducer merges its last
 * round: three of its consumer's idle fetches (500 ms each), so a contribution committed just before is read.
 */
const DRAIN_QUIET_MS = 1500;

/** The reducer's transactional id: `<group>.reducer/<stats topic>/0`, stable across members (a takeover fences the former reducer). */
export function reducerTransactionalId(shared: SharedModelConfig): string {
  return `${shared.reducerGroup}/${shared.stats}/0`;
}

/**
 * The reducer role of one member.
 *
 * 1. Every member of a shared-model run joins the group `<group>.reducer` on the statistics topic; its one partition
 *    is assigned to exactly one member at a time (Kafka's group coordination), which is the reducer. When that member
 *    dies, the coordinator gives the partition to another after the session timeout.
 * 2. Taking the role ({@link open}): initialize the transactional id `<group>.reducer/<stats>/0` (fencing the former
 *    reducer: its open transaction is aborted, its later commits refused), then read the latest global state
 *    (read_committed) and the group's committed position on the statistics topic, and go on after the later of the
 *    two (they agree: both commit in one transaction).
 * 3. Contributions are admitted by the {@link ContributionLedger} (idempotence by partition and offsets, staleness,
 *    structural changes) into a {@link Round}; a round closes `roundMs` after its first record: the numeric step makes
 *    the next model, the ledger records a restart, re-seed or change of K, and the state message (model, state,
 *    ledger, covered input offsets) and the round's position on the statistics topic commit in one transaction.
 *    A round that merged nothing (only replays) is not published: its records wait for the next round.
 * 4. Before any model: seeds are pooled and the first model is fitted to them.
 * 5. Losing the role (revoked in a rebalance, or fenced): the open round is dropped; the next reducer reads it again.
 */
export class ReducerRole {
  private consumer: ConsumerLike | undefined;
  private subscription: Subscription | undefined;
  private readonly tracker = new OffsetTracker();
  private readonly skipBelow = new Map<string, string>();
  private readonly abort = new AbortController();
  private state: 'idle' | 'opening' | 'open' | 'closing' = 'idle';
  private assigned = false;
  private stopping = false;
  private core: ReducerCore | undefined;
  private ledger: ContributionLedger | undefined;
  private delivery: ExactlyOnceDelivery<KafkaRecord> | undefined;
  private round: Round | undefined;
  private roundRecords: KafkaRecord[] = [];
  private roundTimer: NodeJS.Timeout | undefined;
  private reopenTimer: NodeJS.Timeout | undefined;
  private session = 0;
  /** Rounds published by this member while it held the role. */
  private published = 0;
  /** When the last record of the statistics topic came (for draining at stop). */
  private lastRecordAt = 0;

  /** @param o - what the reducer needs from the run */
  constructor(private readonly o: ReducerRoleOptions) {}

  /** Whether this member holds the reducer role now. */
  get holdsRole(): boolean {
    return this.state === 'open';
  }

  /** Rounds this member published. */
  get rounds(): number {
    return this.published;
  }

  /** Joins the reducer group and consumes the statistics topic (records flow only while the role is held). */
  async start(): Promise<void> {
    const { kafka, config, shared, logger, instrumentation, health } = this.o;
    const consumer = kafka.consumer({ groupId: shared.reducerGroup, sessionTimeout: config.sessionTimeoutMs, heartbeatInterval: config.heartbeatIntervalMs, maxWaitTimeInMs: 500 });
    this.consumer = consumer;
    await retryBrokerOperation('connect', () => consumer.connect(), this.o.retry());
    const source$ = fromKafka(consumer, {
      topics: shared.stats,
      fromBeginning: true,
      decode: RAW,
      tracker: this.tracker,
      accept: () => this.state === 'open',
      maxInFlight: 50_000,
      commitIntervalMs: 0,
      signal: this.abort.signal,
      skipBelow: this.skipBelow,
      health,
      restartWithinMs: config.brokerTimeoutMs,
      logger: logger.child({ role: 'reducer' }),
      instrumentation,
      onRebalance: (change) => this.rebalance(change.assigned),
    });
    this.subscription = source$.subscribe({
      next: (record) => this.onRecord(record),
      error: (err: unknown) => this.o.onError(err),
    });
  }

  /** The assignment changed: take the role, or give it up. */
  private rebalance(assigned: readonly TopicPartitions[]): void {
    const ours = assigned.some((t) => t.topic === this.o.shared.stats && t.partitions.includes(0));
    this.assigned = ours;
    if (ours && this.state === 'idle') void this.open();
    else if (!ours && (this.state === 'open' || this.state === 'opening')) void this.close('revoked');
  }

  /** Takes the reducer role (see the class comment, step 2). */
  private async open(): Promise<void> {
    const { config, shared, store, logger } = this.o;
    const consumer = this.consumer!;
    this.state = 'opening';
    const session = ++this.session;
    consumer.pause([{ topic: shared.stats, partitions: [0] }]);
    let producer: TransactionalProducerLike | undefined;
    try {
      producer = this.o.producerFor(reducerTransactionalId(shared));
      const p = producer;
      await retryBrokerOperation('transaction-init', () => p.connect(), this.o.retry());
      const states = await retryBrokerOperation('restore', () => store.restore([config.pipelineId], Math.max(5000, config.brokerTimeoutMs)), this.o.retry());
      let restored = states.get(config.pipelineId);
      if (restored !== undefined && this.o.freshFrom !== undefined) {
        const from = this.o.freshFrom.get(restored.partition);
        if (from !== undefined && compareOffsets(restored.offset, from) < 0) restored = undefined;
      }
      const committed = await retryBrokerOperation('fetch-offsets', () => this.committedPosition(), this.o.retry());
      if (session !== this.session || this.stopping || !this.assigned) {
        await producer.disconnect().catch(() => undefined);
        if (session === this.session) this.state = 'idle';
        return;
      }
      let core: ReducerCore;
      try {
        core = this.o.makeCore(this.o.streaming, restored?.state);
      } catch (err) {
        await producer.disconnect().catch(() => undefined);
        this.state = 'idle';
        this.o.onError(err instanceof StateMismatchError ? this.o.refuse(restored, err) : asEmstreamError(err, 'shared-model', 'the reducer could not resume the global state'));
        return;
      }
      this.core = core;
      this.ledger = new ContributionLedger(restored?.shared?.ledger ?? { covered: restored?.offsets ?? [] });
      const statsOffset = restored?.shared?.statsOffset;
      let position = committed;
      if (statsOffset !== undefined && (position === undefined || compareOffsets(statsOffset, position) > 0)) position = statsOffset;
      this.delivery = new ExactlyOnceDelivery<KafkaRecord>({
        producer,
        tracker: this.tracker,
        task: { topic: shared.stats, partition: 0 },
        group: shared.reducerGroup,
        outputs: [store.output<KafkaRecord>(undefined, ({ update }) => ({ offsets: (update as ReducerUpdate).coverage, shared: (update as ReducerUpdate).shared })), ...this.o.outputs],
        deadLetters: this.o.deadLetters,
        pipelineId: config.pipelineId,
        batch: { maxBatchBytes: this.o.batchMaxBytes },
        instrumentation: this.o.instrumentation,
        health: this.o.health,
        logger,
        onError: (err) => this.o.onError(err),
        onLost: () => void this.lost(),
      });
      this.tracker.forget(shared.stats, 0);
      if (position !== undefined) {
        this.skipBelow.set(partitionKey(shared.stats, 0), position);
        seekQuietly(consumer, { topic: shared.stats, partition: 0, offset: position }, logger);
      }
      this.round = undefined;
      this.roundRecords = [];
      this.state = 'open';
      consumer.resume?.([{ topic: shared.stats, partitions: [0] }]);
      logger.info(
        { statsTopic: shared.stats, from: position ?? 'earliest', modelVersion: restored?.message.modelVersion ?? null, rounds: core.windowCount },
        restored === undefined ? 'this member is the reducer of the shared model: no saved global state, the first model comes from the members\' seeds' : 'this member is the reducer of the shared model: the global model continues from its saved state',
      );
    } catch (err) {
      if (session !== this.session || this.stopping) return;
      await producer?.disconnect().catch(() => undefined);
      this.state = 'idle';
      logger.error({ error: describeError(err) }, 'could not take the reducer role');
      this.o.onError(asEmstreamError(err, 'shared-model', 'could not take the reducer role of the shared model'));
    }
  }

  /** The reducer group's committed position on the statistics topic (undefined: none). */
  private async committedPosition(): Promise<string | undefined> {
    const admin: AdminLike = this.o.kafka.admin();
    await admin.connect();
    try {
      if (admin.fetchOffsets === undefined) return undefined;
      const found = await admin.fetchOffsets({ groupId: this.o.shared.reducerGroup, topics: [this.o.shared.stats] });
      const offset = found.flatMap((t) => t.partitions).find((p) => p.partition === 0)?.offset;
      return offset === undefined || offset.startsWith('-') ? undefined : offset;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  /** One record of the statistics topic: admitted into the round (or pooled as a seed). */
  private onRecord(record: KafkaRecord): void {
    this.lastRecordAt = Date.now();
    if (this.state !== 'open') {
      this.tracker.forget(record.topic, record.partition);
      return;
    }
    const core = this.core!;
    const ledger = this.ledger!;
    const model = core.model;
    const round = (this.round ??= new Round(model === null ? null : { k: model.k, d: model.d, covarianceType: model.covarianceType, shift: core.shift! }, core.windowCount + 1));
    this.roundRecords.push(record);
    this.roundTimer ??= setTimeout(() => this.closeRound(), this.o.shared.roundMs);
    let message;
    try {
      message = readStatsMessage(record.value ?? null);
    } catch (err) {
      ledger.mismatch();
      this.o.logger.warn({ error: describeError(err), offset: record.offset }, 'skipping an unreadable message of the statistics topic');
      return;
    }
    if (message.pipelineId !== this.o.config.pipelineId) {
      ledger.mismatch();
      return;
    }
    if (message.kind === 'seed') {
      if (model === null) round.seed(message);
      return;
    }
    if (model === null || !sameShape(message, model)) {
      ledger.mismatch();
      if (model !== null) this.o.logger.warn({ contribution: describeContribution(message), model: { k: model.k, d: model.d, covarianceType: model.covarianceType } }, 'dropping a contribution of another shape than the global model');
      return;
    }
    const admission = ledger.admit(message, core.version, this.o.shared.maxStaleness);
    if (admission.weight > 0) round.add(message, admission.weight, core.version - message.modelVersion);
    else if (admission.verdict !== 'duplicate') this.o.logger.debug({ contribution: describeContribution(message), verdict: admission.verdict, modelVersion: core.version }, 'contribution not merged');
  }

  /**
   * Closes the round: the next model (or the first, from seeds), published with the state and the position in one
   * transaction. A round with nothing to merge stays open (its records wait for the next one).
   */
  private closeRound(): void {
    this.roundTimer = undefined;
    if (this.state !== 'open') return;
    const core = this.core!;
    const round = this.round!;
    const ledger = this.ledger!;
    const first = core.model === null;
    if ((first && round.seedCount === 0) || (!first && round.contributions === 0)) {
      // Nothing to make a model from yet: keep gathering.
      this.roundTimer = setTimeout(() => this.closeRound(), this.o.shared.roundMs);
      return;
    }
    const records = this.roundRecords;
    const started = performance.now();
    let fit: WindowFit;
    const merged = first ? undefined : round.merged();
    try {
      fit = first ? core.seed(round.seedData(), core.windowCount) : core.merge(merged!, core.windowCount);
    } catch (err) {
      // The state is as it was; the round's contributions are lost to the model (their offsets stay counted).
      this.o.logger.warn({ error: describeError(err), contributions: round.contributions }, 'a round of the shared model could not be merged: its contributions are dropped and the model stays as it was');
      this.round = undefined;
      this.roundTimer = setTimeout(() => this.closeRound(), this.o.shared.roundMs);
      return;
    }
    if (!fit.warmStarted || fit.reseeded.length > 0 || fit.kChange !== null || (fit as { reverted?: readonly number[] }).reverted?.length) ledger.structuralChange(fit.version);
    const { params, ...rest } = fit;
    const sample = first ? round.seedData() : merged!.sample;
    const shared: SharedStateJSON = {
      statsTopic: this.o.shared.stats,
      statsOffset: offsetAfter(records[records.length - 1].offset),
      ledger: ledger.toJSON(),
      round: { contributions: merged?.contributions ?? 0, points: Math.round(merged?.count ?? 0), stalenessMax: merged?.stalenessMax ?? 0 },
    };
    const update: ReducerUpdate = {
      ...rest,
      windowIndex: core.windowCount - 1,
      model: paramsToJSON(params),
      state: core.toJSON(),
      window: { index: core.windowCount - 1, n: sample.n, d: sample.d, points: sample.data, records, rejected: 0 },
      coverage: ledger.coveredOffsets(),
      shared,
    };
    this.round = undefined;
    this.roundRecords = [];
    this.published++;
    this.delivery!.window(update);
    // Drift alarms, re-seeds and reverts are the reducer's: their events come from here, once for the group.
    emitModelEvents(this.o.instrumentation, update);
    this.o.logger.debug({ modelVersion: fit.version, contributions: shared.round.contributions, points: shared.round.points, stalenessMax: shared.round.stalenessMax, mergeMs: Math.round(performance.now() - started) }, first ? 'first global model fitted to the seeds' : 'round merged');
  }

  /** The reducer's transactional producer was fenced (another member took the role) or cannot go on. */
  private async lost(): Promise<void> {
    await this.close('lost');
    if (this.stopping) return;
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      if (!this.stopping && this.assigned && this.state === 'idle') {
        this.o.logger.info('the statistics topic is still assigned to this member: it takes the reducer role again');
        void this.open();
      }
    }, this.o.config.sessionTimeoutMs);
  }

  /** Gives the role up: the open round is dropped (the next reducer reads it again), the producer disconnected. */
  private async close(why: 'revoked' | 'lost' | 'stopping'): Promise<void> {
    if (this.state === 'closing' || this.state === 'idle') return;
    const wasOpen = this.state === 'open';
    this.state = 'closing';
    this.session++;
    if (this.roundTimer !== undefined) clearTimeout(this.roundTimer);
    this.roundTimer = undefined;
    this.round = undefined;
    this.roundRecords = [];
    if (why !== 'revoked') {
      try {
        this.consumer?.pause([{ topic: this.o.shared.stats, partitions: [0] }]);
      } catch {
        // not assigned any more
      }
    }
    const delivery = this.delivery;
    this.delivery = undefined;
    if (delivery !== undefined) {
      if (why === 'stopping') await delivery.flush().catch(() => undefined);
      await delivery.close(5000);
    }
    this.tracker.forget(this.o.shared.stats, 0);
    this.skipBelow.delete(partitionKey(this.o.shared.stats, 0));
    this.core = undefined;
    this.ledger = undefined;
    this.state = 'idle';
    if (wasOpen && why !== 'stopping') this.o.logger.info({ why }, why === 'revoked' ? 'this member is no longer the reducer: the statistics topic went to another member' : 'this member is no longer the reducer: its producer was fenced');
  }

  /** Reads on until the statistics topic is quiet, then merges the open round now and waits for its commit. */
  private async drain(timeoutMs: number): Promise<void> {
    const started = Date.now();
    const deadline = started + timeoutMs;
    // Quiet since the drain began, not only since the last record: the member's own last contributions were committed
    // just before (they may come seconds after the ones before them), and the consumer's next fetches bring them.
    const quietMs = Math.max(DRAIN_QUIET_MS, 2 * this.o.shared.roundMs);
    while (this.state === 'open' && Date.now() < deadline && Date.now() - Math.max(this.lastRecordAt, started) < quietMs) await new Promise((r) => setTimeout(r, 50));
    if (this.state !== 'open') return;
    if (this.roundTimer !== undefined) {
      clearTimeout(this.roundTimer);
      this.closeRound();
      if (this.roundTimer !== undefined) clearTimeout(this.roundTimer);
      this.roundTimer = undefined;
    }
    await Promise.race([this.delivery?.flush().catch(() => undefined), new Promise((r) => setTimeout(r, Math.max(0, deadline - Date.now())))]);
  }

  /** Waits until what the reducer published is committed (bounded by the delivery's own retries). */
  async flush(): Promise<void> {
    await this.delivery?.flush();
  }

  /**
   * Leaves the role and the group. With `drain`, while it holds the role, it first reads what the statistics topic
   * holds (until no record came for a while, at most 10 s), merges the open round and waits for its commit.
   */
  async stop(drain = true): Promise<void> {
    if (drain) {
      // A role being taken (a rebalance just gave it) is waited for: what it is about to read is merged too.
      const deadline = Date.now() + 10_000;
      while (this.state === 'opening' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (this.state === 'open') await this.drain(Math.max(1000, deadline - Date.now()));
    }
    this.stopping = true;
    if (this.reopenTimer !== undefined) clearTimeout(this.reopenTimer);
    this.abort.abort();
    await this.close('stopping');
    this.subscription?.unsubscribe();
    await this.consumer?.disconnect().catch(() => undefined);
  }

  /** Fails for good (brokers away past the budget). */
  abortDelivery(error: KafkaEdgeError): void {
    this.delivery?.abort(error);
  }
}

/** Whether a contribution has the global model's shape. */
function sameShape(c: ContributionMessage, model: GmmParams): boolean {
  return c.stats.k === model.k && c.stats.d === model.d && c.stats.covarianceType === model.covarianceType;
}

/** A contribution's coordinates, for logs. */
function describeContribution(c: ContributionMessage): { topic: string; partition: number; offsets: string; modelVersion: number; count: number } {
  return { topic: c.topic, partition: c.partition, offsets: `${c.firstOffset}..${c.lastOffset}`, modelVersion: c.modelVersion, count: c.count };
}
