/**
 * The handle of a running pipeline (`runKafkaPipeline`'s result): its counters, how it ended, how to stop it.
 *
 * @module
 */
import type { RestoredModel } from '../state/restore.js';

/** Live counters of a running pipeline. */
export interface KafkaPipelineCounters {
  /** Messages consumed (decoded or not), not counting those skipped as covered by the restored state. */
  readonly consumed: number;
  /** Labels acknowledged by the broker. */
  readonly labelled: number;
  /** Dead letters enqueued (undecodable or rejected inputs). */
  readonly deadLettered: number;
  /** Model updates acknowledged by the broker. */
  readonly windows: number;
  /** Consumed records whose outputs are not all acknowledged. */
  readonly inFlight: number;
  /** Records skipped because the restored state already covered them (see docs/guarantees.md). */
  readonly skipped: number;
}

/** How a run ended. */
export interface KafkaPipelineResult {
  readonly counters: KafkaPipelineCounters;
  /** Positions committed last (one per partition). */
  readonly committed: readonly { topic: string; partition: number; offset: string }[];
  /** Records consumed but not committed (the open window, handed back): they are re-consumed by the next run. */
  readonly handedBack: number;
}

/** Options of {@link KafkaPipelineHandle.stop}. */
export interface StopOptions {
  /**
   * `false` (default): hand back the open window — its records are not committed and the next run re-reads them.
   * `true`: complete the input so the open window is fitted and labelled, then commit everything.
   */
  readonly finishWindow?: boolean;
}

/** A running pipeline. */
export interface KafkaPipelineHandle {
  /** Topics and group in use. */
  readonly config: {
    readonly input: readonly string[];
    readonly models: string;
    readonly labels: string;
    readonly deadLetters: string;
    /** The drift topic, or null when disabled. */
    readonly drift: string | null;
    /** The window-history topic, or null when disabled. */
    readonly windows: string | null;
    readonly group: string;
    readonly pipelineId: string;
    /** The maximum wait of the pipeline's count windows in ms (undefined: none). */
    readonly maxWaitMs: number | undefined;
  };
  /** The state message restored at startup, if any (at least once; exactly once, each task restores its own state when its partition is assigned, and this is undefined). */
  readonly restored: RestoredModel | undefined;
  /** Live counters. */
  readonly counters: KafkaPipelineCounters;
  /** Whether the run is ready (connected, partitions assigned, brokers answering, not stuck on backpressure). */
  readonly ready: boolean;
  /**
   * The shared-model mode (`sharedModel`): whether this member holds the reducer role now, and the version of the
   * latest global model it knows (null before the first). Undefined in the other modes.
   */
  readonly sharedModel: { readonly reducer: boolean; readonly version: number | null } | undefined;
  /** Graceful stop: stop fetching, flush outputs, commit what is acknowledged, disconnect. Idempotent. */
  stop(options?: StopOptions): Promise<KafkaPipelineResult>;
  /** Settles when the run ends: after `stop()`, or rejected with the error that ended it (always an `EmstreamError`). */
  readonly done: Promise<KafkaPipelineResult>;
}
