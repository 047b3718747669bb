import { sql } from 'kysely';
import { log } from '../core/index.js';
import type { Store } from '../store/index.js';

/** Code attempts per (approver, token) inside TOTP_LOCK_WINDOW_MS before that pair is locked for the rest of it. */
export const TOTP_MAX_FAILURES = 5;
export const TOTP_LOCK_WINDOW_MS = 15 * 60 * 1000;
/** The shared brake per approver (every token together): this many attempts at once ... */
export const TOTP_BRAKE_BURST = 20;
/** ... then one more each interval. */
export const TOTP_BRAKE_INTERVAL_MS = 60 * 1000;

/** Why an attempt may not be checked now. */
export type AttemptRefusal = 'pair_locked' | 'braked';

const BRAKE_TOLERANCE_MS = (TOTP_BRAKE_BURST - 1) * TOTP_BRAKE_INTERVAL_MS;

/**
 * The brute-force brakes on approval codes. INVARIANT: an attempt is reserved, by one conditional
 * statement per brake that counts it only while under the limit, BEFORE the code is compared; so
 * any number of concurrent attempts, from any number of processes sharing the store, never
 * compare more codes than the limits allow.
 *
 * Two brakes, because either alone fails someone:
 * - per (approver, token), a fixed window of TOTP_MAX_FAILURES attempts: one agent guessing locks
 *   only itself out of that approver, never another token's approvals;
 * - per approver, shared by all tokens, a GCRA (burst TOTP_BRAKE_BURST, then one attempt per
 *   TOTP_BRAKE_INTERVAL_MS): bounds the total when many tokens guess in parallel. It slows rather
 *   than locks: capacity comes back continuously, not after a 15-minute lock.
 * The shared brake is also kept in this process's memory, so a database writer who resets the
 * stored brake still cannot make this process check codes faster than the brake.
 */
export class CodeAttempts {
  readonly #store: Store;
  /** approver -> theoretical arrival time (ms): this process's own copy of the shared brake. */
  readonly #memory = new Map<string, number>();

  constructor(store: Store) {
    this.#store = store;
  }

  /** Reserves one attempt on `approver` for `tokenId` at `now`; null when it may be checked. */
  async reserve(approver: string, tokenId: string, now: number): Promise<AttemptRefusal | null> {
    // The pair first: a token that has locked itself out must not spend the shared brake.
    if (!(await this.#reservePair(approver, tokenId, now))) return 'pair_locked';
    if (!this.#reserveMemory(approver, now)) {
      await this.#refundPair(approver, tokenId);
      return 'braked';
    }
    if (!(await this.#reserveBrake(approver, now))) {
      this.#refundMemory(approver);
      await this.#refundPair(approver, tokenId);
      return 'braked';
    }
    return null;
  }

  /**
   * A right code: the pair starts over (a person proved presence for this token) and the shared
   * brake gets its attempt back (a right code is not a guess).
   */
  async succeeded(approver: string, tokenId: string): Promise<void> {
    await this.#store.db
      .deleteFrom('approval_code_attempts')
      .where('approver', '=', approver)
      .where('token_id', '=', tokenId)
      .execute();
    await this.#refund(approver);
  }

  /** The attempt was reserved but the code belonged to another approver: give it back entirely. */
  async release(approver: string, tokenId: string): Promise<void> {
    await this.#refundPair(approver, tokenId);
    await this.#refund(approver);
  }

  /** Whether the shared brake refuses an attempt right now, and the tokens locked out of `approver`. */
  async state(approver: string, brakeTat: unknown, now: number): Promise<{ braked: boolean; lockedTokens: string[] }> {
    const rows = (await this.#store.db
      .selectFrom('approval_code_attempts')
      .select('token_id')
      .where('approver', '=', approver)
      .where('window_start', '>', now - TOTP_LOCK_WINDOW_MS)
      .where('count', '>=', TOTP_MAX_FAILURES)
      .orderBy('token_id')
      .execute()) as { token_id: string }[];
    const tat = brakeTat === null || brakeTat === undefined ? null : Number(brakeTat);
    return { braked: tat !== null && tat > now + BRAKE_TOLERANCE_MS, lockedTokens: rows.map((r) => r.token_id) };
  }

  /** Forgets an approver's counters (it was removed). */
  async forget(approver: string): Promise<void> {
    this.#memory.delete(approver);
    await this.#store.db.deleteFrom('approval_code_attempts').where('approver', '=', approver).execute();
  }

  async #reservePair(approver: string, tokenId: string, now: number): Promise<boolean> {
    const windowOver = now - TOTP_LOCK_WINDOW_MS;
    const t = sql.ref('approval_code_attempts');
    // INVARIANT: the counter moves only while under the limit (or when its window is over), in
    // the one statement that decides; the affected-row count says whether this attempt may run.
    const res = await this.#store.db
      .insertInto('approval_code_attempts')
      .values({ approver, token_id: tokenId, window_start: now, count: 1 })
      .onConflict((oc) =>
        oc
          .columns(['approver', 'token_id'])
          .doUpdateSet({
            count: sql`CASE WHEN ${t}.window_start <= ${windowOver} THEN 1 ELSE ${t}.count + 1 END`,
            window_start: sql`CASE WHEN ${t}.window_start <= ${windowOver} THEN CAST(${now} AS bigint) ELSE ${t}.window_start END`,
          })
          .where(sql<boolean>`${t}.window_start <= ${windowOver} OR ${t}.count < ${TOTP_MAX_FAILURES}`),
      )
      .executeTakeFirst();
    return Number(res.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async #reserveBrake(approver: string, now: number): Promise<boolean> {
    // GCRA: allowed while the theoretical arrival time is at most the tolerance ahead of now;
    // each attempt moves it one interval on from max(tat, now).
    const res = await this.#store.db
      .updateTable('approvers')
      .set({
        brake_tat: sql`CASE WHEN brake_tat IS NULL OR brake_tat < ${now} THEN CAST(${now} AS bigint) ELSE brake_tat END + ${TOTP_BRAKE_INTERVAL_MS}`,
      })
      .where('name', '=', approver)
      .where((eb) => eb.or([eb('brake_tat', 'is', null), eb('brake_tat', '<=', now + BRAKE_TOLERANCE_MS)]))
      .executeTakeFirst();
    const ok = Number(res.numUpdatedRows) === 1;
    if (!ok)
      log.warn('approval codes for this approver are braked: too many attempts from all tokens together', { approver });
    return ok;
  }

  #reserveMemory(approver: string, now: number): boolean {
    const tat = this.#memory.get(approver) ?? now;
    if (tat > now + BRAKE_TOLERANCE_MS) return false;
    this.#memory.set(approver, Math.max(tat, now) + TOTP_BRAKE_INTERVAL_MS);
    return true;
  }

  #refundMemory(approver: string): void {
    const tat = this.#memory.get(approver);
    if (tat !== undefined) this.#memory.set(approver, tat - TOTP_BRAKE_INTERVAL_MS);
  }

  async #refund(approver: string): Promise<void> {
    this.#refundMemory(approver);
    await this.#store.db
      .updateTable('approvers')
      .set({ brake_tat: sql`brake_tat - ${TOTP_BRAKE_INTERVAL_MS}` })
      .where('name', '=', approver)
      .where('brake_tat', 'is not', null)
      .execute();
  }

  async #refundPair(approver: string, tokenId: string): Promise<void> {
    await this.#store.db
      .updateTable('approval_code_attempts')
      .set({ count: sql`count - 1` })
      .where('approver', '=', approver)
      .where('token_id', '=', tokenId)
      .where('count', '>', 0)
      .execute();
  }
}
