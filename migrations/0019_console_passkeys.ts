import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * Passkeys for the console's decisions that matter (issue 17). Times are epoch milliseconds.
 *
 *  - `console_passkeys`: one row per registered WebAuthn credential: its id (base64url), the
 *    COSE public key (base64url), the transports the browser reported, who added it and when.
 *    `mac` signs id, label, public key, adder and time under the store-integrity key, so a key
 *    inserted into the table without the master key is not a passkey. `counter` and
 *    `last_used_at` change on every use and stay outside the signature (the counter only helps
 *    notice a cloned authenticator).
 *  - `console_passkey_nonces`: the challenge nonces already spent, until they expire, so one
 *    assertion is good for one decision only (the primary key refuses a second spend on any
 *    process). Challenges themselves are not stored: each carries its expiry and an HMAC over what
 *    it is bound to (src/console/passkeys.ts).
 */
export async function up(db: UntypedDb, dialect: Dialect): Promise<void> {
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  await db.schema
    .createTable('console_passkeys')
    .addColumn('credential_id', 'varchar(700)', (c) => c.primaryKey())
    .addColumn('label', 'varchar(100)', (c) => c.notNull())
    .addColumn('public_key', 'text', (c) => c.notNull())
    .addColumn('transports', 'varchar(200)', (c) => c.notNull())
    .addColumn('created_by', 'varchar(240)', (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .addColumn('counter', big, (c) => c.notNull())
    .addColumn('last_used_at', big)
    .addColumn('mac', 'varchar(64)', (c) => c.notNull())
    .execute();
  await db.schema
    .createTable('console_passkey_nonces')
    .addColumn('nonce', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('expires_at', big, (c) => c.notNull())
    .execute();
}
