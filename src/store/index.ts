export { openStore, dropSchema, pingStore, type OpenStoreOptions } from './open.js';
export { storeOptionsFromEnv } from './from-env.js';
export { migrate, pendingMigrations, loadMigrations } from './migrate.js';
export type { Dialect, Store, Migration, MigrationKit, UntypedDb } from './types.js';
export { nowIso } from './time.js';
export { isUniqueViolation } from './errors.js';
export { writeTransaction } from './write-tx.js';
export { applyStorePragmas } from './pragmas.js';
export {
  chooseSqliteDriver,
  nodeSqliteStable,
  openSqliteConnection,
  sqliteDriverChoice,
  SQLITE_DRIVER_CHOICES,
  type SqliteConnection,
  type SqliteDriverChoice,
  type SqliteDriverName,
  type SqliteStatement,
} from './sqlite-driver.js';
