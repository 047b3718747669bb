import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { GatehouseError } from '../core/index.js';
import type { Store } from '../store/index.js';
import { APPROVER_NAME } from './ids.js';
import { matchTotp, otpauthUri } from './totp.js';
import type { ApprovalEvent } from './types.js';

/** Wrong codes tolerated per approver inside LOCK_WINDOW_MS before it is locked for the rest of it. */
export const TOTP_MAX_FAILURES = 5;
export const TOTP_LOCK_WINDOW_MS = 15 * 60 * 1000;
const SEED_BYTES = 20;

export interface ApproverInfo {
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  /** Locked after too many wrong codes (until the window passes). */
  locked: boolean;
}

interface ApproverRow {
  name: string;
  seed_ciphertext: string;
  seed_nonce: string;
  created_at: string;
  last_step: number | string | null;
  last_used_at: string | null;
  fail_count: number | string;
  fail_since: string | null;
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
  constructor(
    private readonly store: Store,
    private readonly key: Buffer,
    private readonly now: () => number,
    private readonly emit: (e: ApprovalEvent) => Promise<void>,
  ) {
    if (key.length !== 32) throw new GatehouseError('key_invalid', 'the approver-seeds key must be 32 bytes');
  }

  /** Enrols an approver; the returned URI holds the seed and is never retrievable again. */
  async add(name: string): Promise<{ name: string; otpauthUri: string }> {
    if (!APPROVER_NAME.test(name)) throw new GatehouseError('invalid_input', `invalid approver name ${JSON.stringify(name)}`, { hint: 'use 1-100 of A-Z a-z 0-9 _ . @ -' });
    const seed = randomBytes(SEED_BYTES);
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', this.key, iv);
    c.setAAD(seedAd(name));
    const sealed = Buffer.concat([c.update(seed), c.final(), c.getAuthTag()]);
    const res = await this.store.db
      .insertInto('approvers')
      .values({ name, seed_ciphertext: sealed.toString('base64'), seed_nonce: iv.toString('base64'), created_at: new Date(this.now()).toISOString(), fail_count: 0 })
      .onConflict((oc) => oc.column('name').doNothing())
      .executeTakeFirst();
    if (Number(res.numInsertedOrUpdatedRows ?? 0) !== 1) {
      throw new GatehouseError('conflict', `approver ${name} already exists`, { hint: `remove it first with \`gatehouse approver rm ${name}\` to enrol a new device` });
    }
    await this.emit({ kind: 'approver', approvalId: name, by: name, outcome: 'enrolled' });
    const uri = otpauthUri(name, seed);
    seed.fill(0);
    return { name, otpauthUri: uri };
  }

  async list(): Promise<ApproverInfo[]> {
    const rows = (await this.store.db.selectFrom('approvers').selectAll().orderBy('name').execute()) as ApproverRow[];
    return rows.map((r) => ({ name: r.name, createdAt: r.created_at, lastUsedAt: r.last_used_at, locked: this.#locked(r) }));
  }

  async remove(name: string): Promise<void> {
    const res = await this.store.db.deleteFrom('approvers').where('name', '=', name).executeTakeFirst();
    if (Number(res.numDeletedRows) !== 1) throw new GatehouseError('not_found', `no approver ${JSON.stringify(name)}`, { hint: 'run `gatehouse approver list`' });
    await this.emit({ kind: 'approver', approvalId: name, by: name, outcome: 'removed' });
  }

  /**
   * Returns the approver whose code this is. A code is good once: the accepted time step is stored
   * per approver by a conditional UPDATE (`last_step < step`), so a replay, even racing from
   * another process, is refused. Wrong codes count towards a lockout (brute-force brake).
   */
  async verify(code: string, o: { approver?: string } = {}): Promise<string> {
    const given = typeof code === 'string' ? code.replace(/\s+/g, '') : '';
    let q = this.store.db.selectFrom('approvers').selectAll();
    if (o.approver !== undefined) q = q.where('name', '=', o.approver);
    const rows = (await q.orderBy('name').execute()) as ApproverRow[];
    if (rows.length === 0) {
      await this.emit({ kind: 'totp', approvalId: null, by: o.approver, channel: 'totp', outcome: 'refused:no_approver' });
      throw o.approver === undefined
        ? new GatehouseError('approval_invalid', 'no TOTP approver is enrolled', { hint: 'an operator enrols one with `gatehouse approver add NAME`', details: { reason: 'no_approver' } })
        : wrongCode();
    }
    const candidates = rows.filter((r) => !this.#locked(r));
    if (candidates.length === 0) {
      await this.emit({ kind: 'totp', approvalId: null, by: o.approver, channel: 'totp', outcome: 'refused:locked' });
      throw new GatehouseError('limit_exceeded', 'too many wrong approval codes; approvals by code are locked for now', {
        hint: `wait ${TOTP_LOCK_WINDOW_MS / 60000} minutes, or decide out of band with \`gatehouse approve ID\``,
      });
    }
    const now = this.now();
    for (const r of candidates) {
      const seed = this.#open(r);
      const step = matchTotp(seed, given, now);
      seed.fill(0);
      if (step === null) continue;
      const res = await this.store.db
        .updateTable('approvers')
        .set({ last_step: step, last_used_at: new Date(now).toISOString(), fail_count: 0, fail_since: null })
        .where('name', '=', r.name)
        .where((eb) => eb.or([eb('last_step', 'is', null), eb('last_step', '<', step)]))
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 1) {
        await this.emit({ kind: 'totp', approvalId: null, by: r.name, channel: 'totp', outcome: 'ok' });
        return r.name;
      }
      await this.#fail([r.name], now);
      await this.emit({ kind: 'totp', approvalId: null, by: r.name, channel: 'totp', outcome: 'refused:reused' });
      throw new GatehouseError('approval_invalid', 'this approval code was already used', {
        hint: 'wait for the authenticator to show the next code and enter that one',
        details: { reason: 'reused' },
      });
    }
    await this.#fail(candidates.map((r) => r.name), now);
    await this.emit({ kind: 'totp', approvalId: null, by: o.approver, channel: 'totp', outcome: 'refused:wrong_code' });
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
      throw new GatehouseError('key_invalid', `the TOTP seed of approver ${r.name} does not open`, { hint: 're-enrol the approver (approver rm, approver add)', cause: e });
    }
  }

  #locked(r: ApproverRow): boolean {
    return Number(r.fail_count) >= TOTP_MAX_FAILURES && r.fail_since !== null && r.fail_since > new Date(this.now() - TOTP_LOCK_WINDOW_MS).toISOString();
  }

  /** Counts a wrong code; a window older than TOTP_LOCK_WINDOW_MS starts over at 1. */
  async #fail(names: string[], now: number): Promise<void> {
    const windowStart = new Date(now - TOTP_LOCK_WINDOW_MS).toISOString();
    const nowIso = new Date(now).toISOString();
    await this.store.db
      .updateTable('approvers')
      .set({
        fail_count: sql`CASE WHEN fail_since IS NULL OR fail_since <= ${windowStart} THEN 1 ELSE fail_count + 1 END`,
        fail_since: sql`CASE WHEN fail_since IS NULL OR fail_since <= ${windowStart} THEN ${nowIso} ELSE fail_since END`,
      })
      .where('name', 'in', names)
      .execute();
  }
}

function wrongCode(): GatehouseError {
  return new GatehouseError('approval_invalid', 'the approval code is not valid', {
    hint: 'enter the current 6-digit code from the approver\'s authenticator app',
    details: { reason: 'wrong_code' },
  });
}
