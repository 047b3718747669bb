import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';

import { GatehouseError } from '../core/index.js';
import { migrate } from './migrate.js';
import { applyStorePragmas } from './pragmas.js';
import type { Dialect, Store } from './types.js';

export interface OpenStoreOptions {
  /** PostgreSQL connection string; when set, PostgreSQL is used instead of the embedded SQLite file. */
  databaseUrl?: string;
  /** The embedded store's file (WAL mode). Required when databaseUrl is not set. */
  sqliteFile?: string;
  /** PostgreSQL schema to use (created if missing); tests give each run its own. */
  schema?: string;
  /** Run migrations on open (default true). */
  migrate?: boolean;
  /** Max PostgreSQL connections (default 10). */
  poolSize?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Opens the store: embedded SQLite (WAL, busy timeout) by default, PostgreSQL when a URL is given.
 * Migrations run on open; they are idempotent and safe when several processes open at once.
 */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const store = opts.databaseUrl ? await openPostgres(opts) : openSqlite(opts);
  try {
    if (opts.migrate !== false) await migrate(store.db, store.dialect);
    return store;
  } catch (e) {
    await store.close().catch(() => undefined);
    throw e;
  }
}

function openSqlite(opts: OpenStoreOptions): Store {
  if (!opts.sqliteFile) throw new GatehouseError('config_invalid', 'no store configured', { hint: 'set DATABASE_URL or GATEHOUSE_HOME' });
  let handle: Database.Database;
  try {
    handle = new Database(opts.sqliteFile);
    // WAL lets many readers run beside one writer across processes; the busy timeout makes a
    // second process wait for the write lock instead of failing at once.
    applyStorePragmas(handle);
    handle.pragma('foreign_keys = ON');
  } catch (e) {
    throw new GatehouseError('store_unavailable', `cannot open the embedded store at ${opts.sqliteFile}`, {
      hint: 'check that GATEHOUSE_HOME is writable by this user',
      cause: e,
    });
  }
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: handle }) });
  return { db, dialect: 'sqlite', sqlite: handle, close: () => db.destroy(), description: `sqlite:${opts.sqliteFile}` };
}

async function openPostgres(opts: OpenStoreOptions): Promise<Store> {
  const schema = opts.schema;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new GatehouseError('config_invalid', `invalid schema name ${JSON.stringify(schema)}`, { hint: 'use lowercase letters, digits and _' });
  }
  // The PostgreSQL driver is loaded only when PostgreSQL is used.
  const { default: pgm } = await import('pg');
  const pool = new pgm.Pool({
    connectionString: opts.databaseUrl,
    max: opts.poolSize ?? 10,
    // Each connection works inside the chosen schema.
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  pool.on('error', () => undefined); // idle-client errors surface on the next query instead
  try {
    const c = await pool.connect();
    try {
      // Two processes may create the same schema at once; the loser's unique violation is harmless.
      if (schema) await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`).catch((e: { code?: string }) => {
        if (e.code !== '23505' && e.code !== '42P06') throw e;
      });
    } finally {
      c.release();
    }
  } catch (e) {
    await pool.end().catch(() => undefined);
    throw new GatehouseError('store_unavailable', 'cannot reach PostgreSQL at DATABASE_URL', {
      hint: 'check that PostgreSQL is running and DATABASE_URL is right',
      cause: e,
    });
  }
  const db = new Kysely<any>({ dialect: new PostgresDialect({ pool }) });
  const url = new URL(opts.databaseUrl!);
  return {
    db,
    dialect: 'postgres',
    close: () => db.destroy(),
    description: `postgres://${url.host}${url.pathname}${schema ? `#${schema}` : ''}`,
  };
}

/** Drops a PostgreSQL schema (test cleanup). */
export async function dropSchema(databaseUrl: string, schema: string): Promise<void> {
  if (!SCHEMA_NAME.test(schema)) throw new GatehouseError('config_invalid', 'invalid schema name');
  const { default: pgm } = await import('pg');
  const c = new pgm.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await c.end();
  }
}

/** Cheap liveness probe used by `doctor` and `/health`. */
export async function pingStore(store: Store): Promise<void> {
  await sql`select 1`.execute(store.db);
}

export type { Dialect };
