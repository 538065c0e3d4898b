/**
 * Kafka mistakes fail fast and say so, tried as a new user would, through the real CLI (`emstream run`,
 * `emstream dashboard` in a child process): a broker address without a port, brokers that never answer, a run that
 * dead-letters almost everything, a saved state of another configuration, and the time flags.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { kafkaBrokers } from '../helpers/kafka.js';
import { clusteredPoint, killChildren, produceAll, spawnCli, spawnRun, testKafka, topicEnd, uniqueTopic, waitFor, type ChildRun } from './helpers.js';

afterEach(killChildren);

/** Waits for the child to exit; its code, the stderr lines, and how long it took from `started`. */
async function ended(child: ChildRun, started: number): Promise<{ code: number | null; lines: string[]; ms: number }> {
  const { code } = await child.exited;
  return { code, lines: child.stderr().trimEnd().split('\n').filter((l) => l !== ''), ms: Date.now() - started };
}

/** The JSON log lines of a child with this message prefix. */
const logged = (child: ChildRun, prefix: string): Record<string, unknown>[] => child.logs.filter((e) => typeof e.msg === 'string' && e.msg.startsWith(prefix));

describe('Kafka mistakes fail fast and say so', () => {
  it('a broker address without a port is a usage error at once (exit 2, one line), for run and dashboard', async () => {
    const started = Date.now();
    const run = spawnRun(['--brokers', 'notahost', '--input', 'x', '-k', '2']);
    const dashboard = spawnCli(['dashboard', '--brokers', 'notahost', '--input', 'x']);
    const [r, d] = [await ended(run, started), await ended(dashboard, started)];
    for (const x of [r, d]) {
      expect(x.code, x.lines.join('\n')).toBe(2);
      expect(x.lines).toHaveLength(1);
      expect(x.lines[0]).toMatch(/^emstream: .*"notahost" has no port: give host:port, e\.g\. notahost:9092/);
    }
    expect(Math.max(r.ms, d.ms)).toBeLessThan(10_000); // no retrying: the budget is 120 s
  });

  it('brokers that never answer: one line per retry on stderr, then exit 1 with one line after --broker-timeout-ms', async () => {
    const started = Date.now();
    const child = spawnRun(['--brokers', '127.0.0.1:1', '--input', 'x', '-k', '2', '--broker-timeout-ms', '4000']);
    const { code, lines, ms } = await ended(child, started);
    expect(code).toBe(1);
    const retries = logged(child, 'the Kafka brokers do not answer (connect)');
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries.every((e) => e.level === 40 && typeof e.attempt === 'number' && /ECONNREFUSED/.test(String(e.error)))).toBe(true);
    expect(lines).toHaveLength(retries.length + 1); // nothing else: each retry one line, and the last line
    expect(lines.at(-1)).toMatch(/^emstream: could not reach the Kafka brokers 127\.0\.0\.1:1 \(connect\) for [45] s \(\d+ attempts\): .*ECONNREFUSED.*--broker-timeout-ms; now 4000 ms/);
    expect(child.stderr()).not.toContain('    at ');
    expect(ms).toBeGreaterThan(4000);
  });

  it('emstream dashboard on brokers that never answer says so and exits 1 after its budget', async () => {
    const started = Date.now();
    const child = spawnCli(['dashboard', '--brokers', '127.0.0.1:1', '--input', 'x', '--port', '0', '--broker-timeout-ms', '3000']);
    const { code, lines, ms } = await ended(child, started);
    expect(code).toBe(1);
    expect(logged(child, 'the Kafka brokers do not answer').length).toBeGreaterThanOrEqual(1);
    expect(lines.at(-1)).toMatch(/^emstream: could not reach the Kafka brokers 127\.0\.0\.1:1 \(connect\) for 3 s/);
    expect(ms).toBeGreaterThan(3000);
    expect(ms).toBeLessThan(30_000);
  });

  it('a run that dead-letters almost everything (a wrong --dimension) warns with the reason', { timeout: 90_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('all-dead');
    await produceAll(kafka, input, (i) => ({ value: JSON.stringify(clusteredPoint(i)) }), 3000);
    const child = spawnRun(['--brokers', kafkaBrokers().join(','), '--input', input, '--group', `${input}-g`, '--from-beginning', '-k', '2', '--window', '200', '--dimension', '3']);
    const warning = await child.waitForLog((e) => typeof e.msg === 'string' && e.msg.includes('records read were dead-lettered'), 60_000, 'the warning');
    expect(warning.level).toBe(40);
    expect(String(warning.msg)).toMatch(/^\d+ of \d+ records read were dead-lettered, \d+ as wrong-dimension \(.*\): the configuration probably does not match the input; check --dimension/);
    expect(logged(child, '').filter((e) => String(e.msg).includes('records read were dead-lettered'))).toHaveLength(1); // once
    child.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
  });

  it('"restored the saved state" is logged only once the state passed the configuration check', { timeout: 90_000 }, async () => {
    const kafka = testKafka();
    const input = uniqueTopic('k-change');
    await produceAll(kafka, input, (i) => ({ value: JSON.stringify(clusteredPoint(i)) }), 400);
    const args = (k: string): string[] => ['--brokers', kafkaBrokers().join(','), '--input', input, '--group', `${input}-g`, '--from-beginning', '-k', k, '--window', '200'];
    const first = spawnRun(args('2'));
    await waitFor(async () => (await topicEnd(kafka, `${input}.models`)) >= 2, 60_000, 'two states saved');
    first.kill('SIGTERM');
    await first.exited;
    const started = Date.now();
    const second = spawnRun(args('3'));
    const { code, lines } = await ended(second, started);
    expect(code).toBe(1);
    expect(lines.at(-1)).toMatch(/^emstream: the saved state of pipeline "standard" .* does not match this pipeline \(k: saved 2, requested 3\): run with --fresh/);
    expect(logged(second, 'restored')).toEqual([]);
    expect(second.logs.some((e) => e.msg === 'pipeline started')).toBe(false); // refused before consuming
  });

  it('the time flags of run are in milliseconds; the older spellings still work, each with a one-line notice', async () => {
    const help = spawnRun(['--help']);
    await help.exited;
    const text = help.stdout();
    for (const flag of ['--commit-interval-ms', '--broker-timeout-ms', '--input-timeout-ms', '--session-timeout-ms', '--transaction-timeout-ms']) expect(text).toContain(flag);
    expect(text).not.toMatch(/--(broker|input)-timeout <seconds>/);
    const started = Date.now();
    const old = spawnRun(['--brokers', '127.0.0.1:1', '--input', 'x', '-k', '2', '--broker-timeout', '2', '--session-timeout', '9000']);
    const { code, lines } = await ended(old, started);
    expect(code).toBe(1);
    expect(logged(old, '--broker-timeout is now --broker-timeout-ms').map((e) => e.msg)).toEqual(['--broker-timeout is now --broker-timeout-ms (every time flag of run is in milliseconds): read as --broker-timeout-ms 2000']);
    expect(logged(old, '--session-timeout is now --session-timeout-ms')).toHaveLength(1);
    expect(lines.at(-1)).toContain('now 2000 ms');
    const both = spawnRun(['--brokers', '127.0.0.1:1', '--input', 'x', '-k', '2', '--broker-timeout', '2', '--broker-timeout-ms', '2000']);
    const b = await ended(both, started);
    expect(b.code).toBe(2);
    expect(b.lines.at(-1)).toMatch(/^emstream: --broker-timeout and --broker-timeout-ms both given: give --broker-timeout-ms only/);
  });
});
