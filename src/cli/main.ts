#!/usr/bin/env node
/**
 * The `emstream` command: builds the commander program from the subcommands in `./commands`, runs
 * it, and turns every failure into one line on stderr and an exit code.
 *
 * Exit codes: 0 success; 1 the command failed (bad data, bad model, a fit that cannot work, brokers
 * unavailable past the retry budget, …); 2 usage error (unknown option, missing or invalid argument, options
 * that cannot work together). Set `EMSTREAM_DEBUG=1` to also print stack traces.
 *
 * A failing command never leaves the process alive: once the line is printed, the process exits (after a short
 * grace period for stdout) even if a client library still holds timers or sockets.
 *
 * @module
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { EmstreamError, EmstreamOptionsError } from '../errors.js';
import { suggestOption } from '../options.js';
import { registerBroker } from './commands/broker.js';
import { registerDashboard } from './commands/dashboard.js';
import { registerDemo } from './commands/demo.js';
import { registerRun } from './commands/run.js';
import { UsageError } from './errors.js';
import { registerFit } from './commands/fit.js';
import { registerLabel } from './commands/label.js';

/** Version of the installed package (`src/cli` is two levels below it, `dist/src/cli` three). */
function packageVersion(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'emstream') return pkg.version ?? '0.0.0';
    } catch {
      // not this level
    }
  }
  return '0.0.0';
}

/**
 * Builds the `emstream` program. Commander errors are thrown (as `CommanderError`) instead of
 * exiting, and its own error printing is silenced: {@link main} prints them.
 *
 * @returns the program, every subcommand registered
 */
export function createProgram(): Command {
  const program = new Command('emstream')
    .description('Streaming Gaussian-mixture clustering (warm-started EM) on RxJS and Kafka')
    .version(packageVersion(), '-v, --version', 'print the version')
    .showHelpAfterError(false)
    .showSuggestionAfterError(false) // suggestions come from suggestOption, as in the library (see unknownOption)
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  // Subcommands inherit the settings above, so register them after.
  registerFit(program);
  registerLabel(program);
  registerBroker(program);
  registerDemo(program);
  registerDashboard(program);
  registerRun(program);
  return program;
}

/** One line: the message with its line breaks (e.g. commander's "Did you mean …?") folded. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * The message for an unknown option of a command, with the flag it most likely meant: the library's
 * {@link suggestOption} over the command's flags (`--max_iter` → `--max-iter`, `--n_components` → `-k`,
 * `--random-state` → `--seed`).
 *
 * @param flag - the unknown flag as given (`--max_iter`, `--max_iter=5`)
 * @param command - the command it was given to
 */
export function unknownOption(flag: string, command: Command): string {
  const name = flag.replace(/=.*$/, '');
  const flags = new Map<string, string>();
  for (let c: Command | null = command; c !== null; c = c.parent) {
    for (const o of c.options) {
      if (o.long !== undefined) flags.set(o.long.replace(/^--/, ''), o.long);
      if (o.short !== undefined) flags.set(o.short.replace(/^-/, ''), o.short);
    }
  }
  const suggestion = suggestOption(name.replace(/^-+/, ''), [...flags.keys()]);
  return `unknown option '${name}'${suggestion === undefined ? '' : `, did you mean ${flags.get(suggestion)}?`}`;
}

/**
 * Runs the CLI and returns the exit code (it never calls `process.exit`, so stdout is flushed).
 *
 * @param argv - the full `process.argv`
 * @returns 0 on success, 1 when the command failed, 2 for a usage error
 */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  const debug = process.env.EMSTREAM_DEBUG === '1';
  const fail = (message: string, error: unknown): void => {
    process.stderr.write(`emstream: ${oneLine(message)}\n`);
    if (debug && error instanceof Error && error.stack !== undefined) process.stderr.write(`${error.stack}\n`);
  };
  const program = createProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version "fail" with exit code 0 after printing.
      if (e.exitCode === 0) return 0;
      // No command given: commander has printed the help on stderr.
      if (e.code === 'commander.help') return 2;
      const name = argv[2];
      const sub = program.commands.find((c) => c.name() === name || c.aliases().includes(name));
      let unknown = e.code === 'commander.unknownOption' ? /unknown option '([^']*)'/.exec(e.message)?.[1] : undefined;
      // Commander checks required options first: `fit data.csv --n_components 2` would only say -k is missing.
      if (e.code === 'commander.missingMandatoryOptionValue' && sub !== undefined) unknown = sub.parseOptions(argv.slice(3)).unknown.find((a) => /^--?[^-]/.test(a));
      const message = unknown !== undefined ? unknownOption(unknown, sub ?? program) : e.message.replace(/^error: /, '').replace(/\.\s*$/, '');
      fail(`${message} (see emstream ${sub === undefined ? '' : `${sub.name()} `}--help)`, e);
      return 2;
    }
    if (e instanceof UsageError || e instanceof EmstreamOptionsError) {
      fail(e.message, e);
      return 2;
    }
    if (e instanceof EmstreamError) {
      fail(e.message, e);
      return 1;
    }
    const message = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    fail(`unexpected error: ${message}${debug ? '' : ' (set EMSTREAM_DEBUG=1 for the stack trace)'}`, e);
    return 1;
  }
}

/** Whether this module is the program being run (`node main.js`, or the npm bin symlink to it). */
function isEntryPoint(): boolean {
  if (process.argv[1] === undefined) return false;
  try {
    return realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  // `emstream label big.csv | head` closes stdout early: stop quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  const code = await main();
  process.exitCode = code;
  // Nothing keeps a finished command alive: a stray timer or socket of a client library would leave it idle.
  setTimeout(() => process.exit(code), code === 0 ? 5000 : 500).unref();
}
