import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, auditHead, parseAuditAnchor, searchAudit, verifyAuditChain } from '../../src/audit/index.js';
import { Gate, TokenService } from '../../src/gate/index.js';
import type { Store } from '../../src/store/index.js';
import { storeFixtures } from '../helpers/stores.js';

const fixtures = await storeFixtures();

describe.each(fixtures.map((f) => [f.name, f] as const))('audit log on %s', (_name, fx) => {
  let store: Store;
  const key = randomBytes(32);
  let audit: AuditLog;

  beforeAll(async () => {
    store = await fx.open();
    audit = new AuditLog(store, key);
  });
  afterAll(async () => {
    await audit.close();
    await store.close();
    await fx.cleanup();
  });

  /**
   * Empties the log and appends `n` records with a new log (the old one keeps its chain's head, so
   * it would carry on after the deleted records). Returns the chain they went to.
   */
  async function reset(n: number): Promise<string> {
    await audit.close();
    await store.db.deleteFrom('audit_log').execute();
    audit = new AuditLog(store, key);
    await Promise.all(
      Array.from({ length: n }, (_, i) => audit.append({ phase: 'event', tool: 'test', action: `record ${i}` })),
    );
    const r = (await store.db.selectFrom('audit_log').select('chain').executeTakeFirst()) as
      { chain: string } | undefined;
    return r?.chain ?? '';
  }
  /** Records are addressed by their place in the one chain a reset writes. */
  const at = (n: number) => ['chain_seq', '=', n] as const;

  it('groups concurrent appends, numbers them without gaps, and the chain verifies', async () => {
    const chain = await reset(300);
    const rows = await store.db.selectFrom('audit_log').select(['chain', 'chain_seq']).orderBy('seq').execute();
    expect(rows.map((r: { chain_seq: number | string }) => Number(r.chain_seq))).toEqual(
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
    expect(new Set(rows.map((r: { chain: string }) => r.chain))).toEqual(new Set([chain]));
    expect(await verifyAuditChain(store, key)).toMatchObject({
      ok: true,
      records: 300,
      breakCount: 0,
      chains: expect.arrayContaining([{ chain, records: 300, head: { chainSeq: 300, hash: expect.any(String) } }]),
    });
  });

  it('names an edited record', async () => {
    const chain = await reset(10);
    await store.db
      .updateTable('audit_log')
      .set({ action: 'something else' })
      .where(...at(6))
      .execute();
    const r = await verifyAuditChain(store, key);
    expect(r.ok).toBe(false);
    expect(r.firstBad).toMatchObject({ chain, chainSeq: 6, problem: 'changed' });
  });

  it('names the record after a deleted one', async () => {
    await reset(10);
    await store.db
      .deleteFrom('audit_log')
      .where(...at(4))
      .execute();
    const r = await verifyAuditChain(store, key);
    expect(r.ok).toBe(false);
    expect(r.firstBad).toMatchObject({ chainSeq: 5, problem: 'removed_before', missing: 1 });
  });

  it('names reordered records', async () => {
    await reset(10);
    // Swap the contents of records 3 and 7 (keeping their places), as an attacker reordering history would.
    const [a, b] = await Promise.all(
      [3, 7].map((s) =>
        store.db
          .selectFrom('audit_log')
          .selectAll()
          .where(...at(s))
          .executeTakeFirstOrThrow(),
      ),
    );
    const strip = (r: Record<string, unknown>) => {
      const { seq: _s, chain_seq: _c, ...rest } = r;
      return rest;
    };
    await store.db
      .updateTable('audit_log')
      .set({ ...strip(b), id: 'tmp' })
      .where(...at(3))
      .execute();
    await store.db
      .updateTable('audit_log')
      .set(strip(a))
      .where(...at(7))
      .execute();
    await store.db
      .updateTable('audit_log')
      .set({ id: b.id })
      .where(...at(3))
      .execute();
    const r = await verifyAuditChain(store, key);
    expect(r.ok).toBe(false);
    expect(r.firstBad?.chainSeq).toBe(3);
  });

  it('a record moved to another place in its chain, or to another chain, no longer verifies', async () => {
    const chain = await reset(5);
    // Renumber record 5 as 6 (a gap a shifted tail would leave), and give record 4 another chain.
    await store.db
      .updateTable('audit_log')
      .set({ chain_seq: 6 })
      .where(...at(5))
      .execute();
    await store.db
      .updateTable('audit_log')
      .set({ chain: 'w999' })
      .where(...at(4))
      .execute();
    const r = await verifyAuditChain(store, key);
    expect(r.ok).toBe(false);
    const got = r.breaks.map((b) => [b.chain, b.chainSeq, b.problem]);
    expect(got).toContainEqual([chain, 6, 'removed_before']);
    expect(got).toContainEqual([chain, 6, 'changed']);
    expect(got).toContainEqual(['w999', 4, 'changed']);
    expect(r.chains.map((c) => c.chain)).toContain('w999');
  });

  it('a record taken out of every chain is reported, not skipped', async () => {
    await reset(3);
    await store.db
      .updateTable('audit_log')
      .set({ chain_seq: null })
      .where(...at(3))
      .execute();
    const r = await verifyAuditChain(store, key);
    expect(r).toMatchObject({ ok: false, records: 3, breakCount: 1, firstBad: { problem: 'unchained' } });
  });

  it('records cut from the end verify on their own, but not against an anchor kept elsewhere', async () => {
    const chain = await reset(10);
    const head = (await auditHead(store))!;
    expect(head.chains).toEqual([{ chain, chainSeq: 10, hash: expect.any(String), ts: expect.any(String) }]);
    const anchor = parseAuditAnchor(head.anchor)!;
    expect(anchor).toEqual([{ chain, chainSeq: 10, hash: head.chains[0]!.hash }]);
    expect(await verifyAuditChain(store, key, { anchor })).toMatchObject({ ok: true, records: 10, breakCount: 0 });
    await store.db.deleteFrom('audit_log').where('chain_seq', '>', 7).execute();
    expect((await verifyAuditChain(store, key)).ok).toBe(true); // the chain alone cannot tell
    expect(await verifyAuditChain(store, key, { anchor })).toMatchObject({
      ok: false,
      anchorProblem: { chain, chainSeq: 10, problem: 'missing' },
    });
    const seven = parseAuditAnchor((await auditHead(store))!.anchor)!;
    expect(
      await verifyAuditChain(store, key, { anchor: [{ chain, chainSeq: 7, hash: 'f'.repeat(64) }] }),
    ).toMatchObject({ ok: false, anchorProblem: { chain, chainSeq: 7, problem: 'different' } });
    expect((await verifyAuditChain(store, key, { anchor: seven })).ok).toBe(true);
    // A whole chain deleted: the anchor still names it.
    await store.db.deleteFrom('audit_log').execute();
    await store.db.deleteFrom('audit_chains').execute();
    expect(await verifyAuditChain(store, key, { anchor: seven })).toMatchObject({
      ok: false,
      anchorProblem: { chain, chainSeq: 7, problem: 'missing' },
    });
  });

  it('anchors: every chain in one line; the form before chains names the legacy chain', () => {
    const h = 'a'.repeat(64);
    const g = 'b'.repeat(64);
    expect(parseAuditAnchor(`7:${h}`)).toEqual([{ chain: 'legacy', chainSeq: 7, hash: h }]);
    expect(parseAuditAnchor(`legacy:7:${h},w1:12:${g}`)).toEqual([
      { chain: 'legacy', chainSeq: 7, hash: h },
      { chain: 'w1', chainSeq: 12, hash: g },
    ]);
    for (const bad of ['7:not-a-hash', `w1:1:${h},w1:2:${g}`, `W1:1:${h}`, '', `w1:1:${h},`])
      expect(parseAuditAnchor(bad)).toBeNull();
  });

  it('a chain recomputed without the key does not verify', async () => {
    await reset(5);
    const other = new AuditLog(store, randomBytes(32));
    await store.db.deleteFrom('audit_log').execute();
    await other.append({ phase: 'event', tool: 'forged' });
    expect((await verifyAuditChain(store, key)).ok).toBe(false);
    await other.close();
  });

  it('search filters by tool and decision', async () => {
    await reset(0);
    await audit.append({ phase: 'attempt', tool: 'exec', decision: 'deny' });
    await audit.append({ phase: 'attempt', tool: 'exec', decision: 'allow' });
    await audit.append({ phase: 'attempt', tool: 'discover', decision: 'allow' });
    expect((await searchAudit(store, { tool: 'exec', decision: 'deny' })).map((r) => r.decision)).toEqual(['deny']);
    expect(await searchAudit(store, { tool: 'exec' })).toHaveLength(2);
  });

  it('no audit record, no action: when the log cannot be written the action does not run', async () => {
    const tokens = new TokenService(store, { integrityKey: randomBytes(32) });
    const { token } = await tokens.create({ name: `audit-fail-${randomBytes(3).toString('hex')}`, grants: ['tool:*'] });
    const principal = await tokens.authenticate(token);
    const broken = await fx.open();
    await broken.close(); // every write on a closed store fails
    const gate = new Gate({ audit: new AuditLog(broken, key) });
    let ran = false;
    await expect(
      gate.run(principal, { tool: 'discover', summary: 'x' }, async () => {
        ran = true;
      }),
    ).rejects.toMatchObject({ code: 'audit_unavailable' });
    expect(ran).toBe(false);
  });
});
