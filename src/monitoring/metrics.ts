/**
 * Prometheus metrics of a pipeline, fed only by its instrumentation events.
 *
 * @module
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { z } from 'zod';
import type { EmstreamEventName, EventSource } from '../instrumentation.js';
import { parseOptions } from '../options.js';
import { MonitoringError } from './errors.js';
import type { Readiness } from './readiness.js';

/** One metric of {@link METRICS}. */
export interface MetricDefinition {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly help: string;
  readonly labels: readonly string[];
  /** The events that move it (empty: read when scraped). */
  readonly events: readonly EmstreamEventName[];
}

const def = (name: string, type: MetricDefinition['type'], help: string, events: EmstreamEventName[], labels: string[] = []): MetricDefinition => ({ name, type, help, labels, events });

/**
 * Every metric {@link registerMetrics} creates (besides Node's default process metrics), with its
 * meaning and the events that feed it. Counters end in `_total`; durations are in seconds; the
 * log-likelihoods are mean nats per point.
 */
export const METRICS: readonly MetricDefinition[] = [
  // counters
  def('emstream_vectors_in_total', 'counter', 'Valid vectors taken in by the model (each counted once, in the window that fitted it).', ['em.window.fitted']),
  def('emstream_inputs_rejected_total', 'counter', 'Inputs rejected before fitting (not a vector, wrong dimension, non-finite, …), by reason.', ['em.input.rejected'], ['reason']),
  def('emstream_labels_out_total', 'counter', 'Labels acknowledged by the broker on the labels topic.', ['kafka.window.acknowledged']),
  def('emstream_dead_letters_total', 'counter', 'Records sent to the dead-letter topic, by reason.', ['kafka.dead-letter'], ['reason']),
  def('emstream_windows_total', 'counter', 'Windows fitted.', ['em.window.fitted']),
  def('emstream_windows_not_converged_total', 'counter', 'Windows whose EM stopped at the iteration limit before converging.', ['em.window.fitted']),
  def('emstream_windows_deferred_total', 'counter', 'First windows with too few distinct points, carried into the next window.', ['em.window.deferred']),
  def('emstream_windows_failed_total', 'counter', 'Windows whose fit failed numerically (their records went to the dead-letter path), by reason.', ['em.window.failed'], ['reason']),
  def('emstream_restarts_total', 'counter', 'Windows on which cold restarts competed with the warm start.', ['em.window.fitted']),
  def('emstream_drift_events_total', 'counter', 'Drift alarms (the onset of a change, one per change), by kind (likelihood: Page-Hinkley on the predictive log-likelihood; model-distance: successive models too far apart; component: components moved or changed shape; weights: the mixing weights changed).', ['em.drift.detected'], ['kind']),
  def('emstream_drift_ended_total', 'counter', 'Drifting states that ended: the model was stable again after a change.', ['em.drift.ended']),
  def('emstream_components_reseeded_total', 'counter', 'Components re-seeded where the likelihood gains most, by reason (starved: its weight fell too low; redundant: others explain its points). Each is a hypothesis the next window keeps or reverts.', ['em.component.reseeded'], ['reason']),
  def('emstream_components_reverted_total', 'counter', 'Re-seeds reverted: the model with them did not predict the next window better, so the model without them continued.', ['em.component.reverted']),
  def('emstream_kafka_messages_consumed_total', 'counter', 'Messages fetched from the input topic.', ['kafka.fetch']),
  def('emstream_kafka_produced_messages_total', 'counter', 'Messages acknowledged by the broker (labels, models, dead letters, …).', ['kafka.ack']),
  def('emstream_kafka_produced_bytes_total', 'counter', 'Bytes of the messages acknowledged by the broker.', ['kafka.ack']),
  def('emstream_kafka_commits_total', 'counter', 'Offset commits of the consumer group.', ['kafka.commit']),
  def('emstream_kafka_rebalances_total', 'counter', 'Consumer-group rebalances seen by this member.', ['kafka.rebalance']),
  def('emstream_kafka_retries_total', 'counter', 'Retries after the broker was unavailable, by operation.', ['kafka.retry'], ['operation']),
  def('emstream_kafka_consumer_crashes_total', 'counter', 'Consumer crashes, by whether the client restarts.', ['kafka.consumer.crash'], ['restart']),
  def('emstream_kafka_backpressure_waits_total', 'counter', 'Times the source paused for in-flight records to be acknowledged.', ['kafka.backpressure.wait']),
  def('emstream_kafka_backpressure_wait_seconds_total', 'counter', 'Time spent waiting on backpressure.', ['kafka.backpressure.wait']),
  def('emstream_state_restores_total', 'counter', 'Pipeline starts, by whether a saved state was restored or the model started fresh.', ['kafka.state.restored', 'kafka.state.fresh'], ['outcome']),
  // gauges
  def('emstream_log_likelihood', 'gauge', 'Mean log-likelihood per point of the last window under the updated model (nats).', ['em.window.fitted']),
  def('emstream_predictive_log_likelihood', 'gauge', 'Mean log-likelihood per point of the last window under the previous model (nats): falls when the data stops fitting.', ['em.window.fitted']),
  def('emstream_expected_log_likelihood', 'gauge', 'Mean expected complete-data log-likelihood per point of the last window (nats).', ['em.window.fitted']),
  def('emstream_model_distance', 'gauge', 'Matched distance between the last two models.', ['em.window.fitted']),
  def('emstream_page_hinkley_statistic', 'gauge', 'Page-Hinkley statistic of the drift detector after the last window.', ['em.window.fitted']),
  def('emstream_page_hinkley_threshold', 'gauge', 'Page-Hinkley alarm threshold λ.', ['em.window.fitted']),
  def('emstream_drift_statistic', 'gauge', 'Every statistic that can raise a drift alarm, after the last window, by kind (likelihood: Page-Hinkley in standard errors; model-distance; component: −log10 of the adjusted p-value of the component tests; weights: −log10 p of the G-test).', ['em.window.fitted'], ['kind']),
  def('emstream_drift_threshold', 'gauge', 'The alarm threshold of each drift statistic, by kind.', ['em.window.fitted'], ['kind']),
  def('emstream_drifting', 'gauge', 'Whether the model is drifting (1): a change began (an alarm) and the model has not been stable since.', ['em.window.fitted']),
  def('emstream_drift_severity', 'gauge', 'The largest drift statistic of the last window relative to its threshold (1 or more: above a threshold).', ['em.window.fitted']),
  def('emstream_drift_progress', 'gauge', 'The matched model distance travelled since the onset of the current drift (0 when not drifting).', ['em.window.fitted']),
  def('emstream_component_weight', 'gauge', 'Weight of each mixture component after the last window, by component (its label in the label messages).', ['em.window.fitted'], ['component']),
  def('emstream_components', 'gauge', 'Number of mixture components K.', ['em.window.fitted']),
  def('emstream_model_version', 'gauge', 'Version of the current model (+1 per update).', ['em.window.fitted']),
  def('emstream_window_index', 'gauge', 'Index of the last fitted window.', ['em.window.fitted']),
  def('emstream_last_window_timestamp_seconds', 'gauge', 'When the last window was fitted (Unix time): alert when it stops moving.', ['em.window.fitted']),
  def('emstream_kafka_consumer_lag_messages', 'gauge', 'Messages behind the partition high watermark at the last fetch, by topic and partition.', ['kafka.fetch', 'kafka.rebalance'], ['topic', 'partition']),
  def('emstream_kafka_assigned_partitions', 'gauge', 'Partitions assigned to this consumer.', ['kafka.rebalance', 'kafka.disconnect']),
  def('emstream_kafka_connected', 'gauge', 'Whether each Kafka client is connected (1) or not (0), by role.', ['kafka.connect', 'kafka.disconnect'], ['role']),
  def('emstream_records_in_flight', 'gauge', 'Records consumed whose outputs are not all acknowledged yet (read when scraped; without an inFlight callback, the value at the last backpressure event).', ['kafka.backpressure.wait']),
  def('emstream_ready', 'gauge', 'Whether the pipeline is ready (1) or not (0), as /readyz says.', ['kafka.ready', 'kafka.connect', 'kafka.rebalance', 'kafka.backpressure.wait']),
  // histograms
  def('emstream_window_fit_seconds', 'histogram', 'Time to fit one window (all candidates).', ['em.window.fitted']),
  def('emstream_em_iterations', 'histogram', 'EM iterations of the selected candidate per window.', ['em.window.fitted']),
  def('emstream_end_to_end_latency_seconds', 'histogram', "From an input record's timestamp to the broker's acknowledgement of its label.", ['kafka.window.acknowledged']),
  def('emstream_kafka_produce_seconds', 'histogram', 'Time from sending a produce batch to its acknowledgement.', ['kafka.ack']),
];

