import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * A token may be bound to a user name (`token create --user NAME`, issue 15): the tokens of one
 * person share that person's memory scope. Signed with the rest of the row (src/gate/tokens.ts):
 * a name set or changed in SQL makes the token fail its integrity check.
 */
export async function up(db: UntypedDb, _dialect: Dialect): Promise<void> {
  await db.schema.alterTable('tokens').addColumn('user_name', 'varchar(100)').execute();
}
