import { EmstreamError, type ErrorContext } from '../errors.js';

/** Context of a {@link CovarianceError}. */
export interface CovarianceErrorContext extends ErrorContext {
  readonly component: number;
  readonly covarianceType: string;
  readonly regCovar: number;
}

/**
 * A component's covariance is not positive definite even after re-seeding it. Not retriable with
 * the same data and options.
 */
export class CovarianceError extends EmstreamError<CovarianceErrorContext> {
  override readonly name: string = 'CovarianceError';
  constructor(context: CovarianceErrorContext) {
    super(
      `component ${context.component} has an ill-defined ${context.covarianceType} covariance (not positive definite, even after re-seeding it): ` +
        `use fewer components, a larger regCovar (now ${context.regCovar}), or scale the data`,
      { context },
    );
  }
}

/** Context of a {@link DataError}. */
export interface DataErrorContext extends ErrorContext {
  /** 0-based row of the offending point, when there is one. */
  readonly row?: number;
  /** 0-based column (dimension) of the offending value. */
  readonly column?: number;
  /** 0-based component of offending initial parameters. */
  readonly component?: number;
}

/** The data cannot be fitted or scored as given (non-finite values, too few points, wrong dimension). */
export class DataError extends EmstreamError<DataErrorContext> {
  override readonly name: string = 'DataError';
  constructor(message: string, context: DataErrorContext = {}) {
    super(message, { context });
  }
}

/** Context of a {@link NumericError}. */
export interface NumericErrorContext extends ErrorContext {
  /** What could not be computed, e.g. `'log-likelihood'`. */
  readonly quantity: string;
}

/**
 * A computation on valid-looking data left the range of double precision (a log-likelihood or a
 * statistic became NaN or infinite), e.g. because the values are so large that their squares
 * overflow or so spread that a density underflows everywhere. Not retriable with the same data:
 * scale the data (standardise each column) or raise regCovar.
 */
export class NumericError extends EmstreamError<NumericErrorContext> {
  override readonly name: string = 'NumericError';
  constructor(message: string, context: NumericErrorContext) {
    super(message, { context });
  }
}

/** A model in JSON form is malformed. */
export class ModelFormatError extends EmstreamError<{ readonly path: string }> {
  override readonly name: string = 'ModelFormatError';
  constructor(message: string, path: string) {
    super(`invalid model${path ? ` at ${path}` : ''}: ${message}`, { context: { path } });
  }
}

/** One setting in which a saved streaming state and the options asking to resume from it differ. */
export interface StateDifference {
  /** The setting: `k`, `covarianceType`, `d` or `forgetting`. */
  readonly setting: string;
  /** What the saved state was made with. */
  readonly saved: string;
  /** What the options (or the data) ask for. */
  readonly requested: string;
}

/**
 * A saved streaming state cannot be resumed by this configuration (another K, covariance type,
 * dimension or forgetting): its statistics mean something else. Not retriable: start fresh, or run
 * with the configuration the state was made with.
 */
export class StateMismatchError extends EmstreamError<{ readonly differences: readonly StateDifference[] }> {
  override readonly name: string = 'StateMismatchError';
  constructor(differences: readonly StateDifference[], hint = 'start fresh (discard the saved state) or run with the configuration it was made with') {
    const what = differences.map((d) => `${d.setting}: saved ${d.saved}, requested ${d.requested}`).join('; ');
    super(`the saved streaming state does not match this configuration (${what}): ${hint}`, { context: { differences } });
  }
}

/** Worker threads (the E-step pool's, `EStepPool`, or a fit's, `WindowFitter`) could not start or stopped answering. */
export class ThreadPoolError extends EmstreamError<{ readonly threads: number }> {
  override readonly name: string = 'ThreadPoolError';
  /**
   * @param message - what failed
   * @param threads - the threads asked for
   * @param cause - the worker's error, if any
   * @param remedy - what to do (default: run on one thread)
   */
  constructor(message: string, threads: number, cause?: unknown, remedy = 'run with threads: 1 (emstream fit --threads 1)') {
    super(`${message}: ${remedy}, or report this with EMSTREAM_DEBUG=1`, { context: { threads }, cause, retriable: true });
  }
}
