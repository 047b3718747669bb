/**
 * The console reaches the sessions of a `gatehouse mcp` that a local client started over stdio
 * (how Claude Code runs Gatehouse): the built CLI's stdio server opens a session against the test
 * sshd, and the console of a `serve` on the same store lists it, shows its screen, lets a person
 * take over and type, refuses the stdio agent meanwhile (human_control) and hands back a note.
 * The stdio process's session endpoint refuses callers without the secret, and browsers.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAudit } from '../../src/audit/index.js';
import { sessionHostKey, signRequest } from '../../src/server/session-host.js';
import { assertBuilt } from '../helpers/cli.js';
import { stdioClient } from '../helpers/mcp-client.js';
import { requires } from '../helpers/requires.js';
import { addSshTarget, startSshd, type SshdHandle } from '../helpers/sshd.js';
import {
  consoleServer,
  csrfOf,
  screenHas,
  sessionCookieOf,
  terminalSocket,
  terminalTicket,
  type ConsoleServer,
} from '../console/helpers.js';

type Stdio = Awaited<ReturnType<typeof stdioClient>>;

describe.skipIf(!(await requires('sshd', 'console and stdio sessions')))('console and a stdio gatehouse mcp', () => {
  let srv: ConsoleServer;
  let sshd: SshdHandle;
  let agent: Stdio;
  let cookie: string;
  let csrf: string;
  const text = (r: { content?: unknown }) => JSON.stringify(r.content);

  beforeAll(async () => {
    assertBuilt();
    srv = await consoleServer();
    sshd = await startSshd({ loginShell: 'bash' });
    await addSshTarget(srv.rt, sshd);
    const token = (
      await srv.rt.tokens.create({
        name: 'claude',
        grants: ['tool:ssh_session_open', 'tool:ssh_session_send', 'tool:ssh_session_read', 'target:box'],
        approvalMode: 'out-of-band',
      })
    ).token;
    agent = await stdioClient({ ...srv.home.env, GATEHOUSE_TOKEN: token }, 'modern');
    const admin = (await srv.rt.tokens.create({ name: 'ops-admin', admin: true })).token;
    cookie = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: admin } }));
    csrf = csrfOf((await srv.call('GET', '/console/sessions', { cookie })).body);
  }, 60_000);
  afterAll(async () => {
    await agent?.close();
    await sshd?.dispose();
    await srv?.close();
  });

  it('lists, shows and takes over the stdio process’s session; the stdio agent is refused meanwhile', async () => {
    const args = { target: 'box', reason: 'deploy' };
    const asked = await agent.client.callTool({ name: 'ssh_session_open', arguments: args });
    const approval = (asked.structuredContent as { error: { details: { approvalId: string } } }).error.details
      .approvalId;
    await srv.rt.approvals.decide(approval, 'approved', { by: 'test', channel: 'cli' });
    const opened = await agent.client.callTool({
      name: 'ssh_session_open',
      arguments: { ...args, approval_id: approval },
    });
    expect(opened.isError, text(opened)).toBeFalsy();
    const id = (opened.structuredContent as { id: string }).id;
    const sent = await agent.client.callTool({
      name: 'ssh_session_send',
      arguments: { id, input: 'echo from-stdio-$((3*3))\n', wait_for: 'from-stdio-9' },
    });
    expect(sent.isError, text(sent)).toBeFalsy();

    // This server holds no session of its own: the one listed lives in the stdio process.
    const list = await srv.call('GET', '/console/sessions', { cookie });
    expect(list.body).toContain(id);
    expect(list.body).toContain('claude');
    expect(list.body).toContain('echo from-stdio-$((3*3))');

    const t = await terminalSocket(srv, id, { cookie, ticket: await terminalTicket(srv, id, cookie, csrf) });
    await t.next(screenHas('from-stdio-9'));
    const taken = await srv.call('POST', `/console/sessions/${id}/takeover`, { cookie, form: { csrf } });
    expect(taken.headers.location).toBe(`/console/sessions/${id}?n=session-taken`);
    await t.next((m) => m.type === 'state' && m.mine === true);
    t.ws.send(JSON.stringify({ type: 'input', data: 'echo typed-in-console-$((5*5))\r' }));
    await t.next(screenHas('typed-in-console-25'));

    const refused = await agent.client.callTool({ name: 'ssh_session_send', arguments: { id, input: 'echo no\n' } });
    expect(refused.isError).toBe(true);
    expect(text(refused)).toContain('human_control');
    const during = await agent.client.callTool({ name: 'ssh_session_read', arguments: { id, since: 0 } });
    expect(text(during)).toContain('[person in control, output withheld]');
    expect(text(during)).not.toContain('typed-in-console');

    await srv.call('POST', `/console/sessions/${id}/return`, { cookie, form: { csrf, note: 'all yours' } });
    await t.next((m) => m.type === 'state' && m.control === 'agent');
    const after = await agent.client.callTool({ name: 'ssh_session_read', arguments: { id } });
    expect(text(after)).toContain('[control returned by a person: all yours]');
    const again = await agent.client.callTool({
      name: 'ssh_session_send',
      arguments: { id, input: 'echo back-to-agent\n', wait_for: 'back-to-agent' },
    });
    expect(again.isError, text(again)).toBeFalsy();
    await t.next(screenHas('back-to-agent'));
    expect((await searchAudit(srv.rt.store, { tool: 'console', outcome: 'session_takeover' })).length).toBe(1);

    // Terminate from the console ends it in the stdio process.
    const ended = await srv.call('POST', `/console/sessions/${id}/terminate`, { cookie, form: { csrf } });
    expect(ended.headers.location).toBe('/console/sessions?n=session-ended');
    expect(await t.closed).toBe(1000);
    const gone = await agent.client.callTool({ name: 'ssh_session_send', arguments: { id, input: 'echo x\n' } });
    expect(text(gone)).toContain('session_not_found');
  });

  it('the stdio process’s session endpoint takes only requests signed for it: fresh, once, and not from a browser', async () => {
    const rows = (await srv.rt.store.db.selectFrom('session_hosts').select(['id', 'url']).execute()) as {
      id: string;
      url: string;
    }[];
    expect(rows.length).toBeGreaterThan(0);
    const key = await sessionHostKey(srv.rt.keyring);
    for (const { id, url } of rows) {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const get = (headers: Record<string, string>) => fetch(`${url}/sessions`, { headers });
      expect((await get({})).status).toBe(403);
      expect((await get({ authorization: 'Bearer guess' })).status).toBe(403);
      const signed = signRequest(key, id, 'GET', '/sessions', '');
      expect((await get(signed)).status).toBe(200);
      // The same signed request again (a replay) is refused; so is one signed for another host,
      // one too old, one for another path, and one a browser made (it has an Origin).
      expect((await get(signed)).status).toBe(403);
      expect((await get(signRequest(key, 'another-host', 'GET', '/sessions', ''))).status).toBe(403);
      expect((await get(signRequest(key, id, 'GET', '/sessions', '', Date.now() - 60_000))).status).toBe(403);
      expect((await get(signRequest(key, id, 'GET', '/sessions/x', ''))).status).toBe(403);
      expect(
        (await get({ ...signRequest(key, id, 'GET', '/sessions', ''), origin: 'http://localhost:1' })).status,
      ).toBe(403);
      const other = await fetch(`${url}/sessions`, {
        headers: signRequest(randomBytes(32), id, 'GET', '/sessions', ''),
      });
      expect(other.status).toBe(403);
    }
  });
});
