/**
 * INTERIM (development only, replaced by the streaming core's statistics-driven entry points): a reducer step that
 * fits the first model to the seeds by batch EM and merges rounds by forgetting + one M-step.
 *
 * @module
 */
import { GaussianMixture, paramsToJSON } from '../../gmm/model.js';
import { mStep } from '../../gmm/mstep.js';
import { SufficientStats } from '../../gmm/stats.js';
import { StreamingGmm, resolveStreamingOptions, type StreamingOptions, type StreamingStateJSON, type WindowFit } from '../../gmm/streaming.js';
import type { Dataset, GmmParams } from '../../gmm/types.js';
import type { ReducerCore, ReducerCoreFactory } from './reducer.js';
import type { MergedRound } from './round.js';

class InterimCore implements ReducerCore {
  model: GmmParams | null = null;
  version = 0;
  windowCount = 0;
  private stats: SufficientStats | null = null;
  private readonly decay: number;

  constructor(
    private readonly options: StreamingOptions,
    state: StreamingStateJSON | undefined,
  ) {
    const o = resolveStreamingOptions(options);
    this.decay = o.halfLife !== undefined ? Math.exp(Math.log(0.5) / o.halfLife) : (o.decay ?? 1);
    if (state !== undefined) {
      const g = new StreamingGmm({ ...options, initialState: state });
      this.model = g.model;
      this.stats = state.stats === null ? null : SufficientStats.fromJSON(state.stats);
      this.version = state.modelVersion;
      this.windowCount = state.windows;
    }
  }

  get shift(): Float64Array | null {
    return this.stats?.shift ?? null;
  }

  private fit(params: GmmParams, warm: boolean): WindowFit {
    return {
      version: this.version,
      params,
      labels: new Int32Array(0),
      probabilities: new Float64Array(0),
      logDensities: new Float64Array(0),
      logLikelihood: 0,
      expectedLogLikelihood: 0,
      predictiveLogLikelihood: null,
      iterations: 1,
      converged: true,
      warmStarted: warm,
      restarted: !warm,
      drift: [],
      modelDistance: 0,
      pageHinkley: { statistic: 0, threshold: 50 },
      candidates: [],
      k: params.k,
      labelIds: Array.from({ length: params.k }, (_, i) => i),
      reseeded: [],
      reseedReasons: [],
      componentDrift: null,
      kChange: null,
    };
  }

  seed(data: Dataset): WindowFit {
    const o = resolveStreamingOptions(this.options);
    const { model } = GaussianMixture.fit(data, { k: typeof o.k === 'number' ? o.k : o.k.min, covarianceType: o.covarianceType, restarts: 3, seed: o.seed });
    const params = model.params;
    const shift = new Float64Array(data.d);
    for (let i = 0; i < data.n; i++) for (let a = 0; a < data.d; a++) shift[a] += data.data[i * data.d + a] / data.n;
    this.stats = new SufficientStats(params.k, params.d, params.covarianceType, shift);
    this.model = params;
    this.version++;
    this.windowCount++;
    return this.fit(params, false);
  }

  merge(round: MergedRound): WindowFit {
    const o = resolveStreamingOptions(this.options);
    this.stats!.scale(Math.pow(this.decay, round.windows)).merge(round.stats);
    const { params } = mStep(this.stats!, { regCovar: o.regCovar });
    this.model = params;
    this.version++;
    this.windowCount++;
    return { ...this.fit(params, true), predictiveLogLikelihood: round.count > 0 ? round.logLikelihood / round.count : null };
  }

  toJSON(): StreamingStateJSON {
    const g = new StreamingGmm({ ...this.options, initialModel: undefined, initialState: undefined });
    const { components: _c, ...base } = g.toJSON();
    return { ...base, modelVersion: this.version, windows: this.windowCount, model: paramsToJSON(this.model!), stats: this.stats!.toJSON(), config: { ...base.config!, d: this.model!.d } };
  }
}

/** INTERIM: see the module comment. */
export const interimCore: ReducerCoreFactory = (options, state) => new InterimCore(options, state);
