/**
 * The streaming mixture driven by statistics instead of points: the step of a reducer that merges the sufficient
 * statistics other processes computed under the current model (distributed EM) into the next model, and decides
 * restarts, birth and death and drift once, for all of them.
 *
 * @module
 */
import { componentDrift, weightDrift, type ComponentDrift, type WeightDrift } from '../adaptive.js';
import { combineStats, type MeanShrinkage } from '../componentStats.js';
import { DriftDetector, type LikelihoodStep } from '../drift.js';
import { checkDataset, cloneParams, runEM } from '../em.js';
import { CovarianceError, DataError } from '../errors.js';
import { EmstreamOptionsError } from '../../errors.js';
import { eStep, precompute } from '../estep.js';
import { countDistinctRows, dataMean } from '../init.js';
import { paramsFromJSON, paramsToJSON } from '../model.js';
import { reseedComponents, mStep } from '../mstep.js';
import { Rng } from '../rng.js';
import { logDensities, significantlyBetter } from '../selection.js';
import { chiSquareLog10Survival } from '../special.js';
import { SufficientStats } from '../stats.js';
import { componentDriftReport, componentScores, StreamingGmm, subMixture, type WindowFit } from '../streaming.js';
import {
  adaptiveSettings,
  birthDeathSettings,
  checkStateShape,
  forgettingOf,
  kOf,
  resolveStreamingOptions,
  STREAMING_STATE_VERSION,
  type ResolvedStreamingOptions,
  type StreamingOptions,
  type StreamingStateJSON,
} from '../streamingOptions.js';
import type { Dataset, GmmParams } from '../types.js';
import { ComponentBook } from './book.js';
import { candidateOf, carriedStats, evidenceAfter, History, type Candidate, type Evidence } from './candidate.js';
import { checkBirthDeathJSON, HeldOutBirthDeath, type Reseeds, type ReseedVerdict } from './reseed.js';
import { coldCandidates, heldOutSelection, heldOutSplit, matchedToPrevious, reportOf, type WindowCandidate } from './select.js';
import { warmFit } from './warmFit.js';
import { WindowContext } from './window.js';

/**
 * One round of statistics: what processes that labelled their points with the current model computed on them.
 * Every sum is over the round's points (weighted, when a contribution counts only in part).
 */
export interface StatisticsRound {
  /** Σ of the sufficient statistics of the round's points under the current model (their responsibilities). */
  readonly stats: SufficientStats;
  /** Points behind `stats`. */
  readonly count: number;
  /** How many windows' worth of points the round holds (the forgetting of `halfLife`/`decay` is per window). */
  readonly windows: number;
  /** Σ log p(x_i) under the model the points were labelled with, and Σ (log p(x_i))². */
  readonly logLikelihood: number;
  readonly logLikelihoodSquares: number;
  /**
   * A sample of the round's points (n×d, drawn with a seed): data none of the model's past saw, on which the re-seed
   * of the previous round is judged, re-seeds are proposed and tried, and cold restarts are fitted.
   */
  readonly sample: Dataset;
}

/** The mixture's K must be fixed in this mode: a change of K is not made from statistics. */
function checkFixedK(o: ResolvedStreamingOptions, operator: string): void {
  if (typeof o.k !== 'number') {
    throw new EmstreamOptionsError(operator, [
      {
        path: 'k',
        message: `a range of K (${o.k.min}..${o.k.max}) is not supported when the model is fitted from merged statistics (the shared-model mode): give a fixed k`,
      },
    ]);
  }
}

