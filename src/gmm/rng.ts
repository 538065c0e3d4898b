import { xoroshiro128plus, xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { ModelFormatError } from './errors.js';

/** The JSON form of an {@link Rng}'s position in its stream: enough to continue it exactly. */
export interface RngState {
  readonly seed: number;
  /** xoroshiro128+ state words (pure-rand's `getState()`). */
  readonly state: readonly number[];
  /** The cached second normal draw of the polar method, if any. */
  readonly spare: number | null;
}

/**
 * A seeded random source (xoroshiro128+ from `pure-rand`): the same seed gives bit-identical
 * draws on every platform, so every fit is reproducible.
 */
export class Rng {
  private readonly gen: RandomGenerator;
  private spare: number | null = null;

  /**
   * @param seed any 32-bit integer
   * @param gen the generator to continue (internal: see {@link Rng.fromState})
   */
  constructor(
    readonly seed: number = 0,
    gen?: RandomGenerator,
  ) {
    this.gen = gen ?? xoroshiro128plus(seed | 0);
  }

  /** Where this generator is in its stream (JSON-serialisable). */
  getState(): RngState {
    return { seed: this.seed, state: [...this.gen.getState()], spare: this.spare };
  }

  /**
   * Continues a generator from {@link Rng.getState}: the draws that follow are those the saved one would have made.
   *
   * @throws ModelFormatError when the state is malformed
   */
  static fromState(json: RngState, path = 'rng'): Rng {
    const ok =
      typeof json === 'object' &&
      json !== null &&
      Number.isInteger(json.seed) &&
      Array.isArray(json.state) &&
      json.state.length === 4 &&
      json.state.every((w) => Number.isInteger(w)) &&
      (json.spare === null || Number.isFinite(json.spare));
    if (!ok) throw new ModelFormatError('expected { seed, state: 4 integers, spare: number | null }', path);
    const rng = new Rng(json.seed, xoroshiro128plusFromState(json.state));
    rng.spare = json.spare;
    return rng;
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
