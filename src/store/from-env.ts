import { GatehouseError, type HomePaths } from '../core/index.js';
import type { OpenStoreOptions } from './open.js';
import { sqliteDriverChoice } from './sqlite-driver.js';

/**
 * THE way a process decides which store to open from its environment: every command, the
 * runtime and `doctor` call this, so no two of them can disagree about where the data lives (a
 * rekey that rotated one store's keyring while the data sat in another was issue 21.5).
 *
 * - `DATABASE_URL` set: PostgreSQL, in `GATEHOUSE_PG_SCHEMA` when that is set (else the server's
 *   default search path).
 * - otherwise: the embedded SQLite file in `$GATEHOUSE_HOME`, opened with the driver
 *   `GATEHOUSE_SQLITE_DRIVER` names (`auto`, `better-sqlite3`, `node:sqlite`; see sqlite-driver.ts).
 *
 * Empty values count as unset (a shell `export X=` is a common way to clear one).
 */
export function storeOptionsFromEnv(env: NodeJS.ProcessEnv, paths: Pick<HomePaths, 'databaseFile'>): OpenStoreOptions {
  const databaseUrl = env.DATABASE_URL || undefined;
  const schema = env.GATEHOUSE_PG_SCHEMA || undefined;
  if (!databaseUrl) {
    // INVARIANT: a PostgreSQL schema without a PostgreSQL URL is refused, never read as "use the
    // SQLite file": the operator meant a store that this process would otherwise not open.
    if (schema !== undefined) {
      throw new GatehouseError('config_invalid', 'GATEHOUSE_PG_SCHEMA is set but DATABASE_URL is not', {
        hint: 'set DATABASE_URL to the PostgreSQL server that holds that schema, or unset GATEHOUSE_PG_SCHEMA to use the embedded store',
      });
    }
    return { sqliteFile: paths.databaseFile, sqliteDriver: sqliteDriverChoice(env.GATEHOUSE_SQLITE_DRIVER) };
  }
  return { databaseUrl, ...(schema !== undefined ? { schema } : {}) };
}
