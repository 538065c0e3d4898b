/**
 * Reading wide vector files: `readVectorsFile` (one-pass byte scanners, src/io/scanNumbers.ts) against a
 * plain reference reader (the text split into lines and cells, `Number()` per cell, into a Float64Array:
 * what a line parser does before it validates anything), on N × D files written here.
 *
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readVectorsFile } from '../src/io/readVectors.js';
import { createDecoder } from '../src/kafka/source/formats.js';
import { median } from './median.js';

/** One row of the readers table. */
export interface ReaderRow {
  readonly format: string;
  readonly megabytes: number;
  readonly oursMs: number;
  readonly referenceMs: number;
}


/** A full collection before each timed run (`npm run bench` runs with --expose-gc), so no run pays for the garbage of another. */
const collect = (): void => (globalThis as { gc?: () => void }).gc?.();

function time(f: () => unknown, repeat: number): number {
  const ts: number[] = [];
  for (let i = 0; i < repeat; i++) {
    collect();
    const t = performance.now();
    f();
    ts.push(performance.now() - t);
  }
  return median(ts);
}

async function timeAsync(f: () => Promise<unknown>, repeat: number): Promise<number> {
  const ts: number[] = [];
  for (let i = 0; i < repeat; i++) {
    collect();
    const t = performance.now();
    await f();
    ts.push(performance.now() - t);
  }
  return median(ts);
}

/** The reference: split and Number() (JSON.parse per line for NDJSON). */
function reference(path: string, ndjson: boolean, d: number): Float64Array {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
  const out = new Float64Array(lines.length * d);
  let k = 0;
  for (const line of lines) {
    const cells: unknown[] = ndjson ? (JSON.parse(line) as number[]) : line.split(',');
    for (const c of cells) out[k++] = Number(c);
  }
  return out;
}

/**
 * Writes the files into `dir` and times both readers on each (medians of `repeat`).
 *
 * @throws Error when the two readers disagree on a value (the bench then measures nothing)
 */
export async function readerRates(dir: string, n = 20_000, d = 256, repeat = 7): Promise<ReaderRow[]> {
  let seed = 1;
  const next = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647) * 6 - 3;
  const values = Float64Array.from({ length: n * d }, next);
  const row = (i: number, f: (x: number) => string): string => Array.from(values.subarray(i * d, (i + 1) * d), f).join(',');
  const files = [
    { format: 'CSV, 6 decimals (%.6f)', name: 'fixed6.csv', text: (i: number) => row(i, (x) => x.toFixed(6)), ndjson: false },
    { format: 'CSV, shortest round-trip (17 digits)', name: 'repr.csv', text: (i: number) => row(i, String), ndjson: false },
    { format: 'NDJSON arrays, shortest round-trip', name: 'repr.ndjson', text: (i: number) => `[${row(i, String)}]`, ndjson: true },
  ];
  const rows: ReaderRow[] = [];
  for (const f of files) {
    const path = join(dir, f.name);
    const text = `${Array.from({ length: n }, (_, i) => f.text(i)).join('\n')}\n`;
    writeFileSync(path, text);
    const ours = await readVectorsFile(path);
    const ref = reference(path, f.ndjson, d);
    for (let i = 0; i < ref.length; i++) if (!Object.is(ours.data[i], ref[i])) throw new Error(`${f.name}: value ${i} differs (${ours.data[i]} vs ${ref[i]})`);
    rows.push({
      format: f.format,
      megabytes: Buffer.byteLength(text) / 1e6,
      oursMs: await timeAsync(() => readVectorsFile(path), repeat),
      referenceMs: time(() => reference(path, f.ndjson, d), repeat),
    });
  }
  // float32le: the embeddings pipeline's binary records, decoded (and checked) one record at a time
  const decode = createDecoder({ format: 'float32le', dimension: d });
  const records = Array.from({ length: n }, (_, i) => Buffer.from(Float32Array.from(values.subarray(i * d, (i + 1) * d)).buffer));
  rows.push({
    format: `float32le Kafka records (${n} of ${d * 4} bytes, the decoder per record)`,
    megabytes: (n * d * 4) / 1e6,
    oursMs: time(() => {
      for (const r of records) if (!decode(r).ok) throw new Error('a float32le record did not decode');
    }, repeat),
    referenceMs: time(() => {
      for (const r of records) {
        const out = new Float64Array(d);
        for (let j = 0; j < d; j++) out[j] = r.readFloatLE(4 * j);
      }
    }, repeat),
  });
  return rows;
}
