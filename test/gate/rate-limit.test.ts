import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditLog, searchAudit } from '../../src/audit/index.js';
import { Gate, RateLimiter, TokenService } from '../../src/gate/index.js';
import { openStore } from '../../src/store/index.js';
import { tempHome } from '../helpers/home.js';

describe('per-token rate limit', () => {
  const home = tempHome();
  afterAll(() => home.cleanup());

  it('allows a burst, then refuses with limit_exceeded and when to retry, then refills', () => {
    const rl = new RateLimiter({ perSecond: 10, burst: 3 });
    const t0 = 1_000_000;
    for (let i = 0; i < 3; i++) rl.take('a', t0);
    let err: unknown;
    try {
      rl.take('a', t0);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'limit_exceeded', details: { retryAfterMs: 100 } });
    rl.take('b', t0); // another token has its own bucket
    rl.take('a', t0 + 100); // one call's worth refilled after 100 ms
    expect(() => rl.take('a', t0 + 100)).toThrow(/rate limit/);
  });

  it('the gate refuses over-limit calls before anything runs, and audits them', async () => {
    const store = await openStore({ sqliteFile: join(home.dir, 'rl.db') });
    const tokens = new TokenService(store, { integrityKey: randomBytes(32) });
    const { token } = await tokens.create({ name: 'fast', grants: ['tool:*'] });
    const p = await tokens.authenticate(token);
    const audit = new AuditLog(store, randomBytes(32));
    const gate = new Gate({ audit, rateLimit: new RateLimiter({ perSecond: 0.001, burst: 2 }) });
    let runs = 0;
    const call = () => gate.run(p, { tool: 'discover', summary: 'x' }, async () => ++runs);
    await call();
    await call();
    await expect(call()).rejects.toMatchObject({ code: 'limit_exceeded' });
    expect(runs).toBe(2);
    expect((await searchAudit(store, { tool: 'discover' })).some((r) => r.outcome === 'limit_exceeded')).toBe(true);
    await store.close();
  });
});
