/**
 * `npm run bench`: every benchmark of emstream, printed as Markdown tables (the tables in docs/benchmarks.md come
 * from here). Not a test: numbers depend on the machine and its load.
 *
 *   npm run bench                    # all sections
 *   npm run bench -- gmm streaming   # some sections (gmm, threads, kernels, streaming, readers, quality, kafka; members: the shared-model case of kafka alone)
 *   npm run bench -- calibrate       # the drift alarm thresholds (bench/calibrate.ts; only when named: ~10 min)
 *   npm run bench -- streaming --breakdown   # also where a window's time goes, per phase (bench/operator.ts)
 *
 * The EM section also runs scikit-learn on the same data (bench/sklearn_bench.py) when `python3`
 * (or $EMSTREAM_PYTHON) can import scikit-learn, with one BLAS thread and with one per core
 * (threadpoolctl), next to ours with one E-step thread and with one per core, and reports the ratios.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { calibrationSection, checkSection } from './calibrate.js';
import { qualitySection, suiteSection } from './quality.js';
import { throughput, windowLatency } from './streaming.js';
import { buildKernels } from '../test/setup/wasm.js';
import { simdStatus } from '../src/gmm/simd.js';
import { windowThreads } from '../src/gmm/streaming.js';

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
  const simd = simdStatus();
  console.log(`\nmachine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}; WebAssembly SIMD kernels: ${simd.available ? 'on' : `off (${simd.reason})`}\n`);
}

/**
 * Floating-point operations per point and EM iteration, as our kernels do them (log-densities of every
 * component, then the statistics of the components a point belongs to: on these well-separated blobs,
 * one), and as scikit-learn's dense BLAS formulation does them.
 */
function flops(d: number, k: number, cov: string): { ours: number; sklearn: number } {
  const t = (d * (d + 1)) / 2;
  if (cov === 'full' || cov === 'tied') return { ours: k * (2 * t + 3 * d) + 2 * t + 3 * d, sklearn: 4 * k * d * d };
  return { ours: 4 * k * d + 5 * d, sklearn: 8 * k * d };
}

