import type { SqliteConnection, SqliteStatement } from '../store/index.js';
import { CHAINED_FIELDS, chainHash, GENESIS, type ChainedRecord } from './chain.js';
import type { BlobWrite } from './payload.js';

const COLS = [...CHAINED_FIELDS, 'payload', 'chain', 'chain_seq', 'prev_hash', 'hash'] as const;
/** Rows per INSERT statement: one statement per few rows costs far less than one per row. */
const ROWS_PER_INSERT = 16;

/**
 * Appends records to a writer's chain (chains.ts) in one BEGIN IMMEDIATE transaction on an
 * embedded store: SQLite's write lock serialises writers across processes anyway (others wait
 * through the busy timeout), so the table's last seq and the chain's head are read under it each
 * time (nothing cached can go stale), and each new record's seq, chain_seq, prev_hash and hash are
 * set from them (the writer owns the records it is given and fills those fields in place). The
 * blobs the records refer to are written in the same transaction. Returns the seqs.
 */
export function sqliteBatchWriter(
  handle: SqliteConnection,
  key: Buffer,
): (chain: string, records: ChainedRecord[], blobs?: BlobWrite[]) => number[] {
  const lastSeq = handle.prepare('SELECT seq FROM audit_log ORDER BY seq DESC LIMIT 1');
  const head = handle.prepare('SELECT chain_seq, hash FROM audit_log WHERE chain = ? ORDER BY chain_seq DESC LIMIT 1');
  // Prepared on first use: the hot path (no blob) never touches audit_blobs.
  let blobInsert: SqliteStatement | undefined;
  const inserts = new Map<number, SqliteStatement>();
  const one = `(${COLS.map(() => '?').join(', ')})`;
  const insertOf = (rows: number): SqliteStatement => {
    let s = inserts.get(rows);
    if (!s)
      inserts.set(
        rows,
        (s = handle.prepare(`INSERT INTO audit_log (${COLS.join(', ')}) VALUES ${Array(rows).fill(one).join(', ')}`)),
      );
    return s;
  };
  const append = (chain: string, records: ChainedRecord[], blobs: BlobWrite[]): number[] => {
    // INVARIANT: a blob is written in its record's transaction: if it cannot be, neither is the
    // record, and the append rejects (no record, no action). Content-addressed: same data, one row.
    if (blobs.length > 0) {
      blobInsert ??= handle.prepare(
        'INSERT INTO audit_blobs (sha256, bytes, data) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING',
      );
      for (const b of blobs) blobInsert.run([b.sha256, b.bytes, b.data]);
    }
    let seq = Number(lastSeq.get()?.seq ?? 0);
    const top = head.get([chain]) as { chain_seq: number; hash: string } | undefined;
    let chainSeq = top ? Number(top.chain_seq) : 0;
    let prev = top ? top.hash : GENESIS;
    const seqs: number[] = [];
    // Positional parameters: binding by name costs a lookup per column per row.
    const params: (string | number | null)[] = [];
    let pending = 0;
    for (const rec of records) {
      rec.seq = ++seq;
      rec.chain = chain;
      rec.chain_seq = ++chainSeq;
      rec.prev_hash = prev;
      prev = chainHash(key, rec);
      for (const f of CHAINED_FIELDS) params.push(rec[f]);
      params.push(rec.payload ?? null, chain, chainSeq, rec.prev_hash, prev);
      seqs.push(seq);
      if (++pending === ROWS_PER_INSERT) {
        insertOf(pending).run(params);
        params.length = 0;
        pending = 0;
      }
    }
    if (pending > 0) insertOf(pending).run(params);
    return seqs;
  };
  return (chain, records, blobs = []) => handle.immediate(() => append(chain, records, blobs));
}
