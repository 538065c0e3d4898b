import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/gmm/rng.js';
import type { MixtureJSON } from '../../src/gmm/model.js';
import { ellipsePolyline, growBounds, mixtureMoments, mixtureView, projectCovariance, projectionFor, projectPoint } from '../../src/dashboard/projection.js';
import { paramsFromJSON } from '../../src/gmm/model.js';

function model(d: number, k: number, seed: number): MixtureJSON {
  const rng = new Rng(seed);
  const means = Array.from({ length: k }, () => Array.from({ length: d }, () => 5 * rng.normal()));
  const covariances = Array.from({ length: k }, () => {
    const a = Array.from({ length: d }, () => Array.from({ length: d }, () => rng.normal()));
    return a.map((_, i) => a.map((__, j) => a[i].reduce((s, _v, c) => s + a[i][c] * a[j][c], 0) + (i === j ? 0.5 : 0)));
  });
  const w = Array.from({ length: k }, () => 0.5 + rng.uniform());
  const total = w.reduce((a, b) => a + b, 0);
  return { format: 'emstream.gmm', version: 1, covarianceType: 'full', k, d, weights: w.map((x) => x / total), means, covariances };
}

describe('mixtureMoments', () => {
  it('is the law of total covariance (a hand-worked two-component case)', () => {
    const m: MixtureJSON = { format: 'emstream.gmm', version: 1, covarianceType: 'diag', k: 2, d: 2, weights: [0.25, 0.75], means: [[0, 0], [4, 2]], covariances: [[1, 2], [3, 1]] };
    const { mean, covariance } = mixtureMoments(paramsFromJSON(m));
    // mean = 0.75·(4, 2) = (3, 1.5); within = 0.25·diag(1,2) + 0.75·diag(3,1) = diag(2.5, 1.25);
    // between = 0.25·0.75·(4, 2)(4, 2)ᵀ = [[3, 1.5], [1.5, 0.75]].
    expect(Array.from(mean)).toEqual([3, 1.5]);
    const expected = [5.5, 1.5, 1.5, 2];
    Array.from(covariance).forEach((x, i) => expect(x).toBeCloseTo(expected[i], 12));
  });
});

describe('projectionFor', () => {
  it('is the identity in two dimensions', () => {
    const p = projectionFor(model(2, 3, 1));
    expect(p.titles).toEqual(['x₁', 'x₂']);
    expect(projectPoint(p, [3, -4])).toEqual([3, -4]);
  });

  it('uses the first two principal axes of the mixture in more dimensions', () => {
    const m = model(6, 4, 2);
    const p = projectionFor(m);
    const { covariance } = mixtureMoments(paramsFromJSON(m));
    const d = 6;
    const [u, v] = p.axes;
    const dot = (a: ArrayLike<number>, b: ArrayLike<number>): number => Array.from(a).reduce((s, x, i) => s + x * b[i], 0);
    const mul = (a: ArrayLike<number>): number[] => Array.from({ length: d }, (_, i) => Array.from(a).reduce((s, x, j) => s + covariance[i * d + j] * x, 0));
    expect(dot(u, u)).toBeCloseTo(1, 10);
    expect(dot(v, v)).toBeCloseTo(1, 10);
    expect(dot(u, v)).toBeCloseTo(0, 10);
    // eigenvectors: C u = λ u
    const lu = dot(u, mul(u));
    const lv = dot(v, mul(v));
    mul(u).forEach((x, i) => expect(x).toBeCloseTo(lu * u[i], 8));
    mul(v).forEach((x, i) => expect(x).toBeCloseTo(lv * v[i], 8));
    expect(lu).toBeGreaterThanOrEqual(lv);
    // no unit vector carries more variance than u (random directions, and the other axes)
    const rng = new Rng(9);
    for (let t = 0; t < 200; t++) {
      const r = Array.from({ length: d }, () => rng.normal());
      const norm = Math.sqrt(dot(r, r));
      const x = r.map((c) => c / norm);
      expect(dot(x, mul(x))).toBeLessThanOrEqual(lu + 1e-9);
    }
    expect(p.titles[0]).toMatch(/^PC1 \(\d+% of the variance\)$/);
    // the mixture mean projects to the origin
    const { mean } = mixtureMoments(paramsFromJSON(m));
    projectPoint(p, mean).forEach((c) => expect(c).toBeCloseTo(0, 10));
  });

  it('projects covariances as A Σ Aᵀ', () => {
    const p = projectionFor(model(4, 2, 3));
    const cov = Float64Array.from({ length: 16 }, (_, i) => (i % 5 === 0 ? 2 : 0.25));
    const { a, b, c } = projectCovariance(p, cov);
    const quad = (x: Float64Array, y: Float64Array): number => {
      let s = 0;
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) s += x[i] * cov[i * 4 + j] * y[j];
      return s;
    };
    expect(a).toBeCloseTo(quad(p.axes[0], p.axes[0]), 12);
    expect(b).toBeCloseTo(quad(p.axes[0], p.axes[1]), 12);
    expect(c).toBeCloseTo(quad(p.axes[1], p.axes[1]), 12);
  });
});

