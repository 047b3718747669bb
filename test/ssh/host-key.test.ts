import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshPool, SshSessionManager, fetchHostKeyFingerprint, normalizeFingerprint } from '../../src/ssh/index.js';
import { requires } from '../helpers/requires.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';

const skip = !(await requires('sshd', 'ssh host keys'));

describe('normalizeFingerprint', () => {
  it('accepts canonical, unprefixed and padded forms and rejects junk', () => {
    const fp = 'SHA256:tFCk/x56+5P6M8uenPI8VHRDAkL19VosZDJp7/rqKlQ';
    expect(normalizeFingerprint(fp)).toBe(fp);
    expect(normalizeFingerprint(fp.slice(7))).toBe(fp);
    expect(normalizeFingerprint(fp + '=')).toBe(fp);
    expect(normalizeFingerprint('MD5:aa:bb')).toBeUndefined();
    expect(normalizeFingerprint('')).toBeUndefined();
  });
});

describe.skipIf(skip)('host key pinning against a real sshd', () => {
  let sshd: SshdHandle;
  let pool: SshPool;
  let credsFetched = 0;
  const creds = async () => {
    credsFetched++;
    return sshd.credentials();
  };

  beforeAll(async () => {
    sshd = await startSshd();
    pool = new SshPool();
  });
  afterAll(async () => {
    await pool?.close();
    await sshd?.dispose();
  });

  it('fetchHostKeyFingerprint matches ssh-keygen -lf', async () => {
    const r = await fetchHostKeyFingerprint(sshd.host, sshd.port, 5000);
    const kg = spawnSync('ssh-keygen', ['-lf', sshd.hostKeyPath + '.pub'], { encoding: 'utf8' });
    const fromKeygen = kg.stdout.split(/\s+/)[1];
    expect(r.fingerprint).toBe(fromKeygen);
    expect(r.fingerprint).toBe(sshd.hostKeyFingerprint);
    expect(r.keyType).toBe('ssh-ed25519');
  });

  it('fetchHostKeyFingerprint on a closed port fails with a typed error', async () => {
    await sshd.stop();
    try {
      await expect(fetchHostKeyFingerprint(sshd.host, sshd.port, 3000)).rejects.toMatchObject({ code: 'ssh_error' });
    } finally {
      await sshd.start();
    }
  });

  it('refuses a target without a pinned key, before fetching credentials, showing the presented fingerprint', async () => {
    const before = credsFetched;
    const { hostKey: _ignored, ...unpinned } = sshd.spec('nopin');
    const err = await pool.exec(unpinned, creds, { command: 'echo must-not-run' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'host_key_mismatch' });
    const e = err as { message: string; hint: string };
    expect(e.message).toContain(sshd.hostKeyFingerprint);
    expect(e.message).toMatch(/expected: none pinned/);
    expect(e.hint).toContain('gatehouse target trust nopin');
    expect(credsFetched).toBe(before);
  });

  it('refuses a changed key with both fingerprints and the fix', async () => {
    const before = credsFetched;
    const wrong = 'SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const err = await pool
      .exec({ ...sshd.spec('changed'), hostKey: wrong }, creds, { command: 'true' })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'host_key_mismatch' });
    const e = err as { message: string; hint: string; details: Record<string, unknown> };
    expect(e.message).toContain(`expected: ${wrong}`);
    expect(e.message).toContain(`presented: ${sshd.hostKeyFingerprint}`);
    expect(e.hint).toContain('gatehouse target trust changed');
    expect(e.details).toMatchObject({ expected: wrong, presented: sshd.hostKeyFingerprint });
    expect(credsFetched).toBe(before);
  });

  it('a malformed pinned value is refused (fail closed)', async () => {
    await expect(
      pool.exec({ ...sshd.spec('junk'), hostKey: 'not-a-fingerprint' }, creds, { command: 'true' }),
    ).rejects.toMatchObject({ code: 'host_key_mismatch' });
  });

  it('interactive sessions and SFTP are pinned too', async () => {
    const wrong = 'SHA256:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB';
    const sm = new SshSessionManager();
    await expect(sm.open({ ...sshd.spec('s'), hostKey: wrong }, creds, { owner: 't1' })).rejects.toMatchObject({
      code: 'host_key_mismatch',
    });
    await expect(
      pool.readFile({ ...sshd.spec('f'), hostKey: wrong }, creds, '/etc/hostname', 100),
    ).rejects.toMatchObject({ code: 'host_key_mismatch' });
  });

  it('the pinned key connects; re-pinning to another key does not reuse the old connection', async () => {
    const ok = await pool.exec(sshd.spec('repin'), creds, { command: 'echo ok' });
    expect(ok.stdout).toBe('ok\n');
    const wrong = 'SHA256:CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC';
    await expect(
      pool.exec({ ...sshd.spec('repin'), hostKey: wrong }, creds, { command: 'true' }),
    ).rejects.toMatchObject({ code: 'host_key_mismatch' });
  });
});
