/**
 * The state format: the state message on the compacted models topic (the model, the window's figures, the whole
 * streaming state in compact form, and the input offsets it covers), its layout version, and how to read it back.
 * The one module that owns the state message; the state store (`store.ts`) writes and restores it.
 *
 * @module
 */
import { paramsFromJSON, type MixtureJSON } from '../../gmm/model.js';
import type { SufficientStatsJSON } from '../../gmm/stats.js';
import type { StreamingStateJSON } from '../../gmm/streaming.js';
import type { MixtureUpdate } from '../../operators/types.js';
import type { ProducedMessage } from '../client/ports.js';
import { MessageFormatError } from '../errors.js';
import type { EventOffset } from '../events.js';
import { base64ToF64, f64ToBase64 } from '../messages/float64.js';
import { HEADERS, readJsonObject } from '../messages/headers.js';
import { messageWindowIndex, type WindowOutcome, type WindowOutput } from '../messages/outputs.js';
import type { LedgerJSON } from '../shared/ledger.js';
import { isDecimalOffset } from '../../offsets.js';

/** How the statistics of a state are written in a model message: float64 little-endian, base64. */
export interface CompactStatsJSON {
  readonly encoding: 'f64le-base64';
  readonly k: number;
  readonly d: number;
  readonly covarianceType: SufficientStatsJSON['covarianceType'];
  readonly shift: string;
  readonly s0: string;
  readonly s1: string;
  readonly s2: string;
}

/**
 * The streaming state inside a model message, written compactly: the model is not repeated (it is the message's
 * top-level fields) and the sufficient statistics (K·D² numbers for full covariances) are float64 little-endian
 * in base64, about 11 characters a number instead of about 19 (exact: the same doubles come back).
 */
export interface CompactStateJSON extends Omit<StreamingStateJSON, 'model' | 'stats'> {
  readonly stats: CompactStatsJSON | null;
}

/** Current version of the model message layout ({@link ModelMessage.messageVersion}). */
export const MODEL_MESSAGE_VERSION = 2;

/**
 * The value of a model message on the compacted models topic, keyed by pipeline id. The top-level fields are the
 * model (loadable as is by `GaussianMixture.fromJSON`) and what the window said about it, as before; version 2
 * adds the whole streaming state and the input offsets it covers, so a restarted runner resumes exactly.
 */
export interface ModelMessage extends MixtureJSON {
  readonly pipelineId: string;
  /** Fitted windows of this pipeline id before this one (0-based, continues across restarts). */
  readonly windowIndex: number;
  /** The pipeline's model version (+1 per window, continues across restarts); `version` is the model format's version. */
  readonly modelVersion: number;
  readonly n: number;
  readonly logLikelihood: number;
  readonly expectedLogLikelihood: number;
  readonly predictiveLogLikelihood: number | null;
  readonly iterations: number;
  readonly converged: boolean;
  readonly restarted: boolean;
  readonly drift: readonly { readonly kind: string; readonly statistic: number; readonly threshold: number }[];
  /** Matched distance between the previous model and this one (0 on the first window; absent in older messages). */
  readonly modelDistance?: number;
  /** The Page-Hinkley statistic after this window and its threshold λ (absent in older messages). */
  readonly pageHinkley?: { readonly statistic: number; readonly threshold: number };
  /** Milliseconds since the epoch when the update was produced. */
  readonly producedAt: number;
  /** Layout version of this message (2: with `state` and `offsets`; absent in version 1). */
  readonly messageVersion?: number;
  /** The whole streaming state after this window (compact form; read it with {@link readModelMessage}). */
  readonly state?: CompactStateJSON;
  /**
   * Per input partition, the offset after the last record whose point is in the state's statistics: on restart,
   * records below it are already counted (and labelled) and are skipped.
   */
  readonly offsets?: readonly EventOffset[];
  /**
   * The input partition whose task wrote this state, in the exactly-once mode (one state per input partition, keyed
   * `<pipelineId>/<topic>/<partition>`); absent for the state of a whole run (keyed by the pipeline id).
   */
  readonly task?: { readonly topic: string; readonly partition: number };
  /** The shared-model mode's reducer: its ledger and its position on the statistics topic (absent in the other modes). */
  readonly shared?: SharedStateJSON;
}

