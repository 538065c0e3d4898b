import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmstreamError, InvalidInputError } from '../../src/errors.js';
import { parseCsv, parseDecimal, parseNdjson, readVectorsFile, readVectorsStream, sniffVectorFormat, type Vectors } from '../../src/io/readVectors.js';

/** Runs `fn`, expects an InvalidInputError, and returns it. */
function invalid(fn: () => unknown): InvalidInputError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidInputError);
    return e as InvalidInputError;
  }
  throw new Error('expected an InvalidInputError');
}

function rows(v: Vectors): number[][] {
  return Array.from({ length: v.n }, (_, i) => Array.from(v.data.subarray(i * v.d, (i + 1) * v.d)));
}

describe('parseDecimal', () => {
  it('accepts plain decimals and rejects what Number() lets through', () => {
    expect(parseDecimal('12')).toBe(12);
    expect(parseDecimal(' -0.5 ')).toBe(-0.5);
    expect(parseDecimal('.5')).toBe(0.5);
    expect(parseDecimal('5.')).toBe(5);
    expect(parseDecimal('+1e-3')).toBe(0.001);
    for (const bad of ['', ' ', '0x10', '1_000', 'Infinity', 'NaN', '1e', '--1', '1,5', '"1"']) expect(parseDecimal(bad), bad).toBeNaN();
    expect(parseDecimal('1e999')).toBe(Infinity);
  });
});

