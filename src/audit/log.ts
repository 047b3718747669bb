import { randomBytes } from 'node:crypto';
import { GatehouseError, log } from '../core/index.js';
import type { Store } from '../store/index.js';
import { canonicalDetailJson, canonicalInt, canonicalText, clipForDisplay } from './canonical.js';
import type { ChainedRecord } from './chain.js';
import { ChainLease } from './chains.js';
import {
  checkPayloadName,
  payloadColumn,
  payloadParts,
  SPILLED,
  type AuditPayloadRef,
  type BlobWrite,
} from './payload.js';
import { pgAuditWriter, type PgAuditWriter } from './pg-writer.js';
import { sqliteAuditWriter, type SqliteAuditWriter } from './sqlite-writer.js';
import { threadAuditWriter } from './thread-writer.js';
import type { DurableSync } from './wal-sync.js';

export type AuditPhase = 'attempt' | 'result' | 'event';

/**
 * One audit record as callers describe it. `action` must already be redacted for the agent's
 * audience; every text (payload values included) is also passed through the operator-audience
 * scrubber (`setScrubber`) on its canonical form (canonical.ts) before it is hashed and stored.
 */
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
  /**
   * The full texts of what ran or was sent, by name: `command`, `stdin`, `env` (JSON), a session
   * `transcript`, a file's `content`. Never cut: a value over 16 MiB (UTF-8) makes the append
   * reject with `input_too_large`. Values over 4 KiB go to `audit_blobs` in the same
   * transaction; the record keeps their sha256 and size. Names: 1-64 of [A-Za-z0-9_.:-], starting
   * with a letter. `action` may stay a short summary for display because the whole is here.
   */
  payload?: Readonly<Record<string, string>>;
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
  /**
   * Each payload value: inline text, or the sha256 and size of its blob (`readAuditPayloads`
   * fetches and checks those). Text columns longer than 4,000 characters (and `detail` JSON
   * longer than 64,000) show a clipped form; their full text is here under `@` + the column name.
   */
  payload: Record<string, AuditPayloadRef> | null;
  /** The chain the record belongs to (one per writer) and its place there. */
  chain: string | null;
  chainSeq: number | null;
  prevHash: string;
  hash: string;
}

/** Who watches the log's work (the process's metrics); never on the path that decides anything. */
export interface AuditObserver {
  /** Each record once it is prepared, before it is written (an append refused for its size is not seen). */
  appended?(entry: Readonly<AuditEntry>): void;
  /** Each batch as it settles: how many records, seconds from the write's start, and whether it was written. */
  written?(records: number, seconds: number, ok: boolean): void;
}

interface Pending {
  /** The record in its final form (canonical, scrubbed); seq and prev_hash are set by the writer. */
  row: ChainedRecord;
  blobs: BlobWrite[];
  durable: boolean;
  id: string;
  resolve: (r: { id: string; seq: number }) => void;
  reject: (e: Error) => void;
}

const MAX_BATCH = 500;
/** Text columns show at most this many characters; the full text goes to the payload. */
const MAX_FIELD = 4000;
/** `detail` JSON kept in the record up to this many characters; longer goes to the payload. */
const MAX_DETAIL = 64_000;

/**
 * The hash-chained audit log with group commit.
 *
 * INVARIANT (no audit record, no action): `append` of an attempt (or event) resolves only after
 * the record is committed and on disk, and rejects with `audit_unavailable` if it cannot be; the
 * gate runs nothing until the attempt record's append has resolved.
 *
 * On the embedded store a result record closes an action that has already run, so nothing waits
 * on its disk flush: it resolves once committed (it survives a crash of this process at once) and
 * reaches the disk with the next attempt's flush, or within LAGGING_FLUSH_MS. Only a power loss in
 * that window can lose it; the attempt it closes is on disk either way. On PostgreSQL every batch
 * is one synchronously committed statement (pg-writer.ts).
 *
 * Records that arrive while a commit is in flight are gathered and written together in the next
 * transaction, so N concurrent requests cost one disk flush, not N.
 *
 * Each log appends to a chain of its own (chains.ts), so several processes on one store never
 * wait on one another for the chain's head; `verifyAuditChain` checks every chain.
 */
export class AuditLog {
  readonly #store: Store;
  readonly #key: Buffer;
  #queue: Pending[] = [];
  #flushing = false;
  #scrub: (s: string) => string;

