import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { afterAll, describe, expect, it, vi } from 'vitest';

/**
 * The `## Example` blocks of the doc comments of the pure layers (src/gmm, src/operators, src/viz,
 * src/io) and of monitoring (src/monitoring, src/dashboard; their servers listen on free loopback
 * ports) run as written (imports of 'emstream' resolve to src/index.ts, 'emstream/core' to src/core.ts).
 * Kafka examples need a broker and are covered by the integration tests instead.
 *
 * Examples check what they print, as River's doctests do: every line an example prints with
 * `console.log` is stated, in order, by a `// → …` comment (after the call, or on the lines after a
 * loop), and must be printed exactly so; `…` in a stated line stands for any text (a port, a timing).
 * An example that prints without stating it fails.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const folders = ['src/gmm', 'src/gmm/stream', 'src/operators', 'src/viz', 'src/io', 'src/monitoring', 'src/dashboard'];
const files = ['src/core.ts', 'src/options.ts'];
const dir = join(root, 'test', '.doc-examples');

const examples: { where: string; code: string }[] = [];
const sources = [...folders.flatMap((folder) => readdirSync(join(root, folder)).filter((f) => f.endsWith('.ts')).map((f) => join(folder, f))), ...files];
for (const source of sources) {
  const text = readFileSync(join(root, source), 'utf8');
  for (const m of text.matchAll(/## Example[^\n]*\n\s*\* ```ts\n([\s\S]*?)\n\s*\* ```/g)) {
    const code = m[1]
      .split('\n')
      .map((l) => l.replace(/^\s*\* ?/, ''))
      .join('\n');
    const line = text.slice(0, m.index).split('\n').length;
    examples.push({ where: `${relative(root, join(root, source))}:${line}`, code });
  }
}

/** The lines an example states it prints (`// → …`), in order. */
function statedOutput(code: string): string[] {
  return [...code.matchAll(/\/\/ → ?(.*)$/gm)].map((m) => m[1].trimEnd());
}

/** A stated line as a pattern: `…` stands for any text. */
function pattern(stated: string): RegExp {
  return new RegExp(`^${stated.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

describe('doc-comment examples', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('finds the examples, and some state what they print', () => {
    expect(examples.length).toBeGreaterThanOrEqual(10);
    expect(examples.filter((e) => statedOutput(e.code).length > 0).length).toBeGreaterThanOrEqual(10);
    expect(pattern('http://127.0.0.1:…/ 3').test('http://127.0.0.1:4321/ 3')).toBe(true);
    expect(pattern('2 2').test('2 22')).toBe(false);
  });

  examples.forEach(({ where, code }, i) => {
    it(`${where} runs`, async () => {
      mkdirSync(dir, { recursive: true });
      const file = join(dir, `example-${i}.ts`);
      writeFileSync(file, code);
      const printed: string[] = [];
      const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
        printed.push(...format(...args).split('\n'));
      });
      try {
        await import(pathToFileURL(file).href);
      } finally {
        log.mockRestore();
      }
      const stated = statedOutput(code);
      if (printed.length > 0 && stated.length === 0) throw new Error(`the example prints but states no output (add \`// → …\` lines): it printed\n${printed.join('\n')}`);
      expect(printed.length, `printed:\n${printed.join('\n')}`).toBe(stated.length);
      printed.forEach((line, j) => expect(line).toMatch(pattern(stated[j])));
    });
  });
});
