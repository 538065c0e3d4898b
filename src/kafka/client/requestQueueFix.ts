/**
 * Stops kafkajs 2.2.4's idle 1 ms timer loop per broker connection (kafkajs issues #1704, #1751), the source of
 * Node ≥ 23's `TimeoutNegativeWarning: -1796… is a negative number. Timeout duration was set to 1.`
 *
 * kafkajs's `RequestQueue.scheduleCheckPendingRequests` (src/network/requestQueue/index.js) runs after every
 * response and computes `throttledUntil - Date.now()`; `throttledUntil` starts at `-1` (an absolute timestamp
 * meaning "not throttled"), so the delay is minus the current epoch time. Node clamps it to 1 ms (Node 24 also
 * warns), the timer calls `checkPendingRequests`, which schedules the next one: about 700–900 timers a second
 * on every connected, idle connection, on every Node version. The timer only ever sends pending requests, so
 * with an empty queue it has nothing to do; a request that gets queued later (throttling, in-flight limit)
 * schedules its own check as before.
 *
 * kafkajs has no option for this, so this patches the class in the kafkajs module loaded by this realm
 * (thread), for every client in it, the way {@link installFastProduceEncoder} does (kafkajs is pinned to
 * exactly 2.2.4). emstream installs it wherever it creates a kafkajs client.
 *
 * @module
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Marks the patched method, so a second install is a no-op. */
const INSTALLED = Symbol.for('emstream.requestQueueFix');

/** The part of a kafkajs `RequestQueue` this reads. */
interface RequestQueueLike {
  pending: unknown[];
}

type ScheduleCheck = ((this: RequestQueueLike) => void) & { [INSTALLED]?: true };

/** kafkajs's `RequestQueue.prototype`, or undefined when the installed kafkajs is not laid out as 2.2.x is. */
function requestQueuePrototype(): { scheduleCheckPendingRequests?: ScheduleCheck } | undefined {
  try {
    const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype?: { scheduleCheckPendingRequests?: ScheduleCheck } };
    const proto = RequestQueue.prototype;
    return typeof proto?.scheduleCheckPendingRequests === 'function' ? proto : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Makes kafkajs (in this thread) schedule a pending-request check only when a request is pending.
 *
 * 1. Load kafkajs's `RequestQueue` class (the one its connections use, from the module cache).
 * 2. Wrap `scheduleCheckPendingRequests`: with an empty pending queue return at once; otherwise run
 *    kafkajs's own (throttle delay, or its 10 ms re-check).
 *
 * Idempotent. Returns false (and changes nothing) when the kafkajs found is not laid out as 2.2.x is.
 *
 * ## Example
 * ```ts
 * import { installRequestQueueFix } from 'emstream';
 *
 * console.log(installRequestQueueFix()); // true
 * ```
 *
 * @returns whether the fix is in place
 */
export function installRequestQueueFix(): boolean {
  const proto = requestQueuePrototype();
  if (proto === undefined) return false;
  const original = proto.scheduleCheckPendingRequests!;
  if (original[INSTALLED] === true) return true;
  const fixed: ScheduleCheck = function (this: RequestQueueLike) {
    if (this.pending.length === 0) return;
    original.call(this);
  };
  fixed[INSTALLED] = true;
  proto.scheduleCheckPendingRequests = fixed;
  return true;
}
