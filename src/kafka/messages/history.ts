/**
 * The window-history and drift messages: one small record per window, one per drift alarm, each keyed by pipeline
 * id on a topic with the delete policy and a time retention; and how to read them back.
 *
 * @module
 */
import type { ProducedMessage } from '../client/ports.js';
import { MessageFormatError } from '../errors.js';
import type { DriftRecord, WindowRecord } from '../../monitoring/history.js';
import { HEADERS, readJsonObject } from './headers.js';
import type { WindowOutcome, WindowOutput } from './outputs.js';

/**
 * The window-history message of one window: key = pipeline id, value = the {@link WindowRecord} as JSON
 * (`format: 'emstream.window'`), header {@link HEADERS.pipelineId}.
 *
 * @param record - the window's record (`windowRecord(update, counts, { pipelineId })`)
 * @returns the message
 */
export function windowMessage(record: WindowRecord): ProducedMessage {
  return { key: record.pipelineId, value: JSON.stringify(record), headers: { [HEADERS.pipelineId]: record.pipelineId } };
}

/**
 * The drift message of one alarm: key = pipeline id, value = the {@link DriftRecord} as JSON (`format: 'emstream.drift'`),
 * header {@link HEADERS.pipelineId}.
 *
 * @param record - one of `driftRecords(update, previousModel, { pipelineId })`
 * @returns the message
 */
export function driftMessage(record: DriftRecord): ProducedMessage {
  return { key: record.pipelineId, value: JSON.stringify(record), headers: { [HEADERS.pipelineId]: record.pipelineId } };
}

/** Checks the fields every window-history and drift message has. */
function checkHistoryMessage(parsed: Record<string, unknown>, format: string, what: string): void {
  if (parsed.format !== format) throw new MessageFormatError(`a ${what} message has "format": "${format}", not ${JSON.stringify(parsed.format)}`, 'format');
  if (parsed.version !== 1) throw new MessageFormatError(`unknown ${what} message version ${JSON.stringify(parsed.version)}: upgrade emstream to read it`, 'version');
  if (typeof parsed.pipelineId !== 'string') throw new MessageFormatError(`a ${what} message needs a string "pipelineId"`, 'pipelineId');
  for (const field of ['windowIndex', 'modelVersion'] as const) {
    if (!Number.isInteger(parsed[field])) throw new MessageFormatError(`a ${what} message needs an integer "${field}"`, field);
  }
}

/**
 * Reads a message of the window-history topic.
 *
 * ## Example
 * ```ts
 * import { readWindowMessage } from 'emstream';
 *
 * const w = readWindowMessage(message.value); // a message of the <input>.windows topic
 * console.log(w.windowIndex, w.predictiveLogLikelihood, w.counts.labelled); // 41 -2.83 1000
 * ```
 *
 * @param value - the message value (Buffer or string)
 * @returns the window record
 * @throws MessageFormatError when it is not a window-history message written by emstream
 */
export function readWindowMessage(value: Buffer | string | null): WindowRecord {
  const parsed = readJsonObject(value, 'window-history');
  checkHistoryMessage(parsed, 'emstream.window', 'window-history');
  if (!Array.isArray(parsed.weights)) throw new MessageFormatError('a window-history message needs "weights" (an array)', 'weights');
  if (typeof parsed.counts !== 'object' || parsed.counts === null) throw new MessageFormatError('a window-history message needs "counts"', 'counts');
  if (typeof parsed.pageHinkley !== 'object' || parsed.pageHinkley === null) throw new MessageFormatError('a window-history message needs "pageHinkley"', 'pageHinkley');
  return parsed as unknown as WindowRecord;
}

/**
 * Reads a message of the drift topic.
 *
 * @param value - the message value (Buffer or string)
 * @returns the drift record
 * @throws MessageFormatError when it is not a drift message written by emstream
 */
export function readDriftMessage(value: Buffer | string | null): DriftRecord {
  const parsed = readJsonObject(value, 'drift');
  checkHistoryMessage(parsed, 'emstream.drift', 'drift');
  if (typeof parsed.kind !== 'string') throw new MessageFormatError('a drift message needs a string "kind"', 'kind');
  if (!Array.isArray(parsed.components)) throw new MessageFormatError('a drift message needs "components" (an array)', 'components');
  if (!Array.isArray(parsed.flagged)) parsed.flagged = [];
  return parsed as unknown as DriftRecord;
}

/** Default retention of a created window-history topic: 7 days. */
export const DEFAULT_WINDOWS_RETENTION_MS = 7 * 24 * 3600 * 1000;
/** Default retention of a created drift topic: 30 days. */
export const DEFAULT_DRIFT_RETENTION_MS = 30 * 24 * 3600 * 1000;

/**
 * The window-history output: one {@link windowMessage} per window, on a topic with the delete policy and a time retention.
 *
 * @param topic - the window-history topic
 * @param record - the window's record (the runner's {@link WindowRecorder} adds counts, fit time, lag and offsets)
 * @param options - `retention.ms` of the topic when it is created (default 7 days)
 * @returns the output
 */
export function windowHistoryOutput<R>(topic: string, record: (outcome: WindowOutcome<R>) => WindowRecord, options: { retentionMs?: number } = {}): WindowOutput<R> {
  return {
    topic,
    settings: { retentionMs: options.retentionMs ?? DEFAULT_WINDOWS_RETENTION_MS },
    messages: (outcome, into) => {
      into.push({ topic, message: windowMessage(record(outcome)) });
    },
  };
}

/**
 * The drift output: one {@link driftMessage} per drift alarm of the window (none on most windows), on a topic with
 * the delete policy and a time retention (a compacted topic would keep only the latest alarm).
 *
 * @param topic - the drift topic
 * @param records - the window's drift records
 * @param options - `retention.ms` of the topic when it is created (default 30 days)
 * @returns the output
 */
export function driftOutput<R>(topic: string, records: (outcome: WindowOutcome<R>) => readonly DriftRecord[], options: { retentionMs?: number } = {}): WindowOutput<R> {
  return {
    topic,
    settings: { retentionMs: options.retentionMs ?? DEFAULT_DRIFT_RETENTION_MS },
    messages: (outcome, into) => {
      if (outcome.update.drift.length === 0) return;
      for (const r of records(outcome)) into.push({ topic, message: driftMessage(r) });
    },
  };
}
