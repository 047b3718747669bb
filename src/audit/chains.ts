import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { GatehouseError, log, truncateText } from '../core/index.js';
import type { Store } from '../store/index.js';

/** How long a claimed chain stays held without renewal (a crashed writer's chain is free after this). */
export const CHAIN_LEASE_MS = 30_000;
/** Writer chains are named `w1`, `w2`, …; anything else (`legacy`) is never claimed. */
const WRITER_CHAIN = /^w([1-9]\d{0,8})$/;
const CLAIM_TRIES = 20;

/**
 * The chain one writer (an AuditLog: a `gatehouse serve`, a CLI command) appends to.
 *
 * Why per-writer chains: with one global chain every record needs the previous record's hash, so
 * every writer on a shared PostgreSQL took one global lock per batch and waited for the others.
 * Each writer now holds its own chain and keeps its head, so writers never wait on one another.
 *
 * A chain is held by lease (`audit_chains`: holder, expiry, renewed every third of the lease), so
 * live writers pick different chains and a crashed writer's chain is taken over once its lease
 * runs out (the chain carries on from its head; nothing is lost or forked). The chains are
 * reused, so there are about as many as writers ever ran at once, not one per process start.
 *
 * INVARIANT (one place per chain position): the lease only keeps writers apart for speed; what
 * keeps a chain linear is the unique (chain, chain_seq) index. Two writers that find themselves on
 * one chain (a paused process whose lease ran out, clocks far apart) cannot both append the same
 * place: the loser's batch fails the index, it re-reads the head and chains its batch after it.
 */
export class ChainLease {
  readonly #store: Store;
  readonly #holder: string;
  readonly #ttlMs: number;
  #chain: string | undefined;
  #claiming: Promise<string> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(store: Store, opts: { ttlMs?: number } = {}) {
    this.#store = store;
    this.#ttlMs = opts.ttlMs ?? CHAIN_LEASE_MS;
    // For people reading `audit_chains`: which host and process held a chain.
    this.#holder = `${truncateText(hostname(), 120, '')}:${process.pid}:${randomBytes(6).toString('hex')}`;
  }

  /** The chain held now (claiming one on first use or after the lease was lost). */
  acquire(): Promise<string> {
    if (this.#chain !== undefined) return Promise.resolve(this.#chain);
    if (this.#closed) return Promise.reject(new GatehouseError('audit_unavailable', 'the audit log is closed'));
    this.#claiming ??= this.#claim().finally(() => (this.#claiming = undefined));
    return this.#claiming;
  }

  /** Gives the chain up for another claim (the caller saw another writer on it). */
  drop(): void {
    this.#chain = undefined;
  }

  /** Frees the chain at once for the next writer to start (at shutdown). */
  async release(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    const chain = this.#chain;
    this.#chain = undefined;
    if (chain === undefined) return;
    await this.#store.db
      .updateTable('audit_chains')
      .set({ expires_at: new Date(0).toISOString() })
      .where('chain', '=', chain)
      .where('holder', '=', this.#holder)
      .execute();
  }

  async #claim(): Promise<string> {
    const db = this.#store.db;
    for (let i = 0; i < CLAIM_TRIES; i++) {
      const now = Date.now();
      const rows = (await db.selectFrom('audit_chains').select(['chain', 'expires_at']).execute()) as {
        chain: string;
        expires_at: string;
      }[];
      const writers = rows
        .map((r) => ({ ...r, n: Number(WRITER_CHAIN.exec(r.chain)?.[1] ?? 0) }))
        .filter((r) => r.n > 0)
        .sort((a, b) => a.n - b.n);
      const expires = new Date(now + this.#ttlMs).toISOString();
      const free = writers.find((r) => !(Date.parse(r.expires_at) > now));
      let won: boolean;
      let chain: string;
      if (free) {
        chain = free.chain;
        // Compare-and-set on the expiry read above: of two writers claiming at once, one wins.
        const r = await db
          .updateTable('audit_chains')
          .set({ holder: this.#holder, expires_at: expires })
          .where('chain', '=', chain)
          .where('expires_at', '=', free.expires_at)
          .executeTakeFirst();
        won = Number(r.numUpdatedRows) === 1;
      } else {
        chain = `w${(writers.at(-1)?.n ?? 0) + 1}`;
        const r = await db
          .insertInto('audit_chains')
          .values({ chain, holder: this.#holder, expires_at: expires, created_at: new Date(now).toISOString() })
          .onConflict((oc) => oc.column('chain').doNothing())
          .executeTakeFirst();
        won = Number(r.numInsertedOrUpdatedRows ?? 0) === 1;
      }
      if (won) {
        this.#chain = chain;
        this.#renewEvery();
        return chain;
      }
    }
    throw new GatehouseError('audit_unavailable', 'no audit chain could be claimed', {
      hint: 'many writers are starting at once; retry',
    });
  }

  #renewEvery(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => void this.#renew(), Math.max(1000, Math.floor(this.#ttlMs / 3)));
    this.#timer.unref();
  }

  async #renew(): Promise<void> {
    const chain = this.#chain;
    if (chain === undefined) return;
    try {
      const r = await this.#store.db
        .updateTable('audit_chains')
        .set({ expires_at: new Date(Date.now() + this.#ttlMs).toISOString() })
        .where('chain', '=', chain)
        .where('holder', '=', this.#holder)
        .executeTakeFirst();
      // Another writer took the chain while this one was paused: claim another for the next batch.
      if (Number(r.numUpdatedRows) === 0 && this.#chain === chain) this.#chain = undefined;
    } catch (e) {
      // Safe to carry on: the unique (chain, chain_seq) index, not the lease, keeps the chain linear.
      log.warn('audit chain lease not renewed', { chain, err: e });
    }
  }
}

/** Every chain name: held or once held (`audit_chains`), and any other found on records. */
export async function listChains(store: Store, opts: { scanRecords?: boolean } = {}): Promise<string[]> {
  const names = new Set<string>();
  const held = (await store.db.selectFrom('audit_chains').select('chain').execute()) as { chain: string }[];
  for (const r of held) names.add(r.chain);
  if (opts.scanRecords) {
    const found = (await store.db
      .selectFrom('audit_log')
      .select('chain')
      .distinct()
      .where('chain', 'is not', null)
      .execute()) as { chain: string }[];
    for (const r of found) names.add(r.chain);
  } else {
    // The legacy chain is never held; it exists when the first record of the log belongs to it.
    const legacy = await store.db
      .selectFrom('audit_log')
      .select('chain')
      .where('chain', '=', 'legacy')
      .limit(1)
      .executeTakeFirst();
    if (legacy) names.add('legacy');
  }
  return [...names].sort(compareChains);
}

/** `legacy` first, then writer chains by number, then any other name. */
export function compareChains(a: string, b: string): number {
  const rank = (c: string): [number, number, string] => {
    if (c === 'legacy') return [0, 0, c];
    const m = WRITER_CHAIN.exec(c);
    return m ? [1, Number(m[1]), c] : [2, 0, c];
  };
  const [x, y] = [rank(a), rank(b)];
  return x[0] - y[0] || x[1] - y[1] || (x[2] < y[2] ? -1 : x[2] > y[2] ? 1 : 0);
}
