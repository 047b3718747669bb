import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outputScrubFor, secretPrefixes } from '../helpers/output-scrub.js';

const SECRET = 'Zq8vN3xT7bK2mW9rL4pY6hD1';
import { SshPool, type SshTargetSpec } from '../../src/ssh/index.js';
import { requires } from '../helpers/requires.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';

const skip = !(await requires('sshd', 'ssh exec'));

describe.skipIf(skip)('ssh exec against a real sshd', () => {
  let sshd: SshdHandle;
  let pool: SshPool;
  let spec: SshTargetSpec;

  beforeAll(async () => {
    sshd = await startSshd();
    spec = sshd.spec('web');
    pool = new SshPool({ killGraceMs: 300 });
  });
  afterAll(async () => {
    await pool?.close();
    await sshd?.dispose();
  });

  it('returns stdout, stderr and the exit code', async () => {
    const r = await pool.exec(spec, sshd.credentials, { command: 'echo hello; echo oops >&2; exit 3' });
    expect(r).toMatchObject({ exitCode: 3, signal: null, stdout: 'hello\n', stderr: 'oops\n', truncated: false });
    expect(r.durationMs).toBeGreaterThan(0);
    expect(r.timedOut).toBeUndefined();
  });

  it('runs as the target user with exit code 0', async () => {
    const r = await pool.exec(spec, sshd.credentials, { command: 'id -un' });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe(sshd.user);
  });

  it('exports env values literally (no expansion) and rejects bad names', async () => {
    const tricky = `it's $HOME "quoted" \`date\` $(id)\nline2`;
    const r = await pool.exec(spec, sshd.credentials, {
      command: 'printf %s "$GH_A"; printf "|%s" "$GH_B"',
      env: { GH_A: tricky, GH_B: 'b' },
    });
    expect(r.stdout).toBe(tricky + '|b');
    await expect(pool.exec(spec, sshd.credentials, { command: 'true', env: { 'A;rm': 'x' } })).rejects.toMatchObject({
      code: 'invalid_input',
    });
  });

  it('runs in cwd, and does not run at all when cd fails', async () => {
    const r = await pool.exec(spec, sshd.credentials, { command: 'pwd; echo a && echo b', cwd: '/tmp' });
    expect(r.stdout).toBe('/tmp\na\nb\n');
    const bad = await pool.exec(spec, sshd.credentials, {
      command: 'echo SHOULD-NOT-RUN',
      cwd: "/nonexistent dir/it's",
    });
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stdout).not.toContain('SHOULD-NOT-RUN');
    expect(bad.stderr).toMatch(/nonexistent/);
  });

  it('feeds stdin and closes it; without stdin the command sees EOF', async () => {
    const r = await pool.exec(spec, sshd.credentials, { command: 'wc -c; cat', stdin: 'abc' });
    expect(r.stdout.trim()).toBe('3');
    const r2 = await pool.exec(spec, sshd.credentials, { command: 'cat; echo done' });
    expect(r2.stdout).toBe('done\n');
  });

  it('caps output with truncated: true and reports progress', async () => {
    const seen: number[] = [];
    const r = await pool.exec(spec, sshd.credentials, {
      command: 'head -c 300000 /dev/zero | tr "\\0" x; echo; head -c 10 /dev/zero | tr "\\0" e >&2',
      maxOutputBytes: 1000,
      onProgress: (n) => seen.push(n),
      progressIntervalMs: 0,
    });
    expect(r.truncated).toBe(true);
    expect(r.stdout.length).toBe(1000);
    expect(r.stderr).toBe('eeeeeeeeee');
    expect(r.exitCode).toBe(0);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen[seen.length - 1]).toBeGreaterThanOrEqual(1000);
  });

  it('scrubs stdout and stderr', async () => {
    const output = outputScrubFor(SECRET);
    const r = await pool.exec(spec, sshd.credentials, { command: `echo token=${SECRET}; echo ${SECRET} >&2`, output });
    expect(r.stdout).toBe('token=[REDACTED]\n');
    expect(r.stderr).toBe('[REDACTED]\n');
  });

  // Issue 13.5: output was cut at the limit and then scrubbed, so a secret straddling the cut came
  // back minus its last characters. Now it is scrubbed first and cut after, at every alignment.
  it('scrubs before it cuts: a secret straddling the output limit never shows, at any alignment', async () => {
    const output = outputScrubFor(SECRET);
    const limit = 64;
    for (let pad = limit - SECRET.length - 2; pad <= limit + 2; pad++) {
      const r = await pool.exec(spec, sshd.credentials, {
        command: `printf '%${pad}s' '' | tr ' ' x; printf '${SECRET}yyyy'`,
        maxOutputBytes: limit,
        output,
      });
      expect(Buffer.byteLength(r.stdout), `pad ${pad}`).toBeLessThanOrEqual(limit);
      for (const p of secretPrefixes(SECRET)) expect(r.stdout, `pad ${pad}`).not.toContain(p);
    }
  });

  async function alive(pid: number): Promise<boolean> {
    // Checked over a fresh exec (as the remote user) and locally (same machine).
    const r = await pool.exec(spec, sshd.credentials, {
      command: `kill -0 ${pid} 2>/dev/null && echo alive || echo gone`,
    });
    let local = true;
    try {
      process.kill(pid, 0);
    } catch {
      local = false;
    }
    return r.stdout.trim() === 'alive' || local;
  }

  async function waitForPid(file: string): Promise<number> {
    for (let i = 0; i < 100; i++) {
      const r = await pool.exec(spec, sshd.credentials, { command: `cat ${file} 2>/dev/null` });
      const pid = Number(r.stdout.trim());
      if (pid > 0) return pid;
      await new Promise((res) => setTimeout(res, 50));
    }
    throw new Error('pid file never appeared');
  }

  it('a timeout kills the remote process (child of the shell included)', async () => {
    const file = `/tmp/gh-ssh-timeout-${process.pid}-${Date.now()}`;
    const r = await pool.exec(spec, sshd.credentials, {
      command: `sleep 300 & echo $! > ${file}; echo started; wait`,
      timeoutS: 1,
    });
    expect(r.timedOut).toBe(true);
    expect(r.exitCode).toBeNull();
    expect(r.stdout).toBe('started\n');
    const pid = await waitForPid(file);
    // The signal is asynchronous on the server; give it a moment without asserting timing.
    let stillAlive = true;
    for (let i = 0; i < 50 && stillAlive; i++) {
      stillAlive = await alive(pid);
      if (stillAlive) await new Promise((res) => setTimeout(res, 100));
    }
    expect(stillAlive).toBe(false);
    await pool.exec(spec, sshd.credentials, { command: `rm -f ${file}` });
  });

  it('an AbortSignal cancels the remote command and kills it', async () => {
    const file = `/tmp/gh-ssh-cancel-${process.pid}-${Date.now()}`;
    const ac = new AbortController();
    const p = pool.exec(spec, sshd.credentials, {
      command: `echo $$ > ${file}; exec sleep 300`,
      signal: ac.signal,
      timeoutS: 120,
    });
    const pid = await waitForPid(file);
    expect(await alive(pid)).toBe(true);
    ac.abort();
    const r = await p;
    expect(r.cancelled).toBe(true);
    expect(r.timedOut).toBeUndefined();
    // The server delivered the signal request (killpg on the session), not just a channel close.
    expect(r.signal).toBe('TERM');
    let stillAlive = true;
    for (let i = 0; i < 50 && stillAlive; i++) {
      stillAlive = await alive(pid);
      if (stillAlive) await new Promise((res) => setTimeout(res, 100));
    }
    expect(stillAlive).toBe(false);
    await pool.exec(spec, sshd.credentials, { command: `rm -f ${file}` });
  });

  it('a command that ignores TERM is still killed', async () => {
    const file = `/tmp/gh-ssh-term-${process.pid}-${Date.now()}`;
    const r = await pool.exec(spec, sshd.credentials, {
      command: `trap '' TERM; echo $$ > ${file}; while :; do sleep 1; done`,
      timeoutS: 1,
    });
    expect(r.timedOut).toBe(true);
    expect(r.signal).toBe('KILL');
    const pid = await waitForPid(file);
    let stillAlive = true;
    for (let i = 0; i < 50 && stillAlive; i++) {
      stillAlive = await alive(pid);
      if (stillAlive) await new Promise((res) => setTimeout(res, 100));
    }
    expect(stillAlive).toBe(false);
  });

  it('an already-aborted signal runs nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(pool.exec(spec, sshd.credentials, { command: 'true', signal: ac.signal })).rejects.toMatchObject({
      code: 'cancelled',
    });
  });

  it('rejects an empty command and bad timeouts', async () => {
    await expect(pool.exec(spec, sshd.credentials, { command: '  ' })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(pool.exec(spec, sshd.credentials, { command: 'true', timeoutS: -1 })).rejects.toMatchObject({
      code: 'invalid_input',
    });
  });
});
