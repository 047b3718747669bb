import { randomBytes } from 'node:crypto';
import { log, rowMac, rowMacValid } from '../core/index.js';
import type { Store } from '../store/index.js';

/** Where processes are listed, and the signature kind of their rows. */
export interface RegistryTable {
  table: 'mcp_instances' | 'session_hosts';
  kind: string;
}

/** The `gatehouse serve` processes' MCP doors (the default). */
export const MCP_INSTANCES: RegistryTable = { table: 'mcp_instances', kind: 'mcp-instance/v1' };
/** Every process holding interactive SSH sessions, with its loopback session-control URL (session-host.ts). */
export const SESSION_HOSTS: RegistryTable = { table: 'session_hosts', kind: 'session-host/v1' };
/** How often a process says it is still here; a row older than STALE_MS is not forwarded to. */
const HEARTBEAT_MS = 20_000;
const STALE_MS = 90_000;
/** How long a looked-up URL is reused before it is read again. */
const CACHE_MS = 5_000;

/** This process's id in session ids and the registry: 16 lowercase hex characters. */
export function newInstanceId(): string {
  return randomBytes(8).toString('hex');
}

/**
 * Where each `gatehouse serve` sharing the store can be reached by the others (`mcp_instances`),
 * so a request for a session another process holds is forwarded there (mcp-sessions.ts).
 *
 * INVARIANT: a URL is used only if its row's signature (store integrity key) verifies for exactly
 * that id and URL, and only while the row is fresh: a forwarded request carries the agent's bearer
 * token, so where it goes must have been written by a process that holds the master key.
 */
export class InstanceRegistry {
  readonly #store: Store;
  readonly #key: Buffer;
  readonly #cache = new Map<string, { url: string | undefined; at: number }>();
  readonly #t: RegistryTable;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    store: Store,
    integrityKey: Buffer,
    readonly id: string,
    readonly url: string,
    table: RegistryTable = MCP_INSTANCES,
  ) {
    this.#store = store;
    this.#key = integrityKey;
    this.#t = table;
  }

  /** Writes this process's row, and keeps it fresh until `close`. */
  async register(): Promise<void> {
    await this.#beat();
    this.#timer = setInterval(
      () => void this.#beat().catch((e: unknown) => log.warn('instance heartbeat failed', { err: e })),
      HEARTBEAT_MS,
    );
    this.#timer.unref();
  }

  async #beat(): Promise<void> {
    const seen = new Date().toISOString();
    // The time is signed too: a database writer cannot keep a dead process's row looking alive.
    const row = {
      id: this.id,
      url: this.url,
      seen_at: seen,
      mac: rowMac(this.#key, this.#t.kind, [this.id, this.url, seen]),
    };
    await this.#store.db
      .insertInto(this.#t.table)
      .values(row)
      .onConflict((oc) => oc.column('id').doUpdateSet({ url: row.url, seen_at: row.seen_at, mac: row.mac }))
      .execute();
  }

  /** The URL of a live process by id, or undefined (unknown, stale, or a row that does not verify). */
  async urlOf(id: string): Promise<string | undefined> {
    const hit = this.#cache.get(id);
    if (hit && Date.now() - hit.at < CACHE_MS) return hit.url;
    const r = (await this.#store.db
      .selectFrom(this.#t.table)
      .select(['url', 'seen_at', 'mac'])
      .where('id', '=', id)
      .executeTakeFirst()) as { url: string; seen_at: string; mac: string } | undefined;
    const url = r && this.#usable({ id, ...r }) ? r.url : undefined;
    this.#cache.set(id, { url, at: Date.now() });
    return url;
  }

  /** Every other live process whose row verifies. */
  async others(): Promise<{ id: string; url: string }[]> {
    const rows = (await this.#store.db.selectFrom(this.#t.table).select(['id', 'url', 'seen_at', 'mac']).execute()) as {
      id: string;
      url: string;
      seen_at: string;
      mac: string;
    }[];
    return rows.filter((r) => r.id !== this.id && this.#usable(r)).map((r) => ({ id: r.id, url: r.url }));
  }

  #usable(r: { id: string; url: string; seen_at: string; mac: string }): boolean {
    if (Date.now() - Date.parse(r.seen_at) >= STALE_MS) return false;
    if (rowMacValid(this.#key, this.#t.kind, [r.id, r.url, r.seen_at], r.mac)) return true;
    log.warn(`a ${this.#t.table} row does not verify: not using it`, { instance: r.id });
    return false;
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#store.db
      .deleteFrom(this.#t.table)
      .where('id', '=', this.id)
      .execute()
      .catch(() => undefined);
  }
}
