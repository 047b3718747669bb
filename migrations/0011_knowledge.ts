import type { Dialect, MigrationKit, UntypedDb } from '../src/store/index.js';

/**
 * The shared knowledge layer (issue 15, src/knowledge/): the text agents keep for later agents
 * (memory, org skills, wiki pages), one table for what is current and one for every version.
 *
 *  - `knowledge_items`: one row per (kind, scope, key) with its current version denormalised (the
 *    text searched and listed). `n` is an integer key for the SQLite full-text index (FTS5 needs
 *    an integer rowid that VACUUM never renumbers); `id` is the stable public id. `deleted` marks
 *    a tombstone: the item and its history stay until an operator purges them.
 *  - `knowledge_versions`: every write, delete, restore and revert as an immutable row: who (token
 *    id and name, or an operator), trust, time, the content and its sha256, signed with the store
 *    integrity key (`mac`), so a row changed in SQL reads as tampered instead of as what an agent
 *    wrote.
 *  - Full-text search: SQLite, an FTS5 index over the current title, summary, tags and body, kept
 *    in step by triggers (external content, unicode61 without diacritic folding); PostgreSQL, a
 *    generated weighted `tsvector` with a GIN index. Both split text the same way: runs of letters
 *    and digits, case folded, no stemming (PostgreSQL's `simple` configuration over the text with
 *    everything else turned into spaces first; its own parser would keep `on-call` or an email
 *    address as extra tokens and rank those items differently from SQLite).
 */
export async function up(db: UntypedDb, dialect: Dialect, { sql }: MigrationKit): Promise<void> {
  await db.schema
    .createTable('knowledge_items')
    .addColumn('n', dialect === 'postgres' ? 'bigserial' : 'integer', (c) => c.primaryKey())
    .addColumn('id', 'varchar(40)', (c) => c.notNull().unique())
    .addColumn('kind', 'varchar(20)', (c) => c.notNull())
    .addColumn('scope', 'varchar(250)', (c) => c.notNull())
    .addColumn('key', 'varchar(1024)', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('deleted', 'integer', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('updated_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('updated_by', 'varchar(250)', (c) => c.notNull())
    .execute();
  await db.schema
    .createIndex('knowledge_items_key')
    .on('knowledge_items')
    .columns(['kind', 'scope', 'key'])
    .unique()
    .execute();
  await db.schema
    .createTable('knowledge_versions')
    .addColumn('item_id', 'varchar(40)', (c) => c.notNull())
    .addColumn('version', 'integer', (c) => c.notNull())
    .addColumn('op', 'varchar(20)', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('summary', 'text', (c) => c.notNull())
    .addColumn('tags', 'text', (c) => c.notNull())
    .addColumn('body', 'text', (c) => c.notNull())
    .addColumn('sha256', 'varchar(64)', (c) => c.notNull())
    .addColumn('author_token_id', 'varchar(250)')
    .addColumn('author', 'varchar(250)', (c) => c.notNull())
    .addColumn('trust', 'varchar(20)', (c) => c.notNull())
    .addColumn('note', 'text')
    .addColumn('created_at', 'varchar(40)', (c) => c.notNull())
    .addColumn('mac', 'varchar(64)', (c) => c.notNull())
    .addPrimaryKeyConstraint('knowledge_versions_pk', ['item_id', 'version'])
    .execute();
  if (dialect === 'postgres') {
    await sql`ALTER TABLE knowledge_items ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', regexp_replace(title, '[^[:alnum:]]+', ' ', 'g')), 'A') ||
        setweight(to_tsvector('simple', regexp_replace(tags, '[^[:alnum:]]+', ' ', 'g')), 'B') ||
        setweight(to_tsvector('simple', regexp_replace(summary, '[^[:alnum:]]+', ' ', 'g')), 'B') ||
        setweight(to_tsvector('simple', regexp_replace(body, '[^[:alnum:]]+', ' ', 'g')), 'C')
      ) STORED`.execute(db);
    await sql`CREATE INDEX knowledge_items_tsv ON knowledge_items USING GIN (tsv)`.execute(db);
    return;
  }
  await sql`CREATE VIRTUAL TABLE knowledge_fts USING fts5(
      title, summary, tags, body,
      content='knowledge_items', content_rowid='n', tokenize='unicode61 remove_diacritics 0'
    )`.execute(db);
  await sql`CREATE TRIGGER knowledge_fts_insert AFTER INSERT ON knowledge_items BEGIN
      INSERT INTO knowledge_fts (rowid, title, summary, tags, body) VALUES (new.n, new.title, new.summary, new.tags, new.body);
    END`.execute(db);
  await sql`CREATE TRIGGER knowledge_fts_delete AFTER DELETE ON knowledge_items BEGIN
      INSERT INTO knowledge_fts (knowledge_fts, rowid, title, summary, tags, body) VALUES ('delete', old.n, old.title, old.summary, old.tags, old.body);
    END`.execute(db);
  await sql`CREATE TRIGGER knowledge_fts_update AFTER UPDATE ON knowledge_items BEGIN
      INSERT INTO knowledge_fts (knowledge_fts, rowid, title, summary, tags, body) VALUES ('delete', old.n, old.title, old.summary, old.tags, old.body);
      INSERT INTO knowledge_fts (rowid, title, summary, tags, body) VALUES (new.n, new.title, new.summary, new.tags, new.body);
    END`.execute(db);
}
