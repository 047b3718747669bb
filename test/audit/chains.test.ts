import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog, searchAudit, verifyAuditChain } from '../../src/audit/index.js';
import type { Store } from '../../src/store/index.js';
import { storeFixtures } from '../helpers/stores.js';

/**
 * Issue 19's audit invariants about writers: each writer (a process) appends to a chain of its own,
 * writers on one PostgreSQL never wait on one global lock, chains are reused rather than one per
 * process start, and two writers that end up on one chain cannot fork it. Every writer here has a
 * store of its own (its own connections), as separate processes would.
 */
const fixtures = await storeFixtures();

describe.each(fixtures.map((f) => [f.name, f] as const))('audit chains per writer on %s', (name, fx) => {
  const key = randomBytes(32);
  const stores: Store[] = [];
  const open = async (): Promise<Store> => {
    const s = await fx.open();
    stores.push(s);
    return s;
  };
  let store: Store;
  beforeAll(async () => {
    store = await open();
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    await fx.cleanup();
  });
  const clear = async (): Promise<void> => {
    await store.db.deleteFrom('audit_log').execute();
    await store.db.deleteFrom('audit_chains').execute();
  };
  const chainsOf = async (): Promise<Record<string, number>> => {
    const rows = (await store.db.selectFrom('audit_log').select(['chain']).execute()) as { chain: string }[];
    const out: Record<string, number> = {};
    for (const r of rows) out[r.chain] = (out[r.chain] ?? 0) + 1;
    return out;
  };

  it('writers at once append to chains of their own; verify checks every chain and names them', async () => {
    await clear();
    // Opened one after another: in one process, a SQLite store's opening (its migration check)
    // would wait on the event loop for another's.
    const logs: AuditLog[] = [];
    for (let i = 0; i < 3; i++) logs.push(new AuditLog(await open(), key));
    await Promise.all(
      logs.flatMap((log, w) =>
        Array.from({ length: 40 }, (_, i) => log.append({ phase: 'attempt', tool: 'exec', action: `w${w} ${i}` })),
      ),
    );
    expect(await chainsOf()).toEqual({ w1: 40, w2: 40, w3: 40 });
    const r = await verifyAuditChain(store, key);
    expect(r).toMatchObject({ ok: true, records: 120, breakCount: 0 });
    expect(r.chains.map((c) => [c.chain, c.records, c.head?.chainSeq])).toEqual([
      ['w1', 40, 40],
      ['w2', 40, 40],
      ['w3', 40, 40],
    ]);
    for (const log of logs) await log.close();
  });

  it('a chain released at close is taken up by the next writer, which carries it on', async () => {
    await clear();
    const first = new AuditLog(store, key);
    await first.append({ phase: 'event', tool: 'one' });
    await first.close();
    const next = new AuditLog(await open(), key);
    await next.append({ phase: 'event', tool: 'two' });
    await next.close();
    expect(await chainsOf()).toEqual({ w1: 2 });
    expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, records: 2, chains: [{ chain: 'w1' }] });
  });

  it('a crashed writer’s chain (never released) is taken over once its lease runs out, without a fork', async () => {
    await clear();
    const crashed = new AuditLog(await open(), key, { chainLeaseMs: 300 });
    await crashed.append({ phase: 'attempt', tool: 'exec', action: 'before the crash' });
    // No close(): the process died. A writer starting now takes another chain…
    const during = new AuditLog(await open(), key);
    await during.append({ phase: 'event', tool: 'x' });
    expect(await chainsOf()).toEqual({ w1: 1, w2: 1 });
    // …and once the lease has run out, the next writer carries the dead writer's chain on.
    await new Promise((r) => setTimeout(r, 400));
    const after = new AuditLog(await open(), key);
    await after.append({ phase: 'event', tool: 'y' });
    expect(await chainsOf()).toEqual({ w1: 2, w2: 1 });
    expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, records: 3, breakCount: 0 });
    await during.close();
    await after.close();
    await crashed.close();
  });

  it('two writers that find themselves on one chain cannot fork it: every record keeps its place', async () => {
    await clear();
    // A lease that has always run out: each writer claims w1 as free, so both append to it at once.
    const a = new AuditLog(await open(), key, { chainLeaseMs: -1 });
    const b = new AuditLog(await open(), key, { chainLeaseMs: -1 });
    const appends: Promise<unknown>[] = [];
    for (let i = 0; i < 60; i++) {
      appends.push(a.append({ phase: 'attempt', tool: 'exec', action: `a ${i}` }));
      appends.push(b.append({ phase: 'attempt', tool: 'exec', action: `b ${i}` }));
      if (i % 10 === 9) await Promise.all(appends.splice(0));
    }
    await Promise.all(appends);
    const r = await verifyAuditChain(store, key);
    expect(r).toMatchObject({ ok: true, records: 120, breakCount: 0 });
    expect(r.chains.filter((c) => c.records > 0).map((c) => c.chain)).toEqual(['w1']);
    await a.close();
    await b.close();
  });

  it('a record is readable by search from another process as soon as its append has resolved', async () => {
    await clear();
    const writer = new AuditLog(await open(), key);
    const reader = await open(); // another process's connection
    for (let i = 0; i < 20; i++) {
      // Results too: on the embedded store they resolve at commit, before their flush.
      const phase = i % 2 === 0 ? 'attempt' : 'result';
      await writer.append({ phase, tool: 'exec', action: `visible ${i}` });
      const seen = await searchAudit(reader, { tool: 'exec', limit: 1 });
      expect(seen.map((r) => r.action)).toEqual([`visible ${i}`]);
    }
    await writer.close();
  });

  // PostgreSQL only: the embedded store serialises writers by design (one write lock per file).
  // Registered only there, so the SQLite run reports no skipped test.
  if (name === 'postgres')
    it('a writer whose batch is held inside its transaction does not hold up another writer (no global lock)', async () => {
      await clear();
      const slow = new AuditLog(await open(), key);
      const other = new AuditLog(await open(), key);
      await slow.append({ phase: 'event', tool: 'claims w1' });
      await other.append({ phase: 'event', tool: 'claims w2' });
      // Every insert into w1 now waits 2 s inside the slow writer's statement (its transaction),
      // holding whatever that transaction holds.
      await sql
        .raw(
          `CREATE FUNCTION hold_w1() RETURNS trigger AS $$ BEGIN
             IF NEW.chain = 'w1' THEN PERFORM pg_sleep(2); END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
           CREATE TRIGGER hold_w1 BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION hold_w1();`,
        )
        .execute(store.db);
      try {
        let slowDone = false;
        const held = slow.append({ phase: 'attempt', tool: 'exec', action: 'held' }).then(() => (slowDone = true));
        await new Promise((r) => setTimeout(r, 200)); // the held batch is inside its transaction now
        await other.append({ phase: 'attempt', tool: 'exec', action: 'not held' });
        // The other writer's attempt is committed while the first is still inside its transaction.
        expect(slowDone).toBe(false);
        await held;
      } finally {
        await sql.raw('DROP TRIGGER hold_w1 ON audit_log; DROP FUNCTION hold_w1();').execute(store.db);
      }
      expect(await verifyAuditChain(store, key)).toMatchObject({ ok: true, records: 4 });
      await slow.close();
      await other.close();
    });
});