describe('parseCsv', () => {
  it('parses numbers without a header', () => {
    const v = parseCsv('1,2,3\n-4.5, 5e-1 ,6\n');
    expect(v.n).toBe(2);
    expect(v.d).toBe(3);
    expect(v.header).toBeUndefined();
    expect(rows(v)).toEqual([
      [1, 2, 3],
      [-4.5, 0.5, 6],
    ]);
    expect(v.data).toBeInstanceOf(Float64Array);
  });

  it('detects a header row whose cells are not numbers', () => {
    const v = parseCsv('x, y\n1,2\n3,4');
    expect(v.header).toEqual(['x', 'y']);
    expect(rows(v)).toEqual([
      [1, 2],
      [3, 4],
    ]);
  });

  it('does not take a first row with some numbers for a header, and reports its bad cell', () => {
    const e = invalid(() => parseCsv('1,abc,3\n4,5,6\n'));
    expect(e.message).toBe('line 1, column 2: "abc" is not a number: every cell must be a number (remove text columns or the header row)');
    expect(e.context).toMatchObject({ line: 1, column: 2 });
  });

  it('does not take a first row of NaN or of semicolon-separated numbers for a header', () => {
    expect(invalid(() => parseCsv('NaN,x\n1,2\n')).context).toMatchObject({ line: 1, column: 1 });
    expect(invalid(() => parseCsv('1;2\n')).context).toMatchObject({ line: 1, column: 1 });
    expect(invalid(() => parseCsv('1\t2\n')).context).toMatchObject({ line: 1, column: 1 });
  });

  it('honours header: true and header: false', () => {
    expect(parseCsv('1,2\n3,4', { header: true })).toMatchObject({ n: 1, header: ['1', '2'] });
    const e = invalid(() => parseCsv('a,b\n3,4', { header: false }));
    expect(e.context).toMatchObject({ line: 1, column: 1 });
  });

  it('accepts CRLF, a byte-order mark, a single column and trailing blank lines', () => {
    const v = parseCsv('\uFEFFvalue\r\n1\r\n2\r\n\r\n  \n');
    expect(v).toMatchObject({ n: 2, d: 1, header: ['value'] });
    expect(rows(v)).toEqual([[1], [2]]);
  });

  it('reports a non-numeric cell with its line and column', () => {
    const text = 'a,b,c\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,3\n1,2,abc\n';
    const e = invalid(() => parseCsv(text));
    expect(e.message).toBe('line 7, column 3: "abc" is not a number: every cell must be a number (remove text columns or the header row)');
    expect(e.context).toMatchObject({ line: 7, column: 3, field: 'c' });
  });

  it('hints at the separator when a row uses semicolons', () => {
    const e = invalid(() => parseCsv('1;2\n3;4\n'));
    expect(e.message).toContain('separated by commas');
    expect(e.context).toMatchObject({ line: 1, column: 1 });
  });

  it('reports ragged rows (too few and too many columns)', () => {
    const lines = ['1,2,3,4', ...Array.from({ length: 10 }, () => '1,2,3,4')];
    const fewer = invalid(() => parseCsv([...lines, '1,2,3'].join('\n')));
    expect(fewer.message).toBe('line 12 has 3 columns but line 1 has 4: every row needs the same number of columns');
    expect(fewer.context).toMatchObject({ line: 12, column: 4 });
    const more = invalid(() => parseCsv('x,y\n1,2\n1,2,3\n'));
    expect(more.message).toContain('line 3 has 3 columns but line 1 has 2');
    expect(more.context).toMatchObject({ line: 3, column: 3 });
  });

  it.each([
    ['NaN', 'is not a finite number'],
    ['nan', 'is not a finite number'],
    ['Infinity', 'is not a finite number'],
    ['-inf', 'is not a finite number'],
    ['1e999', 'overflows to Infinity'],
  ])('rejects the non-finite cell %s', (cell, why) => {
    const e = invalid(() => parseCsv(`1,2\n3,${cell}\n`));
    expect(e.message).toBe(`line 2, column 2: ${JSON.stringify(cell)} ${why}${e.message.slice(e.message.indexOf(why) + why.length)}`);
    expect(e.message.startsWith('line 2, column 2: ')).toBe(true);
    expect(e.context).toMatchObject({ line: 2, column: 2 });
  });

  it('rejects an empty cell', () => {
    const e = invalid(() => parseCsv('1,2\n3,\n'));
    expect(e.message).toBe('line 2, column 2: the cell is empty: every cell must be a number (fill in the missing value or drop the row)');
    expect(e.context).toMatchObject({ line: 2, column: 2 });
    expect(invalid(() => parseCsv('1,2\n ,4\n')).context).toMatchObject({ line: 2, column: 1 });
  });

  it('rejects a blank line between rows', () => {
    const e = invalid(() => parseCsv('1,2\n\n3,4\n'));
    expect(e.message).toContain('line 2 is blank');
    expect(e.context).toMatchObject({ line: 2, column: 1 });
  });

  it('rejects an empty input and a header without rows', () => {
    expect(invalid(() => parseCsv('', { source: 'x.csv' })).message).toBe('file x.csv has no data rows: give at least one row of numbers');
    expect(invalid(() => parseCsv('\n\n')).message).toContain('the input has no data rows');
    expect(invalid(() => parseCsv('x,y\n', { source: 'x.csv' })).message).toContain('file x.csv has no data rows (only a header row)');
  });

  it('prefixes messages with the source and records it in the context', () => {
    const e = invalid(() => parseCsv('1,a\n', { source: 'data.csv' }));
    expect(e.message.startsWith('data.csv: line 1, column 2: ')).toBe(true);
    expect(e.context).toMatchObject({ line: 1, column: 2, source: 'data.csv' });
  });
});

