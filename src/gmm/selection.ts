/**
 * Unbiased choice between a warm candidate (fitted to the window plus the carried history) and cold ones
 * (fitted to the window alone): every candidate is fitted to the same part of the window and scored on a
 * held-out part none of them saw.
 *
 * Why: a cold candidate fitted to window t explains window t better than one constrained by history, even
 * when the history makes the better model of the stream (in-sample bias); comparing them by a likelihood
 * on window t picks cold almost always and throws the history away. On held-out points the comparison is
 * an estimate of each candidate's predictive log-likelihood, the quantity the stream cares about: warm wins
 * while the history still describes the data, cold wins once it no longer does (after a jump). A cold
 * candidate replaces the warm one only when it is better beyond noise (a paired test on the held-out
 * points), since the switch throws the history away.
 *
 * @module
 */
import { eStep, precompute } from './estep.js';
import type { Rng } from './rng.js';
import type { Dataset, GmmParams } from './types.js';

/** A window split into the part candidates are fitted to and the part they are scored on. */
export interface WindowSplit {
  readonly fit: Dataset;
  readonly test: Dataset;
}

/**
 * Splits a window at random into a held-out part of round(n·fraction) points and the rest, both in
 * window order.
 *
 * 1. choose the held-out rows by a partial Fisher–Yates shuffle of 0..n−1 (seeded);
 * 2. copy the rows of each part into its own n_part×D buffer.
 *
 * @param data n×D points
 * @param fraction share held out, in (0, 1)
 * @returns the split, or null when either part would be empty
 */
export function splitWindow(data: Dataset, fraction: number, rng: Rng): WindowSplit | null {
  const { n, d, data: x } = data;
  const m = Math.round(n * fraction);
  if (m < 1 || n - m < 1) return null;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const held = new Uint8Array(n);
  for (let i = 0; i < m; i++) {
    const j = i + rng.int(n - i);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
    held[order[i]] = 1;
  }
  const fit = new Float64Array((n - m) * d);
  const test = new Float64Array(m * d);
  let f = 0;
  let h = 0;
  for (let i = 0; i < n; i++) {
    const row = x.subarray(i * d, i * d + d);
    if (held[i] === 1) test.set(row, d * h++);
    else fit.set(row, d * f++);
  }
  return { fit: { n: n - m, d, data: fit }, test: { n: m, d, data: test } };
}

/** log p(x_i) of every point of `data` under `params` (null when a covariance cannot be factored or a value is not finite). */
export function logDensities(params: GmmParams, data: Dataset): Float64Array | null {
  const pre = precompute(params);
  if (!pre.ok) return null;
  const out = new Float64Array(data.n);
  const { logLikelihood } = eStep(pre.value, data.data, data.n, false, null, { logDensity: out });
  return Number.isFinite(logLikelihood) ? out : null;
}

/**
 * The paired difference of two models' log-densities on the same points: its mean d̄ = Σ_i (log p_c(x_i) − log
 * p_i(x_i)) / m and the standard error of that mean (0 with fewer than two points).
 */
export function pairedGain(challenger: Float64Array, incumbent: Float64Array): { mean: number; se: number } {
  const m = challenger.length;
  if (m === 0) return { mean: 0, se: 0 };
  let sum = 0;
  for (let i = 0; i < m; i++) sum += challenger[i] - incumbent[i];
  const mean = sum / m;
  if (m < 2) return { mean, se: 0 };
  let ss = 0;
  for (let i = 0; i < m; i++) {
    const e = challenger[i] - incumbent[i] - mean;
    ss += e * e;
  }
  return { mean, se: Math.sqrt(ss / (m - 1) / m) };
}

/**
 * Whether `challenger` predicts the held-out points better than `incumbent` beyond noise: the paired
 * differences d_i = log p_c(x_i) − log p_i(x_i) must have a mean above z standard errors (one-sided test;
 * z = 2 ≈ 2.3 % false switches). Switching drops the history, so it needs evidence, not a coin toss.
 */
export function significantlyBetter(challenger: Float64Array, incumbent: Float64Array, z = 2): boolean {
  if (challenger.length < 2) return false;
  const { mean, se } = pairedGain(challenger, incumbent);
  return mean > z * se;
}

/** Mean log-likelihood per point of `data` under `params` (null when a covariance cannot be factored). */
export function meanLogLikelihood(params: GmmParams, data: Dataset): number | null {
  const pre = precompute(params);
  if (!pre.ok) return null;
  const ll = eStep(pre.value, data.data, data.n, false, null).logLikelihood / data.n;
  return Number.isFinite(ll) ? ll : null;
}
