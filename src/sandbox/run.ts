/**
 * runSandboxed: one command in a fresh bubblewrap sandbox, with limits enforced and every breach
 * reported as a typed `limit`.
 *
 * Host-side launch chain (root):
 *   sh -c 'join cgroups && exec "$@"'  ->  prlimit (cpu, fsize, nofile, core)  ->
 *   setpriv --reuid <the workspace's owner, or 65534 for a root-owned one: identity.ts> (so the
 *   sandbox is not host uid 0: an unprivileged *host* uid is what
 *   keeps root-owned files such as /etc/shadow or /root unreadable; a uid mapping inside a user
 *   namespace alone does not)  ->  bwrap --args 3 (argv and env travel through a pipe, never on a
 *   command line another host user could read).
 *
 * INVARIANTS enforced here:
 * - Without bubblewrap nothing runs unless the profile sets allowUnsandboxed, and then every result
 *   says `sandbox: 'none'`.
 * - Gatehouse's home (and any hiddenPaths) is hidden in every sandbox.
 * - Every limit ends in a typed result (`limit`), never a hang: wall time kills bwrap (whose pid-1
 *   child dies with it, taking the whole pid namespace) and everything left in the run's cgroups.
 * - Background children never outlive the command: the pid namespace dies with its first process.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { constants as osConstants, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { GatehouseError, gatehouseHome, type CommandOutput, type OutputScrub } from '../core/index.js';
import { findProgram, HOST_CHAIN_ENV, isRoot } from './availability.js';
import {
  cgroupV1Available,
  cpuUsageNs,
  createRunCgroup,
  joinScript,
  killAll,
  readStats,
  removeRunCgroup,
  type RunCgroup,
} from './cgroup.js';
import { denyStubScript, resolveDenyExec } from './deny-exec.js';
import { buildSandboxEnv } from './env.js';
import { attachNetwork, resolveAllow, type NetworkHandle } from './network.js';
import { checkWorkspaceReachable, sandboxIdentity, type SandboxIdentity } from './identity.js';
import { planBwrap } from './plan.js';
import type { SandboxLimitName, SandboxLimits, SandboxProfile } from './profile.js';
import { OutputCap } from './output-cap.js';
import { appliedLimits, limitMessage, prlimitArgs, type AppliedLimits } from './run-limits.js';

export type SandboxKind = 'bwrap' | 'bwrap-net' | 'none';
export interface RunSandboxedOptions {
  /** Run through `/bin/sh -c` inside the sandbox. Exactly one of command/argv. */
  command?: string;
  argv?: readonly string[];
  /** Working directory; must be inside the workspace. */
  cwd?: string;
  /** Per-call variables (from the agent): secret-looking and loader names are dropped. */
  env?: Readonly<Record<string, string>>;
  /** Variables the gate filled from the vault for this run (trusted; not name-filtered). */
  secretEnv?: Readonly<Record<string, string>>;
  /** Wall time for this call; capped by the profile's wallSeconds. */
  timeoutS?: number;
  signal?: AbortSignal;
  stdin?: string | Buffer;
  /** 'inherit' passes the caller's stdin/stdout/stderr (and tty) through (`gatehouse run`). */
  stdio?: 'pipe' | 'inherit';
  /** Gatehouse's home/store/key paths; its default home is always added. */
  hiddenPaths?: readonly string[];
  /**
   * Scrubs stdout and stderr, then cuts them at the profile's output limit (the call's scrubbing).
   * Without it the output is returned as read.
   */
  output?: OutputScrub;
  /** Raw chunks as they arrive (unscrubbed: a streaming consumer must redact them itself). */
  onOutput?: (stream: 'stdout' | 'stderr', chunk: Buffer) => void;
}

export interface SandboxResult extends CommandOutput {
  limits: AppliedLimits;
  limit?: SandboxLimitName;
  /** Says which limit was hit and what it was, for the agent. */
  limitMessage?: string;
  sandbox: SandboxKind;
}

const SIGNAL_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(osConstants.signals).map(([name, num]) => [num, name]),
);

function innerArgv(opts: RunSandboxedOptions): string[] {
  if (opts.command !== undefined && opts.argv !== undefined) {
    throw new GatehouseError('invalid_input', 'give either command or argv, not both', { hint: 'pass one of them' });
  }
  if (opts.command !== undefined) return ['/bin/sh', '-c', opts.command];
  if (opts.argv && opts.argv.length > 0) return [...opts.argv];
  throw new GatehouseError('invalid_input', 'no command to run', { hint: 'pass command or argv' });
}

