import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, inject, it, vi } from 'vitest';
import type { z } from 'zod';
import { driftOptionsSchema, fitMixture, Instrumentation, runOptionsSchema } from '../src/index.js';
import { fitOptionsSchema } from '../src/gmm/em.js';
import { streamingOptionsSchema } from '../src/gmm/streamingOptions.js';
import { windowOptionsSchema } from '../src/operators/windowVectors.js';
import { optionNames } from '../src/options.js';
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

/** Every option of a schema, nested ones as `parent.child` (to the depth the schemas have). */
function allOptions(schema: z.ZodType, path: string[] = []): string[] {
  return optionNames(schema, path).flatMap((name) => {
    const here = [...path, name];
    return [here.join('.'), ...allOptions(schema, here)];
  });
}

/** The options a section of docs/options.md lists: the first backticked name of each table row. */
function documented(section: string): string[] {
  const text = readFileSync(join(root, 'docs', 'options.md'), 'utf8');
  const start = text.indexOf(`\n## ${section}\n`);
  expect(start, `docs/options.md has a section "## ${section}"`).toBeGreaterThanOrEqual(0);
  const end = text.indexOf('\n## ', start + 1);
  const body = text.slice(start, end < 0 ? undefined : end);
  return [...body.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
}

describe('the options reference (docs/options.md) against the schemas', () => {
  const sections: [string, string[]][] = [
    ['GaussianMixture.fit', allOptions(fitOptionsSchema)],
    ['windowVectors', allOptions(windowOptionsSchema)],
    // fitMixture's own three options beside StreamingGmm's (the operator takes them off before validating the rest)
    ['fitMixture', [...allOptions(streamingOptionsSchema), 'instrumentation', 'onInvalid', 'offThread']],
    ['detectDrift', allOptions(driftOptionsSchema)],
    ['runKafkaPipeline', allOptions(runOptionsSchema)],
  ];

  it.each(sections)('%s: every option listed once, and nothing the schema lacks', (section, options) => {
    const listed = documented(section);
    expect(new Set(listed).size, `${section}: an option listed twice`).toBe(listed.length);
    expect([...listed].sort()).toEqual([...options].sort());
  });

  it('the README links the reference', () => {
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain('(docs/options.md)');
  });

  it('fitMixture takes instrumentation, onInvalid and offThread, and refuses what neither it nor StreamingGmm knows', () => {
    expect(() => fitMixture({ k: 1, instrumentation: new Instrumentation(), onInvalid: () => {}, offThread: true })).not.toThrow();
    expect(() => fitMixture({ k: 1, logger: {} } as never)).toThrow(/logger: unknown option/);
  });
});

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

describe('links in the README and docs', () => {
  it.each(documents)('%s: every relative link names a file (and a heading) that exists', (doc) => {
    const text = readFileSync(join(root, doc), 'utf8').replace(/```[\s\S]*?```/g, '');
    const links = [...text.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]).filter((l) => !/^[a-z]+:/.test(l));
    for (const link of links) {
      const [path, anchor] = link.split('#');
      const target = path === '' ? join(root, doc) : join(root, dirname(doc), path);
      expect(() => readFileSync(target), `${doc} links ${link}`).not.toThrow();
      if (anchor !== undefined && target.endsWith('.md')) {
        const headings = [...readFileSync(target, 'utf8').matchAll(/^#+ (.*)$/gm)].map((m) => slug(m[1]));
        expect(headings, `${doc} links ${link}`).toContain(anchor);
      }
    }
  });
});
