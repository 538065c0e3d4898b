/**
 * One-pass scanners for well-formed numeric text (the fast path of `readVectors.ts`): CSV rows and NDJSON
 * arrays are read from UTF-8 bytes straight into a Float64Array, without splitting lines or cells and
 * without a string per number. On anything irregular they return null, and the caller runs the
 * line-by-line parser, which reports the problem (so errors are exactly those of the slow path).
 *
 * Every value is the correctly rounded double of its decimal text, exactly what `Number()` and
 * `JSON.parse` give:
 * 1. up to 15 significant digits and a decimal exponent within ±22: m·10^e or m/10^e, one correctly
 *    rounded operation on exact operands (Clinger's fast path);
 * 2. 16 to 19 digits with a negative exponent down to −22 (the usual `repr` of a double, e.g.
 *    `0.12345678901234568`): the quotient in double-double arithmetic, accepted unless the value lies
 *    within 2⁻⁸⁰ (relative) of a halfway point between two doubles, where the rounding would be in doubt;
 * 3. anything else: `Number()` of the number's text.
 *
 * @module
 */

/** 10⁰ … 10²², all exact doubles. */
const POW10 = Float64Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));

const SPLITTER = 134217729; // 2^27 + 1 (Veltkamp/Dekker split)

/**
 * Writes M / 10^p correctly rounded to `out[k]`, M = hi·10^j + lo exactly (hi < 2⁵³, lo < 10^j ≤ 10⁴),
 * 1 ≤ p ≤ 22.
 *
 * @returns false (and writes nothing) when the rounding direction is in doubt
 */
function longQuotient(hi: number, j: number, lo: number, p: number, out: Float64Array, k: number): boolean {
  // M as an unevaluated sum mh + ml (TwoProduct of hi·10^j, then TwoSum with lo)
  const t = POW10[j];
  const prod = hi * t;
  let c = SPLITTER * hi;
  const hh = c - (c - hi);
  const hl = hi - hh;
  c = SPLITTER * t;
  const th = c - (c - t);
  const tl = t - th;
  const perr = hh * th - prod + hh * tl + hl * th + hl * tl;
  const mh = prod + lo;
  const bv = mh - prod;
  const ml = prod - (mh - bv) + (lo - bv) + perr;
  // q1 = mh / P, remainder r = M − q1·P (q1·P exactly by TwoProduct), q2 = r / P
  const P = POW10[p];
  const q1 = mh / P;
  c = SPLITTER * q1;
  const qh = c - (c - q1);
  const ql = q1 - qh;
  c = SPLITTER * P;
  const ph = c - (c - P);
  const pl = P - ph;
  const qp = q1 * P;
  const qperr = qh * ph - qp + qh * pl + ql * ph + ql * pl;
  const r = mh - qp - qperr + ml;
  const q2 = r / P;
  // X = q1 + q2 to about 2⁻¹⁰⁴ relative; nudging q2 by ±q1·2⁻⁸⁰ (far above that error, far below an ulp)
  // changes the rounded sum only when X lies at or next to a halfway point: then defer to Number()
  const nudge = q1 * 8.271806125530277e-25;
  const up = q1 + (q2 + nudge);
  if (up !== q1 + (q2 - nudge)) return false;
  out[k] = up;
  return true;
}

/**
 * Reads one number at `pos` (CSV's decimal grammar, or JSON's with `json`: no `+`, no `.5`, no `1.`, no
 * leading zeros) into `out[k]` (writing rather than returning the double keeps it unboxed).
 *
 * @returns the offset after the number, or −1 when there is no finite number there in that grammar
 */
