/**
 * The shape of the Kafka edge, checked on the sources: no import cycle through the edge or monitoring, monitoring
 * never imports the edge, only the client adapter imports the Kafka client (or reaches into it), and topic-partition
 * keys are built by one helper.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));

/** Every `.ts` source under `src` (not the AssemblyScript kernels). */
function sources(dir = SRC): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith('.ts') && !path.endsWith('.as.ts') ? [path] : [];
  });
}

const files = sources();
/** Each source without its comments (doc examples import what a user would). */
const text = new Map(files.map((f) => [f, readFileSync(f, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')]));
const rel = (f: string): string => relative(SRC, f);

/** The relative imports of a file (value and type imports, and re-exports), as source paths. */
function importsOf(file: string): string[] {
  const out: string[] = [];
  for (const m of text.get(file)!.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s*'(\.[^']+)'/g)) out.push(resolve(dirname(file), m[1]).replace(/\.js$/, '.ts'));
  return out;
}

const graph = new Map(files.map((f) => [f, importsOf(f).filter((d) => text.has(d))]));

/** The strongly connected components of more than one file (Tarjan). */
function cycles(): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v)!) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        component.push(rel(w));
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return found;
}

describe('the layout of the Kafka edge', () => {
  it('no import cycle goes through src/kafka or src/monitoring, and monitoring does not import the edge', () => {
    const ours = cycles().filter((c) => c.some((f) => f.startsWith('kafka/') || f.startsWith('monitoring/')));
    expect(ours).toEqual([]);
    const monitoringToKafka = files.filter((f) => rel(f).startsWith('monitoring/')).flatMap((f) => graph.get(f)!.filter((d) => rel(d).startsWith('kafka/')).map((d) => `${rel(f)} → ${rel(d)}`));
    expect(monitoringToKafka).toEqual([]);
  });

  it('only the client adapter (src/kafka/client) imports kafkajs or reaches into its files', () => {
    const importers = files.filter((f) => /from 'kafkajs(\/[^']*)?'|import\('kafkajs|require\('kafkajs|require\.resolve\(`kafkajs/.test(text.get(f)!)).map(rel);
    expect(importers.length).toBeGreaterThan(0);
    expect(importers.filter((f) => !f.startsWith('kafka/client/'))).toEqual([]);
  });

  it('one helper builds topic-partition keys (src/offsets.ts: partitionKey)', () => {
    const built = files.filter((f) => rel(f) !== 'offsets.ts' && /`\$\{[\w.]*partition\}:\$\{[\w.]*topic\}`|`\$\{[\w.]*topic\}:\$\{[\w.]*partition\}`/.test(text.get(f)!)).map(rel);
    expect(built).toEqual([]);
  });

  it('the edge is laid out in its folders: client, run, delivery, state, messages, source, shared; the broker launcher in devtools', () => {
    const kafka = files.map(rel).filter((f) => f.startsWith('kafka/'));
    const folders = new Set(kafka.map((f) => f.split('/')[1]).filter((p) => !p.endsWith('.ts')));
    expect([...folders].sort()).toEqual(['client', 'delivery', 'messages', 'run', 'shared', 'source', 'state']);
    expect(kafka.filter((f) => f.split('/').length === 2).sort()).toEqual(['kafka/errors.ts', 'kafka/events.ts', 'kafka/sink.ts', 'kafka/topics.ts']);
    expect(files.map(rel)).toContain('devtools/broker.ts');
  });
});
