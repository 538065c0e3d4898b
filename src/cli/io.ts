/**
 * What the commands read and write: data from a file or stdin (`-`), and output paths checked before any work,
 * so an unwritable `--out`/`--output` exits 2 at once instead of after a fit (or, for a directory under `/proc`,
 * never: Node's recursive `mkdir` loops there).
 *
 * @module
 */
import { accessSync, closeSync, constants, mkdirSync, openSync, statSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { readVectorsFile, readVectorsStream, type Vectors, type VectorTextFormat } from '../io/readVectors.js';
import { UsageError } from './errors.js';

/** The data formats of `--format`. */
export const DATA_FORMATS: readonly VectorTextFormat[] = ['csv', 'ndjson'];

/**
 * Reads the data set of a command: a file (its format by extension, or `format`), or stdin for `-` (the format
 * given, else sniffed: NDJSON when it starts with `[`). Errors name the file, or `<stdin>`.
 *
 * @param file - a path, or `-` for stdin
 * @param format - `--format`, when given
 */
export async function readData(file: string, format: VectorTextFormat | undefined): Promise<Vectors> {
  if (file !== '-') return readVectorsFile(file, format === undefined ? {} : { format });
  if (process.stdin.isTTY === true) process.stderr.write('emstream: reading the data from the terminal: paste it, then Ctrl-D (or pipe a file: emstream fit - < data.csv)\n');
  return readVectorsStream(process.stdin, format === undefined ? { source: '<stdin>' } : { source: '<stdin>', format });
}

/** Why a path cannot be written, in a few words. */
function why(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
    case 'EEXIST':
      return 'a file is in the way';
    case 'EISDIR':
      return 'it is a directory';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOENT':
      return err.path === undefined ? 'no such directory' : `${err.path} cannot be created`;
    default:
      return err.message ?? String(e);
  }
}

/**
 * Creates a directory and its missing parents one level at a time (Node's `mkdir(…, { recursive: true })` never
 * returns for a path under `/proc`, where `mkdir` fails with ENOENT below an existing directory).
 *
 * @throws the system error of the first level that cannot be created
 */
export function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let path = resolve(dir); ; path = dirname(path)) {
    try {
      if (statSync(path).isDirectory()) break;
      throw Object.assign(new Error(`${path} is not a directory`), { code: 'ENOTDIR', path });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    missing.push(path);
    if (dirname(path) === path) break;
  }
  for (const path of missing.reverse()) {
    try {
      mkdirSync(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/**
 * Makes sure an output directory exists and can be written, before any work.
 *
 * @param dir - the directory
 * @param flag - the flag that named it, for the message (`--out`)
 * @throws UsageError when it cannot be created or written
 */
export function checkOutputDirectory(dir: string, flag: string): void {
  try {
    makeDirectory(dir);
    accessSync(resolve(dir), constants.W_OK);
  } catch (e) {
    throw new UsageError(`cannot write to ${flag} ${dir} (${why(e)}): give a directory you can write, e.g. ${flag} ./demo-out`, { cause: e });
  }
}

/**
 * Makes sure an output file can be written, before any work: opens it for appending (creating it, then
 * removing it again when it was not there), so the check is the system's own.
 *
 * @param path - the file
 * @param flag - the flag that named it, for the message (`--output`)
 * @throws UsageError when it cannot be written
 */
export function checkOutputFile(path: string, flag: string): void {
  let existed = true;
  try {
    statSync(path);
  } catch {
    existed = false;
  }
  try {
    closeSync(openSync(path, 'a'));
    if (!existed) unlinkSync(path);
  } catch (e) {
    throw new UsageError(`cannot write ${flag} ${path} (${why(e)}): give a path you can write`, { cause: e });
  }
}
