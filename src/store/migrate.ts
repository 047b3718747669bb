import { readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { sql } from 'kysely';
import { GatehouseError } from '../core/index.js';
import type { Dialect, Migration, UntypedDb } from './types.js';

// The top-level migrations/ folder: ../../migrations from src/store (ts under vitest) and from
// dist/src/store (compiled), so the same code finds them in both layouts.
const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
const FILE = /^(\d{4}_[a-z0-9_]+)\.(js|ts)$/;
// An arbitrary constant: the PostgreSQL advisory lock every Gatehouse process takes to migrate.
const PG_MIGRATION_LOCK = 720_401_1;

/** Each migration's name and the file that holds it, in the order they apply. */
function migrationFiles(dir: string): [name: string, file: string][] {
  const names = new Map<string, string>();
  for (const f of readdirSync(dir)) {
    const [, name, ext] = FILE.exec(f) ?? [];
    if (name === undefined || f.endsWith('.d.ts')) continue;
    // Under vitest both foo.ts and (stale) foo.js could exist; prefer the one matching this file.
    const preferred = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
    if (!names.has(name) || ext === preferred) names.set(name, f);
  }
  return [...names.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

export async function loadMigrations(dir: string = MIGRATIONS_DIR): Promise<Migration[]> {
  const out: Migration[] = [];
  for (const [name, file] of migrationFiles(dir)) {
    const mod = (await import(pathToFileURL(join(dir, file)).href)) as Partial<Migration>;
    if (typeof mod.up !== 'function') throw new GatehouseError('internal', `migration ${name} has no up()`);
    out.push({ name, up: mod.up });
  }
  return out;
}

/**
 * Applies every migration not yet applied, all inside one transaction that holds the store's
 * write lock (SQLite: BEGIN IMMEDIATE; PostgreSQL: a transaction-scoped advisory lock). A second
 * process starting at the same moment waits for the lock, then sees the migrations as applied:
 * nothing is applied twice and a half-applied schema is never visible.
 */
export async function migrate(db: UntypedDb, dialect: Dialect): Promise<string[]> {
  // Nearly every start finds every migration applied: then neither the lock nor the migrations'
  // own modules are needed (loading them was a measurable part of `gatehouse mcp`'s cold start).
  // Reading the names without the lock is safe: a migration's name is written in the transaction
  // that applies it, so a name that is there means its schema change is there too.
  const done = await appliedNames(db);
  if (migrationFiles(MIGRATIONS_DIR).every(([name]) => done.has(name))) return [];
  const migrations = await loadMigrations();
  return db.connection().execute(async (conn) => {
    await sql.raw(dialect === 'sqlite' ? 'BEGIN IMMEDIATE' : 'BEGIN').execute(conn);
    try {
      if (dialect === 'postgres') await sql`SELECT pg_advisory_xact_lock(${PG_MIGRATION_LOCK})`.execute(conn);
      await conn.schema
        .createTable('gatehouse_migrations')
        .ifNotExists()
        .addColumn('name', 'varchar(200)', (c) => c.primaryKey())
        .addColumn('applied_at', 'varchar(40)', (c) => c.notNull())
        .execute();
      const rows = await conn.selectFrom('gatehouse_migrations').select('name').execute();
      const done = new Set(rows.map((r: { name: string }) => r.name));
      const applied: string[] = [];
      for (const m of migrations) {
        if (done.has(m.name)) continue;
        await m.up(conn, dialect, { sql });
        await conn
          .insertInto('gatehouse_migrations')
          .values({ name: m.name, applied_at: new Date().toISOString() })
          .execute();
        applied.push(m.name);
      }
      await sql.raw('COMMIT').execute(conn);
      return applied;
    } catch (e) {
      await sql
        .raw('ROLLBACK')
        .execute(conn)
        .catch(() => undefined);
      throw new GatehouseError('store_unavailable', `store migration failed: ${(e as Error).message}`, {
        hint: 'the store was left unchanged; fix the cause and start again',
        cause: e,
      });
    }
  });
}

/** The migrations this store has applied (none when it has no migrations table yet). */
async function appliedNames(db: UntypedDb): Promise<Set<string>> {
  try {
    const rows = await db.selectFrom('gatehouse_migrations').select('name').execute();
    return new Set(rows.map((r: { name: string }) => r.name));
  } catch {
    return new Set(); // table missing: everything is pending
  }
}

/** Names of migrations known to the code but not applied to this store (for `doctor`). */
export async function pendingMigrations(db: UntypedDb): Promise<string[]> {
  const done = await appliedNames(db);
  return migrationFiles(MIGRATIONS_DIR)
    .map(([name]) => name)
    .filter((n) => !done.has(n));
}
