import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * Every process holding interactive SSH sessions (a `gatehouse mcp` started by a local client, or
 * a `gatehouse serve`), with the loopback URL of its session-control endpoint, so the console in
 * any `serve` sharing this store can list, watch and take over those sessions (issue 17 item 5).
 * Rows are signed with the store integrity key (`session-host/v1`): a database writer without the
 * master key cannot point the console, and a person's keystrokes, at a host of their choosing.
 */
export async function up(db: UntypedDb, _dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('session_hosts')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('url', 'varchar(500)', (c) => c.notNull())
    .addColumn('seen_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('mac', 'varchar(64)', (c) => c.notNull())
    .execute();
}
