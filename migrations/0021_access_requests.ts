import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * Access requests and the grants they add (issue 17 item 9). Times are epoch milliseconds.
 *
 *  - `access_requests`: what an agent asked for (`request_access`): an SSH host or an HTTP API,
 *    with its reason, until `expires_at`. `mac` signs the request as the agent made it (id, token,
 *    kind, host, port, user, base URL, reason, times) under the store-integrity key; `decision_mac`
 *    signs the decision when one is made (a row put back to pending, or a decision edited, shows as
 *    tampered). Nothing is granted by a row saying "approved": approving writes the target, the
 *    sealed credential and a signed grant.
 *  - `token_grants`: grants added to a token after it was made (an approved access request), each
 *    signed (id, token, grant, the target's creation time, expiry, who, when), optionally only
 *    until `expires_at`: past it the grant stops counting at once (authentication leaves it out),
 *    and a sweep deletes the row. A `target:NAME` grant counts only while the target it was made
 *    for exists (`bound_to` is that target's creation time): removing the target ends it, and a
 *    new target of the same name is not covered. The token row itself is unchanged.
 */
export async function up(db: UntypedDb, dialect: Dialect): Promise<void> {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('access_requests')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('token_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('token_name', 'varchar(200)', (c) => c.notNull())
    .addColumn('kind', 'varchar(10)', (c) => c.notNull())
    .addColumn('host', 'varchar(255)', (c) => c.notNull())
    .addColumn('port', 'integer')
    .addColumn('user', 'varchar(100)')
    .addColumn('base_url', 'text')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .addColumn('expires_at', big, (c) => c.notNull())
    .addColumn('status', 'varchar(20)', (c) => c.notNull())
    .addColumn('decided_at', big)
    .addColumn('decided_by', 'varchar(240)')
    .addColumn('note', 'text')
    .addColumn('target', 'varchar(100)')
    .addColumn('grant_until', big)
    .addColumn('mac', 'varchar(64)', (c) => c.notNull())
    .addColumn('decision_mac', 'varchar(64)')
    .execute();
  await db.schema
    .createIndex('access_requests_status')
    .on('access_requests')
    .columns(['status', 'created_at'])
    .execute();
  await db.schema
    .createTable('token_grants')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('token_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('grant', 'varchar(300)', (c) => c.notNull())
    .addColumn('bound_to', 'varchar(100)')
    .addColumn('expires_at', big)
    .addColumn('created_by', 'varchar(240)', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .addColumn('mac', 'varchar(64)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('token_grants_token').on('token_grants').column('token_id').execute();
}
