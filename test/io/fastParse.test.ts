import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../src/errors.js';
import { parseCsv, parseDecimal, parseNdjson } from '../../src/io/readVectors.js';

/**
 * The readers scan well-formed input in one pass (no split, no string per cell) and fall back to the
 * line-by-line parser on anything irregular. These properties check the scan against independent
 * references: `Number()` of each cell (through `parseDecimal`) for CSV and `JSON.parse` for NDJSON.
 */

/** A double written the many ways a CSV writer may write it. */
const cellArb = fc.tuple(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 }), fc.integer({ min: 0, max: 7 }), fc.constantFrom('', ' ', '\t')).map(([x, style, pad]) => {
  let t: string;
  switch (style) {
    case 0:
      t = String(x);
      break;
    case 1:
      t = x.toFixed(Math.abs(x) < 1e20 ? 6 : 0);
      break;
    case 2:
      t = x.toExponential(8);
      break;
    case 3:
      t = x.toPrecision(17);
      break;
    case 4:
      t = x.toPrecision(3);
      break;
    case 5:
      t = (Math.round(x) % 1000).toString();
      break;
    case 6:
      t = Math.abs(x) < 1 ? `${x < 0 ? '-' : '+'}${Math.abs(x).toFixed(5).slice(1)}` : `${Math.trunc(x % 1e6)}.`;
      break;
    default:
      t = `${(x % 10).toFixed(3)}E+0${Math.abs(Math.trunc(x)) % 3}`;
  }
  return `${pad}${t}${pad}`;
});

const tableArb = fc.integer({ min: 1, max: 12 }).chain((d) => fc.array(fc.array(cellArb, { minLength: d, maxLength: d }), { minLength: 1, maxLength: 30 }));

