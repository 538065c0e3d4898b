/**
 * Kafka end-to-end benchmark: vectors/s through broker → windows → EM → labels on the broker, against a
 * passthrough pipeline that consumes and produces the same messages (labels and one model message per
 * window) without EM. Both run through `runKafkaPipeline`, so the ratio isolates the cost of EM.
 *
 *   node --import tsx bench/kafka.ts                 # starts its own broker (Java + Maven) unless KAFKA_BROKERS is set
 *   KAFKA_BROKERS=127.0.0.1:9092 node --import tsx bench/kafka.ts --vectors 200000
 *   KAFKA_BROKERS=127.0.0.1:9092 node --import tsx bench/kafka.ts --repeat 3        # alternating runs, medians reported
 *   KAFKA_BROKERS=127.0.0.1:9092 node --import tsx bench/kafka.ts --repeat 3 --producer both   # producer on the main vs a worker thread, interleaved
 *   KAFKA_BROKERS=127.0.0.1:9092 node --import tsx bench/kafka.ts --repeat 3 --kafkajs-encoder   # worker producer with kafkajs's own encoder (before/after)
 *   KAFKA_BROKERS=127.0.0.1:9092 node --cpu-prof --import tsx bench/kafka.ts --only em   # profile one pipeline
 *   KAFKA_BROKERS=127.0.0.1:9092 node --import tsx bench/kafka.ts --repeat 3 --monitoring all   # monitoring off / topics / topics + metrics, interleaved
 *   KAFKA_BROKERS=127.0.0.1:9092 node --import tsx bench/kafka.ts --repeat 3 --delivery both --only em   # at-least-once vs exactly-once, interleaved
 *
 * Not a test: numbers depend on the machine and its load (printed with the results).
 */
import { loadavg, cpus } from 'node:os';
import { map, type Observable } from 'rxjs';
import { Registry } from 'prom-client';
import { Rng } from '../src/gmm/rng.js';
import { Instrumentation } from '../src/instrumentation.js';
import { registerMetrics } from '../src/monitoring/metrics.js';
import { Readiness } from '../src/monitoring/readiness.js';
import type { MixtureJSON } from '../src/gmm/model.js';
import { StreamingGmm } from '../src/gmm/streaming.js';
import { startLocalKafka, type LocalKafka } from '../src/devtools/broker.js';
import { createKafkaClient } from '../src/kafka/client/kafkajs.js';
import { type KafkaClientLike, type ProducedMessage } from '../src/kafka/client/ports.js';
import { encodeVector } from '../src/kafka/source/formats.js';
import { runKafkaPipeline } from '../src/kafka/run/runner.js';
import { standardPipeline } from '../src/kafka/run/standardPipeline.js';
import { BatchSender } from '../src/kafka/delivery/batchSender.js';
import { windowVectors } from '../src/operators/windowVectors.js';
import type { MixtureUpdate, VectorInput } from '../src/operators/types.js';
import type { Pipeline } from '../src/pipeline.js';
import { isEntryPoint } from './entry.js';

