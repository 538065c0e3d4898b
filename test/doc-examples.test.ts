import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';

/**
 * The `## Example` blocks of the doc comments of the pure layers (src/gmm, src/operators, src/viz,
 * src/io) and of monitoring (src/monitoring, src/dashboard; their servers listen on free loopback
 * ports) run as written (imports of 'emstream' resolve to src/index.ts). Kafka examples need a
 * broker and are covered by the integration tests instead.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const folders = ['src/gmm', 'src/operators', 'src/viz', 'src/io', 'src/monitoring', 'src/dashboard'];
const dir = join(root, 'test', '.doc-examples');

const examples: { where: string; code: string }[] = [];
for (const folder of folders) {
  for (const file of readdirSync(join(root, folder)).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(root, folder, file), 'utf8');
    for (const m of text.matchAll(/## Example[^\n]*\n\s*\* ```ts\n([\s\S]*?)\n\s*\* ```/g)) {
      const code = m[1]
        .split('\n')
        .map((l) => l.replace(/^\s*\* ?/, ''))
        .join('\n');
      const line = text.slice(0, m.index).split('\n').length;
      examples.push({ where: `${relative(root, join(root, folder, file))}:${line}`, code });
    }
  }
}

describe('doc-comment examples', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(10);
  });

  examples.forEach(({ where, code }, i) => {
    it(`${where} runs`, async () => {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `example-${i}.ts`);
      writeFileSync(file, code);
      const log = vi.spyOn(console, 'log').mockImplementation(() => {});
      try {
        await import(pathToFileURL(file).href);
      } finally {
        log.mockRestore();
      }
    });
  });
});
