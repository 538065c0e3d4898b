/**
 * Where a streaming window's time goes: an opt-in profiler of the phases of `StreamingGmm.update` (and of the
 * operators around it), for `npm run bench -- streaming --breakdown`. Off by default; when off, a phase mark is
 * one null check.
 *
 * Phases nest: a phase's time is its own (exclusive), the time of the phases inside it is theirs. So the
 * warm candidate's EM runs (`em`) are not counted in the birth-and-death or selection phases that contain other
 * EM runs of theirs.
 *
 * @module
 */

/** The phases of a window. */
export const WINDOW_PHASES = [
  /** checkDataset, the window put into shared memory, the state kept to roll back a failed window. */
  'validation',
  /** The warm candidate's EM runs: iterations (E-step, M-step, factoring) and their final E-step. */
  'em',
  /** The warm candidate's per-component tests (mean, shape) and the weights test. */
  'componentTests',
  /** The predictive log-likelihood when the warm candidate failed; the likelihood step of the drift detector. */
  'predict',
  /** Cold candidates and the held-out comparison (when they run). */
  'selection',
  /** A cold winner's components matched to the previous model. */
  'alignment',
  /** Birth and death: the verdict on the last re-seed, the screen of moves, held-out refits. */
  'birthDeath',
  /** A change of K (with `k: { min, max }`). */
  'kChange',
  /** Per-point outputs under the final model when the winner's last E-step did not write them, and label ids. */
  'labels',
  /** The statistics and evidence carried forward. */
  'carry',
  /** Model distance, component scores, the drift detector's observation. */
  'drift',
  /** The update's model and state: the result of `update`, the operator's update object and events. */
  'emission',
] as const;

export type WindowPhase = (typeof WINDOW_PHASES)[number];

/** Accumulated exclusive time per phase over the windows profiled. */
export class WindowProfile {
  /** Milliseconds per phase, summed over windows. */
  readonly ms: Record<WindowPhase, number> = Object.fromEntries(WINDOW_PHASES.map((p) => [p, 0])) as Record<WindowPhase, number>;
  /** Windows profiled (counted by {@link countWindow}). */
  windows = 0;
  private readonly stack: { phase: WindowPhase; start: number; inner: number }[] = [];

  /** Starts a phase; returns the depth to leave to. */
  enter(phase: WindowPhase): number {
    this.stack.push({ phase, start: performance.now(), inner: 0 });
    return this.stack.length - 1;
  }

  /** Ends the phases above `depth` (inner ones an exception skipped first), and the one at it. */
  leaveTo(depth: number): void {
    while (this.stack.length > depth) this.leave();
  }

  /** Ends the innermost phase. */
  leave(): void {
    const top = this.stack.pop();
    if (top === undefined) return;
    const elapsed = performance.now() - top.start;
    this.ms[top.phase] += elapsed - top.inner;
    const parent = this.stack[this.stack.length - 1];
    if (parent !== undefined) parent.inner += elapsed;
  }

  /** Clears the totals (e.g. after warm-up windows). */
  reset(): void {
    for (const p of WINDOW_PHASES) this.ms[p] = 0;
    this.windows = 0;
  }
}

let active: WindowProfile | null = null;

/**
 * Profiles the windows fitted from now on (in this thread) into `profile`; null stops.
 *
 * @returns the profile that was active before
 */
export function profileWindows(profile: WindowProfile | null): WindowProfile | null {
  const before = active;
  active = profile;
  return before;
}

/** Runs `fn` as phase `phase` (exclusive of the phases inside it). */
export function inPhase<T>(phase: WindowPhase, fn: () => T): T {
  const p = active;
  if (p === null) return fn();
  const depth = p.enter(phase);
  try {
    return fn();
  } finally {
    p.leaveTo(depth);
  }
}

/** Starts phase `phase` for straight-line code; end it with {@link leavePhase} (an enclosing {@link inPhase} ends it on an exception). */
export function enterPhase(phase: WindowPhase): void {
  active?.enter(phase);
}

/** Ends the innermost phase started by {@link enterPhase}. */
export function leavePhase(): void {
  active?.leave();
}

/** Counts one window in the active profile. */
export function countWindow(): void {
  if (active !== null) active.windows++;
}