/** Options of {@link benchKafka}. */
export interface BenchKafkaOptions {
  /** Bootstrap addresses; default env KAFKA_BROKERS, else a broker started for the run. */
  readonly brokers?: readonly string[];
  /** Vectors per run (default 200 000). */
  readonly vectors?: number;
  readonly dimension?: number;
  readonly k?: number;
  readonly window?: number;
  /** Runs of each pipeline, alternating (default 1); the median run of each is reported. */
  readonly repeat?: number;
  /**
   * Where the outputs are produced (`runKafkaPipeline`'s `producerInWorker`): `worker` (default), `main`, or `both`,
   * alternating within each repeat; medians per mode go to `byProducer`, and the headline numbers are the worker's.
   */
  readonly producer?: 'main' | 'worker' | 'both';
  /** With the worker producer: emstream's produce encoder (default true) or kafkajs's own (false), for before/after. */
  readonly fastProduceEncoder?: boolean;
  /**
   * Monitoring of the runs: `off` (no window-history or drift topic, no listeners), `topics` (the runner's default:
   * the window-history and drift topics), `metrics` (the topics, and every metric registered and scraped once a
   * second, as `emstream run --metrics-port` does), or `all` (the three, interleaved; medians per mode in
   * `byMonitoring`, headline numbers of `topics`). Default `topics`.
   */
  readonly monitoring?: Monitoring | 'all';
  /** Run only one of the two pipelines (the other is reported as 0 vectors/s). */
  readonly only?: 'passthrough' | 'em';
  /**
   * The delivery of the runs: `at-least-once` (default), `exactly-once` (`runKafkaPipeline`'s `exactlyOnce`), or `both`,
   * alternating within each repeat; medians per delivery in `byDelivery`, headline numbers of at-least-once.
   */
  readonly delivery?: DeliveryMode | 'both';
  /** At least once: the state message every this many windows (`runKafkaPipeline`'s `stateEveryWindows`; default 1). */
  readonly stateEveryWindows?: number;
  /** Progress lines (default stderr). */
  readonly log?: (line: string) => void;
}

/** How a run is monitored (see {@link BenchKafkaOptions.monitoring}). */
export type Monitoring = 'off' | 'topics' | 'metrics';

/** How a run delivers (see {@link BenchKafkaOptions.delivery}). */
export type DeliveryMode = 'at-least-once' | 'exactly-once';

/** One measured run. */
export interface BenchRun {
  readonly vectorsPerSecond: number;
  /** From the first consumed message to the last label acknowledged. */
  readonly seconds: number;
  /** Including connecting and joining the group. */
  readonly secondsWithStartup: number;
  /** CPU time of this process (all threads, user + system) per vector between the first message and the last acknowledgement, in µs: less sensitive to other load on the machine than vectors/s. */
  readonly cpuMicrosPerVector: number;
  /**
   * What the delivery adds to a window's latency: from the window handed to the delivery to its outputs acknowledged
   * (at least once) or committed (exactly once), in ms, median and 95th percentile over the run's windows.
   */
  readonly deliveryMs: { readonly p50: number; readonly p95: number };
}

/** Result of {@link benchKafka}. */
export interface BenchKafkaResult {
  readonly endToEnd: BenchRun;
  readonly passthrough: BenchRun;
  /** endToEnd / passthrough vectors per second. */
  readonly ratio: number;
  readonly vectors: number;
  readonly producedPerSecond: number;
  readonly loadAverage: readonly number[];
  /** Every run, in order, when `repeat` > 1 or both producer modes ran. */
  readonly runs?: readonly { readonly pipeline: string; readonly producer: 'main' | 'worker'; readonly monitoring: Monitoring; readonly delivery: DeliveryMode; readonly run: BenchRun }[];
  /** Median end-to-end and passthrough runs per delivery, when both ran; `ratio` is exactly once / at least once (end to end). */
  readonly byDelivery?: Readonly<Record<DeliveryMode, { readonly endToEnd: BenchRun; readonly passthrough: BenchRun }>> & { readonly ratio: number };
  /** Median end-to-end and passthrough runs per monitoring mode, when several ran. */
  readonly byMonitoring?: Readonly<Partial<Record<Monitoring, { readonly endToEnd: BenchRun; readonly passthrough: BenchRun }>>>;
  /** Median end-to-end and passthrough runs per producer mode, when both ran. */
  readonly byProducer?: Readonly<Record<'main' | 'worker', { readonly endToEnd: BenchRun; readonly passthrough: BenchRun }>>;
}

/**
 * A pipeline with the same inputs and outputs as the EM one, minus EM: windows of `size` points, each
 * emitted as an update with a fixed model, and labels whose numbers have the digits real ones have (so the
 * label messages are as long as EM's: a shorter value would make the baseline cheaper than it should be).
 */