function scanNumber(b: Uint8Array, pos: number, len: number, json: boolean, out: Float64Array, k: number): number {
  const start = pos;
  let c = pos < len ? b[pos] : 0;
  let negative = false;
  if (c === 45 || (c === 43 && !json)) {
    negative = c === 45;
    c = ++pos < len ? b[pos] : 0;
  }
  let hi = 0; // first 15 significant digits
  let lo = 0; // the next up to 4
  let loDigits = 0;
  let digits = 0;
  let exp10 = 0;
  // integer part: leading zeros, then up to 15 digits into hi, 4 into lo, the rest only scale
  const intStart = pos;
  while (c === 48) c = ++pos < len ? b[pos] : 0;
  const sigStart = pos;
  while (c >= 48 && c <= 57 && pos - sigStart < 15) {
    hi = hi * 10 + (c - 48);
    c = ++pos < len ? b[pos] : 0;
  }
  while (c >= 48 && c <= 57 && loDigits < 4) {
    lo = lo * 10 + (c - 48);
    loDigits++;
    c = ++pos < len ? b[pos] : 0;
  }
  const kept = pos;
  while (c >= 48 && c <= 57) c = ++pos < len ? b[pos] : 0;
  exp10 += pos - kept;
  digits = pos - sigStart;
  const intDigits = pos - intStart;
  if (json && (intDigits === 0 || (intDigits > 1 && b[intStart] === 48))) return -1;
  let fracDigits = 0;
  if (c === 46) {
    c = ++pos < len ? b[pos] : 0;
    const fracStart = pos;
    if (digits === 0) while (c === 48) c = ++pos < len ? b[pos] : 0; // zeros before the first significant digit
    const sig = pos;
    if (digits < 15) {
      const room = 15 - digits;
      while (c >= 48 && c <= 57 && pos - sig < room) {
        hi = hi * 10 + (c - 48);
        c = ++pos < len ? b[pos] : 0;
      }
    }
    while (c >= 48 && c <= 57 && loDigits < 4) {
      lo = lo * 10 + (c - 48);
      loDigits++;
      c = ++pos < len ? b[pos] : 0;
    }
    const fracKept = pos;
    while (c >= 48 && c <= 57) c = ++pos < len ? b[pos] : 0;
    digits += pos - sig;
    exp10 -= fracKept - fracStart; // every kept fraction digit (and leading zero) scales by 10⁻¹
    fracDigits = pos - fracStart;
    if (fracDigits === 0 && (json || intDigits === 0)) return -1;
  }
  if (intDigits === 0 && fracDigits === 0) return -1;
  if (c === 101 || c === 69) {
    c = ++pos < len ? b[pos] : 0;
    let expNegative = false;
    if (c === 43 || c === 45) {
      expNegative = c === 45;
      c = ++pos < len ? b[pos] : 0;
    }
    let e = 0;
    let expDigits = 0;
    while (c >= 48 && c <= 57) {
      if (e < 100_000) e = e * 10 + (c - 48);
      expDigits++;
      c = ++pos < len ? b[pos] : 0;
    }
    if (expDigits === 0) return -1;
    exp10 += expNegative ? -e : e;
  }
  if (digits === 0) {
    out[k] = negative ? -0 : 0;
    return pos;
  }
  if (digits <= 15 && exp10 >= -22 && exp10 <= 22) {
    const v = exp10 >= 0 ? hi * POW10[exp10] : hi / POW10[-exp10];
    out[k] = negative ? -v : v;
    return pos;
  }
  // the digits were read as hi·10^loDigits + lo with exponent exp10 (digits past 19 raised exp10)
  if (digits <= 19 && exp10 < 0 && exp10 >= -22 && longQuotient(hi, loDigits, lo, -exp10, out, k)) {
    if (negative) out[k] = -out[k];
    return pos;
  }
  const v = textNumber(b, start, pos);
  if (!Number.isFinite(v)) return -1;
  out[k] = v;
  return pos;
}

/** `Number()` of the ASCII bytes start..end. */
function textNumber(b: Uint8Array, start: number, stop: number): number {
  let s = '';
  for (let i = start; i < stop; i++) s += String.fromCharCode(b[i]);
  return Number(s);
}

