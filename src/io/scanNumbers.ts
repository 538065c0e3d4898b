/**
 * One-pass scanners for well-formed numeric text (the fast path of `readVectors.ts`): CSV rows and NDJSON
 * arrays are read from UTF-8 bytes straight into a Float64Array, without splitting lines or cells and
 * without a string per number. On anything irregular they return null, and the caller runs the
 * line-by-line parser, which reports the problem (so errors are exactly those of the slow path).
 *
 * Every value is the correctly rounded double of its decimal text, exactly what `Number()` and
 * `JSON.parse` give:
 * 1. a mantissa below 2⁵³ (up to 15 significant digits, and most of 16) and a decimal exponent within
 *    ±22: m·10^e or m/10^e, one correctly rounded operation on exact operands (Clinger's fast path);
 * 2. 17 to 19 digits with a negative exponent down to −22 (the usual `repr` of a double, e.g.
 *    `0.12345678901234568`): the quotient in double-double arithmetic, accepted unless the value lies
 *    within 2⁻⁸⁰ (relative) of a halfway point between two doubles, where the rounding would be in doubt;
 * 3. anything else: `Number()` of the number's text, accepted when its magnitude is at most `MAX_ABS_VALUE`
 *    (1e150; larger values, and ±Infinity, go to the line parser, which reports or accepts them).
 *
 * @module
 */
import { MAX_ABS_VALUE } from '../gmm/em.js';

/** 10⁰ … 10²², all exact doubles. */
const POW10 = Float64Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

const SPLITTER = 134217729; // 2^27 + 1 (Veltkamp/Dekker split)

/** Dekker's split of each 10^i into high and low halves of 26 bits (precomputed for the TwoProducts). */
const POW10_HI = POW10.map((t) => {
  const c = SPLITTER * t;
  return c - (c - t);
});
const POW10_LO = POW10.map((t, i) => t - POW10_HI[i]);
/** 1/10^i rounded: the quotients below need only be near (their error is corrected exactly). */
const INV10 = POW10.map((t) => 1 / t);

/** 2⁵³: integers below it are exact doubles. */
const EXACT = 9007199254740992;

/**
 * Writes M / 10^p correctly rounded to `out[k]`, M = x·10^s + y exactly (x < 2⁵³, 1 ≤ s ≤ 10, y < 10^s),
 * 1 ≤ p ≤ 22, in double-double arithmetic:
 *
 * 1. M as the unevaluated sum mh + ml (TwoProduct of x·10^s with 10^s's precomputed split, then TwoSum);
 * 2. q1 ≈ mh/10^p (a product with the rounded reciprocal: any quotient within a few ulps will do), the
 *    remainder r = M − q1·10^p exactly (TwoProduct; Sterbenz for mh − q1·10^p), q2 ≈ r/10^p: the value
 *    X = q1 + q2 to about 2⁻¹⁰⁰ relative;
 * 3. X rounded once; nudging q2 by ±q1·2⁻⁸⁰ (far above that error, far below an ulp) changes the rounded
 *    sum only when X lies at or next to a halfway point between two doubles: then defer to Number().
 *
 * @returns false (and writes nothing) when the rounding direction is in doubt
 */
function longQuotient(x: number, s: number, y: number, p: number, out: Float64Array, k: number): boolean {
  const t = POW10[s];
  const prod = x * t;
  let c = SPLITTER * x;
  const xh = c - (c - x);
  const xl = x - xh;
  const th = POW10_HI[s];
  const tl = POW10_LO[s];
  const perr = xh * th - prod + xh * tl + xl * th + xl * tl;
  const mh = prod + y;
  const bv = mh - prod;
  const ml = prod - (mh - bv) + (y - bv) + perr;
  const P = POW10[p];
  const inv = INV10[p];
  const q1 = mh * inv;
  c = SPLITTER * q1;
  const qh = c - (c - q1);
  const ql = q1 - qh;
  const ph = POW10_HI[p];
  const pl = POW10_LO[p];
  const qp = q1 * P;
  const qperr = qh * ph - qp + qh * pl + ql * ph + ql * pl;
  const r = mh - qp - qperr + ml;
  const q2 = r * inv;
  const nudge = q1 * 8.271806125530277e-25;
  const up = q1 + (q2 + nudge);
  if (up !== q1 + (q2 - nudge)) return false;
  out[k] = up;
  return true;
}

