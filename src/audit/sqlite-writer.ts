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
   * Commits the records in one transaction (setting their seq and hashes). With `durable` it
   * resolves once they are on disk; without, once committed (they survive a crash of this
   * process at once, and reach the disk with the next flush, at most LAGGING_FLUSH_MS later).
   * `blobs` (payload values the records refer to) are written in the same transaction.
   */
  write(chain: string, records: ChainedRecord[], durable?: boolean, blobs?: BlobWrite[]): Promise<number[]>;
  /** Flushes whatever was committed without a flush; resolves when it is on disk. */
  flushLagging(): Promise<void>;
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
 * INVARIANT (no audit record, no action): a durable `write` (any batch holding an attempt)
 * resolves only when the rows are committed and flushed; a failed commit or a failed flush
 * rejects, and the caller refuses the action. A batch of results only resolves once committed;
 * the next durable flush or the lagging timer takes it to the disk, and a failure there is final,
 * so the next attempt is refused.
 */
export function sqliteAuditWriter(
  handle: SqliteConnection,
  key: Buffer,
  opts: { sync?: DurableSync } = {},
): SqliteAuditWriter {
  const commit = sqliteBatchWriter(handle, key);
  // Settled on the first batch. PRAGMA setters are run each time through `handle.exec`, never as
  // prepared statements: SQLite applies a setter while compiling it, so preparing `synchronous =
  // NORMAL` and then its restore left the level unchanged and made the first relaxed run a no-op.
  // They run outside any transaction (SQLite refuses a change of the safety level inside one).
  let mode: { relaxed: string; restore: string; sync: DurableSync } | null | undefined;
  let walFile: WalFileSync | undefined;
  const modeFor = (): typeof mode => {
    if (mode !== undefined) return mode;
    if (handle.memory || String(handle.pragmaValue('journal_mode')).toLowerCase() !== 'wal') return (mode = null);
    // The connection's own level is restored after each batch: other writes on it (tokens,
    // approvals, vault) keep flushing inside their commits.
    const level = Number(handle.pragmaValue('synchronous'));
    if (!opts.sync) walFile = new WalFileSync(handle.file);
    return (mode = {
      relaxed: 'PRAGMA synchronous = NORMAL;',
      restore: `PRAGMA synchronous = ${level};`,
      sync: opts.sync ?? walFile!.sync,
    });
  };
  // The write lock is taken without SQLite's busy wait, which would sleep on the event loop while
  // another process holds the lock (a CLI command, a migration, another server): a busy store is
  // retried here, asynchronously, for as long as the connection's busy timeout allows.
  const lockWaitMs = Number(handle.pragmaValue('busy_timeout')) || OPEN_TRANSACTION_WAIT_MS;
  const commitNow = (
    chain: string,
    records: ChainedRecord[],
    blobs: BlobWrite[],
    m: NonNullable<typeof mode> | null,
  ): number[] => {
    // One exec each side (no statement objects): SQLite applies each setter as it compiles it.
    handle.exec(`PRAGMA busy_timeout = 0; ${m?.relaxed ?? ''}`);
    try {
      return commit(chain, records, blobs);
    } finally {
      handle.exec(`${m?.restore ?? ''} PRAGMA busy_timeout = ${lockWaitMs};`);
    }
  };
  // Commits that have happened, and how many of them a finished flush covers. A flush covers every
  // commit that returned before it started (fdatasync writes out all of the file's dirty pages).
  let commits = 0;
  let flushed = 0;
  /** The latest commit that was not flushed with it (a batch of results). */
  let lagging = 0;
  let laggingTimer: NodeJS.Timeout | undefined;
  // Flushes run one at a time (the lagging timer's and a batch's would otherwise race on the WAL
  // descriptor), and one that a finished flush already covers is skipped.
  let queue: Promise<void> = Promise.resolve();
  const flush = (sync: DurableSync): Promise<void> => {
    const upTo = commits;
    const run = queue.then(async () => {
      if (flushed >= upTo) return;
      await sync();
      if (upTo > flushed) flushed = upTo;
    });
    queue = run.catch(() => undefined);
    return run;
  };
  const flushLagging = async (): Promise<void> => {
    if (laggingTimer) clearTimeout(laggingTimer);
    laggingTimer = undefined;
    const m = mode ?? null;
    if (m && flushed < lagging) await flush(m.sync);
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
    async write(chain, records, durable = true, blobs = []) {
      const deadline = Date.now() + lockWaitMs;
      let seqs: number[];
      for (let attempt = 0; ; attempt++) {
        await outsideTransaction(handle);
        const m = modeFor() ?? null;
        try {
          seqs = commitNow(chain, records, blobs, m);
        } catch (e) {
          if ((e as { code?: string }).code === 'SQLITE_BUSY' && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, Math.min(50, 2 ** attempt)));
            continue;
          }
          throw e;
        }
        commits++;
        // Not in WAL mode (an in-memory store): the commit flushed as the connection is set to.
        if (m && durable) await flush(m.sync);
        else if (m) {
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
 * The store's query builder shares this connection; a transaction it has open (vault writes hold
 * one across microtasks only) must end before the batch starts its own. Waits, then gives up.
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
