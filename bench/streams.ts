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
    let diagonalOnly = true;
    for (let a = 0; a < d && diagonalOnly; a++) for (let b = 0; b < a; b++) if (l[a * d + b] !== 0) diagonalOnly = false;
    return { l, logDet, diagonalOnly };
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
      const diagonalOnly = factors[c].diagonalOnly;
      for (let a = 0; a < d; a++) {
        let v = mean[a];
        if (diagonalOnly) v += l[a * d + a] * z[a];
        else for (let b = 0; b <= a; b++) v += l[a * d + b] * z[b];
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
          if (!fk.diagonalOnly) for (let b = 0; b < a; b++) s2 -= fk.l[a * d + b] * y[b];
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

/** What happens on a random stream (see {@link randomScenario}). */
export type Dynamics = 'stationary' | 'jump' | 'gradual' | 'birth' | 'death';

export const DYNAMICS: readonly Dynamics[] = ['stationary', 'jump', 'gradual', 'birth', 'death'];

/** A drawn stream with what it tests: the change (if any) and where it happens. */
export interface RandomScenario extends Scenario {
  readonly dynamics: Dynamics;
  /** Smallest generating weight. */
  readonly minWeight: number;
  /** Smallest Mahalanobis separation between two means (under their average covariance). */
  readonly separation: number;
  /** The window in which an abrupt change (jump, birth, death) happens, or where a gradual move starts; null when stationary. */
  readonly changeWindow: number | null;
  /** The window after which a gradual move has stopped (null otherwise). */
  readonly changeEnd: number | null;
}

/** Options of {@link randomScenario}. */
export interface RandomScenarioOptions {
  /** Force the dynamics (default: drawn, stationary 40 %, each change 15 %). */
  readonly dynamics?: Dynamics;
  /** Largest dimension drawn (default 64). */
  readonly maxD?: number;
  /** Largest K drawn (default 16). */
  readonly maxK?: number;
  /** Largest window drawn (default 4000 points). */
  readonly maxSize?: number;
  /** Windows of the stream (default 40; stationary controls 50). */
  readonly windows?: number;
}

const COVARIANCE_TYPES_DRAWN: readonly CovarianceType[] = ['full', 'diag', 'spherical', 'tied'];
const DIMENSIONS: readonly number[] = [2, 2, 3, 4, 5, 6, 8, 8, 12, 16, 24, 32, 48, 64];

/** A random orthogonal D×D matrix (Gram–Schmidt on Gaussian columns). */
function randomRotation(rng: Rng, d: number): Float64Array {
  const q = new Float64Array(d * d);
  for (let c = 0; c < d; c++) {
    const v = new Float64Array(d);
    for (let a = 0; a < d; a++) v[a] = rng.normal();
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let a = 0; a < d; a++) dot += v[a] * q[a * d + p];
      for (let a = 0; a < d; a++) v[a] -= dot * q[a * d + p];
    }
    let norm = 0;
    for (let a = 0; a < d; a++) norm += v[a] * v[a];
    norm = Math.sqrt(norm);
    for (let a = 0; a < d; a++) q[a * d + c] = v[a] / norm;
  }
  return q;
}

/** Q·diag(values)·Qᵀ as a row-major array. */
function fromEigen(q: Float64Array, values: readonly number[], d: number): number[] {
  const out = new Array<number>(d * d).fill(0);
  for (let a = 0; a < d; a++) {
    for (let b = 0; b <= a; b++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += q[a * d + c] * values[c] * q[b * d + c];
      out[a * d + b] = s;
      out[b * d + a] = s;
    }
  }
  return out;
}

/** Squared Mahalanobis distance between two means under the average of two covariances (row-major D×D). */
function separationSq(m1: readonly number[], c1: readonly number[], m2: readonly number[], c2: readonly number[], d: number): number {
  const avg = new Float64Array(d * d);
  for (let i = 0; i < d * d; i++) avg[i] = 0.5 * (c1[i] + c2[i]);
  const l = cholesky(avg, d)!;
  let q = 0;
  const y = new Float64Array(d);
  for (let a = 0; a < d; a++) {
    let s = m1[a] - m2[a];
    for (let b = 0; b < a; b++) s -= l[a * d + b] * y[b];
    y[a] = s / l[a * d + a];
    q += y[a] * y[a];
  }
  return q;
}

