import { describe, expect, it } from 'vitest';
import { encodeVector } from '../../src/kafka/formats.js';
import { runKafkaPipeline, standardPipeline } from '../../src/kafka/pipeline.js';
import { clusteredPoint, committedOffset, produceAll, testKafka, uniqueTopic, waitFor } from './helpers.js';

/** Vectors streamed through the pipeline (override with EMSTREAM_MEMORY_TEST_N). */
const N = Number(process.env.EMSTREAM_MEMORY_TEST_N ?? 1_000_000);
/** Heap bound while streaming: the in-flight bound (20 000 records) and the batches keep it far below this. */
const HEAP_BOUND_MB = 300;

describe('bounded memory', () => {
  it(`streams ${N} vectors through broker → windows → EM → labels with a bounded heap`, { timeout: 240_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('million');
    // Precomputed payloads: 3 clusters, 2-D float32le (8 bytes per message).
    const payloads = Array.from({ length: 3000 }, (_, i) => encodeVector(clusteredPoint(i), 'float32le'));
    const t0 = Date.now();
    await produceAll(kafka, input, (i) => ({ value: payloads[i % payloads.length] }), N);
    const produceMs = Date.now() - t0;

    globalThis.gc?.();
    const baseline = process.memoryUsage().heapUsed;
    let peak = baseline;
    const samples: number[] = [];
    const sampler = setInterval(() => {
      const used = process.memoryUsage().heapUsed;
      samples.push(used);
      peak = Math.max(peak, used);
    }, 200);

    const t1 = Date.now();
    const run = await runKafkaPipeline({
      kafka,
      pipeline: standardPipeline({ window: 1000, k: 3, halfLife: 20 }),
      input,
      group: `${input}-group`,
      fromBeginning: true,
      format: 'float32le',
      dimension: 2,
      maxInFlight: 20_000,
    });
    try {
      await waitFor(() => run.counters.labelled === N, 200_000, `${N} labels`);
    } finally {
      clearInterval(sampler);
    }
    const runMs = Date.now() - t1;
    const result = await run.stop();
    expect(result.counters).toMatchObject({ consumed: N, labelled: N, deadLettered: 0, windows: N / 1000 });
    expect(await committedOffset(kafka, `${input}-group`, input)).toBe(N);

    const mb = (b: number): number => Math.round(b / 2 ** 20);
    console.log(
      `[memory] produced ${N} in ${(produceMs / 1000).toFixed(1)} s; pipeline ${(runMs / 1000).toFixed(1)} s (${Math.round(N / (runMs / 1000))} vectors/s); ` +
        `heapUsed baseline ${mb(baseline)} MiB, peak ${mb(peak)} MiB over ${samples.length} samples`,
    );
    expect(mb(peak)).toBeLessThan(HEAP_BOUND_MB);
    // No growth with the stream: the last quarter of samples peaks no higher than the bound above the first quarter.
    const quarter = Math.max(1, Math.floor(samples.length / 4));
    const early = Math.max(...samples.slice(0, quarter));
    const late = Math.max(...samples.slice(-quarter));
    expect(mb(late - early)).toBeLessThan(100);
  });
});
