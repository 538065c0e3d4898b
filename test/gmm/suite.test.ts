/**
 * The randomized scenario suite, CI-sized: 24 streams drawn from the report seeds of `npm run bench -- quality`
 * (1001–1024; none of them was tuned on), D ≤ 8, windows of at most 1200 points, 30 windows each, scored
 * prequentially against the true mixture (no scikit-learn here: the bench compares with it). The bounds are
 * the targets docs/accuracy.md states for the defaults, with room for the noise of 24 streams where a rate is
 * counted in a few hundred windows.
 */
import { describe, expect, it } from 'vitest';
import { generate, quantile, randomScenario, scoreStream, type StreamScore } from '../../bench/streams.js';

const SEEDS = Array.from({ length: 24 }, (_, i) => 1001 + i);

describe('the scenario suite (CI subset of the report seeds)', () => {
  const scores: StreamScore[] = SEEDS.map((seed) => scoreStream(generate(randomScenario(seed, { maxD: 8, maxSize: 1200, windows: 30 })), { seed: 1 }));
  const gaps = scores.map((r) => r.ari.ours - r.ari.truth);
  const stationary = scores.reduce((a, r) => a + r.stationaryWindows, 0);

  it('draws every kind of stream: all four covariance types, D from 2 to 8, K from 2 to 15, all five dynamics', () => {
    expect(new Set(scores.map((r) => r.covarianceType)).size).toBe(4);
    expect(new Set(scores.map((r) => r.dynamics))).toEqual(new Set(['stationary', 'jump', 'gradual', 'birth', 'death']));
    expect(Math.min(...scores.map((r) => r.d))).toBe(2);
    expect(Math.max(...scores.map((r) => r.k))).toBeGreaterThanOrEqual(13);
    expect(stationary).toBeGreaterThan(400);
  });

  it('labels within 0.02 of the true mixture at the median (prequential ARI), and no stream collapses', () => {
    expect(quantile(gaps, 0.5)).toBeGreaterThan(-0.02);
    // The 10th percentile target (−0.05) is not met on every draw: heavily overlapping geometries and the odd
    // local optimum (docs/accuracy.md); this bound guards against a regression.
    expect(quantile(gaps, 0.1)).toBeGreaterThan(-0.1);
    expect(Math.min(...gaps)).toBeGreaterThan(-0.35);
    // on the stationary streams every component's label is in use at the end
    for (const r of scores) if (r.dynamics === 'stationary') expect(r.labelsInUse, r.name).toBe(r.k);
  });

  it('about one false alarm per 100 stationary windows, re-seeds rare, every abrupt change flagged at once', () => {
    const alarms = scores.reduce((a, r) => a + r.stationaryAlarms, 0);
    const reseeds = scores.reduce((a, r) => a + r.stationaryReseeds, 0);
    expect((100 * alarms) / stationary).toBeLessThan(1.5);
    // (the windows before a birth hold a spare component, which the probes try to place: most of these are reverted)
    expect((100 * reseeds) / stationary).toBeLessThan(2.5);
    const abrupt = scores.filter((r) => r.delay !== undefined);
    expect(abrupt.length).toBeGreaterThanOrEqual(8);
    for (const r of abrupt) expect(r.delay, r.name).not.toBeNull();
    expect(quantile(abrupt.map((r) => r.delay!), 0.5)).toBe(0);
    expect(Math.max(...abrupt.map((r) => r.delay!))).toBeLessThanOrEqual(2);
  });
});
