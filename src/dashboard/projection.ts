/**
 * The current mixture as a picture: a fixed two-dimensional projection of the model and of a window
 * sample, 1σ/2σ ellipses as polylines, axes limits that do not jump from window to window.
 *
 * @module
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { componentCovariance, componentMean } from '../gmm/distance.js';
import { paramsFromJSON, type MixtureJSON } from '../gmm/model.js';
import type { GmmParams } from '../gmm/types.js';
import type { Bounds } from '../viz/svg.js';
import { eigenSym2 } from '../viz/svg.js';
import type { MixtureView } from '../viz/charts.js';

/** A linear map from D dimensions to the plane: `(x − centre)·axis₁`, `(x − centre)·axis₂`. */
export interface Projection {
  readonly d: number;
  /** Length d. */
  readonly centre: Float64Array;
  /** Two unit vectors of length d (the second is zero when d = 1). */
  readonly axes: readonly [Float64Array, Float64Array];
  /** Axis titles. */
  readonly titles: readonly [string, string];
}

/**
 * The covariance of a whole mixture: Σ_k π_k (Σ_k + μ_k μ_kᵀ) − m mᵀ with m = Σ_k π_k μ_k.
 *
 * @param p - the mixture
 * @returns its mean (d) and covariance (d×d row-major)
 */
export function mixtureMoments(p: GmmParams): { mean: Float64Array; covariance: Float64Array } {
  const { d } = p;
  const mean = new Float64Array(d);
  const cov = new Float64Array(d * d);
  const total = p.weights.reduce((a, b) => a + b, 0) || 1;
  for (let k = 0; k < p.k; k++) {
    const w = p.weights[k] / total;
    const mu = componentMean(p, k);
    const s = componentCovariance(p, k);
    for (let i = 0; i < d; i++) {
      mean[i] += w * mu[i];
      for (let j = 0; j < d; j++) cov[i * d + j] += w * (s[i * d + j] + mu[i] * mu[j]);
    }
  }
  for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) cov[i * d + j] -= mean[i] * mean[j];
  return { mean, covariance: cov };
}

/**
 * The projection used to draw a mixture.
 *
 * 1. D = 2: the identity (axes `x₁`, `x₂`); D = 1: `x₁` against a zero axis.
 * 2. D > 2: the first two principal axes of the mixture's own covariance ({@link mixtureMoments}),
 *    centred on its mean, each eigenvector's largest coordinate made positive so the picture does
 *    not flip; the titles say how much of the variance each axis carries.
 *
 * Compute it once (from the first model) and keep it: a projection recomputed every window would turn the picture.
 *
 * @param model - the mixture
 * @returns the projection
 */
export function projectionFor(model: MixtureJSON): Projection {
  const { d } = model;
  if (d <= 2) {
    const e1 = new Float64Array(d);
    const e2 = new Float64Array(d);
    e1[0] = 1;
    if (d === 2) e2[1] = 1;
    return { d, centre: new Float64Array(d), axes: [e1, e2], titles: ['x₁', d === 2 ? 'x₂' : '(none)'] };
  }
  const { mean, covariance } = mixtureMoments(paramsFromJSON(model));
  const rows = Array.from({ length: d }, (_, i) => Array.from(covariance.subarray(i * d, (i + 1) * d)));
  const evd = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true });
  const values = evd.realEigenvalues;
  const vectors = evd.eigenvectorMatrix;
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
  const total = values.reduce((a, v) => a + Math.max(0, v), 0) || 1;
  const axis = (rank: number): Float64Array => {
    const col = order[rank][1];
    const v = Float64Array.from({ length: d }, (_, i) => vectors.get(i, col));
    let big = 0;
    for (let i = 1; i < d; i++) if (Math.abs(v[i]) > Math.abs(v[big])) big = i;
    if (v[big] < 0) for (let i = 0; i < d; i++) v[i] = -v[i];
    return v;
  };
  const pct = (rank: number): string => `${Math.round((100 * Math.max(0, order[rank][0])) / total)}%`;
  return { d, centre: mean, axes: [axis(0), axis(1)], titles: [`PC1 (${pct(0)} of the variance)`, `PC2 (${pct(1)} of the variance)`] };
}

/** Projects one d-vector (from `offset` in `values`) to the plane. */
export function projectPoint(p: Projection, values: ArrayLike<number>, offset = 0): [number, number] {
  let x = 0;
  let y = 0;
  for (let i = 0; i < p.d; i++) {
    const v = values[offset + i] - p.centre[i];
    x += v * p.axes[0][i];
    y += v * p.axes[1][i];
  }
  return [x, y];
}

/** Projects a d×d covariance to the plane: `A Σ Aᵀ` with A the two axes. Returns [[a, b], [b, c]] as `{ a, b, c }`. */
export function projectCovariance(p: Projection, cov: Float64Array): { a: number; b: number; c: number } {
  const { d } = p;
  const [u, v] = p.axes;
  let a = 0;
  let b = 0;
  let c = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const s = cov[i * d + j];
      a += u[i] * s * u[j];
      b += u[i] * s * v[j];
      c += v[i] * s * v[j];
    }
  }
  return { a, b, c };
}

/**
 * The s-σ ellipse of a 2-D Gaussian as a closed polyline in data coordinates.
 *
 * Points: μ + s(√λ₁ cos t · e₁ + √λ₂ sin t · e₂) for t = 2πi/segments, i = 0…segments (the last repeats the first),
 * with λ, e the closed-form eigen-decomposition of the 2×2 covariance.
 *
 * @param mean - centre
 * @param cov - 2×2 covariance `{ a, b, c }`
 * @param s - standard deviations
 * @param segments - number of segments (default 48)
 * @returns x, y, x, y, … (2·(segments + 1) numbers)
 */
