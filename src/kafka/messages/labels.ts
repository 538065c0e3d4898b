/**
 * The label messages: one per input point on the labels topic, and how to read one back.
 *
 * @module
 */
import type { ProducedMessage } from '../client/ports.js';
import { MessageFormatError } from '../errors.js';
import type { PointLabel } from '../../operators/types.js';
import { recordCoordinates } from '../../operators/vectorInput.js';
import { readJsonObject, sourceHeaders } from './headers.js';
import type { WindowOutput } from './outputs.js';

/** A number as JSON text (`null` for NaN/±Infinity, as JSON.stringify does). */
function num(x: number): string {
  return Number.isFinite(x) ? String(x) : 'null';
}

/** The value of a label message. */
export interface LabelValue {
  readonly label: number;
  readonly probability: number;
  readonly logDensity: number;
  readonly windowIndex: number;
  readonly modelVersion: number;
  /** The input vector, when the run writes it (`includeVector`). */
  readonly vector?: number[];
}

/**
 * The message of one label: value `{"label","probability","logDensity","windowIndex","modelVersion"[,"vector"]}`,
 * key = the input record's key, header {@link HEADERS.source} = the input's `<topic>/<partition>/<offset>`.
 *
 * @param point - the labelled point
 * @param includeVector - also write the input vector
 * @returns the message
 */
export function labelMessage(point: PointLabel<unknown>, includeVector = false): ProducedMessage {
  return labelOf(point.record, point.label, point.probability, point.logDensity, point.windowIndex, point.modelVersion, includeVector);
}

/** A label message from its parts (no intermediate object per point). */
function labelOf(record: unknown, label: number, probability: number, logDensity: number, windowIndex: number, modelVersion: number, includeVector: boolean): ProducedMessage {
  const { topic, partition, offset } = recordCoordinates(record);
  let value = `{"label":${label},"probability":${num(probability)},"logDensity":${num(logDensity)},"windowIndex":${windowIndex},"modelVersion":${modelVersion}`;
  if (includeVector) {
    const isVector = Array.isArray(record) || ArrayBuffer.isView(record);
    const vector = isVector ? (record as ArrayLike<number>) : (record as { vector?: ArrayLike<number> } | null)?.vector;
    if (vector !== undefined) value += `,"vector":${JSON.stringify(Array.from(vector))}`;
  }
  value += '}';
  const key = typeof record === 'object' && record !== null ? (record as { key?: unknown }).key : undefined;
  return { key: typeof key === 'string' || key instanceof Uint8Array ? (key as string | Buffer) : null, value, headers: sourceHeaders(topic, partition, offset) };
}

/**
 * Reads a label message's value.
 *
 * @param value - the message value (Buffer or string)
 * @returns the label
 * @throws MessageFormatError when it is not a label written by emstream
 */
export function readLabelMessage(value: Buffer | string | null): LabelValue {
  const parsed = readJsonObject(value, 'label');
  for (const field of ['label', 'windowIndex', 'modelVersion'] as const) {
    if (!Number.isInteger(parsed[field])) throw new MessageFormatError(`a label message needs an integer "${field}"`, field);
  }
  return parsed as unknown as LabelValue;
}

/**
 * The labels output: one label message per point.
 *
 * @param topic - the labels topic
 * @param options - whether labels carry the input vector
 * @returns the output
 */
export function labelsOutput<R>(topic: string, options: { includeVector?: boolean } = {}): WindowOutput<R> {
  const includeVector = options.includeVector ?? false;
  return {
    topic,
    messages: ({ update, windowIndex }, into) => {
      const { records } = update.window;
      const { labels, probabilities, logDensities, version } = update;
      for (let i = 0; i < labels.length; i++) {
        into.push({ topic, message: labelOf(records[i], labels[i], probabilities[i], logDensities[i], windowIndex, version, includeVector) });
      }
    },
  };
}
