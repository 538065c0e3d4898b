/**
 * `emstream dashboard`: the real CLI in a child process, stopped with SIGTERM.
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseExposition, value } from '../monitoring/scrape.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('emstream dashboard', () => {
  it('--demo serves the live demo stream (and its metrics) until SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'dashboard', '--demo', '--port', '0', '--metrics-port', '0', '--pace', '20'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const deadline = Date.now() + 60_000;
      while (!/metrics: (\S+)\n/.test(stdout)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`no URLs printed: ${stdout} ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const dashboard = /dashboard: (\S+)\n/.exec(stdout)![1];
      const metrics = /metrics: (\S+)\n/.exec(stdout)![1];
      expect(dashboard).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      let windows = 0;
      while (windows < 5) {
        if (Date.now() > deadline) throw new Error('the demo stream did not move');
        windows = ((await (await fetch(new URL('api/snapshot', dashboard))).json()) as { windows: number }).windows;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(await (await fetch(dashboard)).text()).toContain('emstream dashboard: the demo stream');
      const scraped = parseExposition(await (await fetch(metrics)).text());
      expect(value(scraped, 'emstream_windows_total')).toBeGreaterThanOrEqual(5);
      expect(stderr).toContain('one window of 500 points every 20 ms');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  });

  it('says what to give without a source, and refuses flags that do not go together (exit 2)', async () => {
    const cli = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
      new Promise((resolve) =>
        execFile(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'dashboard', ...args], { cwd: ROOT, env: { ...process.env, KAFKA_BROKERS: '' } }, (error, stdout, stderr) =>
          resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr }),
        ),
      );
    const [none, noInput, demoAndKafka, metricsWithKafka, noNames] = await Promise.all([
      cli([]),
      cli(['--brokers', '127.0.0.1:9']),
      cli(['--demo', '--brokers', '127.0.0.1:9']),
      cli(['--brokers', '127.0.0.1:9', '--input', 'points', '--metrics-port', '0']),
      cli(['--brokers', '127.0.0.1:9', '--windows-topic', 'w']),
    ]);
    const hint = ' (see emstream dashboard --help)\n';
    expect(none).toEqual({ code: 2, stdout: '', stderr: `emstream: give --brokers host:port (or KAFKA_BROKERS) and --input TOPIC of the pipeline to watch, or --demo for the in-process demo stream${hint}` });
    expect(noInput).toEqual(none);
    expect(demoAndKafka).toEqual({ code: 2, stdout: '', stderr: `emstream: --demo shows the in-process demo stream: drop --brokers/--input, or drop --demo to watch a Kafka pipeline${hint}` });
    expect(metricsWithKafka).toEqual({ code: 2, stdout: '', stderr: `emstream: --metrics-port applies to --demo: a Kafka pipeline serves its own metrics (emstream run --metrics-port P)${hint}` });
    expect(noNames).toEqual({ code: 2, stdout: '', stderr: `emstream: without --input, name every topic: --windows-topic, --drift-topic (or --no-drift-topic) and --models (or --no-models)${hint}` });
  });
});
