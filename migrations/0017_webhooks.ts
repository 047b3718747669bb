import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * Inbound webhooks (issue 16).
 *
 *  - `webhook_endpoints`: one row per endpoint, signed like targets (`mac`). `url_key_hash` is the
 *    SHA-256 of the 128-bit key in the endpoint's public URL, which ingest looks up; the key itself
 *    is kept only sealed (`url_key_sealed`, for `gatehouse webhook test`), never in the clear. `config` is JSON: the preset, vault references of the secrets (never
 *    a secret), limits, the operators' handling instructions.
 *  - `webhook_counters`: the per-endpoint sequence and the duplicate count, apart from the signed
 *    row (an ingest never rewrites the endpoint).
 *  - `webhook_events`: one row per accepted event. `state` is pending, leased, acked, failed or
 *    dead; times the queue compares in its queries (`available_at`, `lease_until`, `expires_at`)
 *    are epoch milliseconds. The body is kept as received, or sealed (`body_nonce` set). `mac`
 *    signs what the event is (not its delivery state), so a row written without the master key is
 *    never leased.
 *  - `webhook_dedupe`: every key an accepted event is known by (the provider's id, and the hash of
 *    its signed content), per endpoint, until `expires_at`: a second delivery of either is a
 *    duplicate.
 */
export async function up(db: UntypedDb, dialect: Dialect): Promise<void> {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  const bytes = dialect === 'postgres' ? 'bytea' : 'blob';
  await db.schema
    .createTable('webhook_endpoints')
    .addColumn('name', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('url_key_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('url_key_sealed', 'varchar(200)', (c) => c.notNull())
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('mac', 'varchar(128)')
    .execute();
  await db.schema
    .createTable('webhook_counters')
    .addColumn('endpoint', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('seq', big, (c) => c.notNull().defaultTo(0))
    .addColumn('duplicates', big, (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createTable('webhook_events')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('endpoint', 'varchar(64)', (c) => c.notNull())
    .addColumn('seq', big, (c) => c.notNull())
    .addColumn('state', 'varchar(10)', (c) => c.notNull())
    .addColumn('provider', 'varchar(40)', (c) => c.notNull())
    .addColumn('event_id', 'varchar(256)')
    .addColumn('event_type', 'varchar(256)')
    .addColumn('received_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('verified', 'varchar(200)', (c) => c.notNull())
    .addColumn('headers', 'text', (c) => c.notNull())
    .addColumn('body', bytes, (c) => c.notNull())
    .addColumn('body_nonce', bytes)
    .addColumn('body_bytes', big, (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('max_attempts', 'integer', (c) => c.notNull())
    .addColumn('available_at', big, (c) => c.notNull())
    .addColumn('lease_hash', 'varchar(64)')
    .addColumn('lease_until', big)
    .addColumn('outcome', 'varchar(20)')
    .addColumn('note', 'text')
    .addColumn('done_at', 'varchar(40)')
    .addColumn('expires_at', big, (c) => c.notNull())
    .addColumn('mac', 'varchar(64)')
    .execute();
  await db.schema
    .createIndex('webhook_events_seq')
    .on('webhook_events')
    .columns(['endpoint', 'seq'])
    .unique()
    .execute();
  // What a poll scans: the deliverable events of an endpoint in order.
  await db.schema
    .createIndex('webhook_events_ready')
    .on('webhook_events')
    .columns(['endpoint', 'state', 'available_at'])
    .execute();
  await db.schema.createIndex('webhook_events_expiry').on('webhook_events').column('expires_at').execute();
  await db.schema
    .createTable('webhook_dedupe')
    .addColumn('endpoint', 'varchar(64)', (c) => c.notNull())
    .addColumn('key', 'varchar(300)', (c) => c.notNull())
    .addColumn('event', 'varchar(40)', (c) => c.notNull())
    .addColumn('expires_at', big, (c) => c.notNull())
    .addPrimaryKeyConstraint('webhook_dedupe_pk', ['endpoint', 'key'])
    .execute();
  // An event's keys, taken back with it when its audit record could not be written.
  await db.schema.createIndex('webhook_dedupe_event').on('webhook_dedupe').column('event').execute();
  await db.schema.createIndex('webhook_dedupe_expiry').on('webhook_dedupe').column('expires_at').execute();
}
