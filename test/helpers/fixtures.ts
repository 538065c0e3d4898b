import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Dataset } from '../../src/gmm/types.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/** Reads a committed CSV data set (no header) into a Dataset. */
export function loadCsv(name: string): Dataset {
  const rows = readFileSync(join(FIXTURES, 'data', name), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(',').map(Number));
  const n = rows.length;
  const d = rows[0].length;
  const data = new Float64Array(n * d);
  rows.forEach((r, i) => data.set(r, i * d));
  return { n, d, data };
}

export function loadJson<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, name), 'utf8')) as T;
}

export function flat(x: unknown): number[] {
  return Array.isArray(x) ? x.flatMap(flat) : [x as number];
}

/**
 * Elementwise |a − b| ≤ rtol·|b| + atol, with atol = rtol·1e-6·max|b| so that entries that are
 * zero up to rounding (off-diagonal covariances, tiny probabilities) compare on the array's scale.
 * Returns the worst violation ratio (≤ 1 passes).
 */
export function worstRelative(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-8): number {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} ≠ ${expected.length}`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const atol = rtol * 1e-6 * scale;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    const allowed = rtol * Math.abs(expected[i]) + atol;
    if (!(err <= allowed)) worst = Math.max(worst, Number.isNaN(err) ? Infinity : err / allowed);
    else worst = Math.max(worst, allowed === 0 ? 0 : err / allowed);
  }
  return worst;
}
