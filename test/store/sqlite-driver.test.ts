/**
 * The embedded store's two drivers (src/store/sqlite-driver.ts) behave the same where Gatehouse
 * depends on them: parameters, BLOBs read back as Buffers, the SQLITE_* codes callers test for
 * (unique violation, a busy lock), transactions, PRAGMA values; and a store written through one
 * is read through the other (processes on different Node versions share a store). On a Node
 * without a usable node:sqlite (before 22.16) only better-sqlite3 is in the list: there is
 * nothing to skip there, and CI runs the whole list on Node 24.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditLog, verifyAuditChain } from '../../src/audit/index.js';
import {
  chooseSqliteDriver,
  nodeSqliteStable,
  openSqliteConnection,
  openStore,
  type SqliteDriverName,
} from '../../src/store/index.js';

const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const nodeSqliteHere = major >= 23 || (major === 22 && minor >= 16);
const DRIVERS: SqliteDriverName[] = nodeSqliteHere ? ['better-sqlite3', 'node:sqlite'] : ['better-sqlite3'];
const dir = mkdtempSync(join(tmpdir(), 'gatehouse-driver-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = () => join(dir, `d${++n}.db`);

describe('driver choice', () => {
  it('node:sqlite is chosen on its own only where Node calls it stable', () => {
    for (const v of ['24.15.0', '24.22.3', '25.7.0', '26.0.0']) expect(nodeSqliteStable(v), v).toBe(true);
    for (const v of ['20.19.0', '22.16.0', '22.21.1', '24.14.1', '25.6.0']) expect(nodeSqliteStable(v), v).toBe(false);
    expect(chooseSqliteDriver('better-sqlite3')).toBe('better-sqlite3');
    expect(chooseSqliteDriver('auto')).toBe(nodeSqliteStable() ? 'node:sqlite' : 'better-sqlite3');
  });

  // Defined only where it applies (not skipped elsewhere): CI runs both Nodes.
  if (!nodeSqliteHere)
    it('asking for node:sqlite on a Node without a usable one is an error, not a switch', () => {
      expect(() => chooseSqliteDriver('node:sqlite')).toThrow(expect.objectContaining({ code: 'config_invalid' }));
    });
});

describe.each(DRIVERS)('the %s driver', (driver) => {
  it('binds array parameters, reads BLOBs as Buffers and integers as numbers, and tells readers apart', () => {
    const c = openSqliteConnection(file(), driver);
    try {
      c.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INTEGER, data BLOB)');
      const insert = c.prepare('INSERT INTO t (name, n, data) VALUES (?, ?, ?)');
      expect(insert.reader).toBe(false);
      const bytes = Buffer.from('héllo, blob', 'utf8');
      const r = insert.run(['a', 42, bytes]);
      expect(Number(r.changes)).toBe(1);
      expect(Number(r.lastInsertRowid)).toBe(1);
      const select = c.prepare('SELECT id, name, n, data, typeof(n) AS kind FROM t WHERE name = ?');
      expect(select.reader).toBe(true);
      const row = select.get(['a'])!;
      expect(row).toMatchObject({ id: 1, name: 'a', n: 42, kind: 'integer' });
      expect(Buffer.isBuffer(row.data)).toBe(true);
      expect((row.data as Buffer).toString('utf8')).toBe('héllo, blob');
      expect(select.all(['a'])).toHaveLength(1);
      expect([...select.iterate(['a'])].map((x) => x.name)).toEqual(['a']);
      expect(select.get(['none'])).toBeUndefined();
    } finally {
      c.close();
    }
  });

  it('gives errors the SQLITE_* codes callers test for: a unique violation, a busy lock', () => {
    const f = file();
    const c = openSqliteConnection(f, driver);
    const other = openSqliteConnection(f, driver);
    try {
      c.exec('PRAGMA journal_mode = WAL; CREATE TABLE t (name TEXT UNIQUE)');
      c.prepare('INSERT INTO t (name) VALUES (?)').run(['x']);
      expect(() => c.prepare('INSERT INTO t (name) VALUES (?)').run(['x'])).toThrow(
        expect.objectContaining({ code: 'SQLITE_CONSTRAINT_UNIQUE' }),
      );
      other.exec('BEGIN IMMEDIATE');
      c.exec('PRAGMA busy_timeout = 0');
      expect(() => c.exec('BEGIN IMMEDIATE')).toThrow(expect.objectContaining({ code: 'SQLITE_BUSY' }));
      other.exec('ROLLBACK');
    } finally {
      c.close();
      other.close();
    }
  });

  it('runs immediate transactions: committed when the body returns, rolled back when it throws', () => {
    const c = openSqliteConnection(file(), driver);
    try {
      c.exec('CREATE TABLE t (n INTEGER)');
      const insert = c.prepare('INSERT INTO t (n) VALUES (?)');
      expect(c.inTransaction).toBe(false);
      expect(
        c.immediate(() => {
          expect(c.inTransaction).toBe(true);
          insert.run([1]);
          return 'done';
        }),
      ).toBe('done');
      expect(() =>
        c.immediate(() => {
          insert.run([2]);
          throw new Error('stop');
        }),
      ).toThrow('stop');
      expect(c.inTransaction).toBe(false);
      expect(
        c
          .prepare('SELECT n FROM t')
          .all()
          .map((r) => r.n),
      ).toEqual([1]);
      expect(String(c.pragmaValue('journal_mode')).toLowerCase()).toBe('delete');
      c.exec('PRAGMA synchronous = FULL');
      expect(Number(c.pragmaValue('synchronous'))).toBe(2);
    } finally {
      c.close();
    }
  });
});

// Defined only where both drivers exist (Node 22.16 on; CI's Node 24 run), not skipped elsewhere.
if (DRIVERS.length === 2)
  describe('one store, both drivers', () => {
    it('one process never holds connections of both drivers at once (two copies of SQLite)', () => {
      const f = file();
      const a = openSqliteConnection(f, 'better-sqlite3');
      expect(() => openSqliteConnection(f, 'node:sqlite')).toThrow(
        expect.objectContaining({ code: 'store_unavailable' }),
      );
      const a2 = openSqliteConnection(file(), 'better-sqlite3');
      a.close();
      a.close(); // closing twice counts once
      expect(() => openSqliteConnection(f, 'node:sqlite')).toThrow(
        expect.objectContaining({ code: 'store_unavailable' }),
      );
      a2.close();
      const b = openSqliteConnection(f, 'node:sqlite');
      b.close();
    });

    it('records appended through one driver verify through the other, and the chain goes on', async () => {
      const f = file();
      const key = randomBytes(32);
      for (const [i, driver] of [...DRIVERS, ...DRIVERS].entries()) {
        const store = await openStore({ sqliteFile: f, sqliteDriver: driver });
        try {
          expect(store.description).toContain(driver);
          const log = new AuditLog(store, key);
          await log.append({ phase: 'event', tool: `by-${driver}-${i}`, detail: { blob: 'x'.repeat(5000) } });
          await log.close();
          const v = await verifyAuditChain(store, key);
          expect(v.ok, JSON.stringify(v)).toBe(true);
          expect(v.records).toBe(i + 1);
        } finally {
          await store.close();
        }
      }
    });
  });