/** Options of {@link registerMetrics}. */
export interface MetricsOptions {
  /** Also collect Node's default process metrics (`process_*`, `nodejs_*`) on the registry (default true). */
  readonly defaultMetrics?: boolean;
  /** Readiness to expose as `emstream_ready`; without it the gauge is not registered. */
  readonly readiness?: Readiness;
  /**
   * Records consumed whose outputs are not all acknowledged yet, read at every scrape for
   * `emstream_records_in_flight` (e.g. `() => handle.counters.inFlight` of a `runKafkaPipeline` handle).
   * Without it the gauge takes the value of the last `kafka.backpressure.wait` event.
   */
  readonly inFlight?: () => number;
  /** Buckets of `emstream_window_fit_seconds`. */
  readonly fitBuckets?: readonly number[];
  /** Buckets of `emstream_em_iterations`. */
  readonly iterationBuckets?: readonly number[];
  /** Buckets of `emstream_end_to_end_latency_seconds`. */
  readonly latencyBuckets?: readonly number[];
  /** Buckets of `emstream_kafka_produce_seconds`. */
  readonly produceBuckets?: readonly number[];
  /** Distinct values kept per label (reason, operation, …) before further values count as `other` (default 32). */
  readonly maxLabelValues?: number;
}

const buckets = (fallback: number[]) =>
  z
    .array(z.number().positive('bucket bounds must be > 0'))
    .min(1, 'give at least one bucket bound')
    .refine((b) => b.every((x, i) => i === 0 || x > b[i - 1]), 'bucket bounds must increase')
    .default(fallback);

