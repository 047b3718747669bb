import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * Model usage (issue 20 item 3): tokens counted from model APIs' answers through `/gateway`, per
 * Gatehouse token, target and UTC day; and per-token daily budgets, each row signed with the store
 * integrity key (`token-budget/v1`) so a database writer cannot lift a budget without the master
 * key (a row that does not verify refuses every model call of that token: fail closed).
 */
export async function up(db: UntypedDb, _dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('model_usage')
    .addColumn('token_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('target', 'varchar(100)', (c) => c.notNull())
    .addColumn('day', 'varchar(10)', (c) => c.notNull())
    .addColumn('input', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('output', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('cache_read', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('cache_write', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('calls', 'bigint', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('model_usage_pk', ['token_id', 'target', 'day'])
    .execute();
  await db.schema
    .createTable('token_budgets')
    .addColumn('token_id', 'varchar(40)', (c) => c.primaryKey())
    .addColumn('max_tokens_per_day', 'bigint', (c) => c.notNull())
    .addColumn('mac', 'varchar(64)', (c) => c.notNull())
    .execute();
}
