/**
 * A member of a shared model: what `fitMixture` does when a runner builds it in a shared-model scope
 * (`runKafkaPipeline({ sharedModel })`). It fits nothing itself: each window is labelled with the latest global
 * model and its statistics under that model are handed to the runner, one contribution per input partition, for the
 * group's reducer to merge.
 *
 * @module
 */
import type { OperatorFunction } from 'rxjs';
import { DRIFT_KINDS } from '../gmm/drift.js';
import { CovarianceError, DataError, NumericError, StateMismatchError } from '../gmm/errors.js';
import type { MixtureJSON } from '../gmm/model.js';
import type { StreamingOptions, StreamingStateJSON } from '../gmm/streaming.js';
import type { GmmParams } from '../gmm/types.js';
import { guarded, operate, operatorSubscriber } from './operate.js';
import { windowContributions, type ContributionSegment } from './windowContributions.js';
import type { Instrumentation } from '../instrumentation.js';
import { compareOffsets, partitionKey } from '../offsets.js';
import { recordCoordinates } from './vectorInput.js';
import type { InvalidVector, MixtureUpdate, VectorWindow, WindowContribution } from './types.js';
import { checkNotReleased, ownedWindow } from './windowVectors.js';

/** A global model of a shared-model run, as a member uses it. */
export interface GlobalModel {
  /** The global model version (the reducer's, +1 per round). */
  readonly version: number;
  readonly params: GmmParams;
  /** The model in its JSON form (as in model messages). */
  readonly model: MixtureJSON;
  /** The label of each component (component index → label). */
  readonly labelIds: readonly number[];
  /** The origin of the global statistics: contributions are accumulated about it. */
  readonly shift: Float64Array;
  /** The whole state the model came with. */
  readonly state: StreamingStateJSON;
  /** The Page-Hinkley statistic of the global drift detector and its threshold. */
  readonly pageHinkley: { readonly statistic: number; readonly threshold: number };
  /**
   * The first offset of an input partition whose point the global statistics do not count yet (undefined: none
   * counted): a member leaves records below it out of its contributions (they are a replay).
   */
  covered(topic: string, partition: number): string | undefined;
}

/** What a member needs from the runner: the latest global model, a way to wait for one, and where seeds go. */
export interface SharedModelLink {
  /** The latest global model this member knows, or `undefined` before the first. */
  current(): GlobalModel | undefined;
  /**
   * Resolves with the first global model whose version is above `version`.
   *
   * @throws (rejects) when none comes within the link's bound
   */
  next(version: number): Promise<GlobalModel>;
  /**
   * Offers the points of a window that found no global model yet: the reducer fits the first model from the seeds
   * it receives (they are not counted in its statistics; the same points come back as contributions).
   */
  seed(window: { readonly n: number; readonly d: number; readonly points: Float64Array }): void;
  /** Points sampled into each contribution (for the reducer's held-out checks). */
  readonly samplePoints: number;
}

/** What {@link sharedMember} needs from `fitMixture`'s options. */
export interface SharedMemberOptions<R> {
  readonly streaming: StreamingOptions;
  readonly instrumentation?: Instrumentation;
  readonly onInvalid?: (invalid: InvalidVector<R>) => void;
}

/** The typed errors of a window that cannot be labelled numerically. */
function isUnfittable(err: unknown): err is CovarianceError | DataError | NumericError {
  return err instanceof CovarianceError || err instanceof DataError || err instanceof NumericError;
}

/**
 * Checks that a global model fits the member's own options (K, covariance type), as a restored state would be.
 *
 * @throws StateMismatchError naming each difference
 */
function checkGlobal(model: GlobalModel, o: StreamingOptions): void {
  const k = o.k;
  const type = o.covarianceType ?? 'full';
  const kOk = typeof k === 'number' ? model.params.k === k : model.params.k >= k.min && model.params.k <= k.max;
  const differences = [
    ...(kOk ? [] : [{ setting: 'k', saved: String(model.params.k), requested: typeof k === 'number' ? String(k) : `${k.min}..${k.max}` }]),
    ...(model.params.covarianceType === type ? [] : [{ setting: 'covarianceType', saved: model.params.covarianceType, requested: type }]),
  ];
  if (differences.length > 0) throw new StateMismatchError(differences, 'every member of a shared model must be configured as the model was made');
}

