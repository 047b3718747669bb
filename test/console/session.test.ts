import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAudit } from '../../src/audit/index.js';
import { main } from '../../src/cli/main.js';
import { ConsoleSessions, SESSION_IDLE_MS, SESSION_MAX_MS } from '../../src/console/index.js';
import { rawRequest } from '../server/harness.js';
import { consoleServer, csrfOf, sessionCookieOf, type ConsoleServer } from './helpers.js';

describe('console login and sessions', () => {
  let srv: ConsoleServer;
  let admin: string;
  let agent: string;
  let agentId: string;

  beforeAll(async () => {
    srv = await consoleServer();
    admin = (await srv.rt.tokens.create({ name: 'ops-admin', admin: true })).token;
    const a = await srv.rt.tokens.create({ name: 'agent', grants: ['tool:*'] });
    agent = a.token;
    agentId = a.info.id;
  });
  afterAll(async () => {
    await srv?.close();
  });

  const code = async (at?: number) =>
    (await (await ConsoleSessions.open(srv.rt, at === undefined ? {} : { now: () => at })).createLoginCode('tester'))
      .code;
  const audits = async () => (await searchAudit(srv.rt.store, { tool: 'console', limit: 200 })).map((r) => r);

  it('every answer carries a strict CSP with a fresh nonce (no unsafe-inline) and the security headers', async () => {
    const a = await srv.call('GET', '/console/login');
    const b = await srv.call('GET', '/console/login');
    expect(a.status).toBe(200);
    const csp = String(a.headers['content-security-policy']);
    const nonce = /script-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toContain(`style-src 'nonce-${nonce}'`);
    for (const d of [
      "default-src 'none'",
      "img-src 'self'",
      "connect-src 'self'",
      "form-action 'self'",
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ])
      expect(csp).toContain(d);
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(String(b.headers['content-security-policy'])).not.toContain(nonce!);
    // Every <script> and <style> carries this response's nonce; no inline handlers or style attributes.
    const tags = a.body.match(/<(script|style)\b[^>]*>/g) ?? [];
    expect(tags.length).toBe(2);
    for (const t of tags) expect(t).toContain(`nonce="${nonce}"`);
    expect(a.body).not.toMatch(/\son[a-z]+=|\sstyle=/i);
    expect(a.headers).toMatchObject({
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'same-origin',
      'cache-control': 'no-store',
      'cross-origin-opener-policy': 'same-origin',
      'x-frame-options': 'DENY',
    });
    expect(a.headers['permissions-policy']).toBeTruthy();
    expect(a.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('a Host the console does not answer to is refused with 421 before anything else (DNS rebinding)', async () => {
    const c = await code();
    for (const host of [
      'evil.example',
      `evil.example:${srv.port}`,
      'localhost:1',
      `localhost.evil.example:${srv.port}`,
    ]) {
      const get = await srv.call('GET', '/console/login', { host });
      expect(get.status, host).toBe(421);
      expect(get.headers['content-security-policy']).toBeTruthy();
      // A rebinding page's own Origin is refused by serve's global list already (403); with an
      // Origin that list allows, the console's Host check still refuses first.
      const rebound = await srv.call('POST', '/console/login', { host, origin: `http://${host}`, form: { code: c } });
      expect([403, 421], host).toContain(rebound.status);
      const post = await srv.call('POST', '/console/login', { host, form: { code: c } });
      expect(post.status, host).toBe(421);
      expect(post.headers['set-cookie']).toBeUndefined();
    }
    // The code was not spent by the refused requests.
    expect((await srv.call('POST', '/console/login', { form: { code: c } })).status).toBe(303);
    for (const host of [`127.0.0.1:${srv.port}`, `[::1]:${srv.port}`, `app.localhost:${srv.port}`])
      expect((await srv.call('GET', '/console/login', { host })).status, host).toBe(200);
  });

  it('a login code works once; used, expired and wrong codes are refused alike and audited', async () => {
    const c = await code();
    const ok = await srv.call('POST', '/console/login', { form: { code: c } });
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('/console/');
    const cookie = sessionCookieOf(ok);
    expect((await srv.call('GET', '/console/', { cookie })).status).toBe(200);

    const again = await srv.call('POST', '/console/login', { form: { code: c } });
    const expired = await srv.call('POST', '/console/login', { form: { code: await code(Date.now() - 61_000) } });
    const wrong = await srv.call('POST', '/console/login', { form: { code: 'A'.repeat(43) } });
    const junk = await srv.call('POST', '/console/login', { form: { code: '<script>' } });
    for (const r of [again, expired, wrong, junk]) {
      expect(r.status).toBe(401);
      expect(r.headers['set-cookie']).toBeUndefined();
      expect(r.body).toContain('That login link or token is not valid');
    }
    const reasons = (await audits())
      .filter((r) => r.outcome === 'login_refused')
      .map((r) => (r.detail as { reason?: string }).reason);
    expect(reasons).toEqual(expect.arrayContaining(['used_code', 'expired_code', 'unknown_code', 'malformed_code']));
    expect((await audits()).some((r) => r.outcome === 'login' && r.approver === 'console:login-link:tester')).toBe(
      true,
    );
  });

  it('two logins racing with one code: exactly one wins', async () => {
    const c = await code();
    const rs = await Promise.all(
      Array.from({ length: 6 }, () => srv.call('POST', '/console/login', { form: { code: c } })),
    );
    expect(rs.filter((r) => r.status === 303)).toHaveLength(1);
    expect(rs.filter((r) => r.status === 401)).toHaveLength(5);
  });

  it('an admin token logs in; an agent token is refused (and audited with its id)', async () => {
    const ok = await srv.call('POST', '/console/login', { form: { token: admin } });
    expect(ok.status).toBe(303);
    const cookie = sessionCookieOf(ok);
    const page = await srv.call('GET', '/console/', { cookie });
    expect(page.status).toBe(200);
    expect(page.body).toContain('ops-admin');

    const refused = await srv.call('POST', '/console/login', { form: { token: agent } });
    expect(refused.status).toBe(401);
    expect(refused.headers['set-cookie']).toBeUndefined();
    expect((await audits()).some((r) => r.outcome === 'login_refused' && r.tokenId === agentId)).toBe(true);
    // A Bearer token on a console route is no way in, admin or not.
    for (const t of [agent, admin]) {
      const r = await srv.call('GET', '/console/', { headers: { authorization: `Bearer ${t}` } });
      expect(r.status).toBe(303);
      expect(r.headers.location).toBe('/console/login');
    }
  });

  it('the session cookie is HttpOnly, SameSite=Strict, Path=/console, random, and new at each login', async () => {
    const a = await srv.call('POST', '/console/login', { form: { token: admin } });
    const line = String(a.headers['set-cookie']);
    expect(line).toMatch(/^gh_console=[A-Za-z0-9_-]{43}; /);
    expect(line).toContain('HttpOnly');
    expect(line).toContain('SameSite=Strict');
    expect(line).toContain('Path=/console');
    expect(line).toContain(`Max-Age=${SESSION_MAX_MS / 1000}`);
    expect(line).not.toContain('Secure'); // plain http on loopback; https adds Secure
    // Logging in again from the same browser rotates: a new id, and the old session ends.
    const old = sessionCookieOf(a);
    const b = await srv.call('POST', '/console/login', { cookie: old, form: { token: admin } });
    const fresh = sessionCookieOf(b);
    expect(fresh).not.toBe(old);
    expect((await srv.call('GET', '/console/', { cookie: old })).status).toBe(303);
    expect((await srv.call('GET', '/console/', { cookie: fresh })).status).toBe(200);
    // Only the hash is stored.
    const rows = await srv.rt.store.db.selectFrom('console_sessions').select('id_hash').execute();
    expect(rows.some((r: { id_hash: string }) => r.id_hash === fresh.split('=')[1])).toBe(false);
  });

  it('agent routes never accept the console cookie: /mcp and /admin answer 401', async () => {
    const cookie = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: admin } }));
    const mcp = await srv.call('POST', '/mcp', {
      cookie,
      origin: null,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
    });
    expect(mcp.status).toBe(401);
    const adminApi = await srv.call('GET', '/admin/approvals', { cookie });
    expect(adminApi.status).toBe(401);
  });

  it('only the console is exempt from serve’s Origin check: a path that resolves elsewhere through the console is not', async () => {
    // Raw request targets, as sent: an HTTP client would normalise `..` and `%2e%2e` away first.
    for (const path of ['/mcp', '/console/../mcp', '/console/%2e%2e/mcp', '/console/%2E%2E/admin/approvals']) {
      const r = await rawRequest(
        `http://127.0.0.1:${srv.port}`,
        `POST ${path} HTTP/1.1\r\nHost: localhost:${srv.port}\r\nOrigin: http://localhost:9999\r\n` +
          'Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n',
        '{}',
      );
      expect(r.status, path).toBe(403);
    }
  });

  it('logout revokes the session: the cookie opens nothing afterwards, and the forms refuse it', async () => {
    const cookie = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: admin } }));
    const page = await srv.call('GET', '/console/', { cookie });
    const csrf = csrfOf(page.body);
    const out = await srv.call('POST', '/console/logout', { cookie, form: { csrf } });
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe('/console/login?n=logged-out');
    expect(String(out.headers['set-cookie'])).toContain('Max-Age=0');
    expect((await srv.call('GET', '/console/', { cookie })).status).toBe(303);
    expect((await srv.call('POST', '/console/logout', { cookie, form: { csrf } })).status).toBe(401);
    expect((await audits()).some((r) => r.outcome === 'logout')).toBe(true);
  });

  it('a session unused past the idle limit is over; a stretched expiry (row changed without the key) opens nothing', async () => {
    const cookie = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: admin } }));
    const { createHash } = await import('node:crypto');
    const idHash = createHash('sha256').update(cookie.split('=')[1]).digest('hex');
    await srv.rt.store.db
      .updateTable('console_sessions')
      .set({ last_seen_at: Date.now() - SESSION_IDLE_MS - 1000 })
      .where('id_hash', '=', idHash)
      .execute();
    expect((await srv.call('GET', '/console/', { cookie })).status).toBe(303);

    const other = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: admin } }));
    const otherHash = createHash('sha256').update(other.split('=')[1]).digest('hex');
    expect((await srv.call('GET', '/console/', { cookie: other })).status).toBe(200);
    await srv.rt.store.db
      .updateTable('console_sessions')
      .set({ expires_at: Date.now() + 365 * 86_400_000 })
      .where('id_hash', '=', otherHash)
      .execute();
    expect((await srv.call('GET', '/console/', { cookie: other })).status).toBe(303);
  });

  it('a session ends at its absolute expiry however busy, and with the token it was opened with', async () => {
    const clock = { now: Date.now() };
    const s = await ConsoleSessions.open(srv.rt, { now: () => clock.now });
    const r = await s.loginWithToken(admin);
    if (!r.ok) throw new Error('login failed');
    for (let t = 0; t < SESSION_MAX_MS; t += SESSION_IDLE_MS / 2) {
      clock.now = r.session.createdAt + t;
      expect(await s.current([r.cookie])).not.toBeNull();
    }
    clock.now = r.session.createdAt + SESSION_MAX_MS;
    expect(await s.current([r.cookie])).toBeNull();

    const t = await srv.rt.tokens.create({ name: 'short-admin', admin: true });
    const r2 = await (await ConsoleSessions.open(srv.rt)).loginWithToken(t.token);
    if (!r2.ok) throw new Error('login failed');
    const cookie = `gh_console=${r2.cookie}`;
    expect((await srv.call('GET', '/console/', { cookie })).status).toBe(200);
    await srv.rt.tokens.revoke(t.info.id);
    expect((await srv.call('GET', '/console/', { cookie })).status).toBe(303);
  });

  it('the login form is refused from another origin (even another port on localhost) or without an Origin', async () => {
    for (const origin of ['http://localhost:9999', 'http://evil.example', null]) {
      const r = await srv.call('POST', '/console/login', { origin, form: { token: admin } });
      expect(r.status, String(origin)).toBe(403);
      expect(r.headers['set-cookie']).toBeUndefined();
    }
    const crossSite = await srv.call('POST', '/console/login', {
      form: { token: admin },
      headers: { 'sec-fetch-site': 'cross-site' },
    });
    expect(crossSite.status).toBe(403);
  });

  it('`gatehouse console` prints a localhost login link whose code logs in once', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (d) => (text += d));
    const err = new PassThrough();
    const code = await main(['console', '--port', String(srv.port)], {
      stdout: out,
      stderr: err,
      stdin: new PassThrough(),
      env: srv.home.env,
    });
    expect(code).toBe(0);
    const m = new RegExp(`http://localhost:${srv.port}/console/login#code=([A-Za-z0-9_-]{43})`).exec(text);
    expect(m, text).toBeTruthy();
    expect(text).toContain('works once, for 60 seconds');
    expect(text).toContain('not 127.0.0.1');
    expect((await srv.call('POST', '/console/login', { form: { code: m![1] } })).status).toBe(303);
    expect((await srv.call('POST', '/console/login', { form: { code: m![1] } })).status).toBe(401);
    expect((await audits()).some((r) => r.outcome === 'login_code')).toBe(true);
    expect(
      await main(['console', '--host', '127.0.0.1'], {
        stdout: out,
        stderr: err,
        stdin: new PassThrough(),
        env: srv.home.env,
      }),
    ).toBe(2);
  });
});