/**
 * What the reducer of a shared model keeps besides the streaming state, in its state message: with it, a member that
 * takes the reducer role over resumes exactly.
 */
export interface SharedStateJSON {
  /** The statistics topic. */
  readonly statsTopic: string;
  /** The offset after the last statistics message this state has read (committed with it, in one transaction). */
  readonly statsOffset: string;
  /** Per input partition what the statistics count, the last structural version, and what happened to contributions. */
  readonly ledger: LedgerJSON;
  /** Contributions merged into this version, and their points. */
  readonly round: { readonly contributions: number; readonly points: number; readonly stalenessMax: number };
}

/**
 * The compact form of a streaming state, as written in model messages.
 *
 * @param state - the state ({@link StreamingGmm.toJSON}, `MixtureUpdate.state`)
 * @returns the state without its model and with its statistics in base64
 */
export function compactState(state: StreamingStateJSON): CompactStateJSON {
  const { model: _model, stats, ...rest } = state;
  const compact: CompactStatsJSON | null =
    stats === null
      ? null
      : { encoding: 'f64le-base64', k: stats.k, d: stats.d, covarianceType: stats.covarianceType, shift: f64ToBase64(stats.shift), s0: f64ToBase64(stats.s0), s1: f64ToBase64(stats.s1), s2: f64ToBase64(stats.s2) };
  return { ...rest, stats: compact };
}

/**
 * The streaming state back from its compact form.
 *
 * @param compact - `message.state`
 * @param model - the message's model (its top-level fields)
 * @returns the state, ready for `fitMixture({ initialState })`
 * @throws MessageFormatError when the statistics are malformed
 */
export function expandState(compact: CompactStateJSON, model: MixtureJSON | null): StreamingStateJSON {
  const { stats, ...rest } = compact;
  let full: SufficientStatsJSON | null = null;
  if (stats !== null && stats !== undefined) {
    if (stats.encoding !== 'f64le-base64') throw new MessageFormatError(`unknown statistics encoding ${JSON.stringify(stats.encoding)}`, 'state.stats.encoding');
    const read = (field: 'shift' | 's0' | 's1' | 's2'): number[] => Array.from(base64ToF64(stats[field], `state.stats.${field}`));
    full = { k: stats.k, d: stats.d, covarianceType: stats.covarianceType, shift: read('shift'), s0: read('s0'), s1: read('s1'), s2: read('s2') };
  }
  return { ...rest, model: full === null ? null : model, stats: full };
}

/** What {@link modelMessage} needs besides the update. */
export interface ModelMessageOptions {
  /** Fitted windows of the pipeline id before this one (default: the update's `state.windows − 1`, else its `windowIndex`). */
  readonly windowIndex?: number;
  /** The input offsets the state covers (see {@link ModelMessage.offsets}). */
  readonly offsets?: readonly EventOffset[];
  /** The message key (default the pipeline id; a task's key in the exactly-once mode, see `StateStore.taskKey`). */
  readonly key?: string;
  /** The input partition whose task wrote the state (exactly-once mode: one state per input partition). */
  readonly task?: { readonly topic: string; readonly partition: number };
  /** The shared-model reducer's ledger and position (see {@link ModelMessage.shared}). */
  readonly shared?: SharedStateJSON;
}


/**
 * The model-topic message of one update: key = pipeline id (so compaction keeps the latest), value = {@link ModelMessage}
 * (the model, the window's figures, the whole state in compact form and the input offsets it covers).
 *
 * @param update - the window's model update
 * @param pipelineId - the key
 * @param options - the window index and the covered offsets
 * @returns the message
 */
