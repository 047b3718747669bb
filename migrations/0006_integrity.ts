import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * Row signatures (src/core/row-mac.ts) on what the gate trusts from the store without a person:
 * tokens (grants, policy, approval mode, admin, expiry, revocation), approvals (decisions and
 * their one-time use), targets (where credentials go, pinned host keys) and vault bindings (where
 * a secret may be filled). A row without a valid `mac` is refused.
 *
 * Rows that exist before this migration are signed once, by the process that applies it, right
 * after it has opened the keyring (`Store.migrationsAppliedNow` says it did). The migration is
 * deliberately not idempotent: deleting its row from gatehouse_migrations to get unsigned rows
 * signed again makes the next start fail (the columns already exist) instead.
 */
export async function up(db: UntypedDb, dialect: Dialect): Promise<void> {
  for (const table of ['tokens', 'approvals', 'targets', 'vault_bindings']) {
    await db.schema.alterTable(table).addColumn('mac', 'varchar(64)').execute();
  }
  // Command bindings (`command:TARGET:ENV=<exact command line>`) are longer than a host pattern.
  // SQLite does not enforce varchar lengths; PostgreSQL does, so the column becomes text there
  // (the vault caps a binding at 1,400 bytes, inside PostgreSQL's b-tree limit for the unique key).
  if (dialect === 'postgres')
    await db.schema
      .alterTable('vault_bindings')
      .alterColumn('pattern', (c) => c.setDataType('text'))
      .execute();
}
