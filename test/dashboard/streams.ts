/** Test streams and an event-stream reader for the dashboard tests. */
import { get, type IncomingMessage } from 'node:http';
import { from, lastValueFrom, toArray } from 'rxjs';
import { syntheticStream, type SyntheticCluster } from '../../src/data/synthetic.js';
import { Instrumentation } from '../../src/instrumentation.js';
import { fitMixture } from '../../src/operators/fitMixture.js';
import type { MixtureUpdate } from '../../src/operators/types.js';
import { windowVectors } from '../../src/operators/windowVectors.js';

/** Window at which the first cluster jumps. */
export const JUMP_WINDOW = 15;
export const WINDOWS = 30;
export const WINDOW_SIZE = 200;

/** Two clusters in `d` dimensions; the first jumps by 8 along the first two axes at window {@link JUMP_WINDOW}. */
export function jumpingClusters(d: number): SyntheticCluster[] {
  const at = (t: number): number[] => Array.from({ length: d }, (_, i) => (t >= JUMP_WINDOW / WINDOWS && i < 2 ? 8 : 0));
  return [
    { mean: at, sd: Array.from({ length: d }, () => 0.8), weight: () => 1 },
    { mean: () => Array.from({ length: d }, (_, i) => (i === 0 ? -5 : i === 1 ? 4 : 1)), sd: Array.from({ length: d }, (_, i) => (i === 0 ? 1 : 0.6)), weight: () => 1 },
  ];
}

/** The updates of the jumping stream (K = 2), with their instrumentation. */
export async function jumpingUpdates(d: number): Promise<{ updates: MixtureUpdate<unknown>[]; instrumentation: Instrumentation }> {
  const instrumentation = new Instrumentation();
  const updates = await lastValueFrom(
    from(syntheticStream(jumpingClusters(d), WINDOWS * WINDOW_SIZE, 3)).pipe(
      windowVectors({ size: WINDOW_SIZE, dimension: d }),
      fitMixture({ k: 2, seed: 1, halfLife: 3, instrumentation }),
      toArray(),
    ),
  );
  return { updates: updates as MixtureUpdate<unknown>[], instrumentation };
}

/** One server-sent event. */
export interface Sse {
  readonly event: string;
  readonly data: unknown;
}

/** Reads a server-sent event stream. */
export class EventReader {
  private buffer = '';
  private readonly queue: Sse[] = [];
  private waiting: (() => void) | null = null;
  private ended = false;
  readonly response: Promise<IncomingMessage>;

  constructor(url: string) {
    this.response = new Promise((resolve, reject) => {
      const req = get(url, (res) => {
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          this.buffer += chunk;
          let at: number;
          while ((at = this.buffer.indexOf('\n\n')) >= 0) {
            const block = this.buffer.slice(0, at);
            this.buffer = this.buffer.slice(at + 2);
            let event = 'message';
            const data: string[] = [];
            for (const line of block.split('\n')) {
              if (line.startsWith('event: ')) event = line.slice(7);
              else if (line.startsWith('data: ')) data.push(line.slice(6));
            }
            if (data.length > 0) this.queue.push({ event, data: JSON.parse(data.join('\n')) });
          }
          this.waiting?.();
        });
        res.on('end', () => {
          this.ended = true;
          this.waiting?.();
        });
        resolve(res);
      });
      req.on('error', reject);
      this.close = () => req.destroy();
    });
  }

  close: () => void = () => {};

  /** The next event (waits up to `timeoutMs`). */
  async next(timeoutMs = 10_000): Promise<Sse> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.ended) throw new Error('the event stream ended');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no event within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiting = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.waiting = null;
    }
    return this.queue.shift()!;
  }

  /** Whether the server ended the stream. */
  async endedWithin(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.ended;
  }
}