/**
 * Reads one number at `pos` (CSV's decimal grammar, or JSON's with `json`: no `+`, no `.5`, no `1.`, no
 * leading zeros) into `out[k]` (writing rather than returning the double keeps it unboxed). The bytes from
 * `pos` on must contain a line feed: every loop stops at a byte that is not a digit, so none needs a
 * bounds check (the sentinel of {@link scanRows}).
 *
 * 1. sign, leading zeros, then one pass over the significant digits of the integer and the fraction
 *    part: the first 9 into `a`, the next 9 into `b9`, the 19th into `c19` — small integers, so the
 *    digit-by-digit accumulation is integer arithmetic, not a chain of floating-point multiply-adds —
 *    further ones only counted (they scale by 10 in the integer part, nothing in the fraction);
 * 2. the mantissa M = a·10^(n−9) + b9 (n ≤ 18 digits) when below 2⁵³ and the exponent within ±22: one
 *    correctly rounded operation on exact operands (Clinger's fast path: up to 15 digits, and most of 16);
 * 3. 17 to 19 digits with an exponent in −22…−1 (the `repr` of most doubles): {@link longQuotient};
 * 4. anything else: `Number()` of the number's text.
 *
 * @returns the offset after the number, or −1 when there is no finite number there in that grammar
 */
function scanNumber(b: Uint8Array, dv: DataView, pos: number, json: boolean, out: Float64Array, k: number): number {
  const start = pos;
  let c = b[pos];
  // the sign without a branch (a random sign would mispredict one on every other number): 1 or 0
  const neg = +(c === 45);
  pos += neg | (+(c === 43) & +!json);
  c = b[pos];
  const sign = 1 - 2 * neg;
  let a = 0; // significant digits 1–9
  let b9 = 0; // 10–18
  let c19 = 0; // the 19th
  let sig = 0; // significant digits seen (all of them)
  let d = c - 48;
  // integer part: leading zeros, then the significant digits
  const intStart = pos;
  while (d === 0) d = b[++pos] - 48;
  while (d >>> 0 < 10) {
    if (sig < 9) a = (a * 10 + d) | 0;
    else if (sig < 18) b9 = (b9 * 10 + d) | 0;
    else if (sig === 18) c19 = d;
    sig++;
    d = b[++pos] - 48;
  }
  const intDigits = pos - intStart;
  if (json && (intDigits === 0 || (intDigits > 1 && b[intStart] === 48))) return -1;
  const intSig = sig;
  let exp10 = intSig > 19 ? intSig - 19 : 0; // dropped integer digits scale by 10 each
  // fraction part
  if (d === -2) {
    const fracStart = ++pos;
    d = b[pos] - 48;
    if (sig === 0) while (d === 0) d = b[++pos] - 48; // zeros before the first significant digit
    // eight, four or two digits at a time while they fit in the same part (32-bit loads, SWAR checks and values)
    while (d >>> 0 < 10 && pos + 4 <= b.length) {
      const w = dv.getUint32(pos, true);
      if ((w & 0xf0f0f0f0) !== 0x30303030 || ((w + 0x06060606) & 0xf0f0f0f0) !== 0x30303030) {
        // fewer than four digits: two, if they are
        const h = w & 0xffff;
        if ((h & 0xf0f0) === 0x3030 && ((h + 0x0606) & 0xf0f0) === 0x3030 && (sig <= 7 || (sig >= 9 && sig <= 16))) {
          const g = (h & 15) * 10 + ((h >>> 8) & 15);
          if (sig <= 7) a = a * 100 + g;
          else b9 = b9 * 100 + g;
          sig += 2;
          pos += 2;
          d = b[pos] - 48;
        }
        break;
      }
      const t = (w - 0x30303030) * 10 + ((w - 0x30303030) >>> 8);
      const g = (t & 255) * 100 + ((t >>> 16) & 255);
      if (sig <= 5) a = a * 10000 + g;
      else if (sig >= 9 && sig <= 14) b9 = b9 * 10000 + g;
      else break;
      sig += 4;
      pos += 4;
      d = b[pos] - 48;
    }
    while (d >>> 0 < 10) {
      if (sig < 9) a = (a * 10 + d) | 0;
      else if (sig < 18) b9 = (b9 * 10 + d) | 0;
      else if (sig === 18) c19 = d;
      sig++;
      d = b[++pos] - 48;
    }
    const fracDigits = pos - fracStart;
    if (fracDigits === 0 && (json || intDigits === 0)) return -1;
    // every kept fraction digit (and leading zero) scales by 10⁻¹, the dropped ones (past the 19th) nothing
    const fracDropped = sig - (intSig > 19 ? intSig : 19);
    exp10 -= fracDropped > 0 ? fracDigits - fracDropped : fracDigits;
  } else if (intDigits === 0) return -1;
  // exponent: 'e' or 'E' (d = 53 or 21)
  if ((d | 32) === 53) {
    c = b[++pos];
    const expNegative = c === 45;
    if (expNegative || c === 43) c = b[++pos];
    d = c - 48;
    if (d >>> 0 >= 10) return -1;
    let e = 0;
    while (d >>> 0 < 10) {
      if (e < 100_000) e = e * 10 + d;
      d = b[++pos] - 48;
    }
    exp10 += expNegative ? -e : e;
  }
  if (sig === 0) {
    out[k] = sign * 0;
    return pos;
  }
  if (sig <= 19 && exp10 >= -22 && exp10 <= 22) {
    // M exact when below 2⁵³ (a true M ≥ 2⁵³ never rounds below it); 19 digits are never below it
    if (sig <= 18) {
      const m = sig <= 9 ? a : a * POW10[sig - 9] + b9;
      if (m < EXACT) {
        out[k] = sign * (exp10 >= 0 ? m * POW10[exp10] : m / POW10[-exp10]);
        return pos;
      }
    }
    if (exp10 < 0 && longQuotient(a, sig - 9, sig === 19 ? b9 * 10 + c19 : b9, -exp10, out, k)) {
      out[k] *= sign;
      return pos;
    }
  }
  // The only path to magnitudes the fit cannot square (the ones above stay below 1e38): the line parser reports them.
  const v = textNumber(b, start, pos);
  if (!(v <= MAX_ABS_VALUE && v >= -MAX_ABS_VALUE)) return -1;
  out[k] = v;
  return pos;
}

