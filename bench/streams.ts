/**
 * Seeded labelled streams and prequential (test-then-train) scoring, shared by `npm run bench -- quality`
 * and the streaming behaviour tests.
 *
 * A stream is a mixture whose component means and weights may change with time t ∈ [0, 1) (covariances
 * are fixed per component); point i is drawn at t = i / total. Each window t is scored by the model from
 * before it (window t − 1): adjusted Rand index of its labels against the generating components, and the
 * mean predictive log-likelihood per point. The true mixture is scored the same way (its labels are the
 * MAP component under the true parameters at the point's time).
 */
import { GaussianMixture, StreamingGmm, type CovarianceType, type StreamingOptions, type WindowFit } from '../src/index.js';
import { cholesky } from '../src/gmm/linalg.js';
import { adjustedRandIndex } from '../src/gmm/metrics.js';
import { Rng } from '../src/gmm/rng.js';

/** One generating component: mean and weight over time, a fixed full covariance (D×D row-major). */
export interface StreamCluster {
  readonly mean: (t: number) => readonly number[];
  readonly cov: readonly number[];
  readonly weight: (t: number) => number;
}

/** A seeded stream and how to fit it. */
export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly d: number;
  readonly k: number;
  readonly covarianceType: CovarianceType;
  readonly windows: number;
  readonly size: number;
  readonly seed: number;
  readonly clusters: readonly StreamCluster[];
}

/** The points of a stream, window by window, with the generating component of every point. */
export interface StreamData {
  readonly scenario: Scenario;
  /** windows × (size·d) row-major points. */
  readonly windows: Float64Array[];
  /** windows × size generating components. */
  readonly truth: Int32Array[];
  /** windows × size: the true mixture's MAP labels and log-densities. */
  readonly trueLabels: Int32Array[];
  readonly trueLogDensity: Float64Array[];
}

/** 2×2 covariance with standard deviations (s1, s2) along axes rotated by `degrees`. */
export function rotated(s1: number, s2: number, degrees: number): number[] {
  const a = (degrees * Math.PI) / 180;
  const c = Math.cos(a);
  const s = Math.sin(a);
  return [c * c * s1 * s1 + s * s * s2 * s2, c * s * (s1 * s1 - s2 * s2), c * s * (s1 * s1 - s2 * s2), s * s * s1 * s1 + c * c * s2 * s2];
}

/** A random SPD covariance A·Aᵀ/D + floor·I with eigenvalues spread over about a decade. */
function randomCov(rng: Rng, d: number, scale: number, floor: number): number[] {
  const a = Array.from({ length: d * d }, () => rng.normal());
  const out: number[] = new Array<number>(d * d).fill(0);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += a[i * d + k] * a[j * d + k];
      out[i * d + j] = (scale * s) / d + (i === j ? floor : 0);
    }
  }
  return out;
}

function diagonal(values: readonly number[]): number[] {
  const d = values.length;
  const out = new Array<number>(d * d).fill(0);
  values.forEach((v, i) => (out[i * d + i] = v));
  return out;
}

const constant =
  <T>(v: T) =>
  (): T =>
    v;

