/**
 * onStopSignals, which `run`, `broker` and `dashboard` stop on: SIGTERM and SIGINT, and, when npm or npx started
 * the command through `sh -c`, the shell going away (npm's SIGTERM, which the shell does not pass on). The
 * packaging test checks the real `npx emstream run`; here the mechanism, on a shell that dies.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A node child under `sh -c` that reports what stopped it; `env` decides whether it watches its parent. */
function underShell(env: Record<string, string | undefined>, countStops = false): { shell: ReturnType<typeof spawn>; output: Promise<string> } {
  const onStop = countStops
    ? // every stop request counted, as run counts them (a second one exits without the final commit)
      "let stops = 0; onStopSignals((signal) => { stops++; if (stops === 1) setTimeout(() => { console.log('stopped by ' + signal + ', requests ' + stops); process.exit(0); }, 600); }, { pollMs: 50 });"
    : "const off = onStopSignals((signal) => { console.log('stopped by ' + signal); off(); process.exit(0); }, { pollMs: 50 });";
  const script = [
    "import { onStopSignals } from './src/cli/signals.ts';",
    onStop,
    "console.log('ready');",
    "setTimeout(() => { console.log('still running'); process.exit(0); }, 3000);",
  ].join('\n');
  const base = { ...process.env };
  delete base.npm_lifecycle_event;
  const shell = spawn('sh', ['-c', `"${process.execPath}" --import tsx --input-type=module -e "$SCRIPT"; echo shell-done`], {
    cwd: ROOT,
    env: { ...base, ...env, SCRIPT: script },
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true, // a process group of its own, as a terminal gives npm, its shell and node
  });
  const output = new Promise<string>((resolve) => {
    let out = '';
    shell.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      if (/stopped by|still running/.test(out)) resolve(out);
    });
    setTimeout(() => resolve(out), 10_000);
    shell.stdout!.on('end', () => resolve(out));
  });
  return { shell, output };
}

describe('onStopSignals', () => {
  it('under npm (npm_lifecycle_event set), the shell dying stops the command as SIGTERM', async () => {
    const { shell, output } = underShell({ npm_lifecycle_event: 'npx' });
    await new Promise<void>((resolve) => shell.stdout!.once('data', () => resolve()));
    shell.kill('SIGKILL'); // the shell goes, as dash does on npm's SIGTERM, leaving node to init
    expect(await output).toContain('stopped by SIGTERM');
  });

  it('under npm, Ctrl-C (SIGINT to the whole group: shell and node) is one stop request, not a second on the shell dying', async () => {
    const { shell, output } = underShell({ npm_lifecycle_event: 'npx' }, true);
    await new Promise<void>((resolve) => shell.stdout!.once('data', () => resolve()));
    process.kill(-shell.pid!, 'SIGINT');
    shell.kill('SIGKILL'); // whether or not dash dies of the SIGINT itself, the shell is gone
    expect(await output).toContain('stopped by SIGINT, requests 1');
  });

  it('not under npm, a process whose shell goes away carries on (nohup, disown and daemons keep working)', async () => {
    const { shell, output } = underShell({});
    await new Promise<void>((resolve) => shell.stdout!.once('data', () => resolve()));
    shell.kill('SIGKILL');
    expect(await output).toContain('still running');
  });
});
