/**
 * The messages of a shared model's statistics topic: a member's contribution (one window's statistics from one
 * input partition under a global model version) and a seed (the points of a window that found no global model yet),
 * and how to read them back.
 *
 * @module
 */
import { SufficientStats } from '../../gmm/stats.js';
import { COVARIANCE_TYPES, type CovarianceType } from '../../gmm/types.js';
import { covarianceSize } from '../../gmm/types.js';
import { isDecimalOffset } from '../../offsets.js';
import type { WindowContribution } from '../../operators/types.js';
import type { ProducedMessage } from '../client/ports.js';
import { KafkaEdgeError, MessageFormatError } from '../errors.js';
import { base64ToF64, f64ToBase64 } from './float64.js';
import { HEADERS, readJsonObject } from './headers.js';
import type { WindowOutput } from './outputs.js';
import { BATCH_OVERHEAD_BYTES, messageBytes } from './sizes.js';

/** The `format` field of every statistics-topic message. */
export const STATS_MESSAGE_FORMAT = 'emstream.shared-statistics';
/** Current layout version of the statistics-topic messages. */
export const STATS_MESSAGE_VERSION = 1;

/** A contribution read back: {@link WindowContribution} with the pipeline id it was written for. */
export interface ContributionMessage extends WindowContribution {
  readonly kind: 'contribution';
  readonly pipelineId: string;
  /** Milliseconds since the epoch when the member wrote it. */
  readonly producedAt: number;
}

/** A seed read back: the points of a window of a member that found no global model. */
export interface SeedMessage {
  readonly kind: 'seed';
  readonly pipelineId: string;
  readonly n: number;
  readonly d: number;
  /** n×d row-major. */
  readonly points: Float64Array;
  readonly producedAt: number;
}

/** A message of the statistics topic. */
export type StatsMessage = ContributionMessage | SeedMessage;

/** The key of a contribution: `<pipelineId>/<topic>/<partition>` (as a task's state key). */
export function contributionKey(pipelineId: string, topic: string, partition: number): string {
  return `${pipelineId}/${topic}/${partition}`;
}

/**
 * The message of one contribution: key `<pipelineId>/<topic>/<partition>`, value a JSON object with the offsets, the
 * count, the model version, the statistics (float64 little-endian in base64, about their origin `shift`), the
 * log-likelihood sums and the sample.
 *
 * @param c - the contribution
 * @param pipelineId - the pipeline id
 * @returns the message
 */
export function contributionMessage(c: WindowContribution, pipelineId: string): ProducedMessage {
  const { stats } = c;
  const value = {
    format: STATS_MESSAGE_FORMAT,
    messageVersion: STATS_MESSAGE_VERSION,
    kind: 'contribution',
    pipelineId,
    topic: c.topic,
    partition: c.partition,
    firstOffset: c.firstOffset,
    lastOffset: c.lastOffset,
    count: c.count,
    windowShare: c.windowShare,
    modelVersion: c.modelVersion,
    stats: { k: stats.k, d: stats.d, covarianceType: stats.covarianceType, shift: f64ToBase64(stats.shift), s0: f64ToBase64(stats.s0), s1: f64ToBase64(stats.s1), s2: f64ToBase64(stats.s2) },
    logLikelihood: c.logLikelihood,
    logLikelihoodSquares: c.logLikelihoodSquares,
    expectedLogLikelihood: c.expectedLogLikelihood,
    sample: { n: c.sampleSize, values: f64ToBase64(c.sample.subarray(0, c.sampleSize * stats.d)) },
    producedAt: Date.now(),
  };
  return { key: contributionKey(pipelineId, c.topic, c.partition), value: JSON.stringify(value), headers: { [HEADERS.pipelineId]: pipelineId } };
}

/**
 * The message of a seed: key the pipeline id, value the window's points (float64 little-endian in base64).
 *
 * @param pipelineId - the pipeline id
 * @param points - n×d row-major
 */
export function seedMessage(pipelineId: string, points: { readonly n: number; readonly d: number; readonly points: Float64Array }): ProducedMessage {
  const value = { format: STATS_MESSAGE_FORMAT, messageVersion: STATS_MESSAGE_VERSION, kind: 'seed', pipelineId, n: points.n, d: points.d, points: f64ToBase64(points.points.subarray(0, points.n * points.d)), producedAt: Date.now() };
  return { key: pipelineId, value: JSON.stringify(value), headers: { [HEADERS.pipelineId]: pipelineId } };
}

const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/**
 * Reads a message of the statistics topic.
 *
 * ## Example
 * ```ts
 * import { readStatsMessage } from 'emstream';
 *
 * const m = readStatsMessage(message.value); // a message of <input>.stats
 * if (m.kind === 'contribution') console.log(m.topic, m.partition, m.firstOffset, m.lastOffset, m.modelVersion, m.count);
 * ```
 *
 * @param value - the message value
 * @returns the contribution or seed, checked (shapes, counts, finite numbers)
 * @throws MessageFormatError naming the field that is wrong
 */
