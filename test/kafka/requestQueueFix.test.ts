import { createRequire } from 'node:module';
import { Kafka, logLevel } from 'kafkajs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createKafkaClient } from '../../src/kafka/client/kafkajs.js';
import { type AdminLike } from '../../src/kafka/client/ports.js';
import { installRequestQueueFix } from '../../src/kafka/client/requestQueueFix.js';
import { kafkaBrokers } from '../helpers/kafka.js';

const require = createRequire(import.meta.url);
const RequestQueue = require('kafkajs/src/network/requestQueue/index.js') as { prototype: { scheduleCheckPendingRequests: object } };
const installed = (): boolean => Symbol.for('emstream.requestQueueFix') in RequestQueue.prototype.scheduleCheckPendingRequests;

/** What the timers did while an admin connection sat idle after a few requests. */
interface TimerReport {
  /** setTimeout calls with a delay below 0 (kafkajs's `throttledUntil - Date.now()` with `throttledUntil = -1`). */
  negative: number;
  /** setTimeout calls of any delay during the idle period. */
  idleCalls: number;
  /** TimeoutNegativeWarning / TimeoutOverflowWarning events (Node ≥ 23 emits them). */
  warnings: string[];
}

/**
 * Connects an admin, sends three metadata requests, then idles for `idleMs`, watching setTimeout.
 *
 * 1. Spy on `globalThis.setTimeout` (kafkajs looks it up at call time) and on process warnings.
 * 2. With `clampForNode`, pass a negative delay on as 1 ms (what Node does anyway), so the control run does
 *    not print the very warning this is about; otherwise pass every delay on unchanged.
 */
async function watchIdleAdmin(admin: AdminLike, options: { idleMs: number; clampForNode: boolean }): Promise<TimerReport> {
  const report: TimerReport = { negative: 0, idleCalls: 0, warnings: [] };
  const onWarning = (w: Error): void => {
    if (/^Timeout(Negative|Overflow)Warning$/.test(w.name)) report.warnings.push(`${w.name}: ${w.message}`);
  };
  process.on('warning', onWarning);
  const realSetTimeout = globalThis.setTimeout;
  const forward = realSetTimeout as (fn: () => void, ms?: number, ...args: unknown[]) => ReturnType<typeof setTimeout>;
  let idle = false;
  vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number, ...args: unknown[]) => {
    if (typeof ms === 'number' && ms < 0) report.negative++;
    if (idle) report.idleCalls++;
    const delay = options.clampForNode && typeof ms === 'number' && ms < 1 ? 1 : ms;
    return forward(fn, delay, ...args);
  }) as typeof setTimeout);
  try {
    await admin.connect();
    for (let i = 0; i < 3; i++) await admin.listTopics();
    idle = true;
    await new Promise((resolve) => realSetTimeout(resolve, options.idleMs));
    idle = false;
    await admin.disconnect();
    await new Promise((resolve) => realSetTimeout(resolve, 20)); // let an emitted warning reach the listener
  } finally {
    vi.restoreAllMocks();
    process.off('warning', onWarning);
  }
  return report;
}

describe('kafkajs request-queue timer (the negative-delay warning of Node 24)', () => {
  afterEach(() => vi.restoreAllMocks());

  // Runs first, in this file's own process (vitest isolates test files), before anything installs the fix.
  it('control: kafkajs 2.2.4 alone reschedules a negative-delay timer about every millisecond on an idle connection', async () => {
    expect(installed(), 'the fix was installed before the control ran: this file must run in its own process').toBe(false);
    const admin = new Kafka({ clientId: 'emstream-timer-control', brokers: kafkaBrokers(), logLevel: logLevel.NOTHING }).admin();
    const report = await watchIdleAdmin(admin, { idleMs: 300, clampForNode: true });
    expect(report.negative).toBeGreaterThan(50);
    expect(report.idleCalls).toBeGreaterThan(50);
  });

  it('clients made by createKafkaClient set no negative timer, stay quiet when idle and emit no timeout warning', async () => {
    const kafka = await createKafkaClient(kafkaBrokers(), { clientId: 'emstream-timer-fixed', logLevel: 'nothing' });
    const report = await watchIdleAdmin(kafka.admin(), { idleMs: 300, clampForNode: false });
    expect(report).toEqual({ negative: 0, idleCalls: 0, warnings: [] });
    expect(installed()).toBe(true);
  });

  it('install is idempotent and keeps one wrapper', () => {
    expect(installRequestQueueFix()).toBe(true);
    const once = RequestQueue.prototype.scheduleCheckPendingRequests;
    expect(installRequestQueueFix()).toBe(true);
    expect(RequestQueue.prototype.scheduleCheckPendingRequests).toBe(once);
    expect(installed()).toBe(true);
  });
});
