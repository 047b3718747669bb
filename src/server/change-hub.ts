import { AsyncLocalStorage } from 'node:async_hooks';
import type { ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';
import { sql } from 'kysely';
import { log } from '../core/index.js';
import { isGranted, wikiAllows, type Principal } from '../gate/index.js';
import { inboxResourceUri } from '../webhooks/index.js';
import { PUBLISHED_SKILLS } from '../knowledge/index.js';
import type { Store } from '../store/index.js';
import { memoryScopes } from '../tools/index.js';

/**
 * Tells connected MCP clients when what they may read changed: `notifications/prompts/list_changed`
 * and `notifications/resources/list_changed` when an org skill is published or deprecated, and the
 * latter when memory in one of the token's scopes, or a page in a wiki namespace it reads, changes
 * (issue 15); and `notifications/resources/updated` for a webhook inbox that got an event, to
 * tokens that may poll that endpoint (issue 16).
 *
 * Changes are found by comparing a small summary of the knowledge table per (kind, scope) (item
 * count and the sum of versions: every change raises it, a purge lowers the count), polled while
 * anyone listens and at once after a change in this process, so a change made by another process
 * (another `serve`, a `gatehouse mcp`, the CLI) reaches every client too.
 *
 * INVARIANTS: a listener is told only about scopes its token reads, decided from the token as the
 * tools decide (a change to another token's memory, a skill draft or a wiki namespace it lacks a
 * grant for tells it nothing, not even that something changed); the token is checked again before each delivery, and a revoked one is told
 * nothing more; notifications carry no content (the client lists again, through the usual checks).
 */
export interface ChangeListener {
  /** The listener's principal now (undefined, or a throw, when its token no longer works). */
  principal(): Promise<Principal | undefined>;
  /** `updated`: resource URIs whose content changed (a webhook inbox that got an event). */
  deliver(change: { prompts: boolean; resources: boolean; updated: readonly string[] }): void;
}

export interface ChangeHubOptions {
  store: Store;
  /** Whether a principal holds a tool (runtime.isToolGranted). */
  granted(p: Principal, tool: string): boolean;
  /** How often to look for changes made elsewhere while anyone listens. */
  pollMs?: number;
}

const DEFAULT_POLL_MS = 2000;

export class ChangeHub {
  readonly #opts: ChangeHubOptions;
  readonly #listeners = new Set<ChangeListener>();
  #summary: Map<string, string> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;

  constructor(opts: ChangeHubOptions) {
    this.#opts = opts;
  }

  /** Adds a listener; returns its removal. Polling runs only while there are listeners. */
  subscribe(l: ChangeListener): () => void {
    this.#listeners.add(l);
    if (!this.#timer && !this.#closed) {
      this.#timer = setInterval(() => this.nudge(), this.#opts.pollMs ?? DEFAULT_POLL_MS);
      this.#timer.unref();
      this.nudge(); // The first look takes the summary that later changes are compared with.
    }
    return () => {
      this.#listeners.delete(l);
      if (this.#listeners.size === 0 && this.#timer) {
        clearInterval(this.#timer);
        this.#timer = undefined;
        this.#summary = undefined;
      }
    };
  }

  /** Looks for changes now (after a change in this process); overlapping calls coalesce. */
  nudge(): void {
    if (this.#closed || this.#listeners.size === 0) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#look()
      .catch((e: unknown) => log.debug('looking for knowledge changes failed', { err: e }))
      .finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.nudge();
        }
      });
  }

  /** Resolves once the look in progress (if any) is done (tests, shutdown). */
  async settled(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.settled();
  }

  async #look(): Promise<void> {
    const rows = (
      await sql<{ kind: string; scope: string; n: number | string; v: number | string | null }>`
        SELECT kind, scope, count(*) AS n, sum(version) AS v FROM knowledge_items GROUP BY kind, scope`.execute(
        this.#opts.store.db,
      )
    ).rows;
    // A webhook endpoint's sequence rises with every event it queues (its inbox changed).
    const hooks = (
      await sql<{ endpoint: string; seq: number | string }>`SELECT endpoint, seq FROM webhook_counters`.execute(
        this.#opts.store.db,
      )
    ).rows;
    const next = new Map(rows.map((r) => [`${r.kind}\u0000${r.scope}`, `${Number(r.n)}:${Number(r.v ?? 0)}`]));
    for (const h of hooks) next.set(`webhook\u0000${h.endpoint}`, String(Number(h.seq)));
    const before = this.#summary;
    this.#summary = next;
    if (!before) return;
    const changed = new Set<string>();
    for (const [k, v] of next) if (before.get(k) !== v) changed.add(k);
    for (const k of before.keys()) if (!next.has(k)) changed.add(k);
    if (changed.size === 0) return;
    const places = [...changed].map((k) => {
      const [kind, scope] = k.split('\u0000') as [string, string];
      return { kind, scope };
    });
    await Promise.all([...this.#listeners].map((l) => this.#tell(l, places)));
  }

  async #tell(l: ChangeListener, places: { kind: string; scope: string }[]): Promise<void> {
    const p = await l.principal().catch(() => undefined);
    if (!p) return;
    let prompts = false;
    let resources = false;
    const updated: string[] = [];
    for (const { kind, scope } of places) {
      if (kind === 'webhook' && this.#opts.granted(p, 'webhook_poll') && isGranted(p.grants, 'webhook', scope))
        updated.push(inboxResourceUri(scope));
      if (kind === 'skill' && scope === PUBLISHED_SKILLS && this.#opts.granted(p, 'org_skill_read')) {
        prompts = true;
        resources = true;
      }
      if (
        kind === 'memory' &&
        (this.#opts.granted(p, 'memory_read') || this.#opts.granted(p, 'memory')) &&
        memoryScopes(p).some((s) => s.scope === scope)
      )
        resources = true;
      if (
        kind === 'wiki' &&
        scope.startsWith('ns:') &&
        this.#opts.granted(p, 'wiki_read_page') &&
        wikiAllows(p.grants, scope.slice(3), 'read')
      )
        resources = true;
    }
    if (prompts || resources || updated.length > 0) {
      try {
        l.deliver({ prompts, resources, updated });
      } catch (e) {
        log.debug('a change notification could not be delivered', { err: e });
      }
    }
  }
}

/**
 * The event bus of the Streamable HTTP handler's `subscriptions/listen` streams (2026-07-28), per
 * token: the SDK's own bus would hand every event to every stream, whoever's it is. A stream
 * subscribes inside the request that opened it (`run`), so its principal is known; a subscription
 * made outside one is given nothing (fails closed). Events come only from the hub, per listener;
 * `publish` (the SDK's broadcast) is refused.
 */
export class PrincipalEventBus implements ServerEventBus {
  readonly #als = new AsyncLocalStorage<() => Promise<Principal | undefined>>();
  constructor(private readonly hub: ChangeHub) {}

  /** Runs a request with its principal, so a listen stream it opens is that principal's. */
  run<T>(principal: () => Promise<Principal | undefined>, fn: () => T): T {
    return this.#als.run(principal, fn);
  }

  subscribe(listener: (event: ServerEvent) => void): () => void {
    const principal = this.#als.getStore();
    if (!principal) {
      log.warn('a subscriptions/listen stream opened outside a request; it will get no events');
      return () => undefined;
    }
    return this.hub.subscribe({
      principal,
      deliver: ({ prompts, resources, updated }) => {
        if (prompts) listener({ kind: 'prompts_list_changed' });
        if (resources) listener({ kind: 'resources_list_changed' });
        for (const uri of updated) listener({ kind: 'resource_updated', uri });
      },
    });
  }

  publish(): void {
    // Never broadcast across tokens: every event is for one listener (see the class comment).
  }
}
