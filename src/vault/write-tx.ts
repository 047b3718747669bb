import { writeTransaction as storeWriteTransaction, type Store, type UntypedDb } from '../store/index.js';

/**
 * Runs `fn` in one write transaction that holds the store's write lock from its first statement
 * (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock for vault key changes),
 * so a rekey and a concurrent vault creation in another process are serialised.
 */
const PG_VAULT_LOCK = 720_402_2;

export async function writeTransaction<T>(store: Store, fn: (db: UntypedDb) => Promise<T>): Promise<T> {
  return storeWriteTransaction(store, fn, { pgLock: PG_VAULT_LOCK });
}
