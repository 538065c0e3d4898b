/**
 * Reading N×D numeric data sets from text: CSV (numbers separated by commas, optional header row, cells
 * optionally in double quotes) and NDJSON (one JSON array of numbers per line). Parsing is pure;
 * {@link readVectorsFile} adds the file read and picks the format by extension (or `format`), and
 * {@link readVectorsStream} reads a stream such as stdin, the format given or sniffed.
 *
 * Every problem is an {@link InvalidInputError} whose message says where (the input's name, 1-based line and
 * column), what was found and what to do, with the same `line`/`column` in its context. The output never
 * holds NaN or ±Infinity, nor a value beyond ±{@link MAX_ABS_VALUE} (whose square the fit cannot hold).
 *
 * @module
 */
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { extname } from 'node:path';
import { EmstreamError, InvalidInputError, type InvalidInputContext } from '../errors.js';
import { MAX_ABS_VALUE } from '../gmm/em.js';
import { scanCsvRows, scanNdjsonRows } from './scanNumbers.js';

/** A parsed data set: N×D row-major numbers (a `Dataset` of the numeric core), plus the CSV header if any. */
export interface Vectors {
  /** Number of rows (points), ≥ 1. */
  readonly n: number;
  /** Number of columns (dimensions), ≥ 1. */
  readonly d: number;
  /** N×D row-major; every value finite. */
  readonly data: Float64Array;
  /** Column names of the CSV header row, when there was one. */
  readonly header?: string[];
}

/** Options of {@link parseCsv}. */
export interface CsvOptions {
  /**
   * Whether line 1 is a header row. `'auto'` (default): it is a header when none of its cells is a
   * number (NaN/Infinity spellings and `1;2`-like cells count as numbers), so a first data row with
   * one bad cell is reported rather than silently taken as a header.
   */
  readonly header?: boolean | 'auto';
  /** Name of the input (e.g. the file name), used in messages. */
  readonly source?: string;
  /**
   * Largest magnitude accepted. Default {@link MAX_ABS_VALUE} (1e150): the fit squares every value, and beyond it
   * the squares overflow. `Infinity` accepts every finite number.
   */
  readonly maxAbs?: number;
}

/** Options of {@link parseNdjson}. */
export interface NdjsonOptions {
  /** Name of the input (e.g. the file name), used in messages. */
  readonly source?: string;
  /** Largest magnitude accepted (see {@link CsvOptions.maxAbs}). Default {@link MAX_ABS_VALUE}. */
  readonly maxAbs?: number;
}

/** The text formats of data sets: CSV ({@link parseCsv}) and NDJSON ({@link parseNdjson}). */
export type VectorTextFormat = 'csv' | 'ndjson';

/** Options of {@link readVectorsFile} and {@link readVectorsStream}. */
export interface ReadVectorsOptions extends Omit<CsvOptions, 'source'> {
  /** The format; default: by the file's extension ({@link VECTOR_FILE_EXTENSIONS}), sniffed for a stream. */
  readonly format?: VectorTextFormat;
}

/** File extensions understood by {@link readVectorsFile}, and the format each means. */
export const VECTOR_FILE_EXTENSIONS: Readonly<Record<string, VectorTextFormat>> = {
  '.csv': 'csv',
  '.ndjson': 'ndjson',
  '.jsonl': 'ndjson',
};

const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const NON_FINITE = /^[+-]?(?:nan|inf|infinity)$/i;

/**
 * Parses a plain decimal number (`12`, `-0.5`, `.5`, `1e-3`), rejecting what `Number()` would
 * silently accept (`''`, `' '`, `'0x10'`, `'1_000'`, `'Infinity'`). Surrounding spaces are ignored.
 *
 * ## Example
 * ```ts
 * import { parseDecimal } from 'emstream';
 *
 * parseDecimal(' 1.5e3 '); // 1500
 * parseDecimal('0x10'); // NaN
 * ```
 *
 * @param text - the text of one number
 * @returns the number, or NaN when the text is not a decimal number (values that overflow give ±Infinity)
 */
export function parseDecimal(text: string): number {
  const t = text.trim();
  return DECIMAL.test(t) ? Number(t) : NaN;
}

function where(line: number, column?: number): string {
  return column === undefined ? `line ${line}` : `line ${line}, column ${column}`;
}

