/**
 * `gatehouse run --mask` (or a profile with `mask_output: true`; issue 20 item 7): secrets in the
 * program's output are masked before they reach the terminal, and the program still runs on a
 * real terminal (colours, window size, raw mode).
 *
 * How: this process (the outer run) becomes a masking supervisor. It starts the same
 * `gatehouse run` again (the inner run), which launches the sandbox exactly as an unmasked run
 * does, on these terminals:
 * - stdout is a terminal: a pseudo-terminal made by util-linux script(1). script's stdin is this
 *   process's own stdin (the real terminal), so script itself puts the terminal in raw mode, copies
 *   its window size to the pseudo-terminal and follows resizes (SIGWINCH), and restores the
 *   terminal when it ends; everything the inner run and the program write, stdout and stderr
 *   alike (one terminal), comes back on script's stdout, a pipe that this process masks
 *   (terminal-mask.ts) and writes to the real stdout.
 * - stdout is not a terminal: no pseudo-terminal is needed; stdout and stderr are pipes, each
 *   masked on its own, and stdin is passed as is.
 *
 * Why script(1) and not node-pty: script is part of util-linux (Debian's essential bsdutils), so
 * it is on every machine bwrap runs on, while node-pty is a native addon that would have to build
 * with node-gyp for every Node we support and become a dependency of the whole CLI for one flag.
 * Why a second `gatehouse run` rather than script(1) inside the sandbox's launch chain: the inner
 * run uses runSandboxed unchanged, so its invariants (bwrap is the process wall time kills, argv
 * through the fd-3 pipe, network fds 4-5) hold as they are; the cost is one more Node start.
 *
 * INVARIANTS:
 * - Fail closed: when masking is asked for and cannot be set up (no script(1), too old a one, no
 *   built CLI to start, a store that exists but cannot be read), nothing runs: a typed error says
 *   why. With no Gatehouse store at all there are no vault values to mask, and the key shapes
 *   alone are masked (said on stderr).
 * - The inner run's stdout and stderr are never the real terminal: they are the pseudo-terminal
 *   or pipes that only this process reads. The program inside bwrap has its own session
 *   (--new-session) and devpts, so it cannot open the outer terminal either.
 * - Only the inner run started here skips masking: it is marked by this process's pid, and
 *   believes the mark only when that pid is its parent or grandparent (script in between). A
 *   mark that does not check out just masks again (one more layer, never none).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { isatty } from 'node:tty';
import { fileURLToPath } from 'node:url';
import { GatehouseError, isGatehouseError, truncateText, type HomePaths } from '../core/index.js';
import { EXIT, type CliContext } from './context.js';
import { TerminalMasker, type StreamScrubberSource } from './terminal-mask.js';

/** Set on the inner run to the outer run's pid. */
export const MASKED_ENV = 'GATEHOUSE_RUN_MASKED';

/** --echo appeared in util-linux 2.35, with the signalfd-based pty core this relies on. */
const SCRIPT_MIN: readonly [number, number] = [2, 35];