function passthroughPipeline(size: number, d: number): Pipeline<VectorInput> {
  const model: MixtureJSON = {
    format: 'emstream.gmm',
    version: 1,
    covarianceType: 'diag',
    k: 1,
    d,
    weights: [1],
    means: [Array<number>(d).fill(0)],
    covariances: [Array<number>(d).fill(1)],
  };
  let version = 0;
  const state = new StreamingGmm({ k: 1, covarianceType: 'diag' }).toJSON();
  const none = { statistic: 0, threshold: 1 };
  const quiet = { likelihood: none, modelDistance: none, component: { ...none, label: null }, weights: none };
  return {
    name: 'passthrough',
    build: (input: Observable<VectorInput>, context) =>
      input.pipe(
        windowVectors({ size, dimension: d, onInvalid: context.onInvalid }),
        map(
          (window): MixtureUpdate<VectorInput> => ({
            windowIndex: window.index,
            version: ++version,
            model,
            labels: new Int32Array(window.n).fill(3),
            probabilities: new Float64Array(window.n).fill(0.9876543210987654),
            logDensities: new Float64Array(window.n).fill(-12.345678901234567),
            logLikelihood: 0,
            expectedLogLikelihood: 0,
            predictiveLogLikelihood: null,
            iterations: 0,
            converged: true,
            warmStarted: false,
            restarted: false,
            drift: [],
            modelDistance: 0,
            pageHinkley: { statistic: 0, threshold: 1 },
            predictiveStandardError: null,
            driftStatistics: quiet,
            drifting: { active: false, since: null, kinds: [], components: [], severity: 0, progress: 0 },
            driftEnded: null,
            candidates: [],
            k: 1,
            labelIds: [0],
            reseeded: [],
            reseedReasons: [],
            reverted: [],
            componentDrift: null,
            kChange: null,
            state,
            window,
          }),
        ),
      ),
  };
}

/** Produces `n` float32le vectors from K Gaussian clusters (1000-message batches: kafkajs is fastest there). */
export async function produceVectors(kafka: KafkaClientLike, topic: string, n: number, d: number, k: number): Promise<number> {
  const rng = new Rng(7);
  const centres = Array.from({ length: k }, () => Array.from({ length: d }, () => 8 * rng.normal()));
  const distinct = 5000;
  const payloads = Array.from({ length: distinct }, () => {
    const c = centres[rng.int(k)];
    return encodeVector(
      c.map((x) => x + rng.normal()),
      'float32le',
    );
  });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const sender = new BatchSender(producer, { maxBatchMessages: 1000, maxConcurrentSends: 4 });
  const started = Date.now();
  for (let i = 0; i < n; i += 1000) {
    const messages: { topic: string; message: ProducedMessage }[] = [];
    for (let j = i; j < Math.min(n, i + 1000); j++) messages.push({ topic, message: { value: payloads[j % distinct] } });
    sender.enqueue(messages);
    if (i % 20_000 === 0) await sender.flush();
  }
  await sender.flush();
  const seconds = (Date.now() - started) / 1000;
  await producer.disconnect();
  return n / seconds;
}