export function ellipsePolyline(mean: readonly [number, number], cov: { a: number; b: number; c: number }, s: number, segments = 48): number[] {
  const e = eigenSym2(cov);
  const r1 = s * Math.sqrt(Math.max(e.l1, 0));
  const r2 = s * Math.sqrt(Math.max(e.l2, 0));
  const cos = Math.cos(e.angle);
  const sin = Math.sin(e.angle);
  const out: number[] = [];
  for (let i = 0; i <= segments; i++) {
    const t = (2 * Math.PI * (i % segments)) / segments;
    const u = r1 * Math.cos(t);
    const v = r2 * Math.sin(t);
    out.push(mean[0] + u * cos - v * sin, mean[1] + u * sin + v * cos);
  }
  return out;
}

/**
 * Axes limits that only grow: the first content gets its bounding box widened by `padding` of its
 * range on each side; later content inside the current limits leaves them as they are, content
 * outside widens them (again with padding), so the picture does not jump from window to window.
 *
 * @param current - the limits so far, or null
 * @param xs - x coordinates of the new content
 * @param ys - y coordinates of the new content
 * @param padding - fraction of the range added on each side (default 0.15)
 * @returns the new limits (always with positive width and height)
 */
export function growBounds(current: Bounds | null, xs: readonly number[], ys: readonly number[], padding = 0.15): Bounds {
  let minX = Infinity;
  let maxX = -Infinity;
  let minY = Infinity;
  let maxY = -Infinity;
  for (const x of xs) {
    if (!Number.isFinite(x)) continue;
    minX = Math.min(minX, x);
    maxX = Math.max(maxX, x);
  }
  for (const y of ys) {
    if (!Number.isFinite(y)) continue;
    minY = Math.min(minY, y);
    maxY = Math.max(maxY, y);
  }
  if (minX > maxX || minY > maxY) return current ?? { minX: -1, maxX: 1, minY: -1, maxY: 1 };
  if (current !== null && minX >= current.minX && maxX <= current.maxX && minY >= current.minY && maxY <= current.maxY) return current;
  if (current !== null) {
    minX = Math.min(minX, current.minX);
    maxX = Math.max(maxX, current.maxX);
    minY = Math.min(minY, current.minY);
    maxY = Math.max(maxY, current.maxY);
  }
  const widen = (lo: number, hi: number): [number, number] => {
    const range = hi - lo;
    const pad = range > 0 ? padding * range : Math.max(0.5, Math.abs(lo) * 0.1);
    return [lo - pad, hi + pad];
  };
  const [x0, x1] = widen(minX, maxX);
  const [y0, y1] = widen(minY, maxY);
  return { minX: x0, maxX: x1, minY: y0, maxY: y1 };
}

/** `x` with 5 significant digits (what the page needs). */
const r5 = (x: number): number => (Number.isFinite(x) ? Number(x.toPrecision(5)) : 0);

/**
 * The picture of a model and a window sample under a fixed projection.
 *
 * 1. Project each component's mean and covariance ({@link projectPoint}, {@link projectCovariance});
 *    draw its 1σ and 2σ ellipses ({@link ellipsePolyline}).
 * 2. Project the sample points (rows of the window, any dimension d of the projection).
 * 3. Grow the limits to hold the points and the 2σ ellipses ({@link growBounds}).
 *
 * @param model - the mixture (dimension must be the projection's)
 * @param projection - from {@link projectionFor}, kept across windows
 * @param sample - points (rows of length d) and labels, or null
 * @param bounds - the limits so far, or null
 * @param at - the window and model version shown
 * @returns the view (numbers rounded to 5 significant digits) and the new limits
 */
export function mixtureView(
  model: MixtureJSON,
  projection: Projection,
  sample: { readonly points: readonly (readonly number[])[]; readonly labels: readonly number[] } | null,
  bounds: Bounds | null,
  at: { readonly windowIndex: number; readonly modelVersion: number },
): { view: MixtureView; bounds: Bounds } {
  const p = paramsFromJSON(model);
  const components: MixtureView['components'][number][] = [];
  const xs: number[] = [];
  const ys: number[] = [];
  for (let k = 0; k < p.k; k++) {
    const mean = projectPoint(projection, componentMean(p, k));
    const cov = projectCovariance(projection, componentCovariance(p, k));
    const sigma1 = ellipsePolyline(mean, cov, 1);
    const sigma2 = ellipsePolyline(mean, cov, 2);
    for (let i = 0; i < sigma2.length; i += 2) {
      xs.push(sigma2[i]);
      ys.push(sigma2[i + 1]);
    }
    components.push({ index: k, weight: r5(p.weights[k]), mean: [r5(mean[0]), r5(mean[1])], sigma1: sigma1.map(r5), sigma2: sigma2.map(r5) });
  }
  const points = { x: [] as number[], y: [] as number[], labels: [] as number[] };
  if (sample !== null) {
    sample.points.forEach((row, i) => {
      if (row.length !== projection.d) return;
      const [x, y] = projectPoint(projection, row);
      if (!Number.isFinite(x) || !Number.isFinite(y)) return;
      points.x.push(r5(x));
      points.y.push(r5(y));
      points.labels.push(sample.labels[i] ?? -1);
      xs.push(x);
      ys.push(y);
    });
  }
  const next = growBounds(bounds, xs, ys);
  return {
    view: {
      windowIndex: at.windowIndex,
      modelVersion: at.modelVersion,
      d: projection.d,
      axes: { x: projection.titles[0], y: projection.titles[1] },
      bounds: { minX: r5(next.minX), maxX: r5(next.maxX), minY: r5(next.minY), maxY: r5(next.maxY) },
      points,
      components,
    },
    bounds: next,
  };
}
