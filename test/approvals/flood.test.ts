/**
 * Issue 24.1: one token could bury another token's real approval: 600 pending records in 2 s, and
 * every list showed "the newest 500" with no sign it was cut. Now a token has at most
 * DEFAULT_MAX_PENDING_PER_TOKEN approvals waiting, lists page with a cursor, say when they are cut and count per token, old records are
 * purged, and a record's size is bounded. On SQLite and PostgreSQL.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_APPROVAL_RETENTION_MS,
  DEFAULT_MAX_PENDING_PER_TOKEN,
  MAX_APPROVAL_RECORD_BYTES,
} from '../../src/approvals/index.js';
import { storeFixtures } from '../helpers/stores.js';
import { rejection, sampleRequest, twoHandles, type TwoHandles } from './helpers.js';

const fixtures = await storeFixtures();
const digest = (n: number) => createHash('sha256').update(`action ${n}`).digest('hex');

describe.each(fixtures.map((f) => [f.name, f] as const))('approvals under a flood on %s', (_name, fx) => {
  let h: TwoHandles;
  beforeAll(async () => {
    h = await twoHandles(fx);
  });
  afterAll(async () => h?.close());
  beforeEach(async () => {
    await h.storeA.db.deleteFrom('approvals').execute();
    h.events.length = 0;
  });

  it('one token past its cap is refused (limit_exceeded, audited); another token can still ask', async () => {
    for (let i = 0; i < DEFAULT_MAX_PENDING_PER_TOKEN; i++)
      await (i % 2 ? h.a : h.b).request(sampleRequest({ tokenId: 'tok_noisy', tokenName: 'noisy', digest: digest(i) }));
    const e = await rejection(
      h.a.request(sampleRequest({ tokenId: 'tok_noisy', tokenName: 'noisy', digest: digest(999) })),
    );
    expect(e.code).toBe('limit_exceeded');
    expect(h.events.some((x) => x.tokenId === 'tok_noisy' && x.outcome === 'refused:too_many_pending')).toBe(true);
    const real = await h.b.request(sampleRequest({ tokenId: 'tok_quiet', tokenName: 'quiet', digest: digest(1) }));
    expect(real.id).toMatch(/^ap_/);
  });

  it("a flood from one token leaves another token's approval visible and counted in every page", async () => {
    for (let i = 0; i < DEFAULT_MAX_PENDING_PER_TOKEN; i++)
      await h.a.request(sampleRequest({ tokenId: 'tok_noisy', tokenName: 'noisy', digest: digest(i) }));
    h.clock.now += 1000;
    const real = await h.a.request(sampleRequest({ tokenId: 'tok_quiet', tokenName: 'quiet', digest: digest(500) }));
    h.clock.now -= 1000;
    const first = await h.b.page({ status: 'pending', limit: 5 });
    expect(first.total).toBe(DEFAULT_MAX_PENDING_PER_TOKEN + 1);
    expect(first.truncated).toBe(true);
    expect(first.byToken).toEqual([
      { tokenId: 'tok_noisy', tokenName: 'noisy', count: DEFAULT_MAX_PENDING_PER_TOKEN },
      { tokenId: 'tok_quiet', tokenName: 'quiet', count: 1 },
    ]);
    // Paging reaches every record once.
    const seen: string[] = [];
    for (let p = first; ; p = await h.b.page({ status: 'pending', limit: 5, cursor: p.nextCursor })) {
      seen.push(...p.approvals.map((a) => a.id));
      if (!p.nextCursor) break;
    }
    expect(new Set(seen).size).toBe(DEFAULT_MAX_PENDING_PER_TOKEN + 1);
    expect(seen).toContain(real.id);
    // And a page per token finds it at once, and it can be decided.
    const mine = await h.a.page({ status: 'pending', tokenId: 'tok_quiet' });
    expect(mine.approvals.map((a) => a.id)).toEqual([real.id]);
    expect((await h.a.decide(real.id, 'approved', { by: 'alice', channel: 'cli' })).status).toBe('approved');
  });

  it('expired records leave the pending list, and are purged after the retention', async () => {
    const { id } = await h.a.request(sampleRequest({ digest: digest(3) }));
    h.clock.now += h.a.ttlMs + 1;
    expect((await h.a.page({ status: 'pending' })).total).toBe(0);
    expect((await h.a.page({ status: 'expired' })).approvals.map((a) => a.id)).toEqual([id]);
    expect(await h.a.purge()).toBe(0);
    h.clock.now += DEFAULT_APPROVAL_RETENTION_MS;
    expect(await h.a.purge()).toBe(1);
    expect(await h.a.get(id)).toBeNull();
  });

  it('a record is bounded in size (input_too_large), never cut', async () => {
    const bound: Record<string, string> = {};
    for (let i = 0; i < 8; i++) bound[`k${i}`] = 'x'.repeat(60_000);
    const e = await rejection(
      h.a.request(sampleRequest({ digest: digest(4), operation: { kind: 'command', command: 'ls', bound } })),
    );
    expect(e.code).toBe('input_too_large');
    expect(e.message).toContain(String(MAX_APPROVAL_RECORD_BYTES));
  });

  it('a cursor that was not handed out is invalid_input', async () => {
    expect((await rejection(h.a.page({ cursor: 'not-a-cursor' }))).code).toBe('invalid_input');
  });
});
