/**
 * Agreement between two labelings of the same points: for scoring a stream's labels against known
 * classes (prequentially: each window labelled by the model from before it), or two models' labels
 * against each other. The labels are any values compared with `===` semantics (`Map` keys), so
 * component indices, class names and label permutations all work; the scores do not depend on which
 * label value names which cluster.
 *
 * @module
 */
import { DataError } from './errors.js';

/** Any labels: numbers (component indices) or strings (class names). */
export type Labels = ArrayLike<number | string>;

/**
 * The contingency table of two labelings: n_ij = #points with label i in `a` and j in `b`.
 *
 * 1. label values → dense indices 0 … R−1 and 0 … C−1 in order of first appearance;
 * 2. counts keyed by i·C + j (exact for any R·C < 2⁵³), row sums a_i, column sums b_j.
 */
function contingency(a: Labels, b: Labels): { cells: Iterable<number>; rows: Float64Array; cols: Float64Array; n: number } {
  if (a.length !== b.length) {
    throw new DataError(`labelings of different lengths (${a.length} and ${b.length}): give one label per point in both`);
  }
  const n = a.length;
  const ia = new Map<number | string, number>();
  const ib = new Map<number | string, number>();
  const ra = new Int32Array(n);
  const rb = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let x = ia.get(a[i]);
    if (x === undefined) ia.set(a[i], (x = ia.size));
    ra[i] = x;
    let y = ib.get(b[i]);
    if (y === undefined) ib.set(b[i], (y = ib.size));
    rb[i] = y;
  }
  const r = ia.size;
  const c = ib.size;
  const rows = new Float64Array(r);
  const cols = new Float64Array(c);
  const table = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    rows[ra[i]]++;
    cols[rb[i]]++;
    const key = ra[i] * c + rb[i];
    table.set(key, (table.get(key) ?? 0) + 1);
  }
  return { cells: table.values(), rows, cols, n };
}

const pairs = (x: number): number => (x * (x - 1)) / 2;

/**
 * Adjusted Rand index (Hubert & Arabie 1985) of two labelings of the same points: the Rand index
 * corrected for chance, 1 for the same partition (whatever the label values), about 0 for independent
 * ones, negative for worse than chance. Symmetric; the same as scikit-learn's `adjusted_rand_score`.
 *
 * ARI = (Σ_ij C(n_ij, 2) − E) / (½(Σ_i C(a_i, 2) + Σ_j C(b_j, 2)) − E), E = Σ_i C(a_i, 2)·Σ_j C(b_j, 2) / C(n, 2),
 * from the contingency table n_ij with row sums a_i and column sums b_j. When both labelings are trivial
 * in the same way (one cluster each, or all singletons; also fewer than 2 points) the ratio is 0/0 and the
 * index is 1, as in scikit-learn.
 *
 * @param a labels (N), e.g. the true classes
 * @param b labels (N), e.g. `GaussianMixture.predict(window)`
 * @throws DataError when the two labelings have different lengths
 *
 * ## Example
 * ```ts
 * import { adjustedRandIndex } from 'emstream';
 * console.log(adjustedRandIndex([0, 0, 1, 1], [1, 1, 0, 0]));
 * // → 1
 * console.log(adjustedRandIndex(['a', 'a', 'b', 'b'], [0, 0, 1, 2]).toFixed(6));
 * // → 0.571429
 * ```
 */
export function adjustedRandIndex(a: Labels, b: Labels): number {
  const { cells, rows, cols, n } = contingency(a, b);
  let index = 0;
  for (const v of cells) index += pairs(v);
  let sa = 0;
  for (const v of rows) sa += pairs(v);
  let sb = 0;
  for (const v of cols) sb += pairs(v);
  const expected = n < 2 ? 0 : (sa * sb) / pairs(n);
  const max = (sa + sb) / 2;
  if (max === expected) return 1;
  return (index - expected) / (max - expected);
}
