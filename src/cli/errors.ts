/**
 * Errors of the `emstream` command (one error module per layer).
 *
 * @module
 */
import { EmstreamError } from '../errors.js';

/**
 * A usage problem: a missing or invalid argument, or a combination that cannot work (`--format float32le` without
 * `--dimension`, `demo --every 0`, an `--out` directory that cannot be written). The CLI exits with code 2.
 */
export class UsageError extends EmstreamError {
  override readonly name: string = 'UsageError';
}
