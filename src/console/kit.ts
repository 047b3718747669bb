import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ApprovalService } from '../approvals/index.js';
import type { ApproveAccessPorts } from '../access/index.js';
import type { AuditEntry } from '../audit/index.js';
import type { ClientRegistry, EnrollmentTokens } from '../gate/index.js';
import {
  cutText,
  GatehouseError,
  httpStatusOf,
  log,
  toGatehouseError,
  TokenBuckets,
  truncateText,
} from '../core/index.js';
import { readWhole } from '../upstream/light.js';
import { type Html } from './html.js';
import { cookieValues, newNonce, ownOrigin, sameOrigin, securityHeaders } from './http-checks.js';
import { errorPage, type PageSession } from './pages.js';
import type { InventoryPorts } from './inventory-routes.js';
import type { KnowledgePorts } from './knowledge-routes.js';
import type { WebhookPorts } from './webhook-routes.js';
import { Passkeys, relyingParty, type PasskeyPurpose } from './passkeys.js';
import type { SessionControlPorts } from './session-routes.js';
import type { TokenAdminPorts } from './token-routes.js';
import { ConsoleSessions, type ConsoleSession, type SessionPorts } from './sessions.js';

/** What the console needs of the process (a booted `Runtime` with its approvals has all of it). */
export interface ConsolePorts extends SessionPorts, InventoryPorts, SessionControlPorts, KnowledgePorts, WebhookPorts {
  tokens: SessionPorts['tokens'] & EnrollmentTokens & TokenAdminPorts;
  clients: Pick<ClientRegistry, 'lastSeen'>;
  audit: { append(entry: AuditEntry): Promise<unknown> };
  /** Access requests and what approving one needs. */
  accessPorts(): Promise<ApproveAccessPorts>;
  approvals: ApprovalService;
}

export interface ConsoleOptions {
  /**
   * The console's public origin behind a proxy that terminates TLS (`console.public_origin`, e.g.
   * `https://gatehouse.example.com`): requests with exactly that Host are the console at that
   * origin (cookies `Secure`, passkeys for that name). Loopback names keep working either way.
   */
  publicOrigin?: string;
  /** Clock (tests). */
  now?: () => number;
  /**
   * Longest life of one live stream before the server ends it and the browser reconnects with the
   * last event id it saw (default 5 minutes). Streams are re-checked against their session before
   * every event either way; a bound keeps a forgotten tab from holding a connection forever.
   */
  streamMaxMs?: number;
  /** How often live streams look for changes made by any process (default 1 s). */
  pollMs?: number;
  /**
   * Approvals (and passkey changes) need a passkey even when the table holds none: set from the
   * configuration (`console.require_passkeys`), so a database writer who deletes every passkey row
   * does not turn the requirement off.
   */
  requirePasskeys?: boolean;
}

/**
 * A public origin the console may answer at: https, a host name, no path. Plain http only for a
 * loopback name (a cookie and a passkey over a cleartext network would be worth little).
 */
export function checkPublicOrigin(text: string): URL {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new GatehouseError('config_invalid', `console.public_origin ${JSON.stringify(text)} is not a URL`);
  }
  const loopback = u.hostname === 'localhost' || u.hostname.endsWith('.localhost');
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopback))
    throw new GatehouseError(
      'config_invalid',
      'console.public_origin must be https:// (behind a proxy that terminates TLS)',
    );
  if ((u.pathname !== '/' && u.pathname !== '') || u.search || u.hash || u.username || u.password)
    throw new GatehouseError(
      'config_invalid',
      'console.public_origin is an origin only: scheme, host and port, no path',
    );
  if (/^[\d.]+$/.test(u.hostname) || u.hostname.startsWith('['))
    throw new GatehouseError(
      'config_invalid',
      'console.public_origin needs a host name, not an IP address (passkeys need a name)',
    );
  return u;
}

/** How a route is checked beyond the defaults. */
export interface RouteChecks {
  /** Whether this request counts as the person's activity (false for live streams: an open tab is not a person). */
  touch?: boolean;
  /**
   * Only for requests the browser says came from the console's own pages (`Sec-Fetch-Site:
   * same-origin`, or none at all from a non-browser client): for GETs that do work or are audited
   * (export, a record's payloads, live streams), which a link or image on another localhost page
   * must not be able to start.
   */
  sameOriginOnly?: boolean;
}