export function modelMessage(update: MixtureUpdate<unknown>, pipelineId: string, options: ModelMessageOptions = {}): ProducedMessage {
  const value: ModelMessage = {
    ...update.model,
    pipelineId,
    windowIndex: options.windowIndex ?? messageWindowIndex(update),
    modelVersion: update.version,
    n: update.window.n,
    logLikelihood: update.logLikelihood,
    expectedLogLikelihood: update.expectedLogLikelihood,
    predictiveLogLikelihood: update.predictiveLogLikelihood,
    iterations: update.iterations,
    converged: update.converged,
    restarted: update.restarted,
    drift: update.drift.map((e) => ({ kind: e.kind, statistic: e.statistic, threshold: e.threshold })),
    modelDistance: update.modelDistance,
    pageHinkley: { statistic: update.pageHinkley.statistic, threshold: update.pageHinkley.threshold },
    producedAt: Date.now(),
    messageVersion: MODEL_MESSAGE_VERSION,
    ...(update.state === undefined ? {} : { state: compactState(update.state) }),
    offsets: options.offsets ?? [],
    ...(options.task === undefined ? {} : { task: { topic: options.task.topic, partition: options.task.partition } }),
    ...(options.shared === undefined ? {} : { shared: options.shared }),
  };
  return { key: options.key ?? pipelineId, value: JSON.stringify(value), headers: { [HEADERS.pipelineId]: pipelineId } };
}

/** A model message read back. */
export interface ReadModelMessage {
  /** The whole message value. */
  readonly message: ModelMessage;
  /** The model (the top-level fields), checked. */
  readonly model: MixtureJSON;
  /** The whole streaming state (version 2 messages), ready for `initialState`; `undefined` for version 1. */
  readonly state: StreamingStateJSON | undefined;
  /** The input offsets the state covers (empty for version 1). */
  readonly offsets: readonly EventOffset[];
  /** The shared-model reducer's ledger and position, when a reducer wrote the state. */
  readonly shared: SharedStateJSON | undefined;
}


/**
 * Reads a model message's value: the model, the whole state (when the message has one) and the offsets it covers.
 *
 * ## Example
 * ```ts
 * import { readModelMessage } from 'emstream';
 *
 * const { model, state, offsets } = readModelMessage(message.value); // a message of the models topic
 * console.log(model.k, state?.modelVersion, offsets); // 3 147 [{ topic: 'points', partition: 0, offset: '73500' }]
 * ```
 *
 * @param value - the message value (Buffer or string)
 * @returns the model, the state and the offsets
 * @throws MessageFormatError when it is not a model message, or its model or state is malformed
 */
export function readModelMessage(value: Buffer | string | null): ReadModelMessage {
  const message = readJsonObject(value, 'model') as unknown as ModelMessage;
  try {
    paramsFromJSON(message);
  } catch (err) {
    throw new MessageFormatError(`the model message holds no valid model: ${err instanceof Error ? err.message : String(err)}`, 'model', err);
  }
  if (!Number.isInteger(message.modelVersion)) throw new MessageFormatError('a model message needs an integer "modelVersion"', 'modelVersion');
  const { format, version, covarianceType, k, d, weights, means, covariances } = message;
  const model: MixtureJSON = { format, version, covarianceType, k, d, weights, means, covariances };
  let state: StreamingStateJSON | undefined;
  if (message.state !== undefined) {
    if (typeof message.state !== 'object' || message.state === null) throw new MessageFormatError('"state" must be an object', 'state');
    state = expandState(message.state, model);
  }
  const offsets = Array.isArray(message.offsets)
    ? message.offsets.filter((o): o is EventOffset => typeof o === 'object' && o !== null && typeof o.topic === 'string' && Number.isInteger(o.partition) && typeof o.offset === 'string' && /^\d+$/.test(o.offset))
    : [];
  return { message, model, state, offsets, shared: message.shared === undefined ? undefined : readSharedState(message.shared) };
}

