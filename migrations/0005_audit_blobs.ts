import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * Audit records that never drop what ran (src/audit/payload.ts):
 *  - `audit_log.payload`: JSON naming each payload value of a record (the full command, stdin,
 *    env, a session transcript, ...) with its text, or the sha256 and size of its blob. The
 *    chain hash covers it; records written before it exists have none and hash as before.
 *  - `audit_blobs`: payload values over 4 KiB, content-addressed (sha256 of the UTF-8 data ->
 *    data), written in the same transaction as the record that refers to them.
 *  - PostgreSQL only: the audit text columns become `text`. As `varchar(n)` they refused a longer
 *    value (a 201-character target), which failed the whole batch's insert and so refused every
 *    action in it, where SQLite kept the value. Changing varchar to text rewrites no rows.
 *
 * Applied after 0006 on stores that already have 0006; the two touch different tables.
 */
export async function up(db: UntypedDb, dialect: Dialect): Promise<void> {
  await db.schema.alterTable('audit_log').addColumn('payload', 'text').execute();
  await db.schema
    .createTable('audit_blobs')
    .addColumn('sha256', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('bytes', dialect === 'postgres' ? 'bigint' : 'integer', (c) => c.notNull())
    .addColumn('data', dialect === 'postgres' ? 'bytea' : 'blob', (c) => c.notNull())
    .execute();
  if (dialect === 'postgres') {
    for (const column of [
      'phase',
      'ref',
      'token_id',
      'token_name',
      'tool',
      'route',
      'target',
      'decision',
      'rule',
      'approver',
      'outcome',
      'client',
    ]) {
      await db.schema
        .alterTable('audit_log')
        .alterColumn(column, (c) => c.setDataType('text'))
        .execute();
    }
  }
}