/** Live streams one session may hold open, and the process in all. */
const STREAMS_PER_SESSION = 8;
const STREAMS_TOTAL = 256;
/** Refusals audited per client per minute (past it they are counted in the log, not each recorded). */
const REFUSAL_AUDIT_RATE = { perSecond: 1, burst: 30 };

/** The part of the server's route context the console reads. */
export interface ConsoleRouteContext {
  params: Readonly<Record<string, string>>;
  url: URL;
  client: string;
}

/**
 * A console route in the server's route shape (src/server/route.ts `Route<'sender'>`), declared
 * structurally: the console cannot import the server module (the server mounts the console, and
 * module folders form no circle: test/structure/imports.test.ts), so src/server/routes/all.ts
 * checks the shape where it mounts them.
 *
 * Why `auth: 'sender'`: the server's route kinds authenticate a Bearer token, and the console
 * authenticates a session cookie instead. `sender` makes the server authenticate nothing and pass
 * no principal; `ConsoleKit.route` then checks, in this order, the Host, the Origin of a POST,
 * the session cookie and the CSRF token, before any handler runs. A Bearer token on a console
 * request is ignored (never a way in), and agent routes never read the console cookie.
 */
export interface ConsoleRoute {
  method: 'GET' | 'POST';
  path: string;
  auth: 'sender';
  /** The console checks Origin itself (see ConsoleKit.route), so the server's global check leaves it be. */
  ownOrigin: true;
  handler(req: IncomingMessage, res: ServerResponse, ctx: ConsoleRouteContext): Promise<void>;
  /** A WebSocket upgrade of a GET to this path (ConsoleKit.upgradeRoute). */
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer, ctx: ConsoleRouteContext): Promise<void>;
}

/** A WebSocket upgrade request that passed the console's checks (see ConsoleKit.upgradeRoute). */
export interface UpgradeCall {
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  ctx: ConsoleRouteContext;
  origin: string;
  session: ConsoleSession;
}