/**
 * A stream drawn from a seed: dimension, K, covariance type, weights, overlap and dynamics all come from
 * the seed, so a set of seeds is a set of geometries (the tuning and report sets of the quality suite are
 * disjoint seed ranges).
 *
 * 1. Covariance type uniform over the four; D from 2 to 64 (full and tied up to 32 unless the window is
 *    large enough); K from 2 to 16; window size from what the smallest cluster needs to be estimated in
 *    one window (capped by `maxSize`).
 * 2. Weights from a Dirichlet (concentration 1 or 5), the smallest at least a floor drawn in [2 %, 5 %].
 * 3. Covariances of the type: `full` rotated with eigenvalues over a decade, `diag` axis-aligned over a
 *    decade, `spherical` one scale, `tied` one rotated matrix shared; every component scaled by a factor
 *    in [0.5, 2].
 * 4. Means placed one at a time at a Mahalanobis separation of at least s ∈ [1.8, 4] from every other
 *    (under their average covariance), in a ball that grows only when a place cannot be found: packed,
 *    hence overlapping.
 * 5. Dynamics: stationary; `jump` (one cluster moves to a new place at once, between 35 % and 65 % of the
 *    stream); `gradual` (one or two clusters move steadily over half the stream, 4–8 sd); `birth` (a
 *    cluster appears, weight 0 before); `death` (a cluster vanishes). Births and deaths have K ≥ 3: with
 *    K = 2 one cluster would be alone before the birth or after the death, and any two-component model splits it.
 */
