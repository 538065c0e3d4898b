/**
 * The Compose file, checked without a container engine (there is none where the tests run, and the docker client
 * has no compose plugin): its YAML parses, the pipeline service can be scaled (`docker compose up --scale
 * pipeline=3`: no container name, no fixed hostname, no published host port), its image runs the CLI, and its
 * command is a valid `emstream run` invocation — run here three times at once, as three scaled members, against the
 * test broker (with this test's own topic names appended, so it shares nothing with other tests).
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { registerRun, type RunCommandHooks } from '../../src/cli/commands/run.js';
import type { KafkaPipelineHandle } from '../../src/kafka/run/handle.js';
import { readModelMessage } from '../../src/kafka/state/format.js';
import { kafkaBrokers } from '../helpers/kafka.js';
import { produceAll, readCommitted, testKafka, uniqueTopic, waitFor } from '../kafka/helpers.js';

const ROOT = new URL('../../', import.meta.url);

interface ComposeService {
  readonly image?: string;
  readonly build?: unknown;
  readonly container_name?: string;
  readonly hostname?: string;
  readonly ports?: readonly (string | { published?: unknown })[];
  readonly command?: readonly string[] | string;
  readonly environment?: Record<string, string> | readonly string[];
  readonly deploy?: { replicas?: number };
}

const compose = parse(readFileSync(new URL('docker-compose.yml', ROOT), 'utf8')) as { services: Record<string, ComposeService> };

/** Compose's `${VAR:-default}` with the variables unset: the default. */
function interpolate(arg: string): string {
  return arg.replace(/\$\{([A-Z_]+):-([^}]*)\}/g, (_, _name: string, fallback: string) => fallback);
}

/** A program with only `run` (errors thrown, output captured). */
function program(hooks: RunCommandHooks): Command {
  const cmd = new Command('emstream').exitOverride().configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  registerRun(cmd, hooks);
  return cmd;
}

describe('docker-compose.yml', () => {
  const pipeline = compose.services.pipeline;

  it('has a kafka service and a pipeline service that scales: no container name, hostname or host port', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['kafka', 'pipeline']);
    expect(pipeline).toBeDefined();
    expect(pipeline.container_name).toBeUndefined();
    expect(pipeline.hostname).toBeUndefined();
    expect(pipeline.ports ?? []).toEqual([]);
    expect(pipeline.build).toBeDefined();
    // The broker the members use is the compose network's, given as KAFKA_BROKERS (the command has no --brokers).
    const env: Record<string, string> | undefined = Array.isArray(pipeline.environment) ? Object.fromEntries((pipeline.environment as string[]).map((e) => e.split('='))) : (pipeline.environment as Record<string, string> | undefined);
    expect(env?.KAFKA_BROKERS).toBe('kafka:19092');
    expect(compose.services.kafka.environment).toMatchObject({ KAFKA_ADVERTISED_LISTENERS: expect.stringContaining('PLAINTEXT://kafka:19092') });
    // The image's entry point is the CLI: the command is what `emstream` receives.
    expect(readFileSync(new URL('Dockerfile', ROOT), 'utf8')).toMatch(/ENTRYPOINT \["node", "dist\/src\/cli\/main\.js"\]/);
  });

  it('its command is a valid `emstream run` in the shared-model mode: three members at once fit one model', { timeout: 120_000 }, async () => {
    const command = pipeline.command;
    expect(Array.isArray(command)).toBe(true);
    const args = (command as string[]).map(interpolate);
    expect(args[0]).toBe('run');
    expect(args).toContain('--shared-model');

    const kafka = testKafka();
    const input = uniqueTopic('compose');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: input, numPartitions: 6 }] });
    await admin.disconnect();
    const regimes = [
      { temperature: 20, humidity: 45, vibration: 0.05, current: 0.5 },
      { temperature: 60, humidity: 35, vibration: 0.8, current: 12 },
      { temperature: 85, humidity: 25, vibration: 2.5, current: 20 },
    ];
    const N = 6000;
    await produceAll(kafka, input, (i) => {
      const r = regimes[i % 3];
      const j = ((i * 7919) % 100) / 100;
      return { key: `press-${i % 7}`, value: JSON.stringify({ sensor: `press-${i % 7}`, temperature: r.temperature + j, humidity: r.humidity - j, vibration: r.vibration * (1 + j / 10), current: r.current + j / 2 }) };
    }, N);

    // As compose runs it: KAFKA_BROKERS in the environment; this test's own topics and group appended.
    const saved = process.env.KAFKA_BROKERS;
    process.env.KAFKA_BROKERS = kafkaBrokers().join(',');
    const own = ['--input', input, '--labels', `${input}.labels`, '--models', `${input}.models`, '--dead-letters', `${input}.dead-letters`, '--group', `${input}-g`, '--pipeline-id', input, '--session-timeout-ms', '6000'];
    const stop = new AbortController();
    const handles: KafkaPipelineHandle[] = [];
    const runs = [0, 1, 2].map(() => program({ signal: stop.signal, onStarted: (h) => handles.push(h), logger: pino({ level: 'silent' }) }).parseAsync(['node', 'emstream', ...args, ...own]));
    try {
      await waitFor(() => handles.length === 3, 60_000, 'three members to start');
      const latestModel = async (): Promise<ReturnType<typeof readModelMessage> | undefined> => {
        const models = await readCommitted(kafka, `${input}.models`);
        return models.length === 0 ? undefined : readModelMessage(models[models.length - 1].value);
      };
      // The global model counts every input: its covered offsets are the ends of the six partitions.
      await waitFor(async () => {
        const last = await latestModel();
        return last !== undefined && last.offsets.reduce((s, o) => s + Number(o.offset), 0) === N;
      }, 90_000, 'the global model to count every reading');
      const last = (await latestModel())!;
      expect(last.shared?.statsTopic).toBe(`${input}.stats`);
      expect(last.model.k).toBe(3);
      expect([...last.model.weights].sort()).toEqual([expect.closeTo(1 / 3, 2), expect.closeTo(1 / 3, 2), expect.closeTo(1 / 3, 2)]);
      expect(handles.reduce((s, h) => s + h.counters.labelled, 0)).toBeGreaterThanOrEqual(N);
    } finally {
      stop.abort();
      await Promise.allSettled(runs);
      if (saved === undefined) delete process.env.KAFKA_BROKERS;
      else process.env.KAFKA_BROKERS = saved;
    }
    for (const r of await Promise.allSettled(runs)) expect(r.status).toBe('fulfilled');
  });
});
