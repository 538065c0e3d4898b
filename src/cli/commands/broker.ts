/**
 * `emstream broker`: runs a local single-node Kafka broker in the foreground until interrupted.
 *
 * @module
 */
import { InvalidArgumentError, type Command } from 'commander';
import { startLocalKafka, type LocalKafka } from '../../devtools/broker.js';
import { BrokerLaunchError } from '../../devtools/errors.js';
import { onStopSignals } from '../signals.js';

/** Options of `emstream broker`, as parsed by commander. */
interface BrokerCommandOptions {
  port?: number;
  controllerPort?: number;
  dir?: string;
  heapMb?: number;
  verbose?: boolean;
}

/**
 * Parses a TCP port given on the command line.
 *
 * @param value - the raw argument.
 * @returns the port, an integer in 1..65535.
 * @throws InvalidArgumentError for anything else.
 */
function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError('must be an integer port in 1..65535.');
  return n;
}

/**
 * Parses a positive whole number of MiB.
 *
 * @param value - the raw argument.
 * @returns the number.
 * @throws InvalidArgumentError when it is not an integer ≥ 64.
 */
function parseHeap(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 64) throw new InvalidArgumentError('must be an integer number of MiB, at least 64.');
  return n;
}

/**
 * Adds `emstream broker [--port P] [--controller-port P] [--dir DIR] [--heap-mb N] [--verbose]` to the program.
 *
 * The command:
 * 1. installs SIGINT/SIGTERM handlers (before starting, so an early Ctrl-C still stops the JVM);
 * 2. starts the broker with {@link startLocalKafka} on a free port (or `--port`, checked to be free first: a taken
 *    one fails at once with one line), progress on stderr (the broker's own log too with `--verbose`);
 * 3. prints the bootstrap address (e.g. `127.0.0.1:9092`) alone on stdout once the broker answers,
 *    so scripts can do `KAFKA_BROKERS=$(emstream broker | head -n1)`;
 * 4. on SIGINT/SIGTERM stops the broker and exits 0; if the broker dies by itself, exits 1.
 *
 * @param program - the root `emstream` command.
 * @returns nothing; the subcommand is registered on `program`.
 */
export function registerBroker(program: Command): void {
  program
    .command('broker')
    .description('run a local single-node Apache Kafka broker (KRaft, 127.0.0.1) until interrupted; needs Java 17+ and Maven')
    .option('--port <port>', 'client (PLAINTEXT) port; a free port when omitted', parsePort)
    .option('--controller-port <port>', 'KRaft controller port; a free port when omitted', parsePort)
    .option('--dir <dir>', 'directory for config and data, kept after exit (default: a temp dir, removed on exit)')
    .option('--heap-mb <mb>', 'maximum JVM heap in MiB', parseHeap, 512)
    .option('-v, --verbose', "also print the broker's own log on stderr", false)
    .action(async (opts: BrokerCommandOptions) => {
      const err = (line: string): void => {
        process.stderr.write(`${line}\n`);
      };
      let kafka: LocalKafka | undefined;
      let signalled = false;
      const onSignal = (signal: NodeJS.Signals): void => {
        if (signalled) {
          err(`${signal} again: exiting now`);
          process.exit(130); // the launcher's exit hook kills the JVM
        }
        signalled = true;
        if (kafka === undefined) {
          err(`${signal} while starting: exiting`);
          process.exit(130);
        }
        err(`${signal}: stopping the broker...`);
        void kafka.stop().then(
          () => process.exit(0),
          (e: unknown) => {
            err(`error while stopping: ${String(e)}`);
            process.exit(1);
          },
        );
      };
      // SIGINT and SIGTERM, and the SIGTERM of npx/npm that their `sh -c` does not pass on (see onStopSignals)
      const offSignals = onStopSignals(onSignal);

      try {
        kafka = await startLocalKafka({
          port: opts.port,
          controllerPort: opts.controllerPort,
          dir: opts.dir,
          heapMb: opts.heapMb,
          log: opts.verbose ? err : undefined,
          progress: opts.verbose ? undefined : err,
        });
      } catch (e) {
        offSignals();
        // The JVM's last lines help only with --verbose (printed already) or EMSTREAM_DEBUG=1.
        if (e instanceof BrokerLaunchError && process.env.EMSTREAM_DEBUG === '1' && e.logTail.length > 0) err(e.logTail.join('\n'));
        throw e; // one line from main: `emstream: …`, exit 1
      }
      process.stdout.write(`${kafka.bootstrap}\n`);
      err('broker running; press Ctrl-C to stop');

      const exit = await kafka.exited;
      if (!exit.requested) {
        err(`the broker exited by itself (code ${exit.code}, signal ${exit.signal})${opts.verbose ? '' : '; rerun with --verbose to see its log'}`);
        await kafka.stop();
        process.exit(1);
      }
      // a requested stop: the signal handler finishes and exits
    });
}
