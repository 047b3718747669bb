import type { IncomingMessage, ServerResponse } from 'node:http';
import { isApprovalId, type ApprovalService } from '../approvals/index.js';
import type { AuditEntry } from '../audit/index.js';
import { cutText, GatehouseError, httpStatusOf, log, toGatehouseError, truncateText } from '../core/index.js';
import { readWhole } from '../upstream/light.js';
import { type Html } from './html.js';
import {
  clearedCookie,
  cookieValues,
  isHttps,
  newNonce,
  ownOrigin,
  sameOrigin,
  securityHeaders,
  sessionCookie,
} from './http-checks.js';
import { approvalPage, errorPage, inboxPage, loginPage, NOTICES, type PageSession } from './pages.js';
import { ConsoleSessions, SESSION_MAX_MS, type ConsoleSession, type SessionPorts } from './sessions.js';

/** What the console needs of the process (a booted `Runtime` with its approvals has all of it). */
export interface ConsolePorts extends SessionPorts {
  audit: { append(entry: AuditEntry): Promise<unknown> };
  approvals: ApprovalService;
}

export interface ConsoleOptions {
  /** Host names besides the loopback ones the console answers to (none until the config has a key for it). */
  extraHosts?: readonly string[];
  /** Clock (tests). */
  now?: () => number;
}

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
 * no principal; `consoleRoute` below then checks, in this order, the Host, the Origin of a POST,
 * the session cookie and the CSRF token, before any handler runs. A Bearer token on a console
 * request is ignored (never a way in), and agent routes never read the console cookie.
 */
export interface ConsoleRoute {
  method: 'GET' | 'POST';
  path: string;
  auth: 'sender';
  /** The console checks Origin itself (see consoleRoute), so the server's global check leaves it be. */
  ownOrigin: true;
  handler(req: IncomingMessage, res: ServerResponse, ctx: ConsoleRouteContext): Promise<void>;
}

/** Largest form body read (a deny reason is at most 2000 characters). */
const MAX_FORM_BYTES = 16 * 1024;
const MAX_REASON = 2000;

