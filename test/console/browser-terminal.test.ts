/**
 * A live SSH session in a real browser (Debian's chromium through playwright-core) against the
 * test sshd: a person watches an agent's session, takes it over (with a passkey touch once one is
 * registered), types into it, and returns it with a note, while the agent over MCP is refused and
 * never reads the person's part. A page on another localhost port cannot open the terminal's
 * WebSocket, even with a valid ticket. No CSP violation on the session page.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAudit } from '../../src/audit/index.js';
import { ConsoleSessions } from '../../src/console/index.js';
import { addVirtualAuthenticator, launchChromium, watchCsp, type CspWatch } from '../helpers/browser.js';
import { httpClient } from '../helpers/mcp-client.js';
import { requires } from '../helpers/requires.js';
import { addSshTarget, startSshd, type SshdHandle } from '../helpers/sshd.js';
import { consoleServer, type ConsoleServer } from './helpers.js';

type McpClient = Awaited<ReturnType<typeof httpClient>>['client'];

const ready =
  (await requires('chromium', 'console terminal in a browser')) && (await requires('sshd', 'console terminal'));

describe.skipIf(!ready)('a live SSH terminal in a real browser', () => {
  let srv: ConsoleServer;
  let sshd: SshdHandle;
  let browser: Browser;
  let ctx: BrowserContext;
  let page: Page;
  let csp: CspWatch;
  let agent: { client: McpClient; close: () => Promise<void> };

  const text = (r: { content?: unknown }) => JSON.stringify(r.content);
  const openSession = async (): Promise<string> => {
    const args = { target: 'box', reason: 'upgrade packages' };
    const asked = await agent.client.callTool({ name: 'ssh_session_open', arguments: args });
    const approval = (asked.structuredContent as { error: { details: { approvalId: string } } }).error.details
      .approvalId;
    await srv.rt.approvals.decide(approval, 'approved', { by: 'test', channel: 'cli' });
    const r = await agent.client.callTool({ name: 'ssh_session_open', arguments: { ...args, approval_id: approval } });
    expect(r.isError, text(r)).toBeFalsy();
    return (r.structuredContent as { id: string }).id;
  };
  const send = (id: string, input: string, waitFor?: string) =>
    agent.client.callTool({
      name: 'ssh_session_send',
      arguments: { id, input, ...(waitFor ? { wait_for: waitFor } : {}) },
    });
  const terminalText = () => page.locator('#terminal').textContent();

  beforeAll(async () => {
    srv = await consoleServer();
    sshd = await startSshd({ loginShell: 'bash' });
    await addSshTarget(srv.rt, sshd);
    const token = (
      await srv.rt.tokens.create({
        name: 'upgrader',
        grants: [
          'tool:ssh_session_open',
          'tool:ssh_session_send',
          'tool:ssh_session_read',
          'tool:ssh_session_handoff',
          'target:box',
        ],
        approvalMode: 'out-of-band',
      })
    ).token;
    agent = await httpClient(`http://127.0.0.1:${srv.port}`, token, 'modern');
    browser = await launchChromium();
    ctx = await browser.newContext();
    page = await ctx.newPage();
    csp = await watchCsp(ctx, page);
    const { code } = await (await ConsoleSessions.open(srv.rt)).createLoginCode('browser-test');
    await page.goto(`${srv.origin}/console/login#code=${code}`);
    await page.waitForURL(`${srv.origin}/console/`);
  }, 60_000);

  afterAll(async () => {
    await agent?.close();
    await browser?.close();
    await sshd?.dispose();
    await srv?.close();
  });

  it('watch, take over, type, and return to the agent with a note', async () => {
    const id = await openSession();
    expect((await send(id, 'echo agent-visible-$((1+1))\n', 'agent-visible-2')).isError).toBeFalsy();
    const handoff = await agent.client.callTool({
      name: 'ssh_session_handoff',
      arguments: { id, message: 'please type the sudo password' },
    });
    expect(handoff.isError, text(handoff)).toBeFalsy();

    await page.goto(`${srv.origin}/console/sessions`);
    expect(await page.locator('tbody').textContent()).toContain('waiting for a person');
    await page.locator(`a[href="/console/sessions/${id}"]`).first().click();
    await page.waitForURL(`${srv.origin}/console/sessions/${id}`);
    await expect.poll(terminalText, { timeout: 10_000 }).toContain('agent-visible-2');
    await expect.poll(() => page.locator('#live').textContent()).toBe('live');

    await page.locator('form[data-takeover] button').click();
    await page.waitForURL(/\?n=session-taken$/);
    await expect
      .poll(() => page.locator('#term-state').textContent(), { timeout: 10_000 })
      .toMatch(/^person in control \(console:/);
    await page.locator('#terminal').click();
    await page.keyboard.type('echo person-typed-$((6*7))');
    await page.keyboard.press('Enter');
    await expect.poll(terminalText, { timeout: 10_000 }).toContain('person-typed-42');

    // The agent meanwhile: refused, and reading only the mark.
    const refused = await send(id, 'echo agent-during\n');
    expect(refused.isError).toBe(true);
    expect(text(refused)).toContain('human_control');
    const during = await agent.client.callTool({ name: 'ssh_session_read', arguments: { id, since: 0 } });
    expect(text(during)).toContain('[person in control, output withheld]');
    expect(text(during)).not.toContain('person-typed');

    await page.fill('form.return input[name=note]', 'password entered; go on');
    await page.locator('form.return button').click();
    await page.waitForURL(/\?n=session-returned$/);
    await expect.poll(() => page.locator('#term-state').textContent(), { timeout: 10_000 }).toBe('agent in control');
    const after = await agent.client.callTool({ name: 'ssh_session_read', arguments: { id } });
    expect(text(after)).toContain('[control returned by a person: password entered; go on]');
    expect(text(after)).not.toContain('person-typed');
    const again = await send(id, 'echo agent-again\n', 'agent-again');
    expect(again.isError, text(again)).toBeFalsy();
    expect(text(again)).not.toContain('person-typed');
    // The watcher sees the agent's work live.
    await expect.poll(terminalText, { timeout: 10_000 }).toContain('agent-again');

    for (const outcome of ['terminal_opened', 'session_takeover', 'session_returned'])
      expect((await searchAudit(srv.rt.store, { tool: 'console', outcome })).length, outcome).toBeGreaterThan(0);
    expect(await csp.violations()).toEqual([]);
  });

  it('a page on another localhost port cannot get a ticket or open the terminal socket, even with a valid ticket', async () => {
    const id = await openSession();
    // A ticket as the console's own page would get it (the attacker is handed a leaked one).
    const cookie = (await ctx.cookies(`${srv.origin}/console/`)).map((c) => `${c.name}=${c.value}`).join('; ');
    await page.goto(`${srv.origin}/console/sessions/${id}`);
    const csrf = (await page.getAttribute('body', 'data-csrf'))!;
    const issued = await srv.call('POST', `/console/sessions/${id}/ticket`, { cookie, form: { csrf } });
    const ticket = (JSON.parse(issued.body) as { ticket: string }).ticket;
    const wsUrl = `ws://localhost:${srv.port}/console/sessions/${id}/terminal?ticket=${ticket}`;
    const attacker = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end(`<!doctype html><script>
        window.results = {};
        fetch('${srv.origin}/console/sessions/${id}/ticket', { method: 'POST', credentials: 'include',
          headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'csrf=guess' })
          .then((r) => (window.results.ticket = 'read ' + r.status), () => (window.results.ticket = 'blocked'));
        const ws = new WebSocket(${JSON.stringify(wsUrl)});
        ws.onopen = () => { window.results.socket = 'open'; ws.send(JSON.stringify({ type: 'input', data: 'echo pwned\\r' })); };
        ws.onmessage = () => (window.results.frames = 'read');
        ws.onclose = () => (window.results.socket = window.results.socket || 'refused');
      </script>`);
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
    const attackerOrigin = `http://localhost:${(attacker.address() as AddressInfo).port}`;
    const p = await ctx.newPage(); // same browser, logged in to the console
    try {
      await p.goto(`${attackerOrigin}/`);
      await expect
        .poll(() => p.evaluate('window.results'), { timeout: 10_000 })
        .toMatchObject({ ticket: 'blocked', socket: 'refused' });
      expect(await p.evaluate('window.results.frames')).toBeUndefined();
      await expect
        .poll(async () =>
          (await searchAudit(srv.rt.store, { tool: 'console', outcome: 'refused:origin', limit: 20 })).some(
            (r) => String(r.detail?.path).endsWith('/terminal') && r.detail?.origin === attackerOrigin,
          ),
        )
        .toBe(true);
    } finally {
      await p.close();
      attacker.close();
    }
  });

  it('with a passkey registered, taking over needs a touch bound to that session', async () => {
    const id = await openSession();
    // Opened first: once a person holds a session on box, this token opens none there.
    const other = await openSession();
    await addVirtualAuthenticator(ctx, page);
    const { code: setup } = await (await ConsoleSessions.open(srv.rt)).createPasskeySetupCode('browser-test');
    await page.goto(`${srv.origin}/console/passkeys`);
    await page.fill('#passkey-setup', setup);
    await page.fill('#passkey-label', 'virtual key');
    await page.click('#add-passkey button');
    await page.waitForURL(/\/console\/passkeys\?n=passkey-added$/);

    // A cookie alone (the form posted without a passkey answer) takes nothing over.
    const cookie = (await ctx.cookies(`${srv.origin}/console/`)).map((c) => `${c.name}=${c.value}`).join('; ');
    await page.goto(`${srv.origin}/console/sessions/${id}`);
    const csrf = (await page.getAttribute('body', 'data-csrf'))!;
    const bare = await srv.call('POST', `/console/sessions/${id}/takeover`, { cookie, form: { csrf, assertion: '' } });
    expect(bare.headers.location).toBe(`/console/sessions/${id}?n=passkey-failed`);
    expect((await send(id, 'echo still-agent\n', 'still-agent')).isError).toBeFalsy();

    let posted = '';
    page.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith(`/console/sessions/${id}/takeover`)) posted = r.postData() ?? '';
    });
    await page.locator('form[data-takeover] button').click();
    await page.waitForURL(/\?n=session-taken$/);
    const record = (await searchAudit(srv.rt.store, { tool: 'console', outcome: 'session_takeover' })).at(-1)!;
    expect(record.detail).toMatchObject({ sshSession: id, passkey: expect.stringContaining('virtual key') });
    // The touch was bound to this session: replayed for another, or again, it takes nothing.
    const assertion = new URLSearchParams(posted).get('assertion')!;
    const replay = await srv.call('POST', `/console/sessions/${other}/takeover`, { cookie, form: { csrf, assertion } });
    expect(replay.headers.location).toBe(`/console/sessions/${other}?n=passkey-failed`);
    // The replay took nothing: `other` is still the agent's (its sends wait only while box is held).
    expect(await srv.rt.sessionControl().then(async (c) => (await c.info(other))?.control)).toBe('agent');
    expect(await csp.violations()).toEqual([]);
  });
});
