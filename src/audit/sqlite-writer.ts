import type BetterSqlite3 from 'better-sqlite3';
import { GatehouseError } from '../core/index.js';
import type { ChainedRecord } from './chain.js';
import { sqliteBatchWriter } from './sqlite-batch.js';
import { WalFileSync, type DurableSync } from './wal-sync.js';

/** How long a batch waits for a query-builder transaction on the same connection to finish. */
const OPEN_TRANSACTION_WAIT_MS = 10_000;

export interface SqliteAuditWriter {
  /** Commits the records in one transaction (setting their seq and hashes); resolves with the seqs once they are on disk. */
  write(records: ChainedRecord[]): Promise<number[]>;
  close(): void;
}

/**
 * The embedded store's audit writer, on the event loop's thread, without blocking it on the disk.
 *
 * In WAL mode the batch is committed with `synchronous = NORMAL` (tens of µs: frames written, not
 * flushed) and then made durable by one fdatasync of the WAL on the thread pool (WalFileSync);
 * the promise resolves only after that flush. Records that arrive meanwhile form the next batch.
 * Any other journal mode (an in-memory store) commits with the connection's own setting.
 *
 * INVARIANT (no audit record, no action): `write` resolves only when the rows are committed and
 * flushed; a failed commit or a failed flush rejects, and the caller refuses the action.
 */
export function sqliteAuditWriter(handle: BetterSqlite3.Database, key: Buffer, opts: { sync?: DurableSync } = {}): SqliteAuditWriter {
  const commit = sqliteBatchWriter(handle, key);
  // Prepared on the first batch, outside any transaction (SQLite refuses to prepare a change of
  // the safety level inside one).
  let mode: { relaxed: BetterSqlite3.Statement; restore: BetterSqlite3.Statement; sync: DurableSync } | null | undefined;
  let walFile: WalFileSync | undefined;
  const modeFor = (): typeof mode => {
    if (mode !== undefined) return mode;
    if (handle.memory || String(handle.pragma('journal_mode', { simple: true })).toLowerCase() !== 'wal') return (mode = null);
    // The connection's own level is restored after each batch: other writes on it (tokens,
    // approvals, vault) keep flushing inside their commits.
    const level = Number(handle.pragma('synchronous', { simple: true }));
    if (!opts.sync) walFile = new WalFileSync(handle.name);
    return (mode = {
      relaxed: handle.prepare('PRAGMA synchronous = NORMAL'),
      restore: handle.prepare(`PRAGMA synchronous = ${level}`),
      sync: opts.sync ?? walFile!.sync,
    });
  };
  // The write lock is taken without SQLite's busy wait, which would sleep on the event loop while
  // another process holds the lock (a CLI command, a migration, another server): a busy store is
  // retried here, asynchronously, for as long as the connection's busy timeout allows.
  const lockWaitMs = Number(handle.pragma('busy_timeout', { simple: true })) || OPEN_TRANSACTION_WAIT_MS;
  const noWait = handle.prepare('PRAGMA busy_timeout = 0');
  const restoreWait = handle.prepare(`PRAGMA busy_timeout = ${lockWaitMs}`);
  const commitNow = (records: ChainedRecord[], m: NonNullable<typeof mode> | null): number[] => {
    noWait.run();
    m?.relaxed.run();
    try {
      return commit(records);
    } finally {
      m?.restore.run();
      restoreWait.run();
    }
  };
  return {
    async write(records) {
      const deadline = Date.now() + lockWaitMs;
      let seqs: number[];
      for (let attempt = 0; ; attempt++) {
        await outsideTransaction(handle);
        const m = modeFor() ?? null;
        try {
          seqs = commitNow(records, m);
        } catch (e) {
          if ((e as { code?: string }).code === 'SQLITE_BUSY' && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, Math.min(50, 2 ** attempt)));
            continue;
          }
          throw e;
        }
        // Not in WAL mode (an in-memory store): the commit flushed as the connection is set to.
        if (m) await m.sync();
        return seqs;
      }
    },
    close: () => walFile?.close(),
  };
}

/**
 * The store's query builder shares this connection; a transaction it has open (vault writes hold
 * one across microtasks only) must end before the batch starts its own. Waits, then gives up.
 */
async function outsideTransaction(handle: BetterSqlite3.Database): Promise<void> {
  if (!handle.inTransaction) return;
  const deadline = Date.now() + OPEN_TRANSACTION_WAIT_MS;
  while (handle.inTransaction) {
    if (Date.now() > deadline) {
      throw new GatehouseError('audit_unavailable', 'another transaction held the store for too long', { hint: 'retry; if it persists, restart the server' });
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}
