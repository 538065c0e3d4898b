/**
 * Puts {@link encodeProduceRequest} in place of kafkajs's own Produce request encoder (versions 3–7, the ones
 * kafkajs 2.2.4 speaks to brokers ≥ 0.11) for uncompressed sends. Everything else — connections, SASL/TLS,
 * metadata, partitioning, retries, idempotence, transactions, compressed sends — stays kafkajs's.
 *
 * kafkajs loads each request version lazily (`require('./v7/request')` inside the version table), so replacing
 * the cached modules' exports takes effect for every later send, whichever version the broker negotiates.
 *
 * It changes the kafkajs module loaded by this realm (thread) for every client in it, which is why emstream
 * installs it only in the producer worker thread it owns (`runKafkaPipeline`'s `producerInWorker`); call it
 * yourself to use it in your own thread. For what kafkajs's producer sends, the bytes on the wire are the same as kafkajs's
 * (tested byte for byte); see `encodeProduceRequest` for the inputs kafkajs mishandles.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { encodeProduceRequest, type ProduceRequestFields } from './recordBatch.js';

const require = createRequire(import.meta.url);

/** Marks a replaced module export, so a second install is a no-op. */
const INSTALLED = Symbol.for('emstream.fastProduce');

/** A kafkajs request object (the fields this module reads or replaces). */
interface KafkajsRequest {
  apiVersion: number;
  encode: () => Promise<unknown>;
}

type RequestFactory = ((fields: ProduceRequestFields & { compression?: number }) => KafkajsRequest) & { [INSTALLED]?: true };

/** The kafkajs protocol modules this needs, or undefined when the installed kafkajs does not have them. */
function kafkajsInternals(): { Encoder: new (size?: number) => { writeBuffer(b: Buffer): unknown }; none: number; paths: string[] } | undefined {
  try {
    const Encoder = require('kafkajs/src/protocol/encoder.js') as new (size?: number) => { writeBuffer(b: Buffer): unknown };
    const { Types } = require('kafkajs/src/protocol/message/compression/index.js') as { Types: { None: number } };
    const paths = [3, 4, 5, 6, 7].map((v) => require.resolve(`kafkajs/src/protocol/requests/produce/v${v}/request.js`));
    return { Encoder, none: Types.None, paths };
  } catch {
    return undefined;
  }
}

/**
 * Makes kafkajs (in this thread) encode uncompressed Produce requests with {@link encodeProduceRequest}.
 *
 * 1. Resolve kafkajs's Produce request modules v3–v7 and load each (from the module cache if already loaded).
 * 2. Replace each cached module's exports with a wrapper: the original builds the request (API key, version,
 *    `expectResponse`); for uncompressed sends the wrapper swaps in the fast `encode`.
 *
 * Idempotent. Returns false (and changes nothing) when the kafkajs found is not laid out as 2.2.x is.
 *
 * ## Example
 * ```ts
 * import { installFastProduceEncoder } from 'emstream';
 *
 * const installed = installFastProduceEncoder();
 * console.log(installed); // true
 * console.log(installFastProduceEncoder()); // true: already in place
 * ```
 *
 * @returns whether the fast encoder is in place
 */
export function installFastProduceEncoder(): boolean {
  const internals = kafkajsInternals();
  if (internals === undefined) return false;
  const { Encoder, none, paths } = internals;
  for (const path of paths) {
    const original = require(path) as RequestFactory;
    if (original[INSTALLED] === true) continue;
    const cached = require.cache[path];
    if (cached === undefined || typeof original !== 'function') return false;
    const fast: RequestFactory = (fields) => {
      const request = original(fields);
      if ((fields.compression ?? none) === none) {
        request.encode = () => Promise.resolve(new Encoder().writeBuffer(encodeProduceRequest(fields)));
      }
      return request;
    };
    fast[INSTALLED] = true;
    cached.exports = fast;
  }
  return true;
}

/** Whether {@link installFastProduceEncoder} is in effect in this thread. */
export function isFastProduceEncoderInstalled(): boolean {
  const internals = kafkajsInternals();
  return internals !== undefined && internals.paths.every((path) => (require.cache[path]?.exports as RequestFactory | undefined)?.[INSTALLED] === true);
}

/** kafkajs's `groupMessagesPerPartition` (what its producer calls per topic of every send). */
type GroupMessages = ((args: {
  topic: string;
  partitionMetadata: readonly unknown[];
  messages: readonly { partition?: number }[];
  partitioner: (args: { topic: string; partitionMetadata: readonly unknown[]; message: unknown }) => number;
}) => Record<number, unknown[]>) & { [INSTALLED]?: true };

/**
 * kafkajs 2.2.4's `groupMessagesPerPartition` in one pass: the same result (partition → its messages, in order, each
 * placed by kafkajs's partitioner), without kafkajs's copy of a partition's whole list for every message added
 * (`[...current, message]`: quadratic, about 2 µs per message of a 1000-message send, four times the encoder's cost).
 */
export const groupMessagesPerPartition: GroupMessages = ({ topic, partitionMetadata, messages, partitioner }) => {
  const result: Record<number, unknown[]> = {};
  if (partitionMetadata.length === 0) return result;
  for (const message of messages) {
    const partition = partitioner({ topic, partitionMetadata, message });
    (result[partition] ??= []).push(message);
  }
  return result;
};
groupMessagesPerPartition[INSTALLED] = true;

/**
 * Makes kafkajs (in this thread) group the messages of a send per partition in one pass
 * ({@link groupMessagesPerPartition}). kafkajs's producer reads that function once, when its module loads, so this
 * must run before kafkajs is loaded in the thread: the producer thread does it first thing.
 *
 * 1. Resolve kafkajs's `producer/groupMessagesPerPartition.js` and `producer/sendMessages.js`.
 * 2. If `sendMessages.js` is loaded already, it holds kafkajs's own: change nothing and return false.
 * 3. Otherwise load the module and replace its cached exports, so `sendMessages.js` gets this one.
 *
 * @returns whether the one-pass grouping is (or already was) in place
 */
export function installFastGrouping(): boolean {
  try {
    const path = require.resolve('kafkajs/src/producer/groupMessagesPerPartition.js');
    const user = require.resolve('kafkajs/src/producer/sendMessages.js');
    if ((require.cache[path]?.exports as GroupMessages | undefined)?.[INSTALLED] === true) return true;
    if (require.cache[user] !== undefined) return false;
    require(path);
    const cached = require.cache[path];
    if (cached === undefined) return false;
    cached.exports = groupMessagesPerPartition;
    return true;
  } catch {
    return false;
  }
}