describe('parseNdjson', () => {
  it('parses one array per line, skipping blank lines', () => {
    const v = parseNdjson('[1, 2]\n\n  \n[3.5,-4e2]\r\n\n');
    expect(v).toMatchObject({ n: 2, d: 2 });
    expect(v.header).toBeUndefined();
    expect(rows(v)).toEqual([
      [1, 2],
      [3.5, -400],
    ]);
  });

  it('reports invalid JSON with the parser message, and the column when the parser gives a position', () => {
    const e = invalid(() => parseNdjson('[1,2]\n[1,2\n'));
    expect(e.message).toMatch(/^line 2, column 5: invalid JSON \(.*position 4.*\): each line must be one JSON array of numbers/);
    expect(e.context).toMatchObject({ line: 2, column: 5 });
    expect(e.cause).toBeInstanceOf(SyntaxError);
    const e2 = invalid(() => parseNdjson('[1,2]\n\n[1,abc]\n'));
    expect(e2.message).toContain('invalid JSON');
    expect(e2.message).toContain((e2.cause as Error).message);
    expect(e2.context.line).toBe(3);
  });

  it.each([
    ['{"x": 1}', 'got an object'],
    ['"1,2"', 'got the string "1,2"'],
    ['42', 'got number 42'],
    ['null', 'got null'],
  ])('rejects the non-array line %s', (line, got) => {
    const e = invalid(() => parseNdjson(`[1]\n${line}\n`));
    expect(e.message).toContain(`line 2: expected a JSON array of numbers, ${got}`);
    expect(e.context).toMatchObject({ line: 2, column: 1 });
  });

  it('rejects nested arrays, non-numbers, null (serialised NaN) and overflowing numbers', () => {
    const nested = invalid(() => parseNdjson('[1,2]\n[1,[2]]\n'));
    expect(nested.message).toBe('line 2, column 2: element is a nested array: each line must be a flat array of numbers');
    expect(nested.context).toMatchObject({ line: 2, column: 2, field: 1 });
    const str = invalid(() => parseNdjson('["1.5", 2]\n'));
    expect(str.message).toContain('line 1, column 1: element is the string "1.5", not a number');
    const nul = invalid(() => parseNdjson('[1, 2, null]\n'));
    expect(nul.message).toContain('line 1, column 3: element is null (JSON writes NaN and Infinity as null)');
    const big = invalid(() => parseNdjson('[1, 1e999]\n'));
    expect(big.message).toContain('line 1, column 2: element overflows to Infinity');
    const bool = invalid(() => parseNdjson('[true]\n'));
    expect(bool.message).toContain('element is boolean true, not a number');
  });

  it('rejects empty arrays and lines with a different number of values', () => {
    expect(invalid(() => parseNdjson('[]\n')).message).toContain('line 1: the array is empty');
    const e = invalid(() => parseNdjson('\n[1,2,3,4]\n[1,2,3]\n'));
    expect(e.message).toBe('line 3 has 3 values but line 2 has 4: every line needs the same number of values');
    expect(e.context).toMatchObject({ line: 3, column: 4 });
  });

  it('rejects an input without rows', () => {
    expect(invalid(() => parseNdjson('\n \n', { source: 'x.ndjson' })).message).toBe('file x.ndjson has no data rows: give at least one row of numbers');
  });
});

describe('readVectorsFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'emstream-read-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('picks the parser by extension', async () => {
    await writeFile(join(dir, 'a.csv'), 'x,y\n1,2\n');
    await writeFile(join(dir, 'a.ndjson'), '[1,2]\n[3,4]\n');
    await writeFile(join(dir, 'a.JSONL'), '[5]\n');
    expect(await readVectorsFile(join(dir, 'a.csv'))).toMatchObject({ n: 1, d: 2, header: ['x', 'y'] });
    expect(await readVectorsFile(join(dir, 'a.ndjson'))).toMatchObject({ n: 2, d: 2 });
    expect(await readVectorsFile(join(dir, 'a.JSONL'))).toMatchObject({ n: 1, d: 1 });
  });

  it('rejects other extensions, saying which are supported', async () => {
    const path = join(dir, 'a.txt');
    await writeFile(path, '1,2\n');
    const e = await readVectorsFile(path).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(InvalidInputError);
    expect((e as Error).message).toContain('unsupported file extension ".txt"');
    expect((e as Error).message).toContain('.csv');
    expect((e as Error).message).toContain('.ndjson/.jsonl');
  });

  it('names the file in content errors and in read errors', async () => {
    const path = join(dir, 'bad.csv');
    await writeFile(path, '1,2\n3,x\n');
    await expect(readVectorsFile(path)).rejects.toThrow(`${path}: line 2, column 2: "x" is not a number`);
    const empty = join(dir, 'empty.csv');
    await writeFile(empty, '');
    await expect(readVectorsFile(empty)).rejects.toThrow(`file ${empty} has no data rows`);
    const missing = await readVectorsFile(join(dir, 'missing.csv')).catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(EmstreamError);
    expect((missing as Error).message).toBe(`cannot read data file ${join(dir, 'missing.csv')}: no such file`);
  });
});

