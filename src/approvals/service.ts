import { createHash } from 'node:crypto';
import { GatehouseError } from '../core/index.js';
import type { Store } from '../store/index.js';
import { consumeError } from './approval-errors.js';
import { decideInstructions, describeForHuman } from './describe.js';
import { ApproverRegistry, type ApproverInfo } from './approvers.js';
import { isApprovalId, newApprovalId } from './ids.js';
import { RequestStateCodec, type RequestStatePayload, requestStateError } from './request-state.js';
import type { Approval, ApprovalBody, ApprovalEvent, ApprovalMode, ApprovalOperation, ApprovalRequest, ApprovalStatus, DecisionChannel, InternalKeySource } from './types.js';

/** Default life of an approval (pending or approved but unused) and of a sealed requestState. */
export const DEFAULT_APPROVAL_TTL_MS = 10 * 60 * 1000;
/** Used requestState nonces are kept this long past their expiry (clock skew between hosts). */
const NONCE_GRACE_MS = 60 * 60 * 1000;
const MAX_NOTE = 2000;
const MAX_TEXT = 64 * 1024;

export interface ApprovalServiceOptions {
  store: Store;
  /** The vault keyring (`rt.keyring`): gives the `request-state` and `approver-seeds` keys. */
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
}

export interface DecideOptions {
  /** Who decided: an OS user for the CLI, `api:<admin token name>`, the approver name for TOTP. */
  by: string;
  channel: DecisionChannel;
  note?: string;
  /** Refuse when the approval belongs to this token (a token never decides its own approval). */
  notTokenId?: string;
}

export interface ListOptions {
  status?: ApprovalStatus | 'all';
  limit?: number;
}

interface Row {
  id: string;
  token_id: string;
  token_name: string;
  tool: string;
  target: string | null;
  summary: string;
  operation: string | null;
  digest: string;
  rule: string;
  reason: string;
  matched: string;
  mode: string;
  status: string;
  created_at: string;
  expires_at: string;
  decided_at: string | null;
  decided_by: string | null;
  channel: string | null;
  note: string | null;
  consumed_at: string | null;
}

const MODES: readonly ApprovalMode[] = ['out-of-band', 'totp', 'elicitation'];
const CHANNELS: readonly DecisionChannel[] = ['cli', 'api', 'elicitation', 'totp'];