describe('ellipsePolyline', () => {
  it('puts every point at Mahalanobis distance s from the mean', () => {
    const cov = { a: 3, b: 1.2, c: 1 };
    const det = cov.a * cov.c - cov.b * cov.b;
    for (const s of [1, 2]) {
      const line = ellipsePolyline([2, -1], cov, s, 36);
      expect(line).toHaveLength(2 * 37);
      expect(line.slice(0, 2)).toEqual(line.slice(-2));
      for (let i = 0; i < line.length; i += 2) {
        const x = line[i] - 2;
        const y = line[i + 1] + 1;
        const m2 = (cov.c * x * x - 2 * cov.b * x * y + cov.a * y * y) / det;
        expect(Math.sqrt(m2)).toBeCloseTo(s, 10);
      }
    }
  });
});

describe('growBounds', () => {
  it('pads the first content, keeps its limits for content inside, grows for content outside, never shrinks', () => {
    const first = growBounds(null, [0, 10], [0, 4]);
    expect(first).toEqual({ minX: -1.5, maxX: 11.5, minY: -0.6, maxY: 4.6 });
    expect(growBounds(first, [1, 2], [1, 2])).toBe(first);
    const grown = growBounds(first, [20], [1]);
    expect(grown.minX).toBeLessThanOrEqual(first.minX);
    expect(grown.maxX).toBeGreaterThan(20);
    expect(grown.minY).toBeLessThanOrEqual(first.minY);
    expect(grown.maxY).toBeGreaterThanOrEqual(first.maxY);
    expect(growBounds(null, [3], [3]).maxX).toBeGreaterThan(3);
    expect(growBounds(first, [NaN], [Infinity])).toBe(first);
  });
});

describe('mixtureView', () => {
  it('draws K components and the projected sample inside fixed limits', () => {
    const m = model(5, 3, 4);
    const p = projectionFor(m);
    const rng = new Rng(1);
    const points = Array.from({ length: 50 }, () => Array.from({ length: 5 }, () => 4 * rng.normal()));
    const labels = points.map((_, i) => i % 3);
    const { view, bounds } = mixtureView(m, p, { points, labels }, null, { windowIndex: 7, modelVersion: 8 });
    expect(view).toMatchObject({ windowIndex: 7, modelVersion: 8, d: 5, axes: { x: p.titles[0], y: p.titles[1] } });
    expect(view.components).toHaveLength(3);
    for (const c of view.components) {
      expect(c.sigma1).toHaveLength(2 * 49);
      expect(c.sigma2).toHaveLength(2 * 49);
      const [mx, my] = projectPoint(p, m.means[c.index]);
      expect(c.mean[0]).toBeCloseTo(mx, 3);
      expect(c.mean[1]).toBeCloseTo(my, 3);
    }
    expect(view.points.x).toHaveLength(50);
    points.forEach((row, i) => {
      const [x, y] = projectPoint(p, row);
      expect(view.points.x[i]).toBeCloseTo(x, 3);
      expect(view.points.y[i]).toBeCloseTo(y, 3);
      expect(x).toBeGreaterThan(bounds.minX);
      expect(x).toBeLessThan(bounds.maxX);
    });
    expect(view.points.labels).toEqual(labels);
    // the same picture again keeps the same limits
    expect(mixtureView(m, p, { points, labels }, bounds, { windowIndex: 8, modelVersion: 9 }).bounds).toBe(bounds);
    // rows of another dimension are left out rather than misdrawn
    expect(mixtureView(m, p, { points: [[1, 2]], labels: [0] }, bounds, { windowIndex: 9, modelVersion: 10 }).view.points.x).toEqual([]);
  });
});
