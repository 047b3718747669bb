import { sql } from 'kysely';
import { GatehouseError, rowMac, rowMacValid } from '../core/index.js';
import type { Store } from '../store/index.js';
import type { ModelPreset } from '../targets/index.js';
import { UsageTap, type ModelUsage } from './tap.js';

const BUDGET_MAC = 'token-budget/v1';

/** One row of `gatehouse usage`: a token's tokens on one target on one UTC day. */
export interface UsageRow {
  tokenId: string;
  target: string;
  day: string;
  input: number;
  output: number;
  cacheRead: number;
  cacheWrite: number;
  calls: number;
}

/** The UTC day of `ms`, as stored. */
export const dayOf = (ms: number): string => new Date(ms).toISOString().split('T')[0]!;

/**
 * Token counts per Gatehouse token, target and day, and per-token daily budgets.
 *
 * INVARIANTS: a budget is checked before a model call is sent, against every token counted today
 * (input, output and cache, all kinds); a budget row that does not verify refuses the call (fail
 * closed); counts are added in one statement per call, so concurrent calls never lose one.
 * Known limit: the counter rows are not signed (a database writer could lower them); budgets are.
 */
export class UsageLedger {
  readonly #store: Store;
  readonly #key: Buffer;
  readonly #now: () => number;

  constructor(store: Store, integrityKey: Buffer, now: () => number = Date.now) {
    this.#store = store;
    this.#key = integrityKey;
    this.#now = now;
  }

  async record(tokenId: string, target: string, u: ModelUsage): Promise<void> {
    const row = {
      token_id: tokenId,
      target,
      day: dayOf(this.#now()),
      input: u.input,
      output: u.output,
      cache_read: u.cacheRead,
      cache_write: u.cacheWrite,
      calls: 1,
    };
    await this.#store.db
      .insertInto('model_usage')
      .values(row)
      .onConflict((oc) =>
        oc.columns(['token_id', 'target', 'day']).doUpdateSet({
          input: sql`model_usage.input + ${u.input}`,
          output: sql`model_usage.output + ${u.output}`,
          cache_read: sql`model_usage.cache_read + ${u.cacheRead}`,
          cache_write: sql`model_usage.cache_write + ${u.cacheWrite}`,
          calls: sql`model_usage.calls + 1`,
        }),
      )
      .execute();
  }

  /** Usage rows, newest day first; `tokenId` and `since` (a day, inclusive) narrow them. */
  async rows(o: { tokenId?: string; since?: string } = {}): Promise<UsageRow[]> {
    let q = this.#store.db.selectFrom('model_usage').selectAll();
    if (o.tokenId) q = q.where('token_id', '=', o.tokenId);
    if (o.since) q = q.where('day', '>=', o.since);
    const rows = (await q.orderBy('day', 'desc').orderBy('token_id').orderBy('target').execute()) as Record<
      string,
      unknown
    >[];
    return rows.map((r) => ({
      tokenId: String(r.token_id),
      target: String(r.target),
      day: String(r.day),
      input: Number(r.input),
      output: Number(r.output),
      cacheRead: Number(r.cache_read),
      cacheWrite: Number(r.cache_write),
      calls: Number(r.calls),
    }));
  }

  /** Sets (or with null removes) a token's daily budget, signed. */
  async setBudget(tokenId: string, maxTokensPerDay: number | null): Promise<void> {
    if (maxTokensPerDay === null) {
      await this.#store.db.deleteFrom('token_budgets').where('token_id', '=', tokenId).execute();
      return;
    }
    if (!Number.isSafeInteger(maxTokensPerDay) || maxTokensPerDay < 1)
      throw new GatehouseError('invalid_input', 'a daily budget is a whole number of tokens from 1', {
        hint: 'e.g. --max-tokens-per-day 200000',
      });
    const row = {
      token_id: tokenId,
      max_tokens_per_day: maxTokensPerDay,
      mac: rowMac(this.#key, BUDGET_MAC, [tokenId, maxTokensPerDay]),
    };
    await this.#store.db
      .insertInto('token_budgets')
      .values(row)
      .onConflict((oc) => oc.column('token_id').doUpdateSet({ max_tokens_per_day: maxTokensPerDay, mac: row.mac }))
      .execute();
  }

  /** A token's budget: undefined without one; 0 when its row does not verify (nothing is allowed). */
  async budget(tokenId: string): Promise<number | undefined> {
    const r = (await this.#store.db
      .selectFrom('token_budgets')
      .select(['max_tokens_per_day', 'mac'])
      .where('token_id', '=', tokenId)
      .executeTakeFirst()) as { max_tokens_per_day: number | string; mac: string } | undefined;
    if (!r) return undefined;
    const max = Number(r.max_tokens_per_day);
    return rowMacValid(this.#key, BUDGET_MAC, [tokenId, max], r.mac) ? max : 0;
  }

  /**
   * One model call's meter: the token's budget checked first (throws `limit_exceeded` when spent),
   * then a tap for the answer. Both doors to a model target (`/gateway` and `api_request`) open one
   * before anything is sent (INVARIANT: a spent budget sends nothing).
   */
  async meter(tokenId: string, target: string, preset: ModelPreset): Promise<UsageMeter> {
    await this.checkBudget(tokenId);
    return new UsageMeter(this, tokenId, target, new UsageTap(preset));
  }

  /** Refuses (typed `limit_exceeded`) when the token's tokens counted today reached its budget. */
  async checkBudget(tokenId: string): Promise<void> {
    const max = await this.budget(tokenId);
    if (max === undefined) return;
    const used = (await this.rows({ tokenId, since: dayOf(this.#now()) }))
      .filter((r) => r.day === dayOf(this.#now()))
      .reduce((s, r) => s + r.input + r.output + r.cacheRead + r.cacheWrite, 0);
    if (used >= max)
      throw new GatehouseError(
        'limit_exceeded',
        max === 0
          ? "this token's model budget row fails its integrity check: no model calls"
          : `this token's model budget is spent: ${used} of ${max} tokens today (UTC)`,
        {
          hint: 'wait for the next UTC day, or ask an operator to raise it: gatehouse token budget NAME --max-tokens-per-day N',
          details: { used, max },
        },
      );
  }
}

/**
 * Counts one model call: `observe` is shown each chunk of the answer's body as it passes (decoded
 * and scrubbed, never held: see UsageTap), `finish` records what it carried once it ended.
 */
export class UsageMeter {
  readonly #ledger: UsageLedger;
  readonly #tokenId: string;
  readonly #target: string;
  readonly #tap: UsageTap;

  constructor(ledger: UsageLedger, tokenId: string, target: string, tap: UsageTap) {
    this.#ledger = ledger;
    this.#tokenId = tokenId;
    this.#target = target;
    this.#tap = tap;
  }

  /** For the upstream's `observeBody`: a bound function, called once per chunk. */
  readonly observe = (chunk: Buffer): void => this.#tap.push(chunk);

  /** Records the counts the answer carried, against this token and target today; undefined when it carried none. */
  async finish(): Promise<ModelUsage | undefined> {
    const usage = this.#tap.end();
    if (usage) await this.#ledger.record(this.#tokenId, this.#target, usage);
    return usage;
  }
}
