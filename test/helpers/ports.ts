/**
 * A loopback port something already listens on, for the "port in use" checks of the broker launcher and
 * its CLI.
 *
 * @module
 */
import { createServer } from 'node:net';

/** Runs `body` with a port on 127.0.0.1 that a server holds, and closes the server after. */
export async function withOccupiedPort<T>(body: (port: number) => Promise<T>): Promise<T> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  try {
    return await body((server.address() as { port: number }).port);
  } finally {
    server.close();
  }
}
