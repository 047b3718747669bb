import { randomBytes } from 'node:crypto';
import { realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { AuditLog, verifyAuditChain } from '../../src/audit/index.js';
import { LAGGING_FLUSH_MS } from '../../src/audit/sqlite-writer.js';
import { WalFileSync } from '../../src/audit/wal-sync.js';
import { Gate, TokenService } from '../../src/gate/index.js';
import { openSqliteConnection, openStore } from '../../src/store/index.js';
import { tempHome } from '../helpers/home.js';

/** A promise whose settling the test controls. */
function deferred(): { promise: Promise<void>; resolve(): void; reject(e: Error): void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * One turn of the event loop: every promise chain that does not wait for I/O or a timer has run
 * by then. "Not done after a turn" means the code under test is waiting on something (a held
 * flush, a lock), not that it was slow.
 */
const turn = () => new Promise<void>((r) => setImmediate(r));

/** A WAL flush the test settles by hand, counting how often the writer asked for one. */
function heldFlush(): {
  durableSync: () => Promise<void>;
  count(): number;
  waitForCall(n: number): Promise<void>;
  release(): void;
} {
  let flush = deferred();
  let count = 0;
  const waiters: { n: number; resolve(): void }[] = [];
  return {
    durableSync: () => {
      count++;
      for (const w of waiters.filter((x) => x.n <= count)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
      return flush.promise;
    },
    count: () => count,
    /** Resolves once the writer has asked for its n-th flush (an event, not a guess at a delay). */
    waitForCall: (n) => (count >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve }))),
    release: () => {
      flush.resolve();
      flush = deferred();
    },
  };
}

