import { Subject } from 'rxjs';
import type { Observable } from 'rxjs';
import type { InvalidVector } from './types.js';

/** An `onInvalid` callback paired with the Observable of what it receives. */
export interface InvalidChannel<R> {
  /** Pass as the `onInvalid` option of `windowVectors` (already bound; safe to detach). */
  readonly onInvalid: (invalid: InvalidVector<R>) => void;
  /** Every rejected input, in arrival order. Hot: subscribe before the window stream starts. */
  readonly invalid$: Observable<InvalidVector<R>>;
  /** Complete `invalid$` (e.g. from `finalize` on the window stream). Later `onInvalid` calls are ignored. */
  readonly complete: () => void;
}

/**
 * Turn the `onInvalid` callback of `windowVectors` into an Observable, e.g. to send rejected inputs to a
 * dead-letter topic with the same tools as the main stream.
 *
 * 1. Create a `Subject` of rejected inputs.
 * 2. `onInvalid` pushes into it; `invalid$` is its read-only view; `complete` ends it.
 *
 * `invalid$` is hot: inputs rejected while nobody subscribes are not replayed, so subscribe to it before
 * subscribing to the window stream. It does not complete by itself: call `complete` when the window
 * stream ends.
 *
 * ## Example
 * ```ts
 * import { from, finalize } from 'rxjs';
 * import { windowVectors, withInvalid } from 'emstream';
 *
 * const { onInvalid, invalid$, complete } = withInvalid<number[]>();
 * invalid$.subscribe((bad) => console.warn(bad.reason, bad.message));
 * from([[1, 2], [3], [4, 5]])
 *   .pipe(windowVectors({ size: 2, onInvalid }), finalize(complete))
 *   .subscribe((w) => console.log(w.n, w.rejected)); // → 2 1
 * // (warning) wrong-dimension the vector has dimension 1, expected 2: …
 * ```
 *
 * @returns the callback, the Observable it feeds, and a way to complete it
 */
export function withInvalid<R = unknown>(): InvalidChannel<R> {
  const subject = new Subject<InvalidVector<R>>();
  return {
    onInvalid: (invalid) => subject.next(invalid),
    invalid$: subject.asObservable(),
    complete: () => subject.complete(),
  };
}