/**
 * A streaming Gaussian mixture whose windows are rounds of merged statistics ({@link StatisticsRound}), not points.
 * Its state is a streaming state (`StreamingGmm.toJSON`'s format): a `StreamingGmm` or another `StatisticsGmm` can
 * continue it.
 *
 * First model ({@link seed}): cold candidates fitted to seed points, chosen by `select` (expected log-likelihood by
 * default); the statistics start empty (the seed points come back in rounds). Each round ({@link merge}):
 * 1. **Verdict** on the re-seed of the previous round, on the round's sample (data it was not seeded from): kept, or
 *    the model without it continues (the round's statistics, computed under the re-seeded model, are then replaced by
 *    the sample's under the model without it, scaled to the round's count).
 * 2. **Drift on the round's predictive log-likelihood**: the round's mean log p(x) under the model the points were
 *    labelled with, with its standard error from the sum of squares, into the Page-Hinkley test (`likelihood` alarms).
 * 3. **Warm step**: one M-step θ = M(a·S + b·R) of the forgotten history S and the round R (online EM with the
 *    members' E-step), with adaptive forgetting (James–Stein mean shrinkage, the per-component mean and shape tests
 *    and the G-test of the weights from the round's N_k) as the warm fit of `StreamingGmm`.
 * 4. **Restart** (on a likelihood alarm, or as `restart` says): `restarts` cold candidates fitted to 1 − `holdOut` of
 *    the sample, the best by `select`; it replaces the warm model only when it predicts the held-out rest better
 *    beyond noise. A cold winner is matched to the previous labels; the history is dropped and the sample's
 *    statistics, scaled to the round's count, are carried.
 * 5. **Birth and death** as `StreamingGmm` does it, on the sample standing for the round (its statistics weighed
 *    count / n): a move screened, tried on held-out sample points, judged by the next round.
 * 6. **Drift statistics**: model distance between successive models (re-seeded components left out), the
 *    per-component tests and the weights test; one alarm at the onset of a change.
 *
 * `k: { min, max }` is refused: K is fixed in this mode.
 *
 * ## Example
 * ```ts
 * import { eStep, precompute, StatisticsGmm, SufficientStats } from 'emstream/core';
 *
 * const cluster = (n: number, at: number) => Array.from({ length: n }, (_, i) => at + ((i * 7919) % 100) / 100);
 * const sample = { n: 400, d: 1, data: Float64Array.from([...cluster(200, 0), ...cluster(200, 10)]) };
 * const reducer = new StatisticsGmm({ k: 2, halfLife: 5, seed: 1 });
 * reducer.seed(sample);
 * // What a member computes on its points under the current model: statistics and log-likelihood sums.
 * const pre = precompute(reducer.model!);
 * if (!pre.ok) throw new Error('not factorable');
 * const stats = new SufficientStats(2, 1, 'full', reducer.shift!);
 * const logDensity = new Float64Array(sample.n);
 * const sums = eStep(pre.value, sample.data, sample.n, false, stats, { logDensity });
 * const squares = logDensity.reduce((s, x) => s + x * x, 0);
 * const fit = reducer.merge({ stats, count: sample.n, windows: 1, logLikelihood: sums.logLikelihood, logLikelihoodSquares: squares, sample });
 * console.log(fit.version, fit.warmStarted, fit.labelIds.join(' ')); // → 2 true 0 1
 * ```
 */
export class StatisticsGmm {
  readonly options: ResolvedStreamingOptions;
  private params: GmmParams | null = null;
  private stats: SufficientStats | null = null;
  private evidence: Evidence = { shape: new Float64Array(0), mean: new Float64Array(0) };
  private book: ComponentBook = ComponentBook.identity(0);
  private drift: DriftDetector;
  private rng: Rng;
  private birthDeath: HeldOutBirthDeath | null;
  private modelVersion = 0;
  private windows = 0;
  private readonly decay: number;
  private readonly selection = heldOutSelection(warmFit);

