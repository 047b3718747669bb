import { createHash, randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { GatehouseError, log, rowMac, rowMacValid, type MacField } from '../core/index.js';
import { writeTransaction, type Store, type UntypedDb } from '../store/index.js';
import { INTEGRITY_KEY, openSealed, sealBytes } from '../vault/index.js';

/**
 * The leased queue of verified webhook events (issue 16): at-least-once delivery to agents that
 * poll and acknowledge.
 *
 * Each event is `pending → leased → acked | failed → dead`:
 * - a poll leases deliverable events (pending; failed and due again; leased with the lease run
 *   out) for `lease_s`, adding an attempt, under a fresh lease token;
 * - an ack with that token, while the lease holds, settles it: `done`/`skip` → acked, `failed` →
 *   failed (deliverable again after a backoff) or dead at `max_attempts`;
 * - a lease that runs out makes the event deliverable again, or dead at `max_attempts`.
 *
 * INVARIANTS (test/webhooks/queue.test.ts, on both stores, eight pollers):
 * - No event is leased to two pollers at once: leasing is one statement over rows it locks
 *   (SQLite: one write transaction, `UPDATE … RETURNING`; PostgreSQL: `FOR UPDATE SKIP LOCKED`).
 * - An ack needs the event's current lease token and an unexpired lease, checked in the UPDATE
 *   itself: a stale poller cannot settle an event another poller holds now, and an acked event is
 *   never delivered again.
 * - Expiry (of leases, of retention) is decided in the queries, with the caller's clock passed in,
 *   never by a sweep that might not have run.
 * - Nothing is queued twice: every key an event is known by is claimed in the transaction that
 *   queues it (`ON CONFLICT … WHERE expired`), so a concurrent duplicate finds the claim and is
 *   counted instead.
 */

export type EventState = 'pending' | 'leased' | 'acked' | 'failed' | 'dead';
export const EVENT_STATES: readonly EventState[] = ['pending', 'leased', 'acked', 'failed', 'dead'];
export type AckOutcome = 'done' | 'failed' | 'skip';

export interface NewEvent {
  endpoint: string;
  provider: string;
  eventId?: string;
  type?: string;
  /** How it was verified (`github hmac-sha256`, `unsigned from 192.0.2.1`). */
  verified: string;
  headers: Record<string, string>;
  body: Buffer;
  /** Every key the event is known by (provider id, signed-content hash). Never empty. */
  keys: readonly string[];
  maxAttempts: number;
  retentionS: number;
  dedupeS: number;
  sealBody: boolean;
  /** Events of types the endpoint does not want: remembered for dedupe, settled at once. */
  ignored?: boolean;
}

export interface StoredEvent {
  id: string;
  endpoint: string;
  seq: number;
  state: EventState;
  provider: string;
  eventId: string | null;
  type: string | null;
  receivedAt: string;
  verified: string;
  headers: Record<string, string>;
  body: Buffer;
  bodyBytes: number;
  sealed: boolean;
  attempts: number;
  maxAttempts: number;
  /** Epoch ms the current lease runs out (leased events). */
  leaseUntil: number | null;
  outcome: string | null;
  note: string | null;
  doneAt: string | null;
  /** False when the row's signature does not verify: its body is withheld and it is never leased. */
  intact: boolean;
}

export interface LeasedEvent extends StoredEvent {
  leaseToken: string;
}

export interface AckItem {
  id: string;
  leaseToken: string;
  outcome: AckOutcome;
  note?: string;
}

export type AckResult = { id: string; ok: true; state: EventState } | { id: string; ok: false; error: string };

interface Row {
  id: string;
  endpoint: string;
  seq: number | string;
  state: EventState;
  provider: string;
  event_id: string | null;
  event_type: string | null;
  received_at: string;
  verified: string;
  headers: string;
  body: Buffer | Uint8Array;
  body_nonce: Buffer | Uint8Array | null;
  body_bytes: number | string;
  attempts: number;
  max_attempts: number;
  lease_until: number | string | null;
  outcome: string | null;
  note: string | null;
  done_at: string | null;
  expires_at: number | string;
  mac: string | null;
}

/** Longest a lease may be asked for, and the default. */
export const MAX_LEASE_S = 3600;
export const DEFAULT_LEASE_S = 60;
/** How often a waiting poll looks again when no wake-up reaches it (another process queued). */
const FALLBACK_MS = { sqlite: 500, postgres: 5000 } as const;
const NOTIFY = 'webhooks';

const hashToken = (t: string) => createHash('sha256').update(t, 'utf8').digest('hex');
const bodyAd = (id: string) => `gatehouse:v1|webhook-body|${id}`;

export const newEventId = () => `whe_${randomBytes(12).toString('base64url')}`;

/** What another process's poll is woken by: a set of endpoint names and one-shot waiters. */
interface Waiter {
  endpoints: ReadonlySet<string> | '*';
  fire(): void;
}

export class WebhookQueue {
  readonly #store: Store;
  readonly #bodyKey: () => Promise<Buffer>;
  readonly #waiters = new Set<Waiter>();
  #listening: Promise<(() => Promise<void>) | undefined> | undefined;
  #closed = false;

  /** `keys`: the keyring (a `Keyring` is one): bodies are sealed and rows signed under its internal keys. */
  constructor(store: Store, keys: { internalKey(purpose: string): Promise<Buffer> }) {
    this.#store = store;
    this.#bodyKey = () => keys.internalKey('webhook-bodies');
    this.#rowKey = () => keys.internalKey(INTEGRITY_KEY);
  }

  readonly #rowKey: () => Promise<Buffer>;

  /** Whether an event row's signature verifies (see eventMacFields). */
  async #intact(r: Row): Promise<boolean> {
    return rowMacValid(await this.#rowKey(), EVENT_MAC, eventMacFields(r), r.mac);
  }

  /**
   * Queues a verified event, unless one of its keys was seen within the dedupe window: then it is
   * counted as a duplicate and the earlier event's id returned.
   */
  async enqueue(
    e: NewEvent,
    now = Date.now(),
  ): Promise<{ duplicate: false; id: string; seq: number } | { duplicate: true; id: string }> {
    if (e.keys.length === 0) throw new GatehouseError('internal', 'an event without a dedupe key cannot be queued');
    const id = newEventId();
    let body = e.body;
    let nonce: Buffer | null = null;
    if (e.sealBody) {
      const s = await sealBytes(e.body, bodyAd(id), await this.#bodyKey());
      body = Buffer.from(s.ciphertext, 'base64');
      nonce = Buffer.from(s.nonce, 'base64');
    }
    const rowKey = await this.#rowKey();
    const r = await new Promise<Queued>((resolve, reject) => {
      this.#pending.push({ e, now, id, body, nonce, rowKey, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        // Events arriving in the same tick share one transaction (one commit, one disk flush).
        setImmediate(() => void this.#flush());
      }
    });
    if (r.duplicate) return r;
    if (!e.ignored) this.#wake(e.endpoint);
    return r;
  }

  #pending: PendingEvent[] = [];
  #flushing = false;

  /**
   * Queues the events waiting, up to MAX_BATCH per transaction. Each event runs under a savepoint
   * of its own: a duplicate (or any failure) undoes that event's claims only, never its batch's.
   * INVARIANT: an event's promise resolves only after the transaction that holds it committed.
   */
  async #flush(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, MAX_BATCH);
      try {
        const results = await writeTransaction(this.#store, async (db) => {
          const out: (Queued | { error: unknown })[] = [];
          const notify = new Set<string>();
          for (const it of batch) {
            await sql.raw('SAVEPOINT webhook_event').execute(db);
            try {
              const seq = await this.#insert(db, it);
              await sql.raw('RELEASE SAVEPOINT webhook_event').execute(db);
              out.push({ duplicate: false, id: it.id, seq });
              if (!it.e.ignored) notify.add(it.e.endpoint);
            } catch (err) {
              await sql.raw('ROLLBACK TO SAVEPOINT webhook_event').execute(db);
              await sql.raw('RELEASE SAVEPOINT webhook_event').execute(db);
              if (!(err instanceof Duplicate)) {
                out.push({ error: err });
                continue;
              }
              await db
                .updateTable('webhook_counters')
                .set({ duplicates: sql`duplicates + 1` })
                .where('endpoint', '=', it.e.endpoint)
                .execute();
              out.push({ duplicate: true, id: err.event });
            }
          }
          if (this.#store.dialect === 'postgres')
            for (const endpoint of notify) await sql`SELECT pg_notify(${this.#channel()}, ${endpoint})`.execute(db);
          return out;
        });
        batch.forEach((it, k) => {
          const r = results[k]!;
          if ('error' in r) it.reject(r.error);
          else it.resolve(r);
        });
      } catch (err) {
        for (const it of batch) it.reject(err);
      }
    }
    this.#flushing = false;
  }

  /** One event's claims, sequence number and row, inside the batch's transaction; its sequence. */
  async #insert(db: UntypedDb, it: PendingEvent): Promise<number> {
    const { e, now, id } = it;
    for (const key of e.keys) {
      // Claims the key, or takes it over only when its window has passed; a live claim (even one
      // committed by a concurrent transaction a moment ago) leaves nothing changed.
      const r = await db
        .insertInto('webhook_dedupe')
        .values({ endpoint: e.endpoint, key: storedKey(key), event: id, expires_at: now + e.dedupeS * 1000 })
        .onConflict((oc) =>
          oc
            .columns(['endpoint', 'key'])
            .doUpdateSet({ event: id, expires_at: now + e.dedupeS * 1000 })
            .where('webhook_dedupe.expires_at', '<=', now),
        )
        .executeTakeFirst();
      if (Number(r.numInsertedOrUpdatedRows ?? 0) === 0) {
        const first = (await db
          .selectFrom('webhook_dedupe')
          .select('event')
          .where('endpoint', '=', e.endpoint)
          .where('key', '=', storedKey(key))
          .executeTakeFirst()) as { event: string } | undefined;
        throw new Duplicate(first?.event ?? '');
      }
    }
    const seqRow = (await db
      .updateTable('webhook_counters')
      .set({ seq: sql`seq + 1` })
      .where('endpoint', '=', e.endpoint)
      .returning('seq')
      .executeTakeFirst()) as { seq: number | string } | undefined;
    if (!seqRow) throw new GatehouseError('not_found', `no webhook endpoint ${e.endpoint}`);
    const seq = Number(seqRow.seq);
    const row = {
      id,
      endpoint: e.endpoint,
      seq,
      state: e.ignored ? 'acked' : 'pending',
      provider: e.provider,
      event_id: e.eventId === undefined ? null : storedText(e.eventId, 256),
      event_type: e.type === undefined ? null : storedText(e.type, 256),
      received_at: new Date(now).toISOString(),
      verified: storedText(e.verified, 200),
      headers: JSON.stringify(Object.fromEntries(Object.entries(e.headers).map(([k, v]) => [k, storedText(v, 1000)]))),
      body: it.body,
      body_nonce: it.nonce,
      body_bytes: e.body.length,
      attempts: 0,
      max_attempts: e.maxAttempts,
      available_at: now,
      outcome: e.ignored ? 'ignored' : null,
      done_at: e.ignored ? new Date(now).toISOString() : null,
      expires_at: now + e.retentionS * 1000,
    };
    await db
      .insertInto('webhook_events')
      .values({ ...row, mac: rowMac(it.rowKey, EVENT_MAC, eventMacFields(row)) })
      .execute();
    return seq;
  }

  /**
   * Leases up to `limit` deliverable events of the endpoints (oldest first) for `leaseS`. Events
   * whose lease ran out at their last attempt become dead here, in the same transaction.
   */
  async lease(
    opts: { endpoints: readonly string[]; limit: number; leaseS: number; types?: readonly string[] },
    now = Date.now(),
  ): Promise<LeasedEvent[]> {
    if (opts.endpoints.length === 0) return [];
    const token = `wl_${randomBytes(18).toString('base64url')}`;
    const rows = await writeTransaction(this.#store, async (db) => {
      await expireLeases(db, opts.endpoints, now);
      let pick = db
        .selectFrom('webhook_events')
        .select('id')
        .where('endpoint', 'in', opts.endpoints)
        .where('expires_at', '>', now)
        .where((w) =>
          w.or([
            w.and([w('state', 'in', ['pending', 'failed']), w('available_at', '<=', now)]),
            w.and([w('state', '=', 'leased'), w('lease_until', '<=', now)]),
          ]),
        )
        .orderBy('available_at')
        .orderBy('seq')
        .limit(opts.limit);
      if (opts.types?.length) pick = pick.where('event_type', 'in', opts.types);
      if (this.#store.dialect === 'postgres') pick = pick.forUpdate().skipLocked();
      return (await db
        .updateTable('webhook_events')
        .set({
          state: 'leased',
          lease_hash: hashToken(token),
          lease_until: now + opts.leaseS * 1000,
          attempts: sql`attempts + 1`,
        })
        .where('id', 'in', pick)
        .returningAll()
        .execute()) as Row[];
    });
    const out: LeasedEvent[] = [];
    const forged: string[] = [];
    for (const r of rows.sort((a, b) => Number(a.seq) - Number(b.seq) || a.endpoint.localeCompare(b.endpoint))) {
      const ev = await this.#event(r);
      if (ev.intact) out.push({ ...ev, leaseToken: token });
      else forged.push(ev.id);
    }
    if (forged.length > 0) {
      log.error('webhook events fail their integrity check (written without the master key); they are dead', {
        events: forged,
      });
      await this.#store.db
        .updateTable('webhook_events')
        .set({ state: 'dead', outcome: 'integrity_failed', lease_hash: null, done_at: new Date(now).toISOString() })
        .where('id', 'in', forged)
        .execute();
    }
    return out;
  }

  /** Settles leased events. Each item is checked on its own; one that fails says why. */
  async ack(items: readonly AckItem[], endpoints: readonly string[], now = Date.now()): Promise<AckResult[]> {
    const out: AckResult[] = [];
    for (const it of items) {
      // One statement: the lease is checked in the UPDATE that settles it (a SELECT first would
      // let another poller re-lease the row in between on PostgreSQL), and a failure's next state
      // and backoff are decided there from the row's own attempt count.
      const failed = it.outcome === 'failed';
      const row = (await this.#store.db
        .updateTable('webhook_events')
        .set({
          state: failed ? sql`CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'failed' END` : 'acked',
          outcome: it.outcome,
          note: it.note === undefined ? null : storedText(it.note, 2000),
          lease_hash: null,
          lease_until: null,
          // min(2^attempts, 300) seconds (2^9 is past 300).
          available_at: failed
            ? sql`CAST(${now} AS bigint) + (CASE WHEN attempts >= 9 THEN 300 ELSE (1 << attempts) END) * 1000`
            : now,
          done_at: failed
            ? sql`CASE WHEN attempts >= max_attempts THEN ${new Date(now).toISOString()} ELSE NULL END`
            : new Date(now).toISOString(),
        })
        .where('id', '=', it.id)
        .where('endpoint', 'in', endpoints)
        .where('state', '=', 'leased')
        .where('lease_hash', '=', hashToken(it.leaseToken))
        .where('lease_until', '>', now)
        .returning('state')
        .executeTakeFirst()) as { state: EventState } | undefined;
      const r = row?.state;
      out.push(
        r
          ? { id: it.id, ok: true, state: r }
          : {
              id: it.id,
              ok: false,
              error:
                'no such event under this lease: the lease ran out (the event will be offered again), it was settled already, or the id or lease token is wrong',
            },
      );
    }
    return out;
  }

  /** Lengthens leases still held; an item whose lease ran out or moved on is not extended. */
  async extend(
    items: readonly { id: string; leaseToken: string }[],
    endpoints: readonly string[],
    leaseS: number,
    now = Date.now(),
  ): Promise<{ id: string; ok: boolean; leaseUntil?: string }[]> {
    const out: { id: string; ok: boolean; leaseUntil?: string }[] = [];
    for (const it of items) {
      const until = now + leaseS * 1000;
      const r = await this.#store.db
        .updateTable('webhook_events')
        .set({ lease_until: until })
        .where('id', '=', it.id)
        .where('endpoint', 'in', endpoints)
        .where('state', '=', 'leased')
        .where('lease_hash', '=', hashToken(it.leaseToken))
        .where('lease_until', '>', now)
        .executeTakeFirst();
      out.push(
        Number(r.numUpdatedRows) === 1
          ? { id: it.id, ok: true, leaseUntil: new Date(until).toISOString() }
          : { id: it.id, ok: false },
      );
    }
    return out;
  }

  /** One event (any state, not past retention), or undefined. */
  async get(id: string, now = Date.now()): Promise<StoredEvent | undefined> {
    await expireLeases(this.#store.db, [], now, id);
    const r = (await this.#store.db
      .selectFrom('webhook_events')
      .selectAll()
      .where('id', '=', id)
      .where('expires_at', '>', now)
      .executeTakeFirst()) as Row | undefined;
    return r ? this.#event(r) : undefined;
  }

  /** An endpoint's events, newest first, for operators (`gatehouse webhook events`). */
  async events(
    endpoint: string,
    opts: { state?: EventState; limit?: number } = {},
    now = Date.now(),
  ): Promise<StoredEvent[]> {
    await expireLeases(this.#store.db, [endpoint], now);
    let q = this.#store.db
      .selectFrom('webhook_events')
      .selectAll()
      .where('endpoint', '=', endpoint)
      .where('expires_at', '>', now)
      .orderBy('seq', 'desc')
      .limit(Math.min(opts.limit ?? 50, 1000));
    if (opts.state) q = q.where('state', '=', opts.state);
    const rows = (await q.execute()) as Row[];
    return Promise.all(rows.map((r) => this.#event(r)));
  }

  /**
   * Takes back an event queued a moment ago whose audit record could not be written: the row and
   * every dedupe key it claimed, in one transaction (the sender's retry is then a new delivery).
   */
  async discard(id: string): Promise<void> {
    await writeTransaction(this.#store, async (db) => {
      await db.deleteFrom('webhook_dedupe').where('event', '=', id).execute();
      await db.deleteFrom('webhook_events').where('id', '=', id).execute();
    });
  }

  /** How many events an endpoint holds, in every state (what removing it would delete). */
  async count(endpoint: string): Promise<number> {
    const r = (await this.#store.db
      .selectFrom('webhook_events')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('endpoint', '=', endpoint)
      .executeTakeFirst()) as { n: number | string } | undefined;
    return Number(r?.n ?? 0);
  }

  /** Offers a settled or dead event again, with its attempts reset (operators only). */
  async replay(id: string, now = Date.now()): Promise<StoredEvent> {
    await expireLeases(this.#store.db, [], now, id);
    const before = await this.get(id, now);
    if (before && !before.intact)
      throw new GatehouseError(
        'integrity_failed',
        `webhook event ${id} fails its integrity check and is never delivered`,
        {
          hint: 'it was written or changed without the master key: find out who can write to the database',
        },
      );
    const r = await this.#store.db
      .updateTable('webhook_events')
      .set({
        state: 'pending',
        attempts: 0,
        available_at: now,
        lease_hash: null,
        lease_until: null,
        outcome: null,
        note: null,
        done_at: null,
      })
      .where('id', '=', id)
      .where('state', 'in', ['acked', 'failed', 'dead'])
      .where('expires_at', '>', now)
      .executeTakeFirst();
    const ev = await this.get(id, now);
    if (!ev)
      throw new GatehouseError('not_found', `no webhook event ${id} (or it is past its retention)`, {
        hint: 'see `gatehouse webhook events NAME`',
      });
    if (Number(r.numUpdatedRows) !== 1)
      throw new GatehouseError(
        'conflict',
        `event ${id} is ${ev.state}: only acked, failed or dead events are replayed`,
        { hint: 'a pending or leased event will be delivered anyway' },
      );
    this.#wake(ev.endpoint);
    return ev;
  }

  /** Deletes events past their retention and dedupe keys past their window. */
  async purge(now = Date.now()): Promise<{ events: number; keys: number }> {
    const ev = await this.#store.db.deleteFrom('webhook_events').where('expires_at', '<=', now).executeTakeFirst();
    const keys = await this.#store.db.deleteFrom('webhook_dedupe').where('expires_at', '<=', now).executeTakeFirst();
    return { events: Number(ev.numDeletedRows), keys: Number(keys.numDeletedRows) };
  }

  /** Per endpoint: deliverable, leased and dead counts, the oldest deliverable's arrival, duplicates, last sequence. */
  async stats(endpoints: readonly string[], now = Date.now()): Promise<Map<string, InboxStats>> {
    const out = new Map<string, InboxStats>();
    if (endpoints.length === 0) return out;
    for (const name of endpoints) out.set(name, { ready: 0, leased: 0, dead: 0, oldest: null, duplicates: 0, seq: 0 });
    await expireLeases(this.#store.db, endpoints, now);
    const rows = (await this.#store.db
      .selectFrom('webhook_events')
      .select((eb) => [
        'endpoint',
        sql<string>`CASE WHEN state = 'leased' AND lease_until <= ${now} THEN 'ready' WHEN state IN ('pending','failed') THEN 'ready' ELSE state END`.as(
          's',
        ),
        eb.fn.countAll().as('n'),
        eb.fn.min('received_at').as('oldest'),
      ])
      .where('endpoint', 'in', endpoints)
      .where('expires_at', '>', now)
      .where('state', 'in', ['pending', 'failed', 'leased', 'dead'])
      .groupBy(['endpoint', 's'])
      .execute()) as { endpoint: string; s: string; n: number | string; oldest: string | null }[];
    for (const r of rows) {
      const st = out.get(r.endpoint)!;
      if (r.s === 'ready') {
        st.ready += Number(r.n);
        if (r.oldest && (!st.oldest || r.oldest < st.oldest)) st.oldest = r.oldest;
      } else if (r.s === 'leased') st.leased += Number(r.n);
      else if (r.s === 'dead') st.dead += Number(r.n);
    }
    const counters = (await this.#store.db
      .selectFrom('webhook_counters')
      .selectAll()
      .where('endpoint', 'in', endpoints)
      .execute()) as {
      endpoint: string;
      seq: number | string;
      duplicates: number | string;
    }[];
    for (const c of counters) {
      const st = out.get(c.endpoint)!;
      st.seq = Number(c.seq);
      st.duplicates = Number(c.duplicates);
    }
    return out;
  }

  /**
   * A one-shot wake-up for a poll waiting on these endpoints, taken BEFORE the poll looks (so an
   * event queued between the look and the wait is not missed). `wait` resolves when an event is
   * queued for one of them in this process, a PostgreSQL notification says another process queued
   * one, the fallback interval passes, `ms` runs out, or `signal` aborts.
   */
  waiter(endpoints: readonly string[] | '*'): {
    wait(ms: number, signal?: AbortSignal): Promise<void>;
    cancel(): void;
    /** Resolves once another process's events can wake this waiter (PostgreSQL: LISTEN is on). */
    ready: Promise<void>;
  } {
    let fired = false;
    let wake: (() => void) | undefined;
    const w: Waiter = {
      endpoints: endpoints === '*' ? '*' : new Set(endpoints),
      fire: () => {
        fired = true;
        wake?.();
      },
    };
    this.#waiters.add(w);
    if (this.#store.listen && !this.#listening && !this.#closed) this.#listening = this.#listen();
    const cancel = () => this.#waiters.delete(w);
    return {
      cancel,
      ready: (this.#listening ?? Promise.resolve()).then(
        () => undefined,
        () => undefined,
      ),
      wait: (ms, signal) =>
        new Promise<void>((resolve) => {
          if (fired || signal?.aborted) {
            cancel();
            return resolve();
          }
          const timer = setTimeout(done, Math.min(ms, FALLBACK_MS[this.#store.dialect]));
          function done() {
            clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            cancel();
            resolve();
          }
          wake = done;
          signal?.addEventListener('abort', done, { once: true });
        }),
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const w of this.#waiters) w.fire();
    const end = await this.#listening?.catch(() => undefined);
    await end?.();
  }

  #channel(): string {
    return this.#store.notifyChannel?.(NOTIFY) ?? NOTIFY;
  }

  async #listen(): Promise<(() => Promise<void>) | undefined> {
    try {
      return await this.#store.listen!(this.#channel(), (endpoint) => this.#wake(endpoint));
    } catch (e) {
      // Waiters still look again every FALLBACK_MS; the next waiter tries to listen again.
      log.warn('could not LISTEN for webhook events; polls fall back to looking every few seconds', { err: e });
      this.#listening = undefined;
      return undefined;
    }
  }

  #wake(endpoint: string): void {
    for (const w of [...this.#waiters]) if (w.endpoints === '*' || w.endpoints.has(endpoint)) w.fire();
  }

  async #event(r: Row): Promise<StoredEvent> {
    const intact = await this.#intact(r);
    let body = Buffer.from(r.body);
    if (!intact) body = Buffer.alloc(0);
    else if (r.body_nonce) {
      body = Buffer.from(
        await openSealed(
          { ciphertext: body.toString('base64'), nonce: Buffer.from(r.body_nonce).toString('base64') },
          bodyAd(r.id),
          await this.#bodyKey(),
          `the body of webhook event ${r.id}`,
        ),
      );
    }
    return {
      id: r.id,
      endpoint: r.endpoint,
      seq: Number(r.seq),
      state: r.state,
      provider: r.provider,
      eventId: r.event_id,
      type: r.event_type,
      receivedAt: r.received_at,
      verified: r.verified,
      headers: JSON.parse(r.headers) as Record<string, string>,
      body,
      bodyBytes: Number(r.body_bytes),
      sealed: r.body_nonce !== null,
      attempts: r.attempts,
      maxAttempts: r.max_attempts,
      leaseUntil: r.lease_until === null ? null : Number(r.lease_until),
      outcome: r.outcome,
      note: r.note,
      doneAt: r.done_at,
      intact,
    };
  }
}

export interface InboxStats {
  /** Deliverable now or soon (pending, failed awaiting retry, leases run out). */
  ready: number;
  leased: number;
  dead: number;
  /** Arrival of the oldest deliverable event. */
  oldest: string | null;
  duplicates: number;
  seq: number;
}

type Queued = { duplicate: false; id: string; seq: number } | { duplicate: true; id: string };

interface PendingEvent {
  e: NewEvent;
  now: number;
  id: string;
  body: Buffer;
  nonce: Buffer | null;
  rowKey: Buffer;
  resolve(r: Queued): void;
  reject(e: unknown): void;
}

/**
 * Events whose lease ran out at their last attempt become dead (decided from `now`, in the
 * query). Run before every look at states (lease, stats, listings), so what operators see is the
 * truth even when nobody polled since.
 */
async function expireLeases(db: UntypedDb, endpoints: readonly string[], now: number, eventId?: string): Promise<void> {
  if (endpoints.length === 0 && eventId === undefined) return;
  let q = db
    .updateTable('webhook_events')
    .set({ state: 'dead', lease_hash: null, done_at: new Date(now).toISOString(), outcome: 'expired' });
  q = eventId === undefined ? q.where('endpoint', 'in', endpoints) : q.where('id', '=', eventId);
  await q
    .where('state', '=', 'leased')
    .where('lease_until', '<=', now)
    .where(sql<boolean>`attempts >= max_attempts`)
    .execute();
}

/**
 * A sender's text as stored: control characters (PostgreSQL refuses NUL in text) replaced, and a
 * value over `max` replaced whole by a note of its length. INVARIANT: never a cut prefix: a secret
 * across the cut would keep its first characters where the scrubbing that reads them later can no
 * longer recognise it.
 */
export function storedText(v: string, max: number): string {
  const clean = v.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, '\ufffd');
  return clean.length <= max ? clean : `[${clean.length} characters: too long to keep]`;
}

const EVENT_MAC = 'webhook-event/v1';

/**
 * What an event row's signature covers: everything that says where it came from and what it holds
 * (endpoint, provider, ids, type, arrival, how it was verified, kept headers, the stored body's
 * SHA-256, size and nonce, its attempt limit and retention), exactly as stored. Not its delivery
 * state (attempts, leases, outcome), which the queue changes. INVARIANT: a row that does not
 * verify (inserted or changed by someone with the database but not the master key) is never
 * leased or shown to an agent: a lease that meets one makes it dead (`integrity_failed`).
 */
function eventMacFields(
  r: Pick<
    Row,
    | 'id'
    | 'endpoint'
    | 'provider'
    | 'event_id'
    | 'event_type'
    | 'received_at'
    | 'verified'
    | 'headers'
    | 'body'
    | 'body_nonce'
    | 'body_bytes'
    | 'max_attempts'
    | 'expires_at'
  >,
): MacField[] {
  return [
    r.id,
    r.endpoint,
    r.provider,
    r.event_id,
    r.event_type,
    r.received_at,
    r.verified,
    r.headers,
    createHash('sha256').update(r.body).digest('hex'),
    r.body_nonce === null ? null : Buffer.from(r.body_nonce).toString('base64'),
    Number(r.body_bytes),
    Number(r.max_attempts),
    Number(r.expires_at),
  ];
}

/** Most events queued in one transaction. */
const MAX_BATCH = 64;

/**
 * A dedupe key as stored: as it is, or, when longer than the column's 300 characters would take
 * (a provider id can be long), `h:` and its SHA-256.
 */
function storedKey(key: string): string {
  return key.length <= 200 ? key : `h:${createHash('sha256').update(key, 'utf8').digest('hex')}`;
}

class Duplicate {
  constructor(readonly event: string) {}
}
