import type { UntypedDb } from '../src/store/index.js';

/**
 * Targets: the HTTP APIs and SSH servers tokens are granted. `config` is JSON text holding only
 * non-secret settings (base URL, auth kind, host, user, pinned host key) and vault references
 * (`vault:VAULT/ITEM.FIELD`), never a credential.
 */
export async function up(db: UntypedDb): Promise<void> {
  await db.schema
    .createTable('targets')
    .addColumn('name', 'varchar(100)', (c) => c.primaryKey())
    .addColumn('kind', 'varchar(20)', (c) => c.notNull())
    .addColumn('description', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('config', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(40)', (c) => c.notNull())
    .execute();
}
