import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { GatehouseError, log } from '../core/index.js';
import type { Store } from '../store/index.js';
import { chainHash, GENESIS, type ChainedRecord } from './chain.js';
import { sqliteAuditWriter, type SqliteAuditWriter } from './sqlite-writer.js';
import type { DurableSync } from './wal-sync.js';

export type AuditPhase = 'attempt' | 'result' | 'event';

/** One audit record as callers describe it. `action` must already be redacted. */
export interface AuditEntry {
  phase: AuditPhase;
  /** For a result: the id of the attempt it closes. */
  ref?: string;
  tokenId?: string | null;
  tokenName?: string | null;
  tool?: string;
  route?: string;
  target?: string | null;
  action?: string;
  decision?: string;
  rule?: string;
  approver?: string;
  outcome?: string;
  status?: number;
  durationMs?: number;
  client?: string;
  detail?: Record<string, unknown>;
}

export interface AuditRecord {
  seq: number;
  id: string;
  ts: string;
  phase: AuditPhase;
  ref: string | null;
  tokenId: string | null;
  tokenName: string | null;
  tool: string | null;
  route: string | null;
  target: string | null;
  action: string | null;
  decision: string | null;
  rule: string | null;
  approver: string | null;
  outcome: string | null;
  status: number | null;
  durationMs: number | null;
  client: string | null;
  detail: Record<string, unknown> | null;
  prevHash: string;
  hash: string;
}

interface Pending {
  entry: AuditEntry;
  id: string;
  resolve: (r: { id: string; seq: number }) => void;
  reject: (e: Error) => void;
}

const PG_AUDIT_LOCK = 720_401_2;
const MAX_BATCH = 500;
const MAX_FIELD = 4000;

/**
 * The hash-chained audit log with group commit.
 *
 * INVARIANT (no audit record, no action): `append` of an attempt (or event) resolves only after
 * the record is committed and on disk, and rejects with `audit_unavailable` if it cannot be; the
 * gate runs nothing until the attempt record's append has resolved.
 *
 * A result record closes an action that has already run, so nothing waits on its disk flush: it
 * resolves once committed (it survives a crash of this process at once) and reaches the disk with
 * the next attempt's flush, or within LAGGING_FLUSH_MS (embedded store; PostgreSQL's WAL writer
 * does the same within its own delay). Only a power loss in that window can lose it; the attempt
 * it closes is on disk either way. This saves one disk flush per action when calls are sparse.
 *
 * Records that arrive while a commit is in flight are gathered and written together in the next
 * transaction, so N concurrent requests cost one disk flush, not N.
 */
export class AuditLog {
  readonly #store: Store;
  readonly #key: Buffer;
  #queue: Pending[] = [];
  #flushing = false;
  #scrub: (s: string) => string;

  readonly #walSync: DurableSync | undefined;

  /**
   * `durableSync` replaces the embedded store's WAL flush (tests use it to delay or fail the
   * flush); production code leaves it unset.
   */
  constructor(store: Store, chainKey: Buffer, options: { scrub?: (s: string) => string; durableSync?: DurableSync } = {}) {
    if (chainKey.length < 32) throw new GatehouseError('key_invalid', 'audit chain key must be at least 32 bytes');
    this.#store = store;
    this.#key = chainKey;
    this.#scrub = options.scrub ?? ((s) => s);
    this.#walSync = options.durableSync;
  }

  /** Replaces the scrubber applied to every text field before it is written. */
  setScrubber(fn: (s: string) => string): void {
    this.#scrub = fn;
  }