  /**
   * @param options the streaming options (of the processes that compute the rounds); `initialState` continues a
   *   saved state (of a `StatisticsGmm` or a `StreamingGmm`)
   * @throws EmstreamOptionsError for `k: { min, max }` (K is fixed in this mode) or invalid options
   * @throws StateMismatchError or ModelFormatError when `initialState` does not fit the options
   */
  constructor(options: StreamingOptions) {
    this.options = resolveStreamingOptions(options, 'StatisticsGmm');
    const o = this.options;
    checkFixedK(o, 'StatisticsGmm');
    this.decay = o.halfLife !== undefined ? Math.exp(Math.log(0.5) / o.halfLife) : (o.decay ?? 1);
    const bd = birthDeathSettings(o);
    if (o.initialState === undefined) {
      this.drift = new DriftDetector(o.drift);
      this.rng = new Rng(o.seed);
      this.birthDeath = bd === null ? null : new HeldOutBirthDeath(warmFit, bd);
      return;
    }
    // The streaming core checks the state against the options (typed errors naming each difference).
    void new StreamingGmm(options);
    const state = checkStateShape(o.initialState);
    this.drift = state.version >= 4 ? new DriftDetector(o.drift, state.drift) : new DriftDetector(o.drift);
    this.rng = state.rng !== undefined ? Rng.fromState(state.rng) : new Rng(o.seed);
    this.modelVersion = state.modelVersion;
    this.windows = state.windows;
    if (state.model !== null && state.stats !== null) {
      this.params = paramsFromJSON(state.model);
      this.stats = SufficientStats.fromJSON(state.stats);
      const c = state.components;
      this.book = c !== undefined ? ComponentBook.fromJSON(c) : ComponentBook.identity(this.params.k);
      const shape = Float64Array.from(c?.evidence ?? this.stats.s0);
      this.evidence = { shape, mean: c?.meanEvidence !== undefined ? Float64Array.from(c.meanEvidence) : Float64Array.from(shape) };
    }
    this.birthDeath = bd === null ? null : new HeldOutBirthDeath(warmFit, bd, state.birthDeath === undefined ? undefined : checkBirthDeathJSON(state.birthDeath, this.params?.k));
  }

  /** The model (null before {@link seed}). */
  get model(): GmmParams | null {
    return this.params;
  }

  /** Model version: updates so far. */
  get version(): number {
    return this.modelVersion;
  }

  /** Rounds (and the seed) so far. */
  get windowCount(): number {
    return this.windows;
  }

  /** The origin of the carried statistics: a round's statistics are accumulated about it (null before the first model). */
  get shift(): Float64Array | null {
    return this.stats?.shift ?? null;
  }

  /** The label of each component (component index → label). */
  get labels(): readonly number[] {
    return this.book.labels();
  }

  /**
   * The first model: `restarts` cold candidates fitted to the seed points, chosen by `select`. No statistics are
   * carried (the seed points come back in rounds).
   *
   * @param data n×d seed points (at least K distinct)
   * @throws DataError when there is already a model, or the points cannot be fitted (the state is left as it was)
   */
  seed(data: Dataset, windowIndex = this.windows): WindowFit {
    checkDataset(data);
    if (this.params !== null) throw new DataError('the model exists already: seed only makes the first one, rounds continue it');
    const K = this.options.k as number;
    if (countDistinctRows(data, K) < K) throw new DataError(`the seed points have fewer than K = ${K} distinct points: wait for more`);
    return this.transaction(() => {
      const o = this.options;
      const shift = dataMean(data);
      const w = new WindowContext(o, data, this.windows, windowIndex, 1, 1, shift, this.rng, null);
      const reports: WindowCandidate[] = [];
      const winner = this.selection.cold(w, null, reports);
      this.params = winner.params;
      this.stats = new SufficientStats(K, data.d, o.covarianceType, shift);
      this.evidence = { shape: new Float64Array(K), mean: new Float64Array(K) };
      this.book = ComponentBook.identity(K);
      const observation = this.drift.observe({ windowIndex, likelihood: null, modelDistance: null, components: null, weights: null });
      return this.result(winner, reports, { restarted: true, predictive: null, standardError: null, observation, modelDistance: 0, reseeded: NO_RESEEDS, verdict: null, componentDrift: null });
    });
  }

