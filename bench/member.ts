/**
 * One member of the members benchmark (`bench/members.ts`), in a process of its own: runs the standard pipeline on
 * the input (float32le), with or without the shared model, and reports on stdout, every 50 ms, one JSON line with its
 * counters, its assigned partitions and the CPU time of the whole process (every thread). "stop" on stdin stops it.
 *
 *   node --import tsx bench/member.ts '{"brokers":["127.0.0.1:9092"],"input":"…","group":"…","pipelineId":"…","shared":true,"d":8,"k":8,"window":1000}'
 *
 * @module
 */
import { Instrumentation } from '../src/instrumentation.js';
import { runKafkaPipeline } from '../src/kafka/run/runner.js';
import { standardPipeline } from '../src/kafka/run/standardPipeline.js';

interface MemberConfig {
  readonly brokers: string[];
  readonly input: string;
  readonly group: string;
  readonly pipelineId: string;
  readonly shared: boolean;
  readonly d: number;
  readonly k: number;
  readonly window: number;
}

const config = JSON.parse(process.argv[2]) as MemberConfig;
const instrumentation = new Instrumentation();
let assigned = 0;
/** Input records delivered by the consumer's fetches (more than consumed when fetched batches are read again). */
let fetched = 0;
instrumentation.on('kafka.fetch', (e) => {
  if (e.topic === config.input) fetched += e.messages;
});
instrumentation.on('kafka.rebalance', (e) => {
  if (e.groupId === config.group) assigned = e.assigned.reduce((s, t) => s + t.partitions.length, 0);
});
const run = await runKafkaPipeline({
  brokers: config.brokers,
  pipeline: standardPipeline({ window: config.window, k: config.k, name: 'members', seed: 1 }),
  input: config.input,
  group: config.group,
  pipelineId: config.pipelineId,
  models: `${config.pipelineId}.models`,
  labels: `${config.pipelineId}.labels`,
  deadLetters: `${config.pipelineId}.dead-letters`,
  windows: false,
  drift: false,
  fromBeginning: true,
  format: 'float32le',
  dimension: config.d,
  maxInFlight: Math.max(20_000, 4 * config.window),
  sessionTimeoutMs: 30_000, // frozen while the input is produced (see members.ts)
  instrumentation,
  ...(config.shared ? { sharedModel: true } : {}),
});
const report = (): void => {
  const cpu = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ t: Date.now(), consumed: run.counters.consumed, labelled: run.counters.labelled, fetched, assigned, ready: run.ready, reducer: run.sharedModel?.reducer ?? false, version: run.sharedModel?.version ?? null, cpuMicros: cpu.user + cpu.system })}\n`);
};
const timer = setInterval(report, 50);
process.stdin.on('data', (chunk: Buffer) => {
  if (!chunk.toString().includes('stop')) return;
  clearInterval(timer);
  report();
  void run.stop().then(() => process.exit(0));
});
