import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * The last MCP client seen per token (issue 18 item 5): name and version as the client reported
 * them, the protocol revision and the door. Informational only: nothing is decided from it, so the
 * row is not signed. Written only when a process sees a token's client change.
 */
export async function up(db: UntypedDb, _dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('token_clients')
    .addColumn('token_id', 'varchar(200)', (c) => c.primaryKey())
    .addColumn('name', 'varchar(200)', (c) => c.notNull())
    .addColumn('version', 'varchar(100)', (c) => c.notNull())
    .addColumn('protocol', 'varchar(40)', (c) => c.notNull())
    .addColumn('transport', 'varchar(10)', (c) => c.notNull())
    .addColumn('seen_at', 'varchar(40)', (c) => c.notNull())
    .execute();
}
