import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * The console's login and sessions (issue 17, first step). Times are epoch milliseconds.
 *
 *  - `console_sessions`: one row per browser session. `id_hash` is the SHA-256 (hex) of the
 *    256-bit random cookie value; the value itself is never stored, so reading the table gives
 *    nobody a session. The CSRF token is not stored either: it is derived from `id_hash` under an
 *    internal key (HMAC, `console-csrf`). `token_id` is the admin token the session was opened
 *    with (null for a one-time login link); `label` says who (`login-link:USER` or the token's
 *    name). `expires_at` is absolute; the idle limit is checked against `last_seen_at`. `mac`
 *    signs what the session is (hash, token, label, creation and absolute expiry) under the
 *    store-integrity key, so a row inserted or stretched without the master key opens nothing;
 *    `last_seen_at` and `revoked_at` stay outside the signature (they change on use, and the
 *    absolute expiry bounds what a changed `last_seen_at` could buy).
 *  - `console_login_codes`: one-time login codes (`gatehouse console`), stored as the SHA-256 of
 *    the code, valid until `expires_at`, spent by setting `used_at` in the one UPDATE that checks
 *    it is unused and unexpired. Signed like sessions (a code row written without the master key
 *    logs nobody in).
 */
export async function up(db: UntypedDb, dialect: Dialect): Promise<void> {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('console_sessions')
    .addColumn('id_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('token_id', 'varchar(40)')
    .addColumn('label', 'varchar(240)', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .addColumn('last_seen_at', big, (c) => c.notNull())
    .addColumn('expires_at', big, (c) => c.notNull())
    .addColumn('revoked_at', big)
    .addColumn('mac', 'varchar(64)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('console_sessions_expiry').on('console_sessions').column('expires_at').execute();
  await db.schema
    .createTable('console_login_codes')
    .addColumn('code_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('created_by', 'varchar(200)', (c) => c.notNull())
    .addColumn('expires_at', big, (c) => c.notNull())
    .addColumn('used_at', big)
    .addColumn('mac', 'varchar(64)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('console_login_codes_expiry').on('console_login_codes').column('expires_at').execute();
}