  /**
   * The next model from a round of statistics computed under the current one (see the class comment's steps).
   *
   * @throws DataError before the first model, or for a round of another shape; CovarianceError or NumericError when
   *   the round cannot be merged (the state is left as it was: the caller may drop the round and go on)
   */
  merge(round: StatisticsRound, windowIndex = this.windows): WindowFit {
    const params = this.params;
    if (params === null || this.stats === null) throw new DataError('no model yet: seed the first one before merging rounds');
    const r = round.stats;
    if (r.k !== params.k || r.d !== params.d || r.covarianceType !== params.covarianceType) {
      throw new DataError(`a round of K=${r.k}, D=${r.d}, ${r.covarianceType} does not fit the model (K=${params.k}, D=${params.d}, ${params.covarianceType})`);
    }
    if (round.sample.n > 0) checkDataset(round.sample);
    if (round.sample.n > 0 && round.sample.d !== params.d) throw new DataError(`the round's sample has dimension ${round.sample.d}, the model ${params.d}`);
    return this.transaction(() => this.mergeRound(round, windowIndex));
  }

  /** Runs a step; a failure leaves the state as it was. */
  private transaction(step: () => WindowFit): WindowFit {
    const saved = {
      params: this.params,
      stats: this.stats,
      evidence: this.evidence,
      book: this.book.clone(),
      drift: this.drift.toJSON(),
      rng: this.rng.getState(),
      birthDeath: this.birthDeath?.toJSON(),
    };
    try {
      return step();
    } catch (err) {
      ({ params: this.params, stats: this.stats, evidence: this.evidence, book: this.book } = saved);
      this.drift = DriftDetector.fromJSON(saved.drift);
      this.rng = Rng.fromState(saved.rng);
      const bd = birthDeathSettings(this.options);
      this.birthDeath = bd === null ? null : new HeldOutBirthDeath(warmFit, bd, saved.birthDeath);
      throw err;
    }
  }