function inputError(source: string | undefined, message: string, context: InvalidInputContext, cause?: unknown): InvalidInputError {
  const prefix = source === undefined ? '' : `${source}: `;
  return new InvalidInputError(`${prefix}${message}`, source === undefined ? context : { ...context, source }, cause);
}

function noRows(source: string | undefined, detail: string): InvalidInputError {
  const what = source === undefined ? 'the input' : source.startsWith('<') ? source : `file ${source}`;
  return new InvalidInputError(`${what} has no data rows${detail}: give at least one row of numbers`, source === undefined ? {} : { source });
}

/** Splits text into lines (LF or CRLF), dropping a leading byte-order mark and trailing blank lines. */
function splitLines(text: string): string[] {
  const lines = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split(/\r?\n/);
  let end = lines.length;
  while (end > 0 && lines[end - 1].trim() === '') end--;
  return lines.slice(0, end);
}

/**
 * Whether a cell reads as a number (NaN and Infinity spellings included) or as numbers joined by
 * another separator (`1;2`, `1\t2`): such a first row is data, not a header.
 */
function looksNumeric(cell: string): boolean {
  const parts = cell.trim().split(/[;\t ]+/);
  return parts.every((part) => DECIMAL.test(part) || NON_FINITE.test(part));
}

/** A line whose quotes do not close: the 1-based column (cell) where the quoted cell starts. */
interface BadQuotes {
  readonly badQuotes: number;
}

/**
 * Splits one CSV line into its cells: separated by commas, a cell optionally in double quotes (RFC 4180: `"1.5"`,
 * `"a,b"`, `""` for a quote inside), spaces around a quoted cell ignored.
 *
 * @returns the cells, unquoted; or the column of a quoted cell that is not closed on its line (or is followed
 *   by more than spaces before the next comma)
 */
function splitCsvLine(line: string): string[] | BadQuotes {
  if (!line.includes('"')) return line.split(',');
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    let j = i;
    while (line[j] === ' ' || line[j] === '\t') j++;
    if (line[j] !== '"') {
      const comma = line.indexOf(',', i);
      cells.push(line.slice(i, comma < 0 ? line.length : comma));
      if (comma < 0) return cells;
      i = comma + 1;
      continue;
    }
    let value = '';
    let k = j + 1;
    for (;;) {
      const quote = line.indexOf('"', k);
      if (quote < 0) return { badQuotes: cells.length + 1 };
      value += line.slice(k, quote);
      k = quote + 1;
      if (line[k] !== '"') break;
      value += '"';
      k++;
    }
    while (line[k] === ' ' || line[k] === '\t') k++;
    if (k < line.length && line[k] !== ',') return { badQuotes: cells.length + 1 };
    cells.push(value);
    if (k >= line.length) return cells;
    i = k + 1;
  }
}

/** The cells of a CSV line, or the error for a quoted cell that does not close. */
function csvCells(line: string, lineNumber: number, source: string | undefined): string[] {
  const cells = splitCsvLine(line);
  if (!Array.isArray(cells)) {
    throw inputError(source, `${where(lineNumber, cells.badQuotes)}: a quoted cell is not closed on its line (or text follows its closing quote): write numbers as 1.5 or "1.5"`, {
      line: lineNumber,
      column: cells.badQuotes,
    });
  }
  return cells;
}

/** Whether CSV line 1 (its cells) is a header row, per {@link CsvOptions.header}. */
function isHeader(cells: readonly string[], option: boolean | 'auto'): boolean {
  return option === 'auto' ? cells.every((cell) => !looksNumeric(cell)) : option;
}

/** Whether every value is within ±`maxAbs` (NaN fails). */
function inRange(data: Float64Array, maxAbs: number): boolean {
  if (maxAbs >= MAX_ABS_VALUE) return true; // the scanners give values within ±MAX_ABS_VALUE only
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!(v <= maxAbs && v >= -maxAbs)) return false;
  }
  return true;
}

/** Why a finite value beyond ±`maxAbs` cannot be used, as the end of a message. */
function tooLarge(maxAbs: number): string {
  return `is too large: the fit squares every value, so |x| must be at most ${maxAbs}: scale the data (change units, standardise each column)`;
}

