/**
 * The worker thread of {@link WindowFitter}: owns one {@link StreamingGmm} and fits the windows it is sent, in
 * order, replying to each with the window's fit and a typed copy of the state after it (see `windowProtocol.ts`).
 *
 * @module
 */
import { parentPort, workerData } from 'node:worker_threads';
import { markChecked } from '../checked.js';
import { StreamingGmm } from '../streaming.js';
import { errorMessage, type FitRequest, type WindowWorkerInit, type WindowReply } from './windowProtocol.js';

const init = workerData as WindowWorkerInit;
const port = parentPort;
if (port === null) throw new Error('windowWorker.ts runs as a worker thread (started by WindowFitter)');

let gmm: StreamingGmm | null = null;
try {
  gmm = new StreamingGmm(init.options);
  port.postMessage({ type: 'ready' } satisfies WindowReply);
} catch (err) {
  port.postMessage({ type: 'fatal', error: errorMessage(err) } satisfies WindowReply);
}

port.on('message', (request: FitRequest) => {
  if (gmm === null) return;
  const started = performance.now();
  const points = new Float64Array(request.buffer, request.byteOffset, request.length);
  if (request.checked) markChecked(points);
  const data = { n: request.n, d: request.d, data: points };
  // A transferred window goes back with the reply (the caller's update carries it).
  const back = request.returned ? { buffer: request.buffer as ArrayBuffer } : {};
  let reply: WindowReply;
  try {
    const fit = gmm.update(data, request.index);
    reply = { type: 'fitted', id: request.id, fit, state: gmm.copy(), durationMs: performance.now() - started, ...back };
  } catch (err) {
    reply = { type: 'failed', id: request.id, error: errorMessage(err), ...back };
  }
  port.postMessage(reply, request.returned ? [request.buffer as ArrayBuffer] : []);
});
