/**
 * The console's sessions page with a real sshd: an agent's session over MCP shows with its token,
 * its request for a person (ssh_session_handoff) shows on the page and as the inbox's banner,
 * escaped; Terminate ends it for the agent; Terminate-and-revoke also revokes its token; audited.
 * The live terminal: its WebSocket needs the console's own Host and Origin, a session cookie and a
 * one-time ticket; a person who takes over types into the session while the agent is refused with
 * human_control and never reads what the person typed or saw; Return to AI hands back a note.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAudit } from '../../src/audit/index.js';
import { httpClient } from '../helpers/mcp-client.js';
import { requires } from '../helpers/requires.js';
import { addSshTarget, startSshd, type SshdHandle } from '../helpers/sshd.js';
import {
  adminApi,
  consoleServer,
  csrfOf,
  screenHas,
  sessionCookieOf,
  terminalSocket,
  terminalTicket,
  type ConsoleServer,
  type TerminalOptions,
} from './helpers.js';

describe.skipIf(!(await requires('sshd', 'console sessions')))('console sessions', () => {
  let srv: ConsoleServer;
  let sshd: SshdHandle;
  let cookie: string;
  let csrf: string;
  const agentToken = async (name: string) =>
    (
      await srv.rt.tokens.create({
        name,
        grants: [
          'tool:ssh_session_open',
          'tool:ssh_session_send',
          'tool:ssh_session_read',
          'tool:ssh_session_handoff',
          'target:box',
        ],
      })
    ).token;
  const open = async (token: string) => {
    const { client, close } = await httpClient(`http://127.0.0.1:${srv.port}`, token, 'modern');
    const args = { target: 'box', reason: 'debug' };
    // Opening a session needs a person by default (ssh.session_open: approve): approved out of band.
    const asked = await client.callTool({ name: 'ssh_session_open', arguments: args });
    const approval = (asked.structuredContent as { error: { details: { approvalId: string } } }).error.details
      .approvalId;
    await srv.rt.approvals.decide(approval, 'approved', { by: 'test', channel: 'cli' });
    const r = await client.callTool({ name: 'ssh_session_open', arguments: { ...args, approval_id: approval } });
    expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
    return { client, close, id: (r.structuredContent as { id: string }).id };
  };

  const terminal = (id: string, o: TerminalOptions = {}) => terminalSocket(srv, id, { cookie, ...o });
  const ticket = (id: string, c = cookie, token = csrf) => terminalTicket(srv, id, c, token);

  beforeAll(async () => {
    srv = await consoleServer({ console: { pollMs: 100 } });
    sshd = await startSshd({ loginShell: 'bash' });
    await addSshTarget(srv.rt, sshd);
    const admin = (await srv.rt.tokens.create({ name: 'ops-admin', admin: true })).token;
    cookie = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: admin } }));
    csrf = csrfOf((await srv.call('GET', '/console/sessions', { cookie })).body);
  }, 60_000);
  afterAll(async () => {
    await sshd?.dispose();
    await srv?.close();
  });

  it('a handoff shows on the sessions page and in the inbox, escaped; Terminate ends the session for the agent', async () => {
    const { client, close, id } = await open(await agentToken('sess-agent'));
    try {
      const h = await client.callTool({
        name: 'ssh_session_handoff',
        arguments: { id, message: 'please type the <b>sudo</b> password' },
      });
      expect(h.isError, JSON.stringify(h.content)).toBeFalsy();
      expect(JSON.stringify(h.content)).toContain('Do not type the secret');
      const page = await srv.call('GET', '/console/sessions', { cookie });
      expect(page.body).toContain(id);
      expect(page.body).toContain('sess-agent');
      expect(page.body).toContain('please type the &lt;b&gt;sudo&lt;/b&gt; password');
      const inbox = await srv.call('GET', '/console/', { cookie });
      expect(inbox.body).toContain(`asks a person to take over session ${id}`);
      const ended = await srv.call('POST', `/console/sessions/${id}/terminate`, { cookie, form: { csrf } });
      expect(ended.headers.location).toBe('/console/sessions?n=session-ended');
      const after = await client.callTool({ name: 'ssh_session_send', arguments: { id, input: 'echo hi\n' } });
      expect(after.isError).toBe(true);
      expect(JSON.stringify(after.content)).toMatch(/session_not_found/);
      expect((await searchAudit(srv.rt.store, { tool: 'console', outcome: 'session_terminated' })).length).toBe(1);
    } finally {
      await close();
    }
  });

  it('the terminal socket needs the console’s Host and Origin, a session and a one-time ticket of that session', async () => {
    const { close, id } = await open(await agentToken('term-refusals'));
    try {
      const t = await ticket(id);
      await expect(terminal(id, { ticket: t, origin: `http://localhost:${srv.port + 1}` })).rejects.toThrow(
        'status 403',
      );
      await expect(terminal(id, { ticket: t, origin: 'null' })).rejects.toThrow('status 403');
      await expect(terminal(id, { ticket: t, host: 'evil.example:80' })).rejects.toThrow('status 421');
      await expect(terminal(id, { ticket: t, cookie: '' })).rejects.toThrow('status 401');
      await expect(terminal(id, { ticket: 'made-up' })).rejects.toThrow('status 403');
      await expect(terminal(id, {})).rejects.toThrow('status 403');
      // Another console session's ticket does not open this one's socket.
      const admin2 = (await srv.rt.tokens.create({ name: 'term-admin-2', admin: true })).token;
      const cookie2 = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: admin2 } }));
      const csrf2 = csrfOf((await srv.call('GET', '/console/sessions', { cookie: cookie2 })).body);
      const other = await ticket(id, cookie2, csrf2);
      await expect(terminal(id, { ticket: other })).rejects.toThrow('status 403');
      // A ticket for another SSH session does not open this one.
      const second = await open(await agentToken('term-refusals-2'));
      try {
        await expect(terminal(id, { ticket: await ticket(second.id) })).rejects.toThrow('status 403');
      } finally {
        await second.close();
      }
      // The refused Origin above did not spend the ticket; it opens once, then never again.
      const ok = await terminal(id, { ticket: t });
      ok.ws.close();
      await expect(terminal(id, { ticket: t })).rejects.toThrow('status 403');
      // A plain GET is not a socket, and the ticket route is CSRF-checked.
      expect((await srv.call('GET', `/console/sessions/${id}/terminal`, { cookie })).status).toBe(426);
      expect((await srv.call('POST', `/console/sessions/${id}/ticket`, { cookie, form: { csrf: 'x' } })).status).toBe(
        403,
      );
      const refusals = await searchAudit(srv.rt.store, { tool: 'console', outcome: 'refused:origin' });
      expect(refusals.some((r) => String(r.detail?.path).endsWith('/terminal'))).toBe(true);
    } finally {
      await close();
    }
  });

  it('watch, take over, type, return with a note: the agent is refused meanwhile and never reads the person’s part', async () => {
    const { client, close, id } = await open(await agentToken('term-agent'));
    try {
      const before = await client.callTool({
        name: 'ssh_session_send',
        arguments: { id, input: 'echo agent-was-here\n', wait_for: 'agent-was-here' },
      });
      expect(before.isError, JSON.stringify(before.content)).toBeFalsy();
      const page = await srv.call('GET', `/console/sessions/${id}`, { cookie });
      expect(page.body).toContain('id="terminal"');
      expect(page.body).toContain('Take over');

      const t = await terminal(id, { ticket: await ticket(id) });
      expect(await t.next((m) => m.type === 'state')).toMatchObject({ control: 'agent', mine: false });
      await t.next(screenHas('agent-was-here'));
      // Typing before taking over writes nothing.
      t.ws.send(JSON.stringify({ type: 'input', data: 'echo not-in-control\r' }));

      const taken = await srv.call('POST', `/console/sessions/${id}/takeover`, { cookie, form: { csrf } });
      expect(taken.headers.location).toBe(`/console/sessions/${id}?n=session-taken`);
      expect(await t.next((m) => m.type === 'state' && m.mine === true)).toMatchObject({ control: 'person' });
      t.ws.send(JSON.stringify({ type: 'input', data: 'echo person-typed-$((6*7))\r' }));
      await t.next(screenHas('person-typed-42'));

      const refused = await client.callTool({ name: 'ssh_session_send', arguments: { id, input: 'echo x\n' } });
      expect(refused.isError).toBe(true);
      expect(JSON.stringify(refused.content)).toContain('human_control');
      const read = await client.callTool({ name: 'ssh_session_read', arguments: { id } });
      const during = read.structuredContent as { output: string; control: string };
      expect(during.control).toBe('person');
      expect(JSON.stringify(read.content)).toContain('[person in control, output withheld]');
      expect(JSON.stringify(read.content)).not.toContain('person-typed');

      const back = await srv.call('POST', `/console/sessions/${id}/return`, {
        cookie,
        form: { csrf, note: 'done: <b>sudo</b> accepted' },
      });
      expect(back.headers.location).toBe(`/console/sessions/${id}?n=session-returned`);
      expect(await t.next((m) => m.type === 'state' && m.control === 'agent')).toMatchObject({ mine: false });
      const after = await client.callTool({ name: 'ssh_session_read', arguments: { id, since: 0 } });
      const text = JSON.stringify(after.content);
      expect(text).toContain('[control returned by a person: done: <b>sudo</b> accepted]');
      expect(text).not.toContain('person-typed');
      expect(text).not.toContain('not-in-control');
      const again = await client.callTool({
        name: 'ssh_session_send',
        arguments: { id, input: 'echo agent-again\n', wait_for: 'agent-again' },
      });
      expect(again.isError, JSON.stringify(again.content)).toBeFalsy();

      for (const outcome of ['terminal_opened', 'session_takeover', 'session_returned'])
        expect((await searchAudit(srv.rt.store, { tool: 'console', outcome })).length, outcome).toBeGreaterThan(0);
      const agentRefused = await searchAudit(srv.rt.store, { tool: 'ssh_session_send', outcome: 'human_control' });
      expect(agentRefused.length).toBeGreaterThan(0);

      // Logging out ends the socket.
      const admin3 = (await srv.rt.tokens.create({ name: 'term-admin-3', admin: true })).token;
      const c3 = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: admin3 } }));
      const csrf3 = csrfOf((await srv.call('GET', '/console/sessions', { cookie: c3 })).body);
      const t3 = await terminal(id, { ticket: await ticket(id, c3, csrf3), cookie: c3 });
      await t3.next((m) => m.type === 'state');
      await srv.call('POST', '/console/logout', { cookie: c3, form: { csrf: csrf3 } });
      // The next keystroke after the session ended closes the socket (the session is re-checked).
      await new Promise((r) => setTimeout(r, 2100));
      t3.ws.send(JSON.stringify({ type: 'input', data: 'x' }));
      expect(await t3.closed).toBe(1008);
      t.ws.close();
    } finally {
      await close();
    }
  });

  it('the admin API does the same for scripts: list, take over, type, read the screen, return; the agent waits meanwhile', async () => {
    const admin = (await srv.rt.tokens.create({ name: 'api-admin', admin: true })).token;
    const api = adminApi(srv, admin);
    const { client, close, id } = await open(await agentToken('api-agent'));
    try {
      const list = await api('GET', '/admin/sessions');
      expect((list.json.sessions as { id: string }[]).map((x) => x.id)).toContain(id);
      expect((await api('POST', `/admin/sessions/${id}/input`, { data: 'echo x\r' })).status).toBe(409);
      const taken = await api('POST', `/admin/sessions/${id}/takeover`, {});
      expect(taken.json.info).toMatchObject({ control: 'person', controlledBy: { label: 'api:api-admin' } });
      expect((await api('POST', `/admin/sessions/${id}/input`, { data: 'echo api-typed-$((2*21))\r' })).status).toBe(
        200,
      );
      await expect
        .poll(
          async () => ((await api('GET', `/admin/sessions/${id}`)).json.screen as { rows: string[] }).rows.join('\n'),
          { timeout: 10_000 },
        )
        .toContain('api-typed-42');
      const refused = await client.callTool({ name: 'ssh_session_send', arguments: { id, input: 'echo no\n' } });
      expect(JSON.stringify(refused.content)).toContain('human_control');
      await api('POST', `/admin/sessions/${id}/return`, { note: 'scripted step done' });
      const read = await client.callTool({ name: 'ssh_session_read', arguments: { id } });
      expect(JSON.stringify(read.content)).toContain('[control returned by a person: scripted step done]');
      expect(JSON.stringify(read.content)).not.toContain('api-typed');
      expect((await searchAudit(srv.rt.store, { tool: 'admin_api', outcome: 'session_takeover' })).length).toBe(1);
      expect((await api('POST', `/admin/sessions/${id}/terminate`, {})).status).toBe(200);
      expect((await api('GET', `/admin/sessions/${id}`)).status).toBe(404);
    } finally {
      await close();
    }
  });

  it('Terminate and revoke ends the session and the token', async () => {
    const token = await agentToken('sess-revoked');
    const { close, id } = await open(token);
    try {
      const r = await srv.call('POST', `/console/sessions/${id}/terminate-revoke`, { cookie, form: { csrf } });
      expect(r.headers.location).toBe('/console/sessions?n=session-revoked');
      await new Promise((res) => setTimeout(res, 1100));
      await expect(srv.rt.tokens.authenticate(token)).rejects.toMatchObject({ code: 'unauthenticated' });
      expect((await srv.call('POST', `/console/sessions/${id}/terminate`, { cookie, form: { csrf } })).status).toBe(
        404,
      );
    } finally {
      await close();
    }
  });

  it('targets page: reads an SSH target’s host key and pins it only when the person confirmed the key still offered', async () => {
    await srv.rt.targets.add('ssh', 'fresh', {
      host: '127.0.0.1',
      port: sshd.port,
      user: sshd.user,
      key: 'vault:ops/box.key',
      passphrase: null,
      hostKey: null,
    });
    const page = await srv.call('GET', '/console/targets', { cookie });
    expect(page.body).toContain('host key not pinned');
    const read = await srv.call('POST', '/console/targets/fresh/hostkey', { cookie, form: { csrf } });
    expect(read.body).toContain(sshd.hostKeyFingerprint);
    expect(read.body).toContain('No key is pinned yet');
    const unconfirmed = await srv.call('POST', '/console/targets/fresh/pin', {
      cookie,
      form: { csrf, host_key: sshd.hostKeyFingerprint },
    });
    expect(unconfirmed.status).toBe(400);
    const wrong = await srv.call('POST', '/console/targets/fresh/pin', {
      cookie,
      form: { csrf, host_key: 'SHA256:' + 'A'.repeat(43), confirmed: 'yes' },
    });
    expect(wrong.status).toBeGreaterThanOrEqual(400);
    expect((await srv.rt.targets.get('fresh')).config).toMatchObject({ hostKey: null });
    const ok = await srv.call('POST', '/console/targets/fresh/pin', {
      cookie,
      form: { csrf, host_key: sshd.hostKeyFingerprint, confirmed: 'yes' },
    });
    expect(ok.headers.location).toBe('/console/targets?n=host-key-pinned');
    expect((await srv.rt.targets.get('fresh')).config).toMatchObject({ hostKey: sshd.hostKeyFingerprint });
    expect((await searchAudit(srv.rt.store, { tool: 'console', outcome: 'host_key_pinned' })).length).toBe(1);
    // Test connection: with the pinned key and the target's credential, as an agent would. The key
    // is bound to target:box, so the new target cannot use it (the test says so).
    const bound = await srv.call('POST', '/console/targets/fresh/test', { cookie, form: { csrf } });
    expect(bound.body).toContain('fresh: vault_handle_refused');
    const tested = await srv.call('POST', '/console/targets/box/test', { cookie, form: { csrf } });
    expect(tested.body).toContain(`box: connected as ${sshd.user} with the pinned host key`);
    const last = (await searchAudit(srv.rt.store, { tool: 'console', outcome: 'target_tested' })).at(-1)!;
    expect(last.detail).toMatchObject({ target: 'box', ok: true });
  });
});