async function gmmSection(): Promise<void> {
  const sk = hasSklearn();
  const all = cpus().length;
  console.log(`## EM per iteration (tol 0, random-from-data init; scikit-learn ${sk ?? 'not available'}, 1 and ${all} BLAS threads)\n`);
  console.log(
    `| N | D | K | covariance | ours 1 thread s/iter | ours ${all} threads s/iter | sklearn 1 thread s/iter | sklearn ${all} threads s/iter | ours / sklearn (1) | ours / sklearn (${all}) | flops per point·iter (ours / sklearn) | rate 1 thread GFLOP/s (ours / sklearn) | ours peak MB |`,
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  const dir = mkdtempSync(join(tmpdir(), 'emstream-bench-'));
  const configs: [number, number, number, string, number][] = [
    [100_000, 8, 8, 'full', 10],
    [100_000, 2, 3, 'full', 20],
    [20_000, 32, 8, 'full', 10],
    [100_000, 8, 8, 'diag', 20],
    [20_000, 64, 8, 'diag', 10],
    [20_000, 256, 8, 'diag', 6],
    [20_000, 768, 8, 'diag', 4],
    [20_000, 64, 8, 'full', 4],
    [20_000, 256, 8, 'full', 3],
  ];
  try {
    for (const [n, d, k, cov, iters] of configs) {
      const file = join(dir, `data-${n}-${d}-${k}.f64`);
      const ours = (threads: number): Row =>
        JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', join('bench', 'gmm-one.ts'), `${n}`, `${d}`, `${k}`, cov, `${iters}`, '1', file, `${threads}`], { encoding: 'utf8' })) as Row;
      const one = ours(1);
      const many = ours(all);
      const theirs = (threads: number): Row | null => {
        if (!sk) return null;
        const out = execFileSync(python, [join('bench', 'sklearn_bench.py'), '--n', `${n}`, '--d', `${d}`, '--k', `${k}`, '--cov', cov, '--iters', `${iters}`, '--seed', '1', '--data', file, '--threads', `${threads}`, '--repeats', '3'], { encoding: 'utf8' });
        return JSON.parse(out.trim().split('\n').pop()!) as Row;
      };
      const s1 = theirs(1);
      const sN = theirs(all);
      const f = flops(d, k, cov);
      const ratio = (a: Row, b: Row | null): string => (b ? (a.secondsPerIteration / b.secondsPerIteration).toFixed(2) : '—');
      const rate = (fl: number, r: Row | null): string => (r ? ((fl * n) / r.secondsPerIteration / 1e9).toFixed(1) : '—');
      console.log(
        `| ${n} | ${d} | ${k} | ${cov} | ${fmt(one.secondsPerIteration)} | ${fmt(many.secondsPerIteration)} | ${s1 ? fmt(s1.secondsPerIteration) : '—'} | ${sN ? fmt(sN.secondsPerIteration) : '—'} | ` +
          `${ratio(one, s1)} | ${ratio(many, sN)} | ${fmt(f.ours)} / ${fmt(f.sklearn)} | ${rate(f.ours, one)} / ${rate(f.sklearn, s1)} | ${fmt(one.peakRssMb)} |`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function operatorSection(): Promise<void> {
  const { operatorVsSklearn, breakdown, breakdownConfigs } = await import('./operator.js');
  const sk = hasSklearn();
  console.log(`\n## The streaming operator against scikit-learn ${sk ?? '(not available)'} GaussianMixture(warm_start=True) refitted per window\n`);
  console.log('windowVectors → fitMixture → toLabels (halfLife 10, restart never, defaults otherwise: adaptive forgetting, birth and death, drift), one thread, windows of 1000 after 70 untimed (the cold start and the ramp of the birth-and-death probe schedule: the timed windows, a multiple of 64, are a running stream’s steady state with its one probe per 64 windows); scikit-learn fit + predict on the same windows, one BLAS thread; medians of 3 interleaved runs. CPU ms is the process\'s CPU time per window (user + system), the steadier figure on a loaded machine.\n');
  console.log('The last three columns: the same pipeline with windowVectors({ reuseBuffers: true }) (each window\'s memory lent, and moved to the window two after it), run interleaved with the default.\n');
  console.log('| D | K | covariance | windows | ours ms/window | ours CPU ms/window | ours points/s | sklearn fit + predict ms | sklearn CPU ms | sklearn fit ms | speed-up over sklearn (wall) | speed-up (CPU) | reuseBuffers ms/window | reuseBuffers CPU ms | reuseBuffers speed-up (wall) |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of await operatorVsSklearn({ python: sk === null ? null : python })) {
    const ratio = (a: number | null, b: number): string => (a === null ? '—' : `${(a / b).toFixed(2)}×`);
    console.log(
      `| ${r.d} | ${r.k} | ${r.cov} | ${r.windows} | ${fmt(r.oursMs)} | ${fmt(r.oursCpuMs)} | ${fmt(r.pointsPerSecond)} | ${r.sklearnFitPredictMs === null ? '—' : fmt(r.sklearnFitPredictMs)} | ${r.sklearnCpuMs === null ? '—' : fmt(r.sklearnCpuMs)} | ${r.sklearnFitMs === null ? '—' : fmt(r.sklearnFitMs)} | ${ratio(r.sklearnFitPredictMs, r.oursMs)} | ${ratio(r.sklearnCpuMs, r.oursCpuMs)} | ${fmt(r.lentMs)} | ${fmt(r.lentCpuMs)} | ${ratio(r.sklearnFitPredictMs, r.lentMs)} |`,
    );
  }
  const { operatorThreads } = await import('./operator.js');
  const th = await operatorThreads(3, cpus().length);
  console.log('\nthe operator at D = 384, diag, K = 16 on more than one thread (the source at most one window ahead of the updates; wall clock and CPU per window, medians of 3 interleaved):\n');
  console.log('| mode | ms/window | CPU ms/window | against one thread | longest block of the event loop, ms |');
  console.log('|---|---|---|---|---|');
  for (const m of th) console.log(`| ${m.name} | ${fmt(m.wallMs)} | ${fmt(m.cpuMs)} | ${(th[0].wallMs / m.wallMs).toFixed(2)}× | ${fmt(m.loopDelayMaxMs)} |`);
  const { coreScaling } = await import('./threads.js');
  const cores = await coreScaling();
  console.log(`\ntwo threads of this machine on a plain multiply-add loop (each its own copy of the work; medians of 3): ${cores.inCache.toFixed(2)}× over an array in cache (32 KB), ${cores.inMemory.toFixed(2)}× over one in memory (32 MB)`);
  if (!process.argv.includes('--breakdown')) return;
  console.log('\n### Where a window\'s time goes (ms per window, mean over the timed windows; phases exclusive; `em` is the warm candidate\'s EM runs)\n');
  const phases = ['validation', 'componentTests', 'predict', 'selection', 'alignment', 'birthDeath', 'kChange', 'labels', 'carry', 'drift', 'emission'] as const;
  console.log(`| D | K | covariance | windows | EM iterations | em | window assembly | ${phases.join(' | ')} | toLabels | beyond EM / EM |`);
  console.log(`|---|---|---|---|---|---|---|${phases.map(() => '---').join('|')}|---|---|`);
  for (const r of await breakdown(breakdownConfigs())) {
    const beyond = r.assemblyMs + r.labelsMs + phases.reduce((s, p) => s + r.phases[p], 0);
    console.log(`| ${r.d} | ${r.k} | ${r.cov} | ${r.windows} | ${r.meanIterations.toFixed(1)} | ${fmt(r.phases.em)} | ${fmt(r.assemblyMs)} | ${phases.map((p) => fmt(r.phases[p])).join(' | ')} | ${fmt(r.labelsMs)} | ${(beyond / r.phases.em).toFixed(2)} |`);
  }
}

async function streamingSection(): Promise<void> {
  await operatorSection();
  console.log('\n## Streaming (in process): window fit latency, 1000 points, D = 8, K = 8, full\n');
  console.log('| variant | p50 ms | p99 ms | mean EM iterations |');
  console.log('|---|---|---|---|');
  const warm = windowLatency({ d: 8, k: 8, size: 1000, windows: 200, restartsEveryWindow: false });
  console.log(`| warm start only | ${fmt(warm.p50Ms)} | ${fmt(warm.p99Ms)} | ${warm.meanIterations.toFixed(1)} |`);
  const cold = windowLatency({ d: 8, k: 8, size: 1000, windows: 50, restartsEveryWindow: true });
  console.log(`| warm + 3 cold restarts | ${fmt(cold.p50Ms)} | ${fmt(cold.p99Ms)} | ${cold.meanIterations.toFixed(1)} |`);
  const tp = await throughput({ d: 8, k: 8, size: 1000, points: 1_000_000 });
  console.log(`\nthroughput windowVectors → fitMixture → toLabels (D = 8, K = 8, window 1000, 1M points): **${fmt(tp.pointsPerSecond)} points/s** (${tp.seconds.toFixed(2)} s)`);
  // embeddings: window 1000 × 384, diagonal, K = 16: the whole window
  const { windowEm } = await import('./threads.js');
  console.log('\n### Embeddings windows: 1000 × 384, diag, K = 16, the whole window (warm windows, defaults, halfLife 10)\n');
  console.log('| variant | p50 ms | p99 ms | points/s | mean EM iterations |');
  console.log('|---|---|---|---|---|');
  for (const threads of [1, cpus().length]) {
    const emb = windowLatency({ d: 384, k: 16, size: 1000, windows: 60, restartsEveryWindow: false, covarianceType: 'diag', threads });
    console.log(`| StreamingGmm.update (EM, adaptive forgetting, birth/death, matching, model distance), ${threads} thread${threads > 1 ? 's' : ''} | ${fmt(emb.p50Ms)} | ${fmt(emb.p99Ms)} | ${fmt(emb.pointsPerSecond)} | ${emb.meanIterations.toFixed(1)} |`);
  }
  const embTp = await throughput({ d: 384, k: 16, size: 1000, points: 60_000, covarianceType: 'diag' });
  console.log(`| windowVectors → fitMixture → toLabels (the operator; its model and state made on demand, not read here), 1 thread | — | — | ${fmt(embTp.pointsPerSecond)} | — |`);
  const em = windowEm({ d: 384, k: 16, size: 1000, windows: 60, cov: 'diag', threads: 1 });
  console.log(`| for reference: the window's EM alone (runEM), 1 thread | ${fmt(em.p50Ms)} | ${fmt(em.p99Ms)} | ${fmt(em.pointsPerSecond)} | ${em.meanIterations.toFixed(1)} |`);
  console.log(`\n(default threads: ${windowThreads(undefined, 1000, 16, 384, 'diag')} for this window; see the threads section for the crossover)`);
}

async function kafkaSection(): Promise<void> {
  const mod = await import('./kafka.js');
  const { startLocalKafka } = await import('../src/devtools/broker.js');
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
    const every10 = await mod.benchKafka({ brokers, repeat: 3, only: 'em', stateEveryWindows: 10, log: () => {} });
    console.log(`\nthe same EM pipeline with the state every 10 windows (\`stateEveryWindows: 10\`): ${fmt(every10.endToEnd.vectorsPerSecond)} vectors/s, ${every10.endToEnd.cpuMicrosPerVector} µs CPU / vector (target: ≥ 100k vectors/s on one partition)`);

    // The two deliveries on the same broker and the same input, interleaved.
    const both = await mod.benchKafka({ brokers, repeat: 3, delivery: 'both', only: 'em', log: () => {} });
    const alo = both.byDelivery!['at-least-once'].endToEnd;
    const eos = both.byDelivery!['exactly-once'].endToEnd;
    const paced = [];
    for (const delivery of ['at-least-once', 'exactly-once'] as const) paced.push(await mod.benchLatency({ brokers, delivery }));
    const [pacedAlo, pacedEos] = paced;
    console.log(`\n### At least once vs exactly once (the same EM pipeline; throughput from a backlog, medians of 3 alternating runs; latency paced at ${fmt(pacedAlo.rate)} vectors/s)\n`);
    console.log('| delivery | vectors/s | µs CPU / vector | delivery ms, backlog (p50 / p95) | paced: delivery ms (p50 / p95) | paced: last input → label ms (p50 / p95) |');
    console.log('|---|---|---|---|---|---|');
    for (const [name, run, lat] of [
      ['at least once', alo, pacedAlo],
      ['exactly once (transactions)', eos, pacedEos],
    ] as const) {
      console.log(`| ${name} | ${fmt(run.vectorsPerSecond)} | ${run.cpuMicrosPerVector} | ${run.deliveryMs.p50} / ${run.deliveryMs.p95} | ${lat.deliveryMs.p50} / ${lat.deliveryMs.p95} | ${lat.lastInputToLabelMs.p50} / ${lat.lastInputToLabelMs.p95} |`);
    }
    console.log(`\nexactly once / at least once: **${both.byDelivery!.ratio.toFixed(2)}** (targets: ≥ 0.7 and ≥ 40k vectors/s exactly once; ≥ 100k vectors/s at least once)`);
  } finally {
    await broker?.stop();
  }
}

async function threadsSection(): Promise<void> {
  const { crossover, windowCrossover } = await import('./threads.js');
  const threads = cpus().length;
  console.log(`\n## E-step threads: one E-step with statistics, 1 thread vs ${threads} (medians; where threads pay)\n`);
  console.log(`| D | K | covariance | window N | multiply-adds | 1 thread ms | ${threads} threads ms | speed-up |`);
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of crossover(threads)) {
    console.log(`| ${r.d} | ${r.k} | ${r.cov} | ${r.n} | ${r.work.toExponential(1)} | ${fmt(r.oneMs)} | ${fmt(r.manyMs)} | ${(r.oneMs / r.manyMs).toFixed(2)} |`);
  }
  console.log(`\n### Streaming windows: the whole StreamingGmm.update, threads: 1 vs ${threads} (warm windows, fed the same windows in turn; medians)\n`);
  console.log(`| D | K | covariance | window N | multiply-adds per E-step | default threads | 1 thread ms | ${threads} threads ms | speed-up |`);
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of windowCrossover(threads)) {
    console.log(`| ${r.d} | ${r.k} | ${r.cov} | ${r.n} | ${r.work.toExponential(1)} | ${r.chosen} | ${fmt(r.oneMs)} | ${fmt(r.manyMs)} | ${(r.oneMs / r.manyMs).toFixed(2)} |`);
  }
}

async function kernelsSection(): Promise<void> {
  const { kernelRates } = await import('./kernels.js');
  const rows = kernelRates();
  console.log('\n## E-step kernels beyond D = 16: WebAssembly SIMD (AssemblyScript) against JavaScript (20 000 points, log-densities and statistics, medians)\n');
  if (rows === null) {
    console.log(`WebAssembly SIMD kernels not available: ${simdStatus().reason}`);
    return;
  }
  console.log('| covariance | D | K | WebAssembly ms | JavaScript ms | speed-up |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.type} | ${r.d} | ${r.k} | ${fmt(r.wasmMs)} | ${fmt(r.jsMs)} | ${(r.jsMs / r.wasmMs).toFixed(2)} |`);
}

async function readersSection(): Promise<void> {
  const { readerRates } = await import('./readers.js');
  const dir = mkdtempSync(join(tmpdir(), 'emstream-bench-readers-'));
  try {
    const rows = await readerRates(dir);
    console.log('\n## Reading wide vectors: 20 000 × 256 (readVectorsFile against split + Number(); medians of 7)\n');
    console.log('| input | MB | ours ms | ours MB/s | split + Number() ms | speed-up |');
    console.log('|---|---|---|---|---|---|');
    for (const r of rows) console.log(`| ${r.format} | ${r.megabytes.toFixed(1)} | ${fmt(r.oursMs)} | ${fmt(r.megabytes / (r.oursMs / 1000))} | ${fmt(r.referenceMs)} | ${(r.referenceMs / r.oursMs).toFixed(2)} |`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function membersSection(): Promise<void> {
  const { benchMembers, reducerCost, reducerStepCost } = await import('./members.js');
  const { cpus, loadavg } = await import('node:os');
  const before = loadavg();
  const r = await benchMembers({ vectors: 400_000, repeat: 3, log: () => {} });
  console.log(
    `\n## Shared model: one member against two (separate processes, one group; real broker on the same ${cpus().length} cores, 4 partitions, ${fmt(r.vectors)} vectors, D = 8, K = 8, window 1000; medians of 3 alternating runs; load average ${before.map((l) => l.toFixed(2)).join(' ')} before)\n`,
  );
  console.log('| case | vectors/s | µs CPU / vector (pipeline processes) | global versions |');
  console.log('|---|---|---|---|');
  for (const [name, run] of Object.entries(r.medians)) console.log(`| ${name} | ${fmt(run.vectorsPerSecond)} | ${run.cpuMicrosPerVector} | ${run.versions || '–'} |`);
  console.log(`\nCPU per vector, two members / one member (shared model): **${r.cpuRatio.toFixed(2)}** (target ≤ 1.2)`);
  const cost = reducerCost();
  console.log('\nThe reducer, in process: reading, admitting and merging a contribution (µs), its size; the numeric step per round (StatisticsGmm.merge, 4000 points, K = 8, D = 8, full)\n');
  console.log('| K | D | covariance | contribution bytes | µs per contribution |');
  console.log('|---|---|---|---|---|');
  for (const c of cost) console.log(`| ${c.k} | ${c.d} | ${c.type} | ${fmt(c.bytes)} | ${c.microsPerContribution} |`);
  const step = reducerStepCost();
  console.log(`\nnumeric step per round: median ${step.medianMs} ms, largest ${step.maxMs} ms (birth and death's probes on the ${step.sample}-point sample when due)`);
}

// The kernels from the sources, as the tests and dist have them (compiled when missing or stale).
await buildKernels();
header();
if (want('gmm')) await gmmSection();
if (want('kernels')) await kernelsSection();
if (want('threads')) await threadsSection();
if (want('streaming')) await streamingSection();
if (want('readers')) await readersSection();
if (want('quality')) {
  await qualitySection();
  await suiteSection();
}
if (want('kafka')) await kafkaSection();
if (want('kafka') || sections.includes('members')) await membersSection();
if (sections.includes('calibrate')) {
  calibrationSection();
  checkSection();
}