/**
 * The window's rows by input partition: maximal runs of consecutive rows of one partition, each either counted
 * (at or above the partition's covered offset) or not (a replay of what the global statistics already count).
 *
 * @returns the segments, and per partition (in order of appearance) its topic, partition and offset range
 */
function segmentsOf<R>(window: VectorWindow<R>, model: GlobalModel): { segments: ContributionSegment[]; parts: { topic: string; partition: number; first: string | undefined; last: string | undefined; below: string | undefined }[] } {
  const parts: { topic: string; partition: number; first: string | undefined; last: string | undefined; below: string | undefined }[] = [];
  const index = new Map<string, number>();
  const segments: ContributionSegment[] = [];
  // Records come in runs of one partition (a fetched batch each): the previous record's part is looked at first.
  let lastTopic: string | undefined;
  let lastPartition = -1;
  let p = -1;
  for (let i = 0; i < window.n; i++) {
    const { topic, partition, offset } = recordCoordinates(window.records[i]);
    if (topic === undefined || partition === undefined || offset === undefined) {
      throw new DataError(`a member of a shared model needs the Kafka coordinates of every record (row ${i} of window ${window.index} has none)`);
    }
    if (partition !== lastPartition || topic !== lastTopic) {
      const key = partitionKey(topic, partition);
      const found = index.get(key);
      if (found === undefined) {
        p = parts.length;
        index.set(key, p);
        parts.push({ topic, partition, first: undefined, last: undefined, below: model.covered(topic, partition) });
      } else p = found;
      lastTopic = topic;
      lastPartition = partition;
    }
    const below = parts[p].below;
    const counted = below === undefined || compareOffsets(offset, below) >= 0;
    const part = counted ? p : -1;
    if (counted) {
      const entry = parts[p];
      if (entry.first === undefined) entry.first = offset;
      entry.last = offset;
    }
    const last = segments.at(-1);
    if (last !== undefined && last.part === part && last.end === i) last.end = i + 1;
    else segments.push({ part, start: i, end: i + 1 });
  }
  return { segments, parts };
}

/** A seed for a contribution's sample: the same partition and first offset always sample the same points. */
function sampleSeed(partition: number, firstOffset: string): number {
  let h = (0x9e3779b9 ^ partition) >>> 0;
  for (let i = 0; i < firstOffset.length; i++) h = Math.imul(h ^ firstOffset.charCodeAt(i), 0x01000193) >>> 0;
  return h | 0;
}

/**
 * One window of a member: labels under the global model and the window's contributions.
 *
 * 1. The rows by input partition ({@link segmentsOf}); rows below a partition's covered offset are labelled but not
 *    counted (an at-least-once replay of what the global statistics already hold).
 * 2. One E-step of the window under the global model (no M-step): labels, their probabilities and log-densities,
 *    and per partition the sufficient statistics about the global origin, the log-likelihood sums and a seeded sample
 *    ({@link windowContributions}).
 * 3. The update: the global model and version, the labels (component index → label through `labelIds`), and the
 *    contributions.
 */
