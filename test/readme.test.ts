import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import type {} from './setup/kafka.js'; // the `kafkaBrokers` the global setup provides

/**
 * Every ```ts block of the README and of docs/*.md is executed (imports of 'emstream' resolve to src/index.ts);
 * the Kafka examples find the test broker in `KAFKA_BROKERS`.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const documents = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
const blocks = documents.flatMap((doc) =>
  [...readFileSync(join(root, doc), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => ({ doc, code: m[1] })),
);
const dir = join(root, 'test', '.readme');

describe('README and docs examples', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has TypeScript examples in the README', () => {
    expect(blocks.filter((b) => b.doc === 'README.md').length).toBeGreaterThanOrEqual(2);
  });

  blocks.forEach(({ doc, code }, i) => {
    it(`${doc} example ${i + 1} runs: ${code.split('\n').find((l) => l.startsWith('import { '))?.slice(0, 60) ?? ''}`, async () => {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `example-${i + 1}.ts`);
      writeFileSync(file, code);
      const logs: string[] = [];
      const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
        logs.push(args.map(String).join(' '));
      });
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      const savedBrokers = process.env.KAFKA_BROKERS;
      process.env.KAFKA_BROKERS = inject('kafkaBrokers');
      try {
        await import(pathToFileURL(file).href);
      } finally {
        if (savedBrokers === undefined) delete process.env.KAFKA_BROKERS;
        else process.env.KAFKA_BROKERS = savedBrokers;
        log.mockRestore();
        warn.mockRestore();
      }
      expect(logs.length).toBeGreaterThan(0);
      expect(logs.join('\n')).not.toMatch(/NaN/);
      if (code.includes('detectDrift')) expect(logs.some((l) => l.startsWith('drift 10 likelihood'))).toBe(true);
    });
  });
});