/** Answers an upgrade request that failed a check, and closes the connection. */
export function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  const body = `${text}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

/** Largest form body read (a deny reason is at most 2000 characters). */
const MAX_FORM_BYTES = 16 * 1024;

/** One console request as a handler sees it, after the checks. */
export interface Call {
  req: IncomingMessage;
  res: ServerResponse;
  ctx: ConsoleRouteContext;
  nonce: string;
  origin: string;
  /** The live session; set on every route that needs one. */
  session: ConsoleSession | null;
  page: PageSession | undefined;
  /** The form fields of a POST (read once, bounded). */
  form: URLSearchParams;
}

export function send(
  res: ServerResponse,
  status: number,
  nonce: string,
  body: Html,
  extra: Record<string, string> = {},
) {
  const text = body.toString();
  res.writeHead(status, {
    ...securityHeaders(nonce),
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...extra,
  });
  res.end(text);
}

/** A JSON answer (the few routes the pages' scripts call), with the console's headers. */
export function sendJson(res: ServerResponse, status: number, nonce: string, body: unknown) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...securityHeaders(nonce),
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

export function redirect(res: ServerResponse, nonce: string, to: string, extra: Record<string, string> = {}) {
  res.writeHead(303, { ...securityHeaders(nonce), location: to, 'content-length': '0', ...extra });
  res.end();
}

async function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded')
    throw new GatehouseError('invalid_input', 'console forms are sent as application/x-www-form-urlencoded');
  const bytes = await readWhole(req, MAX_FORM_BYTES, {
    tooLarge: (limit) => new GatehouseError('input_too_large', `the form is over the ${limit}-byte limit`),
  });
  return new URLSearchParams(bytes.toString('utf8'));
}

/** The console's shared machinery: the checked route wrapper, its sessions and its audit records. */
export class ConsoleKit {
  readonly rt: ConsolePorts;
  readonly opts: ConsoleOptions;
  readonly now: () => number;
  #opened: Promise<ConsoleSessions> | undefined;
  #passkeys: Promise<Passkeys> | undefined;
  readonly #streams = new Map<string, number>();
  #streamsTotal = 0;
  readonly #refusals = new TokenBuckets();
  #refusalsDropped = 0;

  readonly #publicOrigin: URL | undefined;

  constructor(rt: ConsolePorts, opts: ConsoleOptions) {
    this.rt = rt;
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.#publicOrigin = opts.publicOrigin ? checkPublicOrigin(opts.publicOrigin) : undefined;
  }

  /** The session store, opened once (its keys come from the keyring); a failed open is tried again. */
  sessions(): Promise<ConsoleSessions> {
    return (this.#opened ??= ConsoleSessions.open(this.rt, { now: this.now }).catch((e: unknown) => {
      this.#opened = undefined;
      throw e;
    }));
  }

  /** The console's passkeys, opened once (a failed open is tried again). */
  passkeys(): Promise<Passkeys> {
    return (this.#passkeys ??= Passkeys.open(this.rt, { now: this.now }).catch((e: unknown) => {
      this.#passkeys = undefined;
      throw e;
    }));
  }

  /** Whether decisions need a passkey now: one is registered (any row, fail closed), or the configuration says so. */
  async passkeysRequired(): Promise<boolean> {
    return this.opts.requirePasskeys === true || (await (await this.passkeys()).required());
  }

  /**
   * Counts a live stream for its session; null when the session or the process holds too many
   * (the caller answers 429). The returned function gives the place back.
   */
  holdStream(idHash: string): (() => void) | null {
    const mine = this.#streams.get(idHash) ?? 0;
    if (mine >= STREAMS_PER_SESSION || this.#streamsTotal >= STREAMS_TOTAL) return null;
    this.#streams.set(idHash, mine + 1);
    this.#streamsTotal++;
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.#streamsTotal--;
      const n = (this.#streams.get(idHash) ?? 1) - 1;
      if (n <= 0) this.#streams.delete(idHash);
      else this.#streams.set(idHash, n);
    };
  }

  /**
   * Audits a refusal, at most REFUSAL_AUDIT_RATE per client: anyone who can reach the port can
   * send refused requests, and each must not become a record (a flood would bury real ones).
   * Past the rate a refusal is counted and the count logged.
   */
  async auditRefusal(
    c: Pick<Call, 'ctx' | 'session'>,
    outcome: string,
    detail: Record<string, unknown>,
  ): Promise<void> {
    if (this.#refusals.take(c.ctx.client, REFUSAL_AUDIT_RATE) > 0) {
      if (++this.#refusalsDropped % 100 === 1)
        log.warn('console: refusals over the audit rate are counted, not recorded', {
          client: c.ctx.client,
          dropped: this.#refusalsDropped,
        });
      return;
    }
    await this.audit(c, outcome, detail);
  }

  /** Records a console action (every login, decision and refusal) in the audit log. */
  audit(c: Pick<Call, 'ctx' | 'session'>, outcome: string, detail: Record<string, unknown> = {}): Promise<unknown> {
    return this.rt.audit.append({
      phase: 'event',
      tool: 'console',
      tokenId: c.session?.tokenId ?? (typeof detail.tokenId === 'string' ? detail.tokenId : undefined),
      approver: c.session ? `console:${c.session.label}` : undefined,
      outcome,
      client: c.ctx.client,
      detail: { ...detail, ...(c.session ? { session: cutText(c.session.idHash, 12) } : {}) },
    });
  }

  /**
   * The passkey check of a decision that matters (`purpose`, bound to `binding`, both computed by
   * the caller): null when it passed or none is needed, `{ passkey }` naming the one used, or the
   * URL to send the person back to (`back?n=…`) when it failed.
   */
  async passkeyGate(
    c: Call,
    purpose: Exclude<PasskeyPurpose, 'register' | 'approve' | 'add-passkey' | 'remove-passkey'>,
    binding: string,
    back: string,
  ): Promise<{ passkey: string } | string | null> {
    if (!c.page!.passkeys) return null;
    const rp = relyingParty(c.origin);
    if (!rp) return `${back}?n=passkey-host`;
    try {
      const used = await (
        await this.passkeys()
      ).verify(rp, purpose, binding, c.session!.idHash, c.form.get('assertion') ?? '');
      return { passkey: `${used.label} (${used.fingerprint})` };
    } catch (e) {
      if (toGatehouseError(e).code !== 'approval_invalid') throw e;
      return `${back}?n=passkey-failed`;
    }
  }

  /**
   * A console route that takes a WebSocket upgrade. INVARIANTS, in order, before `handle` runs:
   * 1. the Host is one the console answers to (else 421);
   * 2. the Origin is exactly the console's own (else 403, audited): browsers send Origin on every
   *    WebSocket handshake, and a page on another localhost port shares the session cookie (same
   *    site), so this is what keeps it out;
   * 3. a live session cookie (else 401).
   * The handler then checks what it needs besides (the terminal's one-time ticket). A plain GET to
   * the path is answered 426.
   */
  upgradeRoute(path: string, handle: (u: UpgradeCall) => Promise<void>): ConsoleRoute {
    const plain = this.route('GET', path, true, async (c) => {
      send(c.res, 426, c.nonce, errorPage(c.nonce, 426, 'This address takes a WebSocket only.', c.page), {
        upgrade: 'websocket',
      });
    });
    return {
      ...plain,
      upgrade: async (req, socket, head, ctx) => {
        const origin = ownOrigin(req, this.#publicOrigin);
        if (origin === null) return refuseUpgrade(socket, 421, 'Misdirected Request');
        if (!sameOrigin(req, origin)) {
          await this.auditRefusal({ ctx, session: null }, 'refused:origin', {
            path: ctx.url.pathname,
            origin: truncateText(req.headers.origin ?? '(none)', 200),
          });
          return refuseUpgrade(socket, 403, 'Forbidden');
        }
        const session = await (await this.sessions()).current(cookieValues(req));
        if (!session) return refuseUpgrade(socket, 401, 'Unauthorized');
        await handle({ req, socket, head, ctx, origin, session });
      },
    };
  }

  /**
   * Wraps a handler with the console's checks. INVARIANTS, in order, before the handler runs:
   * 1. the Host is one the console answers to (else 421: DNS rebinding);
   * 2. a POST's Origin is exactly the console's own origin (else 403, nothing read or decided);
   * 3. `needsSession`: a live session cookie (else a GET goes to the login page, a POST is 401);
   * 4. a POST with a session carries that session's CSRF token (else 403).
   * Every answer, refusals included, carries the security headers and a fresh CSP nonce.
   */
  route(
    method: 'GET' | 'POST',
    path: string,
    needsSession: boolean,
    handle: (c: Call) => Promise<void>,
    checks: RouteChecks = {},
  ): ConsoleRoute {
    return {
      method,
      path,
      auth: 'sender',
      ownOrigin: true,
      handler: async (req, res, ctx) => {
        const nonce = newNonce();
        const origin = ownOrigin(req, this.#publicOrigin);
        if (origin === null)
          return send(res, 421, nonce, errorPage(nonce, 421, 'This console answers only at its own address.'));
        const c: Call = { req, res, ctx, nonce, origin, session: null, page: undefined, form: new URLSearchParams() };
        try {
          // INVARIANT (cross-origin GETs): another localhost page shares the cookie (same site),
          // so a GET the browser says it did not start from the console's own pages is refused
          // before the session is read, unless it is a top-level navigation to a page (a link); a
          // route that does work or is audited refuses navigations from elsewhere too.
          const site = req.headers['sec-fetch-site'];
          if (method === 'GET' && typeof site === 'string' && site !== 'same-origin' && site !== 'none') {
            if (checks.sameOriginOnly || req.headers['sec-fetch-mode'] !== 'navigate')
              return send(res, 403, nonce, errorPage(nonce, 403, 'Open this from the console itself.'));
          }
          if (method === 'POST' && !sameOrigin(req, origin)) {
            await this.auditRefusal(c, 'refused:origin', {
              path: ctx.url.pathname,
              origin: truncateText(req.headers.origin ?? '(none)', 200),
            });
            return send(res, 403, nonce, errorPage(nonce, 403, 'This form did not come from this console.'));
          }
          const s = await this.sessions();
          if (needsSession) {
            c.session = await s.current(cookieValues(req), { touch: checks.touch ?? true });
            if (!c.session) {
              if (method === 'GET') return redirect(res, nonce, '/console/login');
              return send(res, 401, nonce, errorPage(nonce, 401, 'Your session has ended. Log in again.'));
            }
            c.page = {
              label: c.session.label,
              csrf: s.csrfToken(c.session),
              passkeys: await this.passkeysRequired(),
            };
          }
          if (method === 'POST') {
            c.form = await readForm(req);
            if (c.session && !s.csrfValid(c.session, c.form.get('csrf'))) {
              await this.auditRefusal(c, 'refused:csrf', { path: ctx.url.pathname });
              return send(res, 403, nonce, errorPage(nonce, 403, 'This form is stale or forged. Reload the page.'));
            }
          }
          await handle(c);
        } catch (e) {
          const err = toGatehouseError(e);
          if (err.code === 'internal') log.error('console request failed', { err: e, path: ctx.url.pathname });
          const status = httpStatusOf(err.code);
          if (res.headersSent) return void res.destroy();
          send(res, status, nonce, errorPage(nonce, status, err.message, c.page));
        }
      },
    };
  }
}
