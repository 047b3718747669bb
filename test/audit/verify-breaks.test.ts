import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_REPORTED_BREAKS, verifyAuditChain } from '../../src/audit/index.js';
import type { Store } from '../../src/store/index.js';
import { storeFixtures } from '../helpers/stores.js';
import { auditHarness } from './harness.js';

/**
 * Issue 13 item 9, second half: `verify` reported only the first break, so one broken record (an
 * agent's lone surrogate, under the old hashing) hid every later tampering. Now every break is
 * reported and verification carries on from the broken record's own stored hash.
 */
const fixtures = await storeFixtures();

describe.each(fixtures.map((f) => [f.name, f] as const))('audit verify reports every break on %s', (_name, fx) => {
  const h = auditHarness(fx);
  const { key } = h;
  let store: Store;
  beforeAll(() => void ({ store } = h));

  async function reset(n: number): Promise<void> {
    await h.clear();
    for (let i = 0; i < n; i++) await h.audit.append({ phase: 'event', tool: 'test', action: `record ${i + 1}` });
  }
  // Records are addressed by their place in the log's one chain (a fresh log after each reset).
  const edit = (at: number, action: string) =>
    store.db.updateTable('audit_log').set({ action }).where('chain_seq', '=', at).execute();

  it('tampering after an earlier break is still found and reported', async () => {
    await reset(20);
    await edit(3, 'the first edit'); // an earlier break (an attacker's, or a record an old version hashed wrongly)
    await edit(15, 'rm -rf / was never here'); // the tampering an old verify hid behind it
    const r = await verifyAuditChain(store, key);
    expect(r.ok).toBe(false);
    expect(r.records).toBe(20);
    expect(r.breakCount).toBe(2);
    expect(r.breaks.map((b) => [b.chainSeq, b.problem])).toEqual([
      [3, 'changed'],
      [15, 'changed'],
    ]);
    expect(r.firstBad).toEqual(r.breaks[0]);
  });

  it('a removed record, a reordered pair and an edited hash after it are each reported', async () => {
    await reset(20);
    await store.db.deleteFrom('audit_log').where('chain_seq', 'in', [4, 5]).execute();
    // Swap the contents of 9 and 12 (keeping their places).
    const [a, b] = await Promise.all(
      [9, 12].map((s) =>
        store.db.selectFrom('audit_log').selectAll().where('chain_seq', '=', s).executeTakeFirstOrThrow(),
      ),
    );
    const strip = ({ seq: _s, id: _i, chain_seq: _c, ...rest }: Record<string, unknown>) => rest;
    await store.db.updateTable('audit_log').set(strip(b)).where('chain_seq', '=', 9).execute();
    await store.db.updateTable('audit_log').set(strip(a)).where('chain_seq', '=', 12).execute();
    // A forged hash column on 17: it no longer matches its content, and 18 no longer links to it.
    await store.db
      .updateTable('audit_log')
      .set({ hash: 'f'.repeat(64) })
      .where('chain_seq', '=', 17)
      .execute();
    const r = await verifyAuditChain(store, key);
    expect(r.ok).toBe(false);
    const got = r.breaks.map((x) => [x.chainSeq, x.problem, x.missing ?? null]);
    expect(got).toContainEqual([6, 'removed_before', 2]);
    expect(got).toContainEqual([9, 'changed', null]);
    expect(got).toContainEqual([12, 'changed', null]);
    expect(got).toContainEqual([17, 'changed', null]);
    expect(got).toContainEqual([18, 'reordered', null]);
    // Nothing outside the tampered places is reported.
    expect(new Set(r.breaks.map((x) => x.chainSeq))).toEqual(new Set([6, 9, 10, 12, 13, 17, 18]));
    expect(r.breakCount).toBe(r.breaks.length);
  });

  it('lists at most the first 100 breaks and counts them all', async () => {
    await h.clear();
    await Promise.all(
      Array.from({ length: 130 }, (_, i) => h.audit.append({ phase: 'event', tool: 'test', action: `r${i}` })),
    );
    await store.db.updateTable('audit_log').set({ action: 'edited' }).execute();
    const r = await verifyAuditChain(store, key, { pageSize: 40 });
    expect(r.breakCount).toBe(130);
    expect(r.breaks).toHaveLength(MAX_REPORTED_BREAKS);
    expect(r.breaks.map((b) => b.chainSeq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
  });

  it('an anchor problem is reported beside the breaks', async () => {
    await reset(10);
    await edit(2, 'x');
    const chain = (await store.db.selectFrom('audit_log').select('chain').executeTakeFirstOrThrow()) as {
      chain: string;
    };
    const r = await verifyAuditChain(store, key, {
      anchor: [{ chain: chain.chain, chainSeq: 12, hash: 'a'.repeat(64) }],
    });
    expect(r).toMatchObject({
      ok: false,
      breakCount: 1,
      anchorProblem: { chain: chain.chain, chainSeq: 12, problem: 'missing' },
    });
  });
});