/** Below it, m·10 + 9 is still an exact integer (< 2⁵³): the digit loops of the common case stop there. */
const LIMIT = 9e14;
/** Below it, m·10⁴ + 9999 is still exact. */
const LIMIT4 = 9e11;

/**
 * `fastNumber`: the common case of {@link scanNumber}, written out in the two row loops (`csvRows`,
 * `ndjsonRows`) rather than called: `[-]digits[.digits]` (no exponent, no leading zero before another
 * digit, at most 22 digits after the point). As a function V8 inlined it or not depending on what else it
 * had inlined, and the scan ran 1.7× slower when it did not (measured).
 *
 * 1. the digits accumulate in a double while it stays below {@link LIMIT} (exact integers: up to 15
 *    significant digits, and some 16), after the point four at a time ({@link digits4}) while below
 *    {@link LIMIT4} (the dependent chain is one multiply-add per four digits);
 * 2. all digits read: M/10^f, one correctly rounded division (Clinger's fast path);
 * 3. digits left (16 to 19 significant ones, the `repr` of most doubles): {@link fastTail} goes on from
 *    there without reading them again;
 * 4. anything else: {@link scanNumber} reads the number from its start (or rejects it).
 */

function fastNumber(b: Uint8Array, dv: DataView, pos: number, out: Float64Array, k: number): number {
  const neg = +(b[pos] === 45);
  let p = pos + neg;
  let d = b[p] - 48;
  if (d >>> 0 >= 10 || (d === 0 && (b[p + 1] - 48) >>> 0 < 10)) return -1;
  let m = 0;
  do {
    m = m * 10 + d;
    d = b[++p] - 48;
  } while (d >>> 0 < 10 && m < LIMIT);
  if (d >>> 0 < 10) return -1; // 16 or more integer digits
  let f = 0;
  if (d === -2) {
    const s = ++p;
    const last = b.length - 4;
    for (let g = 0; m < LIMIT4 && p <= last && (g = digits4(dv.getUint32(p, true))) >= 0; p += 4) m = m * 10000 + g;
    d = b[p] - 48;
    while (d >>> 0 < 10 && m < LIMIT) {
      m = m * 10 + d;
      d = b[++p] - 48;
    }
    f = p - s;
    if (d >>> 0 < 10) return fastTail(b, p, m, f, neg, out, k);
    if (f === 0 || f > 22) return -1;
  }
  if ((d | 32) === 53) return -1;
  out[k] = (1 - 2 * neg) * (m / POW10[f]);
  return p;
}

/**
 * The value of four ASCII digits in a little-endian 32-bit word (the first digit in the low byte), or −1
 * when a byte is not a digit: SWAR, high nibbles all 3 and no low nibble above 9 (adding 6 carries out of
 * it); then pairs 10·d0 + d1 and 10·d2 + d3 in bytes 0 and 2, and 100·pair + pair.
 */
