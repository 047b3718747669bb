import { createHash } from 'node:crypto';
import { GatehouseError, truncateText } from '../core/index.js';
import type { Store } from '../store/index.js';
import { chainHash, GENESIS, hashesEqual, type ChainedRecord } from './chain.js';
import type { AuditPhase, AuditRecord } from './log.js';
import { parsePayloadColumn, type AuditPayloadRef } from './payload.js';

/** One place where the chain does not verify. */
export interface AuditBreak {
  seq: number;
  id: string | null;
  /**
   * - `changed`: the record's content no longer matches its hash;
   * - `removed_before`: records before it are missing (`missing` says how many seqs);
   * - `reordered`: it does not link to the record before it (swapped, or its hash column edited);
   * - `blob_missing` / `blob_changed`: a payload value (`payload` names it) kept as a blob is gone,
   *   or its data no longer matches the digest the record holds;
   * - `payload_unreadable`: the record's payload column is not what the log writes.
   */
  problem: 'changed' | 'removed_before' | 'reordered' | 'blob_missing' | 'blob_changed' | 'payload_unreadable';
  missing?: number;
  payload?: string;
}

export interface VerifyResult {
  ok: boolean;
  records: number;
  /** Every break found, in seq order, at most MAX_REPORTED_BREAKS of them. */
  breaks: AuditBreak[];
  /** How many breaks there are in all (may exceed `breaks.length`). */
  breakCount: number;
  /** The first break (the same as breaks[0]), for callers that show one. */
  firstBad?: AuditBreak;
  /** Set when an anchor was given and the chain does not hold it. */
  anchorProblem?: { seq: number; problem: 'missing' | 'different' };
}

/** The most breaks one verify lists (all are counted). */
export const MAX_REPORTED_BREAKS = 100;

/** The newest record's position and chain hash: what to keep outside the store as an anchor. */
export interface AuditHead {
  seq: number;
  hash: string;
  ts: string;
}

const ANCHOR = /^(\d{1,15}):([0-9a-f]{64})$/;

/** Parses `SEQ:HASH` (as `audit head` prints it). */
export function parseAuditAnchor(text: string): { seq: number; hash: string } | null {
  const [, seq, hash] = ANCHOR.exec(text.trim()) ?? [];
  return seq !== undefined && hash !== undefined ? { seq: Number(seq), hash } : null;
}

/** The chain's head, or null for an empty log. */
export async function auditHead(store: Store): Promise<AuditHead | null> {
  const r = (await store.db
    .selectFrom('audit_log')
    .select(['seq', 'hash', 'ts'])
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst()) as { seq: number | string; hash: string; ts: string } | undefined;
  return r ? { seq: Number(r.seq), hash: r.hash, ts: r.ts } : null;
}

type Row = ChainedRecord & { hash: string };

/** Blobs fetched per query while verifying: each is at most 16 MiB, so this bounds memory. */
const BLOBS_PER_QUERY = 8;

/**
 * Walks the whole chain in seq order. For each record it checks that
 *  - seq follows the previous one by exactly 1 (a gap means records were removed),
 *  - prev_hash equals the previous record's stored hash (removed or reordered records break it),
 *  - its own hash matches its content (an edited record no longer matches),
 *  - every payload blob it refers to exists and matches the digest and size the record holds.
 * It reports every break, not only the first: after one it carries on from the broken record's
 * own stored hash, so tampering after an earlier break (or after a record an old version could
 * not hash faithfully) is still found. With an `anchor` (a head printed earlier by `audit head`),
 * the record at that seq must still exist with that hash.
 */