interface Call {
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

function send(res: ServerResponse, status: number, nonce: string, body: Html, extra: Record<string, string> = {}) {
  const text = body.toString();
  res.writeHead(status, {
    ...securityHeaders(nonce),
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(Buffer.byteLength(text)),
    ...extra,
  });
  res.end(text);
}

function redirect(res: ServerResponse, nonce: string, to: string, extra: Record<string, string> = {}) {
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

/** The console's routes: login, logout and the approvals inbox (issue 17, first step). */
export function consoleRoutes(rt: ConsolePorts, opts: ConsoleOptions = {}): ConsoleRoute[] {
  const now = opts.now ?? Date.now;
  let opened: Promise<ConsoleSessions> | undefined;
  const sessions = () =>
    (opened ??= ConsoleSessions.open(rt, { now }).catch((e: unknown) => {
      opened = undefined;
      throw e;
    }));

  const audit = (c: Pick<Call, 'ctx' | 'session'>, outcome: string, detail: Record<string, unknown> = {}) =>
    rt.audit.append({
      phase: 'event',
      tool: 'console',
      tokenId: c.session?.tokenId ?? (typeof detail.tokenId === 'string' ? detail.tokenId : undefined),
      approver: c.session ? `console:${c.session.label}` : undefined,
      outcome,
      client: c.ctx.client,
      detail: { ...detail, ...(c.session ? { session: cutText(c.session.idHash, 12) } : {}) },
    });

  /**
   * Wraps a handler with the console's checks. INVARIANTS, in order, before the handler runs:
   * 1. the Host is one the console answers to (else 421: DNS rebinding);
   * 2. a POST's Origin is exactly the console's own origin (else 403, nothing read or decided);
   * 3. `session: true`: a live session cookie (else a GET goes to the login page, a POST is 401);
   * 4. a POST with a session carries that session's CSRF token (else 403).
   * Every answer, refusals included, carries the security headers and a fresh CSP nonce.
   */
  function consoleRoute(
    method: 'GET' | 'POST',
    path: string,
    needsSession: boolean,
    handle: (c: Call) => Promise<void>,
  ): ConsoleRoute {
    return {
      method,
      path,
      auth: 'sender',
      ownOrigin: true,
      handler: async (req, res, ctx) => {
        const nonce = newNonce();
        const origin = ownOrigin(req, opts.extraHosts);
        if (origin === null)
          return send(res, 421, nonce, errorPage(nonce, 421, 'This console answers only at its own address.'));
        const c: Call = { req, res, ctx, nonce, origin, session: null, page: undefined, form: new URLSearchParams() };
        try {
          if (method === 'POST' && !sameOrigin(req, origin)) {
            await audit(c, 'refused:origin', {
              path: ctx.url.pathname,
              origin: truncateText(req.headers.origin ?? '(none)', 200),
            });
            return send(res, 403, nonce, errorPage(nonce, 403, 'This form did not come from this console.'));
          }
          const s = await sessions();
          if (needsSession) {
            c.session = await s.current(cookieValues(req));
            if (!c.session) {
              if (method === 'GET') return redirect(res, nonce, '/console/login');
              return send(res, 401, nonce, errorPage(nonce, 401, 'Your session has ended. Log in again.'));
            }
            c.page = { label: c.session.label, csrf: s.csrfToken(c.session) };
          }
          if (method === 'POST') {
            c.form = await readForm(req);
            if (c.session && !s.csrfValid(c.session, c.form.get('csrf'))) {
              await audit(c, 'refused:csrf', { path: ctx.url.pathname });
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

  const noticeOf = (url: URL): string | null => {
    const n = url.searchParams.get('n');
    return n !== null && Object.hasOwn(NOTICES, n) ? n : null;
  };

  const loginPageRoute = consoleRoute('GET', '/console/login', false, async (c) => {
    send(c.res, 200, c.nonce, loginPage(c.nonce, { notice: noticeOf(c.ctx.url) }));
  });

  const login = consoleRoute('POST', '/console/login', false, async (c) => {
    const s = await sessions();
    const code = c.form.get('code');
    const token = c.form.get('token');
    const via = code !== null && code !== '' ? 'code' : 'token';
    const result =
      via === 'code'
        ? await s.loginWithCode(code!.trim())
        : token !== null && token.trim() !== ''
          ? await s.loginWithToken(token.trim())
          : { ok: false as const, reason: 'empty' };
    if (!result.ok) {
      await audit(c, 'login_refused', {
        via,
        reason: result.reason,
        ...(result.tokenId ? { tokenId: result.tokenId } : {}),
      });
      // One answer for every refusal (wrong, expired, used, not an admin's).
      return send(c.res, 401, c.nonce, loginPage(c.nonce, { failed: true }));
    }
    // Rotated at login: a session this browser already had is ended, never carried over.
    const before = await s.current(cookieValues(c.req));
    if (before) await s.revoke(before.idHash);
    await audit({ ctx: c.ctx, session: result.session }, 'login', { via });
    redirect(c.res, c.nonce, '/console/', {
      'set-cookie': sessionCookie(result.cookie, SESSION_MAX_MS / 1000, isHttps(c.req)),
    });
  });

  const logout = consoleRoute('POST', '/console/logout', true, async (c) => {
    await (await sessions()).revoke(c.session!.idHash);
    await audit(c, 'logout');
    redirect(c.res, c.nonce, '/console/login?n=logged-out', { 'set-cookie': clearedCookie(isHttps(c.req)) });
  });

  const inbox = consoleRoute('GET', '/console', true, async (c) => {
    const [pending, recent] = await Promise.all([
      rt.approvals.page({ status: 'pending', limit: 100 }),
      rt.approvals.page({ status: 'all', limit: 40 }),
    ]);
    send(
      c.res,
      200,
      c.nonce,
      inboxPage({
        nonce: c.nonce,
        session: c.page!,
        pending,
        recent: recent.approvals.filter((a) => a.status !== 'pending').slice(0, 20),
        now: now(),
        notice: noticeOf(c.ctx.url),
      }),
    );
  });

  const one = consoleRoute('GET', '/console/approvals/:id', true, async (c) => {
    const id = c.ctx.params.id ?? '';
    const a = isApprovalId(id) ? await rt.approvals.get(id) : null;
    if (!a) return redirect(c.res, c.nonce, '/console/?n=notfound');
    send(
      c.res,
      200,
      c.nonce,
      approvalPage({ nonce: c.nonce, session: c.page!, approval: a, now: now(), notice: noticeOf(c.ctx.url) }),
    );
  });

  const decide = consoleRoute('POST', '/console/approvals/:id/:decision', true, async (c) => {
    const id = c.ctx.params.id ?? '';
    const asked = c.ctx.params.decision;
    const decision = asked === 'approve' ? 'approved' : asked === 'deny' ? 'denied' : undefined;
    if (!decision) throw new GatehouseError('not_found', 'no such console action');
    if (!isApprovalId(id)) return redirect(c.res, c.nonce, '/console/?n=notfound');
    const reason = decision === 'denied' ? (c.form.get('reason') ?? '').trim() : '';
    if (reason.length > MAX_REASON)
      throw new GatehouseError('invalid_input', `the reason is over ${MAX_REASON} characters`);
    const session = c.session!;
    try {
      // INVARIANT: a token never decides an approval its own action waits for, in the console
      // too: a session opened with a token decides as that token (`notTokenId`). The first
      // decision wins (the service decides in one conditional UPDATE).
      await rt.approvals.decide(id, decision, {
        by: `console:${session.label}`,
        channel: 'console',
        ...(reason ? { note: reason } : {}),
        ...(session.tokenId !== null ? { notTokenId: session.tokenId } : {}),
      });
    } catch (e) {
      const err = toGatehouseError(e);
      const why = (err.details as { reason?: string } | undefined)?.reason;
      const n =
        err.code === 'not_granted'
          ? 'own'
          : err.code === 'not_found'
            ? 'notfound'
            : why === 'expired'
              ? 'expired'
              : err.code === 'conflict' || err.code === 'approval_invalid'
                ? 'already'
                : null;
      if (n === null) throw e;
      await audit(c, `${asked}_refused`, { approval: id, reason: n });
      return redirect(c.res, c.nonce, n === 'notfound' ? '/console/?n=notfound' : `/console/approvals/${id}?n=${n}`);
    }
    await audit(c, asked!, { approval: id, ...(reason ? { note: reason } : {}) });
    redirect(c.res, c.nonce, `/console/?n=${decision}`);
  });

  return [loginPageRoute, login, logout, inbox, one, decide];
}
