/**
 * Helpers for tests that talk to the broker provided by the `test/setup/kafka.ts` global setup.
 *
 * @module
 */
import { inject } from 'vitest';
import type {} from '../setup/kafka.js'; // brings in the `kafkaBrokers` ProvidedContext type

/**
 * Returns the bootstrap addresses of the test broker, ready for kafkajs' `brokers` option.
 *
 * @returns e.g. `['127.0.0.1:40123']`.
 * @throws Error when the global setup `test/setup/kafka.ts` is not configured in vitest.
 */
export function kafkaBrokers(): string[] {
  const value = inject('kafkaBrokers');
  if (typeof value !== 'string' || value.trim() === '') {
    throw new Error("no Kafka broker was provided: add 'test/setup/kafka.ts' to `globalSetup` in vitest.config.ts, or set KAFKA_BROKERS");
  }
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
