import { randomBytes } from 'node:crypto';
import { GatehouseError, rowMac, rowMacValid, truncateText, type MacField } from '../core/index.js';
import type { Store } from '../store/index.js';

/** How long a request waits for a person before it lapses. */
export const ACCESS_REQUEST_TTL_MS = 24 * 3_600_000;
/** Requests one token may have waiting at once. */
export const MAX_PENDING_PER_TOKEN = 5;
const REQUEST_MAC = 'access-request/v1';
const MAX_REASON = 2000;
const HOST =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
const IPV4 = /^(?:\d{1,3}\.){3}\d{1,3}$/;
const USER = /^[a-z_][a-z0-9_.-]{0,31}$/i;
const TARGET_NAME = /^[a-z][a-z0-9_-]{0,62}$/;

export type AccessKind = 'ssh' | 'http';
export type AccessStatus = 'pending' | 'approving' | 'approved' | 'denied' | 'expired';

/** What an agent asks for. */
export interface AccessAsk {
  kind: AccessKind;
  host: string;
  port?: number;
  user?: string;
  baseUrl?: string;
  reason: string;
}

export interface AccessRequest extends AccessAsk {
  id: string;
  tokenId: string;
  tokenName: string;
  createdAt: number;
  expiresAt: number;
  status: AccessStatus;
  decidedAt: number | null;
  decidedBy: string | null;
  note: string | null;
  target: string | null;
  grantUntil: number | null;
  /** false: the row was written outside Gatehouse; it is shown as such and cannot be approved. */
  verified: boolean;
}

interface Row {
  id: string;
  token_id: string;
  token_name: string;
  kind: string;
  host: string;
  port: number | string | null;
  user: string | null;
  base_url: string | null;
  reason: string;
  created_at: number | string;
  expires_at: number | string;
  status: string;
  decided_at: number | string | null;
  decided_by: string | null;
  note: string | null;
  target: string | null;
  grant_until: number | string | null;
  mac: string;
  decision_mac: string | null;
}

const DECISION_MAC = 'access-decision/v1';
const decisionFields = (
  r: Pick<Row, 'id' | 'status' | 'decided_at' | 'decided_by' | 'note' | 'target' | 'grant_until'>,
): MacField[] => [
  r.id,
  r.status,
  r.decided_at === null ? null : Number(r.decided_at),
  r.decided_by,
  r.note,
  r.target,
  r.grant_until === null ? null : Number(r.grant_until),
];

const fields = (
  r: Omit<Row, 'mac' | 'decision_mac' | 'status' | 'decided_at' | 'decided_by' | 'note' | 'target' | 'grant_until'>,
): MacField[] => [
  r.id,
  r.token_id,
  r.token_name,
  r.kind,
  r.host,
  r.port === null ? null : Number(r.port),
  r.user,
  r.base_url,
  r.reason,
  Number(r.created_at),
  Number(r.expires_at),
];

/** Checks what an agent asked for; anything malformed is `invalid_input` naming it. */
export function checkAsk(a: Partial<AccessAsk>): AccessAsk {
  const kind = a.kind;
  if (kind !== 'ssh' && kind !== 'http') throw new GatehouseError('invalid_input', 'kind is ssh or http');
  // Control characters (a terminal escape, a carriage return) never reach a person's screen: the
  // reason is shown in the console and the CLI.
  const reason = (a.reason ?? '').replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, ' ').trim();
  if (reason === '') throw new GatehouseError('invalid_input', 'say why you need the access (reason)');
  if (reason.length > MAX_REASON)
    throw new GatehouseError('invalid_input', `the reason is over ${MAX_REASON} characters`);
  if (kind === 'http') {
    let u: URL;
    try {
      u = new URL(a.baseUrl ?? '');
    } catch {
      throw new GatehouseError('invalid_input', 'base_url must be the API’s URL, e.g. https://api.example.com');
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:')
      throw new GatehouseError('invalid_input', 'base_url must be http:// or https://');
    if (u.username || u.password) throw new GatehouseError('invalid_input', 'base_url must not carry credentials');
    return { kind, host: u.hostname, baseUrl: u.toString(), reason };
  }
  const host = (a.host ?? '').trim();
  if (!HOST.test(host) && !IPV4.test(host))
    throw new GatehouseError('invalid_input', 'host must be a host name or an IPv4 address');
  const port = a.port ?? 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new GatehouseError('invalid_input', 'port is 1 to 65535');
  const user = (a.user ?? '').trim();
  if (!USER.test(user)) throw new GatehouseError('invalid_input', 'user must be a login name (letters, digits, _ . -)');
  return { kind, host, port, user, reason };
}

