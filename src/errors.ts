/**
 * Typed errors of emstream.
 *
 * Every error thrown by the library is an {@link EmstreamError}: it has a stable `name` to switch on,
 * a `retriable` flag (may the same operation succeed if tried again?), the underlying `cause`, and a
 * `context` record with the coordinates of the problem (option path, line, column, offset, topic, …).
 * Messages say what was wrong, where, and what to do.
 *
 * To add an error class: extend {@link EmstreamError} (or a subclass), set `name` to the class name,
 * give it a typed context interface, and keep the classes of this file in the order base → subclasses.
 */

/** Coordinates and details attached to an error. */
export type ErrorContext = Readonly<Record<string, unknown>>;

/** Constructor options shared by every emstream error. */
export interface EmstreamErrorOptions<C extends ErrorContext = ErrorContext> {
  /** The error (or value) that caused this one. */
  readonly cause?: unknown;
  /** Whether retrying the same operation may succeed. Defaults to `false`. */
  readonly retriable?: boolean;
  /** Where the problem happened and with what. */
  readonly context?: C;
}

/**
 * Base class of all emstream errors.
 *
 * ## Example
 * ```ts
 * import { EmstreamError } from 'emstream';
 *
 * try {
 *   run();
 * } catch (err) {
 *   if (err instanceof EmstreamError && err.retriable) retryLater();
 *   else throw err;
 * }
 * ```
 */
export class EmstreamError<C extends ErrorContext = ErrorContext> extends Error {
  override readonly name: string = 'EmstreamError';
  /** Whether retrying the same operation may succeed. */
  readonly retriable: boolean;
  /** Where the problem happened and with what. */
  readonly context: C;

  /**
   * @param message - what was wrong, where, and what to do
   * @param options - cause, retriable flag (default `false`) and context
   */
  constructor(message: string, options: EmstreamErrorOptions<C> = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retriable = options.retriable ?? false;
    this.context = options.context ?? ({} as C);
  }
}

/** One problem found in the options of an operator or function. */
export interface OptionIssue {
  /** Dotted path of the offending option (`''` for the options object itself). */
  readonly path: string;
  /** What is wrong with it and what to do. */
  readonly message: string;
  /** For an unknown option: the option the caller most likely meant (`maxIterations` for `max_iter`). */
  readonly suggestion?: string;
}

/** Context of an {@link EmstreamOptionsError}. */
export interface OptionsErrorContext extends ErrorContext {
  /** The operator or function whose options were rejected, e.g. `'windowVectors'`. */
  readonly operator: string;
  readonly issues: readonly OptionIssue[];
}

/**
 * Invalid options, thrown when an operator is created (never while the stream runs). Not retriable:
 * fix the options.
 */
export class EmstreamOptionsError extends EmstreamError<OptionsErrorContext> {
  override readonly name: string = 'EmstreamOptionsError';

  /**
   * @param operator - the operator or function whose options were rejected
   * @param issues - every problem found, each with its option path and the fix
   * @param cause - the validation error behind the issues (e.g. a `ZodError`)
   */
  constructor(operator: string, issues: readonly OptionIssue[], cause?: unknown) {
    const lines = issues.map((issue) => (issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`));
    super(`${operator}: invalid options: ${lines.join('; ')}`, {
      cause,
      retriable: false,
      context: { operator, issues },
    });
  }
}

/** Context of an {@link InvalidInputError}: where in the input the problem is. */
export interface InvalidInputContext extends ErrorContext {
  /** 1-based line of a text input. */
  readonly line?: number;
  /** 1-based column of a text input. */
  readonly column?: number;
  /** Byte offset in a file, or Kafka offset of a message (a string in kafkajs). */
  readonly offset?: number | string;
  /** Offending field: element index inside a vector, or a field name. */
  readonly field?: number | string;
  /** Kafka topic of the message, when the input came from Kafka. */
  readonly topic?: string;
  /** Kafka partition of the message, when the input came from Kafka. */
  readonly partition?: number;
}

/**
 * An input that cannot be used (malformed line, non-numeric element, wrong dimension, …). Not retriable:
 * the same input fails the same way; fix the producer or route the input to a dead-letter topic.
 */
export class InvalidInputError extends EmstreamError<InvalidInputContext> {
  override readonly name: string = 'InvalidInputError';

  /**
   * @param message - what was wrong, where, and what to do
   * @param context - line/column/offset/field (and Kafka topic/partition) of the offending input
   * @param cause - the parse error behind this one, if any
   */
  constructor(message: string, context: InvalidInputContext = {}, cause?: unknown) {
    super(message, { cause, retriable: false, context });
  }
}

/** Context of a {@link WindowReleasedError}. */
export interface WindowReleasedContext extends ErrorContext {
  /** The index of the window whose points were read too late. */
  readonly windowIndex: number;
  /** What read them (`fitMixture`, `windowRecord`, …). */
  readonly reader: string;
}

/**
 * A window's points were read after `windowVectors` took their memory back (`reuseBuffers`: a window lends its
 * points while it and the next window are handled). A mistake in the pipeline, not in the data: read or copy the
 * points sooner (`points.slice()`), or drop `reuseBuffers`. Not retriable.
 */
export class WindowReleasedError extends EmstreamError<WindowReleasedContext> {
  override readonly name: string = 'WindowReleasedError';

  /**
   * @param windowIndex - the window's index
   * @param reader - what read its points
   */
  constructor(windowIndex: number, reader: string) {
    super(
      `window ${windowIndex}'s points were read by ${reader} after windowVectors took their memory back (reuseBuffers lends a window's points only while it and the next window are handled): read or copy them (points.slice()) sooner, or drop reuseBuffers`,
      { retriable: false, context: { windowIndex, reader } },
    );
  }
}
