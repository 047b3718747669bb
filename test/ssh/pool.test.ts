import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshPool, SshSessionManager, type SshTargetSpec } from '../../src/ssh/index.js';
import { requires } from '../helpers/requires.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';

const skip = !(await requires('sshd', 'ssh pool'));

describe.skipIf(skip)('SshPool against a real sshd', () => {
  let sshd: SshdHandle;
  let spec: SshTargetSpec;

  beforeAll(async () => {
    sshd = await startSshd();
    spec = sshd.spec('pool');
  });
  afterAll(async () => {
    await sshd?.dispose();
  });

  it('serves many calls over one connection', async () => {
    const pool = new SshPool();
    try {
      for (let i = 0; i < 5; i++)
        expect((await pool.exec(spec, sshd.credentials, { command: `echo ${i}` })).stdout).toBe(`${i}\n`);
      expect(pool.stats('pool')[0]).toMatchObject({ connects: 1, connected: true, active: 0 });
    } finally {
      await pool.close();
    }
  });

  it('queues calls beyond the channel limit (FIFO) and completes them all', async () => {
    const pool = new SshPool({ maxChannels: 3 });
    try {
      const n = 12;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) => pool.exec(spec, sshd.credentials, { command: `sleep 0.2; echo ${i}` })),
      );
      expect(results.map((r) => r.stdout.trim())).toEqual(Array.from({ length: n }, (_, i) => String(i)));
      const st = pool.stats('pool')[0]!;
      expect(st.peak).toBe(3);
      expect(st.connects).toBe(1);
      expect(st.queued).toBe(0);
    } finally {
      await pool.close();
    }
  });

  it('the default limit (8) stays below MaxSessions: 20 parallel calls all succeed', async () => {
    const pool = new SshPool();
    try {
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) => pool.exec(spec, sshd.credentials, { command: `echo ${i}` })),
      );
      expect(results.every((r, i) => r.exitCode === 0 && r.stdout === `${i}\n`)).toBe(true);
      expect(pool.stats('pool')[0]!.peak).toBeLessThanOrEqual(8);
    } finally {
      await pool.close();
    }
  });

  it('a full queue fails with limit_exceeded; an abort takes a call out of the queue', async () => {
    const pool = new SshPool({ maxChannels: 1, maxQueue: 1 });
    try {
      const first = pool.exec(spec, sshd.credentials, { command: 'sleep 0.5; echo first' });
      const ac = new AbortController();
      const second = pool.exec(spec, sshd.credentials, { command: 'echo second', signal: ac.signal });
      await expect(pool.exec(spec, sshd.credentials, { command: 'echo third' })).rejects.toMatchObject({
        code: 'limit_exceeded',
      });
      ac.abort();
      await expect(second).rejects.toMatchObject({ code: 'cancelled' });
      expect((await first).stdout).toBe('first\n');
    } finally {
      await pool.close();
    }
  });

  it('recovers after sshd restarts: in-flight calls fail clearly, the next call reconnects', async () => {
    const pool = new SshPool();
    try {
      expect((await pool.exec(spec, sshd.credentials, { command: 'echo before' })).stdout).toBe('before\n');
      // The handler is attached at once: the call fails while sshd is being stopped.
      const inflight = pool.exec(spec, sshd.credentials, { command: 'sleep 30; echo never' }).catch((e: unknown) => e);
      await new Promise((r) => setTimeout(r, 300));
      await sshd.stop();
      const err = await inflight;
      expect(err).toMatchObject({ code: 'ssh_error' });
      expect((err as Error).message).toMatch(/lost while the command ran/);
      // While it is down: a typed connection error, not a hang.
      await expect(pool.exec(spec, sshd.credentials, { command: 'true' })).rejects.toMatchObject({ code: 'ssh_error' });
      await sshd.start();
      const after = await pool.exec(spec, sshd.credentials, { command: 'echo after' });
      expect(after.stdout).toBe('after\n');
      expect(pool.stats('pool')[0]!.connects).toBe(2);
    } finally {
      await pool.close();
    }
  });

  it('invalidate() drops the connection and the next call reconnects', async () => {
    const pool = new SshPool();
    try {
      await pool.exec(spec, sshd.credentials, { command: 'true' });
      pool.invalidate('pool');
      expect(pool.stats('pool')[0]!.connected).toBe(false);
      await pool.exec(spec, sshd.credentials, { command: 'true' });
      expect(pool.stats('pool')[0]).toMatchObject({ connects: 2, connected: true });
    } finally {
      await pool.close();
    }
  });

  it('closes idle connections', async () => {
    const pool = new SshPool({ idleCloseMs: 100 });
    try {
      await pool.exec(spec, sshd.credentials, { command: 'true' });
      for (let i = 0; i < 50 && pool.stats('pool')[0]!.connected; i++) await new Promise((r) => setTimeout(r, 50));
      expect(pool.stats('pool')[0]!.connected).toBe(false);
      expect((await pool.exec(spec, sshd.credentials, { command: 'echo again' })).stdout).toBe('again\n');
    } finally {
      await pool.close();
    }
  });

  it('a closed pool refuses work', async () => {
    const pool = new SshPool();
    await pool.close();
    await expect(pool.exec(spec, sshd.credentials, { command: 'true' })).rejects.toMatchObject({ code: 'ssh_error' });
  });

  it('validates the target spec', async () => {
    const pool = new SshPool();
    try {
      await expect(pool.exec({ ...spec, port: 0 }, sshd.credentials, { command: 'true' })).rejects.toMatchObject({
        code: 'config_invalid',
      });
      await expect(pool.exec({ ...spec, user: '' }, sshd.credentials, { command: 'true' })).rejects.toMatchObject({
        code: 'config_invalid',
      });
    } finally {
      await pool.close();
    }
  });
});

