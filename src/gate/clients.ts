import { log, truncateText } from '../core/index.js';
import { nowIso, type Store } from '../store/index.js';
import type { Principal } from './tokens.js';

/** An MCP client as it identified itself (initialize, or the per-request envelope). */
export interface ClientIdentity {
  name: string;
  version: string;
  /** The protocol revision the exchange speaks (`2025-11-25`, `2026-07-28`). */
  protocol: string;
  transport: 'stdio' | 'http';
}

export interface SeenClient extends ClientIdentity {
  seenAt: string;
}

/** Client-reported text is shown to operators: kept short (it is scrubbed again on the way to the audit log). */
function clean(c: ClientIdentity): ClientIdentity {
  return {
    name: truncateText(c.name || 'unknown', 100),
    version: truncateText(c.version || 'unknown', 50),
    protocol: truncateText(c.protocol || 'unknown', 40),
    transport: c.transport,
  };
}

const keyOf = (c: ClientIdentity) => `${c.name}\u0000${c.version}\u0000${c.protocol}\u0000${c.transport}`;

/**
 * Which client each token was last used from (issue 18 item 5). A process remembers the last
 * identity it saw per token and acts only when it changes: then it logs it at info level, audits it
 * (`client_identified`) and stores it for `token list` and `discover`. Per request the cost is one
 * map lookup and a string compare.
 *
 * The record is written in the background: it is information, not the action's audit (each call
 * has its own attempt record, durable before it runs), so no answer waits for it — the first
 * `tools/list` of every `gatehouse mcp` start used to wait for this write and its disk flush.
 * `settled()` waits for the writes still running (the runtime calls it before closing the store).
 */
export class ClientRegistry {
  readonly #store: Store;
  readonly #audit: (principal: Principal, detail: Record<string, unknown>) => Promise<void>;
  readonly #last = new Map<string, { key: string; client: ClientIdentity }>();
  readonly #pending = new Set<Promise<void>>();

  constructor(store: Store, audit: (principal: Principal, detail: Record<string, unknown>) => Promise<void>) {
    this.#store = store;
    this.#audit = audit;
  }

  /** Notes the client behind a request; a change is recorded in the background (never fails). */
  seen(principal: Principal, client: ClientIdentity): void {
    const c = clean(client);
    const key = keyOf(c);
    if (this.#last.get(principal.tokenId)?.key === key) return;
    this.#last.set(principal.tokenId, { key, client: c });
    log.info('mcp client', { token: principal.tokenName, ...c });
    const p: Promise<void> = this.#record(principal, c).finally(() => this.#pending.delete(p));
    this.#pending.add(p);
  }

  /** Resolves once every change noted so far is recorded (or has failed and been logged). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  async #record(principal: Principal, c: ClientIdentity): Promise<void> {
    const seenAt = nowIso();
    try {
      await this.#audit(principal, { client: c });
      await this.#store.db
        .insertInto('token_clients')
        .values({ token_id: principal.tokenId, ...c, seen_at: seenAt })
        .onConflict((oc) => oc.column('token_id').doUpdateSet({ ...c, seen_at: seenAt }))
        .execute();
    } catch (e) {
      // Informational: a failure to record it must not fail the call (the call is audited itself).
      this.#last.delete(principal.tokenId);
      log.warn('could not record the mcp client', { err: e });
    }
  }

  /**
   * The client a token was last seen from, for a request that does not say (a 2025-era client on
   * the stateless HTTP door identified itself only in its `initialize`): this process's memory,
   * else the store (another process may have served the `initialize`).
   */
  async known(principal: Principal): Promise<ClientIdentity | undefined> {
    const mine = this.#last.get(principal.tokenId)?.client;
    if (mine) return mine;
    const stored = (await this.lastSeen([principal.tokenId]).catch(() => undefined))?.get(principal.tokenId);
    if (!stored) return undefined;
    const { seenAt: _seenAt, ...client } = stored;
    // Kept like one this process saw: the store is read once per token, not on every call.
    this.#last.set(principal.tokenId, { key: keyOf(client), client });
    return client;
  }

  /** The last client recorded for each of these tokens (all tokens when none are named). */
  async lastSeen(tokenIds?: readonly string[]): Promise<Map<string, SeenClient>> {
    let q = this.#store.db.selectFrom('token_clients').selectAll();
    if (tokenIds) {
      if (tokenIds.length === 0) return new Map();
      q = q.where('token_id', 'in', [...tokenIds]);
    }
    const rows = (await q.execute()) as {
      token_id: string;
      name: string;
      version: string;
      protocol: string;
      transport: string;
      seen_at: string;
    }[];
    return new Map(
      rows.map((r) => [
        r.token_id,
        {
          name: r.name,
          version: r.version,
          protocol: r.protocol,
          transport: r.transport === 'http' ? 'http' : 'stdio',
          seenAt: r.seen_at,
        },
      ]),
    );
  }
}

/** One line for people: `claude-code 2.1.197 (2025-11-25, stdio, 2026-12-06T…)`. */
export function describeClient(c: SeenClient): string {
  return `${c.name} ${c.version} (${c.protocol}, ${c.transport}, last seen ${c.seenAt})`;
}