/** Whether this process is the inner run of a masking supervisor (see the header). */
export function maskedByParent(env: NodeJS.ProcessEnv): boolean {
  const mark = env[MASKED_ENV];
  if (!mark || !/^\d{1,10}$/.test(mark)) return false;
  const outer = Number(mark);
  if (process.ppid === outer) return true;
  try {
    // /proc/PID/stat: "pid (comm) state ppid …"; comm may hold spaces and parentheses.
    const stat = readFileSync(`/proc/${process.ppid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]) === outer;
  } catch {
    return false;
  }
}

export interface MaskSetup {
  scrub: StreamScrubberSource;
  /** False when there is no store here (key shapes only). */
  vaultValues: boolean;
}

/**
 * The scrubbing set for the terminal: the operators' redactor (every vault value, guessable or
 * not, in its encodings, plus the key shapes and configured patterns). The terminal is read by the
 * person running the program, never by an agent, so no guess can be tested through it (see
 * Audience in the vault's redactor).
 */
export async function maskScrubber(
  env: NodeJS.ProcessEnv,
  home: HomePaths,
  patterns: readonly { name: string; pattern: string; show_prefix?: number }[],
): Promise<MaskSetup> {
  // No store anywhere: no vault, so nothing but the shapes to mask.
  if (!env.DATABASE_URL && !existsSync(home.databaseFile)) {
    const { Redactor } = await import('../vault/index.js');
    return { scrub: new Redactor({ audience: 'operator', patterns }), vaultValues: false };
  }
  const { Runtime } = await import('../server/index.js');
  let rt: Awaited<ReturnType<typeof Runtime.open>>;
  try {
    // Opening registers every vault value with the redactors; create:false never makes a key.
    rt = await Runtime.open({ env, create: false });
  } catch (e) {
    throw new GatehouseError(
      isGatehouseError(e) ? e.code : 'store_unavailable',
      `--mask cannot read the vault values to mask, so nothing was run: ${e instanceof Error ? e.message : String(e)}`,
      {
        hint: "make the store and master key readable (GATEHOUSE_HOME, GATEHOUSE_MASTER_KEY…), or run without --mask and without the profile's mask_output",
        cause: e,
      },
    );
  }
  try {
    return { scrub: rt.operatorRedactor, vaultValues: true };
  } finally {
    await rt.close();
  }
}

/** The CLI entry to start the inner run with (beside this module, in the bundle and in dist/src/cli). */
function cliEntry(): string {
  const entry = fileURLToPath(new URL('./main.js', import.meta.url));
  if (existsSync(entry)) return entry;
  throw new GatehouseError(
    'internal',
    '--mask needs the built gatehouse CLI to start the masked program, and it is missing',
    {
      hint: 'run the installed `gatehouse` (npm run build makes dist/src/bundle/main.js)',
    },
  );
}

/** util-linux script(1), from the system's directories only (never a PATH the caller controls). */
function scriptProgram(): string {
  const path = ['/usr/bin/script', '/bin/script'].find((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  if (!path)
    throw new GatehouseError(
      'sandbox_unavailable',
      '--mask on a terminal needs script(1) from util-linux for the pseudo-terminal, and it is not installed: nothing was run',
      { hint: 'apt-get install bsdutils (util-linux), or run without --mask' },
    );
  const r = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 5000 });
  const m = /util-linux\s+(\d+)\.(\d+)/.exec(`${r.stdout ?? ''}`);
  const [maj, min] = SCRIPT_MIN;
  if (!m || Number(m[1]) < maj || (Number(m[1]) === maj && Number(m[2]) < min))
    throw new GatehouseError(
      'sandbox_unavailable',
      `--mask on a terminal needs script(1) from util-linux ${maj}.${min} or later (${path} says ${JSON.stringify(truncateText((r.stdout ?? '').trim(), 60))}): nothing was run`,
      { hint: 'upgrade util-linux, or run without --mask' },
    );
  return path;
}

/** POSIX shell single quoting: nothing inside is interpreted. */
const shq = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;

/** Node flags for the inner run, without a debugger's (it would fight over the port). */
const innerExecArgv = (): string[] => process.execArgv.filter((a) => !/^--(inspect|debug)/.test(a));

const isTty = (s: Readable | Writable): boolean => (s as { isTTY?: boolean }).isTTY === true;

/**
 * Runs `gatehouse run ARGS` as the inner run under masking and returns its exit code. Checks
 * everything it needs before anything starts (fail closed).
 */
export function prepareMaskedRun(ctx: CliContext): { run(args: readonly string[], setup: MaskSetup): Promise<number> } {
  const entry = cliEntry();
  const onTerminal = isTty(ctx.stdout);
  const script = onTerminal ? scriptProgram() : undefined;
  return {
    run: (args, setup) => {
      const inner = [process.execPath, ...innerExecArgv(), entry, 'run', ...args];
      const env = { ...ctx.env, [MASKED_ENV]: String(process.pid) };
      let child: ChildProcess;
      if (script) {
        // script runs `$SHELL -c STRING`: SHELL is /bin/sh for that, and the string puts the
        // caller's SHELL back, then execs the inner run with every word single-quoted.
        const shell = ctx.env.SHELL;
        const restore = shell !== undefined ? `SHELL=${shq(shell)}; export SHELL` : 'unset SHELL';
        const command = `${restore}; exec ${inner.map(shq).join(' ')}`;
        // -E never when stdin is not a terminal: piped input is not echoed into the output.
        // (script gets fd 0 itself, whatever ctx.stdin is.)
        const echo = isatty(0) ? 'auto' : 'never';
        child = spawn(script, ['-q', '-e', '-E', echo, '-c', command, '/dev/null'], {
          stdio: ['inherit', 'pipe', 'inherit'],
          env: { ...env, SHELL: '/bin/sh' },
        });
      } else {
        const [node = process.execPath, ...rest] = inner;
        child = spawn(node, rest, { stdio: ['inherit', 'pipe', 'pipe'], env });
      }
      return supervise(child, ctx, setup.scrub);
    },
  };
}

/** Masks the child's output onto ctx's streams, forwards signals, and resolves with its exit code. */
async function supervise(child: ChildProcess, ctx: CliContext, scrub: StreamScrubberSource): Promise<number> {
  let got: NodeJS.Signals | undefined;
  const forward = (sig: NodeJS.Signals): void => {
    got ??= sig;
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT'];
  for (const s of signals) process.on(s, forward);
  try {
    const done = [pipeMasked(child.stdout, ctx.stdout, scrub)];
    if (child.stderr) done.push(pipeMasked(child.stderr, ctx.stderr, scrub));
    const exit = await new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve, reject) => {
      child.on('error', (e) =>
        reject(
          new GatehouseError('sandbox_unavailable', `could not start the masked run: ${e.message}`, {
            hint: 'run `gatehouse sandbox doctor`',
            cause: e,
          }),
        ),
      );
      child.on('close', (code, sig) => resolve({ code, sig }));
    });
    await Promise.all(done);
    // Killed by a signal (passed on to the child): say so as an unmasked run's shell would
    // (128+N), unless the child reported a failure of its own (script(1) exits 0 when signalled).
    const sig = exit.code !== null && exit.code !== 0 ? undefined : (got ?? exit.sig ?? undefined);
    if (sig === undefined) return exit.code ?? EXIT.failure;
    const n = osConstants.signals[sig];
    return n !== undefined ? 128 + n : EXIT.failure;
  } finally {
    for (const s of signals) process.off(s, forward);
  }
}

/** One output stream through its own masker; resolves when it ended and everything was written. */
function pipeMasked(from: Readable | null, to: Writable, scrub: StreamScrubberSource): Promise<void> {
  if (!from) return Promise.resolve();
  let waiting = false;
  const masker = new TerminalMasker(scrub, (b) => {
    if (to.write(b) || waiting) return;
    // Back-pressure: the terminal (or reader) is slow; stop reading the program until it drains.
    waiting = true;
    from.pause();
    to.once('drain', () => {
      waiting = false;
      from.resume();
    });
  });
  // A reader that went away (`| head`): stop reading, so the program gets EPIPE as it would unmasked.
  const onError = (): void => {
    from.destroy();
  };
  to.on('error', onError);
  from.on('data', (d: Buffer) => masker.push(d));
  return new Promise((resolve) => {
    const finish = (): void => {
      masker.end();
      to.off('error', onError);
      resolve();
    };
    from.once('end', finish);
    from.once('close', finish);
    from.once('error', finish);
  });
}