/** Why a CSV cell is not a finite number within ±`maxAbs`, as the end of a message. */
function describeBadCell(cell: string, maxAbs: number): string {
  const t = cell.trim();
  if (t === '') return 'the cell is empty: every cell must be a number (fill in the missing value or drop the row)';
  if (NON_FINITE.test(t)) return `${JSON.stringify(t)} is not a finite number: NaN and Infinity are not allowed (fix or drop the row)`;
  if (DECIMAL.test(t)) return Number.isFinite(Number(t)) ? `${JSON.stringify(t)} ${tooLarge(maxAbs)}` : `${JSON.stringify(t)} overflows to Infinity: scale the data`;
  const separator = /[;\t]/.test(t) ? '; cells must be separated by commas' : '';
  return `${JSON.stringify(t)} is not a number: every cell must be a number (remove text columns or the header row${separator})`;
}

/** Bytes of a UTF-8 byte-order mark at the start of `b` (3 or 0). */
function bomLength(b: Uint8Array): number {
  return b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? 3 : 0;
}

/**
 * Line 1 of CSV bytes and the header decision of {@link parseCsv} on it: where the rows start, D and the
 * header cells; null when line 1 is blank (the line parser reports it).
 */
function csvStart(b: Buffer, headerOption: boolean | 'auto'): { start: number; d: number; header: string[] | null } | null {
  const available = b.length;
  const bom = bomLength(b);
  let eol = b.indexOf(10, bom);
  if (eol < 0) eol = available;
  const firstLine = b.toString('utf8', bom, eol > bom && b[eol - 1] === 13 ? eol - 1 : eol);
  if (firstLine.trim() === '') return null;
  const cells = splitCsvLine(firstLine);
  if (!Array.isArray(cells)) return null;
  const hasHeader = isHeader(cells, headerOption);
  return { start: hasHeader ? Math.min(available, eol + 1) : bom, d: cells.length, header: hasHeader ? cells.map((cell) => cell.trim()) : null };
}

/** Rows with D and the CSV header, if any, as {@link Vectors}. */
function vectors(rows: { n: number; data: Float64Array }, d: number, header: string[] | null): Vectors {
  return header !== null ? { n: rows.n, d, data: rows.data, header } : { n: rows.n, d, data: rows.data };
}

/**
 * The fast CSV path over UTF-8 bytes: the header decision of {@link parseCsv} on line 1, then one scan of the
 * rows ({@link scanCsvRows}). Null when the scan does not accept the input (the line parser then reports).
 */
function fastCsv(b: Buffer, headerOption: boolean | 'auto', maxAbs: number): Vectors | null {
  const first = csvStart(b, headerOption);
  if (first === null) return null;
  const rows = scanCsvRows(b, first.start, first.d);
  return rows === null || !inRange(rows.data, maxAbs) ? null : vectors(rows, first.d, first.header);
}

/** The fast NDJSON path over UTF-8 bytes ({@link scanNdjsonRows}); null when it does not accept the input. */
function fastNdjson(b: Buffer, maxAbs: number): Vectors | null {
  const rows = scanNdjsonRows(b, bomLength(b));
  return rows === null || !inRange(rows.data, maxAbs) ? null : rows;
}

/**
 * Parses CSV text of numbers: one row per line, cells separated by commas (a cell may be in double quotes,
 * `"1.5"`), an optional header row.
 *
 * 1. drop a byte-order mark and trailing blank lines;
 * 2. decide whether line 1 is a header (see {@link CsvOptions.header}; a quoted number is a number);
 * 3. parse every cell of every other line as a decimal number of magnitude at most {@link MAX_ABS_VALUE};
 *    the first row fixes D.
 *
 * ## Example
 * ```ts
 * import { parseCsv } from 'emstream';
 *
 * const { n, d, data, header } = parseCsv('x,y\n1,2\n3,4\n');
 * // n = 2, d = 2, data = Float64Array [1, 2, 3, 4], header = ['x', 'y']
 * ```
 *
 * @param text - the whole CSV text
 * @param options - header handling and the input's name for messages
 * @returns the N×D data, with the header when there was one
 * @throws InvalidInputError naming the line and column of a non-numeric, empty, non-finite or too large
 *   cell, a quoted cell that does not close, a row with the wrong number of columns, a blank line between
 *   rows, or an input without data rows
 */
