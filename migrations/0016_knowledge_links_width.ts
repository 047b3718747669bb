import type { Dialect, MigrationKit, UntypedDb } from '../src/store/index.js';

/**
 * A link target is `ns:slug`: up to 63 + 1 + 512 characters. 0015 made the column 300 wide, so a
 * long slug's links were left out of backlinks and orphan counts. PostgreSQL enforces the width
 * (SQLite does not): widen it to 600.
 */
export async function up(db: UntypedDb, dialect: Dialect, { sql }: MigrationKit): Promise<void> {
  if (dialect === 'postgres') await sql`ALTER TABLE knowledge_links ALTER COLUMN to_key TYPE varchar(600)`.execute(db);
}
