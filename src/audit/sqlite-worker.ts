/**
 * The embedded store's audit writer thread. better-sqlite3 is synchronous, and with
 * `synchronous = FULL` every commit waits for the disk flush; doing that on the main thread would
 * stall every request for the length of each fsync. Here the flush blocks only this thread, and
 * records that arrive meanwhile join the next batch.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
// A thread entry point imports the one file it needs, not the store's whole public face (which
// would load the query builder and the PostgreSQL driver into this thread).
import { applyStorePragmas } from '../store/pragmas.js';
import { sqliteBatchWriter, type UnchainedRow } from './sqlite-batch.js';

const { file, key } = workerData as { file: string; key: Uint8Array };
const handle = new Database(file);
applyStorePragmas(handle);
const write = sqliteBatchWriter(handle, Buffer.from(key));

parentPort!.on('message', (msg: { id: number; rows: string } | { close: true }) => {
  if ('close' in msg) {
    handle.close();
    process.exit(0);
  }
  try {
    parentPort!.postMessage({ id: msg.id, seqs: write(JSON.parse(msg.rows) as UnchainedRow[]) });
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: (e as Error).message });
  }
});