function checkCwd(profile: SandboxProfile, cwd: string | undefined): string {
  if (cwd === undefined) return profile.workspace;
  let real: string;
  let ws: string;
  try {
    real = realpathSync(cwd.startsWith('/') ? cwd : join(profile.workspace, cwd));
    ws = realpathSync(profile.workspace);
  } catch {
    throw new GatehouseError('path_denied', `cwd ${cwd} does not exist`, {
      hint: 'use a directory inside the workspace',
    });
  }
  if (real !== ws && !real.startsWith(ws + '/')) {
    throw new GatehouseError('path_denied', `cwd ${cwd} is outside the sandbox workspace`, {
      hint: 'use a directory inside the workspace',
    });
  }
  // The workspace is bound at its configured path; translate a realpath back onto it.
  return profile.workspace + real.slice(ws.length);
}

function defaultHidden(): string[] {
  const h = gatehouseHome();
  return [h.home, h.masterKeyFile, h.databaseFile, h.configFile];
}

function writeStubs(profile: SandboxProfile, hostsFile?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sbx-'));
  // bwrap runs as the unprivileged sandbox uid and must be able to open the stubs.
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, 'empty'), '', { mode: 0o444 });
  profile.denyExec.forEach((p, i) => writeFileSync(join(dir, `deny-${i}`), denyStubScript(p), { mode: 0o555 }));
  if (hostsFile !== undefined) writeFileSync(join(dir, 'hosts'), hostsFile, { mode: 0o444 });
  return dir;
}

function readInfo(stream: Readable, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error('bwrap did not report its child pid')), timeoutMs);
    const onData = (d: Buffer): void => {
      buf += d.toString();
      const m = /"child-pid"\s*:\s*(\d+)/.exec(buf);
      if (m) {
        clearTimeout(t);
        stream.off('data', onData);
        resolve(Number(m[1]));
      }
    };
    stream.on('data', onData);
    stream.on('end', () => {
      clearTimeout(t);
      reject(new Error('bwrap exited before reporting its child pid'));
    });
  });
}

export async function runSandboxed(profile: SandboxProfile, opts: RunSandboxedOptions): Promise<SandboxResult> {
  const argv = innerArgv(opts);
  const cwd = checkCwd(profile, opts.cwd);
  const wallSeconds = Math.min(opts.timeoutS ?? profile.limits.wallSeconds, profile.limits.wallSeconds);
  const bwrap = findProgram('bwrap');
  if (!bwrap) {
    // INVARIANT: without bubblewrap nothing runs unless the profile says so (and then says 'none').
    if (!profile.allowUnsandboxed) {
      throw new GatehouseError(
        'sandbox_unavailable',
        'bubblewrap (bwrap) is not installed: refusing to run without a sandbox',
        {
          hint: 'install it (apt-get install bubblewrap), or set allowUnsandboxed in the sandbox profile to run unisolated; see `gatehouse sandbox doctor`',
        },
      );
    }
    return runUnsandboxed(profile, opts, argv, cwd, wallSeconds);
  }
  if (opts.signal?.aborted)
    throw new GatehouseError('cancelled', 'cancelled before start', { hint: 'retry if still wanted' });
  const root = isRoot();
  checkNetworkable(profile, root);
  // As root, the sandbox runs as the workspace's owner, or uid 65534 (never 0): see identity.ts.
  const identity = root ? sandboxIdentity(profile.workspace) : undefined;
  if (identity) checkWorkspaceReachable(profile.workspace, identity);
  const allow = profile.network === 'none' ? undefined : await resolveAllow(profile.network.allow);
  const useCgroup = root && cgroupV1Available().ok;
  const limits = appliedLimits(profile.limits, { sandboxed: true, cgroup: useCgroup, wallSeconds });
  const stubDir = writeStubs(profile, allow?.hostsFile);
  let cg: RunCgroup | undefined;
  let net: NetworkHandle | undefined;
  try {
    const bwrapArgs = planBwrap(profile, {
      hiddenPaths: [...defaultHidden(), ...(opts.hiddenPaths ?? [])],
      stubDir,
      argv,
      cwd,
      env: runEnv(profile, opts, '/tmp/home'),
      home: '/tmp/home',
      ...(allow ? { hostsFile: join(stubDir, 'hosts'), infoFd: 4, blockFd: 5 } : {}),
      denyExec: resolveDenyExec(profile.denyExec),
    });
    if (useCgroup) cg = createRunCgroup(randomBytes(8).toString('hex'), profile.limits);
    const run = launch(bwrap, bwrapArgs, { profile, opts, identity, cg, networked: allow !== undefined });
    if (allow) net = await startNetwork(run, allow);
    const exit = await watched(run, profile.limits, wallSeconds, opts.signal);
    if (opts.signal?.aborted && !run.breach) {
      throw new GatehouseError('cancelled', 'the sandboxed command was cancelled', { hint: 'retry if still wanted' });
    }
    const breach = run.breach ?? breachAfterExit(exit, run, profile.limits);
    const text = run.inherit ? { stdout: '', stderr: '', truncated: false } : run.cap.text();
    // Killed by Gatehouse (wall time, output): no exit code of the command's own to report.
    const ours = breach === 'wall_time' || breach === 'output';
    return {
      exitCode: ours ? null : exit.code,
      signal: ours ? 'SIGKILL' : exit.signal,
      stdout: text.stdout,
      stderr: text.stderr,
      truncated: text.truncated,
      durationMs: exit.durationMs,
      limits,
      ...(breach ? { limit: breach, limitMessage: limitMessage(breach, profile.limits, wallSeconds) } : {}),
      sandbox: allow ? 'bwrap-net' : 'bwrap',
    };
  } finally {
    net?.close();
    if (cg) await removeRunCgroup(cg);
    rmSync(stubDir, { recursive: true, force: true });
  }
}

