import { GatehouseError, log } from '../core/index.js';
import type { SqliteConnection } from '../store/index.js';
import type { ChainedRecord } from './chain.js';
import type { BlobWrite } from './payload.js';
import { sqliteBatchWriter } from './sqlite-batch.js';
import { WalFileSync, type DurableSync } from './wal-sync.js';

/** How long a batch waits for a query-builder transaction on the same connection to finish. */
const OPEN_TRANSACTION_WAIT_MS = 10_000;

/**
 * The longest a record committed without its own flush (a result) stays off the disk when no
 * attempt's flush comes along first to carry it.
 */
export const LAGGING_FLUSH_MS = 50;

export interface SqliteAuditWriter {
  /**
   * Commits the records in one transaction (setting their seq and hashes) and calls `committed`
   * with their seqs at once. With `durable` it resolves once they are on disk; without, once
   * committed (they survive a crash of this process at once, and reach the disk with the next
   * flush, at most LAGGING_FLUSH_MS later). `blobs` (payload values the records refer to) are
   * written in the same transaction.
   */
  write(
    chain: string,
    records: ChainedRecord[],
    durable?: boolean,
    blobs?: BlobWrite[],
    committed?: (seqs: number[]) => void,
  ): Promise<number[]>;
  /** Flushes whatever was committed without a flush; resolves when it is on disk. */
  flushLagging(): Promise<void>;
  /** Releases the WAL descriptor (and the writer thread's connection and thread, thread-writer.ts). */
  close(): void | Promise<void>;
}

/**
 * The embedded store's audit writer, without blocking its thread on the disk where that thread is
 * the event loop's (on the audit writer thread, writer-thread.ts, it blocks on the flush on purpose).
 *
 * A file-backed store gives the writer a connection of its own (`Store.auditConnection`), set once
 * to `synchronous = NORMAL` in WAL mode and to no busy wait. Each batch is committed there (tens of
 * µs: frames written, not flushed) and then made durable by one fdatasync of the WAL (WalFileSync):
 * on the thread pool when this runs on the event loop, blocking when it runs on the audit writer
 * thread (writer-thread.ts); a durable write resolves only after that flush. Records that arrive
 * meanwhile form the next batch. An in-memory store has one connection, shared with the query builder: the
 * batch waits for any transaction open on it and commits with the connection's own settings
 * (there is no disk to flush).
 *
 * INVARIANT (no audit record, no action): a durable `write` (any batch holding an attempt)
 * resolves only when the rows are committed and flushed; a failed commit or a failed flush
 * rejects, and the caller refuses the action. A batch of results only resolves once committed;
 * the next durable flush or the lagging timer takes it to the disk, and a failure there is final,
 * so the next attempt is refused.
 */
export function sqliteAuditWriter(
  handle: SqliteConnection,
  key: Buffer,
  opts: { sync?: DurableSync; blockingFlush?: boolean } = {},
): SqliteAuditWriter {
  // An in-memory store's only connection is shared with the query builder (file-backed stores
  // give the writer its own: AuditLog takes it from Store.auditConnection).
  const shared = handle.memory;
  // The write lock is taken without SQLite's busy wait, which would sleep on the event loop while
  // another process (a CLI command, a migration, another server) or this process's own query
  // builder holds the lock: a busy store is retried here, asynchronously, for as long as the
  // store's busy timeout allows.
  const lockWaitMs = Number(handle.pragmaValue('busy_timeout')) || OPEN_TRANSACTION_WAIT_MS;
  let sync: DurableSync | undefined;
  let walFile: WalFileSync | undefined;
  if (!shared) {
    // Set once, never switched back: nothing else writes on this connection. PRAGMA setters run
    // through `exec`, never as prepared statements (SQLite applies a setter while compiling it).
    handle.exec('PRAGMA busy_timeout = 0;');
    if (String(handle.pragmaValue('journal_mode')).toLowerCase() === 'wal') {
      handle.exec('PRAGMA synchronous = NORMAL;');
      if (!opts.sync) walFile = new WalFileSync(handle.file);
      sync = opts.sync ?? (opts.blockingFlush ? walFile!.syncBlocking : walFile!.sync);
    }
    // Not WAL (no store is opened so): each commit flushes as the connection's own level says.
  }
  const commit = sqliteBatchWriter(handle, key);
  // Commits that have happened, and how many of them a finished flush covers. A flush covers every
  // commit that returned before it started (fdatasync writes out all of the file's dirty pages).
  let commits = 0;
  let flushed = 0;
  /** The latest commit that was not flushed with it (a batch of results). */
  let lagging = 0;
  let laggingTimer: NodeJS.Timeout | undefined;
  // Flushes run one at a time (the lagging timer's and a batch's would otherwise race on the WAL
  // descriptor). Each counts the commits made by the time it starts, not by the time it was asked
  // for, so flushes queued behind a running one are covered by the first of them to run.
  let queue: Promise<void> = Promise.resolve();
  const flush = (s: DurableSync): Promise<void> => {
    const run = queue.then(async () => {
      const upTo = commits;
      if (flushed >= upTo) return;
      await s();
      if (upTo > flushed) flushed = upTo;
    });
    queue = run.catch(() => undefined);
    return run;
  };
  const flushLagging = async (): Promise<void> => {
    if (laggingTimer) clearTimeout(laggingTimer);
    laggingTimer = undefined;
    if (sync && flushed < lagging) await flush(sync);
  };
  const scheduleLagging = (): void => {
    laggingTimer ??= setTimeout(() => {
      laggingTimer = undefined;
      // A failed flush is final (WalFileSync): the next attempt's append fails too, so no action
      // runs on an audit log that can no longer reach the disk.
      flushLagging().catch((e: unknown) => log.error('audit flush failed', { err: e }));
    }, LAGGING_FLUSH_MS);
    laggingTimer.unref();
  };
  return {
    async write(chain, records, durable = true, blobs = [], committed) {
      const deadline = Date.now() + lockWaitMs;
      let seqs: number[];
      for (let attempt = 0; ; attempt++) {
        if (shared) await outsideTransaction(handle);
        try {
          seqs = commit(chain, records, blobs);
        } catch (e) {
          if ((e as { code?: string }).code === 'SQLITE_BUSY' && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, Math.min(50, 2 ** attempt)));
            continue;
          }
          throw e;
        }
        commits++;
        committed?.(seqs);
        if (sync && durable) await flush(sync);
        else if (sync) {
          lagging = commits;
          scheduleLagging();
        }
        return seqs;
      }
    },
    flushLagging,
    close: () => {
      if (laggingTimer) clearTimeout(laggingTimer);
      laggingTimer = undefined;
      walFile?.close();
    },
  };
}

/**
 * An in-memory store's query builder shares the writer's connection; a transaction it has open
 * (vault writes hold one across microtasks only) must end before the batch starts its own. Waits,
 * then gives up.
 */
async function outsideTransaction(handle: SqliteConnection): Promise<void> {
  if (!handle.inTransaction) return;
  const deadline = Date.now() + OPEN_TRANSACTION_WAIT_MS;
  while (handle.inTransaction) {
    if (Date.now() > deadline) {
      throw new GatehouseError('audit_unavailable', 'another transaction held the store for too long', {
        hint: 'retry; if it persists, restart the server',
      });
    }
    await new Promise((r) => setTimeout(r, 1));
  }
}
