/**
 * What a window covers: per input partition, its last record, and the running coverage of a state (the offset
 * after the last record in its statistics), kept exact (offsets are int64 decimal strings).
 *
 * @module
 */
import { recordCoordinates } from '../../operators/vectorInput.js';
import type { EventOffset } from '../events.js';
import { compareOffsets, offsetAfter, partitionKey } from '../../offsets.js';

/** A partition's position: the offset of its last record in a window, or the offset after it. */
export interface PartitionPosition {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/**
 * Per partition, the largest offset among the records of a window (records without coordinates are skipped).
 *
 * @param records - the window's records
 * @returns partition key → its last record's coordinates
 */
export function lastOffsets(records: readonly unknown[]): Map<string, PartitionPosition> {
  const last = new Map<string, PartitionPosition>();
  let previousKey: string | undefined;
  let previousTopic: string | undefined;
  let previousPartition: number | undefined;
  for (let i = records.length - 1; i >= 0; i--) {
    const { topic, partition, offset } = recordCoordinates(records[i]);
    if (topic === undefined || partition === undefined || offset === undefined) continue;
    // Records come in runs of one partition: the key is built once per run.
    const id = topic === previousTopic && partition === previousPartition ? previousKey! : partitionKey(topic, partition);
    previousKey = id;
    previousTopic = topic;
    previousPartition = partition;
    const prev = last.get(id);
    if (prev === undefined || compareOffsets(offset, prev.offset) > 0) last.set(id, { topic, partition, offset });
  }
  return last;
}

/**
 * The coverage of a state: per input partition, the offset after the last record in its statistics. It only moves
 * forward.
 */
export class Coverage {
  private readonly covered = new Map<string, PartitionPosition>();

  /** @param initial - the restored state's coverage */
  constructor(initial: readonly EventOffset[] = []) {
    for (const o of initial) this.covered.set(partitionKey(o.topic, o.partition), { topic: o.topic, partition: o.partition, offset: o.offset });
  }

  /** Moves the coverage past each partition's last record (see {@link lastOffsets}). */
  advance(last: ReadonlyMap<string, PartitionPosition>): void {
    for (const [id, entry] of last) {
      const next = offsetAfter(entry.offset);
      const prev = this.covered.get(id);
      if (prev === undefined || compareOffsets(next, prev.offset) > 0) this.covered.set(id, { topic: entry.topic, partition: entry.partition, offset: next });
    }
  }

  /** The coverage now, one entry per partition. */
  offsets(): EventOffset[] {
    return [...this.covered.values()].map(({ topic, partition, offset }) => ({ topic, partition, offset }));
  }
}