/** Waits, turn by turn, until `cond` holds (the test's timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await turn();
}

describe('audit writer on the embedded store (commit, then one WAL flush off the event loop)', () => {
  const home = tempHome();
  afterAll(() => home.cleanup());
  afterEach(() => void vi.useRealTimers());

  it('commits concurrent appends in order from two connections and the chain verifies', async () => {
    const file = join(home.dir, 'a.db');
    const key = randomBytes(32);
    const s1 = await openStore({ sqliteFile: file });
    const s2 = await openStore({ sqliteFile: file });
    const a = new AuditLog(s1, key);
    const b = new AuditLog(s2, key);
    // 40 rows per writer and batch: more than one multi-row INSERT per transaction.
    const results = await Promise.all(
      Array.from({ length: 400 }, (_, i) => (i % 2 ? a : b).append({ phase: 'event', tool: 'x', action: `n${i}` })),
    );
    expect(new Set(results.map((r) => r.seq)).size).toBe(400);
    expect(await verifyAuditChain(s1, key)).toMatchObject({ ok: true, records: 400, breakCount: 0 });
    await a.close();
    await b.close();
    await s1.close();
    await s2.close();
  });

  it('an append resolves only after the WAL flush does (the attempt is on disk before the action)', async () => {
    const s = await openStore({ sqliteFile: join(home.dir, 'b.db') });
    const flush = heldFlush();
    const log = new AuditLog(s, randomBytes(32), { durableSync: flush.durableSync });
    let done = false;
    const p = log.append({ phase: 'attempt', tool: 'exec', action: 'ls' }).then((r) => {
      done = true;
      return r;
    });
    await flush.waitForCall(1);
    await turn();
    expect(done).toBe(false); // committed, but not yet flushed: not reported as recorded
    flush.release();
    expect((await p).seq).toBe(1);
    await log.close();
    await s.close();
  });

  it('a result resolves once committed; a lagging flush or the next attempt takes it to disk', async () => {
    const s = await openStore({ sqliteFile: join(home.dir, 'r.db') });
    const flush = heldFlush();
    const log = new AuditLog(s, randomBytes(32), { durableSync: flush.durableSync });
    // The action has run: its result does not wait for the disk...
    // The lagging flush runs on a timer: the test moves a fake clock to it (and past it, to show
    // that nothing more is flushed), instead of sleeping and hoping.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const r = await log.append({ phase: 'result', tool: 'exec', outcome: 'ok' });
    expect(r.seq).toBe(1);
    expect(flush.count()).toBe(0);
    expect(s.sqlite!.prepare('SELECT count(*) AS n FROM audit_log').get()).toEqual({ n: 1 });
    // ...but is flushed LAGGING_FLUSH_MS later, with no attempt to carry it.
    await vi.advanceTimersByTimeAsync(LAGGING_FLUSH_MS - 1);
    expect(flush.count()).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    await flush.waitForCall(1);
    flush.release();

    // A result followed at once by an attempt: the attempt's flush carries both, and the attempt
    // still resolves only after that flush.
    await log.append({ phase: 'result', tool: 'exec', outcome: 'ok' });
    let done = false;
    const attempt = log.append({ phase: 'attempt', tool: 'exec', action: 'ls' }).then(() => (done = true));
    await flush.waitForCall(2);
    await turn();
    expect(done).toBe(false);
    flush.release();
    await attempt;
    await vi.advanceTimersByTimeAsync(LAGGING_FLUSH_MS * 3);
    await turn();
    expect(flush.count()).toBe(2); // nothing left lagging: the attempt's flush covered the result
    vi.useRealTimers();

    // Closing flushes what is still lagging.
    await log.append({ phase: 'result', tool: 'exec', outcome: 'ok' });
    const closing = log.close();
    await flush.waitForCall(3);
    flush.release();
    await closing;
    expect(flush.count()).toBe(3);
    await s.close();
  });

  it("a result committed in an attempt's batch does not wait for that batch's flush; the attempt does", async () => {
    const s = await openStore({ sqliteFile: join(home.dir, 'mixed.db') });
    const flush = heldFlush();
    const log = new AuditLog(s, randomBytes(32), { durableSync: flush.durableSync });
    // Appended in one tick, so one transaction holds both.
    let attemptDone = false;
    const attempt = log.append({ phase: 'attempt', tool: 'exec', action: 'ls' }).then((r) => {
      attemptDone = true;
      return r;
    });
    const result = log.append({ phase: 'result', tool: 'exec', outcome: 'ok' });
    await flush.waitForCall(1);
    // Committed (both rows are in the table) and the flush is held: the result is answered...
    expect(s.sqlite!.prepare('SELECT count(*) AS n FROM audit_log').get()).toEqual({ n: 2 });
    expect((await result).seq).toBe(2);
    // ...the attempt is not, until its flush is done.
    await turn();
    expect(attemptDone).toBe(false);
    flush.release();
    expect((await attempt).seq).toBe(1);
    expect(flush.count()).toBe(1);
    await log.close();
    await s.close();
  });

  it('flushes never overlap: an attempt committed during a lagging flush gets its own flush after it', async () => {
    const s = await openStore({ sqliteFile: join(home.dir, 'r3.db') });
    let inFlight = 0;
    let most = 0;
    const flush = heldFlush();
    const log = new AuditLog(s, randomBytes(32), {
      durableSync: async () => {
        inFlight++;
        most = Math.max(most, inFlight);
        await flush.durableSync();
        inFlight--;
      },
    });
    await log.append({ phase: 'result', tool: 'exec', outcome: 'ok' });
    await flush.waitForCall(1); // the lagging flush has started and is held
    let done = false;
    const attempt = log.append({ phase: 'attempt', tool: 'exec', action: 'ls' }).then(() => (done = true));
    // Once the attempt is committed its flush is asked for at once, and must wait in line.
    const rows = () => (s.sqlite!.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
    await until(() => rows() === 2);
    await turn();
    expect(flush.count()).toBe(1); // waits for the running flush, which may predate its commit
    flush.release();
    await flush.waitForCall(2);
    await turn();
    expect(done).toBe(false);
    flush.release();
    await attempt;
    expect(most).toBe(1);
    await log.close();
    await s.close();
  });

  it('a failed lagging flush refuses the next action', async () => {
    const s = await openStore({ sqliteFile: join(home.dir, 'r2.db') });
    const wal = new WalFileSync(join(home.dir, 'r2.db'));
    let broken = false;
    let failedFlush!: () => void;
    const lagged = new Promise<void>((r) => (failedFlush = r));
    const log = new AuditLog(s, randomBytes(32), {
      durableSync: () => {
        if (!broken) return wal.sync();
        failedFlush();
        return Promise.reject(new Error('EIO: disk gone'));
      },
    });
    await log.append({ phase: 'attempt', tool: 'exec', action: 'ls' });
    broken = true;
    await log.append({ phase: 'result', tool: 'exec', outcome: 'ok' });
    await lagged; // the lagging flush of that result failed
    await turn();
    await expect(log.append({ phase: 'attempt', tool: 'exec', action: 'ls' })).rejects.toMatchObject({
      code: 'audit_unavailable',
    });
    broken = false;
    await log.close();
    wal.close();
    await s.close();
  });

  it('one transaction holds at most 32 MiB of payload blobs, so a batch never holds the event loop long', async () => {
    const s = await openStore({ sqliteFile: join(home.dir, 'blobs.db') });
    const key = randomBytes(32);
    let flushes = 0;
    const log = new AuditLog(s, key, { durableSync: async () => void flushes++ });
    const big = (c: string) => c.repeat(12 * 1024 * 1024);
    // Appended in one tick: without the bound they would form one 48 MiB transaction.
    await Promise.all(
      ['a', 'b', 'c', 'd'].map((c) =>
        log.append({ phase: 'attempt', tool: 'file_write', payload: { content: big(c) } }),
      ),
    );
    expect(flushes).toBe(2);
    expect(await verifyAuditChain(s, key)).toMatchObject({ ok: true, breakCount: 0, records: 4 });
    await log.close();
    await s.close();
  });

  it('a failed flush refuses the action (no audit record, no action)', async () => {
    const s = await openStore({ sqliteFile: join(home.dir, 'c.db') });
    const log = new AuditLog(s, randomBytes(32), { durableSync: () => Promise.reject(new Error('EIO: disk gone')) });
    const tokens = new TokenService(s, { integrityKey: randomBytes(32) });
    const { token } = await tokens.create({ name: 'flush-fail', grants: ['tool:*'] });
    const principal = await tokens.authenticate(token);
    let ran = false;
    await expect(
      new Gate({ audit: log }).run(principal, { tool: 'discover', summary: 'x' }, async () => {
        ran = true;
      }),
    ).rejects.toMatchObject({ code: 'audit_unavailable' });
    expect(ran).toBe(false);
    await log.close();
    await s.close();
  });

  it('a write the store refuses rejects with audit_unavailable', async () => {
    const s = await openStore({ sqliteFile: join(home.dir, 'd.db') });
    const log = new AuditLog(s, randomBytes(32));
    await log.append({ phase: 'event', tool: 'ok' });
    s.sqlite!.exec('DROP TABLE audit_log');
    await expect(log.append({ phase: 'event', tool: 'lost' })).rejects.toMatchObject({ code: 'audit_unavailable' });
    await log.close();
    await s.close();
  });

  it("waits for a transaction open on the store's own connection, and never changes that connection's synchronous level", async () => {
    const s = await openStore({ sqliteFile: join(home.dir, 'e.db') });
    const handle = s.sqlite!;
    const level = handle.pragmaValue('synchronous');
    expect(level).toBe(2); // FULL: every other write on this connection flushes in its commit
    const log = new AuditLog(s, randomBytes(32));
    handle.exec('BEGIN IMMEDIATE');
    let done = false;
    const p = log.append({ phase: 'event', tool: 'x' }).then(() => (done = true));
    // The writer's connection finds the write lock taken and tries again on timers of at most
    // 50 ms; 20 rounds of 1 ms timers later it has not written (an ordering: while the lock is
    // held, no retry can succeed).
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 1));
    expect(done).toBe(false);
    handle.exec('COMMIT');
    await p;
    expect(handle.pragmaValue('synchronous')).toBe(level);
    // The writer's own connection runs at NORMAL (it flushes the WAL itself); the store's keeps FULL.
    expect(s.auditConnection!().pragmaValue('synchronous')).toBe(1);
    for (let i = 0; i < 3; i++) {
      await log.append({ phase: 'event', tool: `x${i}` });
      expect(handle.pragmaValue('synchronous'), `after batch ${i + 2}`).toBe(level);
    }
    await log.close();
    await s.close();
  });

  it("waits for another process's write lock without blocking the event loop", async () => {
    const file = join(home.dir, 'h.db');
    const s = await openStore({ sqliteFile: file });
    const log = new AuditLog(s, randomBytes(32));
    await log.append({ phase: 'event', tool: 'first' });
    // Stands in for a CLI command or a second server (on the store's own driver: two copies of
    // SQLite in one process would not see each other's locks).
    const other = openSqliteConnection(file, s.sqlite!.driver);
    other.exec('PRAGMA busy_timeout = 10000');
    other.exec('BEGIN IMMEDIATE');
    let done = false;
    const p = log.append({ phase: 'event', tool: 'second' }).then(() => (done = true));
    // The loop keeps turning while the append waits for the lock: timers fire, and this test goes
    // on to release the lock. A writer that slept in SQLite's busy wait would hold the loop for the
    // whole busy timeout (10 s) and then fail with SQLITE_BUSY: `await p` below would reject.
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 0));
    expect(done).toBe(false);
    other.exec('COMMIT');
    await p;
    other.close();
    await log.close();
    await s.close();
  });

  it('flushes the WAL of the real database file when the store is opened through a symlink', async () => {
    const real = join(home.dir, 'real.db');
    const link = join(home.dir, 'link.db');
    const s = await openStore({ sqliteFile: real });
    await s.close();
    symlinkSync(real, link);
    writeFileSync(`${link}-wal`, 'stale, not the live WAL');
    const store = await openStore({ sqliteFile: link });
    const log = new AuditLog(store, randomBytes(32));
    await log.append({ phase: 'event', tool: 'x' });
    expect(new WalFileSync(link).path).toBe(`${realpathSync(real)}-wal`);
    expect(statSync(`${real}-wal`).size).toBeGreaterThan(0);
    await log.close();
    await store.close();
  });

  it("the real flush targets the store's WAL file, and fails closed when the file is gone", async () => {
    const s = await openStore({ sqliteFile: join(home.dir, 'f.db') });
    const log = new AuditLog(s, randomBytes(32));
    await log.append({ phase: 'event', tool: 'x' });
    expect(statSync(join(home.dir, 'f.db-wal')).size).toBeGreaterThan(0);
    await log.close();
    await s.close();

    // WalFileSync on its own, both ways of flushing (the thread pool's, and the writer thread's
    // blocking one): a replaced file is followed; a missing one is an error, and after a failed
    // flush every later flush fails too (the lost pages cannot be vouched for).
    for (const way of ['sync', 'syncBlocking'] as const) {
      const db = join(home.dir, `g-${way}.db`);
      writeFileSync(db, '');
      writeFileSync(`${db}-wal`, 'one');
      const wal = new WalFileSync(db);
      await wal[way]();
      writeFileSync(`${db}-new`, 'two');
      renameSync(`${db}-new`, `${db}-wal`);
      await wal[way]();
      rmSync(`${db}-wal`);
      await expect(wal[way]()).rejects.toThrow(/ENOENT/);
      writeFileSync(`${db}-wal`, 'back');
      await expect(wal[way]()).rejects.toThrow(/could not be flushed/);
      wal.close();
    }
  });
});
