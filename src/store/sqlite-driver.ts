import { createRequire } from 'node:module';
import { GatehouseError } from '../core/index.js';

/**
 * The embedded store's connection, whichever driver opened it: better-sqlite3 (a native addon,
 * compiled at install) or Node's built-in `node:sqlite` (nothing to compile). Both are
 * synchronous, both speak the same file format and locking, so processes using different drivers
 * share one store. The shape is what Kysely's SQLite dialect needs (`prepare` with a `reader`
 * flag and array parameters) plus the few calls the audit writer makes itself.
 */
export interface SqliteConnection {
  readonly driver: SqliteDriverName;
  /** The database file as given (`:memory:` for an in-memory store). */
  readonly file: string;
  readonly memory: boolean;
  /** True while a transaction is open on this connection. */
  readonly inTransaction: boolean;
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  /** A PRAGMA's current value (its first column), e.g. `pragmaValue('journal_mode')`. */
  pragmaValue(name: string): unknown;
  /** Runs `fn` in one BEGIN IMMEDIATE transaction: committed if it returns, rolled back if it throws. */
  immediate<T>(fn: () => T): T;
  close(): void;
}

export type SqlParam = string | number | bigint | Buffer | Uint8Array | null;
export type SqlRow = Record<string, unknown>;

export interface SqliteStatement {
  /** True when the statement returns rows. */
  readonly reader: boolean;
  run(params?: readonly unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  get(params?: readonly unknown[]): SqlRow | undefined;
  all(params?: readonly unknown[]): SqlRow[];
  iterate(params?: readonly unknown[]): IterableIterator<SqlRow>;
}

export type SqliteDriverName = 'better-sqlite3' | 'node:sqlite';

/** What `GATEHOUSE_SQLITE_DRIVER` may say. */
export const SQLITE_DRIVER_CHOICES = ['auto', 'better-sqlite3', 'node:sqlite'] as const;
export type SqliteDriverChoice = (typeof SQLITE_DRIVER_CHOICES)[number];

const require = createRequire(import.meta.url);

/**
 * `node:sqlite` is chosen on its own only where Node calls it a release candidate (24.15 and 25.7
 * on): earlier it prints an ExperimentalWarning at every start. It needs `StatementSync#columns`
 * and `DatabaseSync#isTransaction` (22.16 / 24.0), so it is never used before those exist.
 */
export function nodeSqliteStable(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major >= 26 || (major === 25 && minor >= 7) || (major === 24 && minor >= 15);
}

function nodeSqliteUsable(version: string = process.versions.node): boolean {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major >= 23 || (major === 22 && minor >= 16);
}

/**
 * Which driver opens the embedded store. `auto`: node:sqlite where it is stable (above), else
 * better-sqlite3, else node:sqlite if this Node has a usable one (better-sqlite3 is an optional
 * dependency: an install that skipped or failed its native build still runs). An explicit choice
 * that cannot be honoured is an error, never a silent switch.
 */
export function chooseSqliteDriver(choice: SqliteDriverChoice = 'auto'): SqliteDriverName {
  if (choice === 'node:sqlite') {
    if (!nodeSqliteUsable()) {
      throw new GatehouseError('config_invalid', `node:sqlite needs Node 22.16 or later (this is ${process.version})`, {
        hint: 'unset GATEHOUSE_SQLITE_DRIVER to use better-sqlite3',
      });
    }
    return 'node:sqlite';
  }
  if (choice === 'better-sqlite3') return 'better-sqlite3';
  if (nodeSqliteStable()) return 'node:sqlite';
  if (betterSqliteInstalled() || !nodeSqliteUsable()) return 'better-sqlite3';
  return 'node:sqlite';
}

function betterSqliteInstalled(): boolean {
  try {
    require.resolve('better-sqlite3');
    return true;
  } catch {
    return false;
  }
}

/** Parses `GATEHOUSE_SQLITE_DRIVER` (unset or empty: auto). */
export function sqliteDriverChoice(value: string | undefined): SqliteDriverChoice {
  const v = (value ?? '').trim() || 'auto';
  if ((SQLITE_DRIVER_CHOICES as readonly string[]).includes(v)) return v as SqliteDriverChoice;
  throw new GatehouseError('config_invalid', `GATEHOUSE_SQLITE_DRIVER=${JSON.stringify(value)} is not a driver`, {
    hint: `use one of ${SQLITE_DRIVER_CHOICES.join(', ')}`,
  });
}

/** The driver of this process's open connections, and how many there are. */
let inUse: { driver: SqliteDriverName; open: number } | undefined;

/**
 * Opens a connection to `file` with the given driver.
 *
 * INVARIANT: one process never has connections of both drivers open at once. Each driver carries
 * its own copy of SQLite, and SQLite coordinates the connections of one process through state
 * inside its library (POSIX locks belong to the process, not to a connection): a connection of the
 * other copy would take a lock this process already holds and write beside an open transaction,
 * which corrupts the database (sqlite.org/howtocorrupt.html, "multiple copies of SQLite"). Across
 * processes the drivers share a store safely. The check below sees one thread's connections only:
 * the audit writer thread (audit/writer-thread.ts) opens its connection with the driver of the
 * handle it was started from, never a choice of its own.
 */
export function openSqliteConnection(file: string, driver: SqliteDriverName): SqliteConnection {
  if (inUse && inUse.open > 0 && inUse.driver !== driver) {
    throw new GatehouseError(
      'store_unavailable',
      `this process already has ${inUse.driver} connections open; ${driver} cannot open a store beside them`,
      { hint: 'use one SQLite driver per process (GATEHOUSE_SQLITE_DRIVER)' },
    );
  }
  const c = driver === 'node:sqlite' ? openNodeSqlite(file) : openBetterSqlite(file);
  inUse = { driver, open: (inUse?.driver === driver ? inUse.open : 0) + 1 };
  let closed = false;
  const close = c.close;
  return Object.assign(c, {
    close: () => {
      close();
      if (closed) return;
      closed = true;
      if (inUse?.driver === driver) inUse.open--;
    },
  });
}

// ---- better-sqlite3 ----

interface BetterDatabase {
  readonly name: string;
  readonly memory: boolean;
  readonly inTransaction: boolean;
  exec(sql: string): unknown;
  prepare(sql: string): SqliteStatement;
  pragma(text: string, opts: { simple: true }): unknown;
  close(): unknown;
}

function openBetterSqlite(file: string): SqliteConnection {
  let Database: new (file: string) => BetterDatabase;
  try {
    Database = require('better-sqlite3') as typeof Database;
  } catch (e) {
    throw new GatehouseError('store_unavailable', 'the better-sqlite3 driver is not installed or did not build', {
      hint: 'run `npm install` again (it compiles better-sqlite3), or on Node 22.16+ set GATEHOUSE_SQLITE_DRIVER=node:sqlite',
      cause: e,
    });
  }
  const db = new Database(file);
  return {
    driver: 'better-sqlite3',
    file,
    memory: db.memory,
    get inTransaction() {
      return db.inTransaction;
    },
    exec: (sql) => void db.exec(sql),
    // better-sqlite3's statements already take an array of parameters and return Buffers for BLOBs.
    prepare: (sql) => db.prepare(sql),
    pragmaValue: (name) => db.pragma(name, { simple: true }),
    immediate: (fn) =>
      immediate(
        (sql) => void db.exec(sql),
        () => db.inTransaction,
        fn,
      ),
    close: () => void db.close(),
  };
}

// ---- node:sqlite ----

interface NodeStatement {
  run(...params: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  get(...params: unknown[]): SqlRow | undefined;
  all(...params: unknown[]): SqlRow[];
  iterate(...params: unknown[]): IterableIterator<SqlRow>;
  columns(): unknown[];
}

interface NodeDatabase {
  readonly isTransaction: boolean;
  exec(sql: string): void;
  prepare(sql: string): NodeStatement;
  close(): void;
}

function openNodeSqlite(file: string): SqliteConnection {
  const { DatabaseSync } = require('node:sqlite') as { DatabaseSync: new (file: string) => NodeDatabase };
  const db = new DatabaseSync(file);
  const exec = (sql: string): void => {
    try {
      db.exec(sql);
    } catch (e) {
      throw withSqliteCode(e);
    }
  };
  return {
    driver: 'node:sqlite',
    file,
    memory: file === ':memory:' || file === '',
    get inTransaction() {
      return db.isTransaction;
    },
    exec,
    prepare: (sql) => {
      let st: NodeStatement;
      try {
        st = db.prepare(sql);
      } catch (e) {
        throw withSqliteCode(e);
      }
      return nodeStatement(st);
    },
    pragmaValue: (name) => {
      const row = nodeStatement(db.prepare(`PRAGMA ${name}`)).get();
      return row ? Object.values(row)[0] : undefined;
    },
    immediate: (fn) => immediate(exec, () => db.isTransaction, fn),
    close: () => db.close(),
  };
}

/**
 * The better-sqlite3 contract over a node:sqlite statement: parameters as one array, BLOBs read
 * as Buffers (node:sqlite gives plain Uint8Arrays, whose toString() would print numbers), and
 * errors carrying the SQLITE_* code the rest of Gatehouse tests for.
 */
function nodeStatement(st: NodeStatement): SqliteStatement {
  const reader = st.columns().length > 0;
  const call = <T>(fn: () => T): T => {
    try {
      return fn();
    } catch (e) {
      throw withSqliteCode(e);
    }
  };
  return {
    reader,
    run: (p = []) => call(() => st.run(...p)),
    get: (p = []) => call(() => buffers(st.get(...p))),
    all: (p = []) => call(() => st.all(...p).map((r) => buffers(r)!)),
    iterate: (p = []) => {
      const it = call(() => st.iterate(...p));
      return (function* () {
        for (const row of it) yield buffers(row)!;
      })();
    },
  };
}

function buffers(row: SqlRow | undefined): SqlRow | undefined {
  if (!row) return row;
  for (const k in row) {
    const v = row[k];
    if (v instanceof Uint8Array && !Buffer.isBuffer(v)) row[k] = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  return row;
}

// SQLite's (extended) result codes by number, for the names better-sqlite3 puts in `code`.
const RESULT_CODES: Record<number, string> = {
  1: 'SQLITE_ERROR',
  5: 'SQLITE_BUSY',
  6: 'SQLITE_LOCKED',
  8: 'SQLITE_READONLY',
  10: 'SQLITE_IOERR',
  11: 'SQLITE_CORRUPT',
  13: 'SQLITE_FULL',
  14: 'SQLITE_CANTOPEN',
  19: 'SQLITE_CONSTRAINT',
  261: 'SQLITE_BUSY_RECOVERY',
  517: 'SQLITE_BUSY_SNAPSHOT',
  275: 'SQLITE_CONSTRAINT_CHECK',
  787: 'SQLITE_CONSTRAINT_FOREIGNKEY',
  1299: 'SQLITE_CONSTRAINT_NOTNULL',
  1555: 'SQLITE_CONSTRAINT_PRIMARYKEY',
  2067: 'SQLITE_CONSTRAINT_UNIQUE',
};

/** node:sqlite's errors say `ERR_SQLITE_ERROR` with a numeric `errcode`: give them the SQLITE_* name. */
function withSqliteCode(e: unknown): unknown {
  const x = e as { code?: unknown; errcode?: unknown } | null;
  if (!x || typeof x !== 'object' || typeof x.errcode !== 'number') return e;
  const name = RESULT_CODES[x.errcode] ?? RESULT_CODES[x.errcode & 0xff];
  if (name) Object.defineProperty(x, 'code', { value: name, configurable: true, writable: true, enumerable: true });
  return e;
}

/** BEGIN IMMEDIATE … COMMIT around fn; ROLLBACK (if still open) when fn or the commit throws. */
function immediate<T>(exec: (sql: string) => void, open: () => boolean, fn: () => T): T {
  exec('BEGIN IMMEDIATE');
  try {
    const out = fn();
    exec('COMMIT');
    return out;
  } catch (e) {
    if (open()) exec('ROLLBACK');
    throw e;
  }
}