/** Allowlisted networking needs root (for slirp4netns and the egress rules) and its programs. */
function checkNetworkable(profile: SandboxProfile, root: boolean): void {
  if (profile.network === 'none') return;
  if (!root) {
    throw new GatehouseError(
      'sandbox_unavailable',
      'allowlisted sandbox networking needs Gatehouse to run as root here',
      {
        hint: 'run Gatehouse as root, or set the profile network to "none"',
      },
    );
  }
  if (!findProgram('slirp4netns') || !findProgram('iptables-restore') || !findProgram('nsenter')) {
    throw new GatehouseError(
      'sandbox_unavailable',
      'allowlisted sandbox networking needs slirp4netns, iptables and nsenter',
      {
        hint: 'apt-get install slirp4netns iptables util-linux',
      },
    );
  }
}

/** One launched sandbox: the host chain's process, its output cap, and the first limit it broke. */
interface LaunchedRun {
  readonly child: ChildProcess;
  readonly closed: Promise<{ code: number | null; sig: NodeJS.Signals | null }>;
  readonly cap: OutputCap;
  readonly cg: RunCgroup | undefined;
  readonly inherit: boolean;
  readonly started: number;
  breach: SandboxLimitName | undefined;
  /** Kills the chain and everything in the run's cgroups; the first reason given is the breach. */
  kill(why?: SandboxLimitName): void;
}

interface LaunchOptions {
  profile: SandboxProfile;
  opts: RunSandboxedOptions;
  /** Set when Gatehouse is root: the host user the chain drops to before bwrap. */
  identity: SandboxIdentity | undefined;
  cg: RunCgroup | undefined;
  networked: boolean;
}

