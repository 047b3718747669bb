import { sql } from 'kysely';
import type { Store, UntypedDb } from '../store/index.js';

/**
 * Runs `fn` in one write transaction that holds the store's write lock from its first statement
 * (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock for vault key changes),
 * so a rekey and a concurrent vault creation in another process are serialised.
 */
const PG_VAULT_LOCK = 720_402_2;

export async function writeTransaction<T>(store: Store, fn: (db: UntypedDb) => Promise<T>): Promise<T> {
  return store.db.connection().execute(async (conn) => {
    await sql.raw(store.dialect === 'sqlite' ? 'BEGIN IMMEDIATE' : 'BEGIN').execute(conn);
    try {
      if (store.dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(${PG_VAULT_LOCK})`.execute(conn);
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