function digits4(w: number): number {
  if ((w & 0xf0f0f0f0) !== 0x30303030 || ((w + 0x06060606) & 0xf0f0f0f0) !== 0x30303030) return -1;
  const v = w - 0x30303030;
  const t = v * 10 + (v >>> 8);
  return (t & 255) * 100 + ((t >>> 16) & 255);
}

/**
 * The rest of a long fraction for `fastNumber` (the common case of the row loops): `x` holds the digits
 * so far (exact, at least
 * {@link LIMIT}), `f` of them after the point, `p` at the next digit. Up to 4 more digits into y (19
 * significant ones at most, else −1): M = x·10^s + y; below 2⁵³ one division, else {@link longQuotient}.
 *
 * @returns the offset after the number, or −1 (more than 19 digits, an exponent, more than 22 digits
 *   after the point, or a rounding in doubt: {@link scanNumber} then reads it)
 */
function fastTail(b: Uint8Array, p: number, x: number, f: number, neg: number, out: Float64Array, k: number): number {
  let y = 0;
  const s0 = p;
  let d = b[p] - 48;
  while (d >>> 0 < 10 && p - s0 < 4) {
    y = y * 10 + d;
    d = b[++p] - 48;
  }
  const s = p - s0;
  if (d >>> 0 < 10 || (d | 32) === 53 || f + s > 22) return -1;
  const m = x * POW10[s] + y;
  if (m < EXACT) {
    out[k] = (1 - 2 * neg) * (m / POW10[f + s]);
    return p;
  }
  if (!longQuotient(x, s, y, f + s, out, k)) return -1;
  out[k] *= 1 - 2 * neg;
  return p;
}

/** `Number()` of the ASCII bytes start..end. */
function textNumber(b: Uint8Array, start: number, stop: number): number {
  let s = '';
  for (let i = start; i < stop; i++) s += String.fromCharCode(b[i]);
  return Number(s);
}

/** Whether the line at `pos` is blank (spaces and tabs, then LF or CRLF); `b` holds a line feed from `pos` on. */
function isBlankLine(b: Uint8Array, pos: number): boolean {
  let c = b[pos];
  while (c === 32 || c === 9) c = b[++pos];
  return c === 10 || (c === 13 && b[pos + 1] === 10);
}

function onlyWhitespace(b: Uint8Array, pos: number, len: number): boolean {
  for (; pos < len; pos++) {
    const c = b[pos];
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return false;
  }
  return true;
}

/** Number of lines from `pos` (line feeds, plus one for a last line without one): an upper bound on the rows. */
function countLines(b: Uint8Array, pos: number): number {
  let n = 0;
  for (let i = b.indexOf(10, pos); i >= 0; i = b.indexOf(10, i + 1)) n++;
  return b.length > pos && b[b.length - 1] !== 10 ? n + 1 : n;
}

/** Where a scan of rows is: the values written (`k`; room for every line, `data.length`), D, and a CSV blank line. */
interface RowsState {
  data: Float64Array;
  k: number;
  /** −1 for NDJSON until the first line fixes D. */
  d: number;
  /** The lines (NDJSON: room is made for this many rows when the first line fixes D). */
  rows: number;
  /** CSV: a blank line was met (only blank lines may follow). */
  blank: boolean;
}

/**
 * CSV rows of `st.d` cells from `pos` to `end` (a line feed at `end − 1`) into `st.data` from `st.k`; stops
 * at a blank line (`st.blank`). The state is written back by the caller from the returned count (a store
 * at the end of the loop, without type feedback when first compiled, made V8 drop the optimised loop at
 * every call).
 *
 * @returns the values written so far (`st.k` after these rows), or −1 when a line is rejected
 */
function csvRows(b: Uint8Array, pos: number, end: number, st: RowsState): number {
  const { d, data } = st; // room for every line (constant in the loop: V8 keeps its bounds out of it)
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let k = st.k;
  while (pos < end) {
    if (isBlankLine(b, pos)) {
      st.blank = true; // only blank lines may follow: the caller checks
      return onlyWhitespace(b, pos, end) ? k : -1;
    }
    for (let j = 0; j < d; j++) {
      let c = b[pos];
      while (c === 32 || c === 9) c = b[++pos];
      let p = fastNumber(b, dv, pos, data, k);
      if (p < 0) p = scanNumber(b, dv, pos, false, data, k);
      if (p < 0) return -1;
      pos = p;
      k++;
      c = b[pos];
      while (c === 32 || c === 9) c = b[++pos];
      if (j < d - 1) {
        if (c !== 44) return -1;
        pos++;
      }
    }
    // LF or CRLF
    if (b[pos] === 10) pos++;
    else if (b[pos] === 13 && b[pos + 1] === 10) pos += 2;
    else return -1;
  }
  return k;
}

