import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * Approvals (src/approvals). Timestamps are ISO-8601 UTC text, so they compare as strings on both
 * databases. INVARIANT: no column holds a plaintext TOTP seed: `approvers.seed_ciphertext` is
 * AES-256-GCM under the internal key `approver-seeds` (wrapped by the master key in vault_keyring)
 * with AD = `gatehouse:v1|approver-seed|<name>`.
 */
export async function up(db: UntypedDb, _dialect: Dialect): Promise<void> {
  // One row per approval a person is asked for. status: pending -> approved | denied (never back).
  // consumed_at is set once, by the single UPDATE that lets the approved action run.
  await db.schema
    .createTable('approvals')
    .addColumn('id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('token_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('token_name', 'varchar(200)', (c) => c.notNull())
    .addColumn('tool', 'varchar(100)', (c) => c.notNull())
    .addColumn('target', 'varchar(200)')
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('operation', 'text')
    .addColumn('digest', 'varchar(64)', (c) => c.notNull())
    .addColumn('rule', 'varchar(200)', (c) => c.notNull())
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('matched', 'text', (c) => c.notNull())
    .addColumn('mode', 'varchar(20)', (c) => c.notNull())
    .addColumn('status', 'varchar(20)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('expires_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('decided_at', 'varchar(40)')
    .addColumn('decided_by', 'varchar(200)')
    .addColumn('channel', 'varchar(20)')
    .addColumn('note', 'text')
    .addColumn('consumed_at', 'varchar(40)')
    .execute();
  await db.schema.createIndex('approvals_status').on('approvals').columns(['status', 'expires_at']).execute();
  await db.schema.createIndex('approvals_created').on('approvals').column('created_at').execute();

  // Nonces of sealed requestState values already redeemed (single use across processes).
  // Rows are pruned a while after their expiry; an expired state is refused before this table is asked.
  await db.schema
    .createTable('approval_state_nonces')
    .addColumn('nonce', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('expires_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('used_at', 'varchar(40)', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('approval_state_nonces_expires')
    .on('approval_state_nonces')
    .column('expires_at')
    .execute();

  // TOTP approvers. last_step: the last RFC 6238 time step accepted (codes are never reused).
  // fail_count / fail_since: wrong codes in the current lockout window (brute-force brake).
  await db.schema
    .createTable('approvers')
    .addColumn('name', 'varchar(100)', (c) => c.primaryKey())
    .addColumn('seed_ciphertext', 'text', (c) => c.notNull())
    .addColumn('seed_nonce', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('last_step', 'bigint')
    .addColumn('last_used_at', 'varchar(40)')
    .addColumn('fail_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('fail_since', 'varchar(40)')
    .execute();
}
