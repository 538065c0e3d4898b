/**
 * Readiness of a Kafka pipeline, followed from its instrumentation events (for `/readyz`).
 *
 * @module
 */
import { z } from 'zod';
import type { EmstreamEvents, EventSource } from '../instrumentation.js';
import { parseOptions } from '../options.js';

/** What `/readyz` answers. */
export interface ReadinessReport {
  readonly ready: boolean;
  /** Why the pipeline is not ready (empty when it is). */
  readonly reasons: readonly string[];
}

/** Options of {@link Readiness}. */
export interface ReadinessOptions {
  /** A backpressure wait longer than this makes the pipeline not ready (default 30 000 ms). */
  readonly stuckAfterMs?: number;
  /** Clock in milliseconds (default `Date.now`), for tests. */
  readonly now?: () => number;
}

const optionsSchema = z
  .object({
    stuckAfterMs: z.number().int('must be an integer (ms)').min(1, 'must be at least 1 ms').default(30_000),
    now: z.custom<() => number>((v) => typeof v === 'function', 'must be a function returning milliseconds').default(() => Date.now),
  })
  .strict();

/**
 * Follows whether a Kafka pipeline can do its work, from the edge's events.
 *
 * Ready means all of:
 * 1. the consumer is connected (`kafka.connect` / `kafka.disconnect` with `role: 'consumer'`);
 * 2. it has partitions assigned (`kafka.rebalance`: the assignment minus `revoked` plus `assigned`);
 * 3. it is not stuck on backpressure: no `kafka.backpressure.wait` has been waiting (started with
 *    `done: false`, not yet ended with `done: true`) for longer than `stuckAfterMs`;
 * 4. the consumer has not crashed without a restart (`kafka.consumer.crash` with `restart: false`);
 * 5. the edge's own verdict, the latest `kafka.ready`, is not `ready: false`.
 *
 * ## Example
 * ```ts
 * import { Instrumentation, Readiness } from 'emstream';
 *
 * const instrumentation = new Instrumentation();
 * const readiness = new Readiness(instrumentation);
 * console.log(readiness.report()); // → { ready: false, reasons: [ 'the consumer is not connected' ] }
 * readiness.close();
 * ```
 */
export class Readiness {
  private readonly stuckAfterMs: number;
  private readonly now: () => number;
  private connected = false;
  private readonly assigned = new Map<string, Set<number>>();
  private waitingSince: number | null = null;
  private crashed: string | null = null;
  private edge: { ready: boolean; reason: string } | null = null;
  private readonly unsubscribe: (() => void)[];

  /**
   * @param instrumentation - the pipeline's instrumentation (the edge emits `kafka.*` on it)
   * @param options - backpressure limit and clock
   * @throws EmstreamOptionsError when the options are invalid
   */
  constructor(instrumentation: EventSource, options: ReadinessOptions = {}) {
    const o = parseOptions(optionsSchema, options, 'Readiness');
    this.stuckAfterMs = o.stuckAfterMs;
    this.now = o.now;
    const events = instrumentation;
    this.unsubscribe = [
      events.on('kafka.connect', (e) => {
        if (e.role === 'consumer') {
          this.connected = true;
          this.crashed = null;
        }
      }),
      events.on('kafka.disconnect', (e) => {
        if (e.role === 'consumer') {
          this.connected = false;
          this.assigned.clear();
        }
      }),
      events.on('kafka.rebalance', (e) => {
        this.apply(e.revoked, false);
        this.apply(e.assigned, true);
      }),
      events.on('kafka.backpressure.wait', (e) => {
        if (!e.done) this.waitingSince ??= this.now();
        else this.waitingSince = null;
      }),
      events.on('kafka.consumer.crash', (e) => {
        if (!e.restart) this.crashed = e.error;
      }),
      events.on('kafka.ready', (e) => {
        this.edge = { ready: e.ready, reason: e.reason };
      }),
    ];
  }

  private apply(list: EmstreamEvents['kafka.rebalance']['assigned'], add: boolean): void {
    for (const { topic, partitions } of list) {
      let set = this.assigned.get(topic);
      if (set === undefined) {
        if (!add) continue;
        this.assigned.set(topic, (set = new Set()));
      }
      for (const p of partitions) {
        if (add) set.add(p);
        else set.delete(p);
      }
      if (set.size === 0) this.assigned.delete(topic);
    }
  }

  /** Number of partitions currently assigned to the consumer. */
  assignedPartitions(): number {
    let n = 0;
    for (const set of this.assigned.values()) n += set.size;
    return n;
  }

  /** Whether the pipeline is ready, and if not, every reason why. */
  report(): ReadinessReport {
    const reasons: string[] = [];
    if (this.crashed !== null) reasons.push(`the consumer crashed and will not restart: ${this.crashed}`);
    if (!this.connected) reasons.push('the consumer is not connected');
    else if (this.assignedPartitions() === 0) reasons.push('no partitions are assigned to the consumer');
    if (this.waitingSince !== null) {
      const waited = this.now() - this.waitingSince;
      if (waited > this.stuckAfterMs) {
        reasons.push(`stuck on backpressure: waiting for in-flight records for ${(waited / 1000).toFixed(1)} s (limit ${(this.stuckAfterMs / 1000).toFixed(1)} s)`);
      }
    }
    if (this.edge !== null && !this.edge.ready) reasons.push(`the Kafka edge reports not ready: ${this.edge.reason}`);
    return { ready: reasons.length === 0, reasons };
  }

  /** Stops listening. */
  close(): void {
    for (const u of this.unsubscribe) u();
  }
}