export function readStatsMessage(value: Buffer | string | null): StatsMessage {
  const m = readJsonObject(value, 'statistics');
  if (m.format !== STATS_MESSAGE_FORMAT) throw new MessageFormatError(`not a statistics message of a shared model (format ${JSON.stringify(m.format)}, expected ${STATS_MESSAGE_FORMAT})`, 'format');
  if (m.messageVersion !== STATS_MESSAGE_VERSION) throw new MessageFormatError(`statistics message version ${JSON.stringify(m.messageVersion)} is not ${STATS_MESSAGE_VERSION}: run every member with the same emstream version`, 'messageVersion');
  if (typeof m.pipelineId !== 'string') throw new MessageFormatError('a statistics message needs a "pipelineId"', 'pipelineId');
  const producedAt = typeof m.producedAt === 'number' ? m.producedAt : 0;
  if (m.kind === 'seed') {
    if (!isCount(m.n) || m.n === 0 || !isCount(m.d) || m.d === 0) throw new MessageFormatError('a seed needs whole numbers "n" and "d" above 0', 'n');
    return { kind: 'seed', pipelineId: m.pipelineId, n: m.n, d: m.d, points: base64ToF64(m.points, 'points', m.n * m.d), producedAt };
  }
  if (m.kind !== 'contribution') throw new MessageFormatError(`unknown statistics message kind ${JSON.stringify(m.kind)}`, 'kind');
  if (typeof m.topic !== 'string' || !Number.isInteger(m.partition)) throw new MessageFormatError('a contribution needs its input "topic" and "partition"', 'topic');
  for (const field of ['firstOffset', 'lastOffset'] as const) {
    if (typeof m[field] !== 'string' || !isDecimalOffset(m[field] as string)) throw new MessageFormatError(`a contribution needs "${field}" as a decimal string`, field);
  }
  if (!isCount(m.count) || m.count === 0) throw new MessageFormatError('a contribution needs a "count" above 0', 'count');
  if (!isCount(m.modelVersion)) throw new MessageFormatError('a contribution needs the integer "modelVersion" it was computed under', 'modelVersion');
  for (const field of ['windowShare', 'logLikelihood', 'logLikelihoodSquares', 'expectedLogLikelihood'] as const) {
    if (typeof m[field] !== 'number' || !Number.isFinite(m[field])) throw new MessageFormatError(`a contribution needs a finite "${field}"`, field);
  }
  const s = m.stats as Record<string, unknown> | undefined;
  if (typeof s !== 'object' || s === null) throw new MessageFormatError('a contribution needs its "stats"', 'stats');
  if (!isCount(s.k) || s.k === 0 || !isCount(s.d) || s.d === 0 || !COVARIANCE_TYPES.includes(s.covarianceType as CovarianceType)) {
    throw new MessageFormatError('"stats" needs k and d above 0 and a covariance type', 'stats');
  }
  const k = s.k;
  const d = s.d;
  const type = s.covarianceType as CovarianceType;
  const stats = new SufficientStats(k, d, type, base64ToF64(s.shift, 'stats.shift', d));
  stats.s0.set(base64ToF64(s.s0, 'stats.s0', k));
  stats.s1.set(base64ToF64(s.s1, 'stats.s1', k * d));
  stats.s2.set(base64ToF64(s.s2, 'stats.s2', stats.s2.length));
  const sample = m.sample as Record<string, unknown> | undefined;
  if (typeof sample !== 'object' || sample === null || !isCount(sample.n)) throw new MessageFormatError('a contribution needs its "sample" { n, values }', 'sample');
  const points = base64ToF64(sample.values, 'sample.values', sample.n * d);
  return {
    kind: 'contribution',
    pipelineId: m.pipelineId,
    topic: m.topic,
    partition: m.partition as number,
    firstOffset: m.firstOffset as string,
    lastOffset: m.lastOffset as string,
    count: m.count,
    windowShare: m.windowShare as number,
    modelVersion: m.modelVersion,
    stats,
    logLikelihood: m.logLikelihood as number,
    logLikelihoodSquares: m.logLikelihoodSquares as number,
    expectedLogLikelihood: m.expectedLogLikelihood as number,
    sample: points,
    sampleSize: sample.n,
    producedAt,
  };
}

/**
 * An upper bound of a contribution message's bytes: the statistics and the sample in base64 (4/3 of 8 bytes a
 * number), plus the fixed fields.
 *
 * @param k - components
 * @param d - dimension
 * @param type - covariance type
 * @param samplePoints - points in the sample
 */
export function contributionBytesBound(k: number, d: number, type: CovarianceType, samplePoints: number): number {
  const numbers = d + k + k * d + covarianceSize(type, k, d) + samplePoints * d;
  return Math.ceil((numbers * 8 * 4) / 3) + 1024;
}

/**
 * The contributions output of a member: one message per contribution of a window, on the statistics topic, produced
 * and acknowledged (or committed in the window's transaction) with its labels. A message over the topic's limit
 * stops the run with the fix.
 *
 * @param topic - the statistics topic
 * @param options - its `max.message.bytes`
 * @returns the output
 */
export function contributionsOutput<R>(topic: string, options: { readonly maxMessageBytes: number }): WindowOutput<R> {
  return {
    topic,
    messages: ({ update, pipelineId }, into) => {
      for (const c of update.contributions ?? []) {
        const message = contributionMessage(c, pipelineId);
        const bytes = messageBytes(message) + BATCH_OVERHEAD_BYTES;
        if (bytes > options.maxMessageBytes) {
          throw new KafkaEdgeError(
            `a contribution of pipeline ${JSON.stringify(pipelineId)} (K=${c.stats.k}, D=${c.stats.d}, ${c.stats.covarianceType}, ${c.sampleSize} sampled points) is ${bytes} bytes, more than max.message.bytes ${options.maxMessageBytes} of the statistics topic ${JSON.stringify(topic)}: ` +
              `raise it (kafka-configs.sh --alter --entity-type topics --entity-name ${topic} --add-config max.message.bytes=${Math.ceil(bytes * 1.5)}), sample fewer points (sharedModel.samplePoints), or use a cheaper covariance type (diag)`,
            { topic, operation: 'produce' },
            { retriable: false },
          );
        }
        into.push({ topic, message });
      }
    },
  };
}
