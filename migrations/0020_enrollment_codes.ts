import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * One-time enrollment codes (issue 17 item 8): a person chooses a token's scope in the console's
 * Connect page and gets a code instead of a token; `gatehouse connect CLIENT --enroll CODE` on the
 * agent's machine turns it into the token, written straight into a file the client's setup names,
 * so the token is never shown, pasted or kept in a shell history. Times are epoch milliseconds.
 *
 * `code_hash` is the SHA-256 of the code (the code itself is not stored); `spec` is the token to
 * create (name, grants, approval mode, expiry) as JSON; `mac` signs hash, spec, creator and expiry
 * under the store-integrity key, so a code row written without the master key makes no token.
 * `used_at` is set by the one UPDATE that spends the code; `token_id` then names the token made.
 */
export async function up(db: UntypedDb, dialect: Dialect): Promise<void> {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('enrollment_codes')
    .addColumn('code_hash', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('spec', 'text', (c) => c.notNull())
    .addColumn('created_by', 'varchar(240)', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .addColumn('expires_at', big, (c) => c.notNull())
    .addColumn('used_at', big)
    .addColumn('token_id', 'varchar(40)')
    .addColumn('mac', 'varchar(64)', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('enrollment_codes_expiry').on('enrollment_codes').column('expires_at').execute();
}
