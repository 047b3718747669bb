import { clearedCookie, cookieValues, securityHeaders, sessionCookie } from './http-checks.js';
import { accessRoutes } from './access-routes.js';
import { approvalRoutes } from './approval-routes.js';
import { auditRoutes } from './audit-routes.js';
import { connectRoutes } from './connect-routes.js';
import { inventoryRoutes } from './inventory-routes.js';
import { knowledgeRoutes } from './knowledge-routes.js';
import { webhookRoutes } from './webhook-routes.js';
import { passkeyRoutes } from './passkey-routes.js';
import { sessionRoutes } from './session-routes.js';
import { tokenRoutes } from './token-routes.js';
import { ConsoleKit, redirect, send, type ConsoleOptions, type ConsolePorts, type ConsoleRoute } from './kit.js';
import { loginPage, noticeOf } from './pages.js';
import { SESSION_MAX_MS } from './sessions.js';

const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="7" fill="#2f6f5e"/>' +
  '<path d="M9 26V13l7-6 7 6v13h-5v-7h-4v7z" fill="#fff"/></svg>';

/** The console's routes: login and logout here, then the approvals inbox and the audit log. */
export function consoleRoutes(rt: ConsolePorts, opts: ConsoleOptions = {}): ConsoleRoute[] {
  const kit = new ConsoleKit(rt, opts);
  const sessions = () => kit.sessions();
  const audit = kit.audit.bind(kit);
  const consoleRoute = kit.route.bind(kit);

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
      await kit.auditRefusal(c, 'login_refused', {
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
      'set-cookie': sessionCookie(result.cookie, SESSION_MAX_MS / 1000, c.origin.startsWith('https://')),
    });
  });

  const logout = consoleRoute('POST', '/console/logout', true, async (c) => {
    await (await sessions()).revoke(c.session!.idHash);
    await audit(c, 'logout');
    redirect(c.res, c.nonce, '/console/login?n=logged-out', {
      'set-cookie': clearedCookie(c.origin.startsWith('https://')),
    });
  });

  // The tab's icon: a fixed SVG from this code (the CSP allows images from the console only).
  const icon = consoleRoute('GET', '/console/favicon.svg', false, async (c) => {
    c.res.writeHead(200, {
      ...securityHeaders(c.nonce),
      'content-type': 'image/svg+xml',
      'content-length': String(Buffer.byteLength(FAVICON)),
    });
    c.res.end(FAVICON);
  });

  return [
    loginPageRoute,
    login,
    logout,
    icon,
    ...approvalRoutes(kit),
    ...auditRoutes(kit),
    ...passkeyRoutes(kit),
    ...connectRoutes(kit, rt),
    ...tokenRoutes(kit, rt.tokens),
    ...inventoryRoutes(kit, rt),
    ...accessRoutes(kit),
    ...sessionRoutes(kit),
    ...knowledgeRoutes(kit, rt),
    ...webhookRoutes(kit, rt),
  ];
}