function memberWindow<R>(window: VectorWindow<R>, model: GlobalModel, link: SharedModelLink, hard: boolean): MixtureUpdate<R> {
  const { segments, parts } = segmentsOf(window, model);
  const result = windowContributions(model.params, { n: window.n, d: window.d, data: window.points }, {
    shift: model.shift,
    segments,
    parts: parts.length,
    hard,
    samplePoints: link.samplePoints,
    sampleSeed: (p) => sampleSeed(parts[p].partition, parts[p].first ?? '0'),
  });
  const ids = model.labelIds;
  const identity = ids.every((id, k) => id === k);
  if (!identity) for (let i = 0; i < window.n; i++) result.labels[i] = ids[result.labels[i]];
  const contributions: WindowContribution[] = [];
  parts.forEach((part, p) => {
    const c = result.parts[p];
    if (part.first === undefined || part.last === undefined || c.count === 0) return;
    contributions.push({
      topic: part.topic,
      partition: part.partition,
      firstOffset: part.first,
      lastOffset: part.last,
      count: c.count,
      windowShare: c.count / window.n,
      modelVersion: model.version,
      stats: c.stats,
      logLikelihood: c.logLikelihood,
      logLikelihoodSquares: c.logLikelihoodSquares,
      expectedLogLikelihood: c.expectedLogLikelihood,
      sample: c.sample,
      sampleSize: c.sampleSize,
    });
  });
  const meanLogLikelihood = result.logLikelihood / window.n;
  return {
    version: model.version,
    model: model.model,
    labels: result.labels,
    probabilities: result.probabilities,
    logDensities: result.logDensities,
    logLikelihood: meanLogLikelihood,
    expectedLogLikelihood: result.expectedLogLikelihood / window.n,
    predictiveLogLikelihood: meanLogLikelihood,
    iterations: 0,
    converged: true,
    warmStarted: true,
    restarted: false,
    drift: [],
    modelDistance: 0,
    pageHinkley: model.pageHinkley,
    predictiveStandardError: standardErrorOf(result.logDensities, meanLogLikelihood),
    ...globalDrift(model),
    reverted: [],
    candidates: [],
    k: model.params.k,
    labelIds: [...ids],
    reseeded: [],
    reseedReasons: [],
    componentDrift: null,
    kChange: null,
    windowIndex: window.index,
    state: model.state,
    window,
    contributions,
  };
}

/** The standard error of a window's mean log-density (sd / √n; 0 with fewer than two points). */
function standardErrorOf(logDensities: Float64Array, mean: number): number {
  const n = logDensities.length;
  if (n < 2) return 0;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (logDensities[i] - mean) * (logDensities[i] - mean);
  return Math.sqrt(ss / (n - 1) / n);
}

/**
 * The drift of the global model as a member reports it: the reducer decides drift once, on the rounds; a member's
 * window shows the global detector's Page-Hinkley statistic and drifting state as the model it labelled with carries
 * them (the other statistics are the reducer's, on its rounds: 0 here), and raises no alarm.
 */
function globalDrift(model: GlobalModel): Pick<MixtureUpdate<unknown>, 'driftStatistics' | 'drifting' | 'driftEnded'> {
  const d = model.state.drift;
  const o = d.options;
  const a = d.alarms;
  const likelihood = { statistic: model.pageHinkley.statistic, threshold: model.pageHinkley.threshold };
  return {
    driftStatistics: {
      likelihood,
      modelDistance: { statistic: 0, threshold: o.distanceThreshold },
      component: { statistic: 0, threshold: o.componentThreshold, label: null },
      weights: { statistic: 0, threshold: o.weightsThreshold },
    },
    drifting: {
      active: (a?.since ?? null) !== null,
      since: a?.since ?? null,
      kinds: DRIFT_KINDS.filter((k) => (a?.kinds ?? []).some((e) => e.kind === k) || (k === 'component' && (a?.components.length ?? 0) > 0)),
      components: (a?.components ?? []).map((c) => c.label).sort((x, y) => x - y),
      severity: likelihood.threshold > 0 ? likelihood.statistic / likelihood.threshold : 0,
      progress: a?.progress ?? 0,
    },
    driftEnded: null,
  };
}

/**
 * `fitMixture` as a member of a shared model (see the module comment).
 *
 * 1. A window with a global model to hand: labelled and contributed at once ({@link memberWindow}), in order.
 * 2. A window before the first global model: its points are offered as a seed, and it waits for the model (bounded
 *    by the link), as do the windows after it (their order is kept).
 * 3. A window that cannot be labelled numerically goes to `onInvalid` with reason `'unfittable'` (or errors the
 *    stream without one); a global model of another K or covariance type errors it with a `StateMismatchError`.
 *
 * @param options - the streaming options of the `fitMixture` (K, covariance type, EM mode), instrumentation, dead letters
 * @param link - the runner's shared model
 * @returns the operator
 */
