/**
 * Scraping helpers: fetch `/metrics` over HTTP and parse it with a Prometheus text-format parser
 * (parse-prometheus-text-format, a port of the Prometheus client_python parser), then check what that
 * parser lets through: every family typed, valid names, every value a number.
 */
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { expect } from 'vitest';

export type Families = Map<string, ParsedFamily>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** A sample value as Prometheus reads it (Go's ParseFloat: NaN and Inf in any case). */
const NUMBER = /^(?:[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan)$/i;

/** Parses an exposition and checks it strictly. */
export function parseExposition(text: string): Families {
  const families = parsePrometheusTextFormat(text);
  const byName: Families = new Map();
  for (const f of families) {
    expect(f.name, `metric name ${f.name}`).toMatch(NAME);
    expect(f.type, `${f.name} has a TYPE line`).not.toBe('UNTYPED');
    expect(byName.has(f.name), `${f.name} appears once`).toBe(false);
    byName.set(f.name, f);
    for (const s of f.metrics) {
      for (const l of Object.keys(s.labels ?? {})) expect(l, `label of ${f.name}`).toMatch(LABEL);
      for (const v of [s.value, s.count, s.sum, ...Object.values(s.buckets ?? {})]) {
        if (v === undefined) continue;
        expect(v, `a value of ${f.name}`).toMatch(NUMBER);
        // emstream's own metrics never expose NaN (Node's default event-loop metrics may before their first sample).
        if (f.name.startsWith('emstream_')) expect(Number.isNaN(Number(v)), `${f.name} is not NaN`).toBe(false);
      }
    }
  }
  return byName;
}

/** GET `url` and parse it. */
export async function scrape(url: string): Promise<Families> {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

/** The value of a counter or gauge sample (the one whose labels match), or undefined. */
export function value(families: Families, name: string, labels: Record<string, string> = {}): number | undefined {
  const f = families.get(name);
  const s = f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v) && Object.keys(m.labels ?? {}).length === Object.keys(labels).length);
  return s?.value === undefined ? undefined : Number(s.value);
}

/** Count and sum of an unlabelled histogram. */
export function histogram(families: Families, name: string): { count: number; sum: number; buckets: Record<string, number> } | undefined {
  const s = families.get(name)?.metrics[0];
  if (s?.count === undefined) return undefined;
  return { count: Number(s.count), sum: Number(s.sum), buckets: Object.fromEntries(Object.entries(s.buckets ?? {}).map(([k, v]) => [k, Number(v)])) };
}