/** Runs one pipeline over the whole input topic with a fresh group and times it. */
async function timeRun(
  kafka: KafkaClientLike,
  brokers: readonly string[],
  producer: 'main' | 'worker',
  pipeline: Pipeline<VectorInput>,
  input: string,
  n: number,
  d: number,
  window: number,
  attempt = 0,
  fastProduceEncoder = true,
  monitoring: Monitoring = 'topics',
  delivery: DeliveryMode = 'at-least-once',
  stateEveryWindows?: number,
): Promise<BenchRun> {
  const started = Date.now();
  const name = `${pipeline.name}-${producer}-${monitoring}${delivery === 'exactly-once' ? '-eos' : ''}${attempt === 0 ? '' : `-${attempt}`}`;
  const instrumentation = new Instrumentation();
  const registry = new Registry();
  const readiness = monitoring === 'metrics' ? new Readiness(instrumentation) : undefined;
  const live: { counters?: { inFlight: number } } = {};
  const metrics = monitoring === 'metrics' ? registerMetrics(registry, instrumentation, { readiness, inFlight: () => live.counters?.inFlight ?? 0 }) : undefined;
  const scrapes = monitoring === 'metrics' ? setInterval(() => void registry.metrics(), 1000) : undefined;
  const latencies: number[] = [];
  instrumentation.on('kafka.window.acknowledged', (e) => latencies.push(e.acknowledgedAt - e.enqueuedAt));
  const run = await runKafkaPipeline({
    kafka,
    brokers,
    producerInWorker: producer === 'worker',
    fastProduceEncoder,
    pipeline,
    input,
    labels: `${input}.${name}.labels`,
    models: `${input}.${name}.models`,
    deadLetters: `${input}.${name}.dead-letters`,
    group: `${input}-${name}`,
    fromBeginning: true,
    format: 'float32le',
    dimension: d,
    maxInFlight: Math.max(20_000, 4 * window),
    instrumentation,
    windows: monitoring === 'off' ? false : `${input}.${name}.windows`,
    drift: monitoring === 'off' ? false : `${input}.${name}.drift`,
    exactlyOnce: delivery === 'exactly-once',
    ...(stateEveryWindows === undefined ? {} : { stateEveryWindows }),
  });
  live.counters = run.counters;
  let first = 0;
  let cpuAtFirst = process.cpuUsage();
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (first === 0 && run.counters.consumed > 0) {
        first = Date.now();
        cpuAtFirst = process.cpuUsage();
      }
      if (run.counters.labelled >= n) {
        clearInterval(timer);
        resolve();
      }
    }, 5);
    run.done.catch((err: unknown) => {
      clearInterval(timer);
      reject(err);
    });
  });
  const ended = Date.now();
  const cpu = process.cpuUsage(cpuAtFirst);
  await run.stop();
  clearInterval(scrapes);
  metrics?.unregister();
  readiness?.close();
  const seconds = (ended - first) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => (latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]);
  return {
    vectorsPerSecond: Math.round(n / seconds),
    seconds,
    secondsWithStartup: (ended - started) / 1000,
    cpuMicrosPerVector: +((cpu.user + cpu.system) / n).toFixed(1),
    deliveryMs: { p50: at(0.5), p95: at(0.95) },
  };
}

/**
 * Measures end-to-end and passthrough throughput on one partition.
 *
 * 1. Get a broker (options, KAFKA_BROKERS, or `startLocalKafka`), create a 1-partition input topic and produce
 *    `vectors` float32le vectors (D = 8 from K = 8 clusters by default).
 * 2. Passthrough: consume, window, emit one label per point and a model message per window, produce, commit.
 * 3. End to end: the same with `windowVectors({ size: window })` → `fitMixture({ k })`.
 *
 * @param options - sizes and broker
 * @returns vectors/s of both runs and their ratio
 */
