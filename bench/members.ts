/**
 * Members benchmark: one pipeline process against two (separate processes, one consumer group) on a 4-partition topic
 * in the shared-model mode — vectors/s and the CPU the pipeline processes spend per vector — with one process in the
 * default mode (a model of its own) for reference. Runs alternate between the cases; medians are reported.
 *
 *   KAFKA_BROKERS=127.0.0.1:9092 node --import tsx bench/members.ts --vectors 400000 --repeat 3
 *   KAFKA_BROKERS=127.0.0.1:9092 node --import tsx bench/members.ts --only 2,3      # some cases (1: one member, own model; 2: one, shared; 3: two, shared)
 *   EMSTREAM_MEMBER_NODE_FLAGS=--cpu-prof KAFKA_BROKERS=… node --import tsx bench/members.ts --only 3 --repeat 1   # profile the members
 *
 * Each run: a fresh consumer group and pipeline id; the members start on the empty topic, are all assigned, and are
 * frozen (SIGSTOP, within a 30 s session) while the vectors are produced (float32le, D = 8 from K = 8 clusters), so each
 * reads its share of a backlog from the first vector on;
 * the clock runs from the first vector consumed to the last label acknowledged, and the CPU is each member's own
 * (`process.cpuUsage`, every thread) over the same span, summed over the members. Not a test: the numbers depend on
 * the machine and its load (printed with them).
 *
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { startLocalKafka, type LocalKafka } from '../src/devtools/broker.js';
import { createKafkaClient } from '../src/kafka/client/kafkajs.js';
import { produceVectors } from './kafka.js';
import { Rng } from '../src/gmm/rng.js';
import { SufficientStats } from '../src/gmm/stats.js';
import type { CovarianceType } from '../src/gmm/types.js';
import { contributionMessage, readStatsMessage } from '../src/kafka/messages/contributions.js';
import { messageBytes } from '../src/kafka/messages/sizes.js';
import { ContributionLedger } from '../src/kafka/shared/ledger.js';
import { MAX_ROUND_SAMPLE, Round } from '../src/kafka/shared/round.js';
import { eStep, precompute } from '../src/gmm/estep.js';
import { StatisticsGmm } from '../src/gmm/stream/statistics.js';
import { isEntryPoint } from './entry.js';

/** A case of the benchmark. */
export type MembersCase = 'one member, own model' | 'one member, shared model' | 'two members, shared model';

const CASES: readonly { readonly name: MembersCase; readonly members: number; readonly shared: boolean }[] = [
  { name: 'one member, own model', members: 1, shared: false },
  { name: 'one member, shared model', members: 1, shared: true },
  { name: 'two members, shared model', members: 2, shared: true },
];

/** One run's figures. */
export interface MembersRun {
  readonly vectorsPerSecond: number;
  /** CPU of the pipeline processes per vector, µs (summed over members, from the first vector consumed to the last label). */
  readonly cpuMicrosPerVector: number;
  /** Global model versions at the end (shared model), or 0. */
  readonly versions: number;
}

/** Result of {@link benchMembers}. */
export interface MembersResult {
  readonly vectors: number;
  readonly partitions: number;
  readonly medians: Readonly<Record<MembersCase, MembersRun>>;
  readonly runs: readonly { readonly name: MembersCase; readonly run: MembersRun }[];
  /** CPU per vector of two members over one member, both sharing a model (target ≤ 1.2). */
  readonly cpuRatio: number;
  readonly loadAverage: readonly number[];
}

interface Line {
  t: number;
  consumed: number;
  labelled: number;
  fetched: number;
  assigned: number;
  ready: boolean;
  reducer: boolean;
  version: number | null;
  cpuMicros: number;
}

/** A member process and its latest report. */
class Member {
  readonly child: ChildProcess;
  readonly lines: Line[] = [];
  readonly exited: Promise<number | null>;

