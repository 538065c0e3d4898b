/**
 * The client's error names, in one table: which errors of kafkajs 2.2.4 (and Node's sockets) mean "the brokers did
 * not answer (yet)", and one line describing an error. The rest of the edge asks these functions, never an error's
 * name.
 *
 * @module
 */

/** kafkajs (and Node) errors that mean "the brokers did not answer (yet)". */
const UNAVAILABLE_NAMES = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
  'KafkaJSLockTimeout',
  'KafkaJSTimeout',
  'KafkaJSMetadataNotLoaded',
  'KafkaJSTopicMetadataNotLoaded',
  'KafkaJSGroupCoordinatorNotFound',
  'KafkaJSStaleTopicMetadataAssignment',
]);
const UNAVAILABLE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

/**
 * Whether an error may go away when the same operation is tried again later: a connection or timeout error, a
 * kafkajs error flagged retriable (a leader moved, a coordinator is loading), or kafkajs's "number of retries
 * exceeded" wrapper around one of these. Errors that say the request itself is wrong (an invalid topic name, a
 * message too large, an authorization failure) are not.
 *
 * @param error - any error
 * @returns true when retrying may succeed
 */
export function isRetriable(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; depth < 6 && typeof e === 'object' && e !== null; depth++) {
    const x = e as { name?: unknown; code?: unknown; retriable?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof x.name === 'string' && UNAVAILABLE_NAMES.has(x.name)) return true;
    if (typeof x.code === 'string' && UNAVAILABLE_CODES.has(x.code)) return true;
    // kafkajs wraps the last error of its own retries in a non-retriable error (retriable: false): look at the cause.
    // (An error rebuilt from the producer thread carries the flag computed there.)
    if (x.retriable === true) return true;
    e = x.cause ?? x.originalError;
  }
  return false;
}

/**
 * Protocol errors that say another producer took over the transactional id (kafkajs's `type`): this producer was
 * fenced. `INVALID_PRODUCER_EPOCH` is what Kafka answers the API versions kafkajs 2.2.4 speaks; newer versions answer
 * `PRODUCER_FENCED` (code 90), which kafkajs does not name (it reports an unknown error with that code).
 */
const FENCED_TYPES = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED', 'INVALID_PRODUCER_ID_MAPPING']);
const FENCED_CODES = new Set([47, 49, 90]);

/** Walks an error and its causes (kafkajs wraps the last error of its retries). */
function* chain(error: unknown): Generator<Record<string, unknown>> {
  let e: unknown = error;
  for (let depth = 0; depth < 6 && typeof e === 'object' && e !== null; depth++) {
    const x = e as Record<string, unknown>;
    yield x;
    e = x.cause ?? x.originalError;
  }
}

/**
 * Whether an error says this transactional producer was fenced: a newer producer initialized the same transactional
 * id (a new owner of the input partition), so nothing this one sends or commits will count. Not retriable with this
 * producer.
 *
 * @param error - any error (also one rebuilt from the producer thread, which carries `context.fenced`)
 */
export function isFenced(error: unknown): boolean {
  for (const x of chain(error)) {
    if (typeof x.type === 'string' && FENCED_TYPES.has(x.type)) return true;
    if (typeof x.code === 'number' && FENCED_CODES.has(x.code)) return true;
    if (x.fenced === true || (x.context as { fenced?: unknown } | undefined)?.fenced === true) return true;
  }
  return false;
}

/**
 * The protocol error type of an error or of its causes (kafkajs `KafkaJSProtocolError.type`, e.g.
 * `CONCURRENT_TRANSACTIONS`), or `undefined`.
 */
export function protocolErrorType(error: unknown): string | undefined {
  for (const x of chain(error)) if (typeof x.type === 'string') return x.type;
  return undefined;
}