describe('one-pass readers agree with the references', () => {
  it('CSV: every value is Number() of its cell, bit for bit (any line ending, BOM, header, trailing blank lines)', () => {
    fc.assert(
      fc.property(tableArb, fc.constantFrom('\n', '\r\n'), fc.boolean(), fc.boolean(), fc.constantFrom('', '\n', '\n\n  \n'), (rows, eol, bom, header, trailer) => {
        const d = rows[0].length;
        const head = header ? `${Array.from({ length: d }, (_, j) => `c${j}`).join(',')}${eol}` : '';
        const text = `${bom ? '\ufeff' : ''}${head}${rows.map((r) => r.join(',')).join(eol)}${trailer}`;
        const got = parseCsv(text, { maxAbs: Infinity }); // every double, not only those the fit takes
        expect(got.n).toBe(rows.length);
        expect(got.d).toBe(d);
        expect(got.header === undefined).toBe(!header);
        rows.flat().forEach((cell, i) => {
          const want = parseDecimal(cell);
          if (!Object.is(got.data[i], want)) expect.fail(`cell ${JSON.stringify(cell)}: ${got.data[i]} vs ${want}`);
        });
      }),
      { seed: 11, numRuns: 300 },
    );
  });

  it('NDJSON: every value is what JSON.parse gives, bit for bit', () => {
    const numArb = fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => JSON.stringify(x));
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10 }).chain((d) => fc.array(fc.array(numArb, { minLength: d, maxLength: d }), { minLength: 1, maxLength: 20 })),
        fc.constantFrom(',', ', ', ' , '),
        fc.constantFrom('\n', '\r\n', '\n\n'),
        (rows, sep, eol) => {
          const text = rows.map((r) => `[${r.join(sep)}]`).join(eol) + eol;
          const got = parseNdjson(text, { maxAbs: Infinity });
          expect(got.n).toBe(rows.length);
          const want = rows.flatMap((r) => JSON.parse(`[${r.join(',')}]`) as number[]);
          want.forEach((v, i) => {
            if (!Object.is(got.data[i], v)) expect.fail(`value ${i}: ${got.data[i]} vs ${v}`);
          });
        },
      ),
      { seed: 12, numRuns: 300 },
    );
  });

  it('long mantissas (16–19 digits, the repr of a double) convert exactly as Number() does', () => {
    // many numbers in one column: the double-double quotient path, its near-half-ulp fallback, and Number()
    let seed = 7;
    const next = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    const cells: string[] = [];
    for (let i = 0; i < 60_000; i++) {
      const digits = 16 + (next() % 4);
      let m = String(1 + (next() % 9));
      while (m.length < digits) m += String(next() % 10);
      const point = next() % (digits + 4); // digits before the decimal point (may be 0: 0.000ddd)
      const sign = next() % 2 === 0 ? '' : '-';
      let t: string;
      if (point === 0) t = `0.${'0'.repeat(next() % 4)}${m}`;
      else if (point < digits) t = `${m.slice(0, point)}.${m.slice(point)}`;
      else t = `${m}e-${next() % 23}`;
      cells.push(sign + t);
    }
    // doubles printed by JavaScript itself, and numbers just beside a halfway point between two doubles
    for (let i = 0; i < 20_000; i++) cells.push(String((next() / 2 ** 32) * 10 ** ((next() % 20) - 10)));
    cells.push('0.30000000000000004', '0.1000000000000000055511151231257827', '9007199254740993', '0.49999999999999997', '2.2250738585072011e-308');
    const got = parseCsv(cells.join('\n'));
    cells.forEach((cell, i) => {
      if (!Object.is(got.data[i], Number(cell))) expect.fail(`${cell}: ${got.data[i]} vs ${Number(cell)}`);
    });
    const nd = parseNdjson(cells.map((c) => `[${c.replace(/^(-?)0+(\d)/, '$1$2')}]`).join('\n'));
    cells.forEach((cell, i) => {
      if (!Object.is(nd.data[i], Number(cell))) expect.fail(`ndjson ${cell}: ${nd.data[i]} vs ${Number(cell)}`);
    });
  });

  it('decimals within one unit of the 19th digit of a halfway point between two doubles round as Number() does', () => {
    // the exact decimal of (x + nextUp(x)) / 2, cut to 17–19 significant digits and one unit above the cut:
    // the two sides of the tie (and the tie itself when it has ≤ 19 digits) that the double-double quotient
    // must either decide right or hand to Number()
    const view = new DataView(new ArrayBuffer(8));
    let seed = 99;
    const next = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed;
    };
    const cells: string[] = [];
    for (let i = 0; i < 4000; i++) {
      const x = (1 + next() / 2 ** 32) * 2 ** ((next() % 67) - 14); // up to 2⁵³: exact ties of ≤ 19 digits too
      view.setFloat64(0, x);
      const bits = view.getBigUint64(0);
      const exponent = Number((bits >> 52n) & 0x7ffn) - 1075; // x = m·2^exponent
      const m = (bits & 0xfffffffffffffn) | 0x10000000000000n;
      const scale = 1 - exponent; // midpoint = (2m+1)·2^(exponent−1) = (2m+1)·5^scale / 10^scale
      const digits = ((2n * m + 1n) * 5n ** BigInt(scale)).toString();
      const point = digits.length - scale; // digits before the decimal point (may be ≤ 0)
      if (digits.length <= 19) cells.push(`${digits.slice(0, point)}.${digits.slice(point)}`, '0'); // the tie itself (a pair with 0)
      for (const keep of [17, 18, 19]) {
        for (const bump of [0n, 1n]) {
          const cut = (BigInt(digits.slice(0, keep)) + bump).toString();
          const whole = point - (cut.length - keep); // a carry adds a digit in front
          const t = whole > 0 ? `${cut.slice(0, whole)}.${cut.slice(whole)}` : `0.${'0'.repeat(-whole)}${cut}`;
          cells.push(t);
        }
      }
    }
    const got = parseCsv(cells.join('\n'));
    let ties = 0;
    cells.forEach((cell, i) => {
      if (!Object.is(got.data[i], Number(cell))) expect.fail(`${cell}: ${got.data[i]} vs ${Number(cell)}`);
      if (i % 2 === 1 && Number(cell) !== Number(cells[i - 1])) ties++;
    });
    expect(ties).toBeGreaterThan(1000); // the pairs do straddle halfway points (rounded apart)
  });

  it('a bad cell deep in a wide file is reported at its line and column, as before', () => {
    const d = 256;
    const row = (i: number) => Array.from({ length: d }, (_, j) => ((i * 31 + j * 7) % 1000) / 997).join(',');
    const lines = Array.from({ length: 500 }, (_, i) => row(i));
    lines[321] = lines[321].split(',').map((c, j) => (j === 200 ? '1.2.3' : c)).join(',');
    let error: unknown;
    try {
      parseCsv(lines.join('\n'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvalidInputError);
    expect((error as InvalidInputError).message).toBe('line 322, column 201: "1.2.3" is not a number: every cell must be a number (remove text columns or the header row)');
    expect((error as InvalidInputError).context).toMatchObject({ line: 322, column: 201 });

    const nd = Array.from({ length: 300 }, (_, i) => `[${row(i)}]`);
    nd[77] = nd[77].replace(/^\[([^,]+),([^,]+),/, '[$1,null,');
    expect(() => parseNdjson(nd.join('\n'))).toThrow(/^line 78, column 2: element is null/);
  });
});