  private mergeRound(round: StatisticsRound, windowIndex: number): WindowFit {
    const o = this.options;
    const t = this.windows;
    const K = this.params!.k;
    const { sample } = round;
    // Forgetting per window's worth of points (a round may hold a fraction of a window, or several); stepwise EM's γ_t per round.
    const prior = o.stepwise ? 1 - Math.pow(t + 2, -o.stepwise.alpha) : Math.pow(this.decay, round.windows);
    const b = o.stepwise ? Math.pow(t + 2, -o.stepwise.alpha) : 1;
    // The sample stands for the round: its statistics weigh count / n each.
    const usable = sample.n > K && countDistinctRows(sample, K + 1) > K;
    const scale = usable ? round.count / sample.n : 1;
    const w = new WindowContext(o, usable ? sample : { n: 0, d: this.params!.d, data: new Float64Array(0) }, t, windowIndex, b * scale, prior, this.stats!.shift, this.rng, null);

    // 1. The verdict on the previous round's re-seed, on this round's sample.
    let verdict: ReseedVerdict | null = null;
    let roundStats = round.stats;
    if (usable && this.birthDeath !== null) {
      const judged = this.birthDeath.judge(w, { params: this.params!, stats: this.stats, evidence: this.evidence }, this.book);
      verdict = judged.verdict;
      ({ params: this.params, stats: this.stats, evidence: this.evidence } = { ...judged.model, stats: judged.model.stats ?? this.stats });
      // Reverted: the round was computed under the re-seeded model; the sample's statistics under the model without it stand for it.
      if (verdict !== null && !verdict.kept) roundStats = sampleStats(this.params!, sample, this.stats!.shift, o).scale(scale);
    }
    const previous = this.params!;

    // 2. Drift on the round's predictive log-likelihood.
    let predictive: number | null = null;
    let standardError: number | null = null;
    let likelihood: LikelihoodStep | null = null;
    if (round.count > 0) {
      predictive = round.logLikelihood / round.count;
      const variance = round.count > 1 ? Math.max(0, (round.logLikelihoodSquares - round.count * predictive * predictive) / (round.count - 1)) : 0;
      standardError = Math.sqrt(variance / round.count);
      likelihood = this.drift.likelihood({ logLikelihood: predictive, standardError });
    }
    const alarm = likelihood?.alarm ?? false;

    // 3. The warm step: one M-step of the forgotten history and the round.
    const history = new History(this.stats!.clone().scale(prior), { shape: this.evidence.shape.map((e) => e * prior), mean: this.evidence.mean.map((e) => e * prior) });
    const warm = this.warmStep(w, previous, history, roundStats, b, scale, usable ? sample : null);

    // 4. A restart, on the sample.
    const reports: WindowCandidate[] = [];
    const restart = usable && this.selection.wantsRestart(w, alarm);
    let winner = restart ? this.restartOnSample(w, warm, previous, reports) : warm;
    if (!restart) reports.push(reportOf(warm, null, true));
    if (winner.kind === 'cold') this.birthDeath?.replaced(w);
    else if (alarm) this.birthDeath?.changed(w, this.book);

    // 5. Birth and death on the sample.
    const testedLabels = this.book.labels();
    let reseeded: Reseeds = NO_RESEEDS;
    if (usable && this.birthDeath !== null && K > 1) {
      const drifting = alarm || restart || (winner.drift?.drifted.length ?? 0) > 0 || (winner.weights?.factor ?? 1) < 1;
      const moved = this.birthDeath.apply(w, winner, this.book, drifting, null);
      winner = moved.candidate;
      reseeded = moved.reseeded;
    }

    // 6. The statistics carried forward, and drift.
    this.stats = carriedStats(winner, w.batchWeight);
    this.evidence = evidenceAfter(winner, w.batchWeight);
    const excluded = [...reseeded.moved, ...(verdict?.kept ? verdict.moved : [])];
    const untested = verdict?.kept ? verdict.moved : [];
    const modelDistance = this.modelDistanceOf(previous, winner.params, excluded);
    const tested = winner.kind === 'warm' ? winner : warm;
    const scores = tested.drift === null ? null : componentScores(tested.drift, testedLabels, untested, previous.d, o.covarianceType);
    const wd = tested.weights;
    const observation = this.drift.observe({
      windowIndex,
      likelihood,
      modelDistance,
      components: scores,
      weights: wd === null || K < 2 || untested.length > 0 ? null : chiSquareLog10Survival(wd.statistic, K - 1),
    });
    this.params = winner.params;
    const cd = winner.kind === 'warm' ? winner.drift : null;
    const report = cd === null || scores === null ? null : componentDriftReport(cd, testedLabels, scores, winner.weights?.factor ?? 1);
    return this.result(winner, reports, { restarted: restart, predictive, standardError, observation, modelDistance, reseeded, verdict, componentDrift: report });
  }

  /**
   * The warm step: θ = M(a·S + b·R) with adaptive forgetting, as the warm fit of `StreamingGmm` does it in each of its
   * M-steps (the tests on the round's statistics against the history's).
   *
   * @param scale count / n of the sample: the candidate's window statistics are R / scale (the sample's units), so that
   *   `carriedStats(candidate, b·scale)` carries a·S + b·R, as birth and death's refits on the sample do
   */
  private warmStep(w: WindowContext, previous: GmmParams, history: History, round: SufficientStats, b: number, scale: number, sample: Dataset | null): Candidate {
    const o = this.options;
    const K = previous.k;
    const prior = history.prior;
    const combined = prior.clone();
    const scratch = round.clone();
    const adaptive = adaptiveSettings(o);
    let kept = history;
    let drift: ComponentDrift | null = null;
    let weights: WeightDrift | null = null;
    if (adaptive === null) combineStats(combined, prior, round, b, null, null, scratch);
    else {
      const minPoints = Math.max(adaptive.minPoints, previous.d + 2);
      const shrink: MeanShrinkage = { evidence: history.evidence.mean, minPoints, regCovar: o.regCovar, tau: new Float64Array(K), statistics: new Float64Array(K) };
      drift = componentDrift(prior, round, b, { alpha: adaptive.alpha, minPoints, regCovar: o.regCovar }, history.evidence.shape, history.evidence.mean);
      weights = weightDrift(prior.s0, round.s0, b, adaptive.alpha);
      const discount = drift.factors.some((f) => f < 1) || weights.factor < 1;
      const shape = discount ? drift.factors : null;
      const mass = discount ? new Float64Array(K).fill(weights.factor) : null;
      combineStats(combined, prior, round, b, shape, mass, scratch, null, shrink);
      const translate = Float64Array.from(shrink.tau);
      kept = history.with({ evidence: history.kept(translate, shape), ...(discount ? { shape, mass } : {}), translate });
    }
    const m = mStep(combined, { regCovar: o.regCovar });
    const params = m.params;
    if (m.empty.length > 0 && sample !== null) {
      // A component the round and the history leave empty starts on the sample's worst-explained points.
      const densities = logDensities(previous, sample);
      const order = Array.from({ length: sample.n }, (_, i) => i).sort((x, y) => (densities === null ? 0 : densities[x] - densities[y]));
      reseedComponents(params, m.empty, sample.data, order.slice(0, m.empty.length));
    }
    const pre = precompute(params);
    if (!pre.ok) throw new CovarianceError({ component: pre.component, covarianceType: o.covarianceType, regCovar: o.regCovar });
    const scores = sample === null ? null : sampleScores(params, sample);
    return {
      kind: 'warm',
      params,
      batch: scale === 1 ? round.clone() : round.clone().scale(1 / scale),
      history: kept,
      logLikelihood: scores?.logLikelihood ?? Number.NaN,
      expectedLogLikelihood: scores?.expected ?? Number.NaN,
      iterations: 1,
      converged: true,
      drift,
      weights,
      outputsWritten: false,
    };
  }

