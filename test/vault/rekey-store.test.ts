import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dropSchema } from '../../src/store/index.js';
import { openKeyring, openVault } from '../../src/vault/index.js';
import { assertBuilt, cli } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { freshSchema } from '../helpers/pg.js';
import { DIALECTS, makeEnv, openVaultFromEnv, PG_URL, rawFor, type TestEnv } from './helpers.js';

/*
 * Issue 21.5: `vault rekey` on PostgreSQL with GATEHOUSE_PG_SCHEMA rotated the keyring of another
 * store (the CLI opened the default schema), replaced master.key, and left the real data sealed
 * under a key that was no longer in use. Two fixes, each tested here: every command opens the
 * store the environment names (storeOptionsFromEnv), and rekey refuses a store that holds nothing
 * sealed by the current key, changing nothing.
 */
const PW = 'CANARY-rekey-3e8d55a0c1f9';

describe.each(DIALECTS)('rekey refuses a store with nothing sealed by the current key (%s)', (dialect) => {
  let t: TestEnv;
  beforeEach(async () => {
    t = await makeEnv(dialect);
  });
  afterEach(async () => {
    await t.cleanup();
  });

  const keyringState = async () => {
    const raw = await rawFor(t);
    try {
      return await raw.query('SELECT id, wrapped, nonce, key_id FROM vault_keyring ORDER BY id');
    } finally {
      await raw.close();
    }
  };

  it('a store with no vault is refused and nothing changes; --empty-store (allowEmptyStore) states the exception', async () => {
    const k = await openKeyring({ home: t.home, masterKeyFile: t.keyFile, env: {}, store: t.store, create: true });
    await k.internalKey('audit-chain'); // any process that opens a store creates internal keys
    const keyBefore = readFileSync(t.keyFile);
    const rowsBefore = await keyringState();
    await expect(k.rekey()).rejects.toMatchObject({
      code: 'conflict',
      message: expect.stringContaining('holds no vault'),
      hint: expect.stringContaining('--empty-store'),
    });
    expect(readFileSync(t.keyFile).equals(keyBefore)).toBe(true);
    expect(existsSync(t.keyFile + '.new')).toBe(false);
    expect(existsSync(t.keyFile + '.old')).toBe(false);
    expect(await keyringState()).toEqual(rowsBefore);
    const r = await k.rekey({ allowEmptyStore: true });
    expect(r.rewrapped).toEqual({ vaultKeys: 0, internalKeys: 1 });
  });

  it('a wrapped key that does not open with the current key stops the rekey before any file is written', async () => {
    const k = await openKeyring({ home: t.home, masterKeyFile: t.keyFile, env: {}, store: t.store, create: true });
    const v = openVault({ store: t.store, keyring: k });
    await v.createVault('ops');
    await v.createVault('dev');
    const raw = await rawFor(t);
    const [other] = await raw.query<{ wrapped_key: string; key_nonce: string }>(
      "SELECT wrapped_key, key_nonce FROM vaults WHERE name = 'ops'",
    );
    await raw.query("UPDATE vaults SET wrapped_key = ?, key_nonce = ? WHERE name = 'dev'", [
      other.wrapped_key,
      other.key_nonce,
    ]);
    await raw.close();
    const keyBefore = readFileSync(t.keyFile);
    const rowsBefore = await keyringState();
    await expect(k.rekey()).rejects.toMatchObject({
      code: 'key_invalid',
      message: expect.stringContaining('vault dev'),
    });
    expect(readFileSync(t.keyFile).equals(keyBefore)).toBe(true);
    expect(existsSync(t.keyFile + '.new')).toBe(false);
    expect(await keyringState()).toEqual(rowsBefore);
  });
});

