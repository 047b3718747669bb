/**
 * The console in a real browser (Debian's chromium through playwright-core): login by link and by
 * token, a live approval decided while an agent waits over MCP, refusals for another localhost
 * origin and a wrong Host, agent text shown as text, zero CSP violations, cookie flags, and the
 * audit page's search and live tail across a dropped connection.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAudit } from '../../src/audit/index.js';
import { ConsoleSessions } from '../../src/console/index.js';
import { EnrollmentCodes } from '../../src/gate/index.js';
import { addVirtualAuthenticator, launchChromium, watchCsp, type CspWatch } from '../helpers/browser.js';
import { httpClient } from '../helpers/mcp-client.js';
import { requires } from '../helpers/requires.js';
import { echoHandler, startServer, type TestServer } from '../upstream/servers.js';
import { askApproval, consoleServer, type ConsoleServer } from './helpers.js';

const REBIND = 'rebind.test';

function approvalIdOf(result: { structuredContent?: unknown; content?: unknown }): string {
  const id = (result.structuredContent as { error?: { details?: { approvalId?: string } } })?.error?.details
    ?.approvalId;
  if (!id) throw new Error(`no approval id in ${JSON.stringify(result)}`);
  return id;
}

describe.skipIf(!(await requires('chromium', 'console in a browser')))('console in a real browser', () => {
  let srv: ConsoleServer;
  let upstream: TestServer;
  let browser: Browser;
  let agent: string;
  let adminToken: string;
  let agentTokenId: string;
  /** A logged-in browser context (login by link) and its page. */
  let ctx: BrowserContext;
  let page: Page;
  let csp: CspWatch;

  const loginLink = async () => {
    const { code } = await (await ConsoleSessions.open(srv.rt)).createLoginCode('browser-test');
    return `${srv.origin}/console/login#code=${code}`;
  };

  /** An approval an agent's action waits for, with agent-written text in its command. */
  const ask = (command: string) => askApproval(srv, { id: agentTokenId, name: 'agent' }, command);

  beforeAll(async () => {
    srv = await consoleServer({ console: { pollMs: 150 } });
    upstream = await startServer(echoHandler);
    await srv.rt.targets.add('http', 'echo', {
      baseUrl: upstream.url,
      auth: { kind: 'none' },
      secret: null,
      allowPrivate: true,
      followRedirects: false,
    });
    const a = await srv.rt.tokens.create({
      name: 'agent',
      grants: ['tool:*', 'target:echo'],
      approvalMode: 'out-of-band',
    });
    agent = a.token;
    agentTokenId = a.info.id;
    adminToken = (await srv.rt.tokens.create({ name: 'ops-admin', admin: true })).token;
    browser = await launchChromium({ hostMap: [REBIND] });
    ctx = await browser.newContext();
    page = await ctx.newPage();
    csp = await watchCsp(ctx, page);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await upstream?.close();
    await srv?.close();
  });

  it('login by link: the code in the fragment signs in once and leaves the address bar; the cookie is HttpOnly and SameSite=Strict', async () => {
    const link = await loginLink();
    await page.goto(link);
    await page.waitForURL(`${srv.origin}/console/`);
    await expect.poll(() => page.locator('h1').first().textContent()).toContain('Approvals waiting');
    const cookie = (await ctx.cookies(`${srv.origin}/console/`)).find((c) => c.name === 'gh_console')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: false, path: '/console' });
    // Scoped to the console: never sent to /mcp, /gateway or the admin API.
    expect(await ctx.cookies(`${srv.origin}/mcp`)).toEqual([]);
    expect(await page.evaluate('document.cookie')).not.toContain('gh_console');
    // The same link a second time is refused (single use).
    const other = await browser.newContext();
    try {
      const p = await other.newPage();
      await p.goto(link);
      await expect.poll(() => p.locator('[role=alert]').textContent()).toContain('not valid');
      expect(await other.cookies(`${srv.origin}/console/`)).toEqual([]);
    } finally {
      await other.close();
    }
  });

  it('login with an admin token pasted into the form; an agent token is refused', async () => {
    const other = await browser.newContext();
    try {
      const p = await other.newPage();
      await p.goto(`${srv.origin}/console/login`);
      await p.fill('#token', agent);
      await p.click('form[action="/console/login"] button.approve');
      await expect.poll(() => p.locator('[role=alert]').textContent()).toContain('not valid');
      await p.fill('#token', adminToken);
      await p.click('form[action="/console/login"] button.approve');
      await p.waitForURL(`${srv.origin}/console/`);
      expect(await p.locator('header .who').textContent()).toBe('ops-admin');
    } finally {
      await other.close();
    }
  });

  it('an approval appears live while the agent waits over MCP, is approved in the page, and the retry runs once', async () => {
    await page.goto(`${srv.origin}/console/`);
    await expect.poll(() => page.locator('#live').getAttribute('data-state')).toBe('on');
    await page.evaluate('window.__stayed = true');
    const { client, close } = await httpClient(`http://127.0.0.1:${srv.port}`, agent, 'modern');
    try {
      const args = { target: 'echo', method: 'DELETE', path: '/items/7' };
      const first = await client.callTool({ name: 'api_request', arguments: args });
      expect(JSON.stringify(first.content)).toMatch(/approval_required/);
      const id = approvalIdOf(first);
      const card = page.locator(`article[id="${id}"]`);
      await card.waitFor({ timeout: 10_000 });
      expect(await page.evaluate('window.__stayed')).toBe(true); // no reload
      expect(await page.title()).toMatch(/^\(1\) Approvals/);
      expect(await card.locator('pre').textContent()).toContain('DELETE');
      expect(await card.textContent()).toContain('http.delete');
      const before = upstream.seen.length;
      await card.locator('button.approve').click();
      await page.waitForURL(/\/console\/\?n=approved$/);
      await expect.poll(() => page.locator('[role=status].notice').textContent()).toContain('Approved');
      const r = await client.callTool({ name: 'api_request', arguments: { ...args, approval_id: id } });
      expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
      expect(upstream.seen.slice(before).map((s) => `${s.method} ${s.url}`)).toEqual(['DELETE /items/7']);
      const decided = (await srv.rt.approvals.get(id))!;
      expect(decided).toMatchObject({ channel: 'console', decidedBy: 'console:login-link:browser-test' });
    } finally {
      await close();
    }
  });

  it('deny with a reason in the page: the agent receives the reason', async () => {
    await page.goto(`${srv.origin}/console/`);
    await expect.poll(() => page.locator('#live').getAttribute('data-state')).toBe('on');
    const { client, close } = await httpClient(`http://127.0.0.1:${srv.port}`, agent, 'modern');
    try {
      const args = { target: 'echo', method: 'DELETE', path: '/items/8' };
      const id = approvalIdOf(await client.callTool({ name: 'api_request', arguments: args }));
      const card = page.locator(`article[id="${id}"]`);
      await card.waitFor({ timeout: 10_000 });
      await card.locator('textarea[name=reason]').fill('not during the freeze, ask on Monday');
      await card.locator('button.deny').click();
      await page.waitForURL(/\/console\/\?n=denied$/);
      const r = await client.callTool({ name: 'api_request', arguments: { ...args, approval_id: id } });
      expect(r.isError).toBe(true);
      expect(JSON.stringify(r.content)).toContain('not during the freeze, ask on Monday');
    } finally {
      await close();
    }
  });

  it('agent-written HTML and script show as text, live and on reload, and nothing runs', async () => {
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    await page.goto(`${srv.origin}/console/`);
    await expect.poll(() => page.locator('#live').getAttribute('data-state')).toBe('on');
    const evil = `rm -rf /tmp/x; echo '<script>alert(1)</script><img src=x onerror=alert(2)>'`;
    const id = await ask(evil);
    const card = page.locator(`article[id="${id}"]`);
    await card.waitFor({ timeout: 10_000 });
    expect(await card.locator('pre').textContent()).toContain(`<script>alert(1)</script><img src=x onerror=alert(2)>`);
    expect(await card.locator('pre mark').textContent()).toBe('rm -rf');
    expect(await card.locator('img, script').count()).toBe(0);
    await page.reload();
    expect(await page.locator(`article[id="${id}"] pre`).textContent()).toContain('<script>alert(1)</script>');
    expect(await page.locator('main img, main script').count()).toBe(0);
    expect(dialogs).toEqual([]);
    await srv.rt.approvals.decide(id, 'denied', { by: 'test', channel: 'cli' });
  });

  it('a page on another localhost port cannot approve, read the inbox or open its stream', async () => {
    const id = await ask('rm -rf /srv/cross-origin');
    const attacker = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><form id="f" method="post" action="${srv.origin}/console/approvals/${id}/approve">
        <input name="csrf" value="guess"></form>
        <script>
          window.results = {};
          fetch('${srv.origin}/console/', { credentials: 'include' })
            .then(() => 'read', (e) => 'blocked: ' + e.name).then((r) => (window.results.inbox = r));
          fetch('${srv.origin}/console/approvals/${id}/approve', { method: 'POST', mode: 'no-cors', credentials: 'include',
            headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=guess' })
            .then(() => (window.results.post = 'read'), () => (window.results.post = 'not readable'));
          for (const path of ['/console/audit/export?format=csv', '/console/audit/1', '/console/audit/stream'])
            document.body.append(Object.assign(document.createElement('img'), { src: '${srv.origin}' + path }));
          const es = new EventSource('${srv.origin}/console/events', { withCredentials: true });
          es.onerror = () => { window.results.stream = 'error'; es.close(); };
          es.addEventListener('inbox', () => (window.results.stream = 'read'));
        </script>`);
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
    const attackerOrigin = `http://localhost:${(attacker.address() as AddressInfo).port}`;
    const p = await ctx.newPage(); // the same browser, logged in to the console
    try {
      await p.goto(`${attackerOrigin}/`);
      await expect
        .poll(() => p.evaluate('window.results'), { timeout: 10_000 })
        .toMatchObject({ inbox: expect.stringMatching(/^blocked/), post: 'not readable', stream: 'error' });
      // The no-cors post did reach the console (its answer is withheld from the page by
      // Cross-Origin-Resource-Policy) and was refused for its Origin, audited.
      await expect
        .poll(async () =>
          (await searchAudit(srv.rt.store, { tool: 'console', outcome: 'refused:origin', limit: 10 })).some(
            (r) => (r.detail as { origin?: string } | null)?.origin === attackerOrigin,
          ),
        )
        .toBe(true);
      // The same-site form post (cookies of localhost go to any port) reaches the console and is refused.
      const answer = p.waitForResponse((r) => r.url().endsWith(`/console/approvals/${id}/approve`));
      await p.evaluate(`document.getElementById('f').submit()`);
      expect((await answer).status()).toBe(403);
      expect(await p.locator('h1').textContent()).toBe('Request refused');
      expect((await srv.rt.approvals.get(id))!.status).toBe('pending');
      // Images and streams another page starts never run a console GET that does work.
      expect(await searchAudit(srv.rt.store, { tool: 'console', outcome: 'audit_export' })).toEqual([]);
      expect(await searchAudit(srv.rt.store, { tool: 'console', outcome: 'audit_viewed' })).toEqual([]);
    } finally {
      await p.close();
      attacker.close();
      await srv.rt.approvals.decide(id, 'denied', { by: 'test', channel: 'cli' });
    }
  });

  it('a wrong Host (a rebinding name that resolves to this machine) is refused before anything is read', async () => {
    const p = await ctx.newPage();
    try {
      const r = await p.goto(`http://${REBIND}:${srv.port}/console/`);
      expect(r!.status()).toBe(421);
      const login = await p.goto(`http://${REBIND}:${srv.port}/console/login`);
      expect(login!.status()).toBe(421);
      expect(await p.locator('form').count()).toBe(0);
    } finally {
      await p.close();
    }
  });

  it('the audit page: search, a live tail that resumes after a dropped connection with no gap and no repeat', async () => {
    const mark = `tail-${Date.now()}`;
    const add = (i: number, tool = 'browser-test') =>
      srv.rt.audit.append({ phase: 'event', tool, outcome: `${mark}-${i}`, action: `step ${i} <b>${mark}</b>` });
    await add(0);
    await page.goto(`${srv.origin}/console/audit?q=${mark}`);
    await expect.poll(() => page.locator('#live').getAttribute('data-state')).toBe('on');
    const rows = page.locator('#audit-rows tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().locator('td.action').textContent()).toBe(`step 0 <b>${mark}</b>`);
    for (let i = 1; i <= 5; i++) await add(i);
    await expect.poll(() => rows.count()).toBe(6);
    // Drop every connection: the browser reconnects with the last event id it saw.
    srv.dropConnections();
    for (let i = 6; i <= 20; i++) await add(i);
    await add(99, 'other-tool'); // matches the text, and is shown
    await srv.rt.audit.append({ phase: 'event', tool: 'browser-test', outcome: 'unrelated' }); // does not match
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(22);
    const outcomes = await page.locator('#audit-rows tr td:nth-child(8)').allTextContents();
    const want = [...Array.from({ length: 21 }, (_, i) => `${mark}-${i}`), `${mark}-99`];
    expect([...outcomes].sort()).toEqual([...want].sort());
    expect(new Set(outcomes).size).toBe(outcomes.length);
    // Newest first.
    expect(outcomes[0]).toBe(`${mark}-99`);
    // A filter narrows it: one record by its outcome.
    await page.goto(`${srv.origin}/console/audit?outcome=${mark}-7`);
    expect(await page.locator('#audit-rows tr').count()).toBe(1);
    // Export of the filtered set.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('a[href*="format=csv"]')]);
    const csv = await (await download.createReadStream()).toArray();
    const text = Buffer.concat(csv as Buffer[]).toString('utf8');
    expect(text.split('\r\n')[0]).toMatch(/^seq,id,ts,phase/);
    expect(text).toContain(`${mark}-7`);
    expect(text).not.toContain(`${mark}-8`);
  });

  it('the audit chain state and verify page say verified through the last seq', async () => {
    await page.goto(`${srv.origin}/console/audit`);
    await page.click('form[action="/console/audit/verify"] button');
    await expect.poll(() => page.locator('h1').textContent()).toBe('The audit log verifies');
    expect(await page.locator('[role=status].notice').textContent()).toMatch(/Verified through seq \d+/);
  });

  it('no page reports a CSP violation', async () => {
    const seq = (await srv.rt.audit.append({ phase: 'event', tool: 'browser-test', outcome: 'csp' })).seq;
    const id = await ask('rm -rf /srv/csp');
    for (const path of [
      '/console/',
      `/console/approvals/${id}`,
      '/console/audit',
      `/console/audit/${seq}`,
      '/console/audit/verify',
      '/console/sessions',
      '/console/memory',
      '/console/skills',
      '/console/wiki',
      '/console/webhooks',
    ])
      await page.goto(`${srv.origin}${path}`);
    await srv.rt.approvals.decide(id, 'denied', { by: 'test', channel: 'cli' });
    const p = await (await browser.newContext()).newPage();
    const loginCsp = await watchCsp(p.context(), p);
    await p.goto(`${srv.origin}/console/login`);
    expect(await loginCsp.violations()).toEqual([]);
    expect(await csp.violations()).toEqual([]);
  });

  it("Connect: the page makes a one-time enrollment code and follows it to the agent's first call", async () => {
    await page.goto(`${srv.origin}/console/connect`);
    await page.selectOption('select[name=client]', 'claude-code');
    await page.selectOption('select[name=transport]', 'http');
    await page.fill('input[name=name]', 'browser-enrolled');
    await page.fill('input[name=grants]', 'tool:discover');
    await page.click('#connect button.approve');
    const command = (await page.locator('pre').first().textContent())!;
    expect(command).toContain(`--http ${srv.origin}/mcp`);
    const code = /--enroll (ge_[A-Za-z0-9_-]{32})/.exec(command)![1]!;
    await expect.poll(() => page.locator('#connect-status').textContent()).toContain('Waiting for the code');
    const codes = new EnrollmentCodes(srv.rt.store, await srv.rt.keyring.internalKey('store-integrity'), srv.rt.tokens);
    const { token } = await codes.redeem(code);
    await expect
      .poll(() => page.locator('#connect-status').textContent(), { timeout: 10_000 })
      .toContain('Waiting for the first call');
    const { client, close } = await httpClient(`http://127.0.0.1:${srv.port}`, token, 'modern');
    try {
      await client.callTool({ name: 'discover', arguments: {} });
    } finally {
      await close();
    }
    await expect
      .poll(() => page.locator('#connect-status').textContent(), { timeout: 10_000 })
      .toContain('Connected: gatehouse-test 1.0.0');
    // A scope that is not one is refused with what is wrong, and no code is made.
    await page.goto(`${srv.origin}/console/connect`);
    await page.fill('input[name=name]', 'bad-scope');
    await page.fill('input[name=grants]', 'root:everything');
    await page.click('#connect button.approve');
    expect(await page.locator('h1').textContent()).toBe('Request refused');
  });

  // Last: once a passkey is registered, every approval in this console needs one.
  it('passkeys: added with a virtual authenticator; then approving needs a touch bound to that approval, once', async () => {
    const { cdp, authenticatorId } = await addVirtualAuthenticator(ctx, page);
    // The first passkey needs a setup code from the server's shell: a cookie alone adds none.
    await page.goto(`${srv.origin}/console/passkeys`);
    await page.fill('#passkey-setup', 'not-a-code-0000000000000000000000000000000000');
    await page.fill('#passkey-label', 'stolen cookie key');
    await page.click('#add-passkey button');
    await page.waitForURL(/\/console\/passkeys\?n=passkey-setup$/);
    expect(await page.locator('table').count()).toBe(0);
    const { code: setup } = await (await ConsoleSessions.open(srv.rt)).createPasskeySetupCode('browser-test');
    await page.fill('#passkey-setup', setup);
    await page.fill('#passkey-label', 'virtual key');
    await page.click('#add-passkey button');
    await page.waitForURL(/\/console\/passkeys\?n=passkey-added$/);
    expect(await page.locator('table').textContent()).toContain('virtual key');
    expect((await searchAudit(srv.rt.store, { tool: 'console', outcome: 'passkey_added' })).length).toBe(1);

    // The cookie alone (a form posted without a passkey answer) approves nothing.
    const a = await ask('rm -rf /srv/passkey-a');
    const b = await ask('rm -rf /srv/passkey-b');
    const cookie = (await ctx.cookies(`${srv.origin}/console/`)).map((c) => `${c.name}=${c.value}`).join('; ');
    const csrf = (await page.getAttribute('body', 'data-csrf'))!;
    const bare = await srv.call('POST', `/console/approvals/${a}/approve`, { cookie, form: { csrf, assertion: '' } });
    expect(bare.headers.location).toBe(`/console/approvals/${a}?n=passkey`);
    expect((await srv.rt.approvals.get(a))!.status).toBe('pending');

    // In the page: the approve button asks the passkey, and the answer approves exactly that one.
    let posted = '';
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith(`/console/approvals/${a}/approve`)) posted = r.postData() ?? '';
    });
    await page.goto(`${srv.origin}/console/`);
    await page.locator(`article[id="${a}"] button.approve`).click();
    await page.waitForURL(/\/console\/\?n=approved$/);
    expect((await srv.rt.approvals.get(a))!.status).toBe('approved');
    const record = (await searchAudit(srv.rt.store, { tool: 'console', outcome: 'approve' })).at(-1)!;
    expect(record.detail).toMatchObject({
      approval: a,
      passkey: expect.stringMatching(/^virtual key \(pk:[0-9a-f]{16}\)$/),
    });

    // That answer cannot approve another approval, nor be spent twice.
    const assertion = new URLSearchParams(posted).get('assertion')!;
    expect(assertion).toMatch(/^\{/);
    const other = await srv.call('POST', `/console/approvals/${b}/approve`, { cookie, form: { csrf, assertion } });
    expect(other.headers.location).toBe(`/console/approvals/${b}?n=passkey-failed`);
    expect((await srv.rt.approvals.get(b))!.status).toBe('pending');
    const again = await srv.call('POST', `/console/approvals/${a}/approve`, { cookie, form: { csrf, assertion } });
    expect(again.headers.location).toBe(`/console/approvals/${a}?n=passkey-failed`);

    // Without user verification the authenticator's answer is refused: nothing is decided.
    await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: false });
    await page.goto(`${srv.origin}/console/`);
    await page.locator(`article[id="${b}"] button.approve`).click();
    await expect.poll(() => page.locator(`article[id="${b}"] .passkey-problem`).count(), { timeout: 10_000 }).toBe(1);
    expect((await srv.rt.approvals.get(b))!.status).toBe('pending');
    await cdp.send('WebAuthn.setUserVerified', { authenticatorId, isUserVerified: true });
    // Denying never needs a passkey.
    await page.locator(`article[id="${b}"] textarea[name=reason]`).fill('no');
    await page.locator(`article[id="${b}"] button.deny`).click();
    await page.waitForURL(/\/console\/\?n=denied$/);
    expect((await srv.rt.approvals.get(b))!.status).toBe('denied');

    // Rotating a token shows a new secret: a touch bound to that token, then the secret once.
    await page.goto(`${srv.origin}/console/tokens`);
    await page.locator('form[data-rotate="agent"] button').click();
    await expect.poll(() => page.locator('h1').textContent(), { timeout: 10_000 }).toBe('Rotated agent');
    const fresh = (await page.locator('pre').textContent())!;
    expect((await srv.rt.tokens.authenticate(fresh)).tokenName).toBe('agent');
    const rotated = (await searchAudit(srv.rt.store, { tool: 'console', outcome: 'token_rotated' })).at(-1)!;
    expect(rotated.detail).toMatchObject({ token: 'agent', passkey: expect.stringContaining('virtual key') });

    // Replacing a credential's value: a touch bound to the field and the new value's digest.
    await srv.rt.vault.createVault('bv');
    await srv.rt.vault.setField('bv/api.token', 'old-browser-value-123', { bind: ['target:echo'] });
    await page.goto(`${srv.origin}/console/vault`);
    const form = page.locator('form.set-value').filter({ has: page.locator('input[name=item][value=api]') });
    await form.locator('input[name=value]').fill('new-browser-value-456');
    await form.locator('button').click();
    await page.waitForURL(/\/console\/vault\?n=secret-set$/);
    expect(await srv.rt.vault.openField('bv/api.token')).toBe('new-browser-value-456');
    expect(await page.content()).not.toContain('new-browser-value-456');
  });
});
