import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { log } from '../core/index.js';
import type { SqliteDriverName } from '../store/index.js';
import type { ChainedRecord } from './chain.js';
import type { BlobWrite } from './payload.js';
import type { SqliteAuditWriter } from './sqlite-writer.js';
import { toWire, type FromWriterThread, type ToWriterThread, type WriterThreadData } from './writer-wire.js';

/**
 * The built writer thread's entry beside this module (`dist/src/audit/` or the bundle's folder),
 * or undefined where there is none: run from the TypeScript sources (tests), the writer stays on
 * the event loop.
 */
export function builtWriterThread(): URL | undefined {
  const url = new URL('./writer-thread.js', import.meta.url);
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : undefined;
}

interface Waiting {
  committed?: (seqs: number[]) => void;
  resolve: (seqs: number[]) => void;
  reject: (e: Error) => void;
}

/**
 * The embedded store's audit writer on a thread of its own (writer-thread.ts), behind the same
 * interface as the in-thread writer: the event loop posts each batch and is answered when it is
 * committed and when it is on disk.
 *
 * INVARIANT (fail closed): if the thread cannot start, dies or fails a write, that write and every
 * later one reject, so the caller refuses the action; the thread is not restarted (a flush that
 * failed is final, sqlite-writer.ts), and the server log says to restart the process. A thread
 * that hangs (a flush stuck on a dead disk) leaves its writes waiting, as a stuck flush on the
 * thread pool does: nothing runs meanwhile.
 *
 * The thread keeps the process alive only while a write is outstanding, so a command that never
 * closes its audit log still exits once its records are written.
 */
export function threadAuditWriter(
  entry: URL,
  spec: { file: string; driver: SqliteDriverName },
  key: Buffer,
): SqliteAuditWriter {
  // The store's file by its absolute path: a relative one would be resolved again on the thread,
  // against whatever the working directory is by then.
  const data: WriterThreadData = { file: resolve(spec.file), driver: spec.driver, key: new Uint8Array(key) };
  // No flags of the process's own (`--input-type`, `--inspect`, `--cpu-prof`): some stop a thread
  // from starting, others would run on it too; the writer needs none.
  // Nothing on the thread writes to stdout (in `mcp` it is the protocol's): its log lines go to
  // stderr like the process's own. (Taking its stdout as a stream to move it elsewhere kept the
  // process alive after its work was done.)
  const worker = new Worker(entry, { workerData: data, execArgv: [] });
  worker.unref();
  const waiting = new Map<number, Waiting>();
  let nextId = 0;
  let broken: Error | undefined;
  let closing = false;

  const breakAll = (e: Error): void => {
    if (!broken) {
      broken = e;
      if (!closing)
        log.error('the audit writer thread stopped; actions are refused until Gatehouse restarts', { err: e });
    }
    for (const w of waiting.values()) w.reject(broken);
    waiting.clear();
    worker.unref();
  };
  worker.on('error', (e) => breakAll(new Error(`the audit writer thread failed: ${e.message}`, { cause: e })));
  worker.on('exit', (code) => breakAll(new Error(`the audit writer thread exited (code ${code})`)));
  worker.on('message', (m: FromWriterThread) => {
    if (m.kind === 'ready') {
      log.debug('audit writer thread ready', { entry: fileURLToPath(entry) });
      return;
    }
    const w = waiting.get(m.id);
    if (!w) return;
    const finish = (): void => {
      waiting.delete(m.id);
      if (waiting.size === 0) worker.unref();
    };
    try {
      if (m.kind === 'failed') throw Object.assign(new Error(m.message), m.code === undefined ? {} : { code: m.code });
      // The caller's `committed` may refuse the answer (a seq count that does not match): that
      // rejects the write, as it does on the in-thread writer.
      const committed = w.committed;
      w.committed = undefined;
      committed?.(m.seqs);
      if (m.kind === 'done') {
        finish();
        w.resolve(m.seqs);
      }
    } catch (e) {
      finish();
      w.reject(e instanceof Error ? e : new Error(String(e)));
    }
  });

  const send = (msg: ToWriterThread, w: Omit<Waiting, 'committed'>, committed?: (seqs: number[]) => void): void => {
    if (broken) return w.reject(broken);
    if (waiting.size === 0) worker.ref();
    waiting.set(msg.id, { ...w, committed });
    try {
      worker.postMessage(msg);
    } catch (e) {
      // Not sent (a value that cannot be cloned): nothing waits for an answer.
      waiting.delete(msg.id);
      if (waiting.size === 0) worker.unref();
      w.reject(e instanceof Error ? e : new Error(String(e)));
    }
  };
  const ask = (op: 'flushLagging' | 'close'): Promise<void> =>
    new Promise((resolve, reject) => send({ op, id: ++nextId }, { resolve: () => resolve(), reject }));

  return {
    write(
      chain: string,
      records: ChainedRecord[],
      durable = true,
      blobs: BlobWrite[] = [],
      committed?: (seqs: number[]) => void,
    ) {
      return new Promise<number[]>((resolve, reject) =>
        send(
          // `early`: answer at the commit too, before the flush (a result in the batch waits for it).
          {
            op: 'write',
            id: ++nextId,
            chain,
            records: toWire(records),
            durable,
            early: committed !== undefined,
            blobs,
          },
          { resolve, reject },
          committed,
        ),
      );
    },
    flushLagging: () => ask('flushLagging'),
    close: async () => {
      if (broken || closing) return;
      closing = true;
      // Everything committed is flushed and the connection closed before the thread ends.
      await ask('close').catch((e: unknown) => log.error('audit writer thread did not close cleanly', { err: e }));
      await worker.terminate();
    },
  };
}
