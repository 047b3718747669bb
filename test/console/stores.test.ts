import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleSessions, LOGIN_CODE_TTL_MS, SESSION_IDLE_MS } from '../../src/console/index.js';
import { dropSchema } from '../../src/store/index.js';
import { bootRuntime } from '../../src/server/index.js';
import { tempHome } from '../helpers/home.js';
import { freshSchema, postgresUrl } from '../helpers/pg.js';
import { storeKinds } from '../helpers/stores.js';

// Migration 0018 and the session service on both stores (PostgreSQL returns bigint as text).
describe.each(await storeKinds())('console sessions on %s', (kind) => {
  const home = tempHome();
  let rt: Awaited<ReturnType<typeof bootRuntime>>;
  let drop: () => Promise<void> = async () => undefined;
  const clock = { now: Date.now() };
  let s: ConsoleSessions;

  beforeAll(async () => {
    if (kind === 'postgres') {
      const url = (await postgresUrl())!;
      const schema = freshSchema('gh_console');
      Object.assign(home.env, { DATABASE_URL: url, GATEHOUSE_PG_SCHEMA: schema });
      drop = () => dropSchema(url, schema);
    }
    rt = await bootRuntime({ env: home.env });
    s = await ConsoleSessions.open(rt, { now: () => clock.now });
  });
  afterAll(async () => {
    await rt?.close();
    await drop();
    home.cleanup();
  });

  it('a code logs in once, even when raced; it expires after 60 s', async () => {
    const { code } = await s.createLoginCode('alice');
    const results = await Promise.all(Array.from({ length: 8 }, () => s.loginWithCode(code)));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok).map((r) => (r.ok ? '' : r.reason))).toEqual(Array(7).fill('used_code'));
    const late = await s.createLoginCode('alice');
    clock.now += LOGIN_CODE_TTL_MS;
    expect(await s.loginWithCode(late.code)).toEqual({ ok: false, reason: 'expired_code' });
  });

  it('a session lives while used, ends when idle, and ends at logout', async () => {
    const { code } = await s.createLoginCode('alice');
    const r = await s.loginWithCode(code);
    if (!r.ok) throw new Error(r.reason);
    expect(r.session.label).toBe('login-link:alice');
    expect(r.session.tokenId).toBeNull();
    clock.now += SESSION_IDLE_MS - 1000;
    expect((await s.current([r.cookie]))?.idHash).toBe(r.session.idHash);
    clock.now += SESSION_IDLE_MS - 1000;
    expect(await s.current(['junk', r.cookie])).not.toBeNull();
    clock.now += SESSION_IDLE_MS;
    expect(await s.current([r.cookie])).toBeNull();

    const admin = await rt.tokens.create({ name: `admin-${kind}`, admin: true });
    const t = await s.loginWithToken(admin.token);
    if (!t.ok) throw new Error(t.reason);
    expect(await s.current([t.cookie])).not.toBeNull();
    await s.revoke(t.session.idHash);
    expect(await s.current([t.cookie])).toBeNull();
  });

  it('a session row inserted without the master key opens nothing', async () => {
    const { createHash } = await import('node:crypto');
    const cookie = 'B'.repeat(43);
    await rt.store.db
      .insertInto('console_sessions')
      .values({
        id_hash: createHash('sha256').update(cookie).digest('hex'),
        token_id: null,
        label: 'forged',
        created_at: clock.now,
        last_seen_at: clock.now,
        expires_at: clock.now + 3_600_000,
        revoked_at: null,
        mac: '0'.repeat(64),
      })
      .execute();
    expect(await s.current([cookie])).toBeNull();
  });
});
