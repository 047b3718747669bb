import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * The `gatehouse serve` processes sharing this store, for the sessionful MCP door (issue 18 item
 * 1): a 2025-era client's session lives in the process that opened it, and a request for it that a
 * load balancer sends elsewhere is forwarded to the URL here. Each row is signed with the store
 * integrity key (`mcp-instance/v1`): a database writer without the master key cannot point a
 * session's traffic, and the bearer token in it, at a host of their choosing.
 */
export async function up(db: UntypedDb, _dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('mcp_instances')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('url', 'varchar(500)', (c) => c.notNull())
    .addColumn('seen_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('mac', 'varchar(64)', (c) => c.notNull())
    .execute();
}
