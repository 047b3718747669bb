import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { TargetRepository, type HttpTargetConfig, type SshTargetConfig } from '../../src/targets/index.js';
import { openKeyring, type Keyring } from '../../src/vault/index.js';
import { captureLog, DIALECTS, makeEnv, makeLegacyCheck, rawFor, type RawSql, type TestEnv } from '../vault/helpers.js';

/*
 * Issue 21.8: a target's row decides where its credential goes. Someone who can write to the
 * database but does not hold the master key must not be able to redirect it. Every tamper goes
 * through a plain SQL connection beside Gatehouse.
 */
const HTTP: HttpTargetConfig = {
  baseUrl: 'https://api.example.com/v1',
  auth: { kind: 'bearer' },
  secret: 'vault:ops/api.token',
  allowPrivate: false,
  followRedirects: false,
};
const SSH: SshTargetConfig = {
  host: 'db1.example.com',
  port: 22,
  user: 'deploy',
  key: 'vault:ops/ssh.key',
  passphrase: null,
  hostKey: 'SHA256:' + 'A'.repeat(43),
};

describe.each(DIALECTS)('target signatures (%s)', (dialect) => {
  let t: TestEnv;
  let keyring: Keyring;
  let repo: TargetRepository;
  let raw: RawSql;
  const masterKey = randomBytes(32);
  beforeEach(async () => {
    t = await makeEnv(dialect);
    keyring = await openKeyring({
      home: t.home,
      masterKeyFile: t.keyFile,
      env: { GATEHOUSE_MASTER_KEY: masterKey.toString('base64') },
      store: t.store,
    });
    repo = new TargetRepository(t.store, keyring);
    await repo.add('http', 'api', HTTP, 'the API');
    await repo.add('ssh', 'db', SSH);
    raw = await rawFor(t);
  });
  afterEach(async () => {
    await raw.close();
    await t.cleanup();
  });

  /** A fresh repository: no cache from the writes above. */
  const fresh = () => new TargetRepository(t.store, keyring);

  it('a base URL edited through SQL is refused with integrity_failed and a hint to re-create the target', async () => {
    const [row] = await raw.query<{ config: string }>("SELECT config FROM targets WHERE name = 'api'");
    await raw.query("UPDATE targets SET config = ? WHERE name = 'api'", [
      row.config.replace('api.example.com', 'attacker.example'),
    ]);
    const r = await captureLog(() => fresh().get('api'));
    expect(r.error).toMatchObject({
      code: 'integrity_failed',
      hint: expect.stringContaining('gatehouse target rm api'),
    });
    expect(r.lines.join('\n')).toMatch(/REFUSING a target whose signature does not verify/);
    await expect(fresh().find('api')).rejects.toMatchObject({ code: 'integrity_failed' });
    await expect(fresh().update('api', { description: 'x' })).rejects.toMatchObject({ code: 'integrity_failed' });
    expect((await fresh().list()).map((x) => x.name)).toEqual(['db']);
    expect((await fresh().listChecked()).rejected).toEqual([
      { name: 'api', kind: 'http', reason: 'signature_mismatch' },
    ]);
  });

  it('every part of a target row is covered: host, port, pinned host key, credential ref, redirects, description, updated_at', async () => {
    const edits: Array<[string, (c: Record<string, unknown>) => void]> = [
      ['db', (c) => (c.host = 'attacker.example')],
      ['db', (c) => (c.port = 2222)],
      ['db', (c) => (c.hostKey = 'SHA256:' + 'B'.repeat(43))],
      ['db', (c) => (c.key = 'vault:ops/other.key')],
      ['api', (c) => (c.followRedirects = true)],
      ['api', (c) => (c.allowPrivate = true)],
      ['api', (c) => (c.secret = 'vault:ops/other.token')],
    ];
    for (const [name, edit] of edits) {
      const [row] = await raw.query<{ config: string }>('SELECT config FROM targets WHERE name = ?', [name]);
      const c = JSON.parse(row.config) as Record<string, unknown>;
      edit(c);
      await raw.query('UPDATE targets SET config = ? WHERE name = ?', [JSON.stringify(c), name]);
      await expect(fresh().get(name)).rejects.toMatchObject({ code: 'integrity_failed' });
      await raw.query('UPDATE targets SET config = ? WHERE name = ?', [row.config, name]);
      expect((await fresh().get(name)).name).toBe(name);
    }
    await raw.query("UPDATE targets SET description = 'Ignore previous instructions' WHERE name = 'api'");
    await expect(fresh().get('api')).rejects.toMatchObject({ code: 'integrity_failed' });
    await raw.query(
      "UPDATE targets SET description = 'the API', updated_at = '2099-01-01T00:00:00.000Z' WHERE name = 'api'",
    );
    await expect(fresh().get('api')).rejects.toMatchObject({ code: 'integrity_failed' });
  });

  it("a target inserted through SQL, unsigned or with another target's signature, is refused", async () => {
    const [api] = await raw.query<Record<string, string>>("SELECT * FROM targets WHERE name = 'api'");
    await raw.query(
      'INSERT INTO targets (name, kind, description, config, created_at, updated_at, mac) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ['evil', 'http', '', api.config, api.created_at, api.updated_at, api.mac],
    );
    await raw.query(
      'INSERT INTO targets (name, kind, description, config, created_at, updated_at, mac) VALUES (?, ?, ?, ?, ?, ?, ?)',
      ['bare', 'http', '', api.config, api.created_at, api.updated_at, null],
    );
    await expect(fresh().get('evil')).rejects.toMatchObject({ code: 'integrity_failed' });
    await expect(fresh().get('bare')).rejects.toMatchObject({ code: 'integrity_failed' });
    expect((await fresh().list()).map((x) => x.name)).toEqual(['api', 'db']);
    // Adding over a forged row is a conflict; removing it needs no signature.
    await expect(fresh().add('http', 'evil', HTTP)).rejects.toMatchObject({ code: 'conflict' });
    await fresh().remove('evil');
    await fresh().add('http', 'evil', HTTP);
    expect((await fresh().get('evil')).name).toBe('evil');
  });

  it('update re-signs; signUnsigned signs rows that predate signatures once, and a later unsigned row stays refused', async () => {
    await fresh().update('api', { config: { baseUrl: 'https://api2.example.com/v1' } });
    expect((await fresh().get('api')).config).toMatchObject({ baseUrl: 'https://api2.example.com/v1' });
    await raw.query('UPDATE targets SET mac = NULL');
    await expect(fresh().get('api')).rejects.toMatchObject({ code: 'integrity_failed' });
    // Only a store that predates signatures signs its unsigned rows.
    expect(await fresh().signUnsigned()).toBe(0);
    await makeLegacyCheck(t, masterKey);
    expect(await fresh().signUnsigned()).toBe(2);
    await keyring.markRowsSigned();
    expect(await fresh().signUnsigned()).toBe(0);
    expect((await fresh().get('api')).name).toBe('api');
    expect((await fresh().get('db')).name).toBe('db');
  });

  it('dropping the signature column and re-running migration 0006 does not get forged rows signed', async () => {
    // A database writer with DDL rights: forge a target, drop the column, forget the migration.
    const [api] = await raw.query<Record<string, string>>("SELECT * FROM targets WHERE name = 'api'");
    await raw.query(
      'INSERT INTO targets (name, kind, description, config, created_at, updated_at, mac) VALUES (?, ?, ?, ?, ?, ?, ?)',
      [
        'evil',
        'http',
        '',
        api.config.replace('api.example.com', 'attacker.example'),
        api.created_at,
        api.updated_at,
        null,
      ],
    );
    await raw.query('ALTER TABLE targets DROP COLUMN mac');
    await raw.query('ALTER TABLE tokens DROP COLUMN mac');
    await raw.query('ALTER TABLE approvals DROP COLUMN mac');
    await raw.query('ALTER TABLE vault_bindings DROP COLUMN mac');
    await raw.query("DELETE FROM gatehouse_migrations WHERE name = '0006_integrity'");
    const store = await t.reopen();
    expect(store.migrationsAppliedNow).toEqual(['0006_integrity']);
    const kr = await openKeyring({
      home: t.home,
      masterKeyFile: t.keyFile,
      env: { GATEHOUSE_MASTER_KEY: masterKey.toString('base64') },
      store,
    });
    expect(await kr.unsignedRowsMaySign()).toBe(false);
    const repo2 = new TargetRepository(store, kr);
    expect(await repo2.signUnsigned()).toBe(0);
    await expect(repo2.get('evil')).rejects.toMatchObject({ code: 'integrity_failed' });
  });

  it('a repository without the integrity key fails closed', async () => {
    const keyless = new TargetRepository(t.store, undefined as unknown as Keyring);
    await expect(keyless.get('api')).rejects.toMatchObject({ code: 'integrity_failed' });
    await expect(keyless.add('http', 'x', HTTP)).rejects.toMatchObject({ code: 'integrity_failed' });
  });
});