  /**
   * A restart on the sample: `restarts` cold candidates fitted to 1 − `holdOut` of it, the best by `select`; it
   * replaces the warm model when it predicts the held-out rest better beyond noise (refitted to the whole sample,
   * matched to the previous labels, without history).
   */
  private restartOnSample(w: WindowContext, warm: Candidate, previous: GmmParams, reports: WindowCandidate[]): Candidate {
    const o = this.options;
    const K = previous.k;
    const split = heldOutSplit(w, K);
    if (split === null) {
      reports.push(reportOf(warm, null, true));
      return warm;
    }
    const score = (c: Candidate): number => (o.select === 'expected' ? c.expectedLogLikelihood : c.logLikelihood);
    const colds = coldCandidates(w, split.fit, K);
    let best = -1;
    colds.forEach((c, i) => {
      if (best < 0 || score(c) > score(colds[best])) best = i;
    });
    const heldOut = (p: GmmParams): { densities: Float64Array | null; mean: number | null } => {
      const densities = logDensities(p, split.test);
      return { densities, mean: densities === null ? null : densities.reduce((s, x) => s + x, 0) / densities.length };
    };
    const warmScore = heldOut(warm.params);
    const coldScore = best < 0 ? null : heldOut(colds[best].params);
    const coldWins = coldScore !== null && coldScore.densities !== null && (warmScore.densities === null || significantlyBetter(coldScore.densities, warmScore.densities));
    reports.push(reportOf(warm, warmScore.mean, !coldWins));
    colds.forEach((c, i) => reports.push(reportOf(c, i === best ? coldScore!.mean : null, coldWins && i === best)));
    if (!coldWins) return warm;
    const chosen = colds[best];
    const run = w.attempt(() => runEM(w.data, chosen.params, { ...w.run, rng: w.rng }));
    if (run === null) return warm;
    const refit = candidateOf('cold', run, null, false);
    return matchedToPrevious(w, { ...refit, iterations: chosen.iterations + refit.iterations, drift: null, weights: null }, previous);
  }

  /** Distance between successive models, over the labels no re-seed touched. */
  private modelDistanceOf(previous: GmmParams, next: GmmParams, changed: readonly number[]): number {
    if (changed.length === 0) return this.drift.modelDistance(previous, next);
    const ids = this.book.labels();
    const common = ids.map((_, k) => k).filter((k) => !changed.includes(ids[k]));
    if (common.length === 0) return 0;
    return this.drift.modelDistance(subMixture(previous, common), subMixture(next, common));
  }