const optionsSchema = z
  .object({
    defaultMetrics: z.boolean().default(true),
    readiness: z.custom<Readiness>((v) => typeof v === 'object' && v !== null && typeof (v as Readiness).report === 'function', 'must be a Readiness').optional(),
    inFlight: z.custom<() => number>((v) => typeof v === 'function', 'must be a function returning the records in flight').optional(),
    fitBuckets: buckets([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]),
    iterationBuckets: buckets([1, 2, 3, 5, 8, 13, 20, 30, 50, 100, 200]),
    latencyBuckets: buckets([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]),
    produceBuckets: buckets([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]),
    maxLabelValues: z.number().int('must be an integer').min(1, 'must be at least 1').default(32),
  })
  .strict();

/** What {@link registerMetrics} returns. */
export interface EmstreamMetrics {
  /** Names of the metrics registered (emstream's and, when asked, the default process metrics). */
  readonly names: readonly string[];
  /** Stops listening to the events and removes every metric it registered from the registry. */
  unregister(): void;
}

/** Keeps a label's values bounded: the first `max` distinct values pass, later ones become `other`. */
function boundedLabel(max: number): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    const v = value === '' ? 'unknown' : value;
    if (seen.has(v)) return v;
    if (seen.size < max) {
      seen.add(v);
      return v;
    }
    return 'other';
  };
}

const finite = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);

/** Messages behind the high watermark after `lastOffset` (Kafka offsets as decimal strings). */
function lagOf(highWatermark: string, lastOffset: string): number | null {
  try {
    const lag = BigInt(highWatermark) - BigInt(lastOffset) - 1n;
    return lag < 0n ? 0 : Number(lag);
  } catch {
    return null;
  }
}

