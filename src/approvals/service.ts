import { createHash } from 'node:crypto';
import { cutText, GatehouseError, log, truncateText } from '../core/index.js';
import type { SelectQueryBuilder } from 'kysely';
import type { Store } from '../store/index.js';
import { consumeError, tamperedError, type ConsumeFailure } from './approval-errors.js';
import { approvalVerifies, signApproval, type ApprovalRow } from './approval-rows.js';
import { decideInstructions, describeForHuman } from './describe.js';
import { ApproverRegistry, type ApproverInfo, type EnrolmentBy } from './approvers.js';
import { isApprovalId, newApprovalId } from './ids.js';
import { RequestStateCodec, type RequestStatePayload, requestStateError } from './request-state.js';
import type {
  Approval,
  ApprovalBody,
  ApprovalEvent,
  ApprovalMode,
  ApprovalOperation,
  ApprovalRequest,
  ApprovalStatus,
  DecisionChannel,
  InternalKeySource,
} from './types.js';

/** Default life of an approval (pending or approved but unused) and of a sealed requestState. */
export const DEFAULT_APPROVAL_TTL_MS = 10 * 60 * 1000;
/** Used requestState nonces are kept this long past their expiry (clock skew between hosts). */
const NONCE_GRACE_MS = 60 * 60 * 1000;
const MAX_NOTE = 2000;
const MAX_TEXT = 64 * 1024;
/** Bounds on an operation's bound inputs (ApprovalOperation.bound). */
export const MAX_BOUND_KEYS = 32;
export const MAX_BOUND_VALUE_BYTES = 64 * 1024;
const MAX_BOUND_KEY_CHARS = 200;

export interface ApprovalServiceOptions {
  store: Store;
  /** The vault keyring (`rt.keyring`): gives the `request-state`, `approver-seeds` and `store-integrity` keys. */
  keys: InternalKeySource;
  /** Life of a new approval and default life of a sealed requestState (default 10 minutes). */
  ttlMs?: number;
  /**
   * Called, and awaited, for every request, decision, consumption and verification outcome. A
   * rejection propagates (fail closed: an unaudited consumption does not let the action run).
   */
  onEvent?: (e: ApprovalEvent) => void | Promise<void>;
  /** Clock (ms since the epoch); tests move it instead of sleeping. */
  now?: () => number;
  /**
   * Approvals one token may have waiting at once (default 20). Past it a new request is refused
   * with `limit_exceeded` (audited), so one token that never answers cannot bury another token's
   * real approval under its own.
   */
  maxPendingPerToken?: number;
  /** How long a record is kept past its expiry before it is purged (default 7 days). */
  retentionMs?: number;
}

export interface DecideOptions {
  /** Who decided: an OS user for the CLI, `api:<admin token name>`, the approver name for TOTP. */
  by: string;
  channel: DecisionChannel;
  note?: string;
  /** Refuse when the approval belongs to this token (a token never decides its own approval). */
  notTokenId?: string;
  /**
   * Decide only when the approval belongs to this token; another token's approval is answered as
   * not found (an answer given in a token's client settles that token's approval and no other).
   */
  forTokenId?: string;
}

export interface ListOptions {
  status?: ApprovalStatus | 'all';
  limit?: number;
}

export interface PageOptions {
  status?: 'pending' | 'approved' | 'denied' | 'expired' | 'used' | 'tampered' | 'all';
  /** At most this many records in the page (default 100, at most 1000). */
  limit?: number;
  /** `nextCursor` of the previous page. */
  cursor?: string;
  /** Only this token's approvals. */
  tokenId?: string;
}

/** One page of approvals, with what the page leaves out said out loud. */
export interface ApprovalPage {
  approvals: Approval[];
  /** How many records match the filter in all (not only this page). */
  total: number;
  /** Matching records per token, most first: one token's flood never hides another token's count. */
  byToken: { tokenId: string; tokenName: string; count: number }[];
  /** True when more records match than this page shows. */
  truncated: boolean;
  /** Pass as `cursor` for the next page; absent on the last one. */
  nextCursor?: string;
}

/** Default cap on approvals one token may have waiting at once. */
export const DEFAULT_MAX_PENDING_PER_TOKEN = 20;
/** Default time a record is kept past its expiry. */
export const DEFAULT_APPROVAL_RETENTION_MS = 7 * 24 * 3600 * 1000;
/** Largest record kept (summary, reason, matched and the operation together, UTF-8). */
export const MAX_APPROVAL_RECORD_BYTES = 256 * 1024;
/** Purges run at most this often, from the request path (no timer of their own). */
const PURGE_EVERY_MS = 60 * 1000;

const MODES: readonly ApprovalMode[] = ['out-of-band', 'totp', 'elicitation'];
const CHANNELS: readonly DecisionChannel[] = ['cli', 'api', 'console', 'elicitation', 'totp'];

/** Opens the approvals core on a store: loads its keys once, then everything is synchronous to seal. */
export async function createApprovalService(opts: ApprovalServiceOptions): Promise<ApprovalService> {
  const [stateKey, seedKey, integrityKey] = await Promise.all([
    opts.keys.internalKey('request-state'),
    opts.keys.internalKey('approver-seeds'),
    opts.keys.internalKey('store-integrity'),
  ]);
  return new ApprovalService(opts, stateKey, seedKey, integrityKey);
}

/**
 * Pending approvals, their decisions and their one-time use, in the store (so any Gatehouse
 * process can resolve what another one asked); sealed MRTR requestState; TOTP approvers.
 * Nothing here knows about MCP.
 */