describe.runIf(PG_URL !== undefined)('vault rekey through the CLI on a non-default PostgreSQL schema', () => {
  let home: ReturnType<typeof tempHome>;
  let schema: string;
  let other: string;
  let env: NodeJS.ProcessEnv;
  beforeEach(() => {
    assertBuilt();
    home = tempHome();
    schema = freshSchema('gh_rekey');
    other = freshSchema('gh_rekey_other');
    env = { ...home.env, DATABASE_URL: PG_URL!, GATEHOUSE_PG_SCHEMA: schema };
    // A CLI built before this fix ignores GATEHOUSE_PG_SCHEMA and would write into the default
    // schema of a shared database: refuse to run against one.
    if (!cli(['vault', 'help'], home.env).stdout.includes('--empty-store'))
      throw new Error(`${'dist/'} is older than src/: run \`npm run build\` first`);
  });
  afterEach(async () => {
    await dropSchema(PG_URL!, schema);
    await dropSchema(PG_URL!, other);
    home.cleanup();
  });

  const ok = (args: string[], e: NodeJS.ProcessEnv, input?: string) => {
    const r = cli(args, e, input);
    expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    return r;
  };

  it('rekeys the schema GATEHOUSE_PG_SCHEMA names, end to end, and the data opens with the new key', async () => {
    ok(['vault', 'create', 'ops'], env);
    ok(['vault', 'set', 'ops/db.password', '--bind', 'target:prod'], env, PW);
    const keyFile = join(home.env.GATEHOUSE_HOME!, 'master.key');
    const before = readFileSync(keyFile);
    const r = ok(['vault', 'rekey'], env);
    expect(readFileSync(keyFile + '.old').equals(before)).toBe(true);
    expect(readFileSync(keyFile).equals(before)).toBe(false);
    // The value opens under the new key in that schema, and every later command works.
    const o = await openVaultFromEnv(env);
    try {
      expect(await o.vault.openField('ops/db.password')).toBe(PW);
    } finally {
      await o.close();
    }
    expect(ok(['vault', 'list'], env).stdout).toContain('ops/db');
    expect(r.stderr).toContain(`#${schema}`);
    expect(r.stderr).toMatch(/1 vault keys/);
  });

  it('a rekey pointed at the wrong store is refused with nothing changed (missing schema, empty store)', async () => {
    ok(['vault', 'create', 'ops'], env);
    ok(['vault', 'set', 'ops/db.password', '--bind', 'target:prod'], env, PW);
    const keyFile = join(home.env.GATEHOUSE_HOME!, 'master.key');
    const before = readFileSync(keyFile);
    const wrong = { ...env, GATEHOUSE_PG_SCHEMA: other };

    // 1. A schema that does not exist: refused, and not created.
    const missing = cli(['vault', 'rekey'], wrong);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/error \[not_found\]: PostgreSQL schema gh_rekey_other_\w+ does not exist/);

    // 2. A store someone once ran a command against (keyring and internal keys, no vault): refused.
    ok(['vault', 'list'], wrong);
    const empty = cli(['vault', 'rekey'], wrong);
    expect(empty.code).toBe(1);
    expect(empty.stderr).toMatch(
      /error \[conflict\]: refusing to rekey postgres:\/\/.*#gh_rekey_other_\w+: it holds no vault/,
    );

    // 3. GATEHOUSE_PG_SCHEMA without DATABASE_URL: refused before anything is opened.
    const noUrl = cli(['vault', 'rekey'], { ...env, DATABASE_URL: '' });
    expect(noUrl.code).toBe(1);
    expect(noUrl.stderr).toContain('error [config_invalid]');

    // Nothing changed: the same key file, no leftovers, and the real store opens with it.
    expect(readFileSync(keyFile).equals(before)).toBe(true);
    expect(existsSync(keyFile + '.new') || existsSync(keyFile + '.old')).toBe(false);
    const o = await openVaultFromEnv(env);
    try {
      expect(await o.vault.openField('ops/db.password')).toBe(PW);
    } finally {
      await o.close();
    }
  });
});
