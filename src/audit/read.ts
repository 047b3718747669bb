import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import { GatehouseError, truncateText } from '../core/index.js';
import type { Store } from '../store/index.js';
import { chainHash, GENESIS, hashesEqual, LEGACY_CHAIN, type ChainedRecord } from './chain.js';
import { listChains } from './chains.js';
import type { AuditPhase, AuditRecord } from './log.js';
import { parsePayloadColumn, type AuditPayloadRef } from './payload.js';

/** One place where a chain does not verify. */
export interface AuditBreak {
  /** The record's row number (what `audit show` takes). */
  seq: number;
  id: string | null;
  /** The chain it belongs to, and its place there (`legacy` records: the same as seq). */
  chain: string | null;
  chainSeq: number | null;
  /**
   * - `changed`: the record's content no longer matches its hash;
   * - `removed_before`: records before it in its chain are missing (`missing` says how many);
   * - `reordered`: it does not link to the record before it (swapped, or its hash column edited);
   * - `blob_missing` / `blob_changed`: a payload value (`payload` names it) kept as a blob is gone,
   *   or its data no longer matches the digest the record holds;
   * - `payload_unreadable`: the record's payload column is not what the log writes;
   * - `unchained`: the record names no chain or no place in one (the log never writes that).
   */
  problem:
    'changed' | 'removed_before' | 'reordered' | 'blob_missing' | 'blob_changed' | 'payload_unreadable' | 'unchained';
  missing?: number;
  payload?: string;
}

/** One chain as verify walked it. */
export interface ChainSummary {
  chain: string;
  records: number;
  /** Its last record, or null when it has none (a chain held once whose records are all gone). */
  head: { chainSeq: number; hash: string } | null;
}

export interface AnchorProblem {
  chain: string;
  chainSeq: number;
  problem: 'missing' | 'different';
}

export interface VerifyResult {
  ok: boolean;
  records: number;
  /** The largest seq among the records walked (0 for an empty log): what "verified through" names. */
  maxSeq: number;
  /** Every chain checked, `legacy` first, then writers' chains by number. */
  chains: ChainSummary[];
  /** Every break found, chain by chain in order, at most MAX_REPORTED_BREAKS of them. */
  breaks: AuditBreak[];
  /** How many breaks there are in all (may exceed `breaks.length`). */
  breakCount: number;
  /** The first break (the same as breaks[0]), for callers that show one. */
  firstBad?: AuditBreak;
  /** Set when an anchor was given and the log does not hold it: the first problem. */
  anchorProblem?: AnchorProblem;
  /** Every chain of the anchor the log does not hold. */
  anchorProblems?: AnchorProblem[];
}

/** The most breaks one verify lists (all are counted). */
export const MAX_REPORTED_BREAKS = 100;

/** One chain's last record. */
export interface ChainHead {
  chain: string;
  chainSeq: number;
  hash: string;
  ts: string;
}

/** Every chain's head: what to keep outside the store as an anchor. */
export interface AuditHead {
  chains: ChainHead[];
  /** The heads as one line (`CHAIN:N:HASH,…`) for `audit verify --anchor`. */
  anchor: string;
  /** The newest record's time. */
  ts: string;
}

/** What an anchor pins: for each chain, the record at a place and its hash. */
export type AuditAnchor = { chain: string; chainSeq: number; hash: string }[];

const ANCHOR_PART = /^(?:([a-z][a-z0-9_-]{0,39}):)?(\d{1,15}):([0-9a-f]{64})$/;

/**
 * Parses an anchor as `audit head` prints it: `CHAIN:N:HASH` for each chain, joined by commas.
 * A bare `SEQ:HASH` (what versions before per-writer chains printed) names the `legacy` chain.
 */
export function parseAuditAnchor(text: string): AuditAnchor | null {
  const parts = text.trim().split(',');
  const out: AuditAnchor = [];
  const seen = new Set<string>();
  for (const part of parts) {
    const [, chain = LEGACY_CHAIN, n, hash] = ANCHOR_PART.exec(part.trim()) ?? [];
    if (n === undefined || hash === undefined || seen.has(chain)) return null;
    seen.add(chain);
    out.push({ chain, chainSeq: Number(n), hash });
  }
  return out.length > 0 ? out : null;
}

export function formatAuditAnchor(anchor: AuditAnchor): string {
  return anchor.map((a) => `${a.chain}:${a.chainSeq}:${a.hash}`).join(',');
}

/** Every chain's head, or null for an empty log. Reads one indexed row per chain. */
export async function auditHead(store: Store): Promise<AuditHead | null> {
  const chains: ChainHead[] = [];
  for (const chain of await listChains(store)) {
    const r = (await store.db
      .selectFrom('audit_log')
      .select(['chain_seq', 'hash', 'ts'])
      .where('chain', '=', chain)
      .orderBy('chain_seq', 'desc')
      .limit(1)
      .executeTakeFirst()) as { chain_seq: number | string; hash: string; ts: string } | undefined;
    if (r) chains.push({ chain, chainSeq: Number(r.chain_seq), hash: r.hash, ts: r.ts });
  }
  if (chains.length === 0) return null;
  const ts = chains.map((c) => c.ts).reduce((a, b) => (b > a ? b : a));
  return { chains, anchor: formatAuditAnchor(chains), ts };
}

