import { randomBytes } from 'node:crypto';
import { WebStandardStreamableHTTPServerTransport, type AuthInfo } from '@modelcontextprotocol/server';
import { log } from '../core/index.js';
import type { Principal } from '../gate/index.js';
import { buildMcpServer } from './mcp.js';
import { sendUpdated } from './mcp-webhooks.js';
import type { Runtime } from './runtime.js';

/** A session unused this long is closed (its client re-initializes on its next request). */
export const SESSION_IDLE_MS = 30 * 60_000;
/** The most sessions one token may hold open in one process; past it the least recently used closes. */
export const MAX_SESSIONS_PER_TOKEN = 64;
const SWEEP_MS = 60_000;
/** Session ids: `<instance>.<128+ random bits>`; the instance part names the process that holds it. */
const SESSION_ID = /^([a-z0-9]{8,32})\.([A-Za-z0-9_-]{22,64})$/;

interface Session {
  id: string;
  transport: WebStandardStreamableHTTPServerTransport;
  tokenId: string;
  /** The principal of the latest request (grants and revocation are checked on every request). */
  principal: Principal;
  lastUsed: number;
  /** Stops the session's change notifications. */
  unsubscribe(): void;
}

/** What the door answers for one request: a response, or `forward` to the process that holds the session. */
export type SessionAnswer = { response: Response } | { forward: string };

/**
 * The sessionful door for 2025-era clients over Streamable HTTP (issue 18 item 1): an `initialize`
 * opens a session (`Mcp-Session-Id`), its requests and their answers travel on it, `GET /mcp` is its
 * SSE stream and `DELETE /mcp` ends it. On a session, a server->client request (`elicitation/create`
 * for an approval) goes out on the call's own SSE stream and the client's answer comes back on the
 * same session, so a 2025-11-25 host that can show a form is asked in the client, as on stdio.
 *
 * Sessions live in the process that opened them (the SDK's transport holds the pending requests).
 * The id names that process, so with several processes behind a load balancer that is not sticky a
 * request that lands elsewhere is forwarded to its owner (instances.ts); the owner checks the token
 * again.
 *
 * INVARIANTS: a session belongs to the token that opened it; a request with another token's
 * session id is answered as an unknown session (404), never served on it. Every request is
 * authenticated before it reaches here (a revoked token stops at once, session or not). Sessions
 * end when idle for SESSION_IDLE_MS, and a token holds at most MAX_SESSIONS_PER_TOKEN per process.
 */
export class McpSessions {
  readonly #runtime: Runtime;
  readonly #instanceId: string;
  readonly #sessions = new Map<string, Session>();
  readonly #timer: NodeJS.Timeout;
  readonly #idleMs: number;

  constructor(runtime: Runtime, opts: { instanceId: string; idleMs?: number }) {
    this.#runtime = runtime;
    this.#instanceId = opts.instanceId;
    this.#idleMs = opts.idleMs ?? SESSION_IDLE_MS;
    this.#timer = setInterval(() => this.#sweep(), Math.min(SWEEP_MS, this.#idleMs));
    this.#timer.unref();
  }

  /** The instance part of a session id, or undefined when the id is not one Gatehouse issues. */
  static instanceOf(sessionId: string): string | undefined {
    return SESSION_ID.exec(sessionId)?.[1];
  }

  /** Opens a session with an `initialize` request and answers it. */
  async open(request: Request, principal: Principal, client: string, parsedBody: unknown): Promise<Response> {
    this.#limitPerToken(principal.tokenId);
    let session: Session | undefined;
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => `${this.#instanceId}.${randomBytes(24).toString('base64url')}`,
      onsessioninitialized: (id) => {
        // Changes reach the client on the session's GET stream, for the token's latest principal
        // (checked again before each delivery).
        const unsubscribe = this.#runtime.changes.subscribe({
          principal: async () => {
            const p = session?.principal;
            return p && (await this.#runtime.tokens.isActive(p.tokenId)) ? p : undefined;
          },
          deliver: ({ prompts, resources, updated }) => {
            if (prompts) server.sendPromptListChanged().catch(() => undefined);
            if (resources) server.sendResourceListChanged().catch(() => undefined);
            sendUpdated(server, 'legacy', updated);
          },
        });
        session = { id, transport, tokenId: principal.tokenId, principal, lastUsed: Date.now(), unsubscribe };
        this.#sessions.set(id, session);
      },
      onsessionclosed: (id) => void this.#drop(id),
    });
    const server = buildMcpServer(this.#runtime, async () => session?.principal ?? principal, client, {
      transport: 'http',
      era: 'legacy',
      sessionful: true,
    });
    await server.connect(transport);
    const response = await transport.handleRequest(request, { parsedBody, authInfo: authInfo(principal) });
    // An initialize the SDK refused opened nothing: release what was built for it.
    if (!session) await transport.close().catch(() => undefined);
    return response;
  }

  /**
   * A request on a session: served here if this process holds it, forwarded if another does,
   * and answered 404 (the client re-initializes) if the session is unknown, ended, or another token's.
   */
  async serve(
    request: Request,
    principal: Principal,
    sessionId: string,
    parsedBody: unknown,
    forwarded: boolean,
  ): Promise<SessionAnswer> {
    const instance = McpSessions.instanceOf(sessionId);
    if (instance !== undefined && instance !== this.#instanceId && !forwarded) return { forward: instance };
    const s = this.#sessions.get(sessionId);
    if (!s || s.tokenId !== principal.tokenId) return { response: unknownSession() };
    s.principal = principal;
    s.lastUsed = Date.now();
    const response = await s.transport.handleRequest(request, { parsedBody, authInfo: authInfo(principal) });
    if (request.method === 'DELETE') await this.#drop(sessionId);
    return { response };
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    for (const id of [...this.#sessions.keys()]) await this.#drop(id);
  }

  async #drop(id: string): Promise<void> {
    const s = this.#sessions.get(id);
    if (!s) return;
    this.#sessions.delete(id);
    s.unsubscribe();
    await s.transport.close().catch((e: unknown) => log.debug('mcp session close failed', { err: e }));
  }

  #sweep(): void {
    const cutoff = Date.now() - this.#idleMs;
    for (const s of this.#sessions.values()) if (s.lastUsed < cutoff) void this.#drop(s.id);
  }

  #limitPerToken(tokenId: string): void {
    const mine = [...this.#sessions.values()].filter((s) => s.tokenId === tokenId);
    if (mine.length < MAX_SESSIONS_PER_TOKEN) return;
    const oldest = mine.reduce((a, b) => (b.lastUsed < a.lastUsed ? b : a));
    void this.#drop(oldest.id);
  }
}

function authInfo(principal: Principal): AuthInfo {
  return { token: 'redacted', clientId: principal.tokenId, scopes: [], extra: { principal } };
}

/** The protocol's answer for a session that is not (or no longer) there: the client starts a new one. */
export function unknownSession(): Response {
  return new Response(
    JSON.stringify({
      jsonrpc: '2.0',
      error: { code: -32001, message: 'Session not found: initialize a new session' },
      id: null,
    }),
    { status: 404, headers: { 'content-type': 'application/json' } },
  );
}