export function randomScenario(seed: number, options: RandomScenarioOptions = {}): RandomScenario {
  // xoroshiro128+'s first draws from nearby small seeds are alike: mix the seed first (murmur3's finaliser).
  let h = (seed ^ 0x5eed) | 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  const rng = new Rng(h);
  for (let i = 0; i < 8; i++) rng.uniform();
  const draw = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)];
  const uniform = (a: number, b: number): number => a + (b - a) * rng.uniform();
  const maxD = options.maxD ?? 64;
  const maxK = options.maxK ?? 16;
  const maxSize = options.maxSize ?? 4000;
  const covarianceType = draw(COVARIANCE_TYPES_DRAWN);
  const d = draw(DIMENSIONS.filter((x) => x <= maxD && (covarianceType === 'full' ? x <= 32 : true)));
  let k = 2 + rng.int(Math.min(maxK, d <= 2 ? 8 : 16) - 1);
  const u = rng.uniform();
  const dynamics: Dynamics = options.dynamics ?? (u < 0.4 ? 'stationary' : u < 0.55 ? 'jump' : u < 0.7 ? 'gradual' : u < 0.85 ? 'birth' : 'death');
  // A birth or a death with K = 2 leaves one cluster alone before or after it, which any two-component model splits.
  if ((dynamics === 'birth' || dynamics === 'death') && k < 3) k = 3;
  // Points one cluster needs to be estimated in one window, and the window that gives the smallest one that many.
  const need = covarianceType === 'full' ? 3 * d + 30 : covarianceType === 'spherical' ? 30 : d + 30;
  let floor = uniform(0.02, 0.05);
  if (floor * k > 0.5) floor = 0.5 / k;
  const size = Math.min(maxSize, Math.max(400, Math.ceil(need / floor / 100) * 100));
  if (need / size > floor) floor = Math.min(0.5 / k, need / size);
  while (covarianceType === 'full' && k > 2 && (k * need) / size > 0.9) k--;
  // Weights: Dirichlet, lifted to the floor.
  const alpha = rng.uniform() < 0.5 ? 1 : 5;
  const gamma = (): number => {
    // Marsaglia–Tsang for shape ≥ 1
    const dd = alpha - 1 / 3;
    const c = 1 / Math.sqrt(9 * dd);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = rng.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const uu = rng.uniform();
      if (uu < 1 - 0.0331 * x * x * x * x || Math.log(uu) < 0.5 * x * x + dd * (1 - v + Math.log(v))) return dd * v;
    }
  };
  const raw = Array.from({ length: k }, gamma);
  const sum = raw.reduce((s, x) => s + x, 0);
  const weights = raw.map((x) => floor + (1 - floor * k) * (x / sum));
  // Covariances.
  const decade = (): number => Math.exp(uniform(Math.log(0.3), Math.log(3)));
  const shared = covarianceType === 'tied' ? fromEigen(randomRotation(rng, d), Array.from({ length: d }, decade), d) : null;
  const covs = Array.from({ length: k }, () => {
    const scale = Math.exp(uniform(Math.log(0.5), Math.log(2)));
    switch (covarianceType) {
      case 'full':
        return fromEigen(randomRotation(rng, d), Array.from({ length: d }, () => scale * decade()), d);
      case 'diag':
        return diagonal(Array.from({ length: d }, () => scale * decade()));
      case 'spherical':
        return diagonal(new Array<number>(d).fill(scale));
      case 'tied':
        return shared!;
    }
  });
  // Means, packed at a separation of at least s.
  const separation = uniform(1.8, 4);
  let radius = separation;
  const place = (others: readonly { mean: number[]; cov: readonly number[] }[], cov: readonly number[]): number[] => {
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0 && attempt % 50 === 0) radius *= 1.1;
      const mean = Array.from({ length: d }, () => (radius * rng.normal()) / Math.sqrt(d));
      if (others.every((o) => separationSq(mean, cov, o.mean, o.cov, d) >= separation * separation)) return mean;
    }
  };
  const placed: { mean: number[]; cov: readonly number[] }[] = [];
  for (let c = 0; c < k; c++) placed.push({ mean: place(placed, covs[c]), cov: covs[c] });
  const windows = options.windows ?? (dynamics === 'stationary' ? 50 : 40);
  const clusters: StreamCluster[] = placed.map((p, c) => ({ mean: constant(p.mean), cov: covs[c], weight: constant(weights[c]) }));
  let changeWindow: number | null = null;
  let changeEnd: number | null = null;
  const changed = rng.int(k);
  if (dynamics === 'jump' || dynamics === 'birth' || dynamics === 'death') {
    const at = uniform(0.35, 0.65);
    changeWindow = Math.floor(at * windows);
    const tc = changeWindow / windows; // the change starts a window
    if (dynamics === 'jump') {
      const others = placed.filter((_, c) => c !== changed);
      const target = place([...others, placed[changed]], covs[changed]);
      const from = placed[changed].mean;
      clusters[changed] = { ...clusters[changed], mean: (t) => (t < tc ? from : target) };
    } else if (dynamics === 'birth') {
      clusters[changed] = { ...clusters[changed], weight: (t) => (t < tc ? 0 : weights[changed]) };
    } else {
      clusters[changed] = { ...clusters[changed], weight: (t) => (t < tc ? weights[changed] : 0) };
    }
  } else if (dynamics === 'gradual') {
    const t0 = uniform(0.1, 0.3);
    const t1 = t0 + 0.5;
    changeWindow = Math.floor(t0 * windows);
    changeEnd = Math.ceil(t1 * windows);
    const movers = k >= 3 && rng.uniform() < 0.5 ? [changed, (changed + 1) % k] : [changed];
    for (const c of movers) {
      const from = placed[c].mean;
      const direction = Array.from({ length: d }, () => rng.normal());
      const norm = Math.sqrt(direction.reduce((s, x) => s + x * x, 0));
      // a distance of 4–8 standard deviations of the cluster along the way
      const sd = Math.sqrt(covs[c].filter((_, i) => i % (d + 1) === 0).reduce((s, x) => s + x, 0) / d);
      const distance = uniform(4, 8) * sd;
      const to = from.map((m, a) => m + (distance * direction[a]) / norm);
      clusters[c] = {
        ...clusters[c],
        mean: (t) => {
          const f = Math.min(1, Math.max(0, (t - t0) / (t1 - t0)));
          return from.map((m, a) => m + f * (to[a] - m));
        },
      };
    }
  }
  return {
    name: `s${seed}-${dynamics}-${covarianceType}-d${d}-k${k}`,
    description: `${dynamics}, D = ${d}, K = ${k}, ${covarianceType}, smallest weight ${(100 * Math.min(...weights)).toFixed(1)} %, separation ${separation.toFixed(1)}`,
    d,
    k,
    covarianceType,
    windows,
    size,
    seed,
    clusters,
    dynamics,
    minWeight: Math.min(...weights),
    separation,
    changeWindow,
    changeEnd,
  };
}