/** The offsets of a list of `{ topic, partition, offset }`, checked. */
function readPositions(value: unknown, field: string): EventOffset[] {
  if (!Array.isArray(value)) throw new MessageFormatError(`${field} must be a list of { topic, partition, offset }`, field);
  return value.map((o: unknown, i) => {
    const p = o as Partial<EventOffset> | null;
    if (typeof p !== 'object' || p === null || typeof p.topic !== 'string' || !Number.isInteger(p.partition) || typeof p.offset !== 'string' || !isDecimalOffset(p.offset)) {
      throw new MessageFormatError(`${field}[${i}] must be { topic, partition, offset: a decimal string }`, field);
    }
    return { topic: p.topic, partition: p.partition!, offset: p.offset };
  });
}

/**
 * The reducer's part of a state message, checked.
 *
 * @throws MessageFormatError naming the field that is wrong
 */
function readSharedState(value: unknown): SharedStateJSON {
  const s = value as Partial<SharedStateJSON> | null;
  if (typeof s !== 'object' || s === null || typeof s.statsTopic !== 'string' || typeof s.statsOffset !== 'string' || !isDecimalOffset(s.statsOffset)) {
    throw new MessageFormatError('"shared" must hold the statistics topic and the offset read ("statsTopic", "statsOffset")', 'shared');
  }
  const ledger = s.ledger as Partial<LedgerJSON> | undefined;
  if (typeof ledger !== 'object' || ledger === null || !Number.isInteger(ledger.structuralVersion) || typeof ledger.counts !== 'object' || ledger.counts === null || typeof ledger.points !== 'number') {
    throw new MessageFormatError('"shared.ledger" must hold "covered", "structuralVersion", "counts" and "points"', 'shared.ledger');
  }
  const counts = ledger.counts as unknown as Record<string, unknown>;
  for (const [name, n] of Object.entries(counts)) if (!Number.isInteger(n) || (n as number) < 0) throw new MessageFormatError(`"shared.ledger.counts.${name}" must be a count`, 'shared.ledger.counts');
  const round = s.round ?? { contributions: 0, points: 0, stalenessMax: 0 };
  return {
    statsTopic: s.statsTopic,
    statsOffset: s.statsOffset,
    ledger: { covered: readPositions(ledger.covered, 'shared.ledger.covered'), structuralVersion: ledger.structuralVersion!, counts: ledger.counts as LedgerJSON['counts'], points: ledger.points },
    round: { contributions: Number(round.contributions) || 0, points: Number(round.points) || 0, stalenessMax: Number(round.stalenessMax) || 0 },
  };
}

/**
 * The state output: one model message per window (the model, the whole state, the covered offsets) on a compacted topic.
 *
 * @param topic - the models topic
 * @param options - `max.message.bytes` of the topic when it is created; the key (default the pipeline id) and task
 * @returns the output
 */
export function stateOutput<R>(topic: string, options: StateOutputOptions<R> = {}): WindowOutput<R> {
  const { key, task, describe } = options;
  return {
    topic,
    state: true,
    settings: { compacted: true, maxMessageBytes: options.maxMessageBytes },
    messages: (outcome, into) => {
      const { update, pipelineId, windowIndex, offsets } = outcome;
      const own = describe?.(outcome);
      into.push({ topic, message: modelMessage(update as MixtureUpdate<unknown>, pipelineId, { windowIndex, offsets: own?.offsets ?? offsets, key, task, shared: own?.shared }) });
    },
  };
}

/** Options of {@link stateOutput}. */
export interface StateOutputOptions<R> {
  /** `max.message.bytes` of the topic when it is created. */
  readonly maxMessageBytes?: number;
  /** The message key (default the pipeline id). */
  readonly key?: string;
  /** The input partition whose task writes the state (exactly-once mode). */
  readonly task?: { readonly topic: string; readonly partition: number };
  /** What the state covers, when the writer knows better than the window's records (the shared model's reducer). */
  readonly describe?: (outcome: WindowOutcome<R>) => { readonly offsets?: readonly EventOffset[]; readonly shared?: SharedStateJSON };
}