describe('quoted CSV cells', () => {
  it('accepts quoted numbers, and does not take a quoted first row of numbers for a header', () => {
    const v = parseCsv('"1","2"\n"3", "4"\n5,6\n');
    expect(v.header).toBeUndefined();
    expect(rows(v)).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
  });

  it('takes a quoted header of names (quotes removed, a comma inside a quoted name kept)', () => {
    const v = parseCsv('"x","y, in m"\n1,2\n"3","4"\n');
    expect(v.header).toEqual(['x', 'y, in m']);
    expect(rows(v)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    // The fast path (unquoted rows under a quoted header) gives the same.
    expect(parseCsv('"x","y"\n1,2\n3,4\n')).toEqual({ n: 2, d: 2, data: Float64Array.of(1, 2, 3, 4), header: ['x', 'y'] });
  });

  it('reports a quoted non-number, an unclosed quote and text after a closing quote by line and column', () => {
    expect(invalid(() => parseCsv('"1","2"\n"3","x"\n')).message).toBe(
      'line 2, column 2: "x" is not a number: every cell must be a number (remove text columns or the header row)',
    );
    const unclosed = invalid(() => parseCsv('1,2\n3,"4\n', { source: 'q.csv' }));
    expect(unclosed.message).toBe('q.csv: line 2, column 2: a quoted cell is not closed on its line (or text follows its closing quote): write numbers as 1.5 or "1.5"');
    expect(unclosed.context).toMatchObject({ line: 2, column: 2, source: 'q.csv' });
    expect(invalid(() => parseCsv('"1"x,2\n')).context).toMatchObject({ line: 1, column: 1 });
    expect(invalid(() => parseCsv('"",2\n')).message).toContain('line 1, column 1: the cell is empty');
  });
});

describe('values too large for the fit', () => {
  it('are reported where they are (file, line and column from 1), in CSV and NDJSON, on both paths', async () => {
    const csv = invalid(() => parseCsv('x,y\n1,2\n1e200,3\n', { source: 'big.csv' }));
    expect(csv.message).toBe('big.csv: line 3, column 1: "1e200" is too large: the fit squares every value, so |x| must be at most 1e+150: scale the data (change units, standardise each column)');
    expect(csv.context).toMatchObject({ line: 3, column: 1, source: 'big.csv' });
    const ndjson = invalid(() => parseNdjson('[1,2]\n\n[3,-2e151]\n'));
    expect(ndjson.message).toContain('line 3, column 2: element -2e+151 is too large');
    expect(invalid(() => parseCsv('1,-1e151\n')).context).toMatchObject({ line: 1, column: 2 });
    // The largest accepted magnitude still reads.
    expect(rows(parseCsv('1e150,-1e150\n'))).toEqual([[1e150, -1e150]]);
  });
});

describe('readVectorsStream (stdin)', () => {
  it('sniffs the format: NDJSON when the first character is [, else CSV', async () => {
    expect(sniffVectorFormat(Buffer.from('\ufeff  \n[1,2]'))).toBe('ndjson');
    expect(sniffVectorFormat(Buffer.from('x,y\n'))).toBe('csv');
    expect(sniffVectorFormat(Buffer.from(''))).toBe('csv');
    expect(await readVectorsStream(Readable.from([Buffer.from('[1,2]\n[3'), Buffer.from(',4]\n')]))).toEqual({ n: 2, d: 2, data: Float64Array.of(1, 2, 3, 4) });
    expect(await readVectorsStream(Readable.from(['a,b\n', '1,2\n']))).toMatchObject({ n: 1, d: 2, header: ['a', 'b'] });
  });

  it('takes the format given, and names the input <stdin> in errors', async () => {
    await expect(readVectorsStream(Readable.from(['[1,2]\n[3,4]\n']), { format: 'csv' })).rejects.toThrow('<stdin>: line 2, column 1: "[3" is not a number');
    await expect(readVectorsStream(Readable.from(['1,2\n3,x\n']))).rejects.toThrow('<stdin>: line 2, column 2: "x" is not a number');
    await expect(readVectorsStream(Readable.from([]))).rejects.toThrow('<stdin> has no data rows');
    await expect(readVectorsStream(Readable.from(['1\n']), { source: 'pipe' })).resolves.toMatchObject({ n: 1, d: 1 });
  });

  it('readVectorsFile takes a format for any extension', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'emstream-read-'));
    try {
      await writeFile(join(dir, 'points.txt'), '[1,2]\n');
      expect(await readVectorsFile(join(dir, 'points.txt'), { format: 'ndjson' })).toMatchObject({ n: 1, d: 2 });
      await expect(readVectorsFile(join(dir, 'points.txt'))).rejects.toThrow('or give the format (--format csv|ndjson)');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
