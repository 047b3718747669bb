import type { Store } from '../store/index.js';
import { chainHash, GENESIS, hashesEqual, type ChainedRecord } from './chain.js';
import type { AuditPhase, AuditRecord } from './log.js';

export interface VerifyResult {
  ok: boolean;
  records: number;
  /** The first record that does not verify, and why. */
  firstBad?: { seq: number; id: string | null; problem: 'changed' | 'removed_before' | 'reordered' };
  /** Set when an anchor was given and the chain does not hold it. */
  anchorProblem?: { seq: number; problem: 'missing' | 'different' };
}

/** The newest record's position and chain hash: what to keep outside the store as an anchor. */
export interface AuditHead {
  seq: number;
  hash: string;
  ts: string;
}

const ANCHOR = /^(\d{1,15}):([0-9a-f]{64})$/;

/** Parses `SEQ:HASH` (as `audit head` prints it). */
export function parseAuditAnchor(text: string): { seq: number; hash: string } | null {
  const m = ANCHOR.exec(text.trim());
  return m ? { seq: Number(m[1]), hash: m[2] } : null;
}

/** The chain's head, or null for an empty log. */
export async function auditHead(store: Store): Promise<AuditHead | null> {
  const r = (await store.db.selectFrom('audit_log').select(['seq', 'hash', 'ts']).orderBy('seq', 'desc').limit(1).executeTakeFirst()) as
    | { seq: number | string; hash: string; ts: string }
    | undefined;
  return r ? { seq: Number(r.seq), hash: r.hash, ts: r.ts } : null;
}

type Row = ChainedRecord & { hash: string };

/**
 * Walks the whole chain in seq order. For each record it checks that
 *  - seq follows the previous one by exactly 1 (a gap means a record was removed),
 *  - prev_hash equals the previous record's hash (removed or reordered records break the link),
 *  - its own hash matches its content (an edited record no longer matches).
 * It names the first record where any of these fails. With an `anchor` (a head printed earlier by
 * `audit head`), the record at that seq must still exist with that hash.
 */
export async function verifyAuditChain(
  store: Store,
  chainKey: Buffer,
  opts: { pageSize?: number; anchor?: { seq: number; hash: string } } = {},
): Promise<VerifyResult> {
  const pageSize = opts.pageSize ?? 5000;
  const anchor = opts.anchor;
  let anchorSeen = false;
  let prevHash = GENESIS;
  let prevSeq = 0;
  let count = 0;
  for (;;) {
    const rows = (await store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('seq', '>', prevSeq)
      .orderBy('seq', 'asc')
      .limit(pageSize)
      .execute()) as Row[];
    if (rows.length === 0) break;
    for (const r of rows) {
      const seq = Number(r.seq);
      count++;
      if (seq !== prevSeq + 1) return { ok: false, records: count, firstBad: { seq, id: r.id as string, problem: 'removed_before' } };
      if (!hashesEqual(r.prev_hash, prevHash)) {
        // The link is broken: either a record before it was removed, or records were swapped.
        return { ok: false, records: count, firstBad: { seq, id: r.id as string, problem: 'reordered' } };
      }
      if (!hashesEqual(chainHash(chainKey, r), r.hash)) {
        return { ok: false, records: count, firstBad: { seq, id: r.id as string, problem: 'changed' } };
      }
      if (anchor && seq === anchor.seq) {
        // The chain up to here verifies, so this hash is the one the writer computed then; an
        // anchor kept elsewhere that differs means the history was rewritten from here back.
        if (!hashesEqual(r.hash, anchor.hash)) return { ok: false, records: count, anchorProblem: { seq, problem: 'different' } };
        anchorSeen = true;
      }
      prevHash = r.hash;
      prevSeq = seq;
    }
  }
  // INVARIANT: records cut from the end leave a chain that verifies on its own; only an anchor
  // kept outside the store (a log shipper, a ticket) shows the log once reached further.
  if (anchor && !anchorSeen) return { ok: false, records: count, anchorProblem: { seq: anchor.seq, problem: 'missing' } };
  return { ok: true, records: count };
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
  const rows = (await query.orderBy('seq', 'desc').limit(q.limit ?? 50).execute()) as Row[];
  return rows.reverse().map(toRecord);
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
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
