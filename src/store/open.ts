import { Kysely, SqliteDialect, sql } from 'kysely';

import { cutText, GatehouseError, log } from '../core/index.js';
import { migrate } from './migrate.js';
import { TypedErrorsPostgresDialect } from './pg-dialect.js';
import { applyStorePragmas } from './pragmas.js';
import {
  chooseSqliteDriver,
  openSqliteConnection,
  type SqliteConnection,
  type SqliteDriverChoice,
} from './sqlite-driver.js';
import type { Dialect, Store } from './types.js';

export interface OpenStoreOptions {
  /** PostgreSQL connection string; when set, PostgreSQL is used instead of the embedded SQLite file. */
  databaseUrl?: string;
  /** The embedded store's file (WAL mode). Required when databaseUrl is not set. */
  sqliteFile?: string;
  /** Which SQLite driver opens it (default `auto`: see sqlite-driver.ts). */
  sqliteDriver?: SqliteDriverChoice;
  /** PostgreSQL schema to use (created if missing); tests give each run its own. */
  schema?: string;
  /** Run migrations on open (default true). */
  migrate?: boolean;
  /**
   * Create the PostgreSQL schema when it is missing (default true). `false` for processes that
   * must not change the store they inspect (`vault rekey`, `doctor`): a missing schema is then a
   * `not_found` error instead of a new, empty store.
   */
  createSchema?: boolean;
  /** Max PostgreSQL connections (default 10). */
  poolSize?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Opens the store: embedded SQLite (WAL, busy timeout) by default, PostgreSQL when a URL is given.
 * Migrations run on open; they are safe when several processes open at once (each is applied once).
 * Processes choose these options with `storeOptionsFromEnv`, never by reading the environment.
 */
export async function openStore(opts: OpenStoreOptions): Promise<Store> {
  const opened = opts.databaseUrl ? await openPostgres(opts) : openSqlite(opts);
  try {
    const applied = opts.migrate !== false ? await migrate(opened.db, opened.dialect) : [];
    // Which migrations THIS process applied: work that must happen exactly once after a migration
    // (signing the rows that existed before 0006_integrity) is done by that process only.
    return { ...opened, migrationsAppliedNow: Object.freeze([...applied]) };
  } catch (e) {
    await opened.close().catch(() => undefined);
    throw e;
  }
}

type OpenedStore = Omit<Store, 'migrationsAppliedNow'>;

function openSqlite(opts: OpenStoreOptions): OpenedStore {
  if (!opts.sqliteFile)
    throw new GatehouseError('config_invalid', 'no store configured', { hint: 'set DATABASE_URL or GATEHOUSE_HOME' });
  const driver = chooseSqliteDriver(opts.sqliteDriver);
  let handle: SqliteConnection;
  try {
    handle = openSqliteConnection(opts.sqliteFile, driver);
  } catch (e) {
    if (e instanceof GatehouseError) throw e;
    throw new GatehouseError('store_unavailable', `cannot open the embedded store at ${opts.sqliteFile}`, {
      hint: 'check that GATEHOUSE_HOME is writable by this user',
      cause: e,
    });
  }
  try {
    // WAL lets many readers run beside one writer across processes; the busy timeout makes a
    // second process wait for the write lock instead of failing at once.
    applyStorePragmas(handle);
    handle.exec('PRAGMA foreign_keys = ON');
  } catch (e) {
    handle.close();
    throw new GatehouseError('store_unavailable', `cannot open the embedded store at ${opts.sqliteFile}`, {
      hint: 'check that GATEHOUSE_HOME is writable by this user',
      cause: e,
    });
  }
  const db = new Kysely<Record<string, never>>({ dialect: new SqliteDialect({ database: handle }) });
  const file = opts.sqliteFile;
  let audit: SqliteConnection | undefined;
  let closed = false;
  return {
    db,
    dialect: 'sqlite',
    sqlite: handle,
    // Same file, same driver (one process never mixes drivers: sqlite-driver.ts), same pragmas as
    // every connection; the audit writer then sets its own (sqlite-writer.ts).
    auditConnection: handle.memory
      ? undefined
      : () => {
          if (audit) return audit;
          if (closed) throw new GatehouseError('store_unavailable', 'the store is closed');
          const c = openSqliteConnection(file, driver);
          try {
            applyStorePragmas(c);
          } catch (e) {
            c.close();
            throw e;
          }
          return (audit = c);
        },
    close: async () => {
      closed = true;
      audit?.close();
      audit = undefined;
      await db.destroy();
    },
    description: `sqlite:${opts.sqliteFile} (${driver})`,
  };
}

async function openPostgres(opts: OpenStoreOptions): Promise<OpenedStore> {
  const schema = opts.schema;
  if (schema !== undefined && !SCHEMA_NAME.test(schema)) {
    throw new GatehouseError('config_invalid', `invalid schema name ${JSON.stringify(schema)}`, {
      hint: 'use lowercase letters, digits and _',
    });
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
  // INVARIANT: a lost connection never crashes the process. pg-pool listens for a client's errors
  // only while it is idle; one checked out between queries (a transaction held across awaits) that
  // loses its server emits 'error' with nobody listening, which Node turns into an uncaught
  // exception. Every client gets a listener of its own; the next query on it fails, typed
  // `store_unavailable` (pg-dialect.ts), and the pool replaces it.
  pool.on('connect', (client) => {
    client.on('error', (e: Error) => log.warn('a PostgreSQL connection was lost', { err: e }));
  });
  let missingSchema = false;
  try {
    const c = await pool.connect();
    try {
      // Two processes may create the same schema at once; the loser's unique violation is harmless.
      if (schema && opts.createSchema !== false)
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`).catch((e: { code?: string }) => {
          if (e.code !== '23505' && e.code !== '42P06') throw e;
        });
      if (schema && opts.createSchema === false) {
        const found = await c.query('SELECT 1 FROM information_schema.schemata WHERE schema_name = $1', [schema]);
        if (found.rowCount === 0) missingSchema = true;
      }
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
  if (missingSchema) {
    await pool.end().catch(() => undefined);
    throw new GatehouseError(
      'not_found',
      `PostgreSQL schema ${schema} does not exist (GATEHOUSE_PG_SCHEMA): there is no store there`,
      {
        hint: 'check GATEHOUSE_PG_SCHEMA and DATABASE_URL; Gatehouse creates the schema the first time `gatehouse serve` or `gatehouse mcp` starts with them',
      },
    );
  }
  const db = new Kysely<Record<string, never>>({ dialect: new TypedErrorsPostgresDialect({ pool }) });
  const url = new URL(opts.databaseUrl!);
  const listeners: { end(): Promise<void> }[] = [];
  return {
    db,
    dialect: 'postgres',
    notifyChannel: (name) => cutText(`gatehouse_${name}_${schema ?? 'public'}`, 63),
    async listen(channel, onNotify) {
      // A connection of its own: LISTEN holds it for as long as someone waits.
      const client = new pgm.Client({
        connectionString: opts.databaseUrl,
        ...(schema ? { options: `-c search_path=${schema}` } : {}),
      });
      client.on('error', (e: Error) => log.warn('a PostgreSQL LISTEN connection was lost', { err: e }));
      client.on('notification', (n) => onNotify(n.payload ?? ''));
      await client.connect();
      await client.query(`LISTEN ${client.escapeIdentifier(channel)}`);
      const handle = {
        end: async () => {
          listeners.splice(listeners.indexOf(handle), 1);
          await client.end().catch(() => undefined);
        },
      };
      listeners.push(handle);
      return handle.end;
    },
    close: async () => {
      for (const l of [...listeners]) await l.end();
      await db.destroy();
    },
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
