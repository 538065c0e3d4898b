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
