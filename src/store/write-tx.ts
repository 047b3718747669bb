import { sql } from 'kysely';
import type { Store, UntypedDb } from './types.js';

/**
 * Runs `fn` in one write transaction on one connection, committed when it returns and rolled back
 * when it throws. SQLite: BEGIN IMMEDIATE, so the store's write lock is held from the first
 * statement (a read-then-write cannot be overtaken by another process between the two).
 * PostgreSQL: BEGIN, plus a transaction-scoped advisory lock when `pgLock` is given, for writers
 * that must be serialised as a whole rather than row by row.
 */
export async function writeTransaction<T>(
  store: Store,
  fn: (db: UntypedDb) => Promise<T>,
  opts: { pgLock?: number } = {},
): Promise<T> {
  return store.db.connection().execute(async (conn) => {
    await sql.raw(store.dialect === 'sqlite' ? 'BEGIN IMMEDIATE' : 'BEGIN').execute(conn);
    try {
      if (store.dialect === 'postgres' && opts.pgLock !== undefined)
        await sql`SELECT pg_advisory_xact_lock(${opts.pgLock})`.execute(conn);
      const out = await fn(conn);
      await sql.raw('COMMIT').execute(conn);
      return out;
    } catch (e) {
      await sql
        .raw('ROLLBACK')
        .execute(conn)
        .catch(() => undefined);
      throw e;
    }
  });
}
