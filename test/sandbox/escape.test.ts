/**
 * Escape attempts against the real bubblewrap sandbox. Each attempt must fail, and the test checks
 * what the sandboxed command saw (the error text, or the empty stand-in), not only the exit code.
 * Network tests talk only to servers on the host's 127.0.0.1.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeSandbox, runSandboxed, validateProfile, type SandboxProfileInput } from '../../src/sandbox/index.js';
import { outputScrubFor, secretPrefixes } from '../helpers/output-scrub.js';
import { requires } from '../helpers/requires.js';

const HAVE_BWRAP = await requires('bwrap', 'sandbox escapes');
const ROOT = process.getuid?.() === 0;
// cgroup limits and allowlisted networking need root: warned on a laptop, required under CI=true.
const ROOT_PARTS = HAVE_BWRAP && (await requires('root', 'sandbox cgroup/network limits'));

const SECRET = 'TOP-SECRET-7f3a9c';
let base: string;
let ws: string;
let outside: string;
const sandboxUid = ROOT ? 65534 : (process.getuid?.() ?? 0);

function profile(extra: Partial<SandboxProfileInput> = {}) {
  return validateProfile({
    name: 'test',
    workspace: ws,
    denyRead: ['secret.txt'],
    limits: { wallSeconds: 30 },
    ...extra,
  });
}
const hidden = () => [join(ws, '.gatehouse-home')];
const run = (command: string, extra: Partial<SandboxProfileInput> = {}, cwd?: string) =>
  runSandboxed(profile(extra), { command, hiddenPaths: hidden(), ...(cwd ? { cwd } : {}) });

function listen(): Promise<{ server: Server; port: number; hits: () => number }> {
  return new Promise((resolve) => {
    let n = 0;
    const server = createServer((s) => {
      n++;
      s.end('hello-from-host\n');
    });
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve({ server, port: typeof addr === 'object' && addr ? addr.port : 0, hits: () => n });
    });
  });
}

const pyConnect = (host: string, port: number) =>
  `python3 -c "
import socket,sys
s=socket.socket(); s.settimeout(3)
try:
    s.connect(('${host}',${port})); print('CONNECTED', s.recv(100))
except Exception as e:
    print('BLOCKED', type(e).__name__, e)
"`;

describe.skipIf(!HAVE_BWRAP)('sandbox escapes (real bubblewrap)', () => {
  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), 'gh-sbx-test-'));
    ws = join(base, 'ws');
    outside = join(base, 'outside');
    mkdirSync(ws);
    mkdirSync(outside);
    mkdirSync(join(ws, 'sub'));
    writeFileSync(join(ws, 'secret.txt'), SECRET);
    writeFileSync(join(outside, 'secret.txt'), SECRET);
    mkdirSync(join(ws, '.gatehouse-home'));
    writeFileSync(join(ws, '.gatehouse-home', 'master.key'), SECRET);
    symlinkSync(join(ws, 'secret.txt'), join(ws, 'link-to-secret'));
    symlinkSync(join(ws, '.gatehouse-home', 'master.key'), join(ws, 'link-to-key'));
    linkSync(join(ws, 'secret.txt'), join(ws, 'sub', 'hardlink'));
    if (ROOT) {
      for (const p of [base, ws, join(ws, 'sub'), join(ws, 'secret.txt')]) chownSync(p, sandboxUid, sandboxUid);
    }
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it('hides a deny_read file read directly (empty stand-in, not the content)', async () => {
    const r = await run('cat secret.txt; echo "size=$(wc -c < secret.txt)"');
    expect(r.sandbox).toBe('bwrap');
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stdout).toContain('size=0');
  });

  it('hides it through a symlink', async () => {
    const r = await run('cat link-to-secret; cat link-to-key; echo "size=$(wc -c < link-to-secret)"');
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stdout).toContain('size=0');
  });

  it('hides it through a pre-existing hardlink, and a new hardlink cannot reach it', async () => {
    const r = await run(
      'cat sub/hardlink; ln secret.txt sub/hl2 2>&1 || echo "LN_FAILED"; cat sub/hl2 2>/dev/null; echo "size=$(wc -c < sub/hardlink)"',
    );
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stdout).toContain('size=0');
  });

  it('hides it through /proc/self/root and /proc/1/root', async () => {
    const r = await run(
      `cat /proc/self/root${ws}/secret.txt /proc/1/root${ws}/secret.txt 2>&1; echo "size=$(wc -c < /proc/self/root${ws}/secret.txt)"`,
    );
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stdout).toContain('size=0');
  });

  it('cannot climb out of the workspace with ../', async () => {
    const r = await run(
      'cat ../secret.txt; cat ../../outside/secret.txt 2>&1; cat ../../../outside/secret.txt 2>&1',
      {},
      join(ws, 'sub'),
    );
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(r.stdout + r.stderr).toMatch(/No such file or directory/);
  });

  it("keeps Gatehouse's home (hiddenPaths) invisible, whatever the profile says", async () => {
    const r = await run(
      'ls -A .gatehouse-home; echo "entries=$(ls -A .gatehouse-home | wc -l)"; cat .gatehouse-home/master.key 2>&1',
      { denyRead: [] },
    );
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(r.stdout).toContain('entries=0');
    expect(r.stdout).toMatch(/master.key: No such file or directory/);
  });

  it('cannot write outside the workspace (read-only system, private /tmp, read-only root)', async () => {
    const marker = join(outside, 'written');
    const r = await run(
      `echo x > /usr/gh-escape; echo x > /etc/gh-escape; echo x > ${marker}; echo x > /gh-escape; echo x > /tmp/ok && echo TMP_OK; echo x > ws-ok && echo WS_OK`,
    );
    expect(r.stderr).toMatch(/\/usr\/gh-escape: Read-only file system/);
    expect(r.stderr).toMatch(/\/etc\/gh-escape: Read-only file system/);
    expect(r.stderr).toMatch(/\/gh-escape: Read-only file system/);
    expect(r.stderr).toMatch(/written: Directory nonexistent|No such file/);
    expect(r.stdout).toContain('TMP_OK');
    expect(r.stdout).toContain('WS_OK');
    expect(existsSync(marker)).toBe(false);
    expect(existsSync('/usr/gh-escape')).toBe(false);
    expect(existsSync(join(ws, 'ws-ok'))).toBe(true);
  });

  it('runs as an unprivileged uid with no capabilities and cannot read root-only host files', async () => {
    const r = await run(
      'id -u; grep CapEff /proc/self/status; cat /etc/shadow; echo "shadow=$(wc -c < /etc/shadow)"; unshare -U true 2>&1 || echo NO_USERNS',
    );
    expect(r.stdout).toMatch(/^65534$/m);
    expect(r.stdout).toMatch(/CapEff:\s+0+$/m);
    expect(r.stdout).toContain('shadow=0');
    expect(r.stdout).toContain('NO_USERNS');
  });

  it('cannot signal a process outside the sandbox', async () => {
    const victim: ChildProcess = spawn('sleep', ['60'], { stdio: 'ignore' });
    try {
      const r = await run(`kill -9 ${victim.pid} 2>&1; echo "rc=$?"; ps -e -o pid= | wc -l`);
      expect(r.stdout).toMatch(/No such process/);
      expect(() => process.kill(victim.pid as number, 0)).not.toThrow();
      expect(victim.exitCode).toBeNull();
    } finally {
      victim.kill('SIGKILL');
    }
  });

  it('kills a background child when the wall time runs out, and after a normal end', async () => {
    const tag1 = `31.${process.pid % 1000}7`;
    const tag2 = `32.${process.pid % 1000}3`;
    const r = await runSandboxed(profile({ limits: { wallSeconds: 2 } }), {
      command: `(sleep ${tag1}; echo late > late.txt) & echo started; sleep ${tag1}`,
      hiddenPaths: hidden(),
    });
    expect(r.limit).toBe('wall_time');
    expect(r.limitMessage).toMatch(/wall time limit of 2 s exceeded/);
    expect(r.stdout).toContain('started');
    const r2 = await run(`(sleep ${tag2} &); setsid sleep ${tag2} & echo done`);
    expect(r2.exitCode).toBe(0);
    const left = (tag: string) => {
      try {
        return execFileSync('pgrep', ['-f', `sleep ${tag}`], { encoding: 'utf8' }).trim();
      } catch {
        return '';
      }
    };
    expect(left(tag1)).toBe('');
    expect(left(tag2)).toBe('');
  });

  it('cuts output at the cap, kills the command and says so', async () => {
    const r = await run('yes gatehouse', { limits: { outputBytes: 10_000, wallSeconds: 30 } });
    expect(r.limit).toBe('output');
    expect(r.truncated).toBe(true);
    expect(r.stdout.length).toBe(10_000);
  });

  it('enforces the file size limit (typed file_size)', async () => {
    const r = await run('head -c 3000000 /dev/zero > big.bin; echo "size=$(wc -c < big.bin)"', {
      limits: { fileSizeBytes: 1024 * 1024 },
    });
    expect(r.limit).toBe('file_size');
    expect(r.stdout).toContain('size=1048576');
    expect(r.stderr).toMatch(/File size limit exceeded/);
  });

  it('enforces the CPU limit (typed cpu), by whichever limiter fires first', async () => {
    const r = await run('python3 -c "while True: pass"', { limits: { cpuSeconds: 1 } });
    // Two limiters race at the 1 s mark: RLIMIT_CPU (SIGXCPU) and, as root, the cgroup's CPU
    // accounting, whose poll kills with SIGKILL (src/sandbox/run.ts). Either is the CPU limit.
    expect(r.limit).toBe('cpu');
    expect(['SIGXCPU', 'SIGKILL']).toContain(r.signal);
    expect(r.limitMessage).toMatch(/CPU time limit of 1 s/);
  });

  it.skipIf(!ROOT_PARTS)('enforces the memory limit (typed memory)', async () => {
    const r = await run('python3 -c "a = bytearray(300*1024*1024); print(len(a))"', {
      limits: { memoryBytes: 64 * 1024 * 1024 },
    });
    expect(r.limit).toBe('memory');
    expect(r.stdout).not.toContain(String(300 * 1024 * 1024));
    expect(r.limitMessage).toMatch(/memory limit of 64.0 MiB exceeded/);
  });

  it.skipIf(!ROOT_PARTS)('enforces the process limit (typed processes)', async () => {
    const r = await run('for i in $(seq 1 60); do sleep 5 & done; wait', { limits: { processes: 16 } });
    expect(r.limit).toBe('processes');
    expect(r.stderr).toMatch(/Cannot fork|Resource temporarily unavailable/);
  });

  it('has no network by default: a host loopback server is unreachable', async () => {
    const srv = await listen();
    try {
      const r = await run(
        `${pyConnect('127.0.0.1', srv.port)}; ${pyConnect('10.0.2.2', srv.port)}; tail -n +3 /proc/net/dev | cut -d: -f1`,
      );
      expect(r.stdout).not.toContain('CONNECTED');
      expect(r.stdout).toMatch(/BLOCKED ConnectionRefusedError/);
      expect(r.stdout).toMatch(/BLOCKED OSError .*Network is unreachable/);
      expect(r.stdout.trim().split('\n').pop()?.trim()).toBe('lo');
      expect(srv.hits()).toBe(0);
    } finally {
      srv.server.close();
    }
  });

  it.skipIf(!ROOT_PARTS)('with an allowlist reaches only the listed host:port (egress rules)', async () => {
    const a = await listen();
    const b = await listen();
    try {
      const r = await run(
        `${pyConnect('host-loopback', a.port)}; ${pyConnect('10.0.2.2', b.port)}; ${pyConnect('10.0.2.3', 53)}`,
        {
          network: { allow: [{ host: 'host-loopback', port: a.port }] },
        },
      );
      expect(r.sandbox).toBe('bwrap-net');
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/CONNECTED .*hello-from-host/);
      expect(lines[1]).toMatch(/BLOCKED ConnectionRefusedError/);
      expect(lines[2]).toMatch(/BLOCKED ConnectionRefusedError/);
      expect(a.hits()).toBe(1);
      expect(b.hits()).toBe(0);
    } finally {
      a.server.close();
      b.server.close();
    }
  });

  it('denies a program by every path, by copy and through interpreters', async () => {
    const r = await run(
      [
        'curl -V',
        '/bin/curl -V',
        '/usr/bin/curl -V',
        'cp /usr/bin/curl ./mycurl && chmod +x ./mycurl && ./mycurl -V',
        'sh /usr/bin/curl -V',
        "python3 -c \"import subprocess; subprocess.run(['/usr/bin/curl', '-V'])\"",
        'perl -e \'exec "/usr/bin/curl", "-V"\'',
        '/lib64/ld-linux-x86-64.so.2 /usr/bin/curl -V 2>&1 | head -1',
        'echo "copy_size=$(wc -c < ./mycurl)"',
      ].join('; '),
      { denyExec: ['curl'] },
    );
    expect(r.stdout + r.stderr).not.toMatch(/curl \d+\.\d+/);
    const denials = r.stderr.match(/'curl' is denied by deny_exec/g) ?? [];
    expect(denials.length).toBeGreaterThanOrEqual(7);
    expect(r.stdout).toMatch(/copy_size=\d{2,3}$/m);
  });

  it('rebuilds the environment from the allowlist and strips secret-looking names', async () => {
    process.env.GH_TEST_API_TOKEN = 'tok-should-not-pass';
    process.env.AWS_REGION_TEST = 'eu-west-1';
    process.env.PLAIN_TEST_VAR = 'plain-ok';
    try {
      const r = await runSandboxed(profile({ envAllow: ['GH_TEST_API_TOKEN', 'AWS_REGION_TEST', 'PLAIN_TEST_VAR'] }), {
        command: 'env',
        env: { GITHUB_TOKEN: 'agent-tok', LD_PRELOAD: '/tmp/x.so', AGENT_OK: '1' },
        secretEnv: { FILLED_API_KEY: 'vault-filled' },
        hiddenPaths: hidden(),
      });
      expect(r.stdout).toContain('PLAIN_TEST_VAR=plain-ok');
      expect(r.stdout).toContain('AGENT_OK=1');
      expect(r.stdout).toContain('FILLED_API_KEY=vault-filled');
      expect(r.stdout).not.toContain('tok-should-not-pass');
      expect(r.stdout).not.toContain('AWS_REGION_TEST');
      expect(r.stdout).not.toContain('agent-tok');
      expect(r.stdout).not.toContain('LD_PRELOAD');
      expect(r.stdout).not.toMatch(/^GATEHOUSE_/m);
    } finally {
      delete process.env.GH_TEST_API_TOKEN;
      delete process.env.AWS_REGION_TEST;
      delete process.env.PLAIN_TEST_VAR;
    }
  });

  it("scrubs the output with the call's scrubbing", async () => {
    const secret = 'Zq8vN3xT7bK2mW9rL4pY6hD1';
    const r = await runSandboxed(profile(), {
      command: `echo value=${secret}`,
      output: outputScrubFor(secret),
      hiddenPaths: hidden(),
    });
    expect(r.stdout).toBe('value=[REDACTED]\n');
  });

  // Issue 13.5: scrub first, cut after — a secret straddling the output cap never shows.
  it('scrubs before it cuts at the output cap, at every alignment', async () => {
    const secret = 'Zq8vN3xT7bK2mW9rL4pY6hD1';
    const output = outputScrubFor(secret);
    const cap = 200;
    for (let pad = cap - secret.length - 2; pad <= cap + 2; pad += 3) {
      const r = await runSandboxed(profile({ limits: { outputBytes: cap, wallSeconds: 30 } }), {
        command: `head -c ${pad} /dev/zero | tr '\\0' x; printf '${secret}'; yes y | head -c 100000`,
        output,
        hiddenPaths: hidden(),
      });
      expect(r.truncated, `pad ${pad}`).toBe(true);
      expect(Buffer.byteLength(r.stdout), `pad ${pad}`).toBeLessThanOrEqual(cap);
      for (const p of secretPrefixes(secret)) expect(r.stdout, `pad ${pad}`).not.toContain(p);
    }
  });

  it('refuses a cwd outside the workspace', async () => {
    await expect(runSandboxed(profile(), { command: 'true', cwd: outside })).rejects.toMatchObject({
      code: 'path_denied',
    });
  });

  it('doctor tells the truth about this host', async () => {
    const p = await probeSandbox();
    expect(p.checks.find((c) => c.name === 'bubblewrap sandbox')?.status).toBe('ok');
    expect(p.level).toBe(ROOT ? 'bwrap+slirp' : 'bwrap');
  });
});
