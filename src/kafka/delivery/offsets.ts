/**
 * The offset manager: which offsets may be committed (per partition, the offset after the longest prefix of
 * finished records), and how many records are in flight (for backpressure).
 *
 * Offsets are int64: a partition's offsets are kept as numbers relative to the first one it registered (exact while
 * a partition's offsets in memory span less than 2^53, which they always do), and given back as exact decimal strings.
 *
 * @module
 */
import type { TopicPartitionOffset } from '../client/ports.js';
import { isSafeOffset, partitionKey } from '../../offsets.js';

/** State of one consumed message. */
const PENDING = 0;
/** Handed to an explicit output (a dead-letter send) and waiting for its acknowledgement. */
const CLAIMED = 1;
const DONE = 2;

/** No position yet (nothing finished, committed or registered since the start). */
const NONE = Number.NEGATIVE_INFINITY;

/** Consumed offsets of one topic-partition, in consumption order, from the oldest not yet committable. */
class PartitionLedger {
  /** The first offset registered: `offsets` hold offsets minus this (exact as long as they are within 2^53 of it). */
  private base: bigint | undefined;
  /** `base` as a number, when it is exact as one (the fast path), else NaN. */
  private baseNumber = Number.NaN;
  /** Offsets relative to `base`. */
  offsets: number[] = [];
  states: number[] = [];
  head = 0;
  /** Entries before this index are not pending (claimed or done): `markDoneThrough` starts here. */
  scan = 0;
  /** Next offset to commit (last finished + 1), relative to `base`; NONE when nothing finished since the start. */
  committable = NONE;
  lastCommitted = NONE;
  lastRegistered = NONE;

  /** An offset (decimal string or safe integer) relative to `base` (the first offset seen becomes the base). */
  relative(offset: string | number): number {
    if (this.base === undefined) {
      this.base = BigInt(offset);
      const n = Number(offset);
      this.baseNumber = Number.isSafeInteger(n) && (typeof offset === 'number' || isSafeOffset(offset)) ? n : Number.NaN;
      return 0;
    }
    if (typeof offset === 'number') return Number.isNaN(this.baseNumber) ? Number(BigInt(offset) - this.base) : offset - this.baseNumber;
    return isSafeOffset(offset) && !Number.isNaN(this.baseNumber) ? Number(offset) - this.baseNumber : Number(BigInt(offset) - this.base);
  }

  /** A relative offset back as an exact decimal string. */
  absolute(relative: number): string {
    if (!Number.isNaN(this.baseNumber)) {
      const n = this.baseNumber + relative;
      if (Number.isSafeInteger(n)) return String(n);
    }
    return (this.base! + BigInt(relative)).toString();
  }

  /** Entries not finished yet (pending or claimed): what this ledger adds to `inFlight`. O(entries), for resets. */
  unfinished(): number {
    let n = 0;
    for (let i = this.head; i < this.states.length; i++) if (this.states[i] !== DONE) n++;
    return n;
  }

