/**
 * Stop requests for the long-running commands (`run`, `dashboard`, `broker`): SIGINT and SIGTERM, and the
 * SIGTERM that npm cannot pass on.
 *
 * `npx emstream run …` (and `npm start`, `npm run …`) starts the command through a shell: npm → `sh -c
 * 'emstream run …'` → node. On SIGTERM, npm forwards the signal to the shell it started; `sh -c` (Debian's dash)
 * dies of it without passing it on, npm exits, and node carries on with init as its parent: an orphaned
 * pipeline. A command started by npm therefore also watches its parent: when the shell between npm and it
 * is gone, that is npm's SIGTERM, and the command stops as if it had received it.
 *
 * @module
 */

/** Options of {@link onStopSignals}. */
export interface StopSignalOptions {
  /** How often to check that the parent process is still there, in ms (default 250). */
  readonly pollMs?: number;
  /** Watch the parent process (default: when started by npm or npx, i.e. `npm_lifecycle_event` is set). */
  readonly watchParent?: boolean;
}

/**
 * Calls `onStop` on every SIGINT and SIGTERM, and once when the parent process goes away while started by
 * npm or npx (its SIGTERM lost in `sh -c`, see the module comment) and no signal has reached the process.
 *
 * ## Example
 * ```ts
 * const stop = new AbortController();
 * const off = onStopSignals((signal) => stop.abort(signal));
 * // … run until stop.signal aborts, then:
 * off();
 * ```
 *
 * @param onStop - receives the signal (`'SIGTERM'` for a parent gone)
 * @param options - the parent watch
 * @returns a function that removes the handlers and stops the watch
 */
export function onStopSignals(onStop: (signal: NodeJS.Signals) => void, options: StopSignalOptions = {}): () => void {
  // A signal that reached this process stops the watch: Ctrl-C (or a signal to the whole process group)
  // reaches npm, its shell and node at once, and the shell's death is then that same request, not a second one.
  let timer: NodeJS.Timeout | undefined;
  const handler = (signal: NodeJS.Signals): void => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
    onStop(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  const watch = options.watchParent ?? process.env.npm_lifecycle_event !== undefined;
  const parent = process.ppid;
  timer = watch
    ? setInterval(() => {
        if (process.ppid === parent) return;
        clearInterval(timer);
        timer = undefined;
        onStop('SIGTERM');
      }, options.pollMs ?? 250)
    : undefined;
  timer?.unref();
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
    if (timer !== undefined) clearInterval(timer);
  };
}
