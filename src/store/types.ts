import type { Kysely } from 'kysely';
import type { SqliteConnection } from './sqlite-driver.js';

export type Dialect = 'sqlite' | 'postgres';

/**
 * A Kysely handle untyped at the table level (see `Store.db`): the one place `any` is allowed for
 * it, so every other module names this type instead of writing `Kysely<any>`.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type UntypedDb = Kysely<any>;

/**
 * A handle on the database. `db` is untyped at the table level on purpose: each module owns its
 * tables and its repository (typed rows live there), and only the repositories write SQL.
 */
export interface Store {
  readonly db: UntypedDb;
  readonly dialect: Dialect;
  /**
   * The embedded store's own handle (SQLite only), for the few hot paths that need prepared
   * statements without a query builder in between (the audit writer). Everything else uses `db`.
   */
  readonly sqlite?: SqliteConnection;
  /**
   * A file-backed embedded store's second connection, for the audit writer alone: opened on the
   * first call (the same connection every time after) and closed with the store. Why: the writer
   * commits at `synchronous = NORMAL` with no busy wait and flushes the WAL itself; on a connection
   * of its own it sets that once, instead of switching the shared connection's level and busy
   * timeout around every batch (two more statements compiled and run per batch), and it never
   * waits for a query-builder transaction open on the shared one. Absent for an in-memory store,
   * which has one connection only.
   */
  auditConnection?(): SqliteConnection;
  /** Where the store lives, for humans (no credentials). */
  readonly description: string;
  /**
   * The migrations this process applied when it opened the store (empty when another process had
   * applied them, or when opened with `migrate: false`).
   */
  readonly migrationsAppliedNow: readonly string[];
  /**
   * PostgreSQL only: the LISTEN/NOTIFY channel for `name` in this store (one per schema), and a
   * dedicated connection that LISTENs on it until the returned function ends it. Notifications are
   * hints that something changed; the tables stay the source of truth.
   */
  notifyChannel?(name: string): string;
  listen?(channel: string, onNotify: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * What a migration gets besides the database: Kysely's `sql` tag for statements the builder has no
 * words for. Migrations are loaded from files beside the bundle, so one that imported kysely itself
 * would load the whole unbundled package (hundreds of files) at every start, migrations applied or
 * not: `gatehouse mcp` started 70 ms slower for one such import.
 */
export interface MigrationKit {
  sql: typeof import('kysely').sql;
}

export interface Migration {
  name: string;
  up(db: UntypedDb, dialect: Dialect, kit: MigrationKit): Promise<void>;
}