/** A target name is what `gatehouse target add` takes. */
export function checkTargetName(name: string): string {
  if (!TARGET_NAME.test(name))
    throw new GatehouseError(
      'invalid_input',
      'a target name is 1-63 lowercase letters, digits, _ or -, starting with a letter',
    );
  return name;
}

/**
 * Access requests: an agent asks for an SSH host or an HTTP API it cannot reach yet; a person
 * approves (creating the target with a credential the agent never sees, and granting it) or
 * denies. This store only keeps the requests; approve.ts does what approving means.
 *
 * INVARIANTS: a token has at most MAX_PENDING_PER_TOKEN requests waiting (one that asks again for
 * the same thing gets its waiting request back); a request is decided once (one conditional
 * UPDATE); a row written without the master key is shown as tampered and cannot be approved.
 */
export class AccessRequests {
  readonly #store: Store;
  readonly #key: Buffer;
  readonly #now: () => number;

  constructor(store: Store, integrityKey: Buffer, now: () => number = Date.now) {
    this.#store = store;
    this.#key = integrityKey;
    this.#now = now;
  }

  /** Files a request for a token; the same waiting ask returns the waiting request. */
  async file(
    token: { tokenId: string; tokenName: string },
    ask: AccessAsk,
  ): Promise<{ request: AccessRequest; existing: boolean }> {
    const now = this.#now();
    const waiting = (await this.list({ status: 'pending', tokenId: token.tokenId })).filter((r) => r.verified);
    const same = waiting.find(
      (r) =>
        r.kind === ask.kind &&
        r.host === ask.host &&
        r.user === ask.user &&
        r.baseUrl === ask.baseUrl &&
        r.port === ask.port,
    );
    if (same) return { request: same, existing: true };
    if (waiting.length >= MAX_PENDING_PER_TOKEN)
      throw new GatehouseError('limit_exceeded', `this token already has ${waiting.length} access requests waiting`, {
        hint: 'wait for a person to decide them',
      });
    const base = {
      id: 'ar_' + randomBytes(10).toString('hex'),
      token_id: token.tokenId,
      token_name: token.tokenName,
      kind: ask.kind,
      host: ask.host,
      port: ask.port ?? null,
      user: ask.user ?? null,
      base_url: ask.baseUrl ?? null,
      reason: truncateText(ask.reason, MAX_REASON),
      created_at: now,
      expires_at: now + ACCESS_REQUEST_TTL_MS,
    };
    const row: Row = {
      ...base,
      status: 'pending',
      decided_at: null,
      decided_by: null,
      note: null,
      target: null,
      grant_until: null,
      mac: rowMac(this.#key, REQUEST_MAC, fields(base)),
      decision_mac: null,
    };
    await this.#store.db.insertInto('access_requests').values(row).execute();
    // The cap holds under concurrent asks too: counted after the insert, and a request past the
    // first MAX_PENDING_PER_TOKEN waiting ones (by time, then id) takes itself back.
    const mine = (await this.#store.db
      .selectFrom('access_requests')
      .select(['id'])
      .where('token_id', '=', token.tokenId)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now)
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .execute()) as { id: string }[];
    if (mine.findIndex((x) => x.id === row.id) >= MAX_PENDING_PER_TOKEN) {
      await this.#store.db.deleteFrom('access_requests').where('id', '=', row.id).execute();
      throw new GatehouseError(
        'limit_exceeded',
        `this token already has ${MAX_PENDING_PER_TOKEN} access requests waiting`,
        {
          hint: 'wait for a person to decide them',
        },
      );
    }
    return { request: this.#view(row), existing: false };
  }

  async get(id: string): Promise<AccessRequest | null> {
    const row = (await this.#store.db
      .selectFrom('access_requests')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst()) as Row | undefined;
    return row ? this.#view(row) : null;
  }

  /** Requests, newest first (at most 200). */
  async list(o: { status?: AccessStatus | 'all'; tokenId?: string } = {}): Promise<AccessRequest[]> {
    let q = this.#store.db.selectFrom('access_requests').selectAll();
    if (o.tokenId) q = q.where('token_id', '=', o.tokenId);
    const now = this.#now();
    if (o.status === 'pending') q = q.where('status', '=', 'pending').where('expires_at', '>', now);
    else if (o.status === 'expired') q = q.where('status', '=', 'pending').where('expires_at', '<=', now);
    else if (o.status === 'approved' || o.status === 'denied') q = q.where('status', '=', o.status);
    const rows = (await q.orderBy('created_at', 'desc').limit(200).execute()) as Row[];
    return rows.map((r) => this.#view(r));
  }

  /**
   * Claims a pending, unexpired request for approving (one conditional UPDATE: only one approver
   * gets it, and a deny or lapse cannot land while the approval is being made). `release` puts it
   * back if the approval's work fails.
   */
  async claim(id: string): Promise<void> {
    const now = this.#now();
    const r = await this.#store.db
      .updateTable('access_requests')
      .set({ status: 'approving' })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1)
      throw new GatehouseError('conflict', 'this access request was already decided, is being approved, or has lapsed');
  }

  async release(id: string): Promise<void> {
    await this.#store.db
      .updateTable('access_requests')
      .set({ status: 'pending' })
      .where('id', '=', id)
      .where('status', '=', 'approving')
      .execute();
  }

  /**
   * Records a decision once, signed: a deny from `pending`, an approval from `approving` (after
   * `claim` and the approval's work). A decision another already made is `conflict`.
   */
  async decide(
    id: string,
    d: { status: 'approved' | 'denied'; by: string; note?: string; target?: string; grantUntil?: number },
  ): Promise<void> {
    const now = this.#now();
    const decided = {
      id,
      status: d.status,
      decided_at: now,
      decided_by: truncateText(d.by, 200),
      note: d.note ? truncateText(d.note, MAX_REASON) : null,
      target: d.target ?? null,
      grant_until: d.grantUntil ?? null,
    };
    let q = this.#store.db
      .updateTable('access_requests')
      .set({ ...decided, decision_mac: rowMac(this.#key, DECISION_MAC, decisionFields(decided)) })
      .where('id', '=', id)
      .where('status', '=', d.status === 'approved' ? 'approving' : 'pending');
    if (d.status === 'denied') q = q.where('expires_at', '>', now);
    const r = await q.executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1)
      throw new GatehouseError('conflict', 'this access request was already decided, is being approved, or has lapsed');
  }

  #view(r: Row): AccessRequest {
    // A decision is signed when made: a decided row without a valid one (or a pending row that
    // carries one: put back after a decision) was changed outside Gatehouse.
    const decisionOk =
      r.status === 'pending' || r.status === 'approving'
        ? r.decision_mac === null && r.decided_at === null
        : rowMacValid(this.#key, DECISION_MAC, decisionFields(r), r.decision_mac);
    const verified = decisionOk && rowMacValid(this.#key, REQUEST_MAC, fields(r), r.mac);
    const lapsed = r.status === 'pending' && Number(r.expires_at) <= this.#now();
    return {
      id: r.id,
      tokenId: r.token_id,
      tokenName: r.token_name,
      kind: r.kind === 'ssh' ? 'ssh' : 'http',
      host: r.host,
      ...(r.port !== null ? { port: Number(r.port) } : {}),
      ...(r.user !== null ? { user: r.user } : {}),
      ...(r.base_url !== null ? { baseUrl: r.base_url } : {}),
      reason: r.reason,
      createdAt: Number(r.created_at),
      expiresAt: Number(r.expires_at),
      status: lapsed ? 'expired' : (r.status as AccessStatus),
      decidedAt: r.decided_at === null ? null : Number(r.decided_at),
      decidedBy: r.decided_by,
      note: r.note,
      target: r.target,
      grantUntil: r.grant_until === null ? null : Number(r.grant_until),
      verified,
    };
  }
}