export type Row = ChainedRecord & { hash: string };

/** Blobs fetched per query while verifying: each is at most 16 MiB, so this bounds memory. */
const BLOBS_PER_QUERY = 8;

/**
 * Walks every chain (chains.ts) in chain_seq order. For each record it checks that
 *  - chain_seq follows the previous one by exactly 1, from 1 (a gap means records were removed),
 *  - prev_hash equals the previous record's stored hash (removed or reordered records break it),
 *  - its own hash matches its content, chain and place (an edited or moved record no longer does),
 *  - every payload blob it refers to exists and matches the digest and size the record holds;
 * and that no record stands outside every chain. It reports every break, not only the first:
 * after one it carries on from the broken record's own stored hash, so tampering after an earlier
 * break (or after a record an old version could not hash faithfully) is still found. With an
 * `anchor` (heads printed earlier by `audit head`), each chain's record at that place must still
 * exist with that hash.
 */
export async function verifyAuditChain(
  store: Store,
  chainKey: Buffer,
  opts: { pageSize?: number; anchor?: AuditAnchor; maxReported?: number } = {},
): Promise<VerifyResult> {
  const pageSize = opts.pageSize ?? 5000;
  const maxReported = opts.maxReported ?? MAX_REPORTED_BREAKS;
  const anchor = opts.anchor;
  const anchorProblems: AnchorProblem[] = [];
  const breaks: AuditBreak[] = [];
  let breakCount = 0;
  const report = (b: AuditBreak): void => {
    breakCount++;
    if (breaks.length < maxReported) breaks.push(b);
  };
  const blobs = new BlobChecker(store);
  const chains: ChainSummary[] = [];
  let maxSeq = 0;
  let count = 0;
  const names = await listChains(store, { scanRecords: true });
  for (const name of anchor ?? []) if (!names.includes(name.chain)) names.push(name.chain);
  for (const chain of names) {
    const pin = anchor?.find((a) => a.chain === chain);
    let pinSeen = false;
    let prevHash = GENESIS;
    let prev = 0;
    let records = 0;
    for (;;) {
      const rows = (await store.db
        .selectFrom('audit_log')
        .selectAll()
        .where('chain', '=', chain)
        .where('chain_seq', '>', prev)
        .orderBy('chain_seq', 'asc')
        .limit(pageSize)
        .execute()) as Row[];
      if (rows.length === 0) break;
      // Every blob this page refers to, checked once per digest.
      const refs = rows.map((r) => parsePayloadColumn(r.payload));
      await blobs.check(refs);
      for (const [i, r] of rows.entries()) {
        const at = Number(r.chain_seq);
        const where = { seq: Number(r.seq), id: r.id === null ? null : String(r.id), chain, chainSeq: at };
        records++;
        if (Number(r.seq) > maxSeq) maxSeq = Number(r.seq);
        if (at !== prev + 1) report({ ...where, problem: 'removed_before', missing: at - prev - 1 });
        // The link is broken: a record before it was removed and the rest renumbered, or records
        // were swapped, or a hash column was edited.
        else if (!hashesEqual(r.prev_hash, prevHash)) report({ ...where, problem: 'reordered' });
        if (!hashesEqual(chainHash(chainKey, r), r.hash)) report({ ...where, problem: 'changed' });
        const payload = refs[i];
        if (payload === undefined) report({ ...where, problem: 'payload_unreadable' });
        else if (payload) {
          for (const [name, ref] of Object.entries(payload)) {
            if (!('sha256' in ref)) continue;
            const state = blobs.state(ref);
            if (state !== 'ok')
              report({ ...where, problem: state === 'missing' ? 'blob_missing' : 'blob_changed', payload: name });
          }
        }
        if (pin && at === pin.chainSeq) {
          // An anchor kept elsewhere that differs means the history was rewritten from here back.
          if (!hashesEqual(r.hash, pin.hash)) anchorProblems.push({ chain, chainSeq: at, problem: 'different' });
          pinSeen = true;
        }
        // INVARIANT: verification carries on from the stored hash, so one break (a record an
        // attacker edited, or one an older version hashed unfaithfully) never hides a later one.
        prevHash = r.hash;
        prev = at;
      }
    }
    // INVARIANT: records cut from the end of a chain leave a chain that verifies on its own; only
    // an anchor kept outside the store (a log shipper, a ticket) shows the log once reached further.
    if (pin && !pinSeen) anchorProblems.push({ chain, chainSeq: pin.chainSeq, problem: 'missing' });
    count += records;
    chains.push({ chain, records, head: records > 0 ? { chainSeq: prev, hash: prevHash } : null });
  }
  // INVARIANT: every record is in some chain's walk; one outside all of them is reported, not skipped.
  const loose = (await store.db
    .selectFrom('audit_log')
    .select(['seq', 'id', 'chain', 'chain_seq'])
    .where((eb) => eb.or([eb('chain', 'is', null), eb('chain_seq', 'is', null)]))
    .orderBy('seq', 'asc')
    .execute()) as { seq: number | string; id: string | null; chain: string | null; chain_seq: number | null }[];
  for (const r of loose) {
    count++;
    report({
      seq: Number(r.seq),
      id: r.id,
      chain: r.chain,
      chainSeq: r.chain_seq === null ? null : Number(r.chain_seq),
      problem: 'unchained',
    });
  }
  const result: VerifyResult = {
    ok: breakCount === 0 && anchorProblems.length === 0,
    records: count,
    maxSeq,
    chains,
    breaks,
    breakCount,
  };
  if (breaks.length > 0) result.firstBad = breaks[0];
  if (anchorProblems.length > 0) {
    result.anchorProblem = anchorProblems[0];
    result.anchorProblems = anchorProblems;
  }
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
  target?: string;
  decision?: string;
  approver?: string;
  outcome?: string;
  /** Case-insensitive text anywhere in action, target, tool, rule, outcome, approver or detail. */
  text?: string;
  /** ISO times: records at or after `since`, before `until`. */
  since?: string;
  until?: string;
  /** Only records with a smaller seq (the next page back from a page's oldest record). */
  beforeSeq?: number;
  /** Only records with a larger seq (the next page forward, for exports). */
  afterSeq?: number;
  limit?: number;
}

