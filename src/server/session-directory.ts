/**
 * The console's view of interactive SSH sessions across processes: this process's own session
 * manager, and every other process sharing the store that published a session-control endpoint
 * (session-host.ts) — above all a `gatehouse mcp` a local client started over stdio.
 *
 * Session ids are 144 random bits, so an id names one session in one process; the directory finds
 * which (this process first, then each live host) and remembers it for a while. A host that does
 * not answer in time is left out of the list, never waited on for long.
 */
import type { SessionControl, SessionView } from '../console/index.js';
import { GatehouseError, isErrorCode, log } from '../core/index.js';
import type { Person, SessionInfo, SshSessionManager } from '../ssh/index.js';
import type { InstanceRegistry } from './instances.js';
import { signRequest } from './session-host.js';

/** One call to another process's session host may take this long (events excepted). */
const CALL_TIMEOUT_MS = 3_000;
/** Where a session was found is remembered this long. */
const WHERE_MS = 30_000;

/** SessionControl over this process's manager (none yet: no session was ever opened here). */
export function localSessionControl(mgr: () => SshSessionManager | undefined): SessionControl {
  const gone = () => new GatehouseError('not_found', 'no such open SSH session');
  return {
    list: async () => mgr()?.list() ?? [],
    info: async (id) => mgr()?.info(id),
    view: async (id): Promise<SessionView | undefined> => {
      const m = mgr();
      const info = m?.info(id);
      if (!m || !info) return undefined;
      return { info, holder: m.holder(id), screen: m.screen(id) };
    },
    watch: async (id, changed) => mgr()?.watch(id, changed),
    takeOver: async (id, person) => {
      const m = mgr();
      if (!m) throw gone();
      return m.takeOver(id, person);
    },
    giveBack: async (id, person, note) => {
      const m = mgr();
      if (!m) throw gone();
      return m.giveBack(id, person, note);
    },
    personInput: async (id, holder, data) => {
      const m = mgr();
      if (!m) throw gone();
      m.personInput(id, holder, data);
    },
    terminate: async (id, reason) => mgr()?.terminate(id, reason),
    dismissHandoff: async (id) => mgr()?.dismissHandoff(id) ?? false,
  };
}

/** SessionControl over another process's session host; every request signed for that host. */
export function remoteSessionControl(base: string, hostId: string, key: Buffer): SessionControl {
  const call = async <T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> => {
    const text = body ? JSON.stringify(body) : '';
    const r = await fetch(new URL(path, base), {
      method,
      headers: {
        ...signRequest(key, hostId, method, path, text),
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? text : undefined,
      signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      redirect: 'error',
    });
    const j = (await r.json().catch(() => ({}))) as { error?: { code?: string; message?: string; hint?: string } };
    if (!r.ok) {
      const code = j.error?.code;
      throw new GatehouseError(
        code && isErrorCode(code) ? code : 'internal',
        j.error?.message ?? `the session host answered ${r.status}`,
        j.error?.hint ? { hint: j.error.hint } : {},
      );
    }
    return j as T;
  };
  const at = (id: string, action = '') => `/sessions/${encodeURIComponent(id)}${action ? `/${action}` : ''}`;
  const infoOf = async (id: string) => (await call<{ view: SessionView | null }>('GET', at(id))).view ?? undefined;
  return {
    list: async () => (await call<{ sessions: SessionInfo[] }>('GET', '/sessions')).sessions,
    info: async (id) => (await infoOf(id))?.info,
    view: infoOf,
    watch: async (id, changed) => {
      const stop = new AbortController();
      const r = await fetch(new URL(at(id, 'events'), base), {
        headers: signRequest(key, hostId, 'GET', at(id, 'events'), ''),
        signal: stop.signal,
        redirect: 'error',
      }).catch(() => undefined);
      if (!r?.ok || !r.body) return undefined;
      void (async () => {
        const decoder = new TextDecoder();
        for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
          if (decoder.decode(chunk, { stream: true }).includes('data:')) changed();
        }
        // The host went away or the session closed: one last look tells the watcher which.
        changed();
      })().catch(() => {
        if (!stop.signal.aborted) changed();
      });
      return () => stop.abort();
    },
    takeOver: async (id, person) => (await call<{ info: SessionInfo }>('POST', at(id, 'takeover'), { person })).info,
    giveBack: async (id, person, note) =>
      (await call<{ info: SessionInfo }>('POST', at(id, 'return'), { person, note })).info,
    personInput: async (id, holder, data) => {
      await call('POST', at(id, 'input'), { holder, data });
    },
    terminate: async (id, reason) =>
      (await call<{ info: SessionInfo | null }>('POST', at(id, 'terminate'), { reason })).info ?? undefined,
    dismissHandoff: async (id) => (await call<{ ok: boolean }>('POST', at(id, 'dismiss'), {})).ok,
  };
}