export async function verifyAuditChain(
  store: Store,
  chainKey: Buffer,
  opts: { pageSize?: number; anchor?: { seq: number; hash: string }; maxReported?: number } = {},
): Promise<VerifyResult> {
  const pageSize = opts.pageSize ?? 5000;
  const maxReported = opts.maxReported ?? MAX_REPORTED_BREAKS;
  const anchor = opts.anchor;
  let anchorSeen = false;
  let anchorProblem: VerifyResult['anchorProblem'];
  let prevHash = GENESIS;
  let prevSeq = 0;
  let count = 0;
  const breaks: AuditBreak[] = [];
  let breakCount = 0;
  const report = (b: AuditBreak): void => {
    breakCount++;
    if (breaks.length < maxReported) breaks.push(b);
  };
  const blobs = new BlobChecker(store);
  for (;;) {
    const rows = (await store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('seq', '>', prevSeq)
      .orderBy('seq', 'asc')
      .limit(pageSize)
      .execute()) as Row[];
    if (rows.length === 0) break;
    // Every blob this page refers to, checked once per digest.
    const refs = rows.map((r) => parsePayloadColumn(r.payload));
    await blobs.check(refs);
    for (const [i, r] of rows.entries()) {
      const seq = Number(r.seq);
      const id = r.id === null ? null : String(r.id);
      count++;
      if (seq !== prevSeq + 1) report({ seq, id, problem: 'removed_before', missing: seq - prevSeq - 1 });
      // The link is broken: a record before it was removed and the rest renumbered, or records
      // were swapped, or a hash column was edited.
      else if (!hashesEqual(r.prev_hash, prevHash)) report({ seq, id, problem: 'reordered' });
      if (!hashesEqual(chainHash(chainKey, r), r.hash)) report({ seq, id, problem: 'changed' });
      const payload = refs[i];
      if (payload === undefined) report({ seq, id, problem: 'payload_unreadable' });
      else if (payload) {
        for (const [name, ref] of Object.entries(payload)) {
          if (!('sha256' in ref)) continue;
          const state = blobs.state(ref);
          if (state !== 'ok')
            report({ seq, id, problem: state === 'missing' ? 'blob_missing' : 'blob_changed', payload: name });
        }
      }
      if (anchor && seq === anchor.seq) {
        // An anchor kept elsewhere that differs means the history was rewritten from here back.
        if (!hashesEqual(r.hash, anchor.hash)) anchorProblem = { seq, problem: 'different' };
        anchorSeen = true;
      }
      // INVARIANT: verification carries on from the stored hash, so one break (a record an
      // attacker edited, or one an older version hashed unfaithfully) never hides a later one.
      prevHash = r.hash;
      prevSeq = seq;
    }
  }
  // INVARIANT: records cut from the end leave a chain that verifies on its own; only an anchor
  // kept outside the store (a log shipper, a ticket) shows the log once reached further.
  if (anchor && !anchorSeen) anchorProblem = { seq: anchor.seq, problem: 'missing' };
  const result: VerifyResult = { ok: breakCount === 0 && !anchorProblem, records: count, breaks, breakCount };
  if (breaks.length > 0) result.firstBad = breaks[0];
  if (anchorProblem) result.anchorProblem = anchorProblem;
  return result;
}

type BlobState = 'ok' | 'missing' | 'changed';

/** Fetches blobs by digest and checks their data against it (and the size the record holds). */
class BlobChecker {
  readonly #store: Store;
  /** Digest -> checked size (or the problem). Sizes are kept so a record claiming another size is caught. */
  readonly #seen = new Map<string, { bytes: number } | 'missing' | 'changed'>();

  constructor(store: Store) {
    this.#store = store;
  }

  async check(pages: (Record<string, AuditPayloadRef> | null | undefined)[]): Promise<void> {
    const wanted = new Set<string>();
    for (const p of pages) {
      if (!p) continue;
      for (const ref of Object.values(p)) if ('sha256' in ref && !this.#seen.has(ref.sha256)) wanted.add(ref.sha256);
    }
    const list = [...wanted];
    for (let i = 0; i < list.length; i += BLOBS_PER_QUERY) {
      const part = list.slice(i, i + BLOBS_PER_QUERY);
      const rows = (await this.#store.db
        .selectFrom('audit_blobs')
        .select(['sha256', 'data'])
        .where('sha256', 'in', part)
        .execute()) as { sha256: string; data: Uint8Array }[];
      const found = new Map(rows.map((r) => [r.sha256, r.data]));
      for (const sha of part) {
        const data = found.get(sha);
        if (!data) this.#seen.set(sha, 'missing');
        else
          this.#seen.set(
            sha,
            hashesEqual(createHash('sha256').update(data).digest('hex'), sha) ? { bytes: data.byteLength } : 'changed',
          );
      }
    }
  }

  state(ref: { sha256: string; bytes: number }): BlobState {
    const s = this.#seen.get(ref.sha256);
    if (s === undefined || s === 'missing') return 'missing';
    if (s === 'changed') return 'changed';
    return s.bytes === ref.bytes ? 'ok' : 'changed';
  }
}

export interface AuditQuery {
  tokenId?: string;
  tokenName?: string;
  tool?: string;
  decision?: string;
  since?: string;
  limit?: number;
}

