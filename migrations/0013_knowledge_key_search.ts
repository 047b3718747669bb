import type { Dialect, MigrationKit, UntypedDb } from '../src/store/index.js';

/**
 * An item's key (a memory's path, a page's slug) is searched too, weighted like its title: agents
 * name memories by what they are about (`runbooks/deploy.md`), and a search for "deploy" that
 * missed it was the first thing a walkthrough of the README hit. SQLite: the FTS5 index and its
 * triggers are made again with the key, and filled from the items; PostgreSQL: the generated
 * `tsvector` is made again with the key (split into words the same way as the rest).
 */
export async function up(db: UntypedDb, dialect: Dialect, { sql }: MigrationKit): Promise<void> {
  if (dialect === 'postgres') {
    await sql`ALTER TABLE knowledge_items DROP COLUMN tsv`.execute(db);
    await sql`ALTER TABLE knowledge_items ADD COLUMN tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', regexp_replace(key, '[^[:alnum:]]+', ' ', 'g')), 'A') ||
        setweight(to_tsvector('simple', regexp_replace(title, '[^[:alnum:]]+', ' ', 'g')), 'A') ||
        setweight(to_tsvector('simple', regexp_replace(tags, '[^[:alnum:]]+', ' ', 'g')), 'B') ||
        setweight(to_tsvector('simple', regexp_replace(summary, '[^[:alnum:]]+', ' ', 'g')), 'B') ||
        setweight(to_tsvector('simple', regexp_replace(body, '[^[:alnum:]]+', ' ', 'g')), 'C')
      ) STORED`.execute(db);
    await sql`CREATE INDEX knowledge_items_tsv ON knowledge_items USING GIN (tsv)`.execute(db);
    return;
  }
  for (const t of ['knowledge_fts_insert', 'knowledge_fts_delete', 'knowledge_fts_update'])
    await sql.raw(`DROP TRIGGER IF EXISTS ${t}`).execute(db);
  await sql`DROP TABLE IF EXISTS knowledge_fts`.execute(db);
  await sql`CREATE VIRTUAL TABLE knowledge_fts USING fts5(
      key, title, summary, tags, body,
      content='knowledge_items', content_rowid='n', tokenize='unicode61 remove_diacritics 0'
    )`.execute(db);
  await sql`CREATE TRIGGER knowledge_fts_insert AFTER INSERT ON knowledge_items BEGIN
      INSERT INTO knowledge_fts (rowid, key, title, summary, tags, body) VALUES (new.n, new.key, new.title, new.summary, new.tags, new.body);
    END`.execute(db);
  await sql`CREATE TRIGGER knowledge_fts_delete AFTER DELETE ON knowledge_items BEGIN
      INSERT INTO knowledge_fts (knowledge_fts, rowid, key, title, summary, tags, body) VALUES ('delete', old.n, old.key, old.title, old.summary, old.tags, old.body);
    END`.execute(db);
  await sql`CREATE TRIGGER knowledge_fts_update AFTER UPDATE ON knowledge_items BEGIN
      INSERT INTO knowledge_fts (knowledge_fts, rowid, key, title, summary, tags, body) VALUES ('delete', old.n, old.key, old.title, old.summary, old.tags, old.body);
      INSERT INTO knowledge_fts (rowid, key, title, summary, tags, body) VALUES (new.n, new.key, new.title, new.summary, new.tags, new.body);
    END`.execute(db);
  await sql`INSERT INTO knowledge_fts (knowledge_fts) VALUES ('rebuild')`.execute(db);
}