/** This process's sessions and every live host's, as one SessionControl. */
export class SessionDirectory implements SessionControl {
  readonly #local: SessionControl;
  readonly #hosts: () => Promise<InstanceRegistry | undefined>;
  readonly #key: () => Promise<Buffer>;
  readonly #where = new Map<string, { ctl: SessionControl; at: number }>();

  constructor(local: SessionControl, hosts: () => Promise<InstanceRegistry | undefined>, key: () => Promise<Buffer>) {
    this.#local = local;
    this.#hosts = hosts;
    this.#key = key;
  }

  async #remotes(): Promise<{ id: string; ctl: SessionControl }[]> {
    const registry = await this.#hosts();
    if (!registry) return [];
    const key = await this.#key();
    return (await registry.others()).map((h) => ({ id: h.id, ctl: remoteSessionControl(h.url, h.id, key) }));
  }

  /** Which process holds session `id` (undefined: none that answered). */
  async #find(id: string): Promise<SessionControl | undefined> {
    if (await this.#local.info(id)) return this.#local;
    const hit = this.#where.get(id);
    if (hit && Date.now() - hit.at < WHERE_MS) return hit.ctl;
    for (const h of await this.#remotes()) {
      const info = await h.ctl.info(id).catch(() => undefined);
      if (info) {
        this.#where.set(id, { ctl: h.ctl, at: Date.now() });
        while (this.#where.size > 1000) this.#where.delete(this.#where.keys().next().value as string);
        return h.ctl;
      }
    }
    return undefined;
  }

  async #on<T>(id: string, f: (c: SessionControl) => Promise<T>, none: () => T): Promise<T> {
    const ctl = await this.#find(id);
    return ctl ? f(ctl) : none();
  }

  async list(): Promise<SessionInfo[]> {
    const lists = await Promise.all([
      this.#local.list(),
      ...(await this.#remotes()).map((h) =>
        h.ctl.list().catch((e: unknown) => {
          log.warn('a session host did not answer; its sessions are not listed', { host: h.id, err: e });
          return [];
        }),
      ),
    ]);
    return lists.flat();
  }

  info(id: string): Promise<SessionInfo | undefined> {
    return this.#on(
      id,
      (c) => c.info(id),
      () => undefined,
    );
  }
  view(id: string): Promise<SessionView | undefined> {
    return this.#on(
      id,
      (c) => c.view(id),
      () => undefined,
    );
  }
  watch(id: string, changed: () => void): Promise<(() => void) | undefined> {
    return this.#on(
      id,
      (c) => c.watch(id, changed),
      () => undefined,
    );
  }
  takeOver(id: string, person: Person): Promise<SessionInfo> {
    return this.#on(id, (c) => c.takeOver(id, person), notOpen);
  }
  giveBack(id: string, person: Person, note: string): Promise<SessionInfo> {
    return this.#on(id, (c) => c.giveBack(id, person, note), notOpen);
  }
  personInput(id: string, holder: string, data: string): Promise<void> {
    return this.#on(id, (c) => c.personInput(id, holder, data), notOpen);
  }
  terminate(id: string, reason: string): Promise<SessionInfo | undefined> {
    return this.#on(
      id,
      (c) => c.terminate(id, reason),
      () => undefined,
    );
  }
  dismissHandoff(id: string): Promise<boolean> {
    return this.#on(
      id,
      (c) => c.dismissHandoff(id),
      () => false,
    );
  }
}

function notOpen(): never {
  throw new GatehouseError('not_found', 'no such open SSH session');
}
