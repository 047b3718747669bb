/**
 * The console's sessions page with a real sshd: an agent's session over MCP shows with its token,
 * its request for a person (ssh_session_handoff) shows on the page and as the inbox's banner,
 * escaped; Terminate ends it for the agent; Terminate-and-revoke also revokes its token; audited.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAudit } from '../../src/audit/index.js';
import { httpClient } from '../helpers/mcp-client.js';
import { requires } from '../helpers/requires.js';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { consoleServer, csrfOf, sessionCookieOf, type ConsoleServer } from './helpers.js';

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

  beforeAll(async () => {
    srv = await consoleServer({ console: { pollMs: 100 } });
    sshd = await startSshd({ loginShell: 'bash' });
    await srv.rt.vault.createVault('ops');
    await srv.rt.vault.setField('ops/box.key', sshd.privateKey, { bind: ['target:box'] });
    await srv.rt.targets.add('ssh', 'box', {
      host: '127.0.0.1',
      port: sshd.port,
      user: sshd.user,
      key: 'vault:ops/box.key',
      passphrase: null,
      hostKey: sshd.hostKeyFingerprint,
    });
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
      expect(JSON.stringify(h.content)).toContain('do not type the secret');
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