/** The longest `text` a search takes. */
export const MAX_AUDIT_SEARCH_TEXT = 200;

/** `LIKE` pattern for a literal substring (`\` escapes the pattern's own characters). */
function likePattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

type AuditSelect = ReturnType<typeof selectAudit>;
function selectAudit(store: Store) {
  return store.db.selectFrom('audit_log').selectAll();
}

/**
 * Applies a query's filters. The same SQL on both stores: exact matches on the columns, and for
 * `text` a lower-cased LIKE over the concatenated text columns (SQLite's LIKE and PostgreSQL's
 * differ in case handling, so both sides are lowered here instead).
 */
export function filterAudit(query: AuditSelect, q: AuditQuery): AuditSelect {
  let x = query;
  if (q.tokenId) x = x.where('token_id', '=', q.tokenId);
  if (q.tokenName) x = x.where('token_name', '=', q.tokenName);
  if (q.tool) x = x.where('tool', '=', q.tool);
  if (q.target) x = x.where('target', '=', q.target);
  if (q.decision) x = x.where('decision', '=', q.decision);
  if (q.approver) x = x.where('approver', '=', q.approver);
  if (q.outcome) x = x.where('outcome', '=', q.outcome);
  if (q.since) x = x.where('ts', '>=', q.since);
  if (q.until) x = x.where('ts', '<', q.until);
  if (q.beforeSeq !== undefined) x = x.where('seq', '<', q.beforeSeq);
  if (q.afterSeq !== undefined) x = x.where('seq', '>', q.afterSeq);
  if (q.text) {
    if (q.text.length > MAX_AUDIT_SEARCH_TEXT)
      throw new GatehouseError('invalid_input', `search text is at most ${MAX_AUDIT_SEARCH_TEXT} characters`);
    const haystack = sql<string>`lower(${sql.join(
      ['action', 'target', 'tool', 'rule', 'outcome', 'approver', 'token_name', 'detail'].map(
        (c) => sql`coalesce(${sql.ref(c)}, '')`,
      ),
      sql` || ' ' || `,
    )})`;
    // `detail` is stored as JSON, where a quote or backslash in the text is escaped: its escaped
    // form is searched there too.
    const inJson = JSON.stringify(q.text).slice(1, -1);
    x = x.where(
      sql<boolean>`(${haystack} LIKE ${likePattern(q.text)} ESCAPE '\\' OR lower(coalesce(detail, '')) LIKE ${likePattern(inJson)} ESCAPE '\\')`,
    );
  }
  return x;
}

/** Newest-last records matching the query (at most `limit`, default 50): the newest ones. */
export async function searchAudit(store: Store, q: AuditQuery = {}): Promise<AuditRecord[]> {
  const rows = (await filterAudit(selectAudit(store), q)
    .orderBy('seq', 'desc')
    .limit(q.limit ?? 50)
    .execute()) as Row[];
  return rows.reverse().map(toRecord);
}

/** Oldest-first records matching the query after `afterSeq` (export pages). */
export async function scanAudit(store: Store, q: AuditQuery & { limit: number }): Promise<AuditRecord[]> {
  const rows = (await filterAudit(selectAudit(store), q).orderBy('seq', 'asc').limit(q.limit).execute()) as Row[];
  return rows.map(toRecord);
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

export function toRecord(r: Row): AuditRecord {
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
    chain: str(r.chain ?? null),
    chainSeq: num(r.chain_seq ?? null),
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