/**
 * Registers emstream's Prometheus metrics on a prom-client registry of your own and feeds them from
 * a pipeline's instrumentation events (see {@link METRICS} for the list and their meaning).
 *
 * 1. Validate the options; create every metric of {@link METRICS} on `registry` (and Node's default
 *    process metrics unless `defaultMetrics: false`); a name already on the registry is refused.
 * 2. Subscribe to the `em.*` and `kafka.*` events: counters add, gauges take the last value,
 *    histograms observe. Nothing runs in the pipeline but these listeners, and a listener that
 *    throws cannot break it (the instrumentation isolates them).
 * 3. Label values that come from the stream (reasons, operations) are bounded: past
 *    `maxLabelValues` distinct values they count as `other`. Component weights are labelled by
 *    component (its label); consumer lag by topic and partition (a revoked partition's series is removed).
 * 4. Records in flight are read at scrape time from `inFlight` when given (a collect callback), so the
 *    gauge is true whenever Prometheus looks.
 *
 * ## Example
 * ```ts
 * import { Registry } from 'prom-client';
 * import { from, lastValueFrom } from 'rxjs';
 * import { Instrumentation, registerMetrics, windowVectors, fitMixture } from 'emstream';
 *
 * const registry = new Registry();
 * const instrumentation = new Instrumentation();
 * const metrics = registerMetrics(registry, instrumentation, { defaultMetrics: false });
 * const points = Array.from({ length: 400 }, (_, i) => [i % 2 === 0 ? 0 : 10, Math.sin(i)]);
 * await lastValueFrom(from(points).pipe(windowVectors({ size: 100 }), fitMixture({ k: 2, instrumentation })));
 * console.log(await registry.getSingleMetricAsString('emstream_windows_total'));
 * // → # HELP emstream_windows_total Windows fitted.
 * // → # TYPE emstream_windows_total counter
 * // → emstream_windows_total 4
 * metrics.unregister();
 * ```
 *
 * @param registry - a prom-client `Registry` (e.g. `new Registry()` or prom-client's global `register`)
 * @param instrumentation - the pipeline's instrumentation (or any {@link EventSource})
 * @param options - default metrics, readiness gauge, in-flight callback, histogram buckets, label bound
 * @returns the names registered and `unregister()`
 * @throws EmstreamOptionsError when the options are invalid
 * @throws MonitoringError when a metric of the same name is already registered on the registry
 */
