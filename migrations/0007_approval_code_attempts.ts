import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * Brute-force brakes on TOTP approval codes (src/approvals/code-attempts.ts), reserved BEFORE a
 * code is compared, by one conditional statement each, so concurrent attempts from any number of
 * processes never check more codes than the limit.
 *
 * - `approval_code_attempts`: one row per (approver, token) pair: wrong-code attempts in the
 *   current fixed window. A token that guesses locks only itself out of that approver.
 * - `approvers.brake_tat`: the shared brake per approver (all tokens together), a GCRA "theoretical
 *   arrival time" in ms since the epoch: a burst, then one attempt per interval. It slows the total
 *   rate of guesses (many tokens guessing in parallel) without locking anyone out for long.
 *
 * `approvers.fail_count` / `fail_since` (0004) are no longer read or written.
 */
export async function up(db: UntypedDb, _dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('approval_code_attempts')
    .addColumn('approver', 'varchar(100)', (c) => c.notNull())
    .addColumn('token_id', 'varchar(200)', (c) => c.notNull())
    .addColumn('window_start', 'bigint', (c) => c.notNull())
    .addColumn('count', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('approval_code_attempts_pk', ['approver', 'token_id'])
    .execute();
  await db.schema.alterTable('approvers').addColumn('brake_tat', 'bigint').execute();
}
