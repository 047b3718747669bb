import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnrollmentCodes, ENROLLMENT_TTL_MS, TokenService } from '../../src/gate/index.js';
import type { Store } from '../../src/store/index.js';
import { storeFixtures } from '../helpers/stores.js';

const fixtures = await storeFixtures();

describe.each(fixtures.map((f) => [f.name, f] as const))('enrollment codes on %s', (_name, fx) => {
  let store: Store;
  const key = randomBytes(32);
  let clock = Date.now();
  let tokens: TokenService;
  let codes: EnrollmentCodes;
  beforeAll(async () => {
    store = await fx.open();
    tokens = new TokenService(store, { integrityKey: key, now: () => clock });
    codes = new EnrollmentCodes(store, key, tokens, () => clock);
  });
  afterAll(async () => {
    await store.close();
    await fx.cleanup();
  });

  it('a code makes the token it names, once; the token authenticates with exactly that scope', async () => {
    const { code, codeHash } = await codes.create(
      { name: 'enrolled-1', grants: ['tool:discover'], approvalMode: 'out-of-band', client: 'cursor' },
      'console:ops',
    );
    expect(code).toMatch(/^ge_[A-Za-z0-9_-]{32}$/);
    expect(await codes.tokenOf(codeHash)).toMatchObject({ tokenId: null });
    const r = await codes.redeem(code);
    const p = await tokens.authenticate(r.token);
    expect(p.tokenName).toBe('enrolled-1');
    expect(r.info.grants.map((g) => `${g.kind}:${g.name}`)).toEqual(['tool:discover']);
    expect(r.info.admin).toBe(false);
    expect((await codes.tokenOf(codeHash))!.tokenId).toBe(r.info.id);
    await expect(codes.redeem(code)).rejects.toMatchObject({ code: 'unauthenticated' });
  });

  it('an expired, wrong or forged code makes nothing', async () => {
    const { code } = await codes.create({ name: 'late', grants: [] }, 'console:ops');
    clock += ENROLLMENT_TTL_MS + 1;
    await expect(codes.redeem(code)).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(codes.redeem('ge_' + 'A'.repeat(32))).rejects.toMatchObject({ code: 'unauthenticated' });
    await expect(codes.redeem('not a code')).rejects.toMatchObject({ code: 'unauthenticated' });
    // A row written without the master key (its spec widened to admin-like grants) is refused.
    const forged = await codes.create({ name: 'forged', grants: [] }, 'console:ops');
    await store.db
      .updateTable('enrollment_codes')
      .set({ spec: JSON.stringify({ name: 'forged', grants: ['tool:*', 'target:*'] }) })
      .where('code_hash', '=', forged.codeHash)
      .execute();
    await expect(codes.redeem(forged.code)).rejects.toMatchObject({ code: 'unauthenticated' });
    expect((await tokens.list()).some((t) => t.name === 'forged' || t.name === 'late')).toBe(false);
  });

  it('two redeemers racing with one code: exactly one gets a token', async () => {
    const { code } = await codes.create({ name: 'raced', grants: [] }, 'console:ops');
    const results = await Promise.allSettled([codes.redeem(code), codes.redeem(code), codes.redeem(code)]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });
});
