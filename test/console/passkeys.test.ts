/**
 * Passkey rules that need no browser (the ceremonies themselves run in test/console/browser.test.ts
 * against Chromium's virtual authenticator): which origins can use passkeys, and that a passkey row
 * written into the table without the master key is not a passkey.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Passkeys, relyingParty } from '../../src/console/index.js';
import { consoleServer, type ConsoleServer } from './helpers.js';

describe('console passkeys (no browser)', () => {
  let srv: ConsoleServer;
  beforeAll(async () => {
    srv = await consoleServer();
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('the relying party is the console host name; IP addresses cannot use passkeys', () => {
    expect(relyingParty('http://localhost:8080')).toEqual({ origin: 'http://localhost:8080', id: 'localhost' });
    expect(relyingParty('http://ops.localhost:8080')).toEqual({
      origin: 'http://ops.localhost:8080',
      id: 'ops.localhost',
    });
    expect(relyingParty('http://127.0.0.1:8080')).toBeNull();
    expect(relyingParty('http://[::1]:8080')).toBeNull();
  });

  it('a passkey row written without the master key is never usable, and makes passkeys required (fail closed)', async () => {
    const keys = await Passkeys.open(srv.rt);
    await srv.rt.store.db
      .insertInto('console_passkeys')
      .values({
        credential_id: 'planted',
        label: 'planted',
        public_key: 'AAAA',
        transports: 'internal',
        created_by: 'sql',
        created_at: Date.now(),
        counter: 0,
        last_used_at: null,
        mac: '0'.repeat(64),
      })
      .execute();
    expect(await keys.list()).toEqual([]);
    // Rows a database writer adds never turn the requirement off (crowding real ones out of view
    // once did): any row means approvals need a passkey, and an unsigned one can answer none.
    expect(await keys.required()).toBe(true);
    await srv.rt.store.db.deleteFrom('console_passkeys').execute();
    expect(await keys.required()).toBe(false);
  });

  it('challenges are 57 random-looking bytes, each one different, bound to what they are for', () => {
    return Passkeys.open(srv.rt).then((keys) => {
      const a = keys.challenge('approve', 'ap_1\u0000d1', 'session');
      const b = keys.challenge('approve', 'ap_1\u0000d1', 'session');
      expect(a).toMatch(/^[A-Za-z0-9_-]{76}$/);
      expect(a).not.toBe(b);
    });
  });

  it('the options route refuses an unknown purpose and an approval that is not pending, in JSON', async () => {
    const admin = (await srv.rt.tokens.create({ name: 'pk-admin', admin: true })).token;
    const login = await srv.call('POST', '/console/login', { form: { token: admin } });
    const cookie = /^(gh_console=[^;]+)/.exec(String(login.headers['set-cookie']))![1]!;
    const csrf = /data-csrf="([^"]+)"/.exec((await srv.call('GET', '/console/', { cookie })).body)![1]!;
    const bad = await srv.call('POST', '/console/passkeys/options', { cookie, form: { csrf, purpose: 'anything' } });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ code: 'invalid_input' });
    const none = await srv.call('POST', '/console/passkeys/options', {
      cookie,
      form: { csrf, purpose: 'approve', id: 'ap_aaaaaaaaaaaaaaaaaaaaaaaaaa' },
    });
    expect(none.status).toBe(404);
    // From 127.0.0.1 (an IP) the console says passkeys need its name.
    const ip = await srv.call('POST', '/console/passkeys/options', {
      cookie,
      host: `127.0.0.1:${srv.port}`,
      origin: `http://127.0.0.1:${srv.port}`,
      form: { csrf, purpose: 'register' },
    });
    expect(ip.status).toBe(400);
    expect(JSON.parse(ip.body).error).toContain('localhost');
  });
});

describe('console.require_passkeys', () => {
  let srv: ConsoleServer;
  beforeAll(async () => {
    srv = await consoleServer({ console: { requirePasskeys: true } });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('with the table emptied (or never filled), approving still needs a passkey', async () => {
    const admin = (await srv.rt.tokens.create({ name: 'cfg-admin', admin: true })).token;
    const agentId = (await srv.rt.tokens.create({ name: 'cfg-agent', grants: ['tool:*'] })).info.id;
    const login = await srv.call('POST', '/console/login', { form: { token: admin } });
    const cookie = /^(gh_console=[^;]+)/.exec(String(login.headers['set-cookie']))![1]!;
    const csrf = /data-csrf="([^"]+)"/.exec((await srv.call('GET', '/console/', { cookie })).body)![1]!;
    const { id } = await srv.rt.approvals.request({
      tokenId: agentId,
      tokenName: 'cfg-agent',
      tool: 'exec',
      target: null,
      summary: 'exec: rm -rf /x',
      operation: { kind: 'command', command: 'rm -rf /x' },
      digest: 'e'.repeat(64),
      rule: 'fs.rm-recursive',
      reason: 'recursive delete',
      matched: 'rm -rf',
      mode: 'out-of-band',
    });
    const r = await srv.call('POST', `/console/approvals/${id}/approve`, { cookie, form: { csrf } });
    expect(r.headers.location).toBe(`/console/approvals/${id}?n=passkey`);
    expect((await srv.rt.approvals.get(id))!.status).toBe('pending');
    // Denying never needs one.
    const d = await srv.call('POST', `/console/approvals/${id}/deny`, { cookie, form: { csrf, reason: 'no' } });
    expect(d.headers.location).toBe('/console/?n=denied');
  });
});
