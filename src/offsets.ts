/**
 * Topic-partition keys and exact offsets, for the Kafka edge and for monitoring alike: the one place that builds the
 * key of a topic-partition, and the arithmetic on Kafka offsets (int64, so they can exceed 2^53, where a JavaScript
 * number stops being exact).
 *
 * Offsets travel as decimal strings (as Kafka clients give them). Comparing and incrementing them here is exact
 * for every int64 offset; offsets of up to 15 digits (below 10^15 < 2^53) take the fast path through numbers.
 *
 * @module
 */

/**
 * The key of a topic-partition in maps and sets: `<partition>:<topic>` (topic names cannot contain `:`).
 *
 * @param topic - the topic
 * @param partition - the partition
 * @returns the key, e.g. `0:points`
 */
export function partitionKey(topic: string, partition: number): string {
  return `${partition}:${topic}`;
}

/** Digits of the largest offset a double holds exactly on the fast path (10^15 − 1 < 2^53). */
const SAFE_DIGITS = 15;

/** Whether an offset is a decimal string without leading zeros (as Kafka clients give them). */
export function isDecimalOffset(offset: string): boolean {
  const first = offset.charCodeAt(0);
  return offset.length > 0 && first >= 48 && first <= 57 && (first !== 48 || offset.length === 1);
}

/** Whether an offset string takes the fast path (at most 15 digits: exact as a number). */
export function isSafeOffset(offset: string): boolean {
  return offset.length <= SAFE_DIGITS;
}

/**
 * Compares two offsets (non-negative decimal strings without leading zeros, or -1), exactly.
 *
 * @returns a negative number, 0 or a positive number as `a` is below, equal to or above `b`
 */
export function compareOffsets(a: string, b: string): number {
  if (a === b) return 0;
  const negA = a.startsWith('-');
  const negB = b.startsWith('-');
  if (negA || negB) return negA && negB ? Number(b) - Number(a) : negA ? -1 : 1;
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : 1;
}

/** The larger of two offsets (exact). */
export function maxOffset(a: string, b: string): string {
  return compareOffsets(a, b) >= 0 ? a : b;
}

/**
 * The offset after `offset` (`offset + 1`), exactly: the position to commit after a processed record.
 *
 * @param offset - a record's offset, a decimal string
 * @returns `offset + 1` as a decimal string
 */
export function offsetAfter(offset: string): string {
  return isSafeOffset(offset) ? String(Number(offset) + 1) : (BigInt(offset) + 1n).toString();
}

/**
 * An offset as a bigint (exact), from a decimal string or a number.
 *
 * @param offset - a decimal string, a bigint, or a safe integer
 */
export function offsetBig(offset: string | number | bigint): bigint {
  return typeof offset === 'bigint' ? offset : BigInt(offset);
}
