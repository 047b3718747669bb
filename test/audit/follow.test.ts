import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditLog,
  auditPosition,
  auditSince,
  formatAuditCursor,
  parseAuditCursor,
  searchAudit,
  type AuditCursor,
} from '../../src/audit/index.js';
import type { Store } from '../../src/store/index.js';
import { storeFixtures } from '../helpers/stores.js';

/**
 * Following the log live (the console's audit tail): a cursor per writer chain, so no record is
 * skipped even when writers in different processes commit out of seq order, and filters and text
 * search that behave alike on both stores.
 */
const fixtures = await storeFixtures();

describe('audit cursors', () => {
  it('format and parse are inverses; anything else is refused', () => {
    const c: AuditCursor = new Map([
      ['w1', 120],
      ['w2', 7],
    ]);
    expect(formatAuditCursor(c)).toBe('w1:120,w2:7');
    expect(parseAuditCursor('w1:120,w2:7')).toEqual(c);
    expect(parseAuditCursor('')).toEqual(new Map());
    for (const bad of ['w1', 'w1:-1', 'w1:1,w1:2', 'W1:1', 'w1:1;drop', 'w1:1,', '1:2', `w1:${'9'.repeat(16)}`])
      expect(parseAuditCursor(bad), bad).toBeNull();
  });
});

describe.each(fixtures.map((f) => [f.name, f] as const))('following the audit log on %s', (name, fx) => {
  const key = randomBytes(32);
  const stores: Store[] = [];
  let store: Store;
  const open = async (): Promise<Store> => {
    const s = await fx.open();
    stores.push(s);
    return s;
  };
  beforeAll(async () => {
    store = await open();
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    await fx.cleanup();
  });
  const clear = async () => {
    await store.db.deleteFrom('audit_log').execute();
    await store.db.deleteFrom('audit_chains').execute();
  };

  it('returns what was added after the cursor, across writers, pages when full, and never repeats', async () => {
    await clear();
    const a = new AuditLog(store, key);
    const b = new AuditLog(await open(), key);
    await a.append({ phase: 'event', tool: 'before' });
    let cursor = await auditPosition(store);
    expect((await auditSince(store, cursor, {}, 10)).records).toEqual([]);
    for (let i = 0; i < 5; i++) {
      await a.append({ phase: 'event', tool: 't', outcome: `a${i}` });
      await b.append({ phase: 'event', tool: 't', outcome: `b${i}` });
    }
    const seen: string[] = [];
    for (let round = 0; round < 10; round++) {
      const next = await auditSince(store, cursor, {}, 3);
      seen.push(...next.records.map((r) => r.outcome!));
      cursor = next.cursor;
      if (!next.more) break;
    }
    expect([...seen].sort()).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2', 'b3', 'b4']);
    expect((await auditSince(store, cursor, {}, 3)).records).toEqual([]);
    // The cursor survives the text round trip a browser makes with it.
    const again = parseAuditCursor(formatAuditCursor(cursor))!;
    await b.append({ phase: 'event', tool: 't', outcome: 'late' });
    expect((await auditSince(store, again, {}, 3)).records.map((r) => r.outcome)).toEqual(['late']);
    await a.close();
    await b.close();
  });

  it('filters apply to what is followed, and the cursor moves past records that did not match', async () => {
    await clear();
    const log = new AuditLog(store, key);
    await log.append({ phase: 'event', tool: 'x' });
    const start = await auditPosition(store);
    for (let i = 0; i < 20; i++) await log.append({ phase: 'event', tool: i % 5 === 0 ? 'wanted' : 'noise' });
    const r = await auditSince(store, start, { tool: 'wanted' }, 100);
    expect(r.records.map((x) => x.tool)).toEqual(['wanted', 'wanted', 'wanted', 'wanted']);
    expect(r.more).toBe(false);
    expect(formatAuditCursor(r.cursor)).toBe(formatAuditCursor(await auditPosition(store)));
    await log.close();
  });

  it('text search is case-insensitive, literal (% and _ are text) and looks in action, target, outcome and detail', async () => {
    await clear();
    const log = new AuditLog(store, key);
    await log.append({ phase: 'event', tool: 'a', action: 'DROP TABLE users' });
    await log.append({ phase: 'event', tool: 'b', target: 'Prod-DB' });
    await log.append({ phase: 'event', tool: 'c', detail: { note: 'rotated the Deploy key' } });
    await log.append({ phase: 'event', tool: 'd', action: 'grew 100% in a day' });
    await log.append({ phase: 'event', tool: 'e', action: 'grew 1000 in a day' });
    await log.append({ phase: 'event', tool: 'f', action: 'file_name' });
    await log.append({ phase: 'event', tool: 'g', action: 'fileXname' });
    await log.append({ phase: 'event', tool: 'h', detail: { note: 'she said "hi" \\ bye' } });
    const tools = async (text: string) => (await searchAudit(store, { text })).map((r) => r.tool);
    expect(await tools('drop table')).toEqual(['a']);
    expect(await tools('prod-db')).toEqual(['b']);
    expect(await tools('deploy KEY')).toEqual(['c']);
    expect(await tools('100%')).toEqual(['d']);
    expect(await tools('file_name')).toEqual(['f']);
    // Detail is stored as JSON: quotes and backslashes in it are found as typed.
    expect(await tools('said "hi" \\ bye')).toEqual(['h']);
    await expect(searchAudit(store, { text: 'x'.repeat(201) })).rejects.toMatchObject({ code: 'invalid_input' });
    await log.close();
  });

  // Only PostgreSQL lets writers commit out of seq order (SQLite has one writer at a time).
  if (name === 'postgres')
    it('a record committed late with a smaller seq (another process on another chain) is still delivered', async () => {
      await clear();
      const log = new AuditLog(store, key);
      await log.append({ phase: 'event', tool: 'first' });
      const other = await open();
      await other.db
        .insertInto('audit_chains')
        .values({ chain: 'w9', holder: 'test', expires_at: '9', created_at: '0' })
        .execute();
      let cursor = await auditPosition(store);
      // Another writer inserts (taking its seq now) and holds its transaction open...
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let inserted!: () => void;
      const didInsert = new Promise<void>((r) => (inserted = r));
      const late = other.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('audit_log')
          .values({
            id: `au_late_${Date.now()}`,
            ts: new Date().toISOString(),
            phase: 'event',
            tool: 'late',
            chain: 'w9',
            chain_seq: 1,
            prev_hash: '0'.repeat(64),
            hash: '1'.repeat(64),
          })
          .execute();
        inserted();
        await held;
      });
      await didInsert;
      // ...while this writer's record, with a larger seq, commits and is read.
      await log.append({ phase: 'event', tool: 'early' });
      let r = await auditSince(store, cursor, {}, 10);
      expect(r.records.map((x) => x.tool)).toEqual(['early']);
      cursor = r.cursor;
      release();
      await late;
      r = await auditSince(store, cursor, {}, 10);
      expect(r.records.map((x) => x.tool)).toEqual(['late']);
      // Reading "everything after the largest seq seen" would have missed it.
      const lateSeq = r.records[0]!.seq;
      const early = (await searchAudit(store, { tool: 'early' }))[0]!.seq;
      expect(lateSeq).toBeLessThan(early);
      await log.close();
    });
});
