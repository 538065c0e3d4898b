/**
 * Errors of the monitoring layer (metrics, their HTTP endpoint, the dashboard server).
 *
 * @module
 */
import { EmstreamError, type ErrorContext } from '../errors.js';

/** Context of a {@link MonitoringError}. */
export interface MonitoringErrorContext extends ErrorContext {
  /** A metric name, when the problem is about one. */
  readonly metric?: string;
  /** The host and port a server could not listen on. */
  readonly host?: string;
  readonly port?: number;
  /** The system error code (`EADDRINUSE`, `EACCES`, …). */
  readonly code?: string;
}

/**
 * A monitoring component could not start: metrics already registered on the registry, a port in use,
 * a missing browser asset. Not retriable unless said so (a port may free up).
 */
export class MonitoringError extends EmstreamError<MonitoringErrorContext> {
  override readonly name: string = 'MonitoringError';
}
