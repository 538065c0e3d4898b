/**
 * Special functions for the tail probabilities of test statistics: ln Γ, the regularised upper incomplete
 * gamma function in log space, and the χ² survival function as −log₁₀ p (finite far into the tail, where p
 * itself underflows).
 *
 * @module
 */

const LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];

/** ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: about 15 significant digits). */
export function lnGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0];
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i] / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

/**
 * ln Q(a, x), Q the regularised upper incomplete gamma function Γ(a, x)/Γ(a), for a > 0, x ≥ 0: the series of
 * P(a, x) for x < a + 1, Lentz's continued fraction of Q beyond (Numerical Recipes §6.2), both in log space.
 */
export function logGammaQ(a: number, x: number): number {
  if (!(x > 0)) return 0;
  const lead = -x + a * Math.log(x) - lnGamma(a);
  if (x < a + 1) {
    let ap = a;
    let sum = 1 / a;
    let del = sum;
    for (let n = 0; n < 1000; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-16) break;
    }
    const p = Math.exp(lead + Math.log(sum));
    return Math.log1p(-Math.min(p, 1 - 1e-300));
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-16) break;
  }
  return lead + Math.log(h);
}

/**
 * −log₁₀ P(χ²_ν > x): 0 for x ≤ 0, about 3 at the 0.999 quantile, growing without bound (never ∞ for finite x);
 * 3.841 is the 0.95 quantile of χ²_1, so p = 0.05 below.
 *
 * ## Example
 * ```ts
 * import { chiSquareLog10Survival } from 'emstream/core';
 *
 * console.log(chiSquareLog10Survival(3.841, 1).toFixed(3)); // → 1.301
 * ```
 */
export function chiSquareLog10Survival(x: number, nu: number): number {
  if (!(x > 0) || !(nu > 0)) return 0;
  return Math.max(0, -logGammaQ(nu / 2, x / 2) / Math.LN10);
}
