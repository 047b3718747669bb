import type BetterSqlite3 from 'better-sqlite3';
import { CHAINED_FIELDS, chainHash, GENESIS, type ChainedRecord } from './chain.js';

/** A record ready to be chained: everything but its position and hashes. */
export type UnchainedRow = Omit<ChainedRecord, 'seq' | 'prev_hash'>;

const COLS = [...CHAINED_FIELDS, 'prev_hash', 'hash'];

/**
 * Appends rows to the chain in one BEGIN IMMEDIATE transaction on an embedded store: the write
 * lock serialises writers across processes (others wait through the busy timeout), the last
 * record is read under it, and each new record's seq and hash follow from it. Returns the seqs.
 */
export function sqliteBatchWriter(handle: BetterSqlite3.Database, key: Buffer): (rows: UnchainedRow[]) => number[] {
  const last = handle.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
  const insert = handle.prepare(`INSERT INTO audit_log (${COLS.join(', ')}) VALUES (${COLS.map((c) => '@' + c).join(', ')})`);
  const tx = handle.transaction((rows: UnchainedRow[]) => {
    const top = last.get() as { seq: number; hash: string } | undefined;
    let seq = top ? Number(top.seq) : 0;
    let prev = top ? top.hash : GENESIS;
    const seqs: number[] = [];
    for (const row of rows) {
      seq += 1;
      const rec: ChainedRecord = { ...row, seq, prev_hash: prev };
      prev = chainHash(key, rec);
      insert.run({ ...rec, hash: prev });
      seqs.push(seq);
    }
    return seqs;
  });
  return (rows) => tx.immediate(rows);
}