export async function benchKafka(options: BenchKafkaOptions = {}): Promise<BenchKafkaResult> {
  const n = options.vectors ?? 200_000;
  const d = options.dimension ?? 8;
  const k = options.k ?? 8;
  const window = options.window ?? 1000;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let broker: LocalKafka | undefined;
  let brokers = options.brokers ?? process.env.KAFKA_BROKERS?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (brokers === undefined || brokers.length === 0) {
    log('starting a local Kafka broker (set KAFKA_BROKERS to use an existing one)...');
    broker = await startLocalKafka({ progress: log, heapMb: 768 });
    brokers = broker.brokers;
  }
  try {
    const kafka = await createKafkaClient(brokers, { clientId: 'emstream-bench', logLevel: 'error' });
    const input = `emstream-bench-${Date.now().toString(36)}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: input, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    await admin.disconnect();
    log(`producing ${n} vectors (D=${d}) to ${input}...`);
    const producedPerSecond = await produceVectors(kafka, input, n, d, k);
    log(`  ${Math.round(producedPerSecond)} vectors/s produced`);

    const repeat = Math.max(1, options.repeat ?? 1);
    const modes: ('main' | 'worker')[] = options.producer === 'both' ? ['main', 'worker'] : [options.producer ?? 'worker'];
    const watched: Monitoring[] = options.monitoring === 'all' ? ['off', 'topics', 'metrics'] : [options.monitoring ?? 'topics'];
    const deliveries: DeliveryMode[] = options.delivery === 'both' ? ['at-least-once', 'exactly-once'] : [options.delivery ?? 'at-least-once'];
    const runs: { pipeline: string; producer: 'main' | 'worker'; monitoring: Monitoring; delivery: DeliveryMode; run: BenchRun }[] = [];
    const none: BenchRun = { vectorsPerSecond: 0, seconds: 0, secondsWithStartup: 0, cpuMicrosPerVector: 0, deliveryMs: { p50: 0, p95: 0 } };
    for (let attempt = 0; attempt < repeat; attempt++) {
      // Alternate the modes' order between repeats, so neither always runs first.
      const order = <T>(list: T[]): T[] => (attempt % 2 === 0 ? list : [...list].reverse());
      for (const producer of order(modes)) {
        for (const monitoring of order(watched)) {
          for (const delivery of order(deliveries)) {
            const with_ = `${watched.length > 1 ? `, monitoring ${monitoring}` : ''}${deliveries.length > 1 ? `, ${delivery}` : ''}`;
            if (options.only !== 'em') {
              log(`passthrough (no EM), producer on the ${producer} thread${with_}...`);
              const run = await timeRun(kafka, brokers, producer, passthroughPipeline(window, d), input, n, d, window, attempt, options.fastProduceEncoder, monitoring, delivery);
              log(`  ${run.vectorsPerSecond} vectors/s, ${run.cpuMicrosPerVector} µs CPU/vector, delivery ${run.deliveryMs.p50}/${run.deliveryMs.p95} ms (p50/p95), load ${loadavg()[0].toFixed(2)}`);
              runs.push({ pipeline: 'passthrough', producer, monitoring, delivery, run });
            }
            if (options.only !== 'passthrough') {
              log(`end to end (windows of ${window} → EM with K=${k}), producer on the ${producer} thread${with_}...`);
              const run = await timeRun(kafka, brokers, producer, standardPipeline({ window, k, name: 'em', seed: 1 }), input, n, d, window, attempt, options.fastProduceEncoder, monitoring, delivery, options.stateEveryWindows);
              log(`  ${run.vectorsPerSecond} vectors/s, ${run.cpuMicrosPerVector} µs CPU/vector, delivery ${run.deliveryMs.p50}/${run.deliveryMs.p95} ms (p50/p95), load ${loadavg()[0].toFixed(2)}`);
              runs.push({ pipeline: 'em', producer, monitoring, delivery, run });
            }
          }
        }
      }
    }
    const headlineMonitoring: Monitoring = watched.includes('topics') ? 'topics' : watched[0];
    const headlineDelivery: DeliveryMode = deliveries[0];
    const median = (pipeline: string, producer: 'main' | 'worker', monitoring: Monitoring = headlineMonitoring, delivery: DeliveryMode = headlineDelivery): BenchRun => {
      const sorted = runs
        .filter((r) => r.pipeline === pipeline && r.producer === producer && r.monitoring === monitoring && r.delivery === delivery)
        .map((r) => r.run)
        .sort((a, b) => a.vectorsPerSecond - b.vectorsPerSecond);
      return sorted.length === 0 ? none : sorted[(sorted.length - 1) >> 1];
    };
    const headline = modes.includes('worker') ? 'worker' : 'main';
    const passthrough = median('passthrough', headline);
    const endToEnd = median('em', headline);
    return {
      endToEnd,
      passthrough,
      ratio: passthrough.vectorsPerSecond === 0 ? 0 : endToEnd.vectorsPerSecond / passthrough.vectorsPerSecond,
      vectors: n,
      producedPerSecond: Math.round(producedPerSecond),
      loadAverage: loadavg(),
      ...(repeat > 1 || modes.length > 1 || watched.length > 1 || deliveries.length > 1 ? { runs } : {}),
      ...(deliveries.length > 1
        ? (() => {
            const alo = { endToEnd: median('em', headline, headlineMonitoring, 'at-least-once'), passthrough: median('passthrough', headline, headlineMonitoring, 'at-least-once') };
            const eos = { endToEnd: median('em', headline, headlineMonitoring, 'exactly-once'), passthrough: median('passthrough', headline, headlineMonitoring, 'exactly-once') };
            return { byDelivery: { 'at-least-once': alo, 'exactly-once': eos, ratio: alo.endToEnd.vectorsPerSecond === 0 ? 0 : eos.endToEnd.vectorsPerSecond / alo.endToEnd.vectorsPerSecond } };
          })()
        : {}),
      ...(watched.length > 1 ? { byMonitoring: Object.fromEntries(watched.map((m) => [m, { endToEnd: median('em', headline, m), passthrough: median('passthrough', headline, m) }])) } : {}),
      ...(modes.length > 1
        ? { byProducer: { main: { endToEnd: median('em', 'main'), passthrough: median('passthrough', 'main') }, worker: { endToEnd: median('em', 'worker'), passthrough: median('passthrough', 'worker') } } }
        : {}),
    };
  } finally {
    await broker?.stop();
  }
}

/** Options of {@link benchLatency}. */
export interface BenchLatencyOptions {
  readonly brokers: readonly string[];
  readonly delivery: DeliveryMode;
  /** Vectors produced per second, live, while the pipeline runs (default 20 000: well below what either mode sustains). */
  readonly rate?: number;
  /** How long to produce, in seconds (default 8). */
  readonly seconds?: number;
  readonly dimension?: number;
  readonly k?: number;
  readonly window?: number;
}

/** Latencies of a paced run, in ms (p50 and p95 over its windows). */
export interface BenchLatency {
  readonly delivery: DeliveryMode;
  readonly rate: number;
  readonly windows: number;
  /** From a window handed to the delivery to its outputs acknowledged (at least once) or committed (exactly once). */
  readonly deliveryMs: { readonly p50: number; readonly p95: number };
  /** From a window's last input produced to its labels acknowledged or committed: fit plus delivery (the window's fill time excluded). */
  readonly lastInputToLabelMs: { readonly p50: number; readonly p95: number };
}

/**
 * What the delivery adds to latency when the pipeline keeps up: the pipeline runs on an empty topic, vectors are
 * produced live at a fixed rate, and each window's delivery time and last-input-to-label time are recorded.
 *
 * @param options - brokers, delivery mode, rate, duration
 */
export async function benchLatency(options: BenchLatencyOptions): Promise<BenchLatency> {
  const d = options.dimension ?? 8;
  const k = options.k ?? 8;
  const window = options.window ?? 1000;
  const rate = options.rate ?? 20_000;
  const seconds = options.seconds ?? 8;
  const kafka = await createKafkaClient(options.brokers, { clientId: 'emstream-bench-latency', logLevel: 'error' });
  const input = `emstream-latency-${options.delivery}-${Date.now().toString(36)}`;
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: input, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const instrumentation = new Instrumentation();
  const delivery: number[] = [];
  const lastInput: number[] = [];
  instrumentation.on('kafka.window.acknowledged', (e) => {
    delivery.push(e.acknowledgedAt - e.enqueuedAt);
    const last = e.records.at(-1);
    if (last !== undefined) lastInput.push(e.acknowledgedAt - Number(last.timestamp));
  });
  const run = await runKafkaPipeline({
    brokers: options.brokers,
    pipeline: standardPipeline({ window, k, name: 'latency', seed: 1 }),
    input,
    group: `${input}-g`,
    format: 'float32le',
    dimension: d,
    instrumentation,
    exactlyOnce: options.delivery === 'exactly-once',
  });
  await new Promise((r) => setTimeout(r, 1500)); // assigned (and, exactly once, the task open)
  const rng = new Rng(11);
  const payloads = Array.from({ length: 2000 }, () => encodeVector(Array.from({ length: d }, () => 8 * rng.int(k) + rng.normal()), 'float32le'));
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const tick = 50;
  const perTick = Math.round((rate * tick) / 1000);
  const started = Date.now();
  for (let t = 0, i = 0; Date.now() - started < seconds * 1000; t++) {
    await producer.sendBatch({ topicMessages: [{ topic: input, messages: Array.from({ length: perTick }, () => ({ value: payloads[i++ % payloads.length] })) }] });
    await new Promise((r) => setTimeout(r, Math.max(0, started + (t + 1) * tick - Date.now())));
  }
  await producer.disconnect();
  await new Promise((r) => setTimeout(r, 1000));
  await run.stop();
  const at = (list: number[], q: number): number => {
    const sorted = [...list].sort((a, b) => a - b);
    return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  };
  return {
    delivery: options.delivery,
    rate,
    windows: delivery.length,
    deliveryMs: { p50: at(delivery, 0.5), p95: at(delivery, 0.95) },
    lastInputToLabelMs: { p50: at(lastInput, 0.5), p95: at(lastInput, 0.95) },
  };
}

if (isEntryPoint(import.meta.url)) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const before = loadavg();
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt > 0 ? process.argv[onlyAt + 1] : undefined;
  if (only !== undefined && only !== 'passthrough' && only !== 'em') throw new Error(`--only takes passthrough or em, not ${JSON.stringify(only)}`);
  const producerAt = process.argv.indexOf('--producer');
  const producer = producerAt > 0 ? process.argv[producerAt + 1] : undefined;
  if (producer !== undefined && producer !== 'main' && producer !== 'worker' && producer !== 'both') throw new Error(`--producer takes main, worker or both, not ${JSON.stringify(producer)}`);
  const fastProduceEncoder = !process.argv.includes('--kafkajs-encoder');
  const deliveryAt = process.argv.indexOf('--delivery');
  const delivery = deliveryAt > 0 ? process.argv[deliveryAt + 1] : undefined;
  if (delivery !== undefined && !['at-least-once', 'exactly-once', 'both'].includes(delivery)) throw new Error(`--delivery takes at-least-once, exactly-once or both, not ${JSON.stringify(delivery)}`);
  const monitoringAt = process.argv.indexOf('--monitoring');
  const monitoring = monitoringAt > 0 ? process.argv[monitoringAt + 1] : undefined;
  if (monitoring !== undefined && !['off', 'topics', 'metrics', 'all'].includes(monitoring)) throw new Error(`--monitoring takes off, topics, metrics or all, not ${JSON.stringify(monitoring)}`);
  const result = await benchKafka({
    vectors: arg('vectors'),
    dimension: arg('dimension'),
    k: arg('k'),
    window: arg('window'),
    repeat: arg('repeat'),
    only,
    producer,
    fastProduceEncoder,
    monitoring: monitoring as Monitoring | 'all' | undefined,
    delivery: delivery as DeliveryMode | 'both' | undefined,
  });
  console.log(
    JSON.stringify(
      { machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`, node: process.version, produceEncoder: fastProduceEncoder ? 'emstream' : 'kafkajs', loadAverageBefore: before.map((l) => +l.toFixed(2)), ...result, targets: { ratio: 0.8, endToEndVectorsPerSecond: 100_000, exactlyOnceOverAtLeastOnce: 0.7, exactlyOnceVectorsPerSecond: 40_000 } },
      null,
      2,
    ),
  );
}
