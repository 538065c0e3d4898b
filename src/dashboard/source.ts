/**
 * Where a dashboard's data comes from: window-history records, drift records and model states, as
 * one stream of messages. The in-process source builds them from a stream of `MixtureUpdate`s; a
 * Kafka source reads them from a pipeline's window-history, drift and models topics.
 *
 * @module
 */
import { concatMap, defer, finalize, from, type Observable } from 'rxjs';
import type { MixtureJSON } from '../gmm/model.js';
import type { EventSource } from '../instrumentation.js';
import { driftRecords, windowRecord, type DriftRecord, type WindowRecord, type WindowRecordOptions } from '../monitoring/history.js';
import type { MixtureUpdate } from '../operators/types.js';

/** One message of a {@link DashboardSource}. */
export type DashboardMessage =
  | { readonly type: 'window'; readonly record: WindowRecord }
  | { readonly type: 'drift'; readonly record: DriftRecord }
  | { readonly type: 'model'; readonly windowIndex: number; readonly version: number; readonly model: MixtureJSON };

/** What a dashboard shows: a title, a sentence about it, and its messages. */
export interface DashboardSource {
  readonly title: string;
  /** What is being watched (the scenario, the topics). */
  readonly description?: string;
  /**
   * The messages, in the order they happened: for each window its model, its window record, then its
   * drift records. Subscribed once by the dashboard server while it runs; an error or completion is
   * shown on the page (what was received stays).
   */
  readonly messages: Observable<DashboardMessage>;
  /** Releases what the source holds (a Kafka consumer, say); the dashboard awaits it when it closes. */
  close?(): Promise<void>;
}

/** Options of {@link mixtureUpdateSource}. */
export interface MixtureUpdateSourceOptions {
  /** Default `'emstream dashboard'`. */
  readonly title?: string;
  readonly description?: string;
  /** Id in the records (default `'in-process'`). */
  readonly pipelineId?: string;
  /** The pipeline's instrumentation: fit times are read from its `em.window.fitted` events. */
  readonly instrumentation?: EventSource;
  /** Sample bounds of the window records (see {@link windowRecord}). */
  readonly sample?: WindowRecordOptions['sample'];
}

/**
 * A dashboard source from an in-process stream of model updates (what `fitMixture` emits).
 *
 * For each update:
 * 1. a `model` message with the updated model;
 * 2. a `window` message: {@link windowRecord} with counts in = valid + rejected points, labelled =
 *    valid points, dead-lettered = rejected points, and the fit time of the matching
 *    `em.window.fitted` event when an instrumentation is given;
 * 3. one `drift` message per alarm: {@link driftRecords} against the previous update's model.
 *
 * The updates are subscribed when the messages are (once per subscription).
 *
 * ## Example
 * ```ts
 * import { from, lastValueFrom, toArray } from 'rxjs';
 * import { windowVectors, fitMixture, mixtureUpdateSource } from 'emstream';
 *
 * const points = Array.from({ length: 300 }, (_, i) => [i % 2 === 0 ? 0 : 10, Math.sin(i)]);
 * const source = mixtureUpdateSource(from(points).pipe(windowVectors({ size: 100 }), fitMixture({ k: 2 })), { title: 'two blobs' });
 * const messages = await lastValueFrom(source.messages.pipe(toArray()));
 * console.log(messages.map((m) => m.type).join(' ')); // → model window model window model window
 * ```
 *
 * @param updates - the model updates
 * @param options - title, description, pipeline id, instrumentation, sample bounds
 * @returns the source
 */
export function mixtureUpdateSource<R>(updates: Observable<MixtureUpdate<R>>, options: MixtureUpdateSourceOptions = {}): DashboardSource {
  const pipelineId = options.pipelineId ?? 'in-process';
  const messages = defer(() => {
    const durations = new Map<number, number>();
    const stop = options.instrumentation?.on('em.window.fitted', (e) => {
      durations.set(e.windowIndex, e.durationMs);
    });
    let previous: MixtureJSON | null = null;
    return updates.pipe(
      concatMap((u) => {
        const now = Date.now();
        const ms = durations.get(u.windowIndex);
        durations.delete(u.windowIndex);
        const { n, rejected } = u.window;
        const out: DashboardMessage[] = [
          { type: 'model', windowIndex: u.windowIndex, version: u.version, model: u.model },
          {
            type: 'window',
            record: windowRecord(
              u,
              { in: n + rejected, labelled: n, deadLettered: rejected },
              { pipelineId, fittedAt: now, fitSeconds: ms === undefined ? null : ms / 1000, ...(options.sample === undefined ? {} : { sample: options.sample }) },
            ),
          },
          ...driftRecords(u, previous, { pipelineId, detectedAt: now }).map((record) => ({ type: 'drift' as const, record })),
        ];
        previous = u.model;
        return from(out);
      }),
      finalize(() => stop?.()),
    );
  });
  return { title: options.title ?? 'emstream dashboard', ...(options.description === undefined ? {} : { description: options.description }), messages };
}
