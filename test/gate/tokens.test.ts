import { createHash, randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setLogSink } from '../../src/core/index.js';
import { TokenService, TOKEN_CACHE_MS, isGranted } from '../../src/gate/index.js';
import type { Store } from '../../src/store/index.js';
import { plainSql, type PlainSql } from '../approvals/helpers.js';
import { storeFixtures } from '../helpers/stores.js';

const fixtures = await storeFixtures();
afterAll(async () => {
  for (const f of fixtures) await f.cleanup();
});

describe.each(fixtures.map((f) => [f.name, f] as const))('tokens on %s', (_name, fx) => {
  let store: Store;
  let tokens: TokenService;
  // The store-integrity key every process of this store holds (the runtime loads it from the keyring).
  const integrityKey = randomBytes(32);
  // A clock the tests move instead of sleeping past expiries and the cache bound.
  let now = Date.now();
  const clock = () => now;
  beforeAll(async () => {
    store = await fx.open();
    tokens = new TokenService(store, { integrityKey, now: clock });
  });
  afterAll(async () => {
    await store.close();
  });
  const uniq = () => `t-${randomBytes(4).toString('hex')}`;

  it('two processes creating one name at once: one token, and the other gets a typed conflict', async () => {
    const other = await fx.open();
    try {
      const name = uniq();
      const second = new TokenService(other, { integrityKey, now: clock });
      const got = await Promise.allSettled([tokens.create({ name }), second.create({ name })]);
      expect(got.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      const refused = got.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(refused.reason).toMatchObject({ code: 'conflict', message: `a token named ${name} already exists` });
    } finally {
      await other.close();
    }
  });

  it('creates a gh_ token with 256 bits, stores only its hash, and authenticates it', async () => {
    const { token, info } = await tokens.create({
      name: uniq(),
      grants: ['tool:discover', 'target:prod-db', 'vault:ops'],
    });
    expect(token).toMatch(/^gh_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(token.slice(3), 'base64url')).toHaveLength(32);
    const rows = await store.db.selectFrom('tokens').selectAll().execute();
    expect(JSON.stringify(rows)).not.toContain(token.slice(3));
    const p = await tokens.authenticate(token);
    expect(p.tokenId).toBe(info.id);
    expect(isGranted(p.grants, 'tool', 'discover')).toBe(true);
    expect(isGranted(p.grants, 'tool', 'exec')).toBe(false);
    expect(isGranted(p.grants, 'target', 'prod-db')).toBe(true);
  });

  it('unknown, malformed, expired and revoked tokens get the same refusal', async () => {
    const { token: revoked } = await tokens.create({ name: uniq() });
    await tokens.revoke((await tokens.authenticate(revoked)).tokenId);
    // Both expire inside the cache bound: one is answered from this process's cache (an expiry
    // there must refuse too), the other, never seen before, from the store.
    const { token: expired } = await tokens.create({ name: uniq(), expiresInMs: TOKEN_CACHE_MS / 2 });
    const { token: expiredUnseen } = await tokens.create({ name: uniq(), expiresInMs: TOKEN_CACHE_MS / 2 });
    expect((await tokens.authenticate(expired)).tokenName).toBeDefined(); // valid (and cached) until it expires
    now += TOKEN_CACHE_MS / 2;
    const bad = ['gh_' + 'A'.repeat(43), 'not-a-token', '', 'gh_short', revoked, expired, expiredUnseen, 'Bearer gh_x'];
    const messages = new Set<string>();
    for (const t of bad) {
      const e = await tokens.authenticate(t).then(
        () => null,
        (err: { code: string; message: string }) => err,
      );
      expect(e?.code).toBe('unauthenticated');
      messages.add(e!.message);
    }
    expect(messages.size).toBe(1);
  });

  it('a token revoked by another process is refused within the cache bound', async () => {
    const { token, info } = await tokens.create({ name: uniq() });
    await tokens.authenticate(token);
    const otherStore = await fx.open();
    const other = new TokenService(otherStore, { integrityKey, now: clock });
    await other.revoke(info.name);
    // This process may answer from its cache inside the bound, never at it.
    now += TOKEN_CACHE_MS;
    await expect(tokens.authenticate(token)).rejects.toMatchObject({ code: 'unauthenticated' });
    await otherStore.close();
  });

  it('rotate: new secret, same grants; the old one is refused at once', async () => {
    const name = uniq();
    const { token: old } = await tokens.create({ name, grants: ['tool:*'] });
    await tokens.authenticate(old);
    const { token: fresh } = await tokens.rotate(name);
    await expect(tokens.authenticate(old)).rejects.toMatchObject({ code: 'unauthenticated' });
    expect((await tokens.authenticate(fresh)).grants).toEqual([{ kind: 'tool', name: '*' }]);
  });

  it('rejects bad grants and duplicate names without writing anything', async () => {
    const before = (await tokens.list()).length;
    await expect(tokens.create({ name: uniq(), grants: ['tools:x'] })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(tokens.create({ name: uniq(), grants: ['tool:a b'] })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    const name = uniq();
    await tokens.create({ name });
    await expect(tokens.create({ name })).rejects.toMatchObject({ code: 'conflict' });
    expect((await tokens.list()).length).toBe(before + 1);
  });
});

/**
 * Issue 21.8: the gate trusts a token's grants, policy, approval mode, admin flag, expiry and
 * revocation from the store. A process that can write to the database must not be able to change
 * them: every token row is signed under the store-integrity key and checked before it is trusted.
 */
describe.each(fixtures.map((f) => [f.name, f] as const))(
  'token rows a database writer cannot change, on %s',
  (_name, fx) => {
    let store: Store;
    let tokens: TokenService;
    let db: PlainSql;
    let logged: string[];
    const integrityKey = randomBytes(32);
    const uniq = () => `w-${randomBytes(4).toString('hex')}`;
    const refusal = (t: string) =>
      tokens.authenticate(t).then(
        () => null,
        (e: { code: string; message: string; hint?: string }) => ({ code: e.code, message: e.message, hint: e.hint }),
      );
    beforeAll(async () => {
      store = await fx.open();
      tokens = new TokenService(store, { integrityKey });
      db = await plainSql(fx);
    });
    afterAll(async () => {
      await db.close();
      await store.close();
    });
    beforeEach(() => {
      logged = [];
      setLogSink((line) => void logged.push(line));
    });
    afterEach(() => setLogSink((line) => void process.stderr.write(line + '\n')));

    it('a token whose grants were edited in SQL is refused exactly like an unknown one, and the failure is logged loudly', async () => {
      const { token, info } = await tokens.create({ name: uniq(), grants: ['tool:discover'] });
      await tokens.authenticate(token);
      expect(
        await db.run(`UPDATE tokens SET grants = ? WHERE id = ?`, [
          JSON.stringify(['tool:*', 'target:*', 'vault:*']),
          info.id,
        ]),
      ).toBe(1);
      // a fresh service: nothing cached (another process, or after TOKEN_CACHE_MS)
      tokens = new TokenService(store, { integrityKey });
      const tampered = await refusal(token);
      const unknown = await refusal('gh_' + 'A'.repeat(43));
      expect(tampered).toEqual(unknown);
      expect(tampered?.code).toBe('unauthenticated');
      const line = logged
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l.level === 'error' && l.tokenId === info.id);
      expect(line?.msg).toMatch(/integrity check/);
      expect(JSON.stringify(logged)).not.toContain(token.slice(3));
      expect((await tokens.get(info.id)).verified).toBe(false);
      expect(await tokens.isActive(info.id)).toBe(false);
    });

    it('every field the gate trusts is covered: admin, policy, approval mode, expiry, revocation, the hash', async () => {
      const known = await tokens.create({ name: uniq() });
      for (const [column, value] of [
        ['admin', 1],
        ['policy', 'permissive'],
        ['approval_mode', 'elicitation'],
        ['expires_at', '2999-01-01T00:00:00.000Z'],
        ['revoked_at', null],
        ['hash', null],
      ] as const) {
        const { token, info } = await tokens.create({
          name: uniq(),
          approvalMode: 'totp',
          policy: 'strict',
          expiresInMs: 60_000,
        });
        if (column === 'revoked_at') await tokens.revoke(info.id); // revoked, then un-revoked in SQL
        // the hash case: point this (signed) row at a token text the writer knows
        const v =
          column === 'hash'
            ? (await db.rows<{ hash: string }>(`SELECT hash FROM tokens WHERE id = ?`, [known.info.id]))[0].hash
            : value;
        if (column === 'hash') await db.run(`UPDATE tokens SET hash = ? WHERE id = ?`, ['0'.repeat(64), known.info.id]);
        expect(await db.run(`UPDATE tokens SET ${column} = ? WHERE id = ?`, [v, info.id])).toBe(1);
        tokens = new TokenService(store, { integrityKey });
        expect((await refusal(column === 'hash' ? known.token : token))?.code).toBe('unauthenticated');
      }
    });

    it('a token bound to a user carries it, signed: the user set, changed or removed in SQL is refused', async () => {
      const bound = await tokens.create({ name: uniq(), user: 'alice' });
      expect(bound.info.user).toBe('alice');
      expect((await tokens.authenticate(bound.token)).user).toBe('alice');
      const plain = await tokens.create({ name: uniq() });
      expect((await tokens.authenticate(plain.token)).user ?? null).toBeNull();
      await expect(tokens.create({ name: uniq(), user: 'al ice' })).rejects.toMatchObject({ code: 'invalid_input' });
      for (const [info, user] of [
        [bound.info, 'mallory'],
        [bound.info, null],
        [plain.info, 'alice'],
      ] as const) {
        const token = info.id === bound.info.id ? bound.token : plain.token;
        const before = (
          await db.rows<{ user_name: string | null }>(`SELECT user_name FROM tokens WHERE id = ?`, [info.id])
        )[0]!.user_name;
        expect(await db.run(`UPDATE tokens SET user_name = ? WHERE id = ?`, [user, info.id])).toBe(1);
        tokens = new TokenService(store, { integrityKey });
        expect((await refusal(token))?.code, `user ${String(before)} -> ${String(user)}`).toBe('unauthenticated');
        await db.run(`UPDATE tokens SET user_name = ? WHERE id = ?`, [before, info.id]);
        tokens = new TokenService(store, { integrityKey });
        expect((await tokens.authenticate(token)).tokenId).toBe(info.id);
      }
    });

    it('a row inserted with mac NULL after signUnsigned is refused; rows from before signing are signed once', async () => {
      const { token, info } = await tokens.create({ name: uniq(), grants: ['tool:discover'] });
      // As a row written before migration 0006 looks.
      await db.run(`UPDATE tokens SET mac = NULL WHERE id = ?`, [info.id]);
      tokens = new TokenService(store, { integrityKey });
      expect((await refusal(token))?.code).toBe('unauthenticated');
      expect(await tokens.signUnsigned()).toBeGreaterThanOrEqual(1);
      expect(await tokens.signUnsigned()).toBe(0);
      expect((await tokens.authenticate(token)).tokenId).toBe(info.id);

      // After that, a row a database writer inserts (unsigned) is a forged one.
      const text = 'gh_' + randomBytes(32).toString('base64url');
      await db.run(
        `INSERT INTO tokens (id, name, prefix, hash, grants, policy, approval_mode, admin, created_at, last_used_at, expires_at, revoked_at, rotated_at, mac)
       VALUES (?, ?, ?, ?, ?, NULL, NULL, 1, ?, NULL, NULL, NULL, NULL, NULL)`,
        [
          'tok_forged' + randomBytes(2).toString('hex'),
          uniq(),
          text.slice(0, 8),
          createHash('sha256').update(text).digest('hex'),
          JSON.stringify(['tool:*']),
          new Date().toISOString(),
        ],
      );
      expect(await refusal(text)).toEqual(await refusal('gh_' + 'B'.repeat(43)));
    });

    it('a row copied with its signature under another name or id is refused', async () => {
      const { info } = await tokens.create({ name: uniq(), grants: ['tool:*'] });
      const text = 'gh_' + randomBytes(32).toString('base64url');
      // The writer copies a signed admin-less row and gives it a hash it knows: the hash is signed.
      await db.run(
        `INSERT INTO tokens (id, name, prefix, hash, grants, policy, approval_mode, admin, created_at, last_used_at, expires_at, revoked_at, rotated_at, mac)
       SELECT ?, ?, prefix, ?, grants, policy, approval_mode, admin, created_at, last_used_at, expires_at, revoked_at, rotated_at, mac FROM tokens WHERE id = ?`,
        ['tok_copy' + randomBytes(2).toString('hex'), uniq(), createHash('sha256').update(text).digest('hex'), info.id],
      );
      expect((await refusal(text))?.code).toBe('unauthenticated');
    });

    it('a tampered token cannot be rotated, and revoking it leaves it unsigned (never signs what it did not verify)', async () => {
      const { info } = await tokens.create({ name: uniq(), grants: ['tool:discover'] });
      await db.run(`UPDATE tokens SET grants = ? WHERE id = ?`, [JSON.stringify(['tool:*']), info.id]);
      await expect(tokens.rotate(info.id)).rejects.toMatchObject({ code: 'integrity_failed' });
      const revoked = await tokens.revoke(info.id);
      expect(revoked).toMatchObject({ verified: false });
      expect(revoked.revokedAt).not.toBeNull();
      expect(
        (await db.rows<{ mac: string | null }>(`SELECT mac FROM tokens WHERE id = ?`, [info.id]))[0].mac,
      ).toBeNull();
      expect(await tokens.isActive(info.id)).toBe(false);
    });

    it('legitimate writes re-sign: revoke and rotate rows verify in another process', async () => {
      const { info } = await tokens.create({ name: uniq(), grants: ['tool:*'] });
      const { token: fresh } = await tokens.rotate(info.id);
      const other = new TokenService(store, { integrityKey });
      expect((await other.authenticate(fresh)).tokenId).toBe(info.id);
      await other.revoke(info.id);
      expect((await new TokenService(store, { integrityKey }).get(info.id)).verified).toBe(true);
      expect(logged.filter((l) => l.includes('"level":"error"'))).toEqual([]);
    });

    it('without the integrity key (a process that did not open the keyring) nothing authenticates or is created, but revoke works', async () => {
      const { token, info } = await tokens.create({ name: uniq(), grants: ['tool:*'] });
      const keyless = new TokenService(store);
      expect(await keyless.authenticate(token).catch((e: { code: string }) => e)).toMatchObject({
        code: 'unauthenticated',
      });
      await expect(keyless.create({ name: uniq() })).rejects.toMatchObject({ code: 'integrity_failed' });
      await expect(keyless.rotate(info.id)).rejects.toMatchObject({ code: 'integrity_failed' });
      await expect(keyless.signUnsigned()).rejects.toMatchObject({ code: 'integrity_failed' });
      expect((await keyless.revoke(info.id)).revokedAt).not.toBeNull();
      await expect(new TokenService(store, { integrityKey }).authenticate(token)).rejects.toMatchObject({
        code: 'unauthenticated',
      });
    });
  },
);
