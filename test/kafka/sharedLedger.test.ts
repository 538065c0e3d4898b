/**
 * The reducer's ledger of a shared model: idempotence by partition and offsets, partial overlaps, staleness and
 * structural changes, each rule on its own and as a property (a replayed stream of contributions counts every offset
 * once), and its JSON form (what the state message carries for the next reducer).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContributionLedger, type ContributionRange } from '../../src/kafka/shared/ledger.js';

const c = (partition: number, first: number | string, last: number | string, modelVersion = 5, count?: number): ContributionRange => ({
  topic: 'points',
  partition,
  firstOffset: String(first),
  lastOffset: String(last),
  modelVersion,
  count: count ?? Number(last) - Number(first) + 1,
});

describe('ContributionLedger', () => {
  it('merges new ranges whole and moves the covered offset past them; gaps (dead letters, markers) are fine', () => {
    const ledger = new ContributionLedger();
    expect(ledger.admit(c(0, 0, 99), 5, 8)).toEqual({ verdict: 'merged', weight: 1 });
    expect(ledger.coveredOffset('points', 0)).toBe('100');
    expect(ledger.admit(c(0, 105, 199, 5, 90), 5, 8)).toEqual({ verdict: 'merged', weight: 1 });
    expect(ledger.coveredOffset('points', 0)).toBe('200');
    expect(ledger.coveredOffset('points', 1)).toBeUndefined();
    expect(ledger.points).toBe(190);
  });

  it('drops a replay whose every offset is counted (duplicate), and nothing moves', () => {
    const ledger = new ContributionLedger();
    ledger.admit(c(0, 0, 99), 5, 8);
    ledger.admit(c(0, 100, 199), 5, 8);
    expect(ledger.admit(c(0, 100, 199), 6, 8)).toEqual({ verdict: 'duplicate', weight: 0 });
    expect(ledger.admit(c(0, 0, 49), 6, 8)).toEqual({ verdict: 'duplicate', weight: 0 });
    expect(ledger.coveredOffset('points', 0)).toBe('200');
    expect(ledger.counts).toMatchObject({ merged: 2, duplicate: 2 });
    expect(ledger.points).toBe(200);
  });

  it('merges a range that overlaps what is counted by the share of its offsets not counted yet (partial)', () => {
    const ledger = new ContributionLedger();
    ledger.admit(c(0, 0, 599), 5, 8);
    // A successor re-read 300..799 as one window: 200 of its 500 offsets are new.
    const a = ledger.admit(c(0, 300, 799, 5, 500), 5, 8);
    expect(a).toEqual({ verdict: 'partial', weight: 200 / 500 });
    expect(ledger.coveredOffset('points', 0)).toBe('800');
    expect(ledger.points).toBeCloseTo(600 + 200, 10);
    expect(ledger.counts.partial).toBe(1);
  });

  it('drops a contribution more than maxStaleness versions behind (stale), but counts its offsets', () => {
    const ledger = new ContributionLedger();
    expect(ledger.admit(c(1, 0, 99, 2), 10, 8)).toEqual({ verdict: 'merged', weight: 1 }); // 8 behind: the bound itself
    expect(ledger.admit(c(1, 100, 199, 1), 10, 8)).toEqual({ verdict: 'stale', weight: 0 }); // 9 behind
    expect(ledger.coveredOffset('points', 1)).toBe('200');
    expect(ledger.admit(c(1, 100, 199, 10), 10, 8)).toEqual({ verdict: 'duplicate', weight: 0 });
    expect(ledger.admit(c(1, 200, 299, 10), 10, 0)).toEqual({ verdict: 'merged', weight: 1 }); // maxStaleness 0: the current version only
  });

  it('drops contributions computed before a restart, re-seed or change of K (structural), however fresh', () => {
    const ledger = new ContributionLedger();
    ledger.structuralChange(7);
    expect(ledger.structuralVersion).toBe(7);
    expect(ledger.admit(c(0, 0, 99, 6), 7, 8)).toEqual({ verdict: 'structural', weight: 0 });
    expect(ledger.admit(c(0, 100, 199, 7), 7, 8)).toEqual({ verdict: 'merged', weight: 1 });
    ledger.structuralChange(5); // never back
    expect(ledger.structuralVersion).toBe(7);
    expect(ledger.counts).toMatchObject({ structural: 1, merged: 1 });
  });

  it('refuses a version the reducer never made (mismatched): nothing moves', () => {
    const ledger = new ContributionLedger();
    expect(ledger.admit(c(0, 0, 99, 12), 11, 8)).toEqual({ verdict: 'mismatched', weight: 0 });
    expect(ledger.coveredOffset('points', 0)).toBeUndefined();
    expect(ledger.mismatch()).toEqual({ verdict: 'mismatched', weight: 0 });
    expect(ledger.counts.mismatched).toBe(2);
  });

  it('compares offsets beyond 2^53 exactly', () => {
    const ledger = new ContributionLedger();
    const base = 2n ** 60n;
    ledger.admit(c(0, String(base), String(base + 999n), 5, 1000), 5, 8);
    expect(ledger.coveredOffset('points', 0)).toBe(String(base + 1000n));
    expect(ledger.admit(c(0, String(base + 999n), String(base + 999n), 5, 1), 5, 8).verdict).toBe('duplicate');
    expect(ledger.admit(c(0, String(base + 500n), String(base + 1499n), 5, 1000), 5, 8)).toEqual({ verdict: 'partial', weight: 0.5 });
  });

  it('round-trips through its JSON form (what the next reducer resumes)', () => {
    const ledger = new ContributionLedger();
    ledger.admit(c(0, 0, 99), 5, 8);
    ledger.admit(c(2, 0, 49), 5, 8);
    ledger.admit(c(2, 0, 49), 5, 8);
    ledger.structuralChange(4);
    const again = new ContributionLedger(JSON.parse(JSON.stringify(ledger.toJSON())));
    expect(again.toJSON()).toEqual(ledger.toJSON());
    expect(again.admit(c(2, 0, 49), 6, 8).verdict).toBe('duplicate');
    expect(again.coveredOffsets().map((o) => o.partition)).toEqual([0, 2]);
  });

  it('a state without a ledger (another mode) gives the covered offsets of its coverage', () => {
    const ledger = new ContributionLedger({ covered: [{ topic: 'points', partition: 0, offset: '500' }] });
    expect(ledger.admit(c(0, 0, 499), 5, 8).verdict).toBe('duplicate');
    expect(ledger.admit(c(0, 500, 999), 5, 8).verdict).toBe('merged');
  });

  it('property: contributions of a stream replayed from arbitrary earlier points count every offset exactly once', () => {
    // A partition of 2000 offsets cut into windows; replays re-cut it from an earlier offset (as a successor would).
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 30 }), fc.array(fc.tuple(fc.integer({ min: 0, max: 1999 }), fc.integer({ min: 1, max: 300 })), { maxLength: 10 }), (cuts, replays) => {
        const ledger = new ContributionLedger();
        let counted = 0;
        let next = 0;
        const feed = (first: number, last: number): void => {
          const a = ledger.admit(c(0, first, last), 5, 8);
          counted += a.weight * (last - first + 1);
        };
        for (const size of cuts) {
          if (next >= 2000) break;
          const last = Math.min(1999, next + size - 1);
          feed(next, last);
          next = last + 1;
          const replay = replays.shift();
          if (replay !== undefined && replay[0] < next) {
            // A replay from an earlier offset, in windows of its own, up to where the stream is.
            for (let from = replay[0]; from < next; from += replay[1]) feed(from, Math.min(next - 1, from + replay[1] - 1));
          }
        }
        // Windows are uniform here, so the weights count offsets exactly.
        expect(counted).toBeCloseTo(next, 6);
        expect(ledger.coveredOffset('points', 0)).toBe(String(next));
      }),
      { numRuns: 200, seed: 17 },
    );
  });
});
