import { Command, CommanderError } from 'commander';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadPipeline, registerRun, RunUsageError, type RunCommandHooks } from '../../src/cli/commands/run.js';
import { encodeVector } from '../../src/kafka/source/formats.js';
import type { KafkaPipelineHandle } from '../../src/kafka/run/handle.js';
import { runKafkaPipeline } from '../../src/kafka/run/runner.js';
import { HEADERS } from '../../src/kafka/messages/headers.js';
import { kafkaBrokers } from '../helpers/kafka.js';
import { produceAll, readTopic, sourceOf, testKafka, uniqueTopic, waitFor } from './helpers.js';

/** A program with only `run`, whose output is captured and whose errors are thrown. */
function program(hooks?: RunCommandHooks): { cmd: Command; out: string[] } {
  const out: string[] = [];
  const cmd = new Command('emstream')
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.push(s), writeErr: (s) => out.push(s) });
  registerRun(cmd, hooks);
  return { cmd, out };
}

describe('emstream run', () => {
  let savedBrokers: string | undefined;
  beforeEach(() => {
    savedBrokers = process.env.KAFKA_BROKERS;
    delete process.env.KAFKA_BROKERS;
  });
  afterEach(() => {
    if (savedBrokers === undefined) delete process.env.KAFKA_BROKERS;
    else process.env.KAFKA_BROKERS = savedBrokers;
  });

  it('--help lists every option', async () => {
    const { cmd, out } = program();
    const err = await cmd.parseAsync(['node', 'emstream', 'run', '--help']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommanderError);
    expect((err as CommanderError).exitCode).toBe(0);
    const help = out.join('');
    for (const flag of ['--pipeline', '--brokers', '--input', '--models', '--labels', '--dead-letters', '--group', '--from-beginning', '-k, --components', '--window', '--format', '--fields', '--halflife', '--restart', '--dimension', '--covariance', '--off-thread', '--pipeline-id', '--restore', '--fresh', '--commit-interval-ms', '--broker-timeout-ms', '--input-timeout-ms', '--session-timeout-ms', '--exactly-once', '--shared-model', '--stats-topic', '--max-staleness', '--round-ms', '--transaction-timeout-ms', '--max-in-flight', '--producer-thread', '--no-producer-thread', '--kafkajs-encoder']) {
      expect(help, flag).toContain(flag);
    }
  });

  it('refuses to start without brokers and says how to get one', async () => {
    const { cmd } = program();
    const err = await cmd.parseAsync(['node', 'emstream', 'run', '--input', 'x', '-k', '2']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunUsageError);
    expect((err as Error).message).toMatch(/--brokers.*KAFKA_BROKERS.*emstream broker.*docker compose up/);
  });

  it('takes the shared-model flags only with --shared-model', async () => {
    process.env.KAFKA_BROKERS = '127.0.0.1:9';
    const err = await program().cmd.parseAsync(['node', 'emstream', 'run', '--input', 'x', '-k', '2', '--stats-topic', 's']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunUsageError);
    expect((err as Error).message).toMatch(/--stats-topic, --max-staleness and --round-ms apply to the shared-model mode only: add --shared-model/);
    const bad = await program().cmd.parseAsync(['node', 'emstream', 'run', '--input', 'x', '-k', '2', '--shared-model', '--max-staleness', 'many']).catch((e: unknown) => e);
    expect((bad as Error).message).toMatch(/staleness bound must be a whole number/);
  });

  it('rejects bad flags and unknown pipelines with the fix', async () => {
    const bad = await program().cmd.parseAsync(['node', 'emstream', 'run', '--restart', 'sometimes']).catch((e: unknown) => e);
    expect((bad as Error).message).toMatch(/never, on-drift, or every:N/);
    await expect(loadPipeline('no-such-pipeline')).rejects.toThrow(/no pipeline named "no-such-pipeline".*npm run build/);
    await expect(loadPipeline('./nowhere/p.js')).rejects.toThrow(/not found/);
  });

  it('runs the sensors pipeline by name against the broker until stopped', async () => {
    const kafka = testKafka();
    const input = uniqueTopic('sensors');
    const regimes = [
      { temperature: 20, humidity: 45, vibration: 0.05, current: 0.5 },
      { temperature: 60, humidity: 35, vibration: 0.8, current: 12 },
      { temperature: 85, humidity: 25, vibration: 2.5, current: 20 },
    ];
    const N = 600;
    const messages = Array.from({ length: N }, (_, i) => {
      const r = regimes[i % 3];
      const j = ((i * 7919) % 100) / 100;
      return { key: `press-${i % 5}`, value: JSON.stringify({ sensor: `press-${i % 5}`, temperature: r.temperature + j, humidity: r.humidity - j, vibration: r.vibration * (1 + j / 10), current: r.current + j / 2 }) };
    });
    messages.splice(100, 0, { key: 'bad', value: '{"sensor": "press-1", "temperature": 20}' }); // missing fields
    await produceAll(kafka, input, messages);

    const stop = new AbortController();
    let handle: KafkaPipelineHandle | undefined;
    const { cmd } = program({ signal: stop.signal, onStarted: (h) => (handle = h), logger: pino({ level: 'silent' }) });
    const running = cmd.parseAsync(['node', 'emstream', 'run', '--pipeline', 'sensors', '--brokers', kafkaBrokers().join(','), '--input', input, '--from-beginning', '--kafkajs-encoder']);
    await waitFor(() => handle !== undefined && handle.counters.labelled === N && handle.counters.deadLettered === 1, 60_000, 'the sensors pipeline to label every reading');
    expect(handle!.config).toMatchObject({ input: [input], labels: 'sensors.labels', models: 'sensors.models', deadLetters: 'sensors.dead-letters', pipelineId: 'sensors' });
    stop.abort();
    await running;
    const dead = await readTopic(kafka, 'sensors.dead-letters', 1);
    expect(dead.find((m) => sourceOf(m).topic === input)?.headers[HEADERS.reason]).toBe('missing-field');
  });

  it('runs the embeddings pipeline (float32le, D=16)', async () => {
    const kafka = testKafka();
    const input = uniqueTopic('embeddings');
    const N = 2000;
    await produceAll(kafka, input, (i) => ({ key: `doc-${i}`, value: encodeVector(Array.from({ length: 16 }, (_, a) => (i % 4) * 3 + Math.sin(i * 31 + a)), 'float32le') }), N);
    const pipeline = await loadPipeline('embeddings');
    expect(pipeline.kafka).toMatchObject({ format: 'float32le', dimension: 16 });
    const run = await runKafkaPipeline({ kafka, pipeline, input, labels: `${input}.labels`, models: `${input}.models`, deadLetters: `${input}.dlq`, group: `${input}-g`, fromBeginning: true });
    await waitFor(() => run.counters.labelled === N, 60_000, 'the embeddings to be labelled');
    const result = await run.stop();
    expect(result.counters).toMatchObject({ labelled: N, windows: 2, deadLettered: 0 });
  });
});
