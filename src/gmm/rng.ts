import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';

/**
 * A seeded random source (xoroshiro128+ from `pure-rand`): the same seed gives bit-identical
 * draws on every platform, so every fit is reproducible.
 */
export class Rng {
  private readonly gen: RandomGenerator;
  private spare: number | null = null;

  /** @param seed any 32-bit integer */
  constructor(readonly seed: number = 0) {
    this.gen = xoroshiro128plus(seed | 0);
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    return uniformFloat64(this.gen);
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal draw (Marsaglia polar method). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u: number;
    let v: number;
    let s: number;
    do {
      u = 2 * this.uniform() - 1;
      v = 2 * this.uniform() - 1;
      s = u * u + v * v;
    } while (s >= 1 || s === 0);
    const f = Math.sqrt((-2 * Math.log(s)) / s);
    this.spare = v * f;
    return u * f;
  }

  /** Index drawn with probability proportional to `weights[i]` (non-negative, n entries). */
  categorical(weights: ArrayLike<number>, n: number = weights.length, total?: number): number {
    let sum = total ?? 0;
    if (total === undefined) for (let i = 0; i < n; i++) sum += weights[i];
    let r = this.uniform() * sum;
    for (let i = 0; i < n; i++) {
      r -= weights[i];
      if (r < 0) return i;
    }
    // Rounding left r ≥ 0: return the last index with positive weight.
    for (let i = n - 1; i >= 0; i--) if (weights[i] > 0) return i;
    return n - 1;
  }

  /** A new generator whose stream is derived from this one (for independent restarts). */
  fork(): Rng {
    return new Rng(this.gen.next());
  }
}