  append(entry: AuditEntry): Promise<{ id: string; seq: number }> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ entry, id: newAuditId(), resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        // Let the current tick's other appends join this batch.
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, MAX_BATCH);
      try {
        const seqs = await this.#write(batch, batch.some((p) => p.entry.phase !== 'result'));
        batch.forEach((p, i) => p.resolve({ id: p.id, seq: seqs[i] }));
      } catch (e) {
        log.error('audit write failed', { err: e });
        const err = new GatehouseError('audit_unavailable', 'the audit log cannot be written, so the action was not run', {
          hint: 'check that the store is reachable and has free space; `gatehouse doctor` shows its state',
          cause: e,
        });
        batch.forEach((p) => p.reject(err));
      }
    }
    this.#flushing = false;
  }

  async #write(batch: Pending[], durable: boolean): Promise<number[]> {
    if (this.#store.sqlite) return this.#writeSqlite(this.#store.sqlite, batch, durable);
    const { db, dialect } = this.#store;
    return db.connection().execute(async (conn) => {
      await sql.raw(dialect === 'sqlite' ? 'BEGIN IMMEDIATE' : 'BEGIN').execute(conn);
      try {
        if (dialect === 'postgres') {
          await sql`SELECT pg_advisory_xact_lock(${PG_AUDIT_LOCK})`.execute(conn);
          // Results only: the commit returns without waiting for the WAL flush, which PostgreSQL's
          // WAL writer does shortly after (see the class comment); an attempt in the same batch
          // keeps the flush.
          if (!durable) await sql.raw('SET LOCAL synchronous_commit = off').execute(conn);
        }
        const last = await conn.selectFrom('audit_log').select(['seq', 'hash']).orderBy('seq', 'desc').limit(1).executeTakeFirst();
        let seq = last ? Number(last.seq) : 0;
        let prev: string = last ? last.hash : GENESIS;
        const rows: (ChainedRecord & { hash: string })[] = [];
        const ts = new Date().toISOString();
        for (const p of batch) {
          seq += 1;
          const rec = this.#toRow(p, seq, ts, prev);
          const hash = chainHash(this.#key, rec);
          rows.push({ ...rec, hash });
          prev = hash;
        }
        await conn.insertInto('audit_log').values(rows).execute();
        await sql.raw('COMMIT').execute(conn);
        return rows.map((r) => Number(r.seq));
      } catch (e) {
        await sql.raw('ROLLBACK').execute(conn).catch(() => undefined);
        throw e;
      }
    });
  }

  #sqliteWriter: SqliteAuditWriter | undefined;

  /**
   * The embedded store's hot path: prepared statements in one BEGIN IMMEDIATE transaction on this
   * thread (tens of µs), then one WAL flush on the thread pool (see sqlite-writer.ts), so the disk
   * flush never blocks the event loop and no record crosses a thread boundary.
   */
  #writeSqlite(handle: NonNullable<Store['sqlite']>, batch: Pending[], durable: boolean): Promise<number[]> {
    const ts = new Date().toISOString();
    // seq and prev_hash are placeholders: the writer sets them under the store's write lock.
    const records = batch.map((p) => this.#toRow(p, 0, ts, ''));
    this.#sqliteWriter ??= sqliteAuditWriter(handle, this.#key, { sync: this.#walSync });
    return this.#sqliteWriter.write(records, durable);
  }

  /** Returns after everything appended so far is committed and on disk, and releases the WAL descriptor. */
  async close(): Promise<void> {
    await this.drain();
    await this.#sqliteWriter?.flushLagging().catch((e: unknown) => log.error('audit flush at close failed', { err: e }));
    this.#sqliteWriter?.close();
    this.#sqliteWriter = undefined;
  }

  #toRow(p: Pending, seq: number, ts: string, prev: string): ChainedRecord {
    const e = p.entry;
    const text = (v: string | null | undefined): string | null => (v === undefined || v === null ? null : clip(this.#scrub(v)));
    return {
      seq,
      id: p.id,
      ts,
      phase: e.phase,
      ref: e.ref ?? null,
      token_id: e.tokenId ?? null,
      token_name: text(e.tokenName),
      tool: text(e.tool),
      route: text(e.route),
      target: text(e.target),
      action: text(e.action),
      decision: e.decision ?? null,
      rule: text(e.rule),
      approver: text(e.approver),
      outcome: e.outcome ?? null,
      status: e.status ?? null,
      duration_ms: e.durationMs === undefined ? null : Math.round(e.durationMs),
      client: text(e.client),
      detail: e.detail ? clip(this.#scrub(JSON.stringify(e.detail)), 64_000) : null,
      prev_hash: prev,
    };
  }

  /** Waits until everything appended so far is committed (used at shutdown). */
  async drain(): Promise<void> {
    while (this.#flushing || this.#queue.length > 0) await new Promise((r) => setTimeout(r, 5));
  }
}

function clip(s: string, max = MAX_FIELD): string {
  return s.length <= max ? s : s.slice(0, max) + '…[clipped]';
}

// Ids are unique, not secret: a random per-process prefix and a counter (no random draw per record).
const ID_PREFIX = 'au_' + randomBytes(9).toString('base64url') + '_';
let idCounter = 0;
function newAuditId(): string {
  return ID_PREFIX + (++idCounter).toString(36);
}
