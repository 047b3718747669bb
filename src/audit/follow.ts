import { sql } from 'kysely';
import type { Store } from '../store/index.js';
import { listChains } from './chains.js';
import type { AuditRecord } from './log.js';
import { filterAudit, toRecord, type AuditQuery, type Row } from './read.js';

/**
 * Where a reader of the live log has read up to: for each writer chain, the last place seen.
 *
 * Why per chain and not one `seq`: `seq` is the arrival order, assigned when a record is inserted,
 * and on PostgreSQL writers in different processes commit in any order, so a record with a smaller
 * seq can become visible after one with a larger seq. "Everything after seq N" would miss it. Within
 * one chain, though, records are committed in chain order (one writer appends a batch at a time,
 * and the unique (chain, chain_seq) index makes a second writer on the chain wait and go after it),
 * so the highest place visible in a chain means every place below it is visible too.
 */
export type AuditCursor = ReadonlyMap<string, number>;

const CURSOR_PART = /^([a-z][a-z0-9_-]{0,39}):(\d{1,15})$/;
/** Chains a cursor may name (more means it was not made here). */
const MAX_CURSOR_CHAINS = 1000;

/** `w1:120,w2:7`: what a live stream sends as its event id. */
export function formatAuditCursor(c: AuditCursor): string {
  return [...c].map(([chain, n]) => `${chain}:${n}`).join(',');
}

/** The inverse of formatAuditCursor; null for anything it did not make. The empty text is the empty cursor. */
export function parseAuditCursor(text: string): AuditCursor | null {
  const out = new Map<string, number>();
  if (text === '') return out;
  const parts = text.split(',');
  if (parts.length > MAX_CURSOR_CHAINS) return null;
  for (const part of parts) {
    const m = CURSOR_PART.exec(part);
    if (!m || out.has(m[1]!)) return null;
    out.set(m[1]!, Number(m[2]));
  }
  return out;
}

/** The log's position now: each writer chain's highest place (0 for a chain with no records). */
export async function auditPosition(store: Store): Promise<AuditCursor> {
  const chains = (await listChains(store)).filter((c) => c !== 'legacy');
  const heads = await Promise.all(
    chains.map(async (chain) => {
      const r = (await store.db
        .selectFrom('audit_log')
        .select(sql<number | string | null>`max(chain_seq)`.as('m'))
        .where('chain', '=', chain)
        .executeTakeFirst()) as { m: number | string | null } | undefined;
      return [chain, Number(r?.m ?? 0)] as const;
    }),
  );
  return new Map(heads);
}

export interface AuditSince {
  /** New matching records, in arrival order. */
  records: AuditRecord[];
  /** Where to read from next time. */
  cursor: AuditCursor;
  /** True when more new records match than `limit`: read again at once. */
  more: boolean;
}

/**
 * The records matching `q` that were added after `cursor`, oldest first, at most `limit`.
 *
 * INVARIANT (no gap): the position is read first, and only places at or below it are read, so the
 * returned cursor never passes a place whose record was not yet visible; when the page is full the
 * cursor moves only as far as the records returned (per chain, a prefix of that chain's matches).
 */
export async function auditSince(store: Store, cursor: AuditCursor, q: AuditQuery, limit: number): Promise<AuditSince> {
  const now = await auditPosition(store);
  const ranges = [...now].filter(([chain, top]) => top > (cursor.get(chain) ?? 0));
  if (ranges.length === 0) return { records: [], cursor: merge(cursor, now, new Map()), more: false };
  const query = filterAudit(store.db.selectFrom('audit_log').selectAll(), q).where((eb) =>
    eb.or(
      ranges.map(([chain, top]) =>
        eb.and([eb('chain', '=', chain), eb('chain_seq', '>', cursor.get(chain) ?? 0), eb('chain_seq', '<=', top)]),
      ),
    ),
  );
  const rows = (await query
    .orderBy('seq', 'asc')
    .limit(limit + 1)
    .execute()) as Row[];
  if (rows.length <= limit) return { records: rows.map(toRecord), cursor: merge(cursor, now, now), more: false };
  const page = rows.slice(0, limit);
  const reached = new Map<string, number>();
  for (const r of page) reached.set(String(r.chain), Math.max(reached.get(String(r.chain)) ?? 0, Number(r.chain_seq)));
  return { records: page.map(toRecord), cursor: merge(cursor, now, reached), more: true };
}

/** The old cursor, moved to `reached` where it got further; chains new to it start from 0. */
function merge(old: AuditCursor, now: AuditCursor, reached: AuditCursor): AuditCursor {
  const out = new Map<string, number>();
  for (const chain of now.keys()) out.set(chain, Math.max(old.get(chain) ?? 0, reached.get(chain) ?? 0));
  // A chain the reader knew that is no longer listed keeps its place (it may be listed again).
  for (const [chain, n] of old) if (!out.has(chain)) out.set(chain, n);
  return out;
}
