/**
 * The one way emstream's operators subscribe to their source, in the manner of RxJS's internal `operate` and
 * `createOperatorSubscriber` (built from the public API): whatever a handler throws while handling a value,
 * the completion or a timer goes downstream as the stream's error, never to RxJS's unhandled-error path.
 *
 * @module
 */
import { Observable, type Observer, type OperatorFunction, type Subscriber, type TeardownLogic } from 'rxjs';

/**
 * An operator from its body: `init` subscribes to the source (with {@link operatorSubscriber}) and returns the
 * teardown; an exception thrown by `init` itself errors the output. Internal: every operator of
 * src/operators is written with it, e.g.
 * `operate((source, subscriber) => source.subscribe(operatorSubscriber(subscriber, { next: (x) => subscriber.next(2 * x) })))`.
 */
export function operate<T, R>(init: (source: Observable<T>, subscriber: Subscriber<R>) => TeardownLogic): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((subscriber) => {
      try {
        return init(source, subscriber);
      } catch (err) {
        subscriber.error(err);
        return undefined;
      }
    });
}

/** The handlers of {@link operatorSubscriber}; the ones left out pass through (value, error, completion). */
export interface OperatorHandlers<T> {
  readonly next?: (value: T) => void;
  readonly error?: (err: unknown) => void;
  readonly complete?: () => void;
}

/**
 * An observer of the source for an operator's `destination`:
 *
 * 1. `next` is ignored once the destination is closed (a synchronous source keeps pushing after an error or an
 *    unsubscribe);
 * 2. whatever `next`, `complete` or `error` throws is sent to `destination.error` (which closes it and runs the
 *    operator's teardown), so an operator never throws into the source.
 */
export function operatorSubscriber<T>(destination: Subscriber<unknown>, handlers: OperatorHandlers<T>): Observer<T> {
  return {
    next(value) {
      if (destination.closed) return;
      try {
        if (handlers.next) handlers.next(value);
        else destination.next(value);
      } catch (err) {
        destination.error(err);
      }
    },
    error(err) {
      try {
        if (handlers.error) handlers.error(err);
        else destination.error(err);
      } catch (thrown) {
        destination.error(thrown);
      }
    },
    complete() {
      try {
        if (handlers.complete) handlers.complete();
        else destination.complete();
      } catch (err) {
        destination.error(err);
      }
    },
  };
}

/** Runs `work` (e.g. a timer's callback); what it throws goes to `destination.error`. */
export function guarded(destination: Subscriber<unknown>, work: () => void): void {
  try {
    work();
  } catch (err) {
    destination.error(err);
  }
}
