import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { GatehouseError } from '../core/index.js';
import type { Store } from '../store/index.js';
import { CodeAttempts, TOTP_BRAKE_INTERVAL_MS, TOTP_LOCK_WINDOW_MS, type AttemptRefusal } from './code-attempts.js';
import { APPROVER_NAME } from './ids.js';
import { matchTotp, otpauthUri } from './totp.js';
import type { ApprovalEvent, DecisionChannel } from './types.js';

const SEED_BYTES = 20;

export interface ApproverInfo {
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  /**
   * The shared brake is engaged: codes from every token are being slowed right now (many
   * attempts from all tokens together). It frees one attempt per TOTP_BRAKE_INTERVAL_MS.
   */
  locked: boolean;
  /** Tokens locked out of this approver by their own wrong codes (until their window passes). */
  lockedTokens: string[];
}

/** Who enrols or removes an approver, through what (for the audit record). */
export interface EnrolmentBy {
  by?: string;
  channel?: DecisionChannel;
}

interface ApproverRow {
  name: string;
  seed_ciphertext: string;
  seed_nonce: string;
  created_at: string;
  last_step: number | string | null;
  last_used_at: string | null;
  brake_tat: number | string | null;
}

function seedAd(name: string): Buffer {
  return Buffer.from(`gatehouse:v1|approver-seed|${name}`, 'utf8');
}

/**
 * TOTP approvers: people who prove presence with a code the agent cannot know. INVARIANT: the
 * seed exists in plaintext only in memory (at enrolment, to print the URI once, and while a code
 * is checked); in the store it is AES-256-GCM under the `approver-seeds` internal key, with the
 * approver's name as associated data so a sealed seed moved to another row never opens.
 */
export class ApproverRegistry {
  readonly #attempts: CodeAttempts;

  constructor(
    private readonly store: Store,
    private readonly key: Buffer,
    private readonly now: () => number,
    private readonly emit: (e: ApprovalEvent) => Promise<void>,
  ) {
    if (key.length !== 32) throw new GatehouseError('key_invalid', 'the approver-seeds key must be 32 bytes');
    this.#attempts = new CodeAttempts(store);
  }

  /**
   * Enrols an approver; the returned URI holds the seed and is never retrievable again. `by` and
   * `channel`: who enrolled it, through what (for the audit record).
   */
  async add(name: string, o: EnrolmentBy = {}): Promise<{ name: string; otpauthUri: string }> {
    if (!APPROVER_NAME.test(name))
      throw new GatehouseError('invalid_input', `invalid approver name ${JSON.stringify(name)}`, {
        hint: 'use 1-100 of A-Z a-z 0-9 _ . @ -',
      });
    const seed = randomBytes(SEED_BYTES);
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(seedAd(name));
    const sealed = Buffer.concat([c.update(seed), c.final(), c.getAuthTag()]);
    const res = await this.store.db
      .insertInto('approvers')
      .values({
        name,
        seed_ciphertext: sealed.toString('base64'),
        seed_nonce: iv.toString('base64'),
        created_at: new Date(this.now()).toISOString(),
        fail_count: 0,
      })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    if (Number(res.numInsertedOrUpdatedRows ?? 0) !== 1) {
      throw new GatehouseError('conflict', `approver ${name} already exists`, {
        hint: `remove it first with \`gatehouse approver rm ${name}\` to enrol a new device`,
      });
    }
    // A name enrolled again starts with no counters left over from a removed namesake.
    await this.#attempts.forget(name);
    await this.emit({
      kind: 'approver',
      approvalId: name,
      by: o.by ?? name,
      ...(o.channel ? { channel: o.channel } : {}),
      outcome: 'enrolled',
    });
    const uri = otpauthUri(name, seed);
    seed.fill(0);
    return { name, otpauthUri: uri };
  }

  async list(): Promise<ApproverInfo[]> {
    const rows = (await this.store.db.selectFrom('approvers').selectAll().orderBy('name').execute()) as ApproverRow[];
    const now = this.now();
    const out: ApproverInfo[] = [];
    for (const r of rows) {
      const { braked, lockedTokens } = await this.#attempts.state(r.name, r.brake_tat, now);
      out.push({ name: r.name, createdAt: r.created_at, lastUsedAt: r.last_used_at, locked: braked, lockedTokens });
    }
    return out;
  }

  async remove(name: string, o: EnrolmentBy = {}): Promise<void> {
    const res = await this.store.db.deleteFrom('approvers').where('name', '=', name).executeTakeFirst();
    if (Number(res.numDeletedRows) !== 1)
      throw new GatehouseError('not_found', `no approver ${JSON.stringify(name)}`, {
        hint: 'run `gatehouse approver list`',
      });
    await this.#attempts.forget(name);
    await this.emit({
      kind: 'approver',
      approvalId: name,
      by: o.by ?? name,
      ...(o.channel ? { channel: o.channel } : {}),
      outcome: 'removed',
    });
  }

