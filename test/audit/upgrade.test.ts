import { createHmac, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditLog, auditHead, parseAuditAnchor, verifyAuditChain } from '../../src/audit/index.js';
import { CHAINED_FIELDS, GENESIS } from '../../src/audit/chain.js';
import { loadMigrations, openStore, type Store } from '../../src/store/index.js';
import { tempHome } from '../helpers/home.js';
import { storeKinds, storeOf } from '../helpers/stores.js';

/**
 * Migration 0009 on a log written before per-writer chains: the old records become the `legacy`
 * chain and verify with the hashes they were written with, an anchor printed then (`SEQ:HASH`)
 * still verifies, new records go to a writer's chain after them, and tampering with the old
 * records is still found.
 */
const kinds = await storeKinds();

describe.each(kinds)('a log from before chains, upgraded (%s)', (kind) => {
  const home = tempHome();
  const key = randomBytes(32);
  const drops: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const d of drops) await d();
    home.cleanup();
  });

  /** A store at migration 0008 holding `n` records chained the way that version chained them. */
  async function oldStore(n: number): Promise<{ open(): Promise<Store>; anchor: string }> {
    const dir = join(home.dir, randomBytes(3).toString('hex'));
    mkdirSync(dir);
    const s = await storeOf(kind, dir, 'gh_upgrade');
    drops.push(s.drop);
    const bare = await openBare(s);
    const all = await loadMigrations();
    await bare.db.schema
      .createTable('gatehouse_migrations')
      .addColumn('name', 'varchar(200)', (c) => c.primaryKey())
      .addColumn('applied_at', 'varchar(40)', (c) => c.notNull())
      .execute();
    for (const m of all.filter((x) => x.name < '0009')) {
      await m.up(bare.db, bare.dialect, { sql });
      await bare.db.insertInto('gatehouse_migrations').values({ name: m.name, applied_at: 'then' }).execute();
    }
    let prev = GENESIS;
    for (let seq = 1; seq <= n; seq++) {
      const row: Record<string, string | number | null> = {
        seq,
        id: `au_old_${seq}`,
        ts: new Date(Date.UTC(2026, 0, 1, 0, 0, seq)).toISOString(),
        phase: 'attempt',
        ref: null,
        token_id: 'tok_old',
        token_name: 'old',
        tool: 'exec',
        route: null,
        target: null,
        action: `old command ${seq}`,
        decision: 'allow',
        rule: null,
        approver: null,
        outcome: null,
        status: null,
        duration_ms: null,
        client: null,
        detail: null,
      };
      const hash = createHmac('sha256', key)
        .update(prev)
        .update('\n')
        .update(JSON.stringify(CHAINED_FIELDS.map((f) => (row[f] === null ? null : String(row[f])))))
        .digest('hex');
      await bare.db
        .insertInto('audit_log')
        .values({ ...row, prev_hash: prev, hash })
        .execute();
      prev = hash;
    }
    await bare.close();
    return { open: s.open, anchor: `${n}:${prev}` };
  }

  function openBare(s: Awaited<ReturnType<typeof storeOf>>): Promise<Store> {
    return s.spec.sqliteFile
      ? openStore({ sqliteFile: s.spec.sqliteFile, migrate: false })
      : openStore({ databaseUrl: s.spec.databaseUrl!, schema: s.spec.schema, migrate: false });
  }

  it('old records verify as the legacy chain, old anchors hold, new records chain after them', async () => {
    const old = await oldStore(12);
    const store = await old.open(); // applies 0009
    try {
      expect(await verifyAuditChain(store, key, { anchor: parseAuditAnchor(old.anchor)! })).toMatchObject({
        ok: true,
        records: 12,
        chains: [{ chain: 'legacy', records: 12, head: { chainSeq: 12 } }],
      });
      const log = new AuditLog(store, key);
      const { seq } = await log.append({ phase: 'attempt', tool: 'exec', action: 'new command' });
      await log.close();
      expect(seq).toBeGreaterThan(12); // the row numbers carry on after the old ones
      const head = (await auditHead(store))!;
      expect(head.chains.map((c) => [c.chain, c.chainSeq])).toEqual([
        ['legacy', 12],
        ['w1', 1],
      ]);
      const both = parseAuditAnchor(head.anchor)!;
      expect(await verifyAuditChain(store, key, { anchor: both })).toMatchObject({ ok: true, records: 13 });
      // Tampering with an old record is still found, and named in its chain.
      await store.db.updateTable('audit_log').set({ action: 'rewritten' }).where('id', '=', 'au_old_5').execute();
      expect((await verifyAuditChain(store, key)).breaks).toEqual([
        expect.objectContaining({ chain: 'legacy', chainSeq: 5, problem: 'changed' }),
      ]);
      // Cutting the old chain's end is found against the old anchor.
      await store.db.deleteFrom('audit_log').where('id', '=', 'au_old_12').execute();
      expect((await verifyAuditChain(store, key, { anchor: both })).anchorProblem).toEqual({
        chain: 'legacy',
        chainSeq: 12,
        problem: 'missing',
      });
    } finally {
      await store.close();
    }
  });
});
