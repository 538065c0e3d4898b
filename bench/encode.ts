/**
 * Produce-request encoding cost per label message: kafkajs 2.2.4's own encoder vs emstream's
 * (`encodeProduceRequest`), on the same 1000 label messages (the value and header the pipeline writes).
 * No broker: this isolates the CPU the producer thread spends before a request reaches the socket.
 *
 *   node --import tsx bench/encode.ts
 *
 * Not a test: numbers depend on the machine and its load.
 */
import { createRequire } from 'node:module';
import { encodeProduceRequest, type ProduceRequestFields } from '../src/kafka/client/recordBatch.js';
import { isEntryPoint } from './entry.js';

const require = createRequire(import.meta.url);

/** Result of {@link benchEncode}: median µs per message of each encoder, and their ratio. */
export interface BenchEncodeResult {
  readonly messages: number;
  readonly kafkajsMicrosPerMessage: number;
  readonly emstreamMicrosPerMessage: number;
  /** kafkajs / emstream. */
  readonly speedup: number;
}

/** Median of a sample. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[(s.length - 1) >> 1];
}

/**
 * Times both encoders on `rounds` requests of `messages` label messages each (after a warm-up), alternating.
 *
 * @param options - batch size and rounds
 * @returns median µs per message of each
 */
export async function benchEncode(options: { messages?: number; rounds?: number } = {}): Promise<BenchEncodeResult> {
  const n = options.messages ?? 1000;
  const rounds = options.rounds ?? 200;
  const kafkajsV3 = require('kafkajs/src/protocol/requests/produce/v3/request.js') as (f: ProduceRequestFields) => { encode: () => Promise<{ buffer: Buffer }> };
  const messages = Array.from({ length: n }, (_, i) => ({
    key: null,
    value: `{"label":${i % 8},"probability":0.9876543210987654,"logDensity":-12.345678901234567,"windowIndex":${i >> 10},"modelVersion":${(i >> 10) + 1}}`,
    headers: { 'emstream.source': `sensors/0/${1_000_000 + i}` },
  }));
  const fields: ProduceRequestFields = { acks: -1, timeout: 30_000, topicData: [{ topic: 'sensors.labels', partitions: [{ partition: 0, messages }] }] };
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let r = 0; r < rounds + 20; r++) {
    let t = process.hrtime.bigint();
    const a = encodeProduceRequest(fields);
    const oursNs = Number(process.hrtime.bigint() - t);
    t = process.hrtime.bigint();
    const b = (await kafkajsV3(fields).encode()).buffer;
    const theirsNs = Number(process.hrtime.bigint() - t);
    if (a.length !== b.length) throw new Error(`the encoders disagree on the request size: ${a.length} vs ${b.length}`);
    if (r >= 20) {
      ours.push(oursNs / n / 1000);
      theirs.push(theirsNs / n / 1000);
    }
  }
  const emstreamMicrosPerMessage = median(ours);
  const kafkajsMicrosPerMessage = median(theirs);
  return { messages: n, kafkajsMicrosPerMessage, emstreamMicrosPerMessage, speedup: kafkajsMicrosPerMessage / emstreamMicrosPerMessage };
}

if (isEntryPoint(import.meta.url)) console.log(JSON.stringify(await benchEncode(), null, 2));
