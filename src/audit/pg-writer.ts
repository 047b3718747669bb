import { CompiledQuery } from 'kysely';
import { isUniqueViolation, type Store } from '../store/index.js';
import { CHAINED_FIELDS, chainHash, GENESIS, type ChainedRecord } from './chain.js';
import type { ChainLease } from './chains.js';
import type { BlobWrite } from './payload.js';

/** Every column but seq, which PostgreSQL assigns from its sequence (arrival order, not hashed). */
const COLS = [...CHAINED_FIELDS.filter((f) => f !== 'seq'), 'payload', 'chain', 'chain_seq', 'prev_hash', 'hash'];
/** Rows per blob INSERT (blobs are large: a few per statement). */
const BLOBS_PER_INSERT = 8;
/** How often a batch that lost its place to another writer on the same chain is chained again. */
const CONFLICT_RETRIES = 3;

export interface PgAuditWriter {
  /** Appends the records to this writer's chain, committed synchronously; returns their seqs in order. */
  write(records: ChainedRecord[], blobs: BlobWrite[]): Promise<number[]>;
}

/**
 * PostgreSQL's audit writer: one statement per batch on the writer's own chain.
 *
 * The chain's head (its last chain_seq and hash) is kept here between batches, so a batch is one
 * multi-row INSERT in autocommit: no global advisory lock, no read of the last record, no
 * BEGIN/COMMIT round trips (a batch with blobs adds one transaction around the blob rows).
 *
 * INVARIANTS:
 * - no audit record, no action: the INSERT commits with the server's synchronous commit before it
 *   resolves (attempts and results alike), and any error rejects the whole batch;
 * - after any failure the kept head is forgotten and read again before the next batch: a failure
 *   may have committed or not (a dropped connection), and another writer may have appended;
 * - two writers on one chain cannot fork it: the unique (chain, chain_seq) index refuses the second
 *   batch for a place, which is then chained after the new head (CONFLICT_RETRIES times).
 */
export function pgAuditWriter(store: Store, key: Buffer, lease: ChainLease): PgAuditWriter {
  let head: { chain: string; seq: number; hash: string } | undefined;
  const inserts = new Map<number, string>();
  const insertText = (rows: number): string => {
    let text = inserts.get(rows);
    if (text === undefined) {
      const values: string[] = [];
      for (let r = 0; r < rows; r++) values.push(`(${COLS.map((_, c) => `$${r * COLS.length + c + 1}`).join(', ')})`);
      text = `INSERT INTO audit_log (${COLS.join(', ')}) VALUES ${values.join(', ')} RETURNING id, seq`;
      inserts.set(rows, text);
    }
    return text;
  };
  const readHead = async (chain: string): Promise<{ chain: string; seq: number; hash: string }> => {
    const r = (await store.db
      .selectFrom('audit_log')
      .select(['chain_seq', 'hash'])
      .where('chain', '=', chain)
      .orderBy('chain_seq', 'desc')
      .limit(1)
      .executeTakeFirst()) as { chain_seq: string | number; hash: string } | undefined;
    return r ? { chain, seq: Number(r.chain_seq), hash: r.hash } : { chain, seq: 0, hash: GENESIS };
  };
  const once = async (records: ChainedRecord[], blobs: BlobWrite[]): Promise<number[]> => {
    const chain = await lease.acquire();
    if (head?.chain !== chain) head = await readHead(chain);
    let seq = head.seq;
    let prev = head.hash;
    const params: (string | number | null)[] = [];
    for (const rec of records) {
      rec.chain = chain;
      rec.chain_seq = ++seq;
      rec.prev_hash = prev;
      prev = chainHash(key, rec);
      for (const f of COLS)
        params.push(f === 'hash' ? prev : ((rec as Record<string, string | number | null>)[f] ?? null));
    }
    const insert = CompiledQuery.raw(insertText(records.length), params);
    const rows =
      blobs.length === 0
        ? (await store.db.executeQuery<{ id: string; seq: string }>(insert)).rows
        : await store.db.transaction().execute(async (trx) => {
            // INVARIANT: blobs are written in the records' transaction; a blob that cannot be
            // written rolls the batch back and every append in it rejects.
            for (let i = 0; i < blobs.length; i += BLOBS_PER_INSERT) {
              await trx
                .insertInto('audit_blobs')
                .values(blobs.slice(i, i + BLOBS_PER_INSERT))
                .onConflict((oc) => oc.column('sha256').doNothing())
                .execute();
            }
            return (await trx.executeQuery<{ id: string; seq: string }>(insert)).rows;
          });
    head = { chain, seq, hash: prev };
    const byId = new Map(rows.map((r) => [r.id, Number(r.seq)]));
    return records.map((r) => {
      const s = byId.get(String(r.id));
      if (s === undefined) throw new Error(`the audit insert returned no seq for ${String(r.id)}`);
      r.seq = s;
      return s;
    });
  };
  return {
    async write(records, blobs) {
      for (let attempt = 0; ; attempt++) {
        try {
          return await once(records, blobs);
        } catch (e) {
          head = undefined;
          if (!isUniqueViolation(e) || attempt >= CONFLICT_RETRIES) throw e;
          // Another writer appended to this chain: its lease is no longer ours alone.
          if (attempt > 0) lease.drop();
        }
      }
    },
  };
}
