/**
 * Test harness: a throwaway OpenSSH sshd on a free 127.0.0.1 port, with generated host and user
 * keys and a temp config, logging in a dedicated test user with a plain /bin/sh shell (root's
 * shell rc files are slow and would make every exec cost a second). Interactive-session tests use
 * `startSshd({ loginShell: 'bash' })` (user gh-test-bash, /bin/bash), optionally with private rc
 * files (`homeFiles`).
 *
 * Reusable by any end-to-end test and by bench/ssh.ts:
 *
 *   const check = sshdAvailability();            // { ok, reason } (suites: `await requires('sshd', …)`, test/helpers/requires.ts)
 *   const sshd = await startSshd();              // starts and waits for the SSH banner
 *   sshd.spec('web')                             // SshTargetSpec with the pinned host key
 *   sshd.credentials                             // () => Promise<{ privateKey, passphrase? }>
 *   await sshd.stop(); await sshd.start();       // restart on the same port with the same host key
 *   await sshd.dispose();                        // stop and delete the temp dir
 *
 * Notes from machine.md §2 that this follows: UsePAM yes (the test user's account is locked, and
 * without PAM sshd refuses it), AuthorizedKeysFile in a world-readable dir (sshd reads it as the
 * target user), /run/sshd must exist, and the operator's ~/.ssh is never touched.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, connect as netConnect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { SshTargetConfig } from '../../src/targets/index.js';

export const SSHD_BIN = process.env.GATEHOUSE_SSHD ?? '/usr/sbin/sshd';
export const SSH_KEYGEN_BIN = 'ssh-keygen';
export const DEFAULT_TEST_USER = 'gh-test';
/** Login user whose shell is bash (interactive sessions need bash; see StartSshdOptions.loginShell). */
export const BASH_TEST_USER = 'gh-test-bash';

export interface SshdAvailability {
  ok: boolean;
  reason?: string;
}

/** Whether a throwaway sshd can run here (binary present, keygen present, root or own-user mode). */
export function sshdAvailability(): SshdAvailability {
  if (!existsSync(SSHD_BIN)) return { ok: false, reason: `${SSHD_BIN} not found (apt-get install openssh-server)` };
  const kg = spawnSync(SSH_KEYGEN_BIN, ['-?'], { stdio: 'ignore' });
  if (kg.error) return { ok: false, reason: 'ssh-keygen not found (apt-get install openssh-client)' };
  return { ok: true };
}

export interface StartSshdOptions {
  /** Login user. Default gh-test when running as root, else the current user. */
  user?: string;
  /**
   * Login shell of the default user when running as root: 'sh' (default: gh-test, /bin/sh) or
   * 'bash' (gh-test-bash, /bin/bash with the stock /etc/skel rc files), which interactive SSH
   * sessions need. Ignored when `user` is given or when not running as root (the current user's
   * own shell is used then).
   */
  loginShell?: 'sh' | 'bash';
  /**
   * Files for a private home directory of this sshd only (name relative to it -> content), for
   * tests that need particular rc files (e.g. a `.bash_profile` that sets aliases and traps).
   * sshd's `SetEnv HOME=…` points the login there, so the shared test user's real home is never
   * touched and parallel test files cannot see each other's rc files.
   */
  homeFiles?: Record<string, string>;
  /** Encrypt the user key with this passphrase. */
  passphrase?: string;
  /** sshd MaxSessions (channels per connection). Default 10 (the OpenSSH default). */
  maxSessions?: number;
  /** Extra sshd_config lines. */
  extraConfig?: string[];
}

export interface SshdHandle {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly dir: string;
  readonly logPath: string;
  readonly hostKeyPath: string;
  /** 'SHA256:…' of the host key as `ssh-keygen -lf` prints it. */
  readonly hostKeyFingerprint: string;
  /** The user's private key text (OpenSSH format). */
  readonly privateKey: string;
  readonly passphrase: string | undefined;
  readonly userKeyPath: string;
  /** Target spec with the host key pinned. */
  spec(name?: string): { name: string; host: string; port: number; user: string; hostKey: string };
  credentials: () => Promise<{ privateKey: string; passphrase?: string }>;
  /** Whether the listener is running. */
  running(): boolean;
  /** Stops the listener and every connection process it forked (so live connections break). */
  stop(): Promise<void>;
  /** Starts the listener again on the same port with the same host key. */
  start(): Promise<void>;
  /** stop() and delete the temp dir. */
  dispose(): Promise<void>;
}

