/**
 * The reducer's ledger of a shared model: which input offsets the global statistics count, and the rules that admit a
 * contribution into a round (idempotence, staleness, structural changes). Pure: no I/O; its JSON form is part of
 * the reducer's state message, so a new reducer resumes it exactly.
 *
 * @module
 */
import { compareOffsets, isSafeOffset, offsetAfter, partitionKey } from '../../offsets.js';

/** A position per input partition: the first offset not counted yet. */
export interface CoveredOffset {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
}

/** What happened to contributions, counted since the shared model began. */
export interface LedgerCounts {
  /** Merged whole. */
  merged: number;
  /** Merged in part: their offsets began below the covered offset (an at-least-once replay overlapping what was counted). */
  partial: number;
  /** Dropped: every offset already counted (an at-least-once replay). */
  duplicate: number;
  /** Dropped: computed under a model more than `maxStaleness` versions old. */
  stale: number;
  /** Dropped: computed under a model older than the last restart, re-seed or change of K (its components meant other clusters). */
  structural: number;
  /** Dropped: of another shape (K, D, covariance type), of a version the reducer never made, or of another pipeline. */
  mismatched: number;
}

/** The JSON form of a {@link ContributionLedger}. */
export interface LedgerJSON {
  /** Per input partition, the first offset whose point the global statistics do not count yet. */
  readonly covered: readonly CoveredOffset[];
  /** The version made by the last restart, re-seed or change of K: contributions under older versions are not merged. */
  readonly structuralVersion: number;
  readonly counts: Readonly<LedgerCounts>;
  /** Points merged so far (partial contributions by their share). */
  readonly points: number;
}

/** The verdict on one contribution. */
export type Admission =
  | { readonly verdict: 'merged'; readonly weight: 1 }
  | { readonly verdict: 'partial'; readonly weight: number }
  | { readonly verdict: 'duplicate' | 'stale' | 'structural' | 'mismatched'; readonly weight: 0 };

/** What the ledger needs of a contribution. */
export interface ContributionRange {
  readonly topic: string;
  readonly partition: number;
  readonly firstOffset: string;
  readonly lastOffset: string;
  readonly modelVersion: number;
  readonly count: number;
}

/** `b − a + 1` offsets, as a number (exact enough for a share: within 2^53 of each other). */
function span(a: string, b: string): number {
  if (isSafeOffset(a) && isSafeOffset(b)) return Number(b) - Number(a) + 1;
  return Number(BigInt(b) - BigInt(a)) + 1;
}

/**
 * The ledger: per input partition, the first offset not counted yet, and the admission rules.
 *
 * For a contribution computed under version v, covering offsets first..last of a partition whose covered offset
 * is c, when the global model is at version V (the round being made will be V + 1):
 * 1. v > V, or another shape or pipeline: `mismatched`, dropped (nothing moves);
 * 2. last < c: `duplicate` (every offset already counted: a replay), dropped;
 * 3. v < the last structural version (a restart, re-seed or change of K since): `structural`, dropped, c ← last + 1;
 * 4. V − v > maxStaleness: `stale`, dropped, c ← last + 1 (its points are labelled; the model goes without them);
 * 5. first < c ≤ last: `partial`, merged with weight (last − c + 1)/(last − first + 1), the share of its offsets not
 *    yet counted (its points are exchangeable within the window), c ← last + 1;
 * 6. otherwise `merged` with weight 1, c ← last + 1 (gaps before first are offsets without a point: dead letters,
 *    transaction markers).
 */
export class ContributionLedger {
  private readonly covered = new Map<string, CoveredOffset>();
  private structural: number;
  readonly counts: LedgerCounts;
  private pointsMerged: number;

  /** @param saved - a saved ledger to continue (or the covered offsets of a restored state without one) */
  constructor(saved?: Partial<LedgerJSON>) {
    for (const c of saved?.covered ?? []) this.covered.set(partitionKey(c.topic, c.partition), { topic: c.topic, partition: c.partition, offset: c.offset });
    this.structural = saved?.structuralVersion ?? 0;
    this.counts = { merged: 0, partial: 0, duplicate: 0, stale: 0, structural: 0, mismatched: 0, ...saved?.counts };
    this.pointsMerged = saved?.points ?? 0;
  }

  /** The first offset of a partition not counted yet (undefined: nothing counted). */
  coveredOffset(topic: string, partition: number): string | undefined {
    return this.covered.get(partitionKey(topic, partition))?.offset;
  }

  /** Every partition's covered offset, sorted by topic and partition. */
  coveredOffsets(): CoveredOffset[] {
    return [...this.covered.values()].sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition));
  }

  /** The version of the last structural change. */
  get structuralVersion(): number {
    return this.structural;
  }

  /** Points merged so far. */
  get points(): number {
    return this.pointsMerged;
  }

  /** A contribution that cannot be merged at all (another shape, pipeline, or a version never made). */
  mismatch(): Admission {
    this.counts.mismatched++;
    return { verdict: 'mismatched', weight: 0 };
  }

  /**
   * Decides on one contribution and moves the partition's covered offset (see the class comment).
   *
   * @param c - the contribution's partition, offsets, version and count
   * @param version - the global model's version now (V)
   * @param maxStaleness - the most versions a merged contribution may be behind
   */
  admit(c: ContributionRange, version: number, maxStaleness: number): Admission {
    if (c.modelVersion > version) return this.mismatch();
    const key = partitionKey(c.topic, c.partition);
    const covered = this.covered.get(key)?.offset;
    if (covered !== undefined && compareOffsets(c.lastOffset, covered) < 0) {
      this.counts.duplicate++;
      return { verdict: 'duplicate', weight: 0 };
    }
    this.covered.set(key, { topic: c.topic, partition: c.partition, offset: offsetAfter(c.lastOffset) });
    if (c.modelVersion < this.structural) {
      this.counts.structural++;
      return { verdict: 'structural', weight: 0 };
    }
    if (version - c.modelVersion > maxStaleness) {
      this.counts.stale++;
      return { verdict: 'stale', weight: 0 };
    }
    if (covered !== undefined && compareOffsets(c.firstOffset, covered) < 0) {
      const weight = span(covered, c.lastOffset) / span(c.firstOffset, c.lastOffset);
      this.counts.partial++;
      this.pointsMerged += weight * c.count;
      return { verdict: 'partial', weight };
    }
    this.counts.merged++;
    this.pointsMerged += c.count;
    return { verdict: 'merged', weight: 1 };
  }

  /** A restart, re-seed or change of K made `version`: contributions computed under older versions are not merged. */
  structuralChange(version: number): void {
    this.structural = Math.max(this.structural, version);
  }

  toJSON(): LedgerJSON {
    return { covered: this.coveredOffsets(), structuralVersion: this.structural, counts: { ...this.counts }, points: this.pointsMerged };
  }

  /** A copy (to undo a round that failed). */
  clone(): ContributionLedger {
    return new ContributionLedger(this.toJSON());
  }
}
