import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditLog, searchAudit } from '../../src/audit/index.js';
import { GatehouseError } from '../../src/core/index.js';
import { Gate, RateLimiter, TokenService } from '../../src/gate/index.js';
import { loadGuard } from '../../src/guard/index.js';
import { openStore } from '../../src/store/index.js';
import { tempHome } from '../helpers/home.js';

// The /gateway route reads a request body in the gate's completeGuardInput step, so that only a granted caller
// within its rate makes the server buffer anything, and the guard judges what was read.
describe('gate step that completes the guard input (completeGuardInput)', () => {
  const home = tempHome();
  afterAll(() => home.cleanup());

  it('runs after authorization and the rate limit, before the guard; a failure is audited and refuses', async () => {
    const store = await openStore({ sqliteFile: join(home.dir, 'p.db') });
    const tokens = new TokenService(store, { integrityKey: randomBytes(32) });
    const granted = await tokens.authenticate(
      (await tokens.create({ name: 'granted', grants: ['tool:api_request', 'target:t'] })).token,
    );
    const other = await tokens.authenticate((await tokens.create({ name: 'other', grants: ['tool:discover'] })).token);
    const guard = await loadGuard();
    const gate = new Gate({
      audit: new AuditLog(store, randomBytes(32)),
      guard: async () => guard,
      rateLimit: new RateLimiter({ perSecond: 0.001, burst: 2 }),
    });
    const calls: string[] = [];
    const action = (): Parameters<Gate['run']>[1] & {
      guard: { kind: 'http'; method: string; path: string; body?: string };
    } => ({
      tool: 'api_request',
      target: 't',
      guard: { kind: 'http', method: 'POST', path: '/graphql' },
      summary: 'POST /graphql',
    });

    // Not granted: the body is never read.
    await expect(
      gate.run(other, action(), async () => calls.push('run'), {
        completeGuardInput: async () => void calls.push('prepare'),
      }),
    ).rejects.toMatchObject({ code: 'not_granted' });
    expect(calls).toEqual([]);

    // Granted: completeGuardInput fills the guard's view, and the guard judges it (a mutation needs approval).
    const a = action();
    await expect(
      gate.run(granted, a, async () => calls.push('run'), {
        completeGuardInput: async () => {
          calls.push('prepare');
          a.guard.body = JSON.stringify({ query: 'mutation { wipe }' });
        },
      }),
    ).rejects.toMatchObject({ code: 'approval_required' });
    expect(calls).toEqual(['prepare']);

    // A failed read refuses, and the attempt records why.
    await expect(
      gate.run(granted, action(), async () => calls.push('run'), {
        completeGuardInput: async () => {
          throw new GatehouseError('request_too_large', 'too big');
        },
      }),
    ).rejects.toMatchObject({ code: 'request_too_large' });
    expect(calls).toEqual(['prepare']);
    expect(
      (await searchAudit(store, { tool: 'api_request' })).some(
        (r) => r.outcome === 'request_too_large' && r.rule === 'complete-guard-input',
      ),
    ).toBe(true);

    // Over its rate: refused before anything is read.
    await expect(
      gate.run(granted, action(), async () => calls.push('run'), {
        completeGuardInput: async () => void calls.push('prepare-3'),
      }),
    ).rejects.toMatchObject({ code: 'limit_exceeded' });
    expect(calls).toEqual(['prepare']);
    await store.close();
  });

  it('bindForApproval runs for approve verdicts only, before the person is asked, and the digest covers what it adds', async () => {
    const store = await openStore({ sqliteFile: join(home.dir, 'b.db') });
    const tokens = new TokenService(store, { integrityKey: randomBytes(32) });
    const p = await tokens.authenticate(
      (await tokens.create({ name: 'b', grants: ['tool:api_request', 'target:t'] })).token,
    );
    const guard = await loadGuard();
    const digests: string[] = [];
    const gate = new Gate({
      audit: new AuditLog(store, randomBytes(32)),
      guard: async () => guard,
      approver: { obtain: async (r) => (digests.push(r.digest), { approver: 'alice', channel: 'test' }) },
    });
    const calls: string[] = [];
    const action = (method: string) => ({
      tool: 'api_request',
      target: 't',
      guard: { kind: 'http' as const, method, path: '/graphql', bodyUnread: true } as {
        kind: 'http';
        method: string;
        path: string;
        bodyUnread: boolean;
        bodySha256?: string;
      },
      summary: 'x',
    });
    const bind = (a: ReturnType<typeof action>, sha: string) => async () => {
      calls.push('bind');
      a.guard.bodySha256 = sha;
    };

    // GET is allowed: nothing is read for an approval.
    const get = action('GET');
    await gate.run(p, get, async () => calls.push('run'), { bindForApproval: bind(get, 'a') });
    expect(calls).toEqual(['run']);

    // An unread POST to a GraphQL path needs approval: bound first, and the digest differs by body.
    const one = action('POST');
    await gate.run(p, one, async () => calls.push('run'), { bindForApproval: bind(one, 'a') });
    const two = action('POST');
    await gate.run(p, two, async () => calls.push('run'), { bindForApproval: bind(two, 'b') });
    expect(calls).toEqual(['run', 'bind', 'run', 'bind', 'run']);
    expect(digests).toHaveLength(2);
    expect(digests[0]).not.toBe(digests[1]);

    // A failed read refuses before anyone is asked, and is audited.
    await expect(
      gate.run(p, action('POST'), async () => calls.push('run'), {
        bindForApproval: async () => {
          throw new GatehouseError('request_too_large', 'too big to bind');
        },
      }),
    ).rejects.toMatchObject({ code: 'request_too_large' });
    expect(digests).toHaveLength(2);
    expect(
      (await searchAudit(store, { tool: 'api_request' })).some(
        (r) => r.outcome === 'request_too_large' && r.decision === 'approve',
      ),
    ).toBe(true);
    await store.close();
  });
});
