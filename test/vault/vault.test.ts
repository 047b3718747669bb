import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { openKeyring, openVault, Redactor, installLogScrubbing, type Vault } from '../../src/vault/index.js';
import { createLogger, setLogScrubber, setLogSink, GatehouseError } from '../../src/core/index.js';
import { DIALECTS, makeEnv, type TestEnv } from './helpers.js';

const CANARY = 'CANARY-d41d8cd98f00b204e9800998ecf8427e';
const USER = 'svc-deploy-user';
const PASS = 'Pa55word!with/odd+chars=';

/** What an upstream may echo back. */
function echoForms(s: string): string[] {
  const b = Buffer.from(s);
  return [
    s,
    b.toString('base64'),
    b.toString('base64url'),
    b.toString('hex'),
    b.toString('hex').toUpperCase(),
    encodeURIComponent(s),
    JSON.stringify(s),
  ];
}
/** What must never be visible: those forms, plus a long run of the base64 (catches partial scrubbing). */
function canaryForms(s: string): string[] {
  return [...echoForms(s), Buffer.from(s).toString('base64').slice(4, 28)];
}
function assertNoCanary(where: string, text: string, secrets: string[] = [CANARY, PASS]): void {
  for (const s of secrets)
    for (const f of canaryForms(s))
      expect(text.includes(f), `${where} contains a form of a secret: ${f.slice(0, 6)}…`).toBe(false);
}

