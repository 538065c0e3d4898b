/**
 * The records the source emits: a consumed message with its decoded vector, and a message that could not be decoded.
 *
 * @module
 */
import type { VectorRecord } from '../../operators/types.js';
import { GATED } from '../../operators/vectorInput.js';
import type { HeaderValue } from '../client/ports.js';
import type { DecodeResult } from './formats.js';

/**
 * A consumed message with its decoded vector. Extra fields ride along through `windowVectors` to the
 * labels, so every label can be traced back to its input.
 */
export interface KafkaRecord extends VectorRecord {
  readonly vector: number[] | Float64Array;
  readonly key: string | null;
  readonly topic: string;
  readonly partition: number;
  /** Offset as a decimal string (as Kafka clients give it). */
  readonly offset: string;
  /** Broker or producer timestamp, milliseconds since the epoch, as a decimal string. */
  readonly timestamp: string;
  readonly headers: Readonly<Record<string, HeaderValue>>;
  /** The original message value (kept for the dead-letter topic); absent when `keepValue` is false. */
  readonly value?: Buffer | null;
  /** Set when the vector passed the input gate at the decoder (`createDecoder`): `windowVectors` does not scan it again. */
  readonly [GATED]?: true;
}

/** A message that could not be decoded. */
export interface UndecodableMessage {
  readonly topic: string;
  readonly partition: number;
  readonly offset: string;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly timestamp: string;
  readonly headers: Readonly<Record<string, HeaderValue>>;
  readonly failure: Extract<DecodeResult, { ok: false }>;
}