/**
 * NDJSON lines from `pos` to `end` (a line feed at `end − 1`): each a flat array of `st.d` numbers (the
 * first fixes D, and `st.data`), into `st.data` from `st.k`; as {@link csvRows}, the count is returned.
 *
 * @returns the values written so far, or −1 when a line is rejected
 */
function ndjsonRows(b: Uint8Array, pos: number, end: number, st: RowsState): number {
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let { k, d, data } = st;
  let first: number[] | null = null;
  const one = new Float64Array(1);
  while (pos < end) {
    let c = b[pos];
    while (c === 32 || c === 9 || c === 13) c = b[++pos];
    if (c === 10) {
      pos++;
      continue;
    }
    if (c !== 91) return -1;
    pos++;
    let count = 0;
    for (;;) {
      c = b[pos];
      while (c === 32 || c === 9 || c === 13) c = b[++pos];
      if (d < 0) {
        pos = scanNumber(b, dv, pos, true, one, 0);
        if (pos < 0) return -1;
        (first ??= []).push(one[0]);
      } else {
        if (count >= d) return -1;
        let p = fastNumber(b, dv, pos, data, k);
        if (p < 0) p = scanNumber(b, dv, pos, true, data, k);
        if (p < 0) return -1;
        pos = p;
        k++;
      }
      count++;
      c = b[pos];
      while (c === 32 || c === 9 || c === 13) c = b[++pos];
      pos++;
      if (c === 44) continue;
      if (c === 93) break;
      return -1;
    }
    if (d < 0) {
      d = count;
      data = new Float64Array(Math.max(1, st.rows) * d);
      data.set(first!);
      k = d;
      first = null;
      st.d = d;
      st.data = data;
    } else if (count !== d) return -1;
    c = b[pos];
    while (c === 32 || c === 9 || c === 13) c = b[++pos];
    if (c !== 10) return -1;
    pos++;
  }
  return k;
}

/**
 * Scans rows from `start`: the part of `b` up to its last line feed in place (every scan inside meets a
 * line feed before the end, so none needs a bounds check), a last line without one from a copy with one
 * appended; trailing blank lines are ignored (CSV: after a blank line only blank lines may come).
 *
 * @returns N, D and the N×D values, or null when a line is rejected (or there are none)
 */
function scanRows(b: Uint8Array, start: number, csv: boolean, d: number): { n: number; d: number; data: Float64Array } | null {
  const len = b.length;
  const rows = countLines(b, start);
  const st: RowsState = { data: new Float64Array(csv ? rows * d : 0), k: 0, d, rows, blank: false };
  const body = b.lastIndexOf(10) + 1; // after the last complete line (0: none)
  let from = start;
  if (body > start) {
    const k = csv ? csvRows(b, start, body, st) : ndjsonRows(b, start, body, st);
    if (k < 0) return null;
    st.k = k;
    from = body;
  }
  if (from < len && !onlyWhitespace(b, from, len)) {
    if (st.blank) return null; // a row after a blank line
    const line = new Uint8Array(len - from + 1);
    line.set(b.subarray(from, len));
    line[line.length - 1] = 10;
    const k = csv ? csvRows(line, 0, line.length, st) : ndjsonRows(line, 0, line.length, st);
    if (k < 0) return null;
    st.k = k;
  }
  if (st.k === 0 || st.d <= 0) return null;
  return { n: st.k / st.d, d: st.d, data: st.k < st.data.length ? st.data.slice(0, st.k) : st.data };
}

/**
 * CSV rows of D comma-separated numbers from byte `start` on (spaces and tabs around cells allowed;
 * trailing blank lines ignored).
 *
 * @returns N and the N×D values, or null when the rows are not all well formed (or there are none)
 */
export function scanCsvRows(b: Uint8Array, start: number, d: number): { n: number; data: Float64Array } | null {
  const r = scanRows(b, start, true, d);
  return r === null ? null : { n: r.n, data: r.data };
}

/**
 * NDJSON lines, each one flat JSON array of the same number (≥ 1) of numbers; blank lines skipped.
 *
 * @returns N, D and the N×D values, or null when any line is not like that (or there are none)
 */
export function scanNdjsonRows(b: Uint8Array, start: number): { n: number; d: number; data: Float64Array } | null {
  return scanRows(b, start, false, -1);
}
