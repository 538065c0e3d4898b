/**
 * The scope in which a runner builds a pipeline: operators created while `build` runs find what the
 * runner restored (the saved streaming state) without the pipeline's author passing it along.
 *
 * `runKafkaPipeline` restores the latest state of a pipeline from its models topic and builds the pipeline
 * inside {@link buildInPipelineScope}; every {@link fitMixture} created during that call asks
 * {@link claimPipelineState} and the first one that was not given a model of its own resumes from the state.
 * So a pipeline written as `input.pipe(windowVectors(…), fitMixture(…))` continues after a restart, and its
 * author cannot forget to wire it.
 *
 * @module
 */
import type { StreamingOptions, StreamingStateJSON } from '../gmm/streaming.js';
import type { SharedModelLink } from './sharedMember.js';
import type { InvalidVector } from './types.js';

/** What a runner offers the operators of the pipeline it builds. */
export interface PipelineScope {
  /** The saved state the pipeline's `fitMixture` resumes from. */
  readonly initialState?: StreamingStateJSON;
  /**
   * The runner's dead-letter path: operators created in the scope send here what they cannot process and were
   * given no handler for (e.g. the records of a window whose fit fails), so the stream goes on.
   */
  readonly onInvalid?: (invalid: InvalidVector<unknown>) => void;
  /**
   * The shared-model mode: the global model of the consumer group. The first `fitMixture` created in the scope
   * becomes a member (see `sharedMember`): it labels each window with the latest global model and contributes the
   * window's statistics under it, instead of fitting a model of its own.
   */
  readonly sharedModel?: SharedModelLink;
  /**
   * The runner's maximum wait of count windows (`emstream run --max-wait-ms`): `windowVectors` of plain count windows
   * created in the scope and given no `maxWaitMs` of their own close a window that long after its first record.
   */
  readonly maxWaitMs?: number;
}

/** What happened inside a scope. */
export interface PipelineScopeReport<T> {
  /** What `build` returned. */
  readonly result: T;
  /** How many `fitMixture` operators were created during `build`. */
  readonly mixtures: number;
  /** Whether one of them took `initialState`. */
  readonly stateClaimed: boolean;
  /** Whether one of them became a member of the shared model. */
  readonly sharedClaimed: boolean;
  /** The streaming options of the `fitMixture` that became a member (the reducer fits the global model with them). */
  readonly sharedOptions: StreamingOptions | undefined;
}

interface ActiveScope {
  readonly scope: PipelineScope;
  mixtures: number;
  claimed: boolean;
  sharedClaimed: boolean;
  sharedOptions: StreamingOptions | undefined;
}

let active: ActiveScope | undefined;

/**
 * Runs `build` with `scope` visible to the operators it creates.
 *
 * ## Example
 * ```ts
 * import { from } from 'rxjs';
 * import { buildInPipelineScope, fitMixture, StreamingGmm, windowVectors } from 'emstream';
 *
 * const saved = new StreamingGmm({ k: 2 });
 * saved.update({ n: 4, d: 1, data: Float64Array.of(0, 0.1, 5, 5.1) });
 * const { result: updates$, stateClaimed } = buildInPipelineScope({ initialState: saved.toJSON() }, () =>
 *   from([[0], [0.2], [5], [5.2]]).pipe(windowVectors({ size: 4 }), fitMixture({ k: 2 })),
 * );
 * updates$.subscribe((u) => console.log(stateClaimed, u.version)); // → true 2
 * ```
 *
 * @param scope - what the operators may claim
 * @param build - builds the pipeline (synchronously)
 * @returns what `build` returned, and what the operators claimed
 */
export function buildInPipelineScope<T>(scope: PipelineScope, build: () => T): PipelineScopeReport<T> {
  const outer = active;
  const mine: ActiveScope = { scope, mixtures: 0, claimed: false, sharedClaimed: false, sharedOptions: undefined };
  active = mine;
  try {
    const result = build();
    return { result, mixtures: mine.mixtures, stateClaimed: mine.claimed, sharedClaimed: mine.sharedClaimed, sharedOptions: mine.sharedOptions };
  } finally {
    active = outer;
  }
}

/**
 * The dead-letter path of the scope being built, for operators created in it.
 *
 * @returns the runner's `onInvalid`, or `undefined` outside a scope
 */
export function scopeOnInvalid(): ((invalid: InvalidVector<unknown>) => void) | undefined {
  return active?.scope.onInvalid;
}

/**
 * The maximum wait of count windows of the scope being built, for `windowVectors` created in it.
 *
 * @returns the runner's `maxWaitMs`, or `undefined` outside a scope (or when the runner sets none)
 */
export function scopeMaxWaitMs(): number | undefined {
  return active?.scope.maxWaitMs;
}

/**
 * Called by `fitMixture` when it is created: counts it, and hands the scope's saved state to the first one
 * that asks for it (`wantsState`: it was not given a model or state of its own).
 *
 * @param wantsState - whether the caller would resume from a saved state
 * @returns the state to resume from, or `undefined` (outside a scope, already claimed, or none saved)
 */
export function claimPipelineState(wantsState: boolean): StreamingStateJSON | undefined {
  if (active === undefined) return undefined;
  active.mixtures++;
  if (!wantsState || active.claimed || active.scope.initialState === undefined) return undefined;
  active.claimed = true;
  return active.scope.initialState;
}

/**
 * Called by `fitMixture` when it is created, before {@link claimPipelineState}: hands the scope's shared model to the
 * first one that asks (`wantsShared`: it was not given a model or state of its own), which then runs as a member of
 * the shared model. A `fitMixture` given a model of its own keeps fitting it alone.
 *
 * @param wantsShared - whether the caller would run as a member
 * @param options - the caller's streaming options (the reducer fits the global model with them)
 * @returns the shared model, or `undefined` (outside a shared scope, or already claimed)
 */
export function claimSharedModel(wantsShared: boolean, options: StreamingOptions): SharedModelLink | undefined {
  if (active === undefined || active.scope.sharedModel === undefined || !wantsShared || active.sharedClaimed) return undefined;
  active.sharedClaimed = true;
  active.sharedOptions = options;
  active.mixtures++;
  return active.scope.sharedModel;
}