describe.each(DIALECTS)('vault service (%s)', (dialect) => {
  let t: TestEnv;
  let v: Vault;
  beforeEach(async () => {
    t = await makeEnv(dialect);
    const k = await openKeyring({ home: t.home, masterKeyFile: t.keyFile, env: {}, store: t.store, create: true });
    v = openVault({ store: t.store, keyring: k });
    await v.createVault('ops');
    await v.createVault('other');
    await v.setField('ops/api.example.com.token', CANARY, {
      bind: ['host:*.example.com', 'target:api'],
      description: 'Example API token',
    });
    await v.setField('ops/basicsvc.username', USER, { bind: ['target:legacy'] });
    await v.setField('ops/basicsvc.password', PASS);
    await v.setField('other/db.password', 'other-vault-secret-xyz', { bind: ['target:db'] });
    await v.setField('ops/unbound.key', 'unbound-secret-value');
  });
  afterEach(async () => {
    await t.cleanup();
  });

  it('lists and searches without values', async () => {
    expect((await v.listVaults()).map((x) => [x.name, x.items])).toEqual([
      ['ops', 3],
      ['other', 1],
    ]);
    const items = await v.listItems('ops');
    expect(items.find((i) => i.item === 'api.example.com')).toMatchObject({
      fields: ['token'],
      bindings: ['host:*.example.com', 'target:api'],
      description: 'Example API token',
    });
    const hits = await v.search({ text: 'example' }, ['ops']);
    expect(hits).toEqual([
      {
        handle: '{{vault:ops/api.example.com.token}}',
        vault: 'ops',
        item: 'api.example.com',
        field: 'token',
        description: 'Example API token',
        bindings: ['host:*.example.com', 'target:api'],
      },
    ]);
    expect((await v.search({ host: 'x.example.com' }, ['*'])).map((h) => h.handle)).toEqual([
      '{{vault:ops/api.example.com.token}}',
    ]);
    expect((await v.search({ target: 'db' }, ['ops'])).length).toBe(0); // not granted
    expect((await v.search({ target: 'db' }, ['other'])).length).toBe(1);
    expect((await v.search({}, [])).length).toBe(0);
    assertNoCanary('list/search', JSON.stringify([items, hits, await v.search({}, ['*'])]));
  });

  it('fills a handle for a bound destination with each encoding', async () => {
    const dest = { destination: { host: 'api.example.com' }, grantedVaults: ['ops'] };
    const r = await v.fillHandles('Authorization: Bearer {{vault:ops/api.example.com.token}}', dest);
    expect(r).toEqual({
      text: `Authorization: Bearer ${CANARY}`,
      filled: [CANARY],
      handles: ['{{vault:ops/api.example.com.token}}'],
    });
    expect((await v.fillHandles('{{vault:ops/api.example.com.token|base64}}', dest)).text).toBe(
      Buffer.from(CANARY).toString('base64'),
    );
    expect(
      (
        await v.fillHandles('q={{vault:ops/api.example.com.token|urlencode}}', {
          destination: { target: 'api' },
          grantedVaults: ['*'],
        })
      ).text,
    ).toBe(`q=${encodeURIComponent(CANARY)}`);
    expect((await v.fillHandles('{{vault:ops/api.example.com.token|hex}}', dest)).text).toBe(
      Buffer.from(CANARY).toString('hex'),
    );
    const basic = await v.fillHandles('Basic {{vault:ops/basicsvc|basic}}', {
      destination: { target: 'legacy' },
      grantedVaults: ['ops'],
    });
    expect(basic.text).toBe(`Basic ${Buffer.from(`${USER}:${PASS}`).toString('base64')}`);
    expect(basic.filled.sort()).toEqual([USER, PASS, `${USER}:${PASS}`].sort());
    expect((await v.fillHandles('\\{{vault:ops/api.example.com.token}}', dest)).text).toBe(
      '{{vault:ops/api.example.com.token}}',
    );
    expect(await v.fillHandles('no handles {{here}}', dest)).toEqual({
      text: 'no handles {{here}}',
      filled: [],
      handles: [],
    });
  });

  it('CANARY: every refusal names the handle and reason, never a value; logs and results stay clean', async () => {
    const lines: string[] = [];
    setLogSink((l) => lines.push(l));
    const redactor = new Redactor({ audience: 'operator' });
    installLogScrubbing(redactor);
    const log = createLogger({}, 'debug');
    try {
      const h = '{{vault:ops/api.example.com.token}}';
      const cases: Array<[string, Parameters<Vault['fillHandles']>[1], RegExp]> = [
        [
          h,
          { destination: { host: 'evil.example.net' }, grantedVaults: ['ops'] },
          /not bound to this destination \(host evil\.example\.net\)/,
        ],
        [h, { destination: { host: 'example.com' }, grantedVaults: ['ops'] }, /not bound/],
        [h, { destination: { target: 'other' }, grantedVaults: ['ops'] }, /not bound/],
        [h, { destination: {}, grantedVaults: ['ops'] }, /not bound/],
        [h, { destination: { host: 'api.example.com' }, grantedVaults: ['other'] }, /vault ops is not granted/],
        [
          '{{vault:nope/x.y}}',
          { destination: { host: 'a.example.com' }, grantedVaults: ['other'] },
          /vault nope is not granted/,
        ],
        ['{{vault:nope/x.y}}', { destination: { host: 'a.example.com' }, grantedVaults: ['*'] }, /no vault named nope/],
        [
          '{{vault:ops/missing.y}}',
          { destination: { host: 'a.example.com' }, grantedVaults: ['ops'] },
          /no item missing/,
        ],
        [
          '{{vault:ops/api.example.com.nofield}}',
          { destination: { host: 'a.example.com' }, grantedVaults: ['ops'] },
          /has no field nofield/,
        ],
        [
          '{{vault:ops/unbound.key}}',
          { destination: { host: 'a.example.com' }, grantedVaults: ['ops'] },
          /bound to nothing/,
        ],
        [
          '{{vault:ops/api.example.com|basic}}',
          { destination: { host: 'a.example.com' }, grantedVaults: ['ops'] },
          /has no field username/,
        ],
        ['{{vault:ops/basicsvc|basic}}', { destination: { target: 'api' }, grantedVaults: ['ops'] }, /not bound/],
        [
          'ok {{vault:ops/api.example.com.token}} then {{vault:ops/bad name}}',
          { destination: { host: 'a.example.com' }, grantedVaults: ['ops'] },
          /not a well-formed handle/,
        ],
        [
          `x {{vault:ops/api.example.com.token}} {{vault:other/db.password}}`,
          { destination: { host: 'a.example.com' }, grantedVaults: ['ops', 'other'] },
          /other\/db is not bound/,
        ],
      ];
      for (const [text, opts, re] of cases) {
        const err = await v.fillHandles(text, opts).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, text).toBeInstanceOf(GatehouseError);
        const ge = err as GatehouseError;
        expect(ge.code).toBe('vault_handle_refused');
        expect(ge.message).toMatch(re);
        expect(ge.message).toContain('{{vault:');
        log.warn('refused', { err: ge, json: ge.toJSON() });
        assertNoCanary(
          `error for ${text}`,
          JSON.stringify({ m: ge.message, h: ge.hint, j: ge.toJSON(), s: ge.stack }),
          [CANARY, PASS, USER, 'other-vault-secret-xyz', 'unbound-secret-value'],
        );
      }
      // A successful fill: the executor registers filled values, then everything it emits is scrubbed.
      const ok = await v.fillHandles('{{vault:ops/api.example.com.token}}', {
        destination: { host: 'api.example.com' },
        grantedVaults: ['ops'],
      });
      ok.filled.forEach((s) => redactor.add(s));
      const basic = await v.fillHandles('Basic {{vault:ops/basicsvc|basic}}', {
        destination: { target: 'legacy' },
        grantedVaults: ['ops'],
      });
      basic.filled.forEach((s) => redactor.add(s));
      // The upstream echoes everything it got, in every encoding.
      const echo = JSON.stringify({
        headers: { authorization: `Bearer ${ok.text}`, basic: basic.text },
        forms: echoForms(CANARY),
        pass: echoForms(PASS),
      });
      const scrubbed = redactor.scrub(echo);
      assertNoCanary('scrubbed upstream echo', scrubbed);
      expect(scrubbed).not.toContain(Buffer.from(`${USER}:${PASS}`).toString('base64'));
      log.info('upstream response', { body: echo, filled: ok.text });
      // nothing with the canary ever reached a log line
      expect(lines.length).toBeGreaterThan(cases.length);
      for (const l of lines) assertNoCanary('log line', l);
      // opening for internal use works; missing things are clean not_found errors
      expect(await v.openField('ops/api.example.com.token')).toBe(CANARY);
      await expect(v.openField('ops/api.example.com.nope')).rejects.toMatchObject({ code: 'not_found' });
    } finally {
      setLogScrubber((l) => l);
      setLogSink((l) => process.stderr.write(l + '\n'));
    }
  });

  it('CANARY: no plaintext (or base64/hex/url form) anywhere in the database files', async () => {
    if (dialect === 'sqlite') {
      await t.reopen(); // checkpoint is not guaranteed; read the main file AND the WAL
      const bytes = [t.dbFile, `${t.dbFile}-wal`, `${t.dbFile}-shm`]
        .filter(existsSync)
        .map((f) => readFileSync(f).toString('latin1'));
      expect(bytes.length).toBeGreaterThan(0);
      for (const b of bytes) assertNoCanary('sqlite file', b, [CANARY, PASS, USER, 'other-vault-secret-xyz']);
      const key = readFileSync(t.keyFile).toString('latin1');
      for (const b of bytes) expect(b.includes(key)).toBe(false);
    }
    // Every column of every vault table, through SQL (both dialects).
    for (const table of ['vaults', 'vault_items', 'vault_fields', 'vault_bindings', 'vault_keyring']) {
      const rows = await t.store.db.selectFrom(table).selectAll().execute();
      assertNoCanary(`table ${table}`, JSON.stringify(rows), [CANARY, PASS, USER, 'other-vault-secret-xyz']);
    }
  });

  it('tampered ciphertext and nonce fail closed (key_invalid), never partial output', async () => {
    const row = (await t.store.db
      .selectFrom('vault_fields')
      .select(['id', 'ciphertext'])
      .where('name', '=', 'token')
      .executeTakeFirstOrThrow()) as { id: string; ciphertext: string };
    const ct = Buffer.from(row.ciphertext, 'base64');
    ct[5] ^= 0x01;
    await t.store.db
      .updateTable('vault_fields')
      .set({ ciphertext: ct.toString('base64') })
      .where('id', '=', row.id)
      .execute();
    const err = await v.openField('ops/api.example.com.token').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'key_invalid' });
    assertNoCanary('tamper error', JSON.stringify((err as GatehouseError).toJSON()));
    await expect(
      v.fillHandles('{{vault:ops/api.example.com.token}}', {
        destination: { host: 'a.example.com' },
        grantedVaults: ['ops'],
      }),
    ).rejects.toMatchObject({ code: 'key_invalid' });
    // truncated ciphertext / bad nonce
    await t.store.db
      .updateTable('vault_fields')
      .set({ ciphertext: 'AAAA', nonce: 'AAAA' })
      .where('id', '=', row.id)
      .execute();
    await expect(v.openField('ops/api.example.com.token')).rejects.toMatchObject({ code: 'key_invalid' });
  });

  it('swapped rows never open: field moved to another item, item moved to another vault, data keys swapped', async () => {
    const token = (await t.store.db
      .selectFrom('vault_fields')
      .select(['ciphertext', 'nonce'])
      .where('name', '=', 'token')
      .executeTakeFirstOrThrow()) as { ciphertext: string; nonce: string };
    const unboundItem = (await t.store.db
      .selectFrom('vault_items')
      .select('id')
      .where('name', '=', 'unbound')
      .executeTakeFirstOrThrow()) as { id: string };
    // 1. copy the token's ciphertext over unbound.key (same vault, other item, other field name)
    await t.store.db.updateTable('vault_fields').set(token).where('item_id', '=', unboundItem.id).execute();
    await expect(v.openField('ops/unbound.key')).rejects.toMatchObject({ code: 'key_invalid' });
    // 2. rename the field row to the same field name on another item: still refused (item id in AD)
    await t.store.db.updateTable('vault_fields').set({ name: 'token' }).where('item_id', '=', unboundItem.id).execute();
    await expect(v.openField('ops/unbound.token')).rejects.toMatchObject({ code: 'key_invalid' });
    // 3. move an item to another vault
    const db = (await t.store.db
      .selectFrom('vault_items')
      .select('id')
      .where('name', '=', 'db')
      .executeTakeFirstOrThrow()) as { id: string };
    const ops = (await t.store.db
      .selectFrom('vaults')
      .select(['id', 'wrapped_key', 'key_nonce'])
      .where('name', '=', 'ops')
      .executeTakeFirstOrThrow()) as { id: string; wrapped_key: string; key_nonce: string };
    await t.store.db.updateTable('vault_items').set({ vault_id: ops.id }).where('id', '=', db.id).execute();
    await expect(v.openField('ops/db.password')).rejects.toMatchObject({ code: 'key_invalid' });
    // 4. give vault "other" the wrapped data key of "ops" (fresh service: no cached keys)
    const k = await openKeyring({ home: t.home, masterKeyFile: t.keyFile, env: {}, store: t.store });
    await t.store.db
      .updateTable('vaults')
      .set({ wrapped_key: ops.wrapped_key, key_nonce: ops.key_nonce })
      .where('name', '=', 'other')
      .execute();
    await t.store.db.updateTable('vault_items').set({ vault_id: ops.id }).where('id', '=', db.id).execute();
    await expect(openVault({ store: t.store, keyring: k }).openField('other/anything.x')).rejects.toMatchObject({
      code: 'not_found',
    });
    await v.setField('ops/api.example.com.token', CANARY); // still fine for intact rows
  });

  it('management: conflicts, validation, overwrite, unbind, removal', async () => {
    await expect(v.createVault('ops')).rejects.toMatchObject({ code: 'conflict' });
    await expect(v.createVault('bad name')).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(v.setField('nope/a.b', 'value-1234')).rejects.toMatchObject({ code: 'not_found' });
    await expect(v.setField('ops/a.b', '')).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(v.setField('ops/a', 'value-1234')).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(v.setField('ops/a.b', 'value-1234', { bind: ['http://x'] })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    await v.setField('ops/api.example.com.token', 'new-value-5678');
    expect(await v.openField('ops/api.example.com.token')).toBe('new-value-5678');
    await v.unbind('ops/api.example.com', ['target:api']);
    expect((await v.listItems('ops')).find((i) => i.item === 'api.example.com')?.bindings).toEqual([
      'host:*.example.com',
    ]);
    await v.removeItem('ops', 'unbound');
    await expect(v.openField('ops/unbound.key')).rejects.toMatchObject({ code: 'not_found' });
    await v.removeVault('other');
    expect((await v.listVaults()).map((x) => x.name)).toEqual(['ops']);
    expect(await t.store.db.selectFrom('vault_fields').select('id').execute()).toHaveLength(3);
  });

  it('seedRedactor registers every stored value', async () => {
    const r = new Redactor({ audience: 'operator' });
    expect(await v.seedRedactor(r)).toBe(5);
    expect(r.scrub(`a ${CANARY} b other-vault-secret-xyz`)).toBe('a [REDACTED] b [REDACTED]');
  });
});
