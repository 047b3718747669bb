import {
  closeSync,
  fdatasync,
  fdatasyncSync,
  fstatSync,
  fsync,
  fsyncSync,
  openSync,
  realpathSync,
  statSync,
} from 'node:fs';
import { dirname } from 'node:path';

/** Flushes a file's data to disk without blocking the event loop. */
export type DurableSync = () => Promise<void>;

/**
 * Makes committed SQLite WAL frames durable with one `fdatasync`: on the libuv thread pool
 * (`sync`), or blocking the calling thread where that is the audit writer thread (`syncBlocking`).
 *
 * Why: with `synchronous = FULL` every commit flushes the WAL inside SQLite, on the calling thread,
 * so the event loop would stall for each disk flush. The audit writer instead commits its batch
 * with `synchronous = NORMAL` (frames written, not flushed) and then calls this; fsync on any
 * descriptor of a file flushes all of that file's dirty pages, so once it resolves every frame
 * committed before the call is on disk, which is what FULL would have given those transactions.
 *
 * INVARIANTS (fail closed, never "assume synced"):
 * - the descriptor refers to the store's live WAL file: SQLite names it after the database's real
 *   path (symlinks resolved), so this does too; the path is checked before each flush (same device
 *   and inode) and reopened if SQLite replaced the file, and a missing file fails the flush;
 * - when the file is (re)opened, its directory is flushed too, so the file's name survives a crash;
 * - a failed flush is final: after an I/O error the kernel may already have dropped the dirty
 *   pages, so a later flush that "succeeds" proves nothing. Every later flush fails until the
 *   process restarts and SQLite recovers the WAL.
 */
export class WalFileSync {
  readonly #path: string;
  #fd: number | undefined;
  #dev = 0;
  #ino = 0;
  #failed: Error | undefined;

  constructor(databaseFile: string) {
    this.#path = `${realpathSync(databaseFile)}-wal`;
  }

  /** The WAL file this flushes (for diagnostics and tests). */
  get path(): string {
    return this.#path;
  }

  readonly sync: DurableSync = async () => {
    if (this.#failed) throw this.#failed;
    try {
      const fd = await this.#descriptor();
      await new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
    } catch (e) {
      throw this.#fail(e);
    }
  };

  /**
   * The same flush without the thread pool: it blocks the calling thread for the disk's time, so
   * only the audit writer thread uses it (its only work is writing; a hand-off to the pool and
   * back would be two more thread wake-ups per flush).
   */
  readonly syncBlocking: DurableSync = async () => {
    if (this.#failed) throw this.#failed;
    try {
      fdatasyncSync(this.#descriptorBlocking());
    } catch (e) {
      throw this.#fail(e);
    }
  };

  #fail(e: unknown): Error {
    this.#failed = new Error(
      `the audit WAL could not be flushed; restart Gatehouse once the disk is healthy (${(e as Error).message})`,
      { cause: e },
    );
    return this.#failed;
  }

  async #descriptor(): Promise<number> {
    const { fd, fresh } = this.#open();
    if (fresh) await flushDirectory(dirname(this.#path));
    return fd;
  }

  #descriptorBlocking(): number {
    const { fd, fresh } = this.#open();
    if (fresh) flushDirectorySync(dirname(this.#path));
    return fd;
  }

  /** The descriptor of the live WAL file; `fresh` when it was (re)opened and its directory needs a flush. */
  #open(): { fd: number; fresh: boolean } {
    const st = statSync(this.#path);
    if (this.#fd !== undefined && st.ino === this.#ino && st.dev === this.#dev) return { fd: this.#fd, fresh: false };
    this.close();
    const fd = openSync(this.#path, 'r');
    const own = fstatSync(fd);
    this.#fd = fd;
    this.#dev = own.dev;
    this.#ino = own.ino;
    return { fd, fresh: true };
  }

  close(): void {
    if (this.#fd === undefined) return;
    const fd = this.#fd;
    this.#fd = undefined;
    try {
      closeSync(fd);
    } catch {
      // Already closed: nothing to release.
    }
  }
}

async function flushDirectory(dir: string): Promise<void> {
  const fd = openSync(dir, 'r');
  try {
    await new Promise<void>((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));
  } finally {
    closeSync(fd);
  }
}

function flushDirectorySync(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