function run(cmd: string, args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Creates the test user if absent. Idempotent and safe when two workers race on it. */
export function ensureTestUser(user: string, shell = '/bin/sh'): void {
  if (run('id', ['-u', user]).status === 0) return;
  const r = run('useradd', ['-m', '-s', shell, user]);
  if (r.status !== 0 && run('id', ['-u', user]).status !== 0) {
    throw new Error(`useradd ${user} failed: ${r.stderr.trim()}`);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something on host:port speaks an SSH banner. */
async function waitForBanner(host: string, port: number, timeoutMs: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`sshd exited early (code ${child.exitCode}, signal ${child.signalCode})`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = netConnect({ host, port });
      let buf = '';
      const done = (v: boolean) => {
        s.destroy();
        resolve(v);
      };
      s.setTimeout(1000, () => done(false));
      s.on('data', (d) => {
        buf += d.toString('latin1');
        if (buf.startsWith('SSH-')) done(true);
      });
      s.on('error', () => done(false));
      s.on('close', () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd on ${host}:${port} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** All descendants of pid, found through /proc (sshd forks one process per connection). */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const ent of readdirSync('/proc')) {
    if (!/^\d+$/.test(ent)) continue;
    try {
      const stat = readFileSync(`/proc/${ent}/stat`, 'utf8');
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(ent), Number(after[1]));
    } catch {
      /* process gone */
    }
  }
  const out: number[] = [];
  const frontier = [root];
  while (frontier.length) {
    const p = frontier.pop()!;
    for (const [pid, pp] of parent) {
      if (pp === p && !out.includes(pid)) {
        out.push(pid);
        frontier.push(pid);
      }
    }
  }
  return out;
}

function fingerprintOfPub(pubPath: string): string {
  const line = readFileSync(pubPath, 'utf8').trim().split(/\s+/);
  const blob = Buffer.from(line[1] ?? '', 'base64');
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

export async function startSshd(opts: StartSshdOptions = {}): Promise<SshdHandle> {
  const avail = sshdAvailability();
  if (!avail.ok) throw new Error(`cannot start sshd: ${avail.reason}`);
  const isRoot = process.getuid?.() === 0;
  const bash = opts.loginShell === 'bash' && opts.user === undefined;
  const user = opts.user ?? (isRoot ? (bash ? BASH_TEST_USER : DEFAULT_TEST_USER) : userInfo().username);
  if (isRoot) ensureTestUser(user, bash ? '/bin/bash' : '/bin/sh');
  mkdirSync('/run/sshd', { recursive: true });

  const dir = mkdtempSync(join(tmpdir(), 'gh-sshd-'));
  chmodSync(dir, 0o755);
  const keysDir = join(dir, 'pub');
  mkdirSync(keysDir, { mode: 0o755 });
  chmodSync(keysDir, 0o755);
  const hostKeyPath = join(dir, 'host_ed25519');
  const userKeyPath = join(dir, 'user_key');
  const gen = (path: string, pass: string) => {
    const r = run(SSH_KEYGEN_BIN, ['-q', '-t', 'ed25519', '-N', pass, '-C', 'gatehouse-test', '-f', path]);
    if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr}`);
  };
  gen(hostKeyPath, '');
  gen(userKeyPath, opts.passphrase ?? '');
  const authKeys = join(keysDir, 'authorized_keys');
  writeFileSync(authKeys, readFileSync(userKeyPath + '.pub'));
  chmodSync(authKeys, 0o644);

  let homeDir: string | undefined;
  if (opts.homeFiles) {
    homeDir = join(dir, 'home');
    mkdirSync(homeDir, { mode: 0o755 });
    chmodSync(homeDir, 0o755);
    for (const [name, content] of Object.entries(opts.homeFiles)) {
      const path = join(homeDir, name);
      writeFileSync(path, content);
      chmodSync(path, 0o644);
    }
  }

  const port = await freePort();
  const logPath = join(dir, 'sshd.log');
  const configPath = join(dir, 'sshd_config');
  const config = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKeyPath}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authKeys}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    `UsePAM ${isRoot ? 'yes' : 'no'}`,
    'StrictModes no',
    `MaxSessions ${opts.maxSessions ?? 10}`,
    'MaxStartups 100:30:200',
    'Subsystem sftp internal-sftp',
    'LogLevel VERBOSE',
    'PrintMotd no',
    'UseDNS no',
    ...(homeDir ? [`SetEnv HOME=${homeDir}`] : []),
    ...(opts.extraConfig ?? []),
  ].join('\n');
  writeFileSync(configPath, config + '\n');
  const t = run(SSHD_BIN, ['-t', '-f', configPath]);
  if (t.status !== 0) throw new Error(`sshd -t failed: ${t.stderr}`);

  const privateKey = readFileSync(userKeyPath, 'utf8');
  const hostKeyFingerprint = fingerprintOfPub(hostKeyPath + '.pub');
  let child: ChildProcess | undefined;

  const start = async (): Promise<void> => {
    if (child && child.exitCode === null && child.signalCode === null) return;
    let lastErr: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      // -D: stay in the foreground so this process owns it; detached: own process group.
      const c = spawn(SSHD_BIN, ['-D', '-f', configPath, '-E', logPath], { stdio: 'ignore', detached: true });
      child = c;
      try {
        await waitForBanner('127.0.0.1', port, 10_000, c);
        return;
      } catch (e) {
        lastErr = e;
        try {
          c.kill('SIGKILL');
        } catch {
          /* gone */
        }
        // The port may still be held by a dying connection process right after stop(); retry.
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error(
      `sshd did not start: ${String(lastErr)}; log: ${existsSync(logPath) ? readFileSync(logPath, 'utf8').slice(-2000) : ''}`,
    );
  };

  const stop = async (): Promise<void> => {
    const c = child;
    if (!c || c.pid === undefined) return;
    const pids = [c.pid, ...descendants(c.pid)];
    const exited =
      c.exitCode !== null || c.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((r) => c.once('exit', () => r()));
    // Top-down: the sshd processes die first, so no exit status of a killed command gets out.
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await exited;
    child = undefined;
  };

  await start();

  const handle: SshdHandle = {
    host: '127.0.0.1',
    port,
    user,
    dir,
    logPath,
    hostKeyPath,
    hostKeyFingerprint,
    privateKey,
    passphrase: opts.passphrase,
    userKeyPath,
    spec: (name = 'test') => ({ name, host: '127.0.0.1', port, user, hostKey: hostKeyFingerprint }),
    credentials: async () => ({ privateKey, ...(opts.passphrase ? { passphrase: opts.passphrase } : {}) }),
    running: () => !!child && child.exitCode === null && child.signalCode === null,
    stop,
    start,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

/**
 * Seals the test sshd's client key in vault `ops` (item `box`, bound to the target) and adds the
 * SSH target `name` with the server's host key pinned: what most session tests start from.
 */
export async function addSshTarget(
  rt: {
    vault: {
      createVault(name: string): Promise<unknown>;
      setField(ref: string, value: string, o: { bind: string[] }): Promise<unknown>;
    };
    targets: { add(kind: 'ssh', name: string, config: SshTargetConfig): Promise<unknown> };
  },
  sshd: SshdHandle,
  name = 'box',
): Promise<void> {
  await rt.vault.createVault('ops');
  await rt.vault.setField('ops/box.key', sshd.privateKey, { bind: [`target:${name}`] });
  await rt.targets.add('ssh', name, {
    host: '127.0.0.1',
    port: sshd.port,
    user: sshd.user,
    key: 'vault:ops/box.key',
    passphrase: null,
    hostKey: sshd.hostKeyFingerprint,
  });
}
