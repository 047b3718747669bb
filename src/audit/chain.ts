import { createHmac, timingSafeEqual } from 'node:crypto';

/** The fields of a record that its chain hash covers, in a fixed order. */
export const CHAINED_FIELDS = [
  'seq',
  'id',
  'ts',
  'phase',
  'ref',
  'token_id',
  'token_name',
  'tool',
  'route',
  'target',
  'action',
  'decision',
  'rule',
  'approver',
  'outcome',
  'status',
  'duration_ms',
  'client',
  'detail',
] as const;

/**
 * A record as stored. `payload` (JSON: each payload value's text, or the sha256 and size of the
 * blob holding it) is hashed after the other fields, and only when set, so every record written
 * before payloads existed hashes as it did then.
 */
export type ChainedRecord = { [K in (typeof CHAINED_FIELDS)[number]]: string | number | null } & {
  prev_hash: string;
  payload?: string | null;
  /** The writer's chain (chains.ts) and the record's place in it; `legacy` for records written before chains. */
  chain?: string | null;
  chain_seq?: string | number | null;
};

/** The chain every record written before per-writer chains belongs to (migration 0009). */
export const LEGACY_CHAIN = 'legacy';

/** The first element a chained record's hashed array starts with; no legacy record's seq can equal it. */
const CHAIN_TAG = 'chain/1';

/** The hash of the (virtual) record before the first one. */
export const GENESIS = '0'.repeat(64);

/**
 * hash = HMAC-SHA256(chainKey, prev_hash || canonical(record)). The key is an internal key kept
 * sealed in the vault, so someone who can write to the database but does not hold the master key
 * cannot recompute the chain after changing, removing or reordering a record.
 *
 * A record's position is part of what is hashed, so moving it breaks it too. For a record of a
 * writer's chain that position is (chain, chain_seq), behind a tag no legacy record starts with;
 * the table's global `seq` is arrival order across writers and deliberately not covered (covering
 * it would make every writer wait for the one before: the global lock issue 19 removes). A
 * `legacy` record hashes as it was written, with its seq.
 */
export function chainHash(key: Buffer, rec: ChainedRecord): string {
  const h = createHmac('sha256', key);
  h.update(rec.prev_hash);
  h.update('\n');
  const values: (string | null)[] = [];
  if (rec.chain === undefined || rec.chain === null || rec.chain === LEGACY_CHAIN) {
    for (const f of CHAINED_FIELDS) values.push(normalize(rec[f]));
  } else {
    values.push(CHAIN_TAG, rec.chain, normalize(rec.chain_seq));
    for (const f of CHAINED_FIELDS) if (f !== 'seq') values.push(normalize(rec[f]));
  }
  // INVARIANT: the payload references (and so every blob's digest) are covered by the chain. A
  // record with a payload hashes one more array element, so removing the payload, or adding one
  // to a record that had none, changes the hash.
  if (rec.payload !== undefined && rec.payload !== null) values.push(rec.payload);
  h.update(JSON.stringify(values));
  return h.digest('hex');
}

// Every value is hashed as text: PostgreSQL returns bigint columns as strings, SQLite as numbers,
// and the chain must verify the same on both.
function normalize(v: string | number | null | undefined): string | null {
  return v === undefined || v === null ? null : String(v);
}

export function hashesEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