/** Offset after the line feed ending the line at `pos` (or the length), and whether the line is blank. */
function isBlankLine(b: Uint8Array, pos: number, len: number): boolean {
  while (pos < len && (b[pos] === 32 || b[pos] === 9)) pos++;
  return pos >= len || b[pos] === 10 || (b[pos] === 13 && pos + 1 < len && b[pos + 1] === 10);
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

/** After a row: LF, CRLF or the end; the next line's offset, or −1. */
function nextLine(b: Uint8Array, pos: number, len: number): number {
  if (pos >= len) return len;
  if (b[pos] === 10) return pos + 1;
  if (b[pos] === 13 && pos + 1 < len && b[pos + 1] === 10) return pos + 2;
  return -1;
}

/**
 * CSV rows of D comma-separated numbers from byte `start` on (spaces and tabs around cells allowed;
 * trailing blank lines ignored).
 *
 * @returns N and the N×D values, or null when the rows are not all well formed (or there are none)
 */
export function scanCsvRows(b: Uint8Array, start: number, d: number): { n: number; data: Float64Array } | null {
  const len = b.length;
  let data = new Float64Array(countLines(b, start) * d);
  let pos = start;
  let k = 0;
  let n = 0;
  while (pos < len) {
    if (isBlankLine(b, pos, len)) {
      if (onlyWhitespace(b, pos, len)) break;
      return null; // a blank line between rows
    }
    for (let j = 0; j < d; j++) {
      let c = pos < len ? b[pos] : 0;
      while (c === 32 || c === 9) c = ++pos < len ? b[pos] : 0;
      pos = scanNumber(b, pos, len, false, data, k++);
      if (pos < 0) return null;
      c = pos < len ? b[pos] : 0;
      while (c === 32 || c === 9) c = ++pos < len ? b[pos] : 0;
      if (j < d - 1) {
        if (c !== 44) return null;
        pos++;
      }
    }
    pos = nextLine(b, pos, len);
    if (pos < 0) return null;
    n++;
  }
  if (n === 0) return null;
  if (k < data.length) data = data.slice(0, k);
  return { n, data };
}

/**
 * NDJSON lines, each one flat JSON array of the same number (≥ 1) of numbers; blank lines skipped.
 *
 * @returns N, D and the N×D values, or null when any line is not like that (or there are none)
 */
export function scanNdjsonRows(b: Uint8Array, start: number): { n: number; d: number; data: Float64Array } | null {
  const len = b.length;
  const lines = countLines(b, start);
  let data: Float64Array | null = null;
  let first: number[] = [];
  const one = new Float64Array(1);
  let d = -1;
  let k = 0;
  let n = 0;
  let pos = start;
  while (pos < len) {
    let c = b[pos];
    while (c === 32 || c === 9 || c === 13) c = ++pos < len ? b[pos] : 0;
    if (pos >= len) break;
    if (c === 10) {
      pos++;
      continue;
    }
    if (c !== 91) return null;
    pos++;
    let count = 0;
    for (;;) {
      c = pos < len ? b[pos] : 0;
      while (c === 32 || c === 9 || c === 13) c = ++pos < len ? b[pos] : 0;
      if (data === null) {
        pos = scanNumber(b, pos, len, true, one, 0);
        if (pos < 0) return null;
        first.push(one[0]);
      } else {
        if (count >= d) return null;
        pos = scanNumber(b, pos, len, true, data, k++);
        if (pos < 0) return null;
      }
      count++;
      c = pos < len ? b[pos] : 0;
      while (c === 32 || c === 9 || c === 13) c = ++pos < len ? b[pos] : 0;
      pos++;
      if (c === 44) continue;
      if (c === 93) break;
      return null;
    }
    if (data === null) {
      d = count;
      data = new Float64Array(lines * d);
      data.set(first);
      k = d;
      first = [];
    } else if (count !== d) return null;
    c = pos < len ? b[pos] : 0;
    while (c === 32 || c === 9 || c === 13) c = ++pos < len ? b[pos] : 0;
    if (pos < len) {
      if (c !== 10) return null;
      pos++;
    }
    n++;
  }
  if (n === 0 || data === null) return null;
  return { n, d, data: k < data.length ? data.slice(0, k) : data };
}