  readonly #walSync: DurableSync | undefined;
  readonly #writerThread: URL | undefined;
  /** The chain this log appends to (chains.ts), claimed on the first write. */
  readonly #lease: ChainLease;

  /**
   * `writerThread` (the built writer-thread.js: `builtWriterThread()`) moves a file-backed
   * embedded store's commits and flushes off the event loop (thread-writer.ts); long-running
   * servers set it. `durableSync` replaces the embedded store's WAL flush on the event loop (tests
   * use it to delay or fail the flush); production code leaves it unset. Given both, the
   * in-thread writer is used, so the test's flush is the one that runs.
   */
  constructor(
    store: Store,
    chainKey: Buffer,
    options: {
      scrub?: (s: string) => string;
      durableSync?: DurableSync;
      chainLeaseMs?: number;
      writerThread?: URL;
    } = {},
  ) {
    if (chainKey.length < 32) throw new GatehouseError('key_invalid', 'audit chain key must be at least 32 bytes');
    this.#store = store;
    this.#key = chainKey;
    this.#scrub = options.scrub ?? ((s) => s);
    this.#walSync = options.durableSync;
    this.#writerThread = options.durableSync ? undefined : options.writerThread;
    // The writer thread is started now, not at the first record: it loads while the server
    // finishes booting.
    if (this.#writerThread && store.sqlite && !store.sqlite.memory) this.#sqliteWriterFor(store.sqlite);
    this.#lease = new ChainLease(store, { ttlMs: options.chainLeaseMs });
  }

  #observer: AuditObserver = {};

  /** Sets who is told of every record and batch (metrics). */
  setObserver(o: AuditObserver): void {
    this.#observer = o;
  }

  /** Replaces the scrubber applied to every text field before it is written. */
  setScrubber(fn: (s: string) => string): void {
    this.#scrub = fn;
  }

  append(entry: AuditEntry): Promise<{ id: string; seq: number }> {
    const id = newAuditId();
    let row: ChainedRecord;
    const blobs: BlobWrite[] = [];
    try {
      // Prepared here, not in the batch: a record that cannot be kept (a value over the limit)
      // refuses its own append, never the other records of its batch.
      row = this.#prepare(entry, id, blobs);
    } catch (e) {
      return Promise.reject(
        e instanceof GatehouseError
          ? e
          : new GatehouseError(
              'audit_unavailable',
              'the audit record could not be prepared, so the action was not run',
              { hint: 'see the server log', cause: e },
            ),
      );
    }
    this.#observer.appended?.(entry);
    return new Promise((resolve, reject) => {
      this.#queue.push({ row, blobs, durable: entry.phase !== 'result', id, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        // Let the current tick's other appends join this batch.
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, batchLength(this.#queue));
      const started = performance.now();
      // A record that needs no flush of its own (a result) is answered as soon as its batch is
      // committed, not after the disk flush the batch's attempts wait for: the action it closes
      // has already run, and the commit survives a crash of this process at once.
      const committed = (seqs: number[]): void => {
        // One seq per record, in order; a writer that answers otherwise fails the whole batch.
        if (seqs.length !== batch.length) {
          throw new Error(`the audit writer returned ${seqs.length} seqs for ${batch.length} records`);
        }
        batch.forEach((p, i) => {
          if (!p.durable) p.resolve({ id: p.id, seq: seqs[i]! });
        });
      };
      try {
        // Answered at the commit only when a record in the batch waits for that (a result beside
        // attempts); otherwise once, when the write returns.
        const early = batch.some((p) => !p.durable);
        const seqs = await this.#write(
          batch,
          batch.some((p) => p.durable),
          early ? committed : undefined,
        );
        if (!early) committed(seqs);
        this.#observer.written?.(batch.length, (performance.now() - started) / 1000, true);
        batch.forEach((p, i) => {
          if (p.durable) p.resolve({ id: p.id, seq: seqs[i]! });
        });
      } catch (e) {
        this.#observer.written?.(batch.length, (performance.now() - started) / 1000, false);
        log.error('audit write failed', { err: e });
        const err = new GatehouseError(
          'audit_unavailable',
          'the audit log cannot be written, so the action was not run',
          {
            hint: 'check that the store is reachable and has free space; `gatehouse doctor` shows its state',
            cause: e,
          },
        );
        // Records already answered at their commit keep that answer (settling twice is a no-op).
        batch.forEach((p) => p.reject(err));
      }
    }
    this.#flushing = false;
  }

  /** Writes the batch; calls `committed` with the seqs once it is committed, before any flush it waits for. */
  async #write(batch: Pending[], durable: boolean, committed?: (seqs: number[]) => void): Promise<number[]> {
    if (this.#store.sqlite) return this.#writeSqlite(this.#store.sqlite, batch, durable, committed);
    if (this.#store.dialect !== 'postgres')
      throw new Error(`the audit log has no writer for a ${this.#store.dialect} store opened without its handle`);
    const ts = new Date().toISOString();
    for (const p of batch) p.row.ts = ts;
    this.#pgWriter ??= pgAuditWriter(this.#store, this.#key, this.#lease);
    // One synchronously committed statement: committed and durable at once.
    const seqs = await this.#pgWriter.write(
      batch.map((p) => p.row),
      uniqueBlobs(batch),
    );
    committed?.(seqs);
    return seqs;
  }

  #pgWriter: PgAuditWriter | undefined;
  #sqliteWriter: SqliteAuditWriter | undefined;

  /**
   * The embedded store's hot path: prepared statements in one BEGIN IMMEDIATE transaction, then one
   * WAL flush (see sqlite-writer.ts): on the writer thread (thread-writer.ts) where the process
   * asked for it, else on this thread with the flush on the thread pool, so the disk flush never
   * blocks the event loop.
   */
  #writeSqlite(
    handle: NonNullable<Store['sqlite']>,
    batch: Pending[],
    durable: boolean,
    committed: ((seqs: number[]) => void) | undefined,
  ): Promise<number[]> {
    const ts = new Date().toISOString();
    // seq and prev_hash are placeholders: the writer sets them under the store's write lock.
    const records = batch.map((p) => {
      p.row.ts = ts;
      return p.row;
    });
    // The chain first: after close() it is refused there, so no writer (or thread) is made again.
    return this.#lease
      .acquire()
      .then((chain) => this.#sqliteWriterFor(handle).write(chain, records, durable, uniqueBlobs(batch), committed));
  }

  /**
   * The embedded store's writer, made once: on the writer thread where the process asked for it,
   * else on this thread. A file-backed store gives the writer a connection of its own (it lowers
   * that connection's synchronous level and busy wait for good, so never the shared one); an
   * in-memory store has only the shared connection.
   */
  #sqliteWriterFor(handle: NonNullable<Store['sqlite']>): SqliteAuditWriter {
    if (this.#sqliteWriter) return this.#sqliteWriter;
    if (!handle.memory && this.#writerThread) {
      return (this.#sqliteWriter = threadAuditWriter(this.#writerThread, handle, this.#key));
    }
    const conn = handle.memory ? handle : this.#store.auditConnection?.();
    if (!conn) throw new Error('the embedded store offers no connection for the audit writer');
    return (this.#sqliteWriter = sqliteAuditWriter(conn, this.#key, { sync: this.#walSync }));
  }

  /**
   * Returns after everything appended so far is committed and on disk, and the writer has let go
   * of the WAL descriptor (on the writer thread: its connection closed and the thread ended).
   */
  async close(): Promise<void> {
    await this.drain();
    await this.#sqliteWriter
      ?.flushLagging()
      .catch((e: unknown) => log.error('audit flush at close failed', { err: e }));
    await this.#sqliteWriter?.close();
    this.#sqliteWriter = undefined;
    await this.#lease.release().catch((e: unknown) => log.warn('audit chain not released', { err: e }));
  }

  /**
   * The record in its canonical form (canonical.ts), scrubbed for operators, with every text kept
   * whole: a column too long to show is clipped for display and its full text goes to the payload.
   * INVARIANT: nothing is hashed that the store would not give back unchanged, and nothing that
   * ran is dropped (a value over the payload limit refuses the append instead).
   */
  #prepare(e: AuditEntry, id: string, blobs: BlobWrite[]): ChainedRecord {
    const scrub = this.#scrub;
    const payload: [string, string][] = [];
    if (e.payload) {
      for (const name of Object.keys(e.payload)) {
        checkPayloadName(name);
        const v: unknown = e.payload[name];
        if (typeof v !== 'string')
          throw new GatehouseError('invalid_input', `audit payload ${name} is not text`, {
            hint: 'pass payload values as strings (JSON for structured values)',
          });
        payload.push([name, canonicalText(scrub(canonicalText(v)))]);
      }
    }
    // A text the log itself moves out of a column is never refused for its size: past the
    // payload limit it is kept in parts (`@detail.1`, `@detail.2`, …), already scrubbed whole.
    const spill = (name: string, t: string): string => {
      const parts = Object.entries(payloadParts(SPILLED + name, t));
      for (const part of parts) payload.push(part);
      const first = parts[0];
      const last = parts.at(-1);
      // payloadParts never answers with no part; if it did, the record must not go out without its text.
      if (first === undefined || last === undefined) throw new Error(`audit: ${name} was split into no parts`);
      return parts.length === 1 ? first[0] : `${first[0]} … ${last[0]}`;
    };
    const column = (name: string, v: unknown, scrubbed: boolean): string | null => {
      if (v === undefined || v === null) return null;
      let t = canonicalText(typeof v === 'string' ? v : String(v));
      if (scrubbed) t = canonicalText(scrub(t));
      if (t.length <= MAX_FIELD) return t;
      return clipForDisplay(t, MAX_FIELD, `…[clipped; full text in payload ${spill(name, t)}]`);
    };
    let detail: string | null = null;
    if (e.detail) {
      detail = canonicalDetailJson(e.detail, scrub);
      if (detail.length > MAX_DETAIL) {
        detail = JSON.stringify({
          clipped: true,
          fullTextIn: `payload ${spill('detail', detail)}`,
          chars: detail.length,
        });
      }
    }
    const row: ChainedRecord = {
      seq: 0,
      id,
      ts: '',
      phase: column('phase', e.phase, false),
      ref: column('ref', e.ref, false),
      token_id: column('token_id', e.tokenId, false),
      token_name: column('token_name', e.tokenName, true),
      tool: column('tool', e.tool, true),
      route: column('route', e.route, true),
      target: column('target', e.target, true),
      action: column('action', e.action, true),
      decision: column('decision', e.decision, false),
      rule: column('rule', e.rule, true),
      approver: column('approver', e.approver, true),
      outcome: column('outcome', e.outcome, false),
      status: canonicalInt(e.status),
      duration_ms: canonicalInt(e.durationMs),
      client: column('client', e.client, true),
      detail,
      prev_hash: '',
      payload: null,
    };
    row.payload = payloadColumn(payload, blobs);
    return row;
  }

  /** Waits until everything appended so far is committed (used at shutdown). */
  async drain(): Promise<void> {
    while (this.#flushing || this.#queue.length > 0) await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * How many queued records the next transaction takes: up to MAX_BATCH, and blobs of at most
 * MAX_BATCH_BLOB_BYTES unless the first record alone has more. The embedded store's transaction
 * runs on the event loop, so this bounds how long one batch can hold it.
 */
function batchLength(queue: Pending[]): number {
  let bytes = 0;
  const n = Math.min(queue.length, MAX_BATCH);
  for (const [i, p] of queue.slice(0, n).entries()) {
    for (const b of p.blobs) bytes += b.bytes;
    if (bytes > MAX_BATCH_BLOB_BYTES && i > 0) return i;
  }
  return n;
}
const MAX_BATCH_BLOB_BYTES = 32 * 1024 * 1024;

/** The batch's blobs, each content once (records may share one). */
function uniqueBlobs(batch: Pending[]): BlobWrite[] {
  let out: BlobWrite[] | undefined;
  let seen: Set<string> | undefined;
  for (const p of batch) {
    for (const b of p.blobs) {
      out ??= [];
      seen ??= new Set();
      if (seen.has(b.sha256)) continue;
      seen.add(b.sha256);
      out.push(b);
    }
  }
  return out ?? NO_BLOBS;
}
const NO_BLOBS: BlobWrite[] = [];

// Ids are unique, not secret: a random per-process prefix and a counter (no random draw per record).
const ID_PREFIX = 'au_' + randomBytes(9).toString('base64url') + '_';
let idCounter = 0;
function newAuditId(): string {
  return ID_PREFIX + (++idCounter).toString(36);
}
