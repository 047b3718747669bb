import type { UntypedDb } from '../src/store/index.js';

/**
 * Links between knowledge items (issue 15: a wiki page's `[[ns:slug]]` links and their
 * backlinks): one row per (item, target key) for the item's current version, kept by the
 * knowledge store in the same transaction as the version that names them (`meta.links`).
 * Backlinks are read joined to the items, filtered to the caller's readable scopes.
 */
export async function up(db: UntypedDb): Promise<void> {
  await db.schema
    .createTable('knowledge_links')
    .addColumn('item_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('to_key', 'varchar(300)', (c) => c.notNull())
    .addPrimaryKeyConstraint('knowledge_links_pk', ['item_id', 'to_key'])
    .execute();
  await db.schema.createIndex('knowledge_links_to').on('knowledge_links').column('to_key').execute();
}