/** How one method did on one stream of the suite. */
export interface StreamScore {
  readonly name: string;
  readonly dynamics: Dynamics | 'fixed';
  readonly d: number;
  readonly k: number;
  readonly covarianceType: CovarianceType;
  readonly windows: number;
  readonly size: number;
  /** Mean prequential ARI over windows 1… of emstream, of the true mixture, of the warm refit (null when not run). */
  readonly ari: { readonly ours: number; readonly truth: number; readonly sklearn: number | null };
  /** Mean prequential log-likelihood per point. */
  readonly logLikelihood: { readonly ours: number; readonly truth: number; readonly sklearn: number | null };
  /** Distinct labels emstream gave the last window, and the clusters present in it. */
  readonly labelsInUse: number;
  readonly clustersPresent: number;
  /** Re-seeds made (trials), and how many of them the next window reverted. */
  readonly reseeds: number;
  readonly reverted: number;
  /** Alarms raised, by kind. */
  readonly alarms: Readonly<Record<string, number>>;
  /** Windows at which the model was reported drifting. */
  readonly driftingWindows: number;
  /** Windows with no change in the data (all of a stationary stream; before the change of the others). */
  readonly stationaryWindows: number;
  /** Alarms raised on those windows. */
  readonly stationaryAlarms: number;
  /** Re-seeds made on those windows. */
  readonly stationaryReseeds: number;
  /** Abrupt changes: windows from the change to the first alarm (null: none within 10 windows; undefined: no abrupt change). */
  readonly delay?: number | null;
  readonly seconds: number;
}

/** Distinct labels among `labels`. */
function distinct(labels: ArrayLike<number>): number {
  return new Set(Array.from(labels)).size;
}

/**
 * Runs emstream over a stream of the suite (test-then-train) and scores it against the true mixture (and the
 * warm refit's predictions, when given).
 *
 * 1. window t ≥ 1 is labelled by the model from before it: ARI against the generating components, the mean
 *    log-likelihood per point;
 * 2. alarms and re-seeds are counted on the stationary windows (a stationary stream's, or those before a
 *    change) and in all;
 * 3. an abrupt change (jump, birth, death) is detected at the first alarm on or after its window (delay in
 *    windows; none within 10 windows is a miss).
 */
export function scoreStream(
  data: StreamData,
  options: Omit<StreamingOptions, 'k'> & { k?: StreamingOptions['k'] },
  sklearn: { labels: ArrayLike<number>[]; logLikelihood: number[] } | null = null,
): StreamScore {
  const s = data.scenario as Scenario & Partial<RandomScenario>;
  const started = performance.now();
  const alarms: Record<string, number> = {};
  let reseeds = 0;
  let reverted = 0;
  let drifting = 0;
  let stationaryAlarms = 0;
  let stationaryReseeds = 0;
  let delay: number | null | undefined;
  const change = s.changeWindow ?? null;
  const stationaryUntil = change ?? s.windows;
  const abrupt = s.dynamics === 'jump' || s.dynamics === 'birth' || s.dynamics === 'death';
  if (abrupt) delay = null;
  let lastLabels: ArrayLike<number> = [];
  const ours = runEmstream(data, options, (fit, t) => {
    const f = fit as WindowFit & { drifting?: { active: boolean } };
    reseeds += fit.reseeded.length;
    reverted += (fit as { reverted?: number[] }).reverted?.length ?? 0;
    if (f.drifting?.active === true) drifting++;
    for (const e of fit.drift) alarms[e.kind] = (alarms[e.kind] ?? 0) + 1;
    if (t >= 1 && t < stationaryUntil) {
      stationaryAlarms += fit.drift.length;
      stationaryReseeds += fit.reseeded.length;
    }
    if (abrupt && delay === null && change !== null && t >= change && t <= change + 10 && fit.drift.length > 0) delay = t - change;
    if (t === s.windows - 1) lastLabels = fit.labels;
  });
  const truth = scoreTruth(data);
  const theirs = sklearn === null ? null : scorePredictions(data, sklearn.labels, sklearn.logLikelihood);
  const last = s.windows - 1;
  return {
    name: s.name,
    dynamics: s.dynamics ?? 'fixed',
    d: s.d,
    k: s.k,
    covarianceType: s.covarianceType,
    windows: s.windows,
    size: s.size,
    ari: { ours: mean(ours.ari), truth: mean(truth.ari), sklearn: theirs === null ? null : mean(theirs.ari) },
    logLikelihood: { ours: mean(ours.logLikelihood), truth: mean(truth.logLikelihood), sklearn: theirs === null ? null : mean(theirs.logLikelihood) },
    labelsInUse: distinct(lastLabels),
    clustersPresent: distinct(data.truth[last]),
    reseeds,
    reverted,
    alarms,
    driftingWindows: drifting,
    stationaryWindows: Math.max(0, stationaryUntil - 1),
    stationaryAlarms,
    stationaryReseeds,
    ...(delay === undefined ? {} : { delay }),
    seconds: (performance.now() - started) / 1000,
  };
}

/** The q-quantile of values (linear interpolation between order statistics). */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
