import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SshPool, type SshTargetSpec } from '../../src/ssh/index.js';
import { requires } from '../helpers/requires.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';

const skip = !(await requires('sshd', 'ssh sftp'));

describe.skipIf(skip)('SFTP over the pooled connection', () => {
  let sshd: SshdHandle;
  let spec: SshTargetSpec;
  let pool: SshPool;
  const dir = `/tmp/gh-sftp-${process.pid}-${Date.now()}`;

  beforeAll(async () => {
    sshd = await startSshd();
    spec = sshd.spec('files');
    pool = new SshPool();
    await pool.exec(spec, sshd.credentials, { command: `mkdir -p ${dir}` });
  });
  afterAll(async () => {
    await pool?.exec(spec, sshd.credentials, { command: `rm -rf ${dir}` }).catch(() => {});
    await pool?.close();
    await sshd?.dispose();
  });

  it('writes and reads a file round trip, with mode', async () => {
    const w = await pool.writeFile(spec, sshd.credentials, `${dir}/hello.txt`, 'hello via sftp\n', 0o640);
    expect(w.bytesWritten).toBe(15);
    const r = await pool.readFile(spec, sshd.credentials, `${dir}/hello.txt`, 1000);
    expect(r).toMatchObject({ truncated: false, size: 15 });
    expect(r.content.toString()).toBe('hello via sftp\n');
    const st = await pool.exec(spec, sshd.credentials, { command: `stat -c '%a %U' ${dir}/hello.txt` });
    expect(st.stdout.trim()).toBe(`640 ${sshd.user}`);
    // mode is applied to an existing file too
    await pool.writeFile(spec, sshd.credentials, `${dir}/hello.txt`, 'x', 0o600);
    expect(
      (await pool.exec(spec, sshd.credentials, { command: `stat -c %a ${dir}/hello.txt; cat ${dir}/hello.txt` }))
        .stdout,
    ).toBe('600\nx');
  });

  it('reads binary content larger than one chunk and truncates at maxBytes', async () => {
    const big = Buffer.alloc(200_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) % 256;
    await pool.writeFile(spec, sshd.credentials, `${dir}/big.bin`, big);
    const full = await pool.readFile(spec, sshd.credentials, `${dir}/big.bin`, 1_000_000);
    expect(full.truncated).toBe(false);
    expect(full.content.equals(big)).toBe(true);
    const part = await pool.readFile(spec, sshd.credentials, `${dir}/big.bin`, 1000);
    expect(part).toMatchObject({ truncated: true, size: 200_000 });
    expect(part.content.equals(big.subarray(0, 1000))).toBe(true);
    const exact = await pool.readFile(spec, sshd.credentials, `${dir}/big.bin`, 200_000);
    expect(exact.truncated).toBe(false);
  });

  it('reads files whose size is unknown (/proc) up to the cap', async () => {
    const r = await pool.readFile(spec, sshd.credentials, '/proc/self/status', 100_000);
    expect(r.content.toString()).toMatch(/^Name:/);
    expect(r.truncated).toBe(false);
    const t = await pool.readFile(spec, sshd.credentials, '/proc/self/status', 10);
    expect(t.truncated).toBe(true);
    expect(t.content.length).toBe(10);
  });

  it('maps missing files and permission errors to typed errors', async () => {
    await expect(pool.readFile(spec, sshd.credentials, `${dir}/nope`, 10)).rejects.toMatchObject({ code: 'not_found' });
    await expect(pool.readFile(spec, sshd.credentials, '/etc/shadow', 10)).rejects.toMatchObject({ code: 'ssh_error' });
    await expect(pool.writeFile(spec, sshd.credentials, '/root/forbidden.txt', 'x')).rejects.toMatchObject({
      code: 'ssh_error',
    });
    await expect(pool.readFile(spec, sshd.credentials, '', 10)).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('shares the connection with exec', async () => {
    const before = pool.stats('files')[0]!.connects;
    await Promise.all([
      pool.readFile(spec, sshd.credentials, '/etc/hostname', 100),
      pool.exec(spec, sshd.credentials, { command: 'true' }),
      pool.writeFile(spec, sshd.credentials, `${dir}/c.txt`, 'c'),
    ]);
    expect(pool.stats('files')[0]!.connects).toBe(before);
  });
});
