/**
 * Errors of the figures layer (SVG figures of a mixture, their bounds).
 *
 * @module
 */
import { EmstreamError, type ErrorContext } from '../errors.js';

/** Context of a {@link FigureError}. */
export interface FigureErrorContext extends ErrorContext {
  /** The function that refused its input (`renderMixtureSvg`, `computeBounds`). */
  readonly figure: string;
  /** The offending input, as a path: `width`, `points`, `labels`, `bounds.maxX`, `params.means`, … */
  readonly field: string;
  /** The point or component concerned, when there is one. */
  readonly index?: number;
}

/**
 * A figure cannot be drawn from its input: a non-finite coordinate, lengths that do not match, a mixture that is
 * not two-dimensional or whose covariance is not positive semi-definite, bounds that are empty, a figure too small.
 * The message says which input and what to do. Not retriable: fix the input.
 */
export class FigureError extends EmstreamError<FigureErrorContext> {
  override readonly name: string = 'FigureError';

  /**
   * @param message - what is wrong and what to do
   * @param context - the function, the input and the index concerned
   */
  constructor(message: string, context: FigureErrorContext) {
    super(message, { context });
  }
}