describe.skipIf(skip)('credential canary', () => {
  const PASS = 'canary-passphrase-7f3e9c';
  let sshd: SshdHandle;
  let otherKey: SshdHandle;

  beforeAll(async () => {
    sshd = await startSshd({ passphrase: PASS });
    otherKey = await startSshd(); // only used for a key the first server does not accept
  });
  afterAll(async () => {
    await sshd?.dispose();
    await otherKey?.dispose();
  });

  function leaks(text: string): string[] {
    const body = sshd.privateKey.split('\n').filter((l) => l && !l.startsWith('-----'));
    const otherBody = otherKey.privateKey.split('\n').filter((l) => l && !l.startsWith('-----'));
    const found: string[] = [];
    if (text.includes(PASS)) found.push('passphrase');
    for (const l of [...body, ...otherBody]) if (l.length > 16 && text.includes(l)) found.push('key line');
    if (text.includes('PRIVATE KEY')) found.push('key header');
    return found;
  }
  function dump(x: unknown): string {
    if (x instanceof Error)
      return JSON.stringify({ m: x.message, s: x.stack, j: x, c: String((x as { cause?: unknown }).cause ?? '') });
    return JSON.stringify(x);
  }

  it('an encrypted key works with its passphrase and nothing of it reaches results', async () => {
    const pool = new SshPool();
    try {
      const r = await pool.exec(sshd.spec('canary'), sshd.credentials, { command: 'echo ok; env' });
      expect(r.stdout).toMatch(/^ok\n/);
      expect(leaks(dump(r))).toEqual([]);
    } finally {
      await pool.close();
    }
  });

  it('wrong passphrase, missing passphrase, garbage key, refused key and failing provider: typed errors without secrets', async () => {
    const pool = new SshPool();
    const sm = new SshSessionManager();
    const spec = sshd.spec('canary');
    const cases: Array<[() => Promise<{ privateKey: string; passphrase?: string }>, string]> = [
      [async () => ({ privateKey: sshd.privateKey, passphrase: 'wrong-' + PASS }), 'key_invalid'],
      [async () => ({ privateKey: sshd.privateKey }), 'key_invalid'],
      [async () => ({ privateKey: 'garbage ' + PASS }), 'key_invalid'],
      [async () => ({ privateKey: otherKey.privateKey }), 'ssh_error'],
      [async () => Promise.reject(new Error('vault exploded: ' + PASS)), 'ssh_error'],
    ];
    try {
      for (const [provider, code] of cases) {
        const e1 = await pool.exec(spec, provider, { command: 'true' }).catch((e: unknown) => e);
        expect(e1).toMatchObject({ code });
        expect(leaks(dump(e1))).toEqual([]);
        const e2 = await sm.open(spec, provider, { owner: 'o' }).catch((e: unknown) => e);
        expect(e2).toMatchObject({ code });
        expect(leaks(dump(e2))).toEqual([]);
        const e3 = await pool.readFile(spec, provider, '/etc/hostname', 10).catch((e: unknown) => e);
        expect(e3).toMatchObject({ code });
        expect(leaks(dump(e3))).toEqual([]);
      }
    } finally {
      await pool.close();
      sm.closeAll();
    }
  });
});
