import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * Tokens and the audit log. Timestamps are ISO-8601 text; JSON is text (portable across SQLite
 * and PostgreSQL). No column holds a credential: tokens are kept only as SHA-256 hashes.
 */
export async function up(db: UntypedDb, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('tokens')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(200)', (c) => c.notNull().unique())
    .addColumn('prefix', 'varchar(20)', (c) => c.notNull())
    .addColumn('hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('grants', 'text', (c) => c.notNull())
    .addColumn('policy', 'varchar(200)')
    .addColumn('approval_mode', 'varchar(40)')
    .addColumn('admin', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('last_used_at', 'varchar(40)')
    .addColumn('expires_at', 'varchar(40)')
    .addColumn('revoked_at', 'varchar(40)')
    .addColumn('rotated_at', 'varchar(40)')
    .execute();

  // seq is assigned by the writer under the audit lock (not by the database), because it is part
  // of what each record's chain hash covers.
  await db.schema
    .createTable('audit_log')
    .addColumn('seq', dialect === 'postgres' ? 'bigint' : 'integer', (c) => c.primaryKey())
    .addColumn('id', 'varchar(40)', (c) => c.notNull().unique())
    .addColumn('ts', 'varchar(40)', (c) => c.notNull())
    .addColumn('phase', 'varchar(20)', (c) => c.notNull())
    .addColumn('ref', 'varchar(40)')
    .addColumn('token_id', 'varchar(40)')
    .addColumn('token_name', 'varchar(200)')
    .addColumn('tool', 'varchar(100)')
    .addColumn('route', 'varchar(200)')
    .addColumn('target', 'varchar(200)')
    .addColumn('action', 'text')
    .addColumn('decision', 'varchar(20)')
    .addColumn('rule', 'varchar(200)')
    .addColumn('approver', 'varchar(200)')
    .addColumn('outcome', 'varchar(40)')
    .addColumn('status', 'integer')
    .addColumn('duration_ms', 'integer')
    .addColumn('client', 'varchar(200)')
    .addColumn('detail', 'text')
    .addColumn('prev_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('hash', 'varchar(64)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_log_ts').on('audit_log').column('ts').execute();
  await db.schema.createIndex('audit_log_token').on('audit_log').column('token_id').execute();
}