/** The five streams of the quality benchmark. `scale` < 1 shortens them (tests). */
export function scenarios(): Scenario[] {
  const r8 = new Rng(808);
  const means8 = Array.from({ length: 9 }, () => Array.from({ length: 8 }, () => 2.2 * r8.normal()));
  const covs8 = Array.from({ length: 8 }, () => randomCov(r8, 8, 0.8, 0.15));
  const weights8 = [0.2, 0.17, 0.15, 0.13, 0.111, 0.1, 0.083, 0.056];
  const r32 = new Rng(3232);
  const means32 = Array.from({ length: 6 }, () => Array.from({ length: 32 }, () => 0.75 * r32.normal()));
  const vars32 = Array.from({ length: 6 }, () => Array.from({ length: 32 }, () => Math.pow(0.5 + 1.5 * r32.uniform(), 2)));
  const weights32 = [0.3, 0.2, 0.15, 0.15, 0.12, 0.08];
  return [
    {
      name: 'stationary-2d',
      description: '2-D, K = 4 overlapping clusters with unequal, rotated covariances, stationary',
      d: 2,
      k: 4,
      covarianceType: 'full',
      windows: 40,
      size: 500,
      seed: 1,
      clusters: [
        { mean: constant([0, 0]), cov: rotated(2, 0.6, 30), weight: constant(0.35) },
        { mean: constant([3.5, 2]), cov: rotated(1, 0.5, -45), weight: constant(0.25) },
        { mean: constant([-1.5, 3.5]), cov: rotated(0.8, 0.8, 0), weight: constant(0.25) },
        { mean: constant([4.5, -2]), cov: rotated(1.5, 0.4, 80), weight: constant(0.15) },
      ],
    },
    {
      name: 'jump-2d',
      description: '2-D, K = 3; one cluster jumps to a new place half way',
      d: 2,
      k: 3,
      covarianceType: 'full',
      windows: 40,
      size: 500,
      seed: 2,
      clusters: [
        { mean: constant([0, 0]), cov: rotated(1.2, 0.7, 20), weight: constant(0.4) },
        { mean: (t) => (t < 0.5 ? [5, 1] : [2, -5]), cov: rotated(1, 0.6, -30), weight: constant(0.3) },
        { mean: constant([1, 5]), cov: rotated(0.9, 0.9, 0), weight: constant(0.3) },
      ],
    },
    {
      name: 'gradual-2d',
      description: '2-D, K = 3; a light and a heavy cluster cross each other slowly, a third stays',
      d: 2,
      k: 3,
      covarianceType: 'full',
      windows: 40,
      size: 500,
      seed: 3,
      clusters: [
        { mean: (t) => [-6 + 12 * t, 0], cov: rotated(0.8, 0.5, 0), weight: constant(0.1) },
        { mean: (t) => [6 - 12 * t, 1], cov: rotated(1, 0.6, 10), weight: constant(0.45) },
        { mean: constant([0, 5]), cov: rotated(1, 1, 0), weight: constant(0.45) },
      ],
    },
    {
      name: 'jump-8d',
      description: '8-D, K = 8 (smallest weight 5.6 %), full covariances; one cluster jumps half way',
      d: 8,
      k: 8,
      covarianceType: 'full',
      windows: 60,
      size: 1000,
      seed: 4,
      clusters: weights8.map((w, c) => ({
        mean: c === 3 ? (t: number) => (t < 0.5 ? means8[3] : means8[8]) : constant(means8[c]),
        cov: covs8[c],
        weight: constant(w),
      })),
    },
    {
      name: 'diag-32d',
      description: '32-D, K = 6, diagonal covariances (fitted with covarianceType diag), stationary',
      d: 32,
      k: 6,
      covarianceType: 'diag',
      windows: 30,
      size: 1000,
      seed: 5,
      clusters: weights32.map((w, c) => ({ mean: constant(means32[c]), cov: diagonal(vars32[c]), weight: constant(w) })),
    },
  ];
}