export function parseCsv(text: string, options: CsvOptions = {}): Vectors {
  const { source } = options;
  const maxAbs = options.maxAbs ?? MAX_ABS_VALUE;
  // one scan of well-formed rows; anything irregular is parsed (and reported) line by line below
  const fast = fastCsv(Buffer.from(text, 'utf8'), options.header ?? 'auto', maxAbs);
  if (fast !== null) return fast;
  const lines = splitLines(text);
  if (lines.length === 0) throw noRows(source, '');
  const first = csvCells(lines[0], 1, source);
  const hasHeader = isHeader(first, options.header ?? 'auto');
  const d = first.length;
  const header = hasHeader ? first.map((cell) => cell.trim()) : undefined;
  const rows = lines.length - (hasHeader ? 1 : 0);
  if (rows === 0) throw noRows(source, ' (only a header row)');
  const data = new Float64Array(rows * d);
  let pos = 0;
  for (let i = hasHeader ? 1 : 0; i < lines.length; i++) {
    const line = i + 1;
    if (lines[i].trim() === '') {
      throw inputError(source, `${where(line)} is blank: remove blank lines between rows (every row needs ${d} number${d === 1 ? '' : 's'})`, { line, column: 1 });
    }
    const cells = i === 0 ? first : csvCells(lines[i], line, source);
    if (cells.length !== d) {
      const column = Math.min(cells.length, d) + 1;
      throw inputError(source, `line ${line} has ${cells.length} column${cells.length === 1 ? '' : 's'} but line 1 has ${d}: every row needs the same number of columns`, {
        line,
        column,
      });
    }
    for (let j = 0; j < d; j++) {
      const value = parseDecimal(cells[j]);
      if (!(Math.abs(value) <= maxAbs)) {
        const column = j + 1;
        const context: InvalidInputContext = header === undefined ? { line, column } : { line, column, field: header[j] };
        throw inputError(source, `${where(line, column)}: ${describeBadCell(cells[j], maxAbs)}`, context);
      }
      data[pos++] = value;
    }
  }
  return header === undefined ? { n: rows, d, data } : { n: rows, d, data, header };
}

/** Position (0-based) mentioned in a `JSON.parse` error message, if any. */
function jsonErrorPosition(message: string): number | undefined {
  const m = /at position (\d+)/.exec(message);
  return m === null ? undefined : Number(m[1]);
}

function describeJsonValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/**
 * Parses NDJSON (JSON Lines) of vectors: one JSON array of numbers per line; blank lines are skipped.
 *
 * 1. split into lines (LF or CRLF), skipping blank ones (line numbers still count them);
 * 2. `JSON.parse` each line; it must be a flat, non-empty array of finite numbers;
 * 3. the first row fixes D.
 *
 * ## Example
 * ```ts
 * import { parseNdjson } from 'emstream';
 *
 * const { n, d, data } = parseNdjson('[1, 2]\n\n[3, 4]\n');
 * // n = 2, d = 2, data = Float64Array [1, 2, 3, 4]
 * ```
 *
 * @param text - the whole NDJSON text
 * @param options - the input's name for messages
 * @returns the N×D data
 * @throws InvalidInputError naming the line (and the column: 1-based element, or character for JSON
 *   syntax errors) of invalid JSON, a line that is not an array, a nested array, a non-number or
 *   non-finite element (JSON `null`, which is how NaN is serialised), an empty array, a line with
 *   the wrong number of values, or an input without data rows
 */