export class ApprovalService {
  readonly ttlMs: number;
  readonly approvers: ApproverRegistry;
  readonly #store: Store;
  readonly #now: () => number;
  readonly #onEvent: ApprovalServiceOptions['onEvent'];
  readonly #codec: RequestStateCodec;
  /** Signs and checks every approval row (`store-integrity`: a database writer without the master key cannot). */
  readonly #integrityKey: Buffer;
  /**
   * Approvals this process spent, until they expire. A database writer can put back an earlier,
   * genuinely signed state of a row (approved, not yet used) that a signature alone cannot tell
   * from the present; the process that spent it still knows, and refuses it as tampered.
   */
  readonly #spent = new Map<string, number>();
  readonly #maxPending: number;
  readonly #retentionMs: number;
  #lastPurge = 0;

  constructor(opts: ApprovalServiceOptions, stateKey: Buffer, seedKey: Buffer, integrityKey: Buffer) {
    if (integrityKey.length !== 32) throw new GatehouseError('key_invalid', 'the store-integrity key must be 32 bytes');
    this.#integrityKey = integrityKey;
    this.#store = opts.store;
    this.ttlMs = opts.ttlMs ?? DEFAULT_APPROVAL_TTL_MS;
    if (!(this.ttlMs > 0)) throw new GatehouseError('config_invalid', 'the approval ttl must be positive');
    this.#now = opts.now ?? Date.now;
    this.#onEvent = opts.onEvent;
    this.#codec = new RequestStateCodec(stateKey, this.#now);
    this.#maxPending = opts.maxPendingPerToken ?? DEFAULT_MAX_PENDING_PER_TOKEN;
    if (!(this.#maxPending >= 1))
      throw new GatehouseError('config_invalid', 'approvals.max_pending_per_token must be at least 1');
    this.#retentionMs = opts.retentionMs ?? DEFAULT_APPROVAL_RETENTION_MS;
    this.approvers = new ApproverRegistry(opts.store, seedKey, this.#now, (e) => this.#emit(e));
  }

  // ---- pending approvals -------------------------------------------------------------------

  /** Records a pending approval for one exact action; returns its unguessable id and expiry. */
  async request(r: ApprovalRequest): Promise<{ id: string; expiresAt: string }> {
    checkText('tokenId', r.tokenId, 40);
    checkText('tokenName', r.tokenName, 200);
    checkText('tool', r.tool, 100);
    if (r.target != null) checkText('target', r.target, 200);
    checkText('digest', r.digest, 64);
    checkText('rule', r.rule, 200);
    checkText('summary', r.summary, MAX_TEXT, true);
    checkText('reason', r.reason, MAX_TEXT, true);
    checkText('matched', r.matched, MAX_TEXT, true);
    if (!MODES.includes(r.mode))
      throw new GatehouseError('invalid_input', `unknown approval mode ${JSON.stringify(r.mode)}`);
    const operation = r.operation ? JSON.stringify(pickOperation(r.operation)) : null;
    // INVARIANT: what is stored per record is bounded (with the per-token cap, so is a flood).
    const bytes = [r.summary, r.reason, r.matched, operation ?? ''].reduce(
      (n, t) => n + Buffer.byteLength(t, 'utf8'),
      0,
    );
    if (bytes > MAX_APPROVAL_RECORD_BYTES) {
      throw new GatehouseError(
        'input_too_large',
        `this action is ${bytes} bytes as a person would be shown it; an approval keeps at most ${MAX_APPROVAL_RECORD_BYTES}`,
        {
          hint: 'send a smaller command, body or environment; large data belongs in a file the command reads',
        },
      );
    }
    const now = this.#now();
    await this.#purgeNow(now);
    // INVARIANT: one token has at most maxPendingPerToken approvals waiting (plus requests racing
    // this check from other processes), so it cannot bury another token's.
    const waiting = Number(
      (
        (await this.#store.db
          .selectFrom('approvals')
          .select((eb) => eb.fn.countAll().as('n'))
          .where('token_id', '=', r.tokenId)
          .where('status', '=', 'pending')
          .where('expires_at', '>', iso(now))
          .executeTakeFirst()) as { n: number | string } | undefined
      )?.n ?? 0,
    );
    if (waiting >= this.#maxPending) {
      await this.#emit({ kind: 'request', approvalId: null, tokenId: r.tokenId, outcome: 'refused:too_many_pending' });
      throw new GatehouseError(
        'limit_exceeded',
        `this token already has ${waiting} approvals waiting for a person (at most ${this.#maxPending})`,
        {
          hint: 'wait for a person to decide the approvals already asked for (or for them to expire) before asking for more; tell the person they are waiting',
          details: { waiting, max: this.#maxPending },
        },
      );
    }
    const id = newApprovalId();
    const expiresAt = iso(now + this.ttlMs);
    const row: Omit<ApprovalRow, 'mac'> = {
      id,
      token_id: r.tokenId,
      token_name: r.tokenName,
      tool: r.tool,
      target: r.target ?? null,
      summary: r.summary,
      operation,
      digest: r.digest,
      rule: r.rule,
      reason: r.reason,
      matched: r.matched,
      mode: r.mode,
      status: 'pending',
      created_at: iso(now),
      expires_at: expiresAt,
      decided_at: null,
      decided_by: null,
      channel: null,
      note: null,
      consumed_at: null,
    };
    // INVARIANT: every row is written with the signature of exactly the state it holds.
    await this.#store.db
      .insertInto('approvals')
      .values({ ...row, mac: signApproval(this.#integrityKey, row) })
      .execute();
    await this.#emit({ kind: 'request', approvalId: id, tokenId: r.tokenId, outcome: 'pending' });
    return { id, expiresAt };
  }

  /**
   * One page of approvals, newest first, with the total, the count per token and a cursor for the
   * next page. INVARIANT: a list never hides that it was cut, and one token's records cannot push
   * another token out of view unseen (`byToken` counts every token that has any).
   */
  async page(opts: PageOptions = {}): Promise<ApprovalPage> {
    const now = iso(this.#now());
    const limit = Math.min(Math.max(1, Math.floor(opts.limit ?? 100)), 1000);
    const status = opts.status ?? 'pending';
    if (status === 'tampered') return this.#tamperedPage(limit, opts.tokenId);
    const filtered = <O>(q: SelectQueryBuilder<StoreTables, 'approvals', O>) =>
      pageFilter(q, status, opts.tokenId, now);
    let q = filtered(this.#store.db.selectFrom('approvals').selectAll());
    if (opts.cursor !== undefined) {
      const c = parseCursor(opts.cursor);
      q = q.where((eb) =>
        eb.or([eb('created_at', '<', c.createdAt), eb.and([eb('created_at', '=', c.createdAt), eb('id', '>', c.id)])]),
      );
    }
    const rows = (await q
      .orderBy('created_at', 'desc')
      .orderBy('id')
      .limit(limit + 1)
      .execute()) as ApprovalRow[];
    const counts = (await filtered(this.#store.db.selectFrom('approvals'))
      .select(['token_id', 'token_name'])
      .select((eb) => eb.fn.countAll().as('n'))
      .groupBy(['token_id', 'token_name'])
      .execute()) as { token_id: string; token_name: string; n: number | string }[];
    const byToken = counts
      .map((c) => ({ tokenId: c.token_id, tokenName: c.token_name, count: Number(c.n) }))
      .sort((a, b) => b.count - a.count || a.tokenName.localeCompare(b.tokenName));
    const total = byToken.reduce((n, t) => n + t.count, 0);
    const shown = rows.slice(0, limit);
    const last = shown.at(-1);
    const more = rows.length > limit;
    return {
      approvals: shown.map((r) => this.#toApproval(r)),
      total,
      byToken,
      truncated: more || (opts.cursor !== undefined && total > shown.length),
      ...(more && last ? { nextCursor: `${last.created_at}|${last.id}` } : {}),
    };
  }

  /**
   * How many approvals are in each state now, across every process sharing the store (for
   * metrics). Tampered records are not counted here: that needs every signature checked.
   */
  async countByStatus(): Promise<Record<'pending' | 'approved' | 'denied' | 'expired' | 'used', number>> {
    const now = iso(this.#now());
    const out = { pending: 0, approved: 0, denied: 0, expired: 0, used: 0 };
    for (const status of Object.keys(out) as (keyof typeof out)[]) {
      const r = (await pageFilter(this.#store.db.selectFrom('approvals'), status, undefined, now)
        .select((eb) => eb.fn.countAll().as('n'))
        .executeTakeFirst()) as { n: number | string } | undefined;
      out[status] = Number(r?.n ?? 0);
    }
    return out;
  }

  /** Tampered records: signatures cannot be checked in SQL, so the newest rows are checked here (one page, no cursor). */
  async #tamperedPage(limit: number, tokenId: string | undefined): Promise<ApprovalPage> {
    const all = (await this.list({ status: 'tampered', limit: 5000 })).filter(
      (a) => tokenId === undefined || a.tokenId === tokenId,
    );
    const counts = new Map<string, { tokenId: string; tokenName: string; count: number }>();
    for (const a of all) {
      const e = counts.get(a.tokenId) ?? { tokenId: a.tokenId, tokenName: a.tokenName, count: 0 };
      e.count++;
      counts.set(a.tokenId, e);
    }
    const byToken = [...counts.values()].sort((a, b) => b.count - a.count || a.tokenName.localeCompare(b.tokenName));
    return { approvals: all.slice(0, limit), total: all.length, byToken, truncated: all.length > limit };
  }

  /**
   * Deletes records whose expiry passed more than the retention ago (decided, used or never
   * decided: none of them can be used any more, and the audit log keeps every decision). Returns
   * how many went.
   */
  async purge(): Promise<number> {
    const before = iso(this.#now() - this.#retentionMs);
    const r = await this.#store.db.deleteFrom('approvals').where('expires_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows ?? 0);
  }

  async #purgeNow(now: number): Promise<void> {
    if (now - this.#lastPurge < PURGE_EVERY_MS) return;
    this.#lastPurge = now;
    await this.purge();
  }

  /** The approval as seen now; a row whose signature fails is shown as `tampered`, never as what it claims. */
  async get(id: string): Promise<Approval | null> {
    if (!isApprovalId(id)) return null;
    const row = await this.#row(id);
    return row ? this.#toApproval(row) : null;
  }

  /**
   * Newest first. `status` filters on the status as seen now (default: all). A row whose
   * signature fails is listed as `tampered` wherever its stored columns put it (so an operator
   * looking at what waits sees it), and `tampered` lists only those.
   */
  async list(opts: ListOptions = {}): Promise<Approval[]> {
    const now = iso(this.#now());
    const limit = Math.min(Math.max(1, opts.limit ?? 500), 5000);
    let q = this.#store.db.selectFrom('approvals').selectAll();
    switch (opts.status ?? 'all') {
      case 'pending':
        q = q.where('status', '=', 'pending').where('expires_at', '>', now);
        break;
      case 'approved':
        q = q.where('status', '=', 'approved').where('consumed_at', 'is', null).where('expires_at', '>', now);
        break;
      case 'denied':
        q = q.where('status', '=', 'denied');
        break;
      case 'used':
        q = q.where('consumed_at', 'is not', null);
        break;
      case 'expired':
        q = q
          .where('status', 'in', ['pending', 'approved'])
          .where('consumed_at', 'is', null)
          .where('expires_at', '<=', now);
        break;
      case 'tampered': {
        // The signature cannot be checked in SQL: check the newest rows here.
        const rows = (await q.orderBy('created_at', 'desc').orderBy('id').limit(5000).execute()) as ApprovalRow[];
        return rows
          .map((r) => this.#toApproval(r))
          .filter((a) => a.status === 'tampered')
          .slice(0, limit);
      }
      case 'all':
        break;
      default:
        throw new GatehouseError('invalid_input', `unknown approval status ${JSON.stringify(opts.status)}`, {
          hint: 'use pending, approved, denied, expired, used, tampered or all',
        });
    }
    const rows = (await q.orderBy('created_at', 'desc').orderBy('id').limit(limit).execute()) as ApprovalRow[];
    return rows.map((r) => this.#toApproval(r));
  }

  /**
   * A person's decision. INVARIANT: only a pending, unexpired approval whose signature verifies
   * changes, in one conditional UPDATE that also requires the signature it was read with and
   * writes the signature of the new state; so a denial (or an expiry, which means deny) can never
   * become an approval, two deciders racing get exactly one winner, and a row a database writer
   * forged or altered is never decided (nor re-signed).
   */
  async decide(id: string, decision: 'approved' | 'denied', o: DecideOptions): Promise<Approval> {
    if (decision !== 'approved' && decision !== 'denied')
      throw new GatehouseError('invalid_input', 'decision must be approved or denied');
    checkText('by', o.by, 200);
    if (!CHANNELS.includes(o.channel))
      throw new GatehouseError('invalid_input', `unknown channel ${JSON.stringify(o.channel)}`);
    if (o.note !== undefined && o.note.length > MAX_NOTE)
      throw new GatehouseError('invalid_input', `the note is over ${MAX_NOTE} characters`);
    const shown = isApprovalId(id) ? id : '(malformed id)';
    const ev = {
      kind: 'decide' as const,
      approvalId: isApprovalId(id) ? id : null,
      by: o.by,
      channel: o.channel,
      note: o.note,
    };
    const refuse = async (outcome: string, err: GatehouseError, tokenId?: string): Promise<never> => {
      await this.#emit({ ...ev, ...(tokenId !== undefined ? { tokenId } : {}), outcome });
      throw err;
    };
    if (!isApprovalId(id)) return refuse('refused:not_found', notFound(shown));
    const now = iso(this.#now());
    for (let attempt = 0; ; attempt++) {
      const row = await this.#row(id);
      if (!row || (o.forTokenId !== undefined && row.token_id !== o.forTokenId))
        return refuse('refused:not_found', notFound(shown));
      if (!this.#verified(row)) return refuse('refused:tampered', tamperedError(id));
      const refusal = decideRefusal(row, o, now);
      if (refusal) return refuse(`refused:${refusal.reason}`, refusal.err, row.token_id);
      const next: Omit<ApprovalRow, 'mac'> = {
        ...row,
        status: decision,
        decided_at: now,
        decided_by: o.by,
        channel: o.channel,
        note: o.note ?? null,
      };
      const mac = signApproval(this.#integrityKey, next);
      let q = this.#store.db
        .updateTable('approvals')
        .set({ status: decision, decided_at: now, decided_by: o.by, channel: o.channel, note: o.note ?? null, mac })
        .where('id', '=', id)
        .where('status', '=', 'pending')
        .where('expires_at', '>', now)
        .where('mac', '=', row.mac);
      if (o.notTokenId !== undefined) q = q.where('token_id', '<>', o.notTokenId);
      const res = await q.executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) {
        await this.#emit({ ...ev, tokenId: row.token_id, outcome: decision });
        return this.#toApproval({ ...next, mac });
      }
      // Lost a race (another decider won) or the row changed under us: read it again and answer
      // as it stands now. A row that is still pending after that changed twice: give up.
      if (attempt >= 1)
        return refuse(
          'refused:conflict',
          new GatehouseError('conflict', `approval ${id} changed while it was being decided`, {
            hint: 'run `gatehouse approvals list --all` and try again',
          }),
          row.token_id,
        );
    }
  }

  /**
   * Spends an approval on the call it covers. INVARIANT (single use, exact binding, integrity):
   * the row's signature must verify; then one conditional UPDATE, which also requires the
   * signature it was read with and writes the signature of the spent state, succeeds only for an
   * approved, unused, unexpired approval of the same token and the same action digest; the
   * affected-row count decides, so two processes racing get one winner. On failure the reason is
   * told only to the token the approval belongs to. Still pending -> `approval_required` (wait
   * and retry); every other refusal, a forged or altered row included -> `approval_invalid`.
   */
  async consume(
    id: string,
    who: { tokenId: string; digest: string },
  ): Promise<{ approver: string; channel: DecisionChannel }> {
    const ev = { kind: 'consume' as const, approvalId: isApprovalId(id) ? id : null, tokenId: who.tokenId };
    const refuse = async (reason: ConsumeFailure, row?: ApprovalRow): Promise<never> => {
      await this.#emit({ ...ev, outcome: `refused:${reason}` });
      throw consumeError(
        reason,
        isApprovalId(id) ? id : '(malformed id)',
        row ? { by: row.decided_by, expiresAt: row.expires_at, note: row.note } : {},
      );
    };
    if (!isApprovalId(id)) return refuse('not_found');
    const now = iso(this.#now());
    const row = await this.#row(id);
    if (!row) return refuse('not_found');
    if (!this.#verified(row)) {
      // Audited as tampered whoever asks; the caller learns it only when the row claims to be its
      // own (another token's approval, even a forged one, is answered exactly like a missing one).
      await this.#emit({ ...ev, outcome: 'refused:tampered' });
      throw row.token_id === who.tokenId ? tamperedError(id) : consumeError('not_found', id);
    }
    // Another token's approval is answered exactly like a missing one: nothing about it leaks.
    if (row.token_id !== who.tokenId) return refuse('not_found');
    const reason = consumeRefusal(row, who.digest, now);
    if (reason) return refuse(reason, row);
    if (this.#spent.has(id)) {
      log.error('an approval record was put back to an earlier state (spent, now shown unspent): it is refused', {
        approval: id,
      });
      await this.#emit({ ...ev, outcome: 'refused:tampered' });
      throw tamperedError(id);
    }
    const next: Omit<ApprovalRow, 'mac'> = { ...row, consumed_at: now };
    const mac = signApproval(this.#integrityKey, next);
    const res = await this.#store.db
      .updateTable('approvals')
      .set({ consumed_at: now, mac })
      .where('id', '=', id)
      .where('status', '=', 'approved')
      .where('consumed_at', 'is', null)
      .where('token_id', '=', who.tokenId)
      .where('digest', '=', who.digest)
      .where('expires_at', '>', now)
      .where('mac', '=', row.mac)
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 1) {
      this.#rememberSpent(id, Date.parse(row.expires_at));
      await this.#emit({
        ...ev,
        by: row.decided_by ?? undefined,
        channel: (row.channel as DecisionChannel) ?? undefined,
        outcome: 'consumed',
      });
      return { approver: row.decided_by ?? 'unknown', channel: (row.channel as DecisionChannel | null) ?? 'cli' };
    }
    // Lost a race with a concurrent consume (or the row changed under us): never a second use.
    const after = await this.#row(id);
    if (after && !this.#verified(after)) {
      await this.#emit({ ...ev, outcome: 'refused:tampered' });
      throw tamperedError(id);
    }
    return refuse((after && consumeRefusal(after, who.digest, now)) || 'used', after ?? row);
  }

  /**
   * Signs the rows written before approvals were signed (mac NULL) and returns how many. Call it
   * once, only in the process that has just applied migration 0006: after that, a NULL signature
   * is refused like a bad one, and calling this again would sign rows a database writer inserted.
   */
  async signUnsigned(): Promise<number> {
    const rows = (await this.#store.db
      .selectFrom('approvals')
      .selectAll()
      .where('mac', 'is', null)
      .execute()) as ApprovalRow[];
    let signed = 0;
    for (const r of rows) {
      const res = await this.#store.db
        .updateTable('approvals')
        .set({ mac: signApproval(this.#integrityKey, r) })
        .where('id', '=', r.id)
        .where('mac', 'is', null)
        .executeTakeFirst();
      signed += Number(res.numUpdatedRows);
    }
    return signed;
  }

  // ---- flows the gate's Approver composes ------------------------------------------------------

  /**
   * Out of band: without `approvalId`, records a pending approval and throws `approval_required`
   * whose details carry `approvalId`, `expiresAt`, `description` (what the person will see) and
   * `instructions` (what to tell the person). With `approvalId` (the agent's retry), consumes it
   * for exactly this token and digest.
   */
  async outOfBand(r: ApprovalRequest, approvalId?: string): Promise<{ approver: string; channel: DecisionChannel }> {
    if (approvalId !== undefined) return this.consume(approvalId, { tokenId: r.tokenId, digest: r.digest });
    const { id, expiresAt } = await this.request(r);
    const a = (await this.get(id))!;
    throw new GatehouseError(
      'approval_required',
      `a person must approve this before it runs (${r.rule}: ${r.reason}); approval ${id} is waiting`,
      {
        hint: `${decideInstructions(id)} It expires at ${expiresAt}.`,
        details: {
          approvalId: id,
          expiresAt,
          rule: r.rule,
          reason: r.reason,
          description: describeForHuman(a, { now: this.#now() }),
          instructions: decideInstructions(id),
        },
      },
    );
  }

  /**
   * The client could not or did not answer an in-band approval (a cancelled form, an error answer
   * to `elicitation/create`, a cancelled call): nobody decided. The approval stays pending, to be
   * decided out of band, and this throws `approval_required` as `outOfBand` does, with `why` in
   * the message and the id, so the agent can tell the person and retry with `approval_id`.
   * Only the asking token's own pending approval is named (another's is not found).
   */
  async stillWaiting(id: string, who: { tokenId: string }, why: string): Promise<never> {
    const a = await this.get(id);
    if (!a || a.tokenId !== who.tokenId) throw notFound(id);
    if (a.status !== 'pending')
      throw new GatehouseError('approval_invalid', `approval ${id} is ${a.status}, not waiting`, {
        hint: 'call again without approval_id to ask anew',
      });
    throw new GatehouseError(
      'approval_required',
      `${why}; that is not a decision: approval ${id} is still waiting for a person (${a.rule}: ${a.reason})`,
      {
        hint: `${decideInstructions(id)} It expires at ${a.expiresAt}.`,
        details: {
          approvalId: id,
          expiresAt: a.expiresAt,
          rule: a.rule,
          reason: a.reason,
          description: describeForHuman(a, { now: this.#now() }),
          instructions: decideInstructions(id),
        },
      },
    );
  }

  /**
   * In band (elicitation, with or without a TOTP code): the person answered in the client. Records
   * the decision on the approval created by `request` and, when approved, spends it at once.
   * Only the asking token's own approval is settled (another's is not found).
   * Denied (decline, a refused accept, wrong code) -> throws `denied`.
   */
  async settleInteractive(
    id: string,
    who: { tokenId: string; digest: string },
    decision: 'approved' | 'denied',
    o: DecideOptions,
  ): Promise<{ approver: string; channel: DecisionChannel }> {
    await this.decide(id, decision, { ...o, forTokenId: who.tokenId });
    if (decision === 'denied') {
      throw new GatehouseError('denied', `the person did not approve this action${o.note ? ` (${o.note})` : ''}`, {
        hint: 'do not retry it in another form; ask the person what they want instead',
        details: { approvalId: id },
      });
    }
    return this.consume(id, who);
  }

  /**
   * In band with a TOTP code typed in the asking token's client: the code is checked against the
   * brute-force brakes of THIS token (one agent's wrong codes never lock another's approvals),
   * then the approval is approved and spent, or, for a wrong, reused or braked code, denied on
   * record and the code's error thrown.
   */
  async settleTotp(
    id: string,
    who: { tokenId: string; digest: string },
    code: string,
  ): Promise<{ approver: string; channel: DecisionChannel }> {
    let approver: string;
    try {
      approver = await this.approvers.verify(code, { tokenId: who.tokenId });
    } catch (e) {
      const reason = e instanceof GatehouseError ? String(e.details?.reason ?? e.code) : 'error';
      await this.decide(id, 'denied', {
        by: 'client',
        channel: 'totp',
        note: `code refused (${reason})`,
        forTokenId: who.tokenId,
      }).catch(() => undefined);
      throw e;
    }
    return this.settleInteractive(id, who, 'approved', { by: approver, channel: 'totp' });
  }

  // ---- sealed requestState (MRTR, 2026-07-28) ------------------------------------------------

  /** Seals requestState bound to token + digest + expiry (default now + ttl); a fresh nonce if none given. */
  sealRequestState(p: {
    tokenId: string;
    digest: string;
    approvalNonce?: string;
    expiresAt?: number;
    approvalId?: string;
  }): string {
    return this.#codec.seal({ ...p, expiresAt: p.expiresAt ?? this.#now() + this.ttlMs });
  }

  /** Verifies (MAC, expiry, token, digest) without spending it; throws approval_invalid (reason malformed|mac|expired|bind). */
  openRequestState(text: unknown, expect: { tokenId: string; digest: string }): RequestStatePayload {
    return this.#codec.open(text, expect);
  }

  /**
   * Records a requestState nonce as used; false when it already was. INVARIANT: single use across
   * every process sharing the store (insert-unique on the primary key).
   */
  async consumeStateNonce(nonce: string, expiresAt: number): Promise<boolean> {
    if (typeof nonce !== 'string' || nonce.length === 0 || nonce.length > 64) return false;
    const now = this.#now();
    await this.#store.db
      .deleteFrom('approval_state_nonces')
      .where('expires_at', '<', iso(now - NONCE_GRACE_MS))
      .execute();
    const res = await this.#store.db
      .insertInto('approval_state_nonces')
      .values({ nonce, expires_at: iso(expiresAt), used_at: iso(now) })
      .onConflict((oc) => oc.column('nonce').doNothing())
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  /** open + consumeStateNonce in one call: the payload of a valid, first-time requestState, or approval_invalid. */
  async redeemRequestState(text: unknown, expect: { tokenId: string; digest: string }): Promise<RequestStatePayload> {
    let p: RequestStatePayload;
    try {
      p = this.#codec.open(text, expect);
    } catch (e) {
      const reason = (e as GatehouseError).details?.reason ?? 'malformed';
      await this.#emit({
        kind: 'request_state',
        approvalId: null,
        tokenId: expect.tokenId,
        outcome: `refused:${String(reason)}`,
      });
      throw e;
    }
    if (!(await this.consumeStateNonce(p.approvalNonce, p.expiresAt))) {
      await this.#emit({
        kind: 'request_state',
        approvalId: p.approvalId ?? null,
        tokenId: expect.tokenId,
        outcome: 'refused:replayed',
      });
      throw requestStateError('replayed');
    }
    await this.#emit({
      kind: 'request_state',
      approvalId: p.approvalId ?? null,
      tokenId: expect.tokenId,
      outcome: 'redeemed',
    });
    return p;
  }

  // ---- TOTP approvers (delegates; see approvers.ts) ----------------------------------------

  addApprover(name: string, o: EnrolmentBy = {}): Promise<{ name: string; otpauthUri: string }> {
    return this.approvers.add(name, o);
  }

  listApprovers(): Promise<ApproverInfo[]> {
    return this.approvers.list();
  }

  removeApprover(name: string, o: EnrolmentBy = {}): Promise<void> {
    return this.approvers.remove(name, o);
  }

  /**
   * The approver whose current code this is; approval_invalid for a wrong or reused code,
   * limit_exceeded when the brakes refuse. `tokenId`: the token whose action the code approves;
   * its wrong codes count against it alone (and the approver's shared brake).
   */
  verifyTotp(code: string, o: { approver?: string; tokenId: string }): Promise<string> {
    return this.approvers.verify(code, o);
  }

  // ---- internals ---------------------------------------------------------------------------

  async #row(id: string): Promise<ApprovalRow | undefined> {
    return (await this.#store.db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst()) as
      ApprovalRow | undefined;
  }

  /** INVARIANT: nothing in a row is trusted before this; a failure is logged loudly. */
  #verified(r: ApprovalRow): boolean {
    if (approvalVerifies(this.#integrityKey, r)) return true;
    log.error(
      'an approval record failed its integrity check: it was written or changed outside Gatehouse and is refused',
      {
        approval: r.id,
        signature: r.mac === null ? 'missing' : 'wrong',
      },
    );
    return false;
  }

  #toApproval(r: ApprovalRow): Approval {
    const now = iso(this.#now());
    const verified = this.#verified(r);
    let status: ApprovalStatus;
    if (!verified) status = 'tampered';
    else if (r.status === 'denied') status = 'denied';
    else if (r.consumed_at) status = 'used';
    else if (r.expires_at <= now) status = 'expired';
    else status = r.status === 'approved' ? 'approved' : 'pending';
    let operation: ApprovalOperation | null = null;
    if (r.operation) {
      try {
        operation = JSON.parse(r.operation) as ApprovalOperation;
      } catch {
        operation = null;
      }
    }
    return {
      id: r.id,
      tokenId: r.token_id,
      tokenName: r.token_name,
      tool: r.tool,
      target: r.target,
      summary: r.summary,
      operation,
      digest: r.digest,
      rule: r.rule,
      reason: r.reason,
      matched: r.matched,
      mode: r.mode as ApprovalMode,
      status,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      // A tampered row's decision is a claim nobody made: never shown as a decision.
      decidedAt: verified ? r.decided_at : null,
      decidedBy: verified ? r.decided_by : null,
      channel: verified ? (r.channel as DecisionChannel | null) : null,
      note: verified ? r.note : null,
      consumedAt: verified ? r.consumed_at : null,
    };
  }

  #rememberSpent(id: string, expiresAt: number): void {
    const now = this.#now();
    // Pruned as it grows; bounded by the approvals spent within one ttl.
    if (this.#spent.size >= 1024) for (const [k, exp] of this.#spent) if (exp <= now) this.#spent.delete(k);
    this.#spent.set(id, expiresAt);
  }

  async #emit(e: ApprovalEvent): Promise<void> {
    if (this.#onEvent) await this.#onEvent(e);
  }
}

/** The store's tables as Kysely sees them (untyped at the table level: see src/store/types.ts). */
type StoreTables = Store['db'] extends import('kysely').Kysely<infer D> ? D : never;

/** The records a page's status (and token) means, as seen at `now`. */
function pageFilter<O>(
  q: SelectQueryBuilder<StoreTables, 'approvals', O>,
  status: NonNullable<PageOptions['status']>,
  tokenId: string | undefined,
  now: string,
): SelectQueryBuilder<StoreTables, 'approvals', O> {
  const x = tokenId === undefined ? q : q.where('token_id', '=', tokenId);
  switch (status) {
    case 'pending':
      return x.where('status', '=', 'pending').where('expires_at', '>', now);
    case 'approved':
      return x.where('status', '=', 'approved').where('consumed_at', 'is', null).where('expires_at', '>', now);
    case 'denied':
      return x.where('status', '=', 'denied');
    case 'used':
      return x.where('consumed_at', 'is not', null);
    case 'expired':
      return x
        .where('status', 'in', ['pending', 'approved'])
        .where('consumed_at', 'is', null)
        .where('expires_at', '<=', now);
    case 'all':
      return x;
    default:
      throw new GatehouseError('invalid_input', `unknown approval status ${JSON.stringify(status)}`, {
        hint: 'use pending, approved, denied, expired, used or all',
      });
  }
}

function parseCursor(text: string): { createdAt: string; id: string } {
  const m = /^(\d{4}-\d\d-\d\dT[\d:.]+Z)\|(ap_[A-Za-z0-9_-]{10,64})$/.exec(text);
  if (!m)
    throw new GatehouseError('invalid_input', 'not a cursor from a previous page', {
      hint: 'pass the nextCursor a previous page returned, unchanged',
    });
  return { createdAt: m[1]!, id: m[2]! };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function notFound(id: string): GatehouseError {
  return new GatehouseError('not_found', `no approval ${id}`, {
    hint: 'run `gatehouse approvals list` to see what is waiting',
  });
}

/** Why a verified row cannot be decided now, or null when it can. */
function decideRefusal(
  row: ApprovalRow,
  o: DecideOptions,
  now: string,
): { reason: string; err: GatehouseError } | null {
  const id = row.id;
  if (o.notTokenId !== undefined && row.token_id === o.notTokenId) {
    return {
      reason: 'own_token',
      err: new GatehouseError('not_granted', 'a token cannot decide an approval its own action is waiting for', {
        hint: 'a person decides with another admin token or with `gatehouse approve` on the server',
      }),
    };
  }
  if ((row.status === 'pending' || (row.status === 'approved' && !row.consumed_at)) && row.expires_at <= now) {
    return {
      reason: 'expired',
      err: new GatehouseError(
        'approval_invalid',
        `approval ${id} expired at ${row.expires_at} without a decision (expiry means deny)`,
        {
          hint: 'the agent must ask again; approve the new request',
          details: { reason: 'expired', approvalId: id },
        },
      ),
    };
  }
  if (row.status === 'pending') return null;
  const status =
    row.status === 'denied' ? 'denied' : row.consumed_at ? 'used' : row.expires_at <= now ? 'expired' : row.status;
  return {
    reason: 'already_decided',
    err: new GatehouseError(
      'conflict',
      `approval ${id} was already ${row.status} by ${row.decided_by ?? '?'} at ${row.decided_at ?? '?'}`,
      {
        hint:
          row.status === 'denied' ? 'a denial is final; the agent must ask again for a new approval' : 'nothing to do',
        details: { reason: 'already_decided', approvalId: id, status },
      },
    ),
  };
}

/** Why a verified row of the calling token cannot be spent on this digest now, or null when it can. */
function consumeRefusal(row: ApprovalRow, digest: string, now: string): ConsumeFailure | null {
  if (row.status === 'denied') return 'denied';
  if (row.consumed_at) return 'used';
  if (row.expires_at <= now) return 'expired';
  if (row.digest !== digest) return 'changed';
  if (row.status === 'pending') return 'pending';
  return row.status === 'approved' ? null : 'not_found';
}

function checkText(field: string, v: unknown, max: number, allowEmpty = false): void {
  if (typeof v !== 'string' || (!allowEmpty && v.length === 0) || v.length > max) {
    throw new GatehouseError(
      'invalid_input',
      `approval field ${field} must be a string of ${allowEmpty ? 0 : 1}..${max} characters`,
    );
  }
}

/**
 * Only what a person needs to read is stored (never raw headers or bodies: they may hold handles;
 * the caller passes what it shows of them in `bound`).
 */
function pickOperation(op: ApprovalOperation): ApprovalOperation {
  const bound = pickBound((op as { bound?: unknown }).bound);
  const extra = bound ? { bound } : {};
  if (op.kind === 'command') return { kind: 'command', command: String(op.command), ...extra };
  if (op.kind === 'http') {
    const b = op.body;
    const body: ApprovalBody | undefined =
      b && typeof b.bytes === 'number' && typeof b.sha256 === 'string'
        ? { bytes: b.bytes, sha256: b.sha256, ...(typeof b.preview === 'string' ? { preview: b.preview } : {}) }
        : undefined;
    return { kind: 'http', method: String(op.method), path: String(op.path), ...(body ? { body } : {}), ...extra };
  }
  if (op.kind === 'action') return { kind: 'action', summary: String(op.summary), ...extra };
  return { kind: 'path', op: op.op === 'write' ? 'write' : 'read', path: String(op.path), ...extra };
}

/**
 * The bound inputs, as strings by name: at most MAX_BOUND_KEYS of them, each value at most
 * MAX_BOUND_VALUE_BYTES. INVARIANT: never silently shortened or dropped (what the person reads
 * must be all the approval covers): too much is refused with `input_too_large`.
 */
function pickBound(b: unknown): Record<string, string> | undefined {
  if (b === undefined || b === null) return undefined;
  if (typeof b !== 'object' || Array.isArray(b))
    throw new GatehouseError('invalid_input', 'the bound inputs of an approval must be an object of strings');
  const entries = Object.entries(b as Record<string, unknown>);
  if (entries.length > MAX_BOUND_KEYS) {
    throw new GatehouseError(
      'input_too_large',
      `the action has ${entries.length} bound inputs; an approval shows at most ${MAX_BOUND_KEYS}`,
      {
        hint: 'send fewer headers or environment variables with this call',
      },
    );
  }
  for (const [k, v] of entries) {
    if (k.length === 0 || k.length > MAX_BOUND_KEY_CHARS)
      throw new GatehouseError('invalid_input', `a bound input name must be 1..${MAX_BOUND_KEY_CHARS} characters`);
    if (typeof v !== 'string')
      throw new GatehouseError('invalid_input', `bound input ${JSON.stringify(truncateText(k, 100))} must be a string`);
    if (Buffer.byteLength(v, 'utf8') > MAX_BOUND_VALUE_BYTES) {
      throw new GatehouseError(
        'input_too_large',
        `bound input ${JSON.stringify(truncateText(k, 100))} is over ${MAX_BOUND_VALUE_BYTES} bytes`,
        {
          hint: 'send a smaller value with this call',
        },
      );
    }
  }
  // fromEntries defines own properties, so a name like "__proto__" is kept, not swallowed.
  return entries.length > 0 ? (Object.fromEntries(entries) as Record<string, string>) : undefined;
}

/** Longest part of a text body kept with an approval for the person to read. */
export const APPROVAL_BODY_PREVIEW = 2000;

/** The operation as the gate's guard judged it (structurally `Action['guard']`, which lives above us). */
export type JudgedOperation =
  | { kind: 'command'; command: string }
  | { kind: 'http'; method: string; path: string; body?: string; bodyBytes?: number; bodySha256?: string }
  | { kind: 'path'; op: 'read' | 'write'; path: string };

/**
 * What a person is shown of a judged operation: headers are left out; a text body is kept as its
 * size, digest and first APPROVAL_BODY_PREVIEW characters, a binary one as its size and digest.
 */
export function approvalOperation(g: JudgedOperation): ApprovalOperation {
  if (g.kind !== 'http') return pickOperation(g);
  let body: ApprovalBody | undefined;
  if (typeof g.body === 'string') {
    const bytes = Buffer.from(g.body, 'utf8');
    const preview = g.body.length > APPROVAL_BODY_PREVIEW ? `${cutText(g.body, APPROVAL_BODY_PREVIEW)}…` : g.body;
    body = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), preview };
  } else if (g.bodySha256 !== undefined && g.bodyBytes !== undefined) {
    body = { bytes: g.bodyBytes, sha256: g.bodySha256 };
  }
  return { kind: 'http', method: g.method, path: g.path, ...(body ? { body } : {}) };
}
