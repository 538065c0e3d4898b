/**
 * Keeps kafkajs 2.2.4's read_committed consumers from returning records of aborted transactions.
 *
 * A fetch response lists, per partition, the aborted transactions in the fetched range (producer id, first offset),
 * in the order their abort markers were written. kafkajs's filter (`consumer/filterAbortedMessages.js`) walks the
 * records and starts skipping a producer's records when a record's offset reaches the *head* of that list, so it
 * assumes the list is ordered by first offset. When two transactions were aborted in the other order than they began
 * — the exactly-once mode's takeover does it: the new owner's initializations abort a zombie's open transactions,
 * one per partition, interleaved on the same output partitions — the records of the one that began first are
 * returned as if committed, up to the other's first offset. Kafka's Java consumer orders the list by first offset
 * (a priority queue); this does the same, in the fetch responses kafkajs decodes.
 *
 * kafkajs loads each Fetch response version lazily and reads its `decode` at every request, so wrapping `decode` on
 * the cached module's exports takes effect for every client in this realm, whenever kafkajs was loaded.
 *
 * @module
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Marks a wrapped `decode`, so a second install is a no-op. */
const INSTALLED = Symbol.for('emstream.readCommittedFix');

/** One aborted transaction of a fetch response (kafkajs: decimal strings). */
interface AbortedTransaction {
  readonly producerId: string;
  readonly firstOffset: string;
}

/** A decoded fetch response, as far as this reads it. */
interface DecodedFetch {
  responses?: { partitions?: { abortedTransactions?: AbortedTransaction[] }[] }[];
}

type Decode = ((rawData: Buffer) => Promise<DecodedFetch>) & { [INSTALLED]?: true };

/**
 * Orders each partition's aborted transactions by first offset, in place (what kafkajs's filter assumes).
 *
 * @param response - a decoded Fetch response (v4 and later carry aborted transactions)
 * @returns the same response
 */
export function orderAbortedTransactions<T extends DecodedFetch>(response: T): T {
  for (const topic of response.responses ?? []) {
    for (const partition of topic.partitions ?? []) {
      const list = partition.abortedTransactions;
      if (list === undefined || list.length < 2) continue;
      list.sort((a, b) => {
        const d = BigInt(a.firstOffset) - BigInt(b.firstOffset);
        return d < 0n ? -1 : d > 0n ? 1 : 0;
      });
    }
  }
  return response;
}

/**
 * Makes kafkajs's Fetch responses (v4–v11: the versions with aborted transactions) list them by first offset.
 *
 * 1. Load each version's response module (from the module cache if kafkajs loaded it already).
 * 2. Wrap its `decode`: kafkajs's own decode, then {@link orderAbortedTransactions}.
 *
 * Idempotent. Returns false (and changes nothing) when the kafkajs found is not laid out as 2.2.x is.
 *
 * ## Example
 * ```ts
 * import { installReadCommittedFix } from 'emstream';
 *
 * console.log(installReadCommittedFix()); // true
 * ```
 *
 * @returns whether the fix is in place
 */
export function installReadCommittedFix(): boolean {
  let modules: { decode?: Decode }[];
  try {
    modules = [4, 5, 6, 7, 8, 9, 10, 11].map((v) => require(`kafkajs/src/protocol/requests/fetch/v${v}/response.js`) as { decode?: Decode });
  } catch {
    return false;
  }
  if (modules.some((m) => typeof m.decode !== 'function')) return false;
  for (const m of modules) {
    const original = m.decode!;
    if (original[INSTALLED] === true) continue;
    const decode: Decode = async (rawData) => orderAbortedTransactions(await original(rawData));
    decode[INSTALLED] = true;
    m.decode = decode;
  }
  return true;
}