export function parseNdjson(text: string, options: NdjsonOptions = {}): Vectors {
  const { source } = options;
  const maxAbs = options.maxAbs ?? MAX_ABS_VALUE;
  // one scan of well-formed lines; anything irregular is parsed (and reported) line by line below
  const fast = fastNdjson(Buffer.from(text, 'utf8'), maxAbs);
  if (fast !== null) return fast;
  const lines = splitLines(text);
  const values: number[] = [];
  let d = -1;
  let firstLine = 0;
  let n = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    if (raw.trim() === '') continue;
    const line = i + 1;
    let parsed: unknown;
    try {
      parsed = JSON.parse(raw);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const position = jsonErrorPosition(message);
      const column = position === undefined ? undefined : position + 1;
      throw inputError(
        source,
        `${where(line, column)}: invalid JSON (${message}): each line must be one JSON array of numbers, e.g. [1.5, -2]`,
        column === undefined ? { line } : { line, column },
        e,
      );
    }
    if (!Array.isArray(parsed)) {
      throw inputError(source, `${where(line)}: expected a JSON array of numbers, got ${describeJsonValue(parsed)}: write each vector as e.g. [1.5, -2]`, { line, column: 1 });
    }
    if (parsed.length === 0) throw inputError(source, `${where(line)}: the array is empty: every line needs at least one number`, { line, column: 1 });
    if (d >= 0 && parsed.length !== d) {
      const column = Math.min(parsed.length, d) + 1;
      throw inputError(
        source,
        `line ${line} has ${parsed.length} value${parsed.length === 1 ? '' : 's'} but line ${firstLine} has ${d}: every line needs the same number of values`,
        { line, column },
      );
    }
    for (let j = 0; j < parsed.length; j++) {
      const v: unknown = parsed[j];
      const column = j + 1;
      if (typeof v === 'number' && Math.abs(v) <= maxAbs) {
        values.push(v);
        continue;
      }
      let why: string;
      if (Array.isArray(v)) why = 'element is a nested array: each line must be a flat array of numbers';
      else if (v === null) why = 'element is null (JSON writes NaN and Infinity as null): every element must be a finite number (fix or drop the row)';
      else if (typeof v === 'number') why = Number.isFinite(v) ? `element ${String(v)} ${tooLarge(maxAbs)}` : 'element overflows to Infinity: scale the data';
      else why = `element is ${describeJsonValue(v)}, not a number: every element must be a number`;
      throw inputError(source, `${where(line, column)}: ${why}`, { line, column, field: j });
    }
    if (d < 0) {
      d = parsed.length;
      firstLine = line;
    }
    n++;
  }
  if (n === 0) throw noRows(source, '');
  return { n, d, data: Float64Array.from(values) };
}

/**
 * Parses a data set from its bytes: the one-pass scanner for well-formed input, the line parser (and its
 * error messages) for anything else.
 *
 * @param bytes - UTF-8 text
 * @param format - CSV or NDJSON
 * @param options - CSV header handling, and the input's name for messages
 */
function parseVectorBytes(bytes: Buffer, format: VectorTextFormat, options: CsvOptions): Vectors {
  const maxAbs = options.maxAbs ?? MAX_ABS_VALUE;
  const fast = format === 'csv' ? fastCsv(bytes, options.header ?? 'auto', maxAbs) : fastNdjson(bytes, maxAbs);
  if (fast !== null) return fast;
  const text = bytes.toString('utf8');
  return format === 'csv' ? parseCsv(text, options) : parseNdjson(text, { source: options.source, maxAbs });
}

/**
 * The format of a data set from its first bytes: NDJSON when the first character that is not white space is
 * `[`, else CSV.
 *
 * @param bytes - the start of the input (a byte-order mark is skipped)
 */
export function sniffVectorFormat(bytes: Uint8Array): VectorTextFormat {
  for (let i = bomLength(bytes); i < bytes.length; i++) {
    const c = bytes[i];
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x5b ? 'ndjson' : 'csv';
  }
  return 'csv';
}

/**
 * Reads a data set from a file: `.csv` ({@link parseCsv}) or `.ndjson`/`.jsonl` ({@link parseNdjson}) by
 * extension, or the `format` given.
 *
 * ## Example
 * ```ts
 * import { writeFileSync } from 'node:fs';
 * import { tmpdir } from 'node:os';
 * import { join } from 'node:path';
 * import { readVectorsFile, fitGmm } from 'emstream';
 *
 * const file = join(tmpdir(), 'points.csv');
 * writeFileSync(file, 'x,y\n0,0\n0,1\n1,0\n9,9\n9,8\n8,9\n');
 * const data = await readVectorsFile(file); // header row detected
 * const result = fitGmm(data, { k: 2 });
 * ```
 *
 * @param path - the file
 * @param options - the format (default: by extension), CSV header handling (ignored for NDJSON)
 * @returns the N×D data (and the CSV header, if any)
 * @throws InvalidInputError for an unsupported extension or bad content (messages start with the path)
 * @throws EmstreamError when the file cannot be read
 */
