/**
 * An E-step worker thread of {@link EStepPool}: waits on its control slot, runs the E-step of its rows
 * (the same kernels as the main thread: `eStep` in estep.ts) on shared memory, writes its sums and
 * statistics into shared buffers, and signals. See `protocol.ts` for the layout.
 *
 * @module
 */
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { COVARIANCE } from '../covariance.js';
import { eStep, sharedScratch, type EStepOutputs, type Precomputed } from '../estep.js';
import { SufficientStats } from '../stats.js';
import { CTRL_STRIDE, DONE, J, JOB_STRIDE, OUT, PROGRESS, QUIT, R, READY, SEQ, STATUS, TYPE_INDEX, paramLayout, type BufferMessage } from './protocol.js';

interface Init {
  readonly ctrl: SharedArrayBuffer;
  readonly job: SharedArrayBuffer;
  readonly index: number;
  readonly port: MessagePort;
}

const init = workerData as Init;
const ctrl = new Int32Array(init.ctrl);
const job = new Float64Array(init.job);
const base = init.index * CTRL_STRIDE;
const jb = init.index * JOB_STRIDE;
const buffers: { -readonly [K in keyof BufferMessage]: BufferMessage[K] } = {};

function drain(): void {
  for (;;) {
    const m = receiveMessageOnPort(init.port);
    if (m === undefined) return;
    Object.assign(buffers, m.message as BufferMessage);
  }
}

let stats: SufficientStats | null = null;

function run(): void {
  const lo = job[jb + J.lo];
  const hi = job[jb + J.hi];
  const K = job[jb + J.k];
  const D = job[jb + J.d];
  const type = TYPE_INDEX[job[jb + J.type]];
  const hard = job[jb + J.hard] === 1;
  const outputs = job[jb + J.outputs];
  const withStats = job[jb + J.stats] === 1;
  const kind = COVARIANCE[type];
  const layout = paramLayout(K, D, kind.precSize(K, D));
  const params = new Float64Array(buffers.params!);
  const lc = params.subarray(layout.lc, layout.lc + K);
  const pre: Precomputed = {
    k: K,
    d: D,
    covarianceType: type,
    logWeights: lc,
    means: params.subarray(layout.means, layout.means + K * D),
    prec: params.subarray(layout.prec, layout.prec + kind.precSize(K, D)),
    logDetPrec: lc,
    lc,
  };
  const n = hi - lo;
  const data = new Float64Array(buffers.data!, lo * D * 8, n * D);
  let st: SufficientStats | null = null;
  if (withStats) {
    const shift = params.subarray(layout.shift, layout.shift + D);
    if (stats === null || stats.k !== K || stats.d !== D || stats.covarianceType !== type) stats = new SufficientStats(K, D, type, shift);
    else stats.shift.set(shift);
    st = stats.reset();
  }
  const out: EStepOutputs = {};
  if (outputs & OUT.resp) out.resp = new Float64Array(buffers.resp!, lo * K * 8, n * K);
  if (outputs & OUT.logDensity) out.logDensity = new Float64Array(buffers.logDensity!, lo * 8, n);
  if (outputs & OUT.labels) out.labels = new Int32Array(buffers.labels!, lo * 4, n);
  if (outputs & OUT.maxProb) out.maxProb = new Float64Array(buffers.maxProb!, lo * 8, n);
  if (outputs & OUT.exactTails) out.exactTails = true;
  const sums = eStep(pre, data, n, hard, st, out, sharedScratch(K, D), job[jb + J.unrolled] === 1);
  job[jb + R.ll] = sums.logLikelihood;
  job[jb + R.q] = sums.expected;
  job[jb + R.worst] = lo + sums.worst;
  job[jb + R.worstValue] = sums.worstLogDensity;
  if (st !== null) {
    const shared = new Float64Array(buffers.stats!);
    shared.set(st.s0, 0);
    shared.set(st.s1, K);
    shared.set(st.s2, K + K * D);
  }
}

// read the job counter before signalling readiness: the first job may be posted right after
let seen = Atomics.load(ctrl, base + SEQ);
Atomics.store(ctrl, base + READY, 1);
Atomics.notify(ctrl, base + READY);
for (;;) {
  // a bounded wait, so a quit flag is seen even without a notify
  Atomics.wait(ctrl, base + SEQ, seen, 1000);
  if (Atomics.load(ctrl, base + QUIT) === 1) break;
  const seq = Atomics.load(ctrl, base + SEQ);
  if (seq === seen) continue;
  seen = seq;
  drain();
  try {
    run();
    Atomics.store(ctrl, base + STATUS, 0);
  } catch (e) {
    init.port.postMessage({ error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    Atomics.store(ctrl, base + STATUS, 1);
  }
  Atomics.add(ctrl, base + PROGRESS, 1);
  Atomics.store(ctrl, base + DONE, seq);
  Atomics.notify(ctrl, base + DONE);
}
init.port.close();
