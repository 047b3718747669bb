import type { SqliteConnection } from './sqlite-driver.js';

/**
 * Every connection to the embedded store: WAL lets readers run beside one writer across
 * processes; the busy timeout makes a second writer wait for the lock instead of failing at once;
 * `synchronous = FULL` flushes each commit to disk (an audit record is durable before the action).
 */
export function applyStorePragmas(handle: SqliteConnection): void {
  handle.exec('PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;');
}