  indexOf(offset: number): number {
    let lo = this.head;
    let hi = this.offsets.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.offsets[mid];
      if (v === offset) return mid;
      if (v < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Moves the head over finished entries; returns how many were released. */
  advance(): number {
    const start = this.head;
    while (this.head < this.offsets.length && this.states[this.head] === DONE) {
      this.committable = this.offsets[this.head] + 1;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.offsets.length) {
      this.offsets = this.offsets.slice(this.head);
      this.states = this.states.slice(this.head);
      this.scan = Math.max(0, this.scan - this.head);
      this.head = 0;
    }
    return this.head - start;
  }
}

/** Options of {@link OffsetTracker}. */
export interface OffsetTrackerOptions {
  /** Commits positions (e.g. `consumer.commitOffsets`). Calls are serialized by the tracker. */
  readonly commit?: (offsets: TopicPartitionOffset[]) => Promise<void>;
  /** Called (synchronously) whenever some partition's committable position moved. */
  readonly onAdvance?: () => void;
}

/**
 * Tracks consumed offsets per topic-partition and computes what may be committed: the offset after the
 * longest prefix of messages whose outputs are all acknowledged.
 *
 * 1. `register` each consumed message, in order (offsets rise per partition; gaps are fine).
 * 2. A message is finished when `markDone` is called for it (e.g. its dead letter was acknowledged), or when
 *    `markDoneThrough` covers it (a window's labels and model update, which hold every earlier unclaimed
 *    message of that partition, were acknowledged) and it was not `claim`ed by an explicit output.
 * 3. The committable position of a partition is (last offset of the finished prefix) + 1; `commit` sends the
 *    positions that moved since the last commit, one commit at a time.
 *
 * `inFlight` counts registered, unfinished messages: the source waits while it is above its bound.
 */
export class OffsetTracker {
  private readonly ledgers = new Map<string, PartitionLedger>();
  private readonly coords = new Map<string, { topic: string; partition: number }>();
  private inFlightCount = 0;
  private commitChain: Promise<void> = Promise.resolve();
  private readonly waiters: (() => void)[] = [];

  /** @param options - how to commit, and who to tell when positions move */
  constructor(private readonly options: OffsetTrackerOptions = {}) {}

  /** Registered messages whose outputs are not all acknowledged yet. */
  get inFlight(): number {
    return this.inFlightCount;
  }

  /** The last ledger looked up by {@link register} (records come in runs of one partition). */
  private last: { topic: string; partition: number; ledger: PartitionLedger } | undefined;

  private ledger(topic: string, partition: number): PartitionLedger {
    const last = this.last;
    if (last !== undefined && last.partition === partition && last.topic === topic) return last.ledger;
    const id = partitionKey(topic, partition);
    let ledger = this.ledgers.get(id);
    if (ledger === undefined) {
      ledger = new PartitionLedger();
      this.ledgers.set(id, ledger);
      this.coords.set(id, { topic, partition });
    }
    this.last = { topic, partition, ledger };
    return ledger;
  }

  /**
   * Registers a consumed message. A message at or below the last registered offset of its partition
   * means the consumer went back (a rebalance, a seek): the partition's unfinished entries are dropped first.
   *
   * @param topic - its topic
   * @param partition - its partition
   * @param offset - its offset (kafkajs gives a decimal string)
   */
  register(topic: string, partition: number, offset: string | number): void {
    const ledger = this.ledger(topic, partition);
    const o = ledger.relative(offset);
    if (o <= ledger.lastRegistered) this.resetPartition(ledger);
    ledger.offsets.push(o);
    ledger.states.push(PENDING);
    ledger.lastRegistered = o;
    this.inFlightCount++;
  }

  private resetPartition(ledger: PartitionLedger): void {
    this.inFlightCount -= ledger.unfinished();
    ledger.offsets = [];
    ledger.states = [];
    ledger.head = 0;
    ledger.scan = 0;
    ledger.lastRegistered = NONE;
    this.wake();
  }

  /**
   * Forgets every partition not in `assignment` — a rebalance gave them to another member: their unfinished
   * messages stop counting in flight, later acknowledgements of them are ignored, and nothing more is committed
   * for them (a late commit would move the new owner's position back). Partitions still assigned keep their state.
   *
   * @param assignment - the partitions now assigned, per topic (kafkajs `memberAssignment`)
   * @returns the partitions forgotten
   */
  retainOnly(assignment: Readonly<Record<string, readonly number[]>>): { topic: string; partition: number }[] {
    const dropped: { topic: string; partition: number }[] = [];
    for (const [id, ledger] of this.ledgers) {
      const { topic, partition } = this.coords.get(id)!;
      if (assignment[topic]?.includes(partition) === true) continue;
      this.inFlightCount -= ledger.unfinished();
      this.ledgers.delete(id);
      this.coords.delete(id);
      dropped.push({ topic, partition });
    }
    if (dropped.length > 0) {
      this.last = undefined;
      this.wake();
    }
    return dropped;
  }

  /**
   * The offset after the last message registered for a partition (where reading would continue), or `undefined`
   * when none is tracked (never read, or forgotten by {@link retainOnly}).
   */
  nextOffset(topic: string, partition: number): string | undefined {
    const ledger = this.ledgers.get(partitionKey(topic, partition));
    return ledger === undefined || ledger.lastRegistered === NONE ? undefined : ledger.absolute(ledger.lastRegistered + 1);
  }

  /** The partitions tracked now. */
  partitions(): { topic: string; partition: number }[] {
    return [...this.coords.values()];
  }

  /**
   * Forgets one partition (its task was closed: a fenced producer, a revoked partition): its unfinished records stop
   * counting in flight, and nothing more is committed for it.
   */
  forget(topic: string, partition: number): void {
    const id = partitionKey(topic, partition);
    const ledger = this.ledgers.get(id);
    if (ledger === undefined) return;
    this.inFlightCount -= ledger.unfinished();
    this.ledgers.delete(id);
    this.coords.delete(id);
    this.last = undefined;
    this.wake();
  }

  /**
   * Counts `n` more records in flight that are finished in the ledger but whose outputs are not committed yet (the
   * exactly-once delivery marks a window's records finished when it puts them in a transaction, and holds them
   * until the transaction commits), so backpressure still waits for them. {@link release} gives them back.
   */
  hold(n: number): void {
    this.inFlightCount += n;
  }

  /** Gives back records counted by {@link hold}. */
  release(n: number): void {
    if (n === 0) return;
    this.inFlightCount -= n;
    this.wake();
  }

  /**
   * The position of a partition now: the offset after its longest prefix of finished records (what a commit would
   * write), or `undefined` when none finished since it was tracked.
   */
  position(topic: string, partition: number): string | undefined {
    const ledger = this.ledgers.get(partitionKey(topic, partition));
    return ledger === undefined || ledger.committable === NONE ? undefined : ledger.absolute(ledger.committable);
  }

  /** Marks one message as handed to an explicit output, so `markDoneThrough` skips it. */
  claim(topic: string, partition: number, offset: string | number): void {
    const ledger = this.ledgers.get(partitionKey(topic, partition));
    if (ledger === undefined) return;
    const i = ledger.indexOf(ledger.relative(offset));
    if (i >= 0 && ledger.states[i] === PENDING) ledger.states[i] = CLAIMED;
  }

  /** Marks one message as finished (its explicit output was acknowledged). */
  markDone(topic: string, partition: number, offset: string | number): void {
    const ledger = this.ledgers.get(partitionKey(topic, partition));
    if (ledger === undefined) return;
    const i = ledger.indexOf(ledger.relative(offset));
    if (i < 0 || ledger.states[i] === DONE) return;
    ledger.states[i] = DONE;
    this.inFlightCount--;
    this.afterChange(ledger);
  }

  /** Marks every unclaimed message of a partition at or below `offset` as finished. */
  markDoneThrough(topic: string, partition: number, offset: string | number): void {
    const ledger = this.ledgers.get(partitionKey(topic, partition));
    if (ledger === undefined) return;
    const o = ledger.relative(offset);
    let released = 0;
    let i = Math.max(ledger.head, ledger.scan);
    for (; i < ledger.offsets.length && ledger.offsets[i] <= o; i++) {
      if (ledger.states[i] === PENDING) {
        ledger.states[i] = DONE;
        released++;
      }
    }
    ledger.scan = i;
    this.inFlightCount -= released;
    this.afterChange(ledger);
  }

  private afterChange(ledger: PartitionLedger): void {
    const before = ledger.committable;
    ledger.advance();
    this.wake();
    if (ledger.committable !== before) this.options.onAdvance?.();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * Resolves at the next change of `inFlight` (or after `timeoutMs`), so a source can wait for room.
   *
   * @param timeoutMs - longest wait
   */
  changed(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  /** Wakes every waiter now (e.g. when the source closes). */
  wakeAll(): void {
    this.wake();
  }

  /** Positions that may be committed now: one per partition with a finished prefix. */
  committable(): TopicPartitionOffset[] {
    const out: TopicPartitionOffset[] = [];
    for (const [id, ledger] of this.ledgers) {
      if (ledger.committable === NONE) continue;
      const { topic, partition } = this.coords.get(id)!;
      out.push({ topic, partition, offset: ledger.absolute(ledger.committable) });
    }
    return out;
  }

  /**
   * Commits the positions that moved since the last commit, after any commit already running.
   *
   * @returns the positions committed by this call (empty when nothing moved or no `commit` was given)
   */
  commit(): Promise<TopicPartitionOffset[]> {
    const run = this.commitChain.then(async () => {
      const commitFn = this.options.commit;
      if (commitFn === undefined) return [];
      const moved: { ledger: PartitionLedger; committed: number; position: TopicPartitionOffset }[] = [];
      for (const [id, ledger] of this.ledgers) {
        if (ledger.committable > ledger.lastCommitted) {
          const { topic, partition } = this.coords.get(id)!;
          moved.push({ ledger, committed: ledger.committable, position: { topic, partition, offset: ledger.absolute(ledger.committable) } });
        }
      }
      if (moved.length === 0) return [];
      const positions = moved.map((m) => m.position);
      await commitFn(positions);
      for (const m of moved) m.ledger.lastCommitted = Math.max(m.ledger.lastCommitted, m.committed);
      return positions;
    });
    this.commitChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}
