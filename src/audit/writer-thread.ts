/**
 * The embedded store's audit writer thread (a worker_threads entry; thread-writer.ts starts it).
 *
 * Why a thread: on the event loop a commit is ~16 system calls (WAL frames and locks) plus the
 * chain's HMAC, and each flush's hand-off to the thread pool wakes the loop again; with the
 * gateway bound by its one event loop that was ~40% of its CPU per request. Here the same writer
 * (sqlite-writer.ts: one BEGIN IMMEDIATE transaction per batch, then one fdatasync of the WAL)
 * runs on a connection of its own, and the event loop only posts the batch and reads the answer.
 *
 * INVARIANTS: the answers keep the in-thread writer's meaning. `committed` is sent once a batch
 * that asked for it (`early`: a result in it waits) is committed, before its flush; `done` once
 * the batch is also on disk if any record in it needed that (an attempt), so the event loop
 * resolves an attempt only after its flush ("no audit record, no action"). A failure is sent as
 * `failed` and the event loop refuses the actions waiting on it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { applyStorePragmas, openSqliteConnection } from '../store/index.js';
import { sqliteAuditWriter } from './sqlite-writer.js';
import { fromWire, type FromWriterThread, type ToWriterThread, type WriterThreadData } from './writer-wire.js';

const port = parentPort;
if (!port) throw new Error('writer-thread.ts runs as a worker thread (thread-writer.ts starts it)');
const data = workerData as WriterThreadData;
// The same driver as the event loop's connections: one copy of SQLite per process (sqlite-driver.ts).
const conn = openSqliteConnection(data.file, data.driver);
applyStorePragmas(conn);
// The flush blocks this thread (no hand-off to the thread pool and back): writing is all it does.
const writer = sqliteAuditWriter(conn, Buffer.from(data.key), { blockingFlush: true });

const answer = (m: FromWriterThread): void => port.postMessage(m);
const failed = (id: number, e: unknown): void => {
  const code = e !== null && typeof e === 'object' && 'code' in e ? e.code : undefined;
  answer({
    id,
    kind: 'failed',
    message: e instanceof Error ? e.message : String(e),
    code: code === undefined ? undefined : String(code),
  });
};
answer({ kind: 'ready' });

port.on('message', (m: ToWriterThread) => {
  if (m.op === 'write') {
    // A structured clone turns a Buffer into a Uint8Array; the drivers bind Buffers as BLOBs.
    const blobs = m.blobs.map((b) => ({
      ...b,
      data: Buffer.from(b.data.buffer, b.data.byteOffset, b.data.byteLength),
    }));
    writer
      .write(m.chain, fromWire(m.records), m.durable, blobs, (seqs) => {
        if (m.durable && m.early) answer({ id: m.id, kind: 'committed', seqs });
      })
      .then(
        (seqs) => answer({ id: m.id, kind: 'done', seqs }),
        (e: unknown) => failed(m.id, e),
      );
  } else if (m.op === 'flushLagging') {
    writer.flushLagging().then(
      () => answer({ id: m.id, kind: 'done', seqs: [] }),
      (e: unknown) => failed(m.id, e),
    );
  } else if (m.op === 'close') {
    writer
      .flushLagging()
      .finally(() => {
        // The in-thread writer's close is synchronous (it releases the WAL descriptor).
        void writer.close();
        conn.close();
      })
      .then(
        () => {
          answer({ id: m.id, kind: 'done', seqs: [] });
          port.close();
        },
        (e: unknown) => {
          failed(m.id, e);
          port.close();
        },
      );
  } else {
    failed((m as { id: number }).id, new Error(`unknown request ${JSON.stringify((m as { op?: unknown }).op)}`));
  }
});