export function sharedMember<R>(options: SharedMemberOptions<R>, link: SharedModelLink): OperatorFunction<VectorWindow<R>, MixtureUpdate<R>> {
  const { streaming, instrumentation, onInvalid } = options;
  const hard = streaming.mode === 'hard';
  return operate<VectorWindow<R>, MixtureUpdate<R>>((source, subscriber) => {
    /** Windows waiting for a first global model (or for the ones before them), in order. */
    const waiting: VectorWindow<R>[] = [];
    let waitingFor: Promise<void> | null = null;
    let completed = false;
    let checked: GlobalModel | undefined;

    const process = (window: VectorWindow<R>, model: GlobalModel): void => {
      if (subscriber.closed) return;
      const started = performance.now();
      let update: MixtureUpdate<R>;
      try {
        if (model !== checked) {
          checkGlobal(model, streaming);
          checked = model;
        }
        update = memberWindow(window, model, link, hard);
      } catch (err) {
        if (onInvalid === undefined || !isUnfittable(err)) {
          subscriber.error(err);
          return;
        }
        instrumentation?.emit('em.window.failed', { windowIndex: window.index, n: window.n, reason: 'unfittable', message: err.message });
        for (const record of window.records) {
          if (subscriber.closed) return;
          onInvalid({ record, reason: 'unfittable', message: `window ${window.index} could not be labelled with the global model (version ${model.version}): ${err.message}` });
        }
        return;
      }
      if (instrumentation?.listening('em.window.fitted')) {
        instrumentation.emit('em.window.fitted', {
          windowIndex: update.windowIndex,
          version: update.version,
          n: window.n,
          iterations: 0,
          converged: true,
          warmStarted: true,
          restarted: false,
          logLikelihood: update.logLikelihood,
          durationMs: performance.now() - started,
          expectedLogLikelihood: update.expectedLogLikelihood,
          predictiveLogLikelihood: update.predictiveLogLikelihood,
          modelDistance: 0,
          pageHinkley: { ...update.pageHinkley },
          driftStatistics: update.driftStatistics,
          drifting: update.drifting,
          reverted: [],
          weights: [...update.model.weights],
          reseeded: [],
          k: update.k,
          labelIds: [...update.labelIds],
        });
      }
      subscriber.next(update);
    };

    /** Waits for the first global model, then processes the windows held meanwhile, in order. */
    const waitForModel = (): void => {
      waitingFor = link.next(0).then(
        (model) =>
          guarded(subscriber, () => {
            waitingFor = null;
            for (const window of waiting.splice(0)) process(window, link.current() ?? model);
            if (completed && !subscriber.closed) subscriber.complete();
          }),
        (err: unknown) => {
          waitingFor = null;
          waiting.length = 0;
          if (!subscriber.closed) subscriber.error(err);
        },
      );
    };

    const subscription = source.subscribe(
      operatorSubscriber<VectorWindow<R>>(subscriber, {
        next(window) {
          if (window.n === 0) return;
          checkNotReleased(window, 'fitMixture (a member of a shared model)');
          const model = link.current();
          if (model !== undefined && waitingFor === null) {
            process(window, model);
            return;
          }
          // (held until a model comes: a lent window is copied)
          waiting.push(ownedWindow(window));
          if (waitingFor === null) {
            // The first window of a wait for the first model seeds it.
            if (model === undefined) link.seed({ n: window.n, d: window.d, points: window.points });
            waitForModel();
          }
        },
        complete() {
          completed = true;
          if (waitingFor === null) subscriber.complete();
        },
      }),
    );
    return () => {
      subscription.unsubscribe();
      waiting.length = 0;
    };
  });
}
