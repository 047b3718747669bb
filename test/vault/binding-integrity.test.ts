import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import { openKeyring, openVault, type Keyring, type Vault } from '../../src/vault/index.js';
import { captureLog, DIALECTS, makeEnv, makeLegacyCheck, rawFor, type RawSql, type TestEnv } from './helpers.js';

/*
 * Issue 21.8: a vault binding decides where a secret may be filled. Someone who can write to the
 * database but does not hold the master key must not be able to add, edit or move one. Every
 * tamper here goes through a plain SQL connection beside Gatehouse, never through the service.
 */
const SECRET = 'CANARY-binding-7d1c0a9e42f1';
const grantedVaults = ['*'];

describe.each(DIALECTS)('vault binding signatures (%s)', (dialect) => {
  let t: TestEnv;
  let vault: Vault;
  let raw: RawSql;
  let keyring: Keyring;
  const masterKey = randomBytes(32);
  beforeEach(async () => {
    t = await makeEnv(dialect);
    keyring = await openKeyring({
      home: t.home,
      masterKeyFile: t.keyFile,
      env: { GATEHOUSE_MASTER_KEY: masterKey.toString('base64') },
      store: t.store,
    });
    vault = openVault({ store: t.store, keyring });
    await vault.createVault('ops');
    await vault.setField('ops/api.token', SECRET, { bind: ['target:prod'] });
    raw = await rawFor(t);
  });
  afterEach(async () => {
    await raw.close();
    await t.cleanup();
  });

  const itemId = async (name: string) =>
    (await raw.query<{ id: string }>('SELECT id FROM vault_items WHERE name = ?', [name]))[0].id;
  const fill = (dest: { target?: string; host?: string }) =>
    vault.fillHandles('{{vault:ops/api.token}}', { destination: dest, grantedVaults });

  it('a binding row inserted by a database writer (host:attacker.example) fills nothing, and is logged loudly', async () => {
    expect((await fill({ target: 'prod' })).text).toBe(SECRET);
    const id = await itemId('api');
    await raw.query('INSERT INTO vault_bindings (id, item_id, kind, pattern, mac) VALUES (?, ?, ?, ?, ?)', [
      randomUUID(),
      id,
      'host',
      'attacker.example',
      null,
    ]);
    await raw.query('INSERT INTO vault_bindings (id, item_id, kind, pattern, mac) VALUES (?, ?, ?, ?, ?)', [
      randomUUID(),
      id,
      'target',
      'evil',
      randomBytes(32).toString('hex'),
    ]);
    const r = await captureLog(() => fill({ host: 'attacker.example' }));
    expect(r.error).toMatchObject({ code: 'vault_handle_refused' });
    expect(JSON.stringify(r.error)).not.toContain(SECRET);
    expect(r.lines.join('\n')).toMatch(/IGNORING a binding whose signature does not verify/);
    expect(r.lines.join('\n')).toContain('host:attacker.example');
    await expect(fill({ target: 'evil' })).rejects.toMatchObject({ code: 'vault_handle_refused' });
    // The legitimate binding still works, and listings show the forged rows apart.
    expect((await fill({ target: 'prod' })).text).toBe(SECRET);
    const [item] = await vault.listItems('ops');
    expect(item.bindings).toEqual(['target:prod']);
    expect(item.rejectedBindings.sort()).toEqual(['host:attacker.example', 'target:evil']);
    expect(await vault.search({ host: 'attacker.example' }, grantedVaults)).toEqual([]);
  });

  it('a signed binding edited in place (pattern or kind) verifies no more', async () => {
    await raw.query("UPDATE vault_bindings SET pattern = 'evil' WHERE kind = 'target'");
    await expect(fill({ target: 'evil' })).rejects.toMatchObject({ code: 'vault_handle_refused' });
    await raw.query("UPDATE vault_bindings SET kind = 'host', pattern = 'prod'");
    await expect(fill({ host: 'prod' })).rejects.toMatchObject({ code: 'vault_handle_refused' });
    await expect(fill({ target: 'prod' })).rejects.toMatchObject({ code: 'vault_handle_refused' });
  });

  it('a signed binding copied, signature and all, to another item does not verify there', async () => {
    await vault.setField('ops/db.password', 'db-password-0b5e11', { bind: ['host:db.internal'] });
    const [row] = await raw.query<{ kind: string; pattern: string; mac: string }>(
      'SELECT kind, pattern, mac FROM vault_bindings WHERE item_id = ?',
      [await itemId('api')],
    );
    await raw.query('INSERT INTO vault_bindings (id, item_id, kind, pattern, mac) VALUES (?, ?, ?, ?, ?)', [
      randomUUID(),
      await itemId('db'),
      row.kind,
      row.pattern,
      row.mac,
    ]);
    await expect(
      vault.fillHandles('{{vault:ops/db.password}}', { destination: { target: 'prod' }, grantedVaults }),
    ).rejects.toMatchObject({ code: 'vault_handle_refused' });
    // ...nor after moving the original row to the other item
    await raw.query("DELETE FROM vault_bindings WHERE item_id = ? AND kind = 'target'", [await itemId('db')]);
    await raw.query('UPDATE vault_bindings SET item_id = ? WHERE item_id = ?', [
      await itemId('db'),
      await itemId('api'),
    ]);
    await expect(
      vault.fillHandles('{{vault:ops/db.password}}', { destination: { target: 'prod' }, grantedVaults }),
    ).rejects.toMatchObject({ code: 'vault_handle_refused' });
  });

  it('signUnsigned signs the rows of a store that predates signatures, once; a later unsigned row stays refused', async () => {
    // A store as it was before migration 0006: rows without a signature, the v1 check value.
    await raw.query('UPDATE vault_bindings SET mac = NULL');
    await makeLegacyCheck(t, masterKey);
    await expect(fill({ target: 'prod' })).rejects.toMatchObject({ code: 'vault_handle_refused' });
    expect(await keyring.unsignedRowsMaySign()).toBe(true);
    expect(await vault.signUnsigned()).toBe(1);
    await keyring.markRowsSigned();
    expect((await fill({ target: 'prod' })).text).toBe(SECRET);
    const [sig] = await raw.query<{ mac: string }>('SELECT mac FROM vault_bindings');
    expect(sig.mac).toMatch(/^[0-9a-f]{64}$/);
    // From now on an unsigned row is never signed, whoever calls signUnsigned.
    expect(await keyring.unsignedRowsMaySign()).toBe(false);
    await raw.query('INSERT INTO vault_bindings (id, item_id, kind, pattern, mac) VALUES (?, ?, ?, ?, ?)', [
      randomUUID(),
      await itemId('api'),
      'host',
      'attacker.example',
      null,
    ]);
    expect(await vault.signUnsigned()).toBe(0);
    await expect(fill({ host: 'attacker.example' })).rejects.toMatchObject({ code: 'vault_handle_refused' });
  });

  it('a fresh store never signs an unsigned row (nothing in it predates signatures)', async () => {
    expect(await keyring.unsignedRowsMaySign()).toBe(false);
    await raw.query('INSERT INTO vault_bindings (id, item_id, kind, pattern, mac) VALUES (?, ?, ?, ?, ?)', [
      randomUUID(),
      await itemId('api'),
      'host',
      'attacker.example',
      null,
    ]);
    expect(await vault.signUnsigned()).toBe(0);
    await expect(fill({ host: 'attacker.example' })).rejects.toMatchObject({ code: 'vault_handle_refused' });
    // ...and rekey keeps that so
    await vault.createVault('dev');
    await keyring.rekey({ newKey: randomBytes(32) });
    expect(await keyring.unsignedRowsMaySign()).toBe(false);
  });

  it('binding again through the service re-signs a row whose signature was broken', async () => {
    await raw.query('UPDATE vault_bindings SET mac = ?', ['0'.repeat(64)]);
    await expect(fill({ target: 'prod' })).rejects.toMatchObject({ code: 'vault_handle_refused' });
    await vault.bind('ops/api', ['target:prod']);
    expect((await fill({ target: 'prod' })).text).toBe(SECRET);
    // and unbind removes rows that never were valid bindings, by their exact text
    await raw.query('INSERT INTO vault_bindings (id, item_id, kind, pattern, mac) VALUES (?, ?, ?, ?, ?)', [
      randomUUID(),
      await itemId('api'),
      'weird',
      'x y',
      null,
    ]);
    expect(await vault.unbind('ops/api', ['weird:x y'])).toBe(1);
  });
});