/** The host-side chain (see the header): cgroup join -> prlimit -> setpriv (as root) -> bwrap. */
function hostChain(bwrap: string, bwrapCommand: readonly string[], l: LaunchOptions): string[] {
  const chain: string[] = [];
  if (l.cg) chain.push('/bin/sh', '-c', `${joinScript(l.cg)} && exec "$@"`, 'gatehouse-sandbox');
  const prlimit = findProgram('prlimit');
  if (prlimit) chain.push(prlimit, ...prlimitArgs(l.profile.limits), '--');
  if (l.identity) {
    const setpriv = findProgram('setpriv');
    if (!setpriv) {
      throw new GatehouseError(
        'sandbox_unavailable',
        'setpriv is missing: cannot drop the sandbox to an unprivileged host uid',
        {
          hint: 'apt-get install util-linux',
        },
      );
    }
    // INVARIANT: never host uid 0 (sandboxIdentity never answers 0).
    const { uid, gid } = l.identity;
    if (uid === 0) throw new GatehouseError('internal', 'refusing to run a sandbox as host uid 0');
    chain.push(setpriv, `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--no-new-privs', '--');
  }
  chain.push(bwrap, '--args', '3', ...bwrapCommand);
  return chain;
}

function launch(bwrap: string, bwrapArgs: readonly string[], l: LaunchOptions): LaunchedRun {
  // Options (mounts, env values) go through the --args pipe; bwrap takes the command itself only
  // from its real argv, so the inner command is the one part visible in the host's process list.
  const sep = bwrapArgs.indexOf('--');
  const chain = hostChain(bwrap, bwrapArgs.slice(sep), l);
  const inherit = l.opts.stdio === 'inherit';
  const io = inherit ? 'inherit' : 'pipe';
  const stdio: StdioOptions = [io, io, io, 'pipe', ...(l.networked ? (['pipe', 'pipe'] as const) : [])];
  const started = Date.now();
  const [program = '', ...args] = chain;
  const child = spawn(program, args, { stdio, env: { ...HOST_CHAIN_ENV } });
  // Extra pipes can reset when bwrap exits early; that shows up in the exit status instead.
  for (const s of child.stdio.slice(3)) (s as NodeJS.EventEmitter | null)?.on('error', () => undefined);
  const argsPipe = child.stdio[3] as Writable;
  argsPipe.end(
    Buffer.from(
      bwrapArgs
        .slice(0, sep)
        .map((a) => a + '\0')
        .join(''),
      'utf8',
    ),
  );

  const run: LaunchedRun = {
    child,
    cg: l.cg,
    inherit,
    started,
    breach: undefined,
    closed: new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code, sig) => resolve({ code, sig }));
    }),
    kill(why) {
      if (why && !run.breach) run.breach = why;
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      if (l.cg) void killAll(l.cg);
    },
    cap: new OutputCap(l.profile.limits.outputBytes, l.opts.onOutput, () => run.kill('output'), l.opts.output),
  };
  if (!inherit) feed(run, l.opts.stdin);
  return run;
}

/** Output into the cap; stdin written once and closed (a command waiting for more input gets EOF). */
function feed(run: LaunchedRun, input: string | Buffer | undefined): void {
  run.child.stdout?.on('data', (d: Buffer) => run.cap.push('stdout', d));
  run.child.stderr?.on('data', (d: Buffer) => run.cap.push('stderr', d));
  const stdin = run.child.stdin;
  if (stdin) {
    stdin.on('error', () => undefined);
    stdin.end(input ?? '');
  }
}

/** bwrap reports its child's pid on fd 4 and waits on fd 5 until the network is attached. */
async function startNetwork(run: LaunchedRun, allow: Awaited<ReturnType<typeof resolveAllow>>): Promise<NetworkHandle> {
  const pipes = run.child.stdio as unknown as Array<Readable | Writable | null>;
  try {
    const pid = await readInfo(pipes[4] as Readable, 10_000);
    const net = await attachNetwork(pid, allow);
    (pipes[5] as Writable | null)?.end('go');
    return net;
  } catch (e) {
    run.kill();
    await run.closed.catch(() => undefined);
    throw e instanceof GatehouseError
      ? e
      : new GatehouseError('sandbox_unavailable', `could not start the networked sandbox: ${(e as Error).message}`, {
          hint: 'run `gatehouse sandbox doctor`',
        });
  }
}

interface RunExit {
  code: number | null;
  signal: string | null;
  durationMs: number;
}

/**
 * Waits for the run under its wall-time, cgroup-CPU and cancellation watches.
 * INVARIANT: every limit ends in a typed result, never a hang: wall time kills bwrap (whose pid-1
 * child dies with it, taking the whole pid namespace) and everything left in the run's cgroups.
 */
async function watched(
  run: LaunchedRun,
  l: SandboxLimits,
  wallSeconds: number,
  signal?: AbortSignal,
): Promise<RunExit> {
  const wallTimer = setTimeout(() => run.kill('wall_time'), wallSeconds * 1000);
  const cg = run.cg;
  const cpuBudgetNs = l.cpuSeconds * 1e9;
  const cpuTimer = cg ? setInterval(() => cpuUsageNs(cg) > cpuBudgetNs && run.kill('cpu'), 200) : undefined;
  const onAbort = (): void => run.kill();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const exit = await run.closed;
    const sigNum = exit.code !== null && exit.code > 128 && exit.code <= 128 + 64 ? exit.code - 128 : null;
    const sigName = sigNum !== null ? (SIGNAL_NAMES[sigNum] ?? null) : null;
    return { code: exit.code, signal: exit.sig ?? sigName, durationMs: Date.now() - run.started };
  } finally {
    clearTimeout(wallTimer);
    if (cpuTimer) clearInterval(cpuTimer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * What killed the command, if not Gatehouse: the kernel's OOM killer, RLIMIT_CPU (SIGXCPU, or
 * SIGKILL at the hard limit), RLIMIT_FSIZE (SIGXFSZ), or the pids cgroup refusing forks.
 */
function breachAfterExit(exit: RunExit, run: LaunchedRun, l: SandboxLimits): SandboxLimitName | undefined {
  const stats = run.cg ? readStats(run.cg) : undefined;
  const cpuBudgetNs = l.cpuSeconds * 1e9;
  if (stats && stats.oomKills > 0) return 'memory';
  if (exit.signal === 'SIGXCPU' || (exit.signal === 'SIGKILL' && stats && stats.cpuNs >= cpuBudgetNs * 0.9))
    return 'cpu';
  if (exit.signal === 'SIGXFSZ') return 'file_size';
  // A shell that outlives a killed child reports it on stderr (strsignal text); heuristic, but a
  // fake only hurts the faker.
  const tail = run.inherit ? '' : run.cap.rawStderrTail();
  if (/File size limit exceeded/.test(tail)) return 'file_size';
  if (/CPU time limit exceeded/.test(tail)) return 'cpu';
  if (stats && stats.pidsMaxHits > 0) return 'processes';
  return undefined;
}

/** allowUnsandboxed: the command runs as Gatehouse's own user, with rlimits, wall time and output cap only. */
async function runUnsandboxed(
  profile: SandboxProfile,
  opts: RunSandboxedOptions,
  argv: string[],
  cwd: string,
  wallSeconds: number,
): Promise<SandboxResult> {
  const env = runEnv(profile, opts, process.env.HOME ?? cwd);
  const limits = appliedLimits(profile.limits, { sandboxed: false, cgroup: false, wallSeconds });
  const prlimit = findProgram('prlimit');
  const full = prlimit ? [prlimit, ...prlimitArgs(profile.limits), '--', ...argv] : argv;
  const inherit = opts.stdio === 'inherit';
  const started = Date.now();
  const child: ChildProcess = spawn(full[0] as string, full.slice(1), {
    cwd,
    env,
    stdio: inherit ? 'inherit' : 'pipe',
    detached: !inherit,
  });
  let breach: SandboxLimitName | undefined;
  const kill = (why?: SandboxLimitName): void => {
    if (why && !breach) breach = why;
    try {
      if (child.pid !== undefined) process.kill(inherit ? child.pid : -child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  };
  const cap = new OutputCap(profile.limits.outputBytes, opts.onOutput, () => kill('output'), opts.output);
  child.stdout?.on('data', (d: Buffer) => cap.push('stdout', d));
  child.stderr?.on('data', (d: Buffer) => cap.push('stderr', d));
  child.stdin?.on('error', () => undefined);
  child.stdin?.end(opts.stdin ?? '');
  const wallTimer = setTimeout(() => kill('wall_time'), wallSeconds * 1000);
  const onAbort = (): void => kill();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const exit = await new Promise<{ code: number | null; sig: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, sig) => resolve({ code, sig }));
  }).finally(() => {
    clearTimeout(wallTimer);
    opts.signal?.removeEventListener('abort', onAbort);
  });
  // Background children of an unsandboxed command: kill its process group.
  if (!inherit) kill();
  if (!breach) {
    if (exit.sig === 'SIGXCPU') breach = 'cpu';
    else if (exit.sig === 'SIGXFSZ') breach = 'file_size';
  }
  const text = inherit ? { stdout: '', stderr: '', truncated: false } : cap.text();
  return {
    exitCode: exit.code,
    signal: exit.sig,
    stdout: text.stdout,
    stderr: text.stderr,
    truncated: text.truncated,
    durationMs: Date.now() - started,
    limits,
    ...(breach ? { limit: breach, limitMessage: limitMessage(breach, profile.limits, wallSeconds) } : {}),
    sandbox: 'none',
  };
}

/** The environment of one run: the host allowlist, the profile's values, the call's, the vault's. */
function runEnv(profile: SandboxProfile, opts: RunSandboxedOptions, home: string): Record<string, string> {
  return buildSandboxEnv({
    hostEnv: process.env,
    envAllow: profile.envAllow,
    profileEnv: profile.env,
    ...(opts.env ? { callEnv: opts.env } : {}),
    ...(opts.secretEnv ? { secretEnv: opts.secretEnv } : {}),
    home,
  }).env;
}
