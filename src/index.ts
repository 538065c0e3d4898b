/**
 * emstream: streaming Gaussian-mixture clustering (warm-started EM with sufficient statistics)
 * on RxJS and Kafka.
 *
 * Layers: `src/gmm` (pure numerics) ← `src/operators` (RxJS) ← `src/kafka` (the edge).
 */
// numeric core (what users call; the building blocks of EM are in the documented subpath `emstream/core`)
export * from './gmm/types.js';
export { GaussianMixture, paramsToJSON, paramsFromJSON, MODEL_FORMAT_VERSION, type MixtureJSON, type Points } from './gmm/model.js';
export { fitGmm, toDataset, checkDataset, resolveFitOptions, MAX_ABS_VALUE, type FitOptions, type FitResult, type RunResult, type CandidateReport, type InitialParams, type EmMode, type SelectBy } from './gmm/em.js';
export type { SufficientStatsJSON } from './gmm/stats.js';
export { INIT_METHODS, type InitMethod } from './gmm/init.js';
export type { RngState } from './gmm/rng.js';
export {
  StreamingGmm,
  resolveStreamingOptions,
  stateDifferences,
  STREAMING_STATE_VERSION,
  type StreamingOptions,
  type KRange,
  type RestartPolicy,
  type WindowFit,
  type WindowCandidate,
  type StreamingStateJSON,
  type StreamingConfigJSON,
  type ComponentsStateJSON,
  type Forgetting,
} from './gmm/streaming.js';
export { DriftDetector, DRIFT_DEFAULTS, DRIFT_KINDS, driftOptionsSchema, type DriftEvent, type DriftKind, type DriftOptions, type DriftSignals, type DriftStatistic, type DriftStatistics, type DriftState, type DriftObservation, type LikelihoodStep } from './gmm/drift.js';
export { PageHinkley, type PageHinkleyOptions } from './gmm/pageHinkley.js';
export { matchComponents, permuteComponents } from './gmm/align.js';
export { adjustedRandIndex, type Labels } from './gmm/metrics.js';
export { gaussianKL, symmetricKL, bhattacharyya, matchedMixtureDistance, variationalKL, componentDistanceMatrix, type ComponentMetric } from './gmm/distance.js';
export { CovarianceError, DataError, ModelFormatError, NumericError, StateMismatchError, ThreadPoolError, type StateDifference } from './gmm/errors.js';
// errors, options, instrumentation
export * from './errors.js';
export { suggestOption, OPTION_ALIASES } from './options.js';
export { Instrumentation, type EmEvents, type EmEventName, type EmstreamEvents, type EmstreamEventName, type EventSource } from './instrumentation.js';
// operators
export * from './operators/types.js';
export { windowVectors, type WindowOptions } from './operators/windowVectors.js';
export { fitMixture, type FitMixtureOptions } from './operators/fitMixture.js';
export { toLabels } from './operators/toLabels.js';
export { detectDrift } from './operators/detectDrift.js';
export { withInvalid, type InvalidChannel } from './operators/invalidChannel.js';
export { buildInPipelineScope, type PipelineScope, type PipelineScopeReport } from './operators/pipelineScope.js';
export { validateVector, extractVector, checkValues, recordCoordinates, MAX_COORDINATE, type RecordCoordinates, type ValuesFailure, type CheckValuesOptions } from './operators/vectorInput.js';
// files of vectors
export { parseCsv, parseNdjson, parseDecimal, readVectorsFile, readVectorsStream, sniffVectorFormat, VECTOR_FILE_EXTENSIONS, type Vectors, type CsvOptions, type NdjsonOptions, type ReadVectorsOptions, type VectorTextFormat } from './io/readVectors.js';
// pipelines
export { definePipeline, type Pipeline, type PipelineContext, type PipelineKafkaDefaults } from './pipeline.js';
// figures
export { renderMixtureSvg, computeBounds, type Bounds } from './viz/svg.js';
export { renderGalleryHtml } from './viz/gallery.js';
export { FigureError, type FigureErrorContext } from './viz/errors.js';
// monitoring: Prometheus metrics, health endpoint, window-history and drift records, the live dashboard
export { registerMetrics, METRICS, type MetricsOptions, type EmstreamMetrics, type MetricDefinition } from './monitoring/metrics.js';
export { Readiness, type ReadinessOptions, type ReadinessReport } from './monitoring/readiness.js';
export { startMetricsServer, type MetricsServer, type MetricsServerOptions } from './monitoring/server.js';
export { windowRecord, driftRecords, sampleWindow, componentShifts, offsetRanges, type WindowRecord, type DriftRecord, type WindowCounts, type WindowSample, type ComponentShift, type OffsetRange, type WindowRecordOptions, type DriftRecordOptions } from './monitoring/history.js';
export { WindowRecorder, type WindowRecorderOptions, type WindowRecords } from './monitoring/recorder.js';
export { MonitoringError, type MonitoringErrorContext } from './monitoring/errors.js';
export { startDashboard, type Dashboard, type DashboardOptions } from './dashboard/server.js';
export { mixtureUpdateSource, type DashboardSource, type DashboardMessage, type MixtureUpdateSourceOptions } from './dashboard/source.js';
export { kafkaDashboardSource, type KafkaDashboardSourceOptions } from './dashboard/kafkaSource.js';
export { DashboardState, type DashboardSnapshot, type DashboardDelta, type DashboardStatus } from './dashboard/state.js';
export { projectionFor, mixtureView, type Projection } from './dashboard/projection.js';
export { type TimelineRow, type DriftMark, type MixtureView } from './viz/charts.js';
// Kafka edge (the local development broker is `emstream/broker`, not here)
export { createKafkaClient, forwardKafkajsLog, type CreateKafkaClientOptions } from './kafka/client/kafkajs.js';
export type { KafkaClientLike, ConsumerLike, ProducerLike, AdminLike, ProducedMessage, TopicPartitionOffset, ClientRetryOptions } from './kafka/client/ports.js';
export {
  KafkaEdgeError,
  BrokerUnavailableError,
  InputTopicMissingError,
  StateRestoreError,
  MessageFormatError,
  type KafkaEdgeErrorContext,
  type BrokerUnavailableContext,
  type InputTopicMissingContext,
  type StateRestoreContext,
} from './kafka/errors.js';
export type { KafkaEvents, KafkaEventName, EventOffset, TopicPartitions, KafkaRole } from './kafka/events.js';
export { createDecoder, encodeVector, VECTOR_FORMATS, DEFAULT_MAX_MESSAGE_BYTES, type VectorFormat, type DecoderOptions, type DecodeResult, type DecodeFailureReason, type VectorDecoder } from './kafka/source/formats.js';
export { HEADERS, parseSourceHeader, sourceHeaderValue, sourceHeaders, type SourceCoordinates } from './kafka/messages/headers.js';
export { labelMessage, readLabelMessage, labelsOutput, type LabelValue } from './kafka/messages/labels.js';
export { deadLetterMessage, readDeadLetter, type DeadLetterSource, type DeadLetterOptions, type ReadDeadLetter } from './kafka/messages/deadLetters.js';
export { windowMessage, driftMessage, readWindowMessage, readDriftMessage, windowHistoryOutput, driftOutput, DEFAULT_WINDOWS_RETENTION_MS, DEFAULT_DRIFT_RETENTION_MS } from './kafka/messages/history.js';
export { messageBytes } from './kafka/messages/sizes.js';
export type { OutgoingMessage, WindowOutcome, WindowOutput, OutputTopicSettings } from './kafka/messages/outputs.js';
export {
  MODEL_MESSAGE_VERSION,
  modelMessage,
  readModelMessage,
  compactState,
  expandState,
  stateOutput,
  type ModelMessage,
  type ModelMessageOptions,
  type ReadModelMessage,
  type CompactStateJSON,
  type CompactStatsJSON,
} from './kafka/state/format.js';
export { ensureTopics, topicMaxMessageBytes, KAFKA_DEFAULT_MAX_MESSAGE_BYTES, type OutputTopic } from './kafka/topics.js';
export { OffsetTracker, type OffsetTrackerOptions } from './kafka/delivery/offsets.js';
export { fromKafka, type FromKafkaOptions } from './kafka/source/fromKafka.js';
export type { KafkaRecord, UndecodableMessage } from './kafka/source/record.js';
export { BatchSender, type BatchSenderOptions, type SendRetryPolicy } from './kafka/delivery/batchSender.js';
export { toKafka, type ToKafkaOptions } from './kafka/sink.js';
export type { Delivery, DeliveryCounters } from './kafka/delivery/delivery.js';
export { isRetriable } from './kafka/client/errorNames.js';
export { installFastProduceEncoder, isFastProduceEncoderInstalled } from './kafka/client/fastProduce.js';
export { installRequestQueueFix } from './kafka/client/requestQueueFix.js';
export { installReadCommittedFix } from './kafka/client/readCommittedFix.js';
export { restoreLatestState, restoreLatestModel, type RestoreOptions, type RestoredModel } from './kafka/state/restore.js';
export { resolveRunConfig, runOptionsSchema, DEFAULT_MODELS_MAX_MESSAGE_BYTES, type RunConfig, type RunKafkaPipelineOptions } from './kafka/run/config.js';
export { runKafkaPipeline } from './kafka/run/runner.js';
export type { KafkaPipelineHandle, KafkaPipelineCounters, KafkaPipelineResult, StopOptions } from './kafka/run/handle.js';
export { standardPipeline, restoredModelOf, type KafkaPipelineContext, type StandardPipelineOptions } from './kafka/run/standardPipeline.js';
// synthetic data (demo, tests, benchmarks)
export { syntheticStream, driftingDemoClusters, type SyntheticCluster, type SyntheticPoint } from './data/synthetic.js';