  /** The outcome of a step in `StreamingGmm`'s form (no per-point outputs: the points are elsewhere). */
  private result(
    winner: Candidate,
    reports: WindowCandidate[],
    r: {
      restarted: boolean;
      predictive: number | null;
      standardError: number | null;
      observation: ReturnType<DriftDetector['observe']>;
      modelDistance: number;
      reseeded: Reseeds;
      verdict: ReseedVerdict | null;
      componentDrift: WindowFit['componentDrift'];
    },
  ): WindowFit {
    this.modelVersion++;
    this.windows++;
    const params = winner.params;
    return {
      version: this.modelVersion,
      params: cloneParams(params),
      labels: new Int32Array(0),
      probabilities: new Float64Array(0),
      logDensities: new Float64Array(0),
      logLikelihood: Number.isFinite(winner.logLikelihood) ? winner.logLikelihood : (r.predictive ?? 0),
      expectedLogLikelihood: Number.isFinite(winner.expectedLogLikelihood) ? winner.expectedLogLikelihood : (r.predictive ?? 0),
      predictiveLogLikelihood: r.predictive,
      iterations: winner.iterations,
      converged: winner.converged,
      warmStarted: winner.kind === 'warm',
      restarted: r.restarted,
      drift: r.observation.alarms,
      modelDistance: r.modelDistance,
      pageHinkley: this.drift.pageHinkley,
      predictiveStandardError: r.standardError,
      driftStatistics: r.observation.statistics,
      drifting: r.observation.state,
      driftEnded: r.observation.ended,
      candidates: reports,
      k: params.k,
      labelIds: this.book.labels(),
      reseeded: r.reseeded.labels,
      reseedReasons: r.reseeded.reasons,
      reverted: r.verdict !== null && !r.verdict.kept ? r.verdict.labels : [],
      componentDrift: r.componentDrift,
      kChange: null,
    };
  }

  /** The whole state in the streaming state's format (a `StreamingGmm` or a `StatisticsGmm` continues it). */
  toJSON(): StreamingStateJSON {
    const o = this.options;
    return {
      format: 'emstream.streaming-state',
      version: STREAMING_STATE_VERSION as 4,
      modelVersion: this.modelVersion,
      windows: this.windows,
      model: this.params ? paramsToJSON(this.params) : null,
      stats: this.stats ? this.stats.toJSON() : null,
      drift: this.drift.toJSON(),
      config: { k: kOf(o), covarianceType: o.covarianceType, d: this.params?.d ?? null, forgetting: forgettingOf(o) },
      rng: this.rng.getState(),
      components: { ...this.book.toJSON(), splitStreak: 0, mergeStreak: 0, evidence: Array.from(this.evidence.shape), meanEvidence: Array.from(this.evidence.mean) },
      ...(this.birthDeath === null ? {} : { birthDeath: this.birthDeath.toJSON() }),
    };
  }
}

const NO_RESEEDS: Reseeds = { labels: [], reasons: [], moved: [] };

/** The sample's statistics under `params` (unweighted), about `shift`. */
function sampleStats(params: GmmParams, sample: Dataset, shift: Float64Array, o: ResolvedStreamingOptions): SufficientStats {
  const pre = precompute(params);
  if (!pre.ok) throw new CovarianceError({ component: pre.component, covarianceType: params.covarianceType, regCovar: o.regCovar });
  const hard = o.mode === 'hard';
  const stats = new SufficientStats(params.k, params.d, params.covarianceType, shift);
  eStep(pre.value, sample.data, sample.n, hard, stats);
  return stats;
}

/** Mean marginal and expected complete-data log-likelihood of the sample under `params`. */
function sampleScores(params: GmmParams, sample: Dataset): { logLikelihood: number; expected: number } | null {
  const pre = precompute(params);
  if (!pre.ok) return null;
  const sums = eStep(pre.value, sample.data, sample.n, false, null);
  return { logLikelihood: sums.logLikelihood / sample.n, expected: sums.expected / sample.n };
}
