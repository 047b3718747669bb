import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { openKeyring, openVault, type Keyring } from '../../src/vault/index.js';
import { DIALECTS, makeEnv, type TestEnv } from './helpers.js';

describe.each(DIALECTS)('keyring (%s)', (dialect) => {
  let t: TestEnv;
  const open = (env: NodeJS.ProcessEnv = {}, create = true): Promise<Keyring> =>
    openKeyring({ home: t.home, masterKeyFile: t.keyFile, env, store: t.store, create });
  beforeEach(async () => {
    t = await makeEnv(dialect);
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('creates a 0600 key file on first start and reopens with it', async () => {
    const k = await open();
    expect(statSync(t.keyFile).mode & 0o777).toBe(0o600);
    expect(readFileSync(t.keyFile).length).toBe(32);
    const k2 = await open({}, false);
    expect(k2.keyId).toBe(k.keyId);
    expect(k.source).toBe('file');
  });

  it('without create and without any key: key_invalid at open', async () => {
    await expect(open({}, false)).rejects.toMatchObject({
      code: 'key_invalid',
      message: expect.stringContaining('does not exist'),
    });
  });

  it('refuses a group/world readable key file with the fix', async () => {
    await open();
    chmodSync(t.keyFile, 0o644);
    await expect(open()).rejects.toMatchObject({
      code: 'key_invalid',
      hint: expect.stringContaining(`chmod 600 ${t.keyFile}`),
    });
  });

  it('wrong master key is a clear error at open, naming key ids, never a partial decrypt', async () => {
    const k = await open();
    const v = openVault({ store: t.store, keyring: k });
    await v.createVault('ops');
    await v.setField('ops/a.b', 'value-123456');
    writeFileSync(t.keyFile, randomBytes(32), { mode: 0o600 });
    const err = await open().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'key_invalid' });
    expect((err as Error).message).toContain(k.keyId);
    // A missing key file with sealed data is refused too, even with create=true.
    const { rmSync } = await import('node:fs');
    rmSync(t.keyFile);
    await expect(open({}, true)).rejects.toMatchObject({ code: 'key_invalid' });
    expect(existsSync(t.keyFile)).toBe(false);
  });

  it('GATEHOUSE_MASTER_KEY (base64 and hex) and the ambiguity check', async () => {
    const key = randomBytes(32);
    const k = await open({ GATEHOUSE_MASTER_KEY: key.toString('base64') });
    expect(k.source).toBe('env');
    expect(existsSync(t.keyFile)).toBe(false);
    expect((await open({ GATEHOUSE_MASTER_KEY: key.toString('hex') })).keyId).toBe(k.keyId);
    await expect(open({ GATEHOUSE_MASTER_KEY: randomBytes(32).toString('hex') })).rejects.toMatchObject({
      code: 'key_invalid',
    });
    await expect(open({ GATEHOUSE_MASTER_KEY: 'short' })).rejects.toMatchObject({ code: 'key_invalid' });
    await expect(
      open({ GATEHOUSE_MASTER_KEY: key.toString('hex'), GATEHOUSE_MASTER_PASSPHRASE: 'x'.repeat(20) }),
    ).rejects.toMatchObject({ code: 'key_invalid' });
  });

  it('GATEHOUSE_MASTER_PASSPHRASE via argon2id; wrong passphrase refused', async () => {
    const k = await open({ GATEHOUSE_MASTER_PASSPHRASE: 'correct horse battery staple' });
    expect(k.source).toBe('passphrase');
    expect((await open({ GATEHOUSE_MASTER_PASSPHRASE: 'correct horse battery staple' })).keyId).toBe(k.keyId);
    await expect(open({ GATEHOUSE_MASTER_PASSPHRASE: 'wrong horse battery staple' })).rejects.toMatchObject({
      code: 'key_invalid',
    });
    await expect(open({})).rejects.toMatchObject({ code: 'key_invalid' });
  });

  it('internal keys are stable, distinct per purpose, and survive rekey', async () => {
    const k = await open();
    const a = await k.internalKey('audit-chain');
    const b = await k.internalKey('request-state');
    expect(a.length).toBe(32);
    expect(a.equals(b)).toBe(false);
    expect((await (await open()).internalKey('audit-chain')).equals(a)).toBe(true);
    // This store holds no vault: rotating it must be asked for explicitly (issue 21.5).
    await k.rekey({ allowEmptyStore: true });
    const k2 = await open();
    expect((await k2.internalKey('audit-chain')).equals(a)).toBe(true);
    expect((await k2.internalKey('request-state')).equals(b)).toBe(true);
    expect(() => k.internalKey('Bad Purpose')).toThrow();
  });

  it('rekey (file): secrets open with the new key, ciphertexts untouched, old key refused and kept as master.key.old', async () => {
    const k = await open();
    const v = openVault({ store: t.store, keyring: k });
    await v.createVault('ops');
    await v.setField('ops/db.password', 'pw-before-rekey-1');
    const before = await t.store.db.selectFrom('vault_fields').select(['ciphertext', 'nonce']).execute();
    const oldKey = readFileSync(t.keyFile);
    const r = await k.rekey();
    expect(r.newKeyId).not.toBe(r.oldKeyId);
    expect(k.keyId).toBe(r.newKeyId);
    expect(r.rewrapped.vaultKeys).toBe(1);
    expect(r.oldKeyFile).toBe(t.keyFile + '.old');
    expect(readFileSync(t.keyFile + '.old').equals(oldKey)).toBe(true);
    expect(statSync(t.keyFile + '.old').mode & 0o777).toBe(0o600);
    expect(await t.store.db.selectFrom('vault_fields').select(['ciphertext', 'nonce']).execute()).toEqual(before);
    // the same process keeps working
    expect(await v.openField('ops/db.password')).toBe('pw-before-rekey-1');
    await t.reopen();
    const k2 = await open({}, false);
    expect(k2.keyId).toBe(r.newKeyId);
    expect(await openVault({ store: t.store, keyring: k2 }).openField('ops/db.password')).toBe('pw-before-rekey-1');
    // the old key no longer opens the store
    await expect(open({ GATEHOUSE_MASTER_KEY: oldKey.toString('base64') })).rejects.toMatchObject({
      code: 'key_invalid',
    });
  });

  it('rekey (env key -> new env key, then to a passphrase)', async () => {
    const key1 = randomBytes(32);
    const key2 = randomBytes(32);
    const k = await open({ GATEHOUSE_MASTER_KEY: key1.toString('base64') });
    const v = openVault({ store: t.store, keyring: k });
    await v.createVault('ops');
    await v.setField('ops/x.y', 'env-secret-abc');
    await expect(k.rekey()).rejects.toMatchObject({ code: 'usage' });
    await k.rekey({ newKey: key2 });
    await expect(open({ GATEHOUSE_MASTER_KEY: key1.toString('base64') })).rejects.toMatchObject({
      code: 'key_invalid',
    });
    const k2 = await open({ GATEHOUSE_MASTER_KEY: key2.toString('base64') });
    await k2.rekey({ newPassphrase: 'a long enough passphrase' });
    const k3 = await open({ GATEHOUSE_MASTER_PASSPHRASE: 'a long enough passphrase' });
    expect(await openVault({ store: t.store, keyring: k3 }).openField('ops/x.y')).toBe('env-secret-abc');
  });

  it('finishes an interrupted file rekey (committed, files not swapped)', async () => {
    const k = await open();
    const v = openVault({ store: t.store, keyring: k });
    await v.createVault('ops');
    await v.setField('ops/x.y', 'interrupted-1234');
    const oldKey = readFileSync(t.keyFile);
    await k.rekey();
    const newKey = readFileSync(t.keyFile);
    // Simulate a crash after commit, before the renames.
    writeFileSync(t.keyFile, oldKey, { mode: 0o600 });
    writeFileSync(t.keyFile + '.new', newKey, { mode: 0o600 });
    const k2 = await open({}, false);
    expect(readFileSync(t.keyFile).equals(newKey)).toBe(true);
    expect(existsSync(t.keyFile + '.new')).toBe(false);
    expect(await openVault({ store: t.store, keyring: k2 }).openField('ops/x.y')).toBe('interrupted-1234');
  });
});
