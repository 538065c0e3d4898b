import { describe, expect, it } from 'vitest';

import { EmstreamOptionsError } from '../../src/errors.js';
import { PAGE_HINKLEY_DEFAULTS, PageHinkley } from '../../src/gmm/pageHinkley.js';
import { seededUniform } from '../helpers/random.js';

/** Standard normal draws by Box–Muller from a seeded uniform source. */
function gaussian(seed: number): () => number {
  const u = seededUniform(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

describe('PageHinkley', () => {
  it('has the documented defaults', () => {
    const ph = new PageHinkley();
    expect(PAGE_HINKLEY_DEFAULTS).toEqual({ delta: 0.005, lambda: 50, alpha: 1, minInstances: 5 });
    expect([ph.delta, ph.lambda, ph.alpha, ph.minInstances]).toEqual([0.005, 50, 1, 5]);
  });

  it('computes m_t = max(0, α·m_{t−1} + x_t − mean_t − δ) (values worked out by hand)', () => {
    // δ = 0.5, α = 1: means 1, 1.5, 2, 4 → m = 0, 0, 0.5, 0.5 + 10 − 4 − 0.5 = 6
    const ph = new PageHinkley({ delta: 0.5, lambda: 100, minInstances: 1 });
    expect([1, 2, 3, 10].map((x) => ph.update(x).statistic)).toEqual([0, 0, 0.5, 6]);
    expect(ph.mean).toBe(4);
    expect(ph.n).toBe(4);
    // α = 0.5: the last step is 0.5·0.5 + 5.5 = 5.75
    const forgetful = new PageHinkley({ delta: 0.5, lambda: 100, alpha: 0.5, minInstances: 1 });
    expect([1, 2, 3, 10].map((x) => forgetful.update(x).statistic)).toEqual([0, 0, 0.5, 5.75]);
    // a decrease is clamped at 0: mean after 10, 0 is 5, 0 − 5 − 0 < 0
    const down = new PageHinkley({ delta: 0, lambda: 100, minInstances: 1 });
    expect([10, 0].map((x) => down.update(x).statistic)).toEqual([0, 0]);
  });

  it('reports the threshold and alarms only when m_t > λ', () => {
    const ph = new PageHinkley({ delta: 0.5, lambda: 6, minInstances: 1 });
    const results = [1, 2, 3, 10].map((x) => ph.update(x));
    expect(results.every((r) => r.threshold === 6)).toBe(true);
    expect(results.map((r) => r.alarm)).toEqual([false, false, false, false]); // 6 is not > 6
    const strict = new PageHinkley({ delta: 0.5, lambda: 5.9, minInstances: 1 });
    expect([1, 2, 3, 10].map((x) => strict.update(x).alarm)).toEqual([false, false, false, true]);
  });

  it('does not alarm on stationary seeded streams (default options)', () => {
    // Without drift the statistic is a reflected random walk with step mean −δ: its running maximum
    // grows like (σ²/2δ)·ln t, about 1·ln 5000 ≈ 9 here (σ = 0.1, δ = 0.005), far below λ = 50.
    for (const seed of [1, 2, 3, 12345, 99]) {
      const ph = new PageHinkley();
      const noise = gaussian(seed);
      let maxStatistic = 0;
      for (let t = 0; t < 5000; t++) {
        const r = ph.update(10 + 0.1 * noise());
        expect(r.alarm).toBe(false);
        maxStatistic = Math.max(maxStatistic, r.statistic);
      }
      expect(maxStatistic).toBeLessThan(PAGE_HINKLEY_DEFAULTS.lambda / 2);
    }
  });

  it('alarms within a few steps of a mean shift', () => {
    const noise = gaussian(777);
    const ph = new PageHinkley({ lambda: 10 });
    for (let t = 0; t < 500; t++) expect(ph.update(0.3 * noise()).alarm).toBe(false);
    let delay = -1;
    for (let t = 0; t < 20; t++) {
      if (ph.update(4 + 0.3 * noise()).alarm) {
        delay = t + 1;
        break;
      }
    }
    // each shifted value adds about 4 − δ, so 3 steps pass λ = 10
    expect(delay).toBeGreaterThan(0);
    expect(delay).toBeLessThanOrEqual(4);
  });

  it('does not alarm on a decrease of the mean', () => {
    const noise = gaussian(31);
    const ph = new PageHinkley({ lambda: 5 });
    for (let t = 0; t < 200; t++) ph.update(0.2 * noise());
    for (let t = 0; t < 200; t++) expect(ph.update(-10 + 0.2 * noise()).alarm).toBe(false);
  });

  it('waits for minInstances observations before alarming', () => {
    const ph = new PageHinkley({ delta: 0, lambda: 1, minInstances: 4 });
    // 0, 100: m = 0 + 100 − 50 = 50 > λ, but n = 2 < 4
    expect(ph.update(0).alarm).toBe(false);
    const second = ph.update(100);
    expect(second.statistic).toBe(50);
    expect(second.alarm).toBe(false);
    // third: mean 200/3, m = 50 + 100 − 200/3 > λ, n = 3 < 4
    expect(ph.update(100).alarm).toBe(false);
    // fourth: n = 4, m still far above λ
    expect(ph.update(100).alarm).toBe(true);
  });

  it('resets itself after an alarm: the next observation starts a fresh test', () => {
    const xs = [0, 0, 0, 0, 0, 50, 1, 2, 3, 10];
    const ph = new PageHinkley({ delta: 0.5, lambda: 20, minInstances: 1 });
    const results = xs.map((x) => ph.update(x));
    expect(results[5].alarm).toBe(true);
    expect(results[5].statistic).toBeCloseTo(50 - 50 / 6 - 0.5, 12);
    // after the alarm it behaves exactly like a new detector fed 1, 2, 3, 10
    expect(results.slice(6).map((r) => r.statistic)).toEqual([0, 0, 0.5, 6]);
    expect(ph.n).toBe(4);
  });

  it('reset() forgets the observations and keeps the options', () => {
    const ph = new PageHinkley({ delta: 0.5, lambda: 100, alpha: 0.9, minInstances: 2 });
    [3, 1, 7, 9].forEach((x) => ph.update(x));
    expect(ph.statistic).toBeGreaterThan(0);
    ph.reset();
    expect([ph.n, ph.mean, ph.statistic]).toEqual([0, 0, 0]);
    expect([ph.delta, ph.lambda, ph.alpha, ph.minInstances]).toEqual([0.5, 100, 0.9, 2]);
    const fresh = new PageHinkley({ delta: 0.5, lambda: 100, alpha: 0.9, minInstances: 2 });
    for (const x of [4, 8, 1, 20]) expect(ph.update(x)).toEqual(fresh.update(x));
  });

  it('round-trips its state through toJSON/fromJSON (and JSON text)', () => {
    const a = new PageHinkley({ delta: 0.01, lambda: 3, alpha: 0.99, minInstances: 3 });
    const noise = gaussian(5);
    for (let t = 0; t < 37; t++) a.update(noise());
    const json = a.toJSON();
    expect(json.format).toBe('emstream.page-hinkley');
    expect(json.n).toBe(a.n);
    const b = PageHinkley.fromJSON(JSON.parse(JSON.stringify(json)));
    expect(b.toJSON()).toEqual(json);
    for (let t = 0; t < 50; t++) {
      const x = 2 * noise() + (t > 20 ? 3 : 0);
      expect(b.update(x)).toEqual(a.update(x));
    }
  });

  it('validates options, observations and JSON', () => {
    expect(() => new PageHinkley({ delta: -1 })).toThrow(EmstreamOptionsError);
    expect(() => new PageHinkley({ lambda: 0 })).toThrow(/lambda/);
    expect(() => new PageHinkley({ alpha: 0 })).toThrow(/alpha/);
    expect(() => new PageHinkley({ alpha: 1.5 })).toThrow(/alpha/);
    expect(() => new PageHinkley({ minInstances: 2.5 })).toThrow(/minInstances/);
    const ph = new PageHinkley();
    ph.update(1);
    expect(() => ph.update(NaN)).toThrow(/finite/);
    expect(() => ph.update(Infinity)).toThrow(/finite/);
    expect(ph.n).toBe(1); // state untouched by the rejected value
    expect(() => PageHinkley.fromJSON({ ...ph.toJSON(), n: -1 })).toThrow(/n must be/);
    expect(() => PageHinkley.fromJSON({ ...ph.toJSON(), statistic: -1 })).toThrow(/statistic/);
    // @ts-expect-error: wrong format tag
    expect(() => PageHinkley.fromJSON({ ...ph.toJSON(), format: 'other' })).toThrow(/format/);
  });
});