  constructor(config: object) {
    const root = new URL('..', import.meta.url);
    const flags = process.env.EMSTREAM_MEMBER_NODE_FLAGS?.split(' ').filter((f) => f !== '') ?? [];
    this.child = spawn(process.execPath, [...flags, '--import', 'tsx', 'bench/member.ts', JSON.stringify(config)], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
    let partial = '';
    this.child.stdout!.on('data', (c: Buffer) => {
      const parts = (partial + c.toString()).split('\n');
      partial = parts.pop() ?? '';
      for (const p of parts) if (p.trim() !== '') this.lines.push(JSON.parse(p) as Line);
    });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  get last(): Line | undefined {
    return this.lines.at(-1);
  }

  /** The first report with something consumed. */
  firstConsumed(): Line | undefined {
    return this.lines.find((l) => l.consumed > 0);
  }

  /** The last report at or before `t`. */
  at(t: number): Line | undefined {
    let found: Line | undefined;
    for (const l of this.lines) if (l.t <= t) found = l;
    return found;
  }

  async stop(): Promise<void> {
    this.child.stdin!.write('stop\n');
    await this.exited;
  }
}

async function until(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Runs the cases alternately on one broker.
 *
 * @param options - brokers (default KAFKA_BROKERS, else a broker started for the run), vectors, repeats
 */
export async function benchMembers(options: { brokers?: readonly string[]; vectors?: number; repeat?: number; d?: number; k?: number; window?: number; only?: readonly MembersCase[]; log?: (line: string) => void } = {}): Promise<MembersResult> {
  const n = options.vectors ?? 400_000;
  const d = options.d ?? 8;
  const k = options.k ?? 8;
  const window = options.window ?? 1000;
  const partitions = 4;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let broker: LocalKafka | undefined;
  let brokers = options.brokers ?? process.env.KAFKA_BROKERS?.split(',').filter((s) => s !== '');
  if (brokers === undefined || brokers.length === 0) {
    broker = await startLocalKafka({ heapMb: 768 });
    brokers = broker.brokers;
  }
  const runs: { name: MembersCase; run: MembersRun }[] = [];
  try {
    const kafka = await createKafkaClient(brokers, { clientId: 'emstream-bench-members', logLevel: 'error' });
    const repeat = Math.max(1, options.repeat ?? 3);
    for (let attempt = 0; attempt < repeat; attempt++) {
      const chosen = options.only === undefined ? CASES : CASES.filter((c) => options.only!.includes(c.name));
      const order = attempt % 2 === 0 ? chosen : [...chosen].reverse();
      for (const c of order) {
        const input = `emstream-members-${Date.now().toString(36)}`;
        const admin = kafka.admin();
        await admin.connect();
        await admin.createTopics({ topics: [{ topic: input, numPartitions: partitions, replicationFactor: 1 }], waitForLeaders: true });
        await admin.disconnect();
        const config = { brokers, input, group: `${input}-g`, pipelineId: input, shared: c.shared, d, k, window };
        const members = Array.from({ length: c.members }, () => new Member(config));
        try {
          // Every member assigned its share before the first vector is produced.
          await until(() => members.every((m) => m.last?.ready === true) && members.reduce((s, m) => s + (m.last?.assigned ?? 0), 0) === partitions && members.every((m) => (m.last?.assigned ?? 0) >= Math.floor(partitions / c.members)), 90_000, 'the members to be assigned');
          // Frozen while the backlog is produced, so every member reads a backlog from its first vector on (not
          // a trickle that it keeps up with), as the single-partition benchmark does.
          for (const m of members) m.child.kill('SIGSTOP');
          log(`${c.name}: producing ${n} vectors to ${input}...`);
          try {
            await produceVectors(kafka, input, n, d, k);
          } finally {
            for (const m of members) m.child.kill('SIGCONT');
          }
          await until(() => members.reduce((s, m) => s + (m.last?.labelled ?? 0), 0) >= n, 300_000, 'every vector labelled');
          // The end: the first report time at which the members' labels add up to every vector.
          const times = [...new Set(members.flatMap((m) => m.lines.map((l) => l.t)))].sort((a, b) => a - b);
          const end = times.find((t) => members.reduce((s, m) => s + (m.at(t)?.labelled ?? 0), 0) >= n)!;
          const starts = members.map((m) => m.firstConsumed());
          const first = Math.min(...starts.filter((l): l is Line => l !== undefined).map((l) => l.t));
          let cpu = 0;
          for (const m of members) {
            const from = m.at(first) ?? m.lines[0];
            const to = m.at(end) ?? m.last!;
            cpu += to.cpuMicros - from.cpuMicros;
          }
          const versions = Math.max(...members.map((m) => m.last?.version ?? 0));
          const run: MembersRun = { vectorsPerSecond: Math.round(n / ((end - first) / 1000)), cpuMicrosPerVector: +(cpu / n).toFixed(1), versions };
          log(`  ${run.vectorsPerSecond} vectors/s, ${run.cpuMicrosPerVector} µs CPU/vector, ${versions} global versions, consumed ${members.map((m) => m.last?.consumed ?? 0).join(' + ')} (fetched ${members.map((m) => m.last?.fetched ?? 0).join(' + ')}), load ${loadavg()[0].toFixed(2)}`);
          runs.push({ name: c.name, run });
        } finally {
          await Promise.all(members.map((m) => m.stop()));
        }
      }
    }
  } finally {
    await broker?.stop();
  }
  const median = (name: MembersCase): MembersRun => {
    const sorted = runs.filter((r) => r.name === name).map((r) => r.run).sort((a, b) => a.cpuMicrosPerVector - b.cpuMicrosPerVector);
    const byRate = runs.filter((r) => r.name === name).map((r) => r.run.vectorsPerSecond).sort((a, b) => a - b);
    const mid = sorted[(sorted.length - 1) >> 1];
    return { ...mid, vectorsPerSecond: byRate[(byRate.length - 1) >> 1] };
  };
  const medians = Object.fromEntries(CASES.map((c) => [c.name, median(c.name)])) as Record<MembersCase, MembersRun>;
  return { vectors: n, partitions, medians, runs, cpuRatio: medians['two members, shared model'].cpuMicrosPerVector / medians['one member, shared model'].cpuMicrosPerVector, loadAverage: loadavg() };
}

/**
 * The reducer's work per contribution, in process (no broker): read the message (JSON, statistics and sample in
 * base64), admit it (ledger) and merge it into a round; and the bytes of a contribution. For the design's limits on
 * paper (docs/scaling.md): contributions a reducer takes per second, and what they put on the statistics topic.
 *
 * @param shapes - K, D, covariance type and sample points of each row
 */
export function reducerCost(shapes: readonly { k: number; d: number; type: CovarianceType; samplePoints: number }[] = [
  { k: 8, d: 8, type: 'full', samplePoints: 32 },
  { k: 8, d: 64, type: 'diag', samplePoints: 32 },
  { k: 10, d: 64, type: 'full', samplePoints: 32 },
]): { k: number; d: number; type: CovarianceType; samplePoints: number; bytes: number; microsPerContribution: number }[] {
  return shapes.map(({ k, d, type, samplePoints }) => {
    const rng = new Rng(3);
    const stats = new SufficientStats(k, d, type, new Float64Array(d));
    for (const a of [stats.s0, stats.s1, stats.s2]) for (let i = 0; i < a.length; i++) a[i] = rng.uniform() * 100;
    const sample = Float64Array.from({ length: samplePoints * d }, () => rng.normal());
    const messages = Array.from({ length: 200 }, (_, i) =>
      contributionMessage({ topic: 'points', partition: i % 4, firstOffset: String(i * 1000), lastOffset: String(i * 1000 + 999), count: 1000, windowShare: 1, modelVersion: 1, stats, logLikelihood: -1, logLikelihoodSquares: 1, expectedLogLikelihood: -1, sample, sampleSize: samplePoints }, 'bench'),
    );
    const bytes = messageBytes(messages[0]);
    const values = messages.map((m) => Buffer.from(m.value as string));
    const times: number[] = [];
    for (let rep = 0; rep < 7; rep++) {
      const ledger = new ContributionLedger();
      const round = new Round({ k, d, covarianceType: type, shift: new Float64Array(d) }, rep);
      const started = performance.now();
      for (const value of values) {
        const c = readStatsMessage(value);
        if (c.kind !== 'contribution') continue;
        const a = ledger.admit(c, 1, 8);
        if (a.weight > 0) round.add(c, a.weight, 0);
      }
      times.push(((performance.now() - started) * 1000) / values.length);
    }
    times.sort((a, b) => a - b);
    return { k, d, type, samplePoints, bytes, microsPerContribution: +times[3].toFixed(1) };
  });
}

/**
 * The reducer's numeric step per round, in process: `StatisticsGmm.merge` of a stationary round (statistics of 4 × 1000
 * points under the model, a pooled sample of MAX_ROUND_SAMPLE points) — the M-step, the drift tests, and birth and
 * death's probes on the sample when they are due. Median and largest over 40 rounds after 5 of warm-up.
 */
export function reducerStepCost(shape: { k: number; d: number; type: CovarianceType } = { k: 8, d: 8, type: 'full' }): { k: number; d: number; type: CovarianceType; sample: number; medianMs: number; maxMs: number } {
  const { k, d, type } = shape;
  const rng = new Rng(5);
  const centres = Array.from({ length: k * d }, () => rng.normal() * 6);
  const points = (n: number): Float64Array => {
    const out = new Float64Array(n * d);
    for (let i = 0; i < n; i++) for (let a = 0; a < d; a++) out[i * d + a] = centres[(i % k) * d + a] + rng.normal();
    return out;
  };
  const gmm = new StatisticsGmm({ k, covarianceType: type, halfLife: 20, seed: 1 });
  gmm.seed({ n: 4000, d, data: points(4000) });
  const times: number[] = [];
  for (let r = 0; r < 45; r++) {
    const data = points(4000);
    const model = gmm.model!;
    const pre = precompute(model);
    if (!pre.ok) throw new Error('the benchmark model is not factorable');
    const stats = new SufficientStats(k, d, type, gmm.shift!);
    const logDensity = new Float64Array(4000);
    const sums = eStep(pre.value, data, 4000, false, stats, { logDensity });
    const sample = data.subarray(0, Math.min(MAX_ROUND_SAMPLE, 4000) * d);
    const round = { stats, count: 4000, windows: 4, logLikelihood: sums.logLikelihood, logLikelihoodSquares: logDensity.reduce((s, x) => s + x * x, 0), sample: { n: sample.length / d, d, data: sample } };
    const started = performance.now();
    gmm.merge(round);
    if (r >= 5) times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return { k, d, type, sample: Math.min(MAX_ROUND_SAMPLE, 4000), medianMs: +times[times.length >> 1].toFixed(2), maxMs: +times[times.length - 1].toFixed(2) };
}

if (isEntryPoint(import.meta.url)) {
  const arg = (name: string): number | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i > 0 ? Number(process.argv[i + 1]) : undefined;
  };
  const before = loadavg();
  if (process.argv.includes('--reducer-cost')) {
    console.log(JSON.stringify({ perContribution: reducerCost(), perRound: reducerStepCost() }, null, 2));
    process.exit(0);
  }
  const onlyAt = process.argv.indexOf('--only');
  const only = onlyAt > 0 ? (process.argv[onlyAt + 1].split(',').map((m) => CASES[Number(m) - 1]?.name).filter((c) => c !== undefined)) : undefined;
  const result = await benchMembers({ vectors: arg('vectors'), repeat: arg('repeat'), only });
  console.log(JSON.stringify({ machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}`, node: process.version, loadAverageBefore: before.map((l) => +l.toFixed(2)), ...result, target: { cpuRatio: 1.2 } }, null, 2));
}