export function registerMetrics(registry: Registry, instrumentation: EventSource, options: MetricsOptions = {}): EmstreamMetrics {
  const o = parseOptions(optionsSchema, options, 'registerMetrics');
  const taken = METRICS.map((m) => m.name).filter((name) => registry.getSingleMetric(name) !== undefined);
  if (taken.length > 0) {
    throw new MonitoringError(
      `registerMetrics: ${taken.join(', ')} ${taken.length === 1 ? 'is' : 'are'} already registered on this registry: call unregister() on the earlier registration, or use a new Registry per pipeline`,
      { context: { metric: taken[0] } },
    );
  }
  const registers = [registry];
  const help = new Map(METRICS.map((m) => [m.name, m.help]));
  const counter = <L extends string>(name: string, labelNames: L[] = []) => new Counter<L>({ name, help: help.get(name)!, labelNames, registers });
  const gauge = <L extends string>(name: string, labelNames: L[] = []) => new Gauge<L>({ name, help: help.get(name)!, labelNames, registers });
  const histogram = (name: string, b: readonly number[]) => new Histogram({ name, help: help.get(name)!, buckets: [...b], registers });
  const bound = () => boundedLabel(o.maxLabelValues);

  const vectorsIn = counter('emstream_vectors_in_total');
  const rejected = counter('emstream_inputs_rejected_total', ['reason']);
  const labelsOut = counter('emstream_labels_out_total');
  const deadLetters = counter('emstream_dead_letters_total', ['reason']);
  const windows = counter('emstream_windows_total');
  const notConverged = counter('emstream_windows_not_converged_total');
  const deferred = counter('emstream_windows_deferred_total');
  const failed = counter('emstream_windows_failed_total', ['reason']);
  const restarts = counter('emstream_restarts_total');
  const drift = counter('emstream_drift_events_total', ['kind']);
  const driftEnded = counter('emstream_drift_ended_total');
  const reseeded = counter('emstream_components_reseeded_total', ['reason']);
  const reverted = counter('emstream_components_reverted_total');
  const consumed = counter('emstream_kafka_messages_consumed_total');
  const producedMessages = counter('emstream_kafka_produced_messages_total');
  const producedBytes = counter('emstream_kafka_produced_bytes_total');
  const commits = counter('emstream_kafka_commits_total');
  const rebalances = counter('emstream_kafka_rebalances_total');
  const retries = counter('emstream_kafka_retries_total', ['operation']);
  const crashes = counter('emstream_kafka_consumer_crashes_total', ['restart']);
  const waits = counter('emstream_kafka_backpressure_waits_total');
  const waitSeconds = counter('emstream_kafka_backpressure_wait_seconds_total');
  const restores = counter('emstream_state_restores_total', ['outcome']);

  const logLikelihood = gauge('emstream_log_likelihood');
  const predictive = gauge('emstream_predictive_log_likelihood');
  const expected = gauge('emstream_expected_log_likelihood');
  const distance = gauge('emstream_model_distance');
  const phStatistic = gauge('emstream_page_hinkley_statistic');
  const phThreshold = gauge('emstream_page_hinkley_threshold');
  const driftStatistic = gauge('emstream_drift_statistic', ['kind']);
  const driftThreshold = gauge('emstream_drift_threshold', ['kind']);
  const drifting = gauge('emstream_drifting');
  const severity = gauge('emstream_drift_severity');
  const progress = gauge('emstream_drift_progress');
  const weight = gauge('emstream_component_weight', ['component']);
  const components = gauge('emstream_components');
  const version = gauge('emstream_model_version');
  const windowIndex = gauge('emstream_window_index');
  const lastWindow = gauge('emstream_last_window_timestamp_seconds');
  const lag = gauge('emstream_kafka_consumer_lag_messages', ['topic', 'partition']);
  const assignedPartitions = gauge('emstream_kafka_assigned_partitions');
  const connected = gauge('emstream_kafka_connected', ['role']);
  const readInFlight = o.inFlight;
  const inFlight =
    readInFlight === undefined
      ? gauge('emstream_records_in_flight')
      : new Gauge({
          name: 'emstream_records_in_flight',
          help: help.get('emstream_records_in_flight')!,
          registers,
          collect() {
            const n = readInFlight();
            if (finite(n)) this.set(n);
          },
        });
  const readiness = o.readiness;
  if (readiness !== undefined) {
    new Gauge({
      name: 'emstream_ready',
      help: help.get('emstream_ready')!,
      registers,
      collect() {
        this.set(readiness.report().ready ? 1 : 0);
      },
    });
  }

  const fitSeconds = histogram('emstream_window_fit_seconds', o.fitBuckets);
  const iterations = histogram('emstream_em_iterations', o.iterationBuckets);
  const latency = histogram('emstream_end_to_end_latency_seconds', o.latencyBuckets);
  const produceSeconds = histogram('emstream_kafka_produce_seconds', o.produceBuckets);

  const ours = METRICS.map((m) => m.name).filter((name) => name !== 'emstream_ready' || readiness !== undefined);
  const defaults: string[] = [];
  if (o.defaultMetrics) {
    const before = new Set(registry.getMetricsAsArray().map((m) => m.name));
    try {
      collectDefaultMetrics({ register: registry });
    } catch (err) {
      for (const name of ours) registry.removeSingleMetric(name);
      throw new MonitoringError(`registerMetrics: Node's default metrics are already registered on this registry: pass { defaultMetrics: false }`, { cause: err });
    }
    for (const m of registry.getMetricsAsArray()) if (!before.has(m.name)) defaults.push(m.name);
  }

  const reasonLabel = bound();
  const deadLetterLabel = bound();
  const failedLabel = bound();
  const kindLabel = bound();
  const reseedLabel = bound();
  const operationLabel = bound();
  const lagSeries = new Set<string>();
  let partitions = 0;
  const assignment = new Map<string, Set<number>>();
  const updateAssignment = (list: readonly { topic: string; partitions: readonly number[] }[], add: boolean): void => {
    for (const { topic, partitions: ps } of list) {
      let set = assignment.get(topic);
      if (set === undefined) assignment.set(topic, (set = new Set()));
      for (const p of ps) {
        if (add) set.add(p);
        else {
          set.delete(p);
          const key = `${topic}\u0000${p}`;
          if (lagSeries.delete(key)) lag.remove({ topic, partition: String(p) });
        }
      }
    }
    partitions = 0;
    for (const set of assignment.values()) partitions += set.size;
  };

  const events = instrumentation;
  const unsubscribe = [
    events.on('em.window.fitted', (e) => {
      windows.inc();
      vectorsIn.inc(e.n);
      if (e.restarted) restarts.inc();
      if (!e.converged) notConverged.inc();
      if (finite(e.logLikelihood)) logLikelihood.set(e.logLikelihood);
      if (finite(e.expectedLogLikelihood)) expected.set(e.expectedLogLikelihood);
      if (finite(e.predictiveLogLikelihood)) predictive.set(e.predictiveLogLikelihood);
      if (finite(e.modelDistance)) distance.set(e.modelDistance);
      if (finite(e.pageHinkley.statistic)) phStatistic.set(e.pageHinkley.statistic);
      if (finite(e.pageHinkley.threshold)) phThreshold.set(e.pageHinkley.threshold);
      for (const [kind, x] of [
        ['likelihood', e.driftStatistics.likelihood],
        ['model-distance', e.driftStatistics.modelDistance],
        ['component', e.driftStatistics.component],
        ['weights', e.driftStatistics.weights],
      ] as const) {
        if (finite(x.statistic)) driftStatistic.set({ kind }, x.statistic);
        if (finite(x.threshold)) driftThreshold.set({ kind }, x.threshold);
      }
      drifting.set(e.drifting.active ? 1 : 0);
      if (finite(e.drifting.severity)) severity.set(e.drifting.severity);
      if (finite(e.drifting.progress)) progress.set(e.drifting.progress);
      weight.reset();
      e.weights.forEach((w, k) => {
        if (finite(w)) weight.set({ component: String(e.labelIds[k] ?? k) }, w);
      });
      components.set(e.k);
      version.set(e.version);
      windowIndex.set(e.windowIndex);
      lastWindow.set(Date.now() / 1000);
      if (finite(e.durationMs)) fitSeconds.observe(e.durationMs / 1000);
      iterations.observe(e.iterations);
    }),
    events.on('em.drift.detected', (e) => drift.inc({ kind: kindLabel(e.kind) })),
    events.on('em.drift.ended', () => driftEnded.inc()),
    events.on('em.component.reseeded', (e) => reseeded.inc({ reason: reseedLabel(e.reason) }, e.components.length)),
    events.on('em.component.reverted', (e) => reverted.inc(e.components.length)),
    events.on('em.window.failed', (e) => failed.inc({ reason: failedLabel(e.reason) })),
    events.on('em.window.deferred', () => deferred.inc()),
    events.on('em.input.rejected', (e) => rejected.inc({ reason: reasonLabel(e.reason) })),
    events.on('kafka.connect', (e) => connected.set({ role: e.role }, 1)),
    events.on('kafka.disconnect', (e) => {
      connected.set({ role: e.role }, 0);
      if (e.role === 'consumer') {
        assignment.clear();
        partitions = 0;
        assignedPartitions.set(0);
      }
    }),
    events.on('kafka.retry', (e) => retries.inc({ operation: operationLabel(e.operation) })),
    events.on('kafka.rebalance', (e) => {
      rebalances.inc();
      updateAssignment(e.revoked, false);
      updateAssignment(e.assigned, true);
      assignedPartitions.set(partitions);
    }),
    events.on('kafka.consumer.crash', (e) => crashes.inc({ restart: e.restart ? 'true' : 'false' })),
    events.on('kafka.fetch', (e) => {
      consumed.inc(e.messages);
      const behind = lagOf(e.highWatermark, e.lastOffset);
      if (behind !== null) {
        lagSeries.add(`${e.topic}\u0000${e.partition}`);
        lag.set({ topic: e.topic, partition: String(e.partition) }, behind);
      }
    }),
    events.on('kafka.backpressure.wait', (e) => {
      if (!e.done) waits.inc();
      else if (finite(e.waitedMs) && e.waitedMs > 0) waitSeconds.inc(e.waitedMs / 1000);
      if (readInFlight === undefined && finite(e.inFlight)) inFlight.set(e.inFlight);
    }),
    events.on('kafka.ack', (e) => {
      producedMessages.inc(e.messages);
      producedBytes.inc(e.bytes);
      if (finite(e.durationMs)) produceSeconds.observe(e.durationMs / 1000);
    }),
    events.on('kafka.commit', () => commits.inc()),
    events.on('kafka.dead-letter', (e) => deadLetters.inc({ reason: deadLetterLabel(e.reason) })),
    events.on('kafka.window.acknowledged', (e) => {
      labelsOut.inc(e.labelled);
      for (const r of e.records) {
        const sent = Number(r.timestamp);
        if (Number.isFinite(sent) && sent > 0) latency.observe(Math.max(0, e.acknowledgedAt - sent) / 1000);
      }
    }),
    events.on('kafka.state.restored', () => restores.inc({ outcome: 'restored' })),
    events.on('kafka.state.fresh', () => restores.inc({ outcome: 'fresh' })),
  ];

  const names = [...ours, ...defaults];
  return {
    names,
    unregister() {
      for (const u of unsubscribe) u();
      for (const name of names) registry.removeSingleMetric(name);
    },
  };
}