  /**
   * Returns the approver whose code this is. A code is good once: the accepted time step is stored
   * per approver by a conditional UPDATE (`last_step < step`), so a replay, even racing from
   * another process, is refused. Every attempt is reserved against the brute-force brakes before
   * it is compared (code-attempts.ts): per (approver, `tokenId`) and per approver for all tokens.
   * `tokenId` is the token whose action the code would approve (required: without it one agent's
   * guesses would count against everyone's).
   */
  async verify(code: string, o: { approver?: string; tokenId: string }): Promise<string> {
    const given = typeof code === 'string' ? code.replace(/\s+/g, '') : '';
    const tokenId = o.tokenId;
    if (typeof tokenId !== 'string' || tokenId.length === 0 || tokenId.length > 200)
      throw new GatehouseError('invalid_input', 'a code is checked for one token');
    const ev = { kind: 'totp' as const, approvalId: null, channel: 'totp' as const, tokenId };
    let q = this.store.db.selectFrom('approvers').selectAll();
    if (o.approver !== undefined) q = q.where('name', '=', o.approver);
    const rows = (await q.orderBy('name').execute()) as ApproverRow[];
    if (rows.length === 0) {
      await this.emit({ ...ev, by: o.approver, outcome: 'refused:no_approver' });
      throw o.approver === undefined
        ? new GatehouseError('approval_invalid', 'no TOTP approver is enrolled', {
            hint: 'an operator enrols one with `gatehouse approver add NAME`',
            details: { reason: 'no_approver' },
          })
        : wrongCode();
    }
    const now = this.now();
    // INVARIANT: reserve first, compare after; a refused reservation compares nothing.
    const reserved: ApproverRow[] = [];
    const refusals: AttemptRefusal[] = [];
    for (const r of rows) {
      const refusal = await this.#attempts.reserve(r.name, tokenId, now);
      if (refusal === null) reserved.push(r);
      else refusals.push(refusal);
    }
    if (reserved.length === 0) {
      const braked = refusals.includes('braked');
      await this.emit({ ...ev, by: o.approver, outcome: braked ? 'refused:braked' : 'refused:locked' });
      throw braked
        ? new GatehouseError(
            'limit_exceeded',
            'too many approval codes were tried for this approver by all agents together; codes are being slowed',
            {
              hint: `try again in ${TOTP_BRAKE_INTERVAL_MS / 1000} seconds, or decide out of band with \`gatehouse approve ID\``,
              details: { reason: 'braked' },
            },
          )
        : new GatehouseError(
            'limit_exceeded',
            'too many wrong approval codes for this agent; approvals by code are locked for it for now',
            {
              hint: `wait ${TOTP_LOCK_WINDOW_MS / 60000} minutes, or decide out of band with \`gatehouse approve ID\``,
              details: { reason: 'locked' },
            },
          );
    }
    for (const r of reserved) {
      const seed = this.#open(r);
      const step = matchTotp(seed, given, now);
      seed.fill(0);
      if (step === null) continue;
      const res = await this.store.db
        .updateTable('approvers')
        .set({ last_step: step, last_used_at: new Date(now).toISOString() })
        .where('name', '=', r.name)
        .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) {
        await this.#attempts.succeeded(r.name, tokenId);
        for (const other of reserved) if (other !== r) await this.#attempts.release(other.name, tokenId);
        await this.emit({ ...ev, by: r.name, outcome: 'ok' });
        return r.name;
      }
      // A reused code stays counted: a replay is as much a guess as a wrong code.
      await this.emit({ ...ev, by: r.name, outcome: 'refused:reused' });
      throw new GatehouseError('approval_invalid', 'this approval code was already used', {
        hint: 'wait for the authenticator to show the next code and enter that one',
        details: { reason: 'reused' },
      });
    }
    await this.emit({ ...ev, by: o.approver, outcome: 'refused:wrong_code' });
    throw wrongCode();
  }

  #open(r: ApproverRow): Buffer {
    try {
      const sealed = Buffer.from(r.seed_ciphertext, 'base64');
      const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(r.seed_nonce, 'base64'));
      d.setAAD(seedAd(r.name));
      d.setAuthTag(sealed.subarray(sealed.length - 16));
      return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
    } catch (e) {
      // Fail closed: a seed that does not open approves nothing.
      throw new GatehouseError('key_invalid', `the TOTP seed of approver ${r.name} does not open`, {
        hint: 're-enrol the approver (approver rm, approver add)',
        cause: e,
      });
    }
  }
}

function wrongCode(): GatehouseError {
  return new GatehouseError('approval_invalid', 'the approval code is not valid', {
    hint: "enter the current 6-digit code from the approver's authenticator app",
    details: { reason: 'wrong_code' },
  });
}
