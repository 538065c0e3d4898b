import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { encodeVector } from '../../src/kafka/source/formats.js';
import { runKafkaPipeline } from '../../src/kafka/run/runner.js';
import { standardPipeline } from '../../src/kafka/run/standardPipeline.js';
import { clusteredPoint, committedOffset, produceAll, testKafka, uniqueTopic, waitFor } from './helpers.js';

/** Vectors streamed through the pipeline (override with EMSTREAM_MEMORY_TEST_N). */
const N = Number(process.env.EMSTREAM_MEMORY_TEST_N ?? 1_000_000);
/**
 * Bound on the live heap's growth while streaming, over the live heap before the run. The in-flight bound
 * (20 000 records), the fetched batch and the open window keep it at 44–61 MiB; it does not depend on N.
 */
const LIVE_GROWTH_BOUND_MB = 128;
/** Bound on how much the live heap may grow from the first to the last quarter of the run. */
const DRIFT_BOUND_MB = 32;

/**
 * A full garbage collection, so that `heapUsed` measures what is retained rather than garbage not yet collected
 * (raw `heapUsed` peaks wherever V8 chooses to collect: 148 to 333 MiB on the same code). V8's `gc` is exposed once,
 * at load, without a command-line flag.
 */
const collectGarbage: () => void = (() => {
  setFlagsFromString('--expose_gc');
  return runInNewContext('gc') as () => void;
})();

describe('bounded memory', () => {
  it(`streams ${N} vectors through broker → windows → EM → labels with a bounded heap`, { timeout: 240_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('million');
    // Precomputed payloads: 3 clusters, 2-D float32le (8 bytes per message).
    const payloads = Array.from({ length: 3000 }, (_, i) => encodeVector(clusteredPoint(i), 'float32le'));
    const t0 = Date.now();
    await produceAll(kafka, input, (i) => ({ value: payloads[i % payloads.length] }), N);
    const produceMs = Date.now() - t0;

    collectGarbage();
    const baseline = process.memoryUsage().heapUsed;
    let rawPeak = baseline;
    const live: number[] = [];
    const sampler = setInterval(() => {
      rawPeak = Math.max(rawPeak, process.memoryUsage().heapUsed);
      collectGarbage();
      live.push(process.memoryUsage().heapUsed);
    }, 1000);

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
    const peak = Math.max(...live);
    console.log(
      `[memory] produced ${N} in ${(produceMs / 1000).toFixed(1)} s; pipeline ${(runMs / 1000).toFixed(1)} s (${Math.round(N / (runMs / 1000))} vectors/s); ` +
        `live heap baseline ${mb(baseline)} MiB, peak ${mb(peak)} MiB over ${live.length} samples (raw heapUsed peak ${mb(rawPeak)} MiB)`,
    );
    expect(live.length).toBeGreaterThanOrEqual(4);
    expect(mb(peak - baseline)).toBeLessThan(LIVE_GROWTH_BOUND_MB);
    // No growth with the stream: the last quarter of samples peaks no higher than the first quarter plus a little.
    const quarter = Math.max(1, Math.floor(live.length / 4));
    const early = Math.max(...live.slice(0, quarter));
    const late = Math.max(...live.slice(-quarter));
    expect(mb(late - early)).toBeLessThan(DRIFT_BOUND_MB);
  });
});