export async function readVectorsFile(path: string, options: ReadVectorsOptions = {}): Promise<Vectors> {
  const ext = extname(path).toLowerCase();
  const format = options.format ?? VECTOR_FILE_EXTENSIONS[ext];
  if (format === undefined) {
    throw new InvalidInputError(
      `${path}: unsupported file extension ${ext === '' ? '(none)' : JSON.stringify(ext)}: use .csv (numbers separated by commas) or .ndjson/.jsonl (one JSON array of numbers per line), or give the format (--format csv|ndjson)`,
      { source: path },
    );
  }
  const bytes = await readDataFile(path);
  return parseVectorBytes(bytes, format, { header: options.header, maxAbs: options.maxAbs, source: path });
}

/**
 * Reads a data set from a stream of bytes (e.g. `process.stdin`) to its end: the `format` given, else sniffed
 * ({@link sniffVectorFormat}).
 *
 * ## Example
 * ```ts
 * import { Readable } from 'node:stream';
 * import { readVectorsStream } from 'emstream';
 *
 * const { n, d } = await readVectorsStream(Readable.from(['"x","y"\n', '"1","2"\n3,4\n']));
 * console.log(n, d);
 * // → 2 2
 * ```
 *
 * @param stream - the bytes (or strings, taken as UTF-8)
 * @param options - the format (default: sniffed), CSV header handling, and the input's name for messages
 *   (default `<stdin>`)
 * @returns the N×D data (and the CSV header, if any)
 * @throws InvalidInputError for bad content (messages start with the input's name)
 * @throws EmstreamError when the stream fails
 */
export async function readVectorsStream(stream: AsyncIterable<Uint8Array | string>, options: ReadVectorsOptions & { readonly source?: string } = {}): Promise<Vectors> {
  const source = options.source ?? '<stdin>';
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
  } catch (e) {
    throw readError(source, 'data from', e);
  }
  const bytes = Buffer.concat(chunks);
  return parseVectorBytes(bytes, options.format ?? sniffVectorFormat(bytes), { header: options.header, maxAbs: options.maxAbs, source });
}

/**
 * Reads a UTF-8 text file, turning system errors into an {@link EmstreamError} that says which file
 * and why (`no such file`, `permission denied`, `is a directory`).
 *
 * @param path - the file
 * @param what - what the file is, for the message (e.g. `'model file'`)
 * @returns the file's text
 * @throws EmstreamError when the file cannot be read
 */
export async function readTextFile(path: string, what = 'file'): Promise<string> {
  return (await readBytesFile(path, what)).toString('utf8');
}

/**
 * The bytes of a data file: a regular file in one read of its size into an uninitialised buffer
 * (`readFile` reads 512 KiB at a time, each a round trip through the thread pool: 20 ms more for 50 MB;
 * measured), anything else (a pipe, a file of unknown size) by `readFile`.
 *
 * @throws EmstreamError when the file cannot be read
 */
async function readDataFile(path: string): Promise<Buffer> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (e) {
    throw readError(path, 'data file', e);
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) return await handle.readFile();
    const buffer = Buffer.allocUnsafe(size);
    let offset = 0;
    while (offset < size) {
      const { bytesRead } = await handle.read(buffer, offset, size - offset, offset);
      if (bytesRead === 0) break;
      offset += bytesRead;
    }
    return offset < size ? buffer.subarray(0, offset) : buffer;
  } catch (e) {
    throw readError(path, 'data file', e);
  } finally {
    await handle.close();
  }
}

/** The bytes of a file, with the errors of {@link readTextFile}. */
async function readBytesFile(path: string, what: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (e) {
    throw readError(path, what, e);
  }
}

/** The {@link EmstreamError} for a file that cannot be read: which file and why. */
function readError(path: string, what: string, e: unknown): EmstreamError {
  if (e instanceof EmstreamError) return e;
  const code = (e as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    ENOENT: 'no such file',
    EACCES: 'permission denied',
    EISDIR: 'it is a directory',
    ENOTDIR: 'a part of the path is not a directory',
  };
  const reason = (code !== undefined && reasons[code]) || (e instanceof Error ? e.message : String(e));
  return new EmstreamError(`cannot read ${what} ${path}: ${reason}`, { cause: e, context: { path, code } });
}
