import type BetterSqlite3 from 'better-sqlite3';

/**
 * Every connection to the embedded store: WAL lets readers run beside one writer across
 * processes; the busy timeout makes a second writer wait for the lock instead of failing at once;
 * `synchronous = FULL` flushes each commit to disk (an audit record is durable before the action).
 */
export function applyStorePragmas(handle: BetterSqlite3.Database): void {
  handle.pragma('busy_timeout = 10000');
  handle.pragma('journal_mode = WAL');
  handle.pragma('synchronous = FULL');
}
