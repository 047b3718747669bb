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
    await store.close();
    await fx.cleanup();
  });

  async function reset(n: number): Promise<void> {
    await store.db.deleteFrom('audit_log').execute();
    await Promise.all(
      Array.from({ length: n }, (_, i) => audit.append({ phase: 'event', tool: 'test', action: `record ${i}` })),
    );
  }

  it('groups concurrent appends, numbers them without gaps, and the chain verifies', async () => {
    await reset(300);
    const rows = await store.db.selectFrom('audit_log').select('seq').orderBy('seq').execute();
    expect(rows.map((r: { seq: number | string }) => Number(r.seq))).toEqual(
      Array.from({ length: 300 }, (_, i) => i + 1),
    );
    expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, records: 300, breakCount: 0 });
  });

  it('names an edited record', async () => {
    await reset(10);
    await store.db.updateTable('audit_log').set({ action: 'something else' }).where('seq', '=', 6).execute();
    const r = await verifyAuditChain(store, key);
    expect(r.ok).toBe(false);
    expect(r.firstBad).toMatchObject({ seq: 6, problem: 'changed' });
  });

  it('names the record after a deleted one', async () => {
    await reset(10);
    await store.db.deleteFrom('audit_log').where('seq', '=', 4).execute();
    const r = await verifyAuditChain(store, key);
    expect(r.ok).toBe(false);
    expect(r.firstBad?.seq).toBe(5);
  });

  it('names reordered records', async () => {
    await reset(10);
    // Swap the contents of records 3 and 7 (keeping their seq), as an attacker reordering history would.
    const [a, b] = await Promise.all(
      [3, 7].map((s) => store.db.selectFrom('audit_log').selectAll().where('seq', '=', s).executeTakeFirstOrThrow()),
    );
    const strip = (r: Record<string, unknown>) => {
      const { seq: _s, ...rest } = r;
      return rest;
    };
    await store.db
      .updateTable('audit_log')
      .set({ ...strip(b), id: 'tmp' })
      .where('seq', '=', 3)
      .execute();
    await store.db.updateTable('audit_log').set(strip(a)).where('seq', '=', 7).execute();
    await store.db.updateTable('audit_log').set({ id: b.id }).where('seq', '=', 3).execute();
    const r = await verifyAuditChain(store, key);
    expect(r.ok).toBe(false);
    expect(r.firstBad?.seq).toBe(3);
  });

  it('records cut from the end verify on their own, but not against an anchor kept elsewhere', async () => {
    await reset(10);
    const head = await auditHead(store);
    expect(head).toMatchObject({ seq: 10 });
    expect(await verifyAuditChain(store, key, { anchor: head! })).toMatchObject({
      ok: true,
      records: 10,
      breakCount: 0,
    });
    await store.db.deleteFrom('audit_log').where('seq', '>', 7).execute();
    expect((await verifyAuditChain(store, key)).ok).toBe(true); // the chain alone cannot tell
    expect(await verifyAuditChain(store, key, { anchor: head! })).toMatchObject({
      ok: false,
      anchorProblem: { seq: 10, problem: 'missing' },
    });
    const seven = (await auditHead(store))!;
    expect(await verifyAuditChain(store, key, { anchor: { seq: 7, hash: 'f'.repeat(64) } })).toMatchObject({
      ok: false,
      anchorProblem: { seq: 7, problem: 'different' },
    });
    expect((await verifyAuditChain(store, key, { anchor: seven })).ok).toBe(true);
    expect(parseAuditAnchor(`7:${seven.hash}`)).toEqual({ seq: 7, hash: seven.hash });
    expect(parseAuditAnchor('7:not-a-hash')).toBeNull();
  });

  it('a chain recomputed without the key does not verify', async () => {
    await reset(5);
    const other = new AuditLog(store, randomBytes(32));
    await store.db.deleteFrom('audit_log').execute();
    await other.append({ phase: 'event', tool: 'forged' });
    expect((await verifyAuditChain(store, key)).ok).toBe(false);
  });

  it('search filters by tool and decision', async () => {
    await store.db.deleteFrom('audit_log').execute();
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
