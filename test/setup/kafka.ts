/**
 * Vitest global setup that provides a Kafka broker to every test file as `inject('kafkaBrokers')`.
 *
 * The broker comes from the first source that works:
 * 1. env `KAFKA_BROKERS` (comma-separated `host:port` list), used as is;
 * 2. testcontainers' `KafkaContainer` (Confluent `cp-kafka`, KRaft) when a container runtime answers;
 * 3. {@link startLocalKafka}: Apache Kafka from Maven Central jars on a local JVM (needs Java 17+ and Maven).
 *
 * One line on stdout says which source was used. The returned teardown stops whatever was started.
 *
 * @module
 */
import type { TestProject } from 'vitest/node';
import { startLocalKafka } from '../../src/devtools/broker.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Comma-separated bootstrap addresses of the broker for this test run, e.g. `127.0.0.1:40123`. */
    kafkaBrokers: string;
  }
}

/** The Confluent image used when a container runtime is available (KRaft-capable, Kafka 3.9). */
const CP_KAFKA_IMAGE = 'confluentinc/cp-kafka:7.9.0';

/** Prints the one line that says where the broker came from. */
function announce(message: string): void {
  console.log(`[kafka] ${message}`);
}

/**
 * Starts a broker in a container if a container runtime answers.
 *
 * 1. Ask testcontainers for a runtime client; it throws at once when there is none.
 * 2. Start `KafkaContainer` in KRaft mode and map its PLAINTEXT port.
 *
 * @returns the bootstrap address and a stop function, or `undefined` when no container runtime is reachable.
 */
async function tryContainer(): Promise<{ brokers: string; stop: () => Promise<void> } | undefined> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  try {
    await getContainerRuntimeClient();
  } catch {
    return undefined;
  }
  const { KafkaContainer } = await import('@testcontainers/kafka');
  const container = await new KafkaContainer(CP_KAFKA_IMAGE).withKraft().start();
  return {
    brokers: `${container.getHost()}:${container.getMappedPort(9093)}`,
    stop: async () => {
      await container.stop();
    },
  };
}

/**
 * Provides `kafkaBrokers` to the tests and returns the teardown.
 *
 * @param project - the vitest project being set up.
 * @returns a teardown that stops the container or local broker (a no-op for `KAFKA_BROKERS`).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = process.env.KAFKA_BROKERS?.trim();
  if (fromEnv) {
    project.provide('kafkaBrokers', fromEnv);
    announce(`using KAFKA_BROKERS=${fromEnv}`);
    return async () => {};
  }

  const container = await tryContainer();
  if (container !== undefined) {
    project.provide('kafkaBrokers', container.brokers);
    announce(`using a testcontainers KafkaContainer (${CP_KAFKA_IMAGE}) at ${container.brokers}`);
    return container.stop;
  }

  const started = Date.now();
  const kafka = await startLocalKafka({ progress: (m) => process.stderr.write(`[kafka] ${m}\n`) });
  project.provide('kafkaBrokers', kafka.bootstrap);
  announce(`using a local Apache Kafka broker (Maven jars, no container runtime found) at ${kafka.bootstrap}, up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return kafka.stop;
}
