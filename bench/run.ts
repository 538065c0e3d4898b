/**
 * `npm run bench`: every benchmark of emstream, printed as Markdown tables (the README's tables come
 * from here). Not a test: numbers depend on the machine and its load.
 *
 *   npm run bench                    # all sections
 *   npm run bench -- gmm streaming   # some sections (gmm, streaming, quality, kafka)
 *
 * The EM section also runs scikit-learn on the same data (bench/sklearn_bench.py) when `python3`
 * (or $EMSTREAM_PYTHON) can import scikit-learn, single-threaded (--threads 1) so both sides use
 * one core, and reports the ratio ours / theirs.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { qualitySection } from './quality.js';
import { throughput, windowLatency } from './streaming.js';

const sections = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const want = (s: string): boolean => sections.length === 0 || sections.includes(s);
const python = process.env.EMSTREAM_PYTHON ?? 'python3';

interface Row {
  secondsPerIteration: number;
  pointsIterationsPerSecond: number;
  peakRssMb: number;
}

function hasSklearn(): string | null {
  const r = spawnSync(python, ['-c', 'import sklearn; print(sklearn.__version__)'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function fmt(x: number, digits = 3): string {
  return x >= 100 ? x.toFixed(0) : x.toPrecision(digits);
}

function header(): void {
  console.log(`\nmachine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}\n`);
}

async function gmmSection(): Promise<void> {
  const sk = hasSklearn();
  console.log(`## EM per iteration (tol 0, random-from-data init; scikit-learn ${sk ?? 'not available'}, 1 BLAS thread)\n`);
  console.log('| N | D | K | covariance | ours s/iter | ours points·iter/s | ours peak MB | sklearn s/iter | sklearn points·iter/s | sklearn peak MB | ours / sklearn |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  const dir = mkdtempSync(join(tmpdir(), 'emstream-bench-'));
  const configs: [number, number, number, string, number][] = [
    [100_000, 8, 8, 'full', 10],
    [100_000, 2, 3, 'full', 20],
    [20_000, 32, 8, 'full', 10],
    [100_000, 8, 8, 'diag', 20],
  ];
  try {
    for (const [n, d, k, cov, iters] of configs) {
      const file = join(dir, `data-${n}-${d}-${k}.f64`);
      const ours = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', join('bench', 'gmm-one.ts'), `${n}`, `${d}`, `${k}`, cov, `${iters}`, '1', file], { encoding: 'utf8' })) as Row;
      let theirs: Row | null = null;
      if (sk) {
        const out = execFileSync(python, [join('bench', 'sklearn_bench.py'), '--n', `${n}`, '--d', `${d}`, '--k', `${k}`, '--cov', cov, '--iters', `${iters}`, '--seed', '1', '--data', file, '--threads', '1', '--repeats', '3'], { encoding: 'utf8' });
        theirs = JSON.parse(out.trim().split('\n').pop()!) as Row;
      }
      console.log(
        `| ${n} | ${d} | ${k} | ${cov} | ${fmt(ours.secondsPerIteration)} | ${fmt(ours.pointsIterationsPerSecond)} | ${fmt(ours.peakRssMb)} | ` +
          (theirs ? `${fmt(theirs.secondsPerIteration)} | ${fmt(theirs.pointsIterationsPerSecond)} | ${fmt(theirs.peakRssMb)} | ${(ours.secondsPerIteration / theirs.secondsPerIteration).toFixed(2)} |` : '— | — | — | — |'),
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function streamingSection(): Promise<void> {
  console.log('\n## Streaming (in process): window fit latency, 1000 points, D = 8, K = 8, full\n');
  console.log('| variant | p50 ms | p99 ms | mean EM iterations |');
  console.log('|---|---|---|---|');
  const warm = windowLatency({ d: 8, k: 8, size: 1000, windows: 200, restartsEveryWindow: false });
  console.log(`| warm start only | ${fmt(warm.p50Ms)} | ${fmt(warm.p99Ms)} | ${warm.meanIterations.toFixed(1)} |`);
  const cold = windowLatency({ d: 8, k: 8, size: 1000, windows: 50, restartsEveryWindow: true });
  console.log(`| warm + 3 cold restarts | ${fmt(cold.p50Ms)} | ${fmt(cold.p99Ms)} | ${cold.meanIterations.toFixed(1)} |`);
  const tp = await throughput({ d: 8, k: 8, size: 1000, points: 1_000_000 });
  console.log(`\nthroughput windowVectors → fitMixture → toLabels (D = 8, K = 8, window 1000, 1M points): **${fmt(tp.pointsPerSecond)} points/s** (${tp.seconds.toFixed(2)} s)`);
}

async function kafkaSection(): Promise<void> {
  type Result = { endToEnd: { vectorsPerSecond: number; cpuMicrosPerVector: number }; passthrough: { vectorsPerSecond: number; cpuMicrosPerVector: number }; ratio: number };
  const mod = (await import('./kafka.js')) as { benchKafka: (o?: object) => Promise<Result> };
  const { startLocalKafka } = await import('../src/kafka/broker.js');
  console.log("\n## Kafka end to end (real broker on the same 2 cores, one partition, 200k vectors, D = 8, K = 8, window 1000; medians of 3 alternating runs)\n");
  const { benchEncode } = await import('./encode.js');
  const enc = await benchEncode();
  console.log(
    `produce request encoding, 1000 label messages per request (no broker): kafkajs ${enc.kafkajsMicrosPerMessage.toFixed(2)} µs/message, emstream ${enc.emstreamMicrosPerMessage.toFixed(2)} µs/message (**${enc.speedup.toFixed(1)}×**)\n`,
  );
  // One broker for both encoders (KAFKA_BROKERS if set).
  const env = process.env.KAFKA_BROKERS?.split(',').filter((s) => s !== '');
  const broker = env === undefined || env.length === 0 ? await startLocalKafka({ heapMb: 768 }) : undefined;
  const brokers = env !== undefined && env.length > 0 ? env : broker!.brokers;
  try {
    const fast = await mod.benchKafka({ brokers, repeat: 3, log: () => {} });
    const kafkajs = await mod.benchKafka({ brokers, repeat: 3, fastProduceEncoder: false, log: () => {} });
    console.log('| pipeline | vectors/s | µs CPU / vector | with kafkajs’s produce encoder: vectors/s | µs CPU / vector |');
    console.log('|---|---|---|---|---|');
    console.log(`| broker → windows → EM → labels on the broker | ${fmt(fast.endToEnd.vectorsPerSecond)} | ${fast.endToEnd.cpuMicrosPerVector} | ${fmt(kafkajs.endToEnd.vectorsPerSecond)} | ${kafkajs.endToEnd.cpuMicrosPerVector} |`);
    console.log(`| passthrough (consume → produce, no EM) | ${fmt(fast.passthrough.vectorsPerSecond)} | ${fast.passthrough.cpuMicrosPerVector} | ${fmt(kafkajs.passthrough.vectorsPerSecond)} | ${kafkajs.passthrough.cpuMicrosPerVector} |`);
    console.log(`\nratio end-to-end / passthrough: **${fast.ratio.toFixed(2)}** (with kafkajs’s encoder: ${kafkajs.ratio.toFixed(2)})`);
  } finally {
    await broker?.stop();
  }
}

header();
if (want('gmm')) await gmmSection();
if (want('streaming')) await streamingSection();
if (want('quality')) await qualitySection();
if (want('kafka')) await kafkaSection();
