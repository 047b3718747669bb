import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { run } from '../../src/cli/commands/vault.js';
import type { CliContext } from '../../src/cli/context.js';
import { openVaultFromEnv } from './helpers.js';

const SECRET = 'CANARY-cli-9b1f0e7a55d3';

function ctx(env: NodeJS.ProcessEnv, stdin = ''): CliContext & { out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  stdout.on('data', (d: Buffer) => o.push(d));
  stderr.on('data', (d: Buffer) => e.push(d));
  return {
    stdout,
    stderr,
    stdin: Readable.from([Buffer.from(stdin)]),
    env,
    out: () => Buffer.concat(o).toString(),
    err: () => Buffer.concat(e).toString(),
  };
}

describe('gatehouse vault CLI', () => {
  let home: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'gh-vault-cli-'));
    env = { GATEHOUSE_HOME: home, GATEHOUSE_LOG_LEVEL: 'silent' };
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('create, set from stdin, list (no values), rm, rekey', async () => {
    expect(await run(['create', 'ops'], ctx(env))).toBe(0);
    const c = ctx(env, SECRET + '\n');
    expect(
      await run(
        [
          'set',
          'ops/github.token',
          '--bind',
          'target:github',
          '--bind',
          'host:api.github.com',
          '--description',
          'CI token',
        ],
        c,
      ),
    ).toBe(0);
    expect(c.err()).toContain('sealed ops/github.token');
    const l = ctx(env);
    expect(await run(['list', '--json'], l)).toBe(0);
    const listed = JSON.parse(l.out());
    expect(listed.items[0]).toMatchObject({
      vault: 'ops',
      item: 'github',
      fields: ['token'],
      bindings: ['host:api.github.com', 'target:github'],
      description: 'CI token',
    });
    const lt = ctx(env);
    expect(await run(['list'], lt)).toBe(0);
    expect(lt.out()).toContain('ops/github');
    for (const s of [l.out(), lt.out(), c.err()]) expect(s).not.toContain(SECRET);

    // the value was sealed exactly (trailing newline stripped)
    const o = await openVaultFromEnv(env);
    expect(await o.vault.openField('ops/github.token')).toBe(SECRET);
    await o.close();

    const oldKey = readFileSync(join(home, 'master.key'));
    const r = ctx(env);
    expect(await run(['rekey'], r)).toBe(0);
    expect(r.err()).toMatch(/master key rotated/);
    expect(readFileSync(join(home, 'master.key.old')).equals(oldKey)).toBe(true);
    const o2 = await openVaultFromEnv(env);
    expect(await o2.vault.openField('ops/github.token')).toBe(SECRET);
    await o2.close();

    await expect(run(['rm', 'ops'], ctx(env))).rejects.toMatchObject({ code: 'conflict' });
    expect(await run(['rm', 'ops/github'], ctx(env))).toBe(0);
    expect(await run(['rm', 'ops'], ctx(env))).toBe(0);
    const l2 = ctx(env);
    await run(['list', '--json'], l2);
    expect(JSON.parse(l2.out())).toEqual({ vaults: [], items: [] });
  });

  it('never takes a value from argv, and does not echo it', async () => {
    await run(['create', 'ops'], ctx(env));
    for (const args of [
      ['set', 'ops/a.b', SECRET],
      ['set', 'ops/a.b', '--bind', 'target:x', SECRET],
      ['set', `--value=${SECRET}`, 'ops/a.b'],
    ]) {
      const err = await run(args, ctx(env)).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'usage', message: expect.stringContaining('stdin') });
      expect(JSON.stringify({ m: (err as Error).message, h: (err as { hint?: string }).hint })).not.toContain(SECRET);
    }
    await expect(run(['set', 'ops/a.b'], ctx(env, ''))).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(run(['set', 'ops/a'], ctx(env, 'x'))).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(run(['bogus'], ctx(env))).rejects.toMatchObject({ code: 'usage' });
    expect(await run([], ctx(env))).toBe(2);
  });

  it('refuses a wrong GATEHOUSE_MASTER_KEY at start', async () => {
    await run(['create', 'ops'], ctx(env));
    expect(existsSync(join(home, 'master.key'))).toBe(true);
    await expect(
      run(['list'], ctx({ ...env, GATEHOUSE_MASTER_KEY: Buffer.alloc(32, 7).toString('base64') })),
    ).rejects.toMatchObject({ code: 'key_invalid' });
  });
});
