import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApprovalService, type ApprovalRequest } from '../../src/approvals/index.js';
import { searchAudit } from '../../src/audit/index.js';
import { consoleServer, csrfOf, sessionCookieOf, type ConsoleServer } from './helpers.js';

describe('console approvals inbox', () => {
  let srv: ConsoleServer;
  let cookie: string;
  let csrf: string;
  let agentId: string;
  /** An admin token that an agent holds: its own approvals must never be decided with it. */
  let agentAdmin: string;
  let agentAdminId: string;
  let n = 0;

  const ask = async (over: Partial<ApprovalRequest> = {}) =>
    (
      await srv.rt.approvals.request({
        tokenId: agentId,
        tokenName: 'agent-1',
        tool: 'ssh_exec',
        target: 'prod-db',
        summary: 'ssh_exec prod-db: rm -rf /var/tmp/cache',
        operation: { kind: 'command', command: 'rm -rf /var/tmp/cache' },
        digest: String(++n).padStart(64, 'a'),
        rule: 'fs.rm-recursive',
        reason: 'recursive delete',
        matched: 'rm -rf',
        mode: 'out-of-band',
        ...over,
      })
    ).id;

  beforeAll(async () => {
    srv = await consoleServer();
    const admin = (await srv.rt.tokens.create({ name: 'ops-admin', admin: true })).token;
    agentId = (await srv.rt.tokens.create({ name: 'agent-1', grants: ['tool:*'] })).info.id;
    const aa = await srv.rt.tokens.create({ name: 'agent-admin', admin: true });
    agentAdmin = aa.token;
    agentAdminId = aa.info.id;
    cookie = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: admin } }));
    csrf = csrfOf((await srv.call('GET', '/console/', { cookie })).body);
  });
  afterAll(async () => {
    await srv?.close();
  });

  const decide = (
    id: string,
    verb: 'approve' | 'deny',
    form: Record<string, string>,
    o: { origin?: string | null; c?: string } = {},
  ) => srv.call('POST', `/console/approvals/${id}/${verb}`, { cookie: o.c ?? cookie, form, origin: o.origin });

  it('a pending approval shows with its exact command, escaped: agent text is text, never markup', async () => {
    const id = await ask({
      operation: { kind: 'command', command: `echo '<script>alert(1)</script>' > /etc/motd` },
      summary: 'writes <img src=x onerror=alert(2)>',
      reason: 'writes under /etc "quoted" & <b>bold</b>',
      tokenName: '<i>agent-1</i>',
    });
    const page = await srv.call('GET', '/console/', { cookie });
    expect(page.status).toBe(200);
    expect(page.body).toContain(id);
    expect(page.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.body).not.toContain('<script>alert(1)');
    expect(page.body).not.toContain('<img src=x');
    expect(page.body).not.toContain('<b>bold</b>');
    expect(page.body).toContain('&lt;i&gt;agent-1&lt;/i&gt;');
    expect(page.body).toContain('&amp; &lt;b&gt;bold&lt;/b&gt;');
    // The inbox's one script (the live updates) and its one <style> carry this answer's CSP nonce;
    // nothing the agent wrote is a script.
    const nonce = /script-src 'nonce-([^']+)'/.exec(String(page.headers['content-security-policy']))![1]!;
    const scripts = [...page.body.matchAll(/<script\b[^>]*>/gi)].map((m) => m[0]);
    expect(scripts).toEqual([`<script type="module" nonce="${nonce}">`]);
    // Tool, target, rule, age and expiry are all there, and the pending count is in the title.
    for (const s of ['ssh_exec', 'prod-db', 'fs.rm-recursive', 'expires', 'ago']) expect(page.body).toContain(s);
    expect(page.body).toMatch(/<title>\(\d+\) Approvals/);
    // Two plain forms per approval, each with the CSRF token, no JavaScript needed.
    expect(page.body).toContain(`action="/console/approvals/${id}/approve"`);
    expect(page.body).toContain(`action="/console/approvals/${id}/deny"`);
    await srv.rt.approvals.decide(id, 'denied', { by: 'test', channel: 'cli' });
  });

  it('a POST without the CSRF token, with a wrong one, from another origin or without Origin decides nothing', async () => {
    const id = await ask();
    const attempts = [
      await decide(id, 'approve', {}),
      await decide(id, 'approve', { csrf: 'x'.repeat(csrf.length) }),
      await decide(id, 'approve', { csrf: csrf.slice(1) }),
      await decide(id, 'approve', { csrf }, { origin: 'http://localhost:9999' }),
      await decide(id, 'approve', { csrf }, { origin: 'null' }),
      await decide(id, 'approve', { csrf }, { origin: null }),
      await srv.call('POST', `/console/approvals/${id}/approve`, {
        cookie,
        form: { csrf },
        headers: { 'sec-fetch-site': 'same-site' },
      }),
    ];
    for (const r of attempts) expect(r.status).toBe(403);
    // A cookie-less POST with a valid-looking token is 401.
    expect((await srv.call('POST', `/console/approvals/${id}/approve`, { form: { csrf } })).status).toBe(401);
    // Another session's token does not fit this session.
    const other = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: agentAdmin } }));
    expect((await decide(id, 'approve', { csrf }, { c: other })).status).toBe(403);
    expect((await srv.rt.approvals.get(id))!.status).toBe('pending');
    const refusals = (await searchAudit(srv.rt.store, { tool: 'console', limit: 100 })).map((r) => r.outcome);
    expect(refusals).toEqual(expect.arrayContaining(['refused:csrf', 'refused:origin']));
    await srv.rt.approvals.decide(id, 'denied', { by: 'test', channel: 'cli' });
  });

  it('approve via the form: 303 back to the inbox, decided as console:NAME, first decision wins and is shown', async () => {
    const id = await ask();
    const r = await decide(id, 'approve', { csrf });
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe('/console/?n=approved');
    const a = (await srv.rt.approvals.get(id))!;
    expect(a.status).toBe('approved');
    expect(a.decidedBy).toBe('console:ops-admin');
    expect(a.channel).toBe('console');

    // A second decision (deny) does not change it; the person is shown who decided first.
    const late = await decide(id, 'deny', { csrf, reason: 'too late' });
    expect(late.status).toBe(303);
    expect(late.headers.location).toBe(`/console/approvals/${id}?n=already`);
    expect((await srv.rt.approvals.get(id))!.status).toBe('approved');
    const shown = await srv.call('GET', late.headers.location as string, { cookie });
    expect(shown.status).toBe(200);
    expect(shown.body).toContain('Someone decided this approval first');
    expect(shown.body).toContain('Approved by <strong>console:ops-admin</strong> via console');
    expect(shown.body).not.toContain(`action="/console/approvals/${id}/approve"`);

    const inbox = await srv.call('GET', '/console/?n=approved', { cookie });
    expect(inbox.body).toContain('Approved. The agent can retry');
    expect(inbox.body).toContain('Recently decided');
    const outcomes = (await searchAudit(srv.rt.store, { tool: 'console', limit: 100 })).filter(
      (x) => (x.detail as { approval?: string }).approval === id,
    );
    expect(outcomes.map((x) => x.outcome)).toEqual(['approve', 'deny_refused']);
    expect(outcomes[0].approver).toBe('console:ops-admin');
  });

  it('deny with a reason: the reason is stored as the decision note (what the agent receives)', async () => {
    const id = await ask();
    const r = await decide(id, 'deny', { csrf, reason: '  not on a Friday <please>  ' });
    expect(r.status).toBe(303);
    const a = (await srv.rt.approvals.get(id))!;
    expect(a.status).toBe('denied');
    expect(a.note).toBe('not on a Friday <please>');
    const page = await srv.call('GET', `/console/approvals/${id}`, { cookie });
    expect(page.body).toContain('not on a Friday &lt;please&gt;');
    // A reason over the limit is refused and decides nothing.
    const id2 = await ask();
    expect((await decide(id2, 'deny', { csrf, reason: 'x'.repeat(2001) })).status).toBe(400);
    expect((await srv.rt.approvals.get(id2))!.status).toBe('pending');
    await srv.rt.approvals.decide(id2, 'denied', { by: 'test', channel: 'cli' });
  });

  it('a session opened with a token never decides an approval that token is waiting for', async () => {
    const id = await ask({ tokenId: agentAdminId, tokenName: 'agent-admin' });
    const own = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: agentAdmin } }));
    const ownCsrf = csrfOf((await srv.call('GET', '/console/', { cookie: own })).body);
    const r = await decide(id, 'approve', { csrf: ownCsrf }, { c: own });
    expect(r.status).toBe(303);
    expect(r.headers.location).toBe(`/console/approvals/${id}?n=own`);
    expect((await srv.rt.approvals.get(id))!.status).toBe('pending');
    // Another person can.
    expect((await decide(id, 'approve', { csrf })).status).toBe(303);
    expect((await srv.rt.approvals.get(id))!.status).toBe('approved');
  });

  it("an approval nobody decided in time is shown as expired, never as a person's denial, and cannot be decided", async () => {
    const quick = await createApprovalService({ store: srv.rt.store, keys: srv.rt.keyring, ttlMs: 1 });
    const { id } = await quick.request({
      tokenId: agentId,
      tokenName: 'agent-1',
      tool: 'exec',
      summary: 'exec: reboot',
      operation: { kind: 'command', command: 'reboot' },
      digest: 'e'.repeat(64),
      rule: 'sys.reboot',
      reason: 'reboots the host',
      matched: 'reboot',
      mode: 'out-of-band',
    });
    await new Promise((r) => setTimeout(r, 20));
    const r = await decide(id, 'approve', { csrf });
    expect(r.headers.location).toBe(`/console/approvals/${id}?n=expired`);
    const page = await srv.call('GET', r.headers.location as string, { cookie });
    expect(page.body).toContain('status expired');
    expect(page.body).toContain('Nobody decided before it expired');
    expect(page.body).not.toMatch(/Denied by/);
  });

  it('an unknown or malformed approval id decides nothing and says so', async () => {
    for (const id of ['ap_' + 'a'.repeat(26), 'nope', '%3Cscript%3E']) {
      const r = await decide(id, 'approve', { csrf });
      expect(r.status).toBe(303);
      expect(r.headers.location).toBe('/console/?n=notfound');
    }
    expect((await srv.call('GET', '/console/approvals/nope', { cookie })).headers.location).toBe(
      '/console/?n=notfound',
    );
  });
});