/** The scenario with `name`, optionally shortened to `windows` windows of `size` points. */
export function scenario(name: string, overrides: Partial<Pick<Scenario, 'windows' | 'size' | 'seed'>> = {}): Scenario {
  const s = scenarios().find((x) => x.name === name);
  if (s === undefined) throw new Error(`no scenario ${name}`);
  return { ...s, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
}

/** Draws the stream and scores every point under the true mixture. */
export function generate(s: Scenario): StreamData {
  const { d, clusters } = s;
  const K = clusters.length;
  const total = s.windows * s.size;
  const rng = new Rng(s.seed);
  const factors = clusters.map((c) => {
    const l = cholesky(Float64Array.from(c.cov), d);
    if (l === null) throw new Error('covariance not positive definite');
    let logDet = 0;
    for (let i = 0; i < d; i++) logDet += 2 * Math.log(l[i * d + i]);
    return { l, logDet };
  });
  const w = new Float64Array(K);
  const z = new Float64Array(d);
  const y = new Float64Array(d);
  const lp = new Float64Array(K);
  const windows: Float64Array[] = [];
  const truth: Int32Array[] = [];
  const trueLabels: Int32Array[] = [];
  const trueLogDensity: Float64Array[] = [];
  for (let win = 0; win < s.windows; win++) {
    const x = new Float64Array(s.size * d);
    const tr = new Int32Array(s.size);
    const ml = new Int32Array(s.size);
    const ld = new Float64Array(s.size);
    for (let i = 0; i < s.size; i++) {
      const t = (win * s.size + i) / total;
      let wsum = 0;
      for (let c = 0; c < K; c++) wsum += w[c] = Math.max(0, clusters[c].weight(t));
      const c = rng.categorical(w);
      tr[i] = c;
      const mean = clusters[c].mean(t);
      const { l } = factors[c];
      for (let a = 0; a < d; a++) z[a] = rng.normal();
      for (let a = 0; a < d; a++) {
        let v = mean[a];
        for (let b = 0; b <= a; b++) v += l[a * d + b] * z[b];
        x[i * d + a] = v;
      }
      // true log-density and MAP label at time t
      let best = 0;
      let max = -Infinity;
      for (let k = 0; k < K; k++) {
        if (w[k] <= 0) {
          lp[k] = -Infinity;
          continue;
        }
        const mk = clusters[k].mean(t);
        const fk = factors[k];
        for (let a = 0; a < d; a++) {
          let s2 = x[i * d + a] - mk[a];
          for (let b = 0; b < a; b++) s2 -= fk.l[a * d + b] * y[b];
          y[a] = s2 / fk.l[a * d + a];
        }
        let q = 0;
        for (let a = 0; a < d; a++) q += y[a] * y[a];
        lp[k] = Math.log(w[k] / wsum) - 0.5 * (d * Math.log(2 * Math.PI) + fk.logDet + q);
        if (lp[k] > max) {
          max = lp[k];
          best = k;
        }
      }
      let sum = 0;
      for (let k = 0; k < K; k++) sum += Math.exp(lp[k] - max);
      ml[i] = best;
      ld[i] = max + Math.log(sum);
    }
    windows.push(x);
    truth.push(tr);
    trueLabels.push(ml);
    trueLogDensity.push(ld);
  }
  return { scenario: s, windows, truth, trueLabels, trueLogDensity };
}

/** Prequential scores of a method over a stream: per window t ≥ 1, labelled by the model from before it. */
export interface Prequential {
  /** Per scored window (t = 1 … T−1): ARI against the generating components. */
  readonly ari: number[];
  /** Per scored window: mean log-likelihood per point under the model from before it. */
  readonly logLikelihood: number[];
}

/** Mean of an array. */
export const mean = (a: readonly number[]): number => a.reduce((s, x) => s + x, 0) / a.length;

/** The true mixture's prequential scores (it needs no training). */
export function scoreTruth(data: StreamData): Prequential {
  const ari: number[] = [];
  const logLikelihood: number[] = [];
  for (let t = 1; t < data.windows.length; t++) {
    ari.push(adjustedRandIndex(data.truth[t], data.trueLabels[t]));
    logLikelihood.push(mean(Array.from(data.trueLogDensity[t])));
  }
  return { ari, logLikelihood };
}

/** Scores a sequence of label/log-density predictions (window t ≥ 1 made by the model from before t). */
export function scorePredictions(data: StreamData, labels: ArrayLike<number>[], logDensityMeans: number[]): Prequential {
  const ari = labels.map((l, i) => adjustedRandIndex(data.truth[i + 1], l));
  return { ari, logLikelihood: logDensityMeans };
}

/** Runs StreamingGmm over the stream, test-then-train; `onFit` sees every window's fit. */
export function runEmstream(data: StreamData, options: Omit<StreamingOptions, 'k'> & { k?: StreamingOptions['k'] }, onFit?: (fit: WindowFit, t: number) => void): Prequential {
  const s = data.scenario;
  const gmm = new StreamingGmm({ k: s.k, covarianceType: s.covarianceType, ...options });
  const ari: number[] = [];
  const logLikelihood: number[] = [];
  for (let t = 0; t < data.windows.length; t++) {
    const window = { n: s.size, d: s.d, data: data.windows[t] };
    if (t > 0) {
      const model = new GaussianMixture(gmm.model!);
      ari.push(adjustedRandIndex(data.truth[t], model.predict(window)));
      logLikelihood.push(model.score(window));
    }
    const fit = gmm.update(window);
    onFit?.(fit, t);
  }
  return { ari, logLikelihood };
}