/** Newest-last records matching the query (at most `limit`, default 50). */
export async function searchAudit(store: Store, q: AuditQuery = {}): Promise<AuditRecord[]> {
  let query = store.db.selectFrom('audit_log').selectAll();
  if (q.tokenId) query = query.where('token_id', '=', q.tokenId);
  if (q.tokenName) query = query.where('token_name', '=', q.tokenName);
  if (q.tool) query = query.where('tool', '=', q.tool);
  if (q.decision) query = query.where('decision', '=', q.decision);
  if (q.since) query = query.where('ts', '>=', q.since);
  const rows = (await query
    .orderBy('seq', 'desc')
    .limit(q.limit ?? 50)
    .execute()) as Row[];
  return rows.reverse().map(toRecord);
}

/** One record by its id (`au_…`) or its seq; null when there is none. */
export async function readAuditRecord(store: Store, idOrSeq: string): Promise<AuditRecord | null> {
  const bySeq = /^\d{1,15}$/.test(idOrSeq);
  const row = (await store.db
    .selectFrom('audit_log')
    .selectAll()
    .where(bySeq ? 'seq' : 'id', '=', bySeq ? Number(idOrSeq) : idOrSeq)
    .executeTakeFirst()) as Row | undefined;
  return row ? toRecord(row) : null;
}

/** A payload value as read back: its full text, and whether its blob still matches the record. */
export interface AuditPayloadValue {
  text: string;
  bytes: number;
  /** Set for a value kept as a blob. */
  sha256?: string;
  /** `missing`: the blob is gone; `changed`: its data no longer matches the digest (text is then what the store holds now, or empty). */
  problem?: 'missing' | 'changed';
}

/**
 * Every payload value of a record with its full text, blobs fetched and checked against the
 * digest the (chain-covered) record holds. Reads one blob at a time: each may be 16 MiB.
 */
export async function readAuditPayloads(store: Store, record: AuditRecord): Promise<Record<string, AuditPayloadValue>> {
  const out: Record<string, AuditPayloadValue> = {};
  for (const [name, ref] of Object.entries(record.payload ?? {})) {
    if ('text' in ref) {
      out[name] = { text: ref.text, bytes: Buffer.byteLength(ref.text, 'utf8') };
      continue;
    }
    const row = (await store.db
      .selectFrom('audit_blobs')
      .select(['data'])
      .where('sha256', '=', ref.sha256)
      .executeTakeFirst()) as { data: Uint8Array } | undefined;
    if (!row) {
      out[name] = { text: '', bytes: ref.bytes, sha256: ref.sha256, problem: 'missing' };
      continue;
    }
    const data = Buffer.from(row.data.buffer, row.data.byteOffset, row.data.byteLength);
    const ok =
      data.byteLength === ref.bytes && hashesEqual(createHash('sha256').update(data).digest('hex'), ref.sha256);
    out[name] = {
      text: data.toString('utf8'),
      bytes: ref.bytes,
      sha256: ref.sha256,
      ...(ok ? {} : { problem: 'changed' as const }),
    };
  }
  return out;
}

/** Resolves `audit show`'s argument or fails with a clear error. */
export async function requireAuditRecord(store: Store, idOrSeq: string): Promise<AuditRecord> {
  const r = await readAuditRecord(store, idOrSeq);
  if (!r)
    throw new GatehouseError('not_found', `no audit record ${JSON.stringify(truncateText(idOrSeq, 80))}`, {
      hint: 'give a seq (as `audit tail` shows it, without #) or an id (au_…)',
    });
  return r;
}

function toRecord(r: Row): AuditRecord {
  const num = (v: string | number | null) => (v === null ? null : Number(v));
  const str = (v: string | number | null) => (v === null ? null : String(v));
  let detail: Record<string, unknown> | null = null;
  if (typeof r.detail === 'string') {
    try {
      detail = JSON.parse(r.detail) as Record<string, unknown>;
    } catch {
      detail = { raw: r.detail };
    }
  }
  return {
    seq: Number(r.seq),
    id: String(r.id),
    ts: String(r.ts),
    phase: String(r.phase) as AuditPhase,
    ref: str(r.ref),
    tokenId: str(r.token_id),
    tokenName: str(r.token_name),
    tool: str(r.tool),
    route: str(r.route),
    target: str(r.target),
    action: str(r.action),
    decision: str(r.decision),
    rule: str(r.rule),
    approver: str(r.approver),
    outcome: str(r.outcome),
    status: num(r.status),
    durationMs: num(r.duration_ms),
    client: str(r.client),
    detail,
    // A payload column the log did not write reads as none here; `verify` reports it.
    payload: parsePayloadColumn(r.payload) ?? null,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
