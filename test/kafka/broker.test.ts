import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { installRequestQueueFix } from '../../src/kafka/client/requestQueueFix.js';
import { describe, expect, it } from 'vitest';
import { withOccupiedPort } from '../helpers/ports.js';
import { EmstreamError } from '../../src/errors.js';
import { BrokerLaunchError } from '../../src/devtools/errors.js';
import { KAFKA_VERSION, kafkaCacheBase, startLocalKafka } from '../../src/devtools/broker.js';
import { kafkaBrokers } from '../helpers/kafka.js';

/** Resolves true if something accepts TCP connections on 127.0.0.1:port. */
function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('Kafka broker from the global setup', () => {
  it('round-trips 100 messages through a topic and a consumer group, with offsets and commits', async () => {
    installRequestQueueFix(); // as emstream's own clients
    const kafka = new Kafka({ clientId: 'emstream-broker-test', brokers: kafkaBrokers(), logLevel: logLevel.ERROR });
    const topic = `emstream-broker-test-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
    const groupId = `${topic}-group`;
    const admin = kafka.admin();
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    const consumer = kafka.consumer({ groupId });
    await admin.connect();
    try {
      expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true })).toBe(true);
      expect(await admin.listTopics()).toContain(topic);

      await producer.connect();
      const sent = Array.from({ length: 100 }, (_, i) => ({ key: `k${i % 7}`, value: JSON.stringify({ i, x: [i, i * 0.5] }) }));
      const acks = await producer.send({ topic, messages: sent });
      expect(acks).toHaveLength(1);
      expect(acks[0]).toMatchObject({ topicName: topic, partition: 0, errorCode: 0, baseOffset: '0' });

      const received: { offset: string; key: string; value: string }[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`only ${received.length} of 100 messages arrived`)), 30_000);
        consumer
          .run({
            eachMessage: async ({ message, partition }) => {
              expect(partition).toBe(0);
              received.push({ offset: message.offset, key: message.key!.toString(), value: message.value!.toString() });
              if (received.length === sent.length) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
      await consumer.stop(); // commits the resolved offsets

      expect(received.map((m) => Number(m.offset))).toEqual(Array.from({ length: 100 }, (_, i) => i));
      expect(received.map(({ key, value }) => ({ key, value }))).toEqual(sent);
      expect(received.map((m) => (JSON.parse(m.value) as { i: number }).i)).toEqual(Array.from({ length: 100 }, (_, i) => i));

      const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
      expect(committed.partitions).toEqual([expect.objectContaining({ partition: 0, offset: '100' })]);
      const [end] = await admin.fetchTopicOffsets(topic);
      expect(end).toMatchObject({ partition: 0, offset: '100', low: '0', high: '100' });
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });
});

describe('startLocalKafka', () => {
  it('starts a second broker on its own and stops it cleanly: port closed, temp dir removed', async () => {
    const kafka = await startLocalKafka();
    const port = Number(kafka.bootstrap.split(':')[1]);
    expect(kafka.brokers).toEqual([kafka.bootstrap]);
    expect(kafka.bootstrap).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await portOpen(port)).toBe(true);
    expect(existsSync(join(kafka.dir, 'server.properties'))).toBe(true);

    const admin = new Kafka({ brokers: kafka.brokers, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    expect((await admin.describeCluster()).brokers).toHaveLength(1);
    await admin.disconnect();

    await kafka.stop();
    expect(await kafka.exited).toMatchObject({ requested: true });
    expect(await portOpen(port)).toBe(false);
    expect(existsSync(kafka.dir)).toBe(false);
    await kafka.stop(); // idempotent
  });

  it('a port asked for that is taken fails at once with a BrokerLaunchError (port-in-use), an EmstreamError, before any JVM', async () => {
    await withOccupiedPort(async (port) => {
      const started = Date.now();
      const error = await startLocalKafka({ port }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(BrokerLaunchError);
      expect(error).toBeInstanceOf(EmstreamError);
      expect(error).toMatchObject({ reason: 'port-in-use', context: { reason: 'port-in-use', port } });
      expect((error as Error).message).toBe(`the port ${port} on 127.0.0.1 is in use: stop what listens there, pick another with --port, or leave it out for a free one`);
      expect(Date.now() - started).toBeLessThan(5000);
    });
  });

  it('fails with a BrokerLaunchError that says what to do when Maven or Java is missing', async () => {
    const emptyCache = await mkdtemp(join(tmpdir(), 'emstream-empty-cache-'));
    const savedPath = process.env.PATH;
    process.env.PATH = emptyCache; // neither mvn nor java can be found
    try {
      const noMaven = await startLocalKafka({ cacheDir: emptyCache }).catch((e: unknown) => e);
      expect(noMaven).toBeInstanceOf(BrokerLaunchError);
      expect(noMaven).toMatchObject({ name: 'BrokerLaunchError', reason: 'maven-missing' });
      expect((noMaven as Error).message).toMatch(/Maven[\s\S]*KAFKA_BROKERS[\s\S]*docker compose up/);

      // The jars are cached by now (the global setup or the test above resolved them): only java is missing.
      const noJava = await startLocalKafka({ cacheDir: kafkaCacheBase() }).catch((e: unknown) => e);
      if (existsSync(join(kafkaCacheBase(), `kafka-${KAFKA_VERSION}`, 'lib'))) {
        expect(noJava).toMatchObject({ name: 'BrokerLaunchError', reason: 'java-missing' });
        expect((noJava as Error).message).toMatch(/Java 17/);
      }
    } finally {
      process.env.PATH = savedPath;
      await rm(emptyCache, { recursive: true, force: true });
    }
  });
});
