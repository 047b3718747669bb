import type { Dialect, MigrationKit, UntypedDb } from '../src/store/index.js';

/**
 * Audit chains per writer (issue 19, src/audit/chains.ts):
 *  - `audit_log.chain` / `chain_seq`: the chain a record belongs to and its place in it. Each
 *    writer (a `gatehouse serve`, a CLI command) appends to a chain it holds, so writers never
 *    wait on one another for the chain's head. Unique together: two writers that ever found
 *    themselves on one chain cannot both append the same place (the loser re-reads and retries).
 *  - The records written before this migration form the chain `legacy`: its `chain_seq` is their
 *    `seq`, and they keep the hash they were written with (which covers `seq`, not the chain).
 *  - `seq` stays the arrival order and what `audit show` takes, but no hash covers it any more, so
 *    PostgreSQL assigns it from a sequence (no lock, gaps allowed) and SQLite as the rowid.
 *  - `audit_chains`: every chain a writer has held, with its lease (holder, expiry). Verify and
 *    `audit head` list chains from here as well as from the records, so a chain whose records were
 *    all removed still shows up by name.
 */
export async function up(db: UntypedDb, dialect: Dialect, { sql }: MigrationKit): Promise<void> {
  await db.schema.alterTable('audit_log').addColumn('chain', 'varchar(40)').execute();
  await db.schema
    .alterTable('audit_log')
    .addColumn('chain_seq', dialect === 'postgres' ? 'bigint' : 'integer')
    .execute();
  await sql`UPDATE audit_log SET chain = 'legacy', chain_seq = seq`.execute(db);
  await db.schema.createIndex('audit_log_chain_seq').on('audit_log').columns(['chain', 'chain_seq']).unique().execute();
  if (dialect === 'postgres') {
    // The sequence starts after the last legacy record, so seq keeps growing across the change.
    await sql`CREATE SEQUENCE audit_log_seq_seq OWNED BY audit_log.seq`.execute(db);
    await sql`SELECT setval('audit_log_seq_seq', COALESCE((SELECT max(seq) FROM audit_log), 0) + 1, false)`.execute(db);
    await sql`ALTER TABLE audit_log ALTER COLUMN seq SET DEFAULT nextval('audit_log_seq_seq')`.execute(db);
  }
  await db.schema
    .createTable('audit_chains')
    .addColumn('chain', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('holder', 'varchar(200)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
    .execute();
}
