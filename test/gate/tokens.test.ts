import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenService, TOKEN_CACHE_MS, isGranted } from '../../src/gate/index.js';
import type { Store } from '../../src/store/index.js';
import { storeFixtures } from '../helpers/stores.js';

const fixtures = await storeFixtures();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(fixtures.map((f) => [f.name, f] as const))('tokens on %s', (_name, fx) => {
  let store: Store;
  let tokens: TokenService;
  beforeAll(async () => {
    store = await fx.open();
    tokens = new TokenService(store);
  });
  afterAll(async () => {
    await store.close();
    await fx.cleanup();
  });
  const uniq = () => `t-${randomBytes(4).toString('hex')}`;

  it('creates a gh_ token with 256 bits, stores only its hash, and authenticates it', async () => {
    const { token, info } = await tokens.create({ name: uniq(), grants: ['tool:discover', 'target:prod-db', 'vault:ops'] });
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
    const { token: expired } = await tokens.create({ name: uniq(), expiresInMs: 1000 });
    await sleep(1100);
    const bad = ['gh_' + 'A'.repeat(43), 'not-a-token', '', 'gh_short', revoked, expired, 'Bearer gh_x'];
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
    const other = new TokenService(await fx.open());
    await other.revoke(info.name);
    await sleep(TOKEN_CACHE_MS + 50);
    await expect(tokens.authenticate(token)).rejects.toMatchObject({ code: 'unauthenticated' });
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
    await expect(tokens.create({ name: uniq(), grants: ['tool:a b'] })).rejects.toMatchObject({ code: 'invalid_input' });
    const name = uniq();
    await tokens.create({ name });
    await expect(tokens.create({ name })).rejects.toMatchObject({ code: 'conflict' });
    expect((await tokens.list()).length).toBe(before + 1);
  });
});