/** Opens the approvals core on a store: loads its keys once, then everything is synchronous to seal. */
export async function createApprovalService(opts: ApprovalServiceOptions): Promise<ApprovalService> {
  const [stateKey, seedKey] = await Promise.all([opts.keys.internalKey('request-state'), opts.keys.internalKey('approver-seeds')]);
  return new ApprovalService(opts, stateKey, seedKey);
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

  constructor(opts: ApprovalServiceOptions, stateKey: Buffer, seedKey: Buffer) {
    this.#store = opts.store;
    this.ttlMs = opts.ttlMs ?? DEFAULT_APPROVAL_TTL_MS;
    if (!(this.ttlMs > 0)) throw new GatehouseError('config_invalid', 'the approval ttl must be positive');
    this.#now = opts.now ?? Date.now;
    this.#onEvent = opts.onEvent;
    this.#codec = new RequestStateCodec(stateKey, this.#now);
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
    if (!MODES.includes(r.mode)) throw new GatehouseError('invalid_input', `unknown approval mode ${JSON.stringify(r.mode)}`);
    const id = newApprovalId();
    const now = this.#now();
    const expiresAt = iso(now + this.ttlMs);
    await this.#store.db
      .insertInto('approvals')
      .values({
        id,
        token_id: r.tokenId,
        token_name: r.tokenName,
        tool: r.tool,
        target: r.target ?? null,
        summary: r.summary,
        operation: r.operation ? JSON.stringify(pickOperation(r.operation)) : null,
        digest: r.digest,
        rule: r.rule,
        reason: r.reason,
        matched: r.matched,
        mode: r.mode,
        status: 'pending',
        created_at: iso(now),
        expires_at: expiresAt,
      })
      .execute();
    await this.#emit({ kind: 'request', approvalId: id, tokenId: r.tokenId, outcome: 'pending' });
    return { id, expiresAt };
  }

  async get(id: string): Promise<Approval | null> {
    if (!isApprovalId(id)) return null;
    const row = (await this.#store.db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst()) as Row | undefined;
    return row ? this.#toApproval(row) : null;
  }

  /** Newest first. `status` filters on the status as seen now (default: all). */
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
        q = q.where('status', 'in', ['pending', 'approved']).where('consumed_at', 'is', null).where('expires_at', '<=', now);
        break;
      case 'all':
        break;
      default:
        throw new GatehouseError('invalid_input', `unknown approval status ${JSON.stringify(opts.status)}`, { hint: 'use pending, approved, denied, expired, used or all' });
    }
    const rows = (await q.orderBy('created_at', 'desc').orderBy('id').limit(limit).execute()) as Row[];
    return rows.map((r) => this.#toApproval(r));
  }

  /**
   * A person's decision. INVARIANT: only a pending, unexpired approval changes, in one
   * conditional UPDATE; so a denial (or an expiry, which means deny) can never become an approval,
   * and two deciders racing get exactly one winner.
   */
  async decide(id: string, decision: 'approved' | 'denied', o: DecideOptions): Promise<Approval> {
    if (decision !== 'approved' && decision !== 'denied') throw new GatehouseError('invalid_input', 'decision must be approved or denied');
    checkText('by', o.by, 200);
    if (!CHANNELS.includes(o.channel)) throw new GatehouseError('invalid_input', `unknown channel ${JSON.stringify(o.channel)}`);
    if (o.note !== undefined && o.note.length > MAX_NOTE) throw new GatehouseError('invalid_input', `the note is over ${MAX_NOTE} characters`);
    const shown = isApprovalId(id) ? id : '(malformed id)';
    const ev = { kind: 'decide' as const, approvalId: isApprovalId(id) ? id : null, by: o.by, channel: o.channel, note: o.note };
    if (!isApprovalId(id)) {
      await this.#emit({ ...ev, outcome: 'refused:not_found' });
      throw notFound(shown);
    }
    const now = iso(this.#now());
    let q = this.#store.db
      .updateTable('approvals')
      .set({ status: decision, decided_at: now, decided_by: o.by, channel: o.channel, note: o.note ?? null })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now);
    if (o.notTokenId !== undefined) q = q.where('token_id', '<>', o.notTokenId);
    const res = await q.executeTakeFirst();
    const row = (await this.#store.db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst()) as Row | undefined;
    if (Number(res.numUpdatedRows) === 1 && row) {
      await this.#emit({ ...ev, tokenId: row.token_id, outcome: decision });
      return this.#toApproval(row);
    }
    if (!row) {
      await this.#emit({ ...ev, outcome: 'refused:not_found' });
      throw notFound(shown);
    }
    const a = this.#toApproval(row);
    let err: GatehouseError;
    let reason: string;
    if (o.notTokenId !== undefined && row.token_id === o.notTokenId) {
      reason = 'own_token';
      err = new GatehouseError('not_granted', 'a token cannot decide an approval its own action is waiting for', {
        hint: 'a person decides with another admin token or with `gatehouse approve` on the server',
      });
    } else if (a.status === 'expired') {
      reason = 'expired';
      err = new GatehouseError('approval_invalid', `approval ${id} expired at ${a.expiresAt} without a decision (expiry means deny)`, {
        hint: 'the agent must ask again; approve the new request',
        details: { reason: 'expired', approvalId: id },
      });
    } else {
      reason = 'already_decided';
      err = new GatehouseError('conflict', `approval ${id} was already ${row.status} by ${row.decided_by ?? '?'} at ${row.decided_at ?? '?'}`, {
        hint: row.status === 'denied' ? 'a denial is final; the agent must ask again for a new approval' : 'nothing to do',
        details: { reason: 'already_decided', approvalId: id, status: a.status },
      });
    }
    await this.#emit({ ...ev, tokenId: row.token_id, outcome: `refused:${reason}` });
    throw err;
  }

  /**
   * Spends an approval on the call it covers. INVARIANT (single use, exact binding): one
   * conditional UPDATE succeeds only for an approved, unused, unexpired approval of the same token
   * and the same action digest; the affected-row count decides, so two processes racing get one
   * winner. On failure the reason is told only to the token the approval belongs to.
   * Still pending -> `approval_required` (wait and retry); every other refusal -> `approval_invalid`.
   */
  async consume(id: string, who: { tokenId: string; digest: string }): Promise<{ approver: string; channel: DecisionChannel }> {
    const ev = { kind: 'consume' as const, approvalId: isApprovalId(id) ? id : null, tokenId: who.tokenId };
    if (!isApprovalId(id)) {
      await this.#emit({ ...ev, outcome: 'refused:not_found' });
      throw consumeError('not_found', '(malformed id)');
    }
    const now = iso(this.#now());
    const res = await this.#store.db
      .updateTable('approvals')
      .set({ consumed_at: now })
      .where('id', '=', id)
      .where('status', '=', 'approved')
      .where('consumed_at', 'is', null)
      .where('token_id', '=', who.tokenId)
      .where('digest', '=', who.digest)
      .where('expires_at', '>', now)
      .executeTakeFirst();
    const row = (await this.#store.db.selectFrom('approvals').selectAll().where('id', '=', id).executeTakeFirst()) as Row | undefined;
    if (Number(res.numUpdatedRows) === 1 && row) {
      await this.#emit({ ...ev, by: row.decided_by ?? undefined, channel: (row.channel as DecisionChannel) ?? undefined, outcome: 'consumed' });
      return { approver: row.decided_by ?? 'unknown', channel: (row.channel as DecisionChannel | null) ?? 'cli' };
    }
    // Another token's approval is answered exactly like a missing one: nothing about it leaks.
    if (!row || row.token_id !== who.tokenId) {
      await this.#emit({ ...ev, outcome: 'refused:not_found' });
      throw consumeError('not_found', id);
    }
    const a = this.#toApproval(row);
    const reason =
      a.status === 'denied' ? 'denied'
      : a.status === 'used' ? 'used'
      : a.status === 'expired' ? 'expired'
      : row.digest !== who.digest ? 'changed'
      : a.status === 'pending' ? 'pending'
      : 'used'; // lost a race with a concurrent consume
    await this.#emit({ ...ev, outcome: `refused:${reason}` });
    throw consumeError(reason, id, { by: row.decided_by, expiresAt: row.expires_at, note: row.note });
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
    throw new GatehouseError('approval_required', `a person must approve this before it runs (${r.rule}: ${r.reason}); approval ${id} is waiting`, {
      hint: `${decideInstructions(id)} It expires at ${expiresAt}.`,
      details: { approvalId: id, expiresAt, rule: r.rule, reason: r.reason, description: describeForHuman(a, { now: this.#now() }), instructions: decideInstructions(id) },
    });
  }

  /**
   * In band (elicitation, with or without a TOTP code): the person answered in the client. Records
   * the decision on the approval created by `request` and, when approved, spends it at once.
   * Denied (decline, cancel, wrong code, timeout) -> throws `denied`.
   */
  async settleInteractive(id: string, who: { tokenId: string; digest: string }, decision: 'approved' | 'denied', o: DecideOptions): Promise<{ approver: string; channel: DecisionChannel }> {
    await this.decide(id, decision, o);
    if (decision === 'denied') {
      throw new GatehouseError('denied', `the person did not approve this action${o.note ? ` (${o.note})` : ''}`, {
        hint: 'do not retry it in another form; ask the person what they want instead',
        details: { approvalId: id },
      });
    }
    return this.consume(id, who);
  }

  // ---- sealed requestState (MRTR, 2026-07-28) ------------------------------------------------

  /** Seals requestState bound to token + digest + expiry (default now + ttl); a fresh nonce if none given. */
  sealRequestState(p: { tokenId: string; digest: string; approvalNonce?: string; expiresAt?: number; approvalId?: string }): string {
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
    await this.#store.db.deleteFrom('approval_state_nonces').where('expires_at', '<', iso(now - NONCE_GRACE_MS)).execute();
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
      await this.#emit({ kind: 'request_state', approvalId: null, tokenId: expect.tokenId, outcome: `refused:${String(reason)}` });
      throw e;
    }
    if (!(await this.consumeStateNonce(p.approvalNonce, p.expiresAt))) {
      await this.#emit({ kind: 'request_state', approvalId: p.approvalId ?? null, tokenId: expect.tokenId, outcome: 'refused:replayed' });
      throw requestStateError('replayed');
    }
    await this.#emit({ kind: 'request_state', approvalId: p.approvalId ?? null, tokenId: expect.tokenId, outcome: 'redeemed' });
    return p;
  }

  // ---- TOTP approvers (delegates; see approvers.ts) ----------------------------------------

  addApprover(name: string): Promise<{ name: string; otpauthUri: string }> {
    return this.approvers.add(name);
  }

  listApprovers(): Promise<ApproverInfo[]> {
    return this.approvers.list();
  }

  removeApprover(name: string): Promise<void> {
    return this.approvers.remove(name);
  }

  /** The approver whose current code this is; approval_invalid for a wrong or reused code. */
  verifyTotp(code: string, o: { approver?: string } = {}): Promise<string> {
    return this.approvers.verify(code, o);
  }

  // ---- internals ---------------------------------------------------------------------------

  #toApproval(r: Row): Approval {
    const now = iso(this.#now());
    let status: ApprovalStatus;
    if (r.status === 'denied') status = 'denied';
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
      decidedAt: r.decided_at,
      decidedBy: r.decided_by,
      channel: r.channel as DecisionChannel | null,
      note: r.note,
      consumedAt: r.consumed_at,
    };
  }

  async #emit(e: ApprovalEvent): Promise<void> {
    if (this.#onEvent) await this.#onEvent(e);
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function notFound(id: string): GatehouseError {
  return new GatehouseError('not_found', `no approval ${id}`, { hint: 'run `gatehouse approvals list` to see what is waiting' });
}

function checkText(field: string, v: unknown, max: number, allowEmpty = false): void {
  if (typeof v !== 'string' || (!allowEmpty && v.length === 0) || v.length > max) {
    throw new GatehouseError('invalid_input', `approval field ${field} must be a string of ${allowEmpty ? 0 : 1}..${max} characters`);
  }
}

/** Only what a person needs to read is stored (never headers or bodies: they may hold handles). */
function pickOperation(op: ApprovalOperation): ApprovalOperation {
  if (op.kind === 'command') return { kind: 'command', command: String(op.command) };
  if (op.kind === 'http') {
    const b = op.body;
    const body: ApprovalBody | undefined =
      b && typeof b.bytes === 'number' && typeof b.sha256 === 'string' ? { bytes: b.bytes, sha256: b.sha256, ...(typeof b.preview === 'string' ? { preview: b.preview } : {}) } : undefined;
    return { kind: 'http', method: String(op.method), path: String(op.path), ...(body ? { body } : {}) };
  }
  return { kind: 'path', op: op.op === 'write' ? 'write' : 'read', path: String(op.path) };
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
    const preview = g.body.length > APPROVAL_BODY_PREVIEW ? `${g.body.slice(0, APPROVAL_BODY_PREVIEW)}…` : g.body;
    body = { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), preview };
  } else if (g.bodySha256 !== undefined && g.bodyBytes !== undefined) {
    body = { bytes: g.bodyBytes, sha256: g.bodySha256 };
  }
  return { kind: 'http', method: g.method, path: g.path, ...(body ? { body } : {}) };
}
