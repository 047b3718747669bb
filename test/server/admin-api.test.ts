/**
 * The admin JSON API for what the console does: admin token only, agent tokens never made into
 * admins or changed when they are admins, every change audited, listings without values.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAudit } from '../../src/audit/index.js';
import { EnrollmentCodes } from '../../src/gate/index.js';
import { consoleServer, sessionCookieOf, type ConsoleServer } from '../console/helpers.js';

describe('admin JSON API', () => {
  let srv: ConsoleServer;
  let admin: string;
  let agent: string;
  const api = async (
    method: 'GET' | 'POST',
    path: string,
    o: { token?: string; body?: unknown; cookie?: string } = {},
  ) => {
    const r = await request(`http://127.0.0.1:${srv.port}${path}`, {
      method,
      headers: {
        ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
        ...(o.cookie ? { cookie: o.cookie } : {}),
        ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: o.body !== undefined ? JSON.stringify(o.body) : undefined,
    });
    return {
      status: r.statusCode,
      body: (await r.body.json()) as Record<string, unknown> & { error?: { code: string } },
    };
  };
  beforeAll(async () => {
    srv = await consoleServer();
    admin = (await srv.rt.tokens.create({ name: 'api-admin', admin: true })).token;
    agent = (await srv.rt.tokens.create({ name: 'api-agent', grants: ['tool:*'] })).token;
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('needs an admin token: none, an agent token or a console cookie get nothing', async () => {
    expect((await api('GET', '/admin/tokens')).status).toBe(401);
    expect((await api('GET', '/admin/tokens', { token: agent })).status).toBe(403);
    const cookie = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: admin } }));
    expect((await api('GET', '/admin/tokens', { cookie })).status).toBe(401);
  });

  it('tokens: create an agent token, rotate and revoke it, audited; admin tokens are left alone', async () => {
    const made = await api('POST', '/admin/tokens', {
      token: admin,
      body: { name: 'scripted', grants: ['tool:discover'], approval: 'out-of-band', expires: '7d', admin: true },
    });
    expect(made.status).toBe(200);
    const info = made.body.info as { admin: boolean; grants: string[]; name: string };
    expect(info).toMatchObject({ name: 'scripted', admin: false, grants: ['tool:discover'] });
    expect((await srv.rt.tokens.authenticate(made.body.token as string)).tokenName).toBe('scripted');
    const list = await api('GET', '/admin/tokens', { token: admin });
    const names = (list.body.tokens as { name: string; hash?: string }[]).map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['api-admin', 'api-agent', 'scripted']));
    expect(JSON.stringify(list.body)).not.toContain(made.body.token as string);
    const rotated = await api('POST', '/admin/tokens/scripted/rotate', { token: admin });
    expect(rotated.body.token).not.toBe(made.body.token);
    expect((await api('POST', '/admin/tokens/scripted/revoke', { token: admin })).status).toBe(200);
    expect((await api('POST', '/admin/tokens/api-admin/revoke', { token: admin })).status).toBe(403);
    expect((await api('POST', '/admin/tokens/scripted/delete', { token: admin })).status).toBe(404);
    const bad = await api('POST', '/admin/tokens', { token: admin, body: { name: 'x', grants: 'tool:*' } });
    expect(bad.status).toBe(400);
    const outcomes = (await searchAudit(srv.rt.store, { tool: 'admin_api', limit: 10 })).map((r) => r.outcome);
    expect(outcomes).toEqual(expect.arrayContaining(['token_created', 'token_rotated', 'token_revoked']));
  });

  it('audit: the console’s filters, pages back with nextBefore, verify', async () => {
    for (let i = 0; i < 5; i++) await srv.rt.audit.append({ phase: 'event', tool: 'api-page', outcome: `p${i}` });
    const first = await api('GET', '/admin/audit?tool=api-page&limit=3', { token: admin });
    expect((first.body.records as { outcome: string }[]).map((r) => r.outcome)).toEqual(['p2', 'p3', 'p4']);
    const next = await api('GET', `/admin/audit?tool=api-page&limit=3&before=${first.body.nextBefore}`, {
      token: admin,
    });
    expect((next.body.records as { outcome: string }[]).map((r) => r.outcome)).toEqual(['p0', 'p1']);
    expect(next.body.nextBefore).toBeUndefined();
    expect((await api('GET', '/admin/audit?since=yesterday', { token: admin })).status).toBe(400);
    const v = await api('POST', '/admin/audit/verify', { token: admin });
    expect(v.body).toMatchObject({ ok: true });
  });

  it('targets and vault list names and bindings, never a value; enrollment codes redeem once', async () => {
    const secret = 'api-vault-value-9c2e1f';
    await srv.rt.vault.createVault('apiv');
    await srv.rt.vault.setField('apiv/k.token', secret, { bind: ['target:nowhere'] });
    const vault = await api('GET', '/admin/vault', { token: admin });
    expect(JSON.stringify(vault.body)).toContain('apiv');
    expect(JSON.stringify(vault.body)).not.toContain(secret);
    expect((await api('GET', '/admin/targets', { token: admin })).body).toMatchObject({ targets: [] });
    const e = await api('POST', '/admin/enrollments', {
      token: admin,
      body: { name: 'enrolled-by-api', grants: ['tool:discover'], client: 'cursor' },
    });
    expect(e.body.command).toMatch(/^gatehouse connect cursor --enroll ge_/);
    const codes = new EnrollmentCodes(srv.rt.store, await srv.rt.keyring.internalKey('store-integrity'), srv.rt.tokens);
    expect((await codes.redeem(e.body.code as string)).info.name).toBe('enrolled-by-api');
    expect(
      (await api('POST', '/admin/enrollments', { token: admin, body: { name: 'x', client: 'emacs' } })).status,
    ).toBe(400);
  });
});
