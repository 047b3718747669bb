import { closeSync, fdatasync, fstatSync, openSync, statSync } from 'node:fs';

/** Flushes a file's data to disk without blocking the event loop. */
export type DurableSync = () => Promise<void>;

/**
 * Makes committed SQLite WAL frames durable with one `fdatasync` on the libuv thread pool.
 *
 * Why: with `synchronous = FULL` every commit flushes the WAL inside SQLite, on the calling thread,
 * so the event loop would stall for each disk flush. The audit writer instead commits its batch
 * with `synchronous = NORMAL` (frames written, not flushed) and then calls this; fsync on any
 * descriptor of a file flushes all of that file's dirty pages, so once it resolves every frame
 * committed before the call is on disk, which is what FULL would have given those transactions.
 *
 * INVARIANT: the descriptor always refers to the store's current WAL file. The path is checked
 * before each flush (same device and inode), and reopened if SQLite replaced the file; if the file
 * is missing, the flush fails and the audit append is refused (fail closed, never "assume synced").
 */
export class WalFileSync {
  readonly #path: string;
  #fd: number | undefined;
  #dev = 0;
  #ino = 0;

  constructor(databaseFile: string) {
    this.#path = `${databaseFile}-wal`;
  }

  readonly sync: DurableSync = () => {
    let fd: number;
    try {
      fd = this.#descriptor();
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return new Promise<void>((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())));
  };

  #descriptor(): number {
    const st = statSync(this.#path);
    if (this.#fd !== undefined && st.ino === this.#ino && st.dev === this.#dev) return this.#fd;
    this.close();
    const fd = openSync(this.#path, 'r');
    const own = fstatSync(fd);
    this.#fd = fd;
    this.#dev = own.dev;
    this.#ino = own.ino;
    return fd;
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
