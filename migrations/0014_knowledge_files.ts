import type { Dialect, UntypedDb } from '../src/store/index.js';

/**
 * Org skills (issue 15): a skill is a folder of files, each version content-addressed.
 *
 *  - `knowledge_items.meta` / `knowledge_versions.meta`: what a kind keeps besides title, summary,
 *    tags and body, as canonical JSON (a skill version's manifest digest, a wiki page's sources).
 *    A version's signed content hash covers it when it is not empty; every row written before it
 *    exists has `{}` and hashes as before.
 *  - `knowledge_files`: file contents by SHA-256 (a skill's SKILL.md, scripts, references, assets,
 *    and each version's manifest, which lists its files' paths, sizes and hashes). Content-addressed
 *    rows never change: a version refers to its manifest by digest, and every read hashes the bytes
 *    again, so what is served is what the signed version names or nothing.
 */
export async function up(db: UntypedDb, dialect: Dialect): Promise<void> {
  for (const table of ['knowledge_items', 'knowledge_versions']) {
    await db.schema
      .alterTable(table)
      .addColumn('meta', 'text', (c) => c.notNull().defaultTo('{}'))
      .execute();
  }
  await db.schema
    .createTable('knowledge_files')
    .addColumn('sha256', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('bytes', dialect === 'postgres' ? 'bigint' : 'integer', (c) => c.notNull())
    .addColumn('data', dialect === 'postgres' ? 'bytea' : 'blob', (c) => c.notNull())
    .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
    .execute();
}
