/**
 * The tokens, targets and vault pages over HTTP: a token made in the console works and is shown
 * once, rotate and revoke act at once and are audited, admin tokens are left to the server, a
 * passkey is needed to mint a secret when passkeys are required, and the inventory pages show
 * where credentials live, never what they are.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAudit } from '../../src/audit/index.js';
import { consoleServer, csrfOf, sessionCookieOf, type ConsoleServer } from './helpers.js';

describe('console tokens, targets and vault pages', () => {
  let srv: ConsoleServer;
  let cookie: string;
  let csrf: string;
  beforeAll(async () => {
    srv = await consoleServer();
    const admin = (await srv.rt.tokens.create({ name: 'ops-admin', admin: true })).token;
    cookie = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: admin } }));
    csrf = csrfOf((await srv.call('GET', '/console/tokens', { cookie })).body);
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('creates an agent token shown once, rotates it (the old secret stops working) and revokes it', async () => {
    const made = await srv.call('POST', '/console/tokens', {
      cookie,
      form: {
        csrf,
        client: 'claude-code',
        name: 'made-here',
        grants: 'tool:discover',
        approval: 'out-of-band',
        expires: '1d',
      },
    });
    expect(made.status).toBe(200);
    const token = /<pre>(gh_[A-Za-z0-9_-]{43})<\/pre>/.exec(made.body)![1]!;
    const p = await srv.rt.tokens.authenticate(token);
    expect(p.tokenName).toBe('made-here');
    expect(p.grants.map((g) => `${g.kind}:${g.name}`)).toEqual(['tool:discover']);
    // The list shows it without its secret.
    const list = await srv.call('GET', '/console/tokens', { cookie });
    expect(list.body).toContain('made-here');
    expect(list.body).not.toContain(token);
    const rotated = await srv.call('POST', '/console/tokens/made-here/rotate', { cookie, form: { csrf } });
    const fresh = /<pre>(gh_[A-Za-z0-9_-]{43})<\/pre>/.exec(rotated.body)![1]!;
    expect(fresh).not.toBe(token);
    await new Promise((r) => setTimeout(r, 1100)); // past the authentication cache
    await expect(srv.rt.tokens.authenticate(token)).rejects.toMatchObject({ code: 'unauthenticated' });
    expect((await srv.rt.tokens.authenticate(fresh)).tokenName).toBe('made-here');
    const revoked = await srv.call('POST', '/console/tokens/made-here/revoke', { cookie, form: { csrf } });
    expect(revoked.headers.location).toBe('/console/tokens?n=token-revoked');
    await new Promise((r) => setTimeout(r, 1100));
    await expect(srv.rt.tokens.authenticate(fresh)).rejects.toMatchObject({ code: 'unauthenticated' });
    const outcomes = (await searchAudit(srv.rt.store, { tool: 'console', limit: 20 })).map((r) => r.outcome);
    expect(outcomes).toEqual(expect.arrayContaining(['token_created', 'token_rotated', 'token_revoked']));
  });

  it('admin tokens are neither made, rotated nor revoked here; a bad scope is refused with what is wrong', async () => {
    expect((await srv.call('POST', '/console/tokens/ops-admin/rotate', { cookie, form: { csrf } })).status).toBe(403);
    expect((await srv.call('POST', '/console/tokens/ops-admin/revoke', { cookie, form: { csrf } })).status).toBe(403);
    const bad = await srv.call('POST', '/console/tokens', {
      cookie,
      form: { csrf, client: 'claude-code', name: 'x', grants: 'admin:everything' },
    });
    expect(bad.status).toBe(400);
    // The form has no admin field, and an extra one is ignored.
    const sneaky = await srv.call('POST', '/console/tokens', {
      cookie,
      form: { csrf, client: 'claude-code', name: 'sneaky', grants: 'tool:discover', admin: 'true' },
    });
    expect(sneaky.status).toBe(200);
    expect((await srv.rt.tokens.get('sneaky')).admin).toBe(false);
    // Without the CSRF token nothing is made.
    const forged = await srv.call('POST', '/console/tokens', {
      cookie,
      form: { client: 'claude-code', name: 'forged' },
    });
    expect(forged.status).toBe(403);
    await expect(srv.rt.tokens.get('forged')).rejects.toMatchObject({ code: 'not_found' });
  });

  it('targets and vault pages name where credentials live and never show a value; agent text is escaped', async () => {
    const secret = 'vault-value-never-shown-4f1c9e';
    await srv.rt.vault.createVault('ops');
    await srv.rt.vault.setField('ops/gh.token', secret, { bind: ['target:github'] });
    await srv.rt.targets.add(
      'http',
      'github',
      {
        baseUrl: 'https://api.github.com',
        auth: { kind: 'bearer' },
        secret: 'vault:ops/gh.token',
        allowPrivate: false,
        followRedirects: false,
      },
      '<img src=x onerror=alert(1)> GitHub',
    );
    const targets = await srv.call('GET', '/console/targets', { cookie });
    expect(targets.status).toBe(200);
    expect(targets.body).toContain('https://api.github.com');
    expect(targets.body).toContain('vault:ops/gh.token');
    expect(targets.body).toContain('&lt;img src=x onerror=alert(1)&gt; GitHub');
    expect(targets.body).not.toContain(secret);
    // Testing a target that cannot be reached says why, as a person reads it, and never the credential.
    const tested = await srv.call('POST', '/console/targets/github/test', { cookie, form: { csrf } });
    expect(tested.status).toBe(200);
    expect(tested.body).toMatch(/github: [a-z_]+: /);
    expect(tested.body).not.toContain(secret);
    const vault = await srv.call('GET', '/console/vault', { cookie });
    expect(vault.body).toContain('gh');
    expect(vault.body).toContain('target:github');
    expect(vault.body).not.toContain(secret);
    // A value replaced through the form is sealed, never shown, never in the audit record.
    const fresh = 'replaced-through-the-console-7c41e0';
    const set = await srv.call('POST', '/console/vault/set', {
      cookie,
      form: { csrf, vault: 'ops', item: 'gh', field: 'token', value: fresh },
    });
    expect(set.headers.location).toBe('/console/vault?n=secret-set');
    expect(await srv.rt.vault.openField('ops/gh.token')).toBe(fresh);
    expect((await srv.call('GET', '/console/vault?n=secret-set', { cookie })).body).not.toContain(fresh);
    const records = JSON.stringify(await searchAudit(srv.rt.store, { tool: 'console', limit: 50 }));
    expect(records).toContain('secret_set');
    expect(records).not.toContain(fresh);
    // Only existing items: a new item (and where it may be used) is a CLI act.
    const newItem = await srv.call('POST', '/console/vault/set', {
      cookie,
      form: { csrf, vault: 'ops', item: 'planted', field: 'token', value: 'x-value-123' },
    });
    expect(newItem.status).toBe(404);
  });
});

describe('console tokens with passkeys required', () => {
  let srv: ConsoleServer;
  beforeAll(async () => {
    srv = await consoleServer({ console: { requirePasskeys: true } });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('a cookie alone mints no secret: create and rotate need a passkey, revoke does not', async () => {
    const admin = (await srv.rt.tokens.create({ name: 'pk-admin', admin: true })).token;
    await srv.rt.tokens.create({ name: 'victim', grants: ['tool:discover'] });
    const cookie = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: admin } }));
    const csrf = csrfOf((await srv.call('GET', '/console/tokens', { cookie })).body);
    const create = await srv.call('POST', '/console/tokens', {
      cookie,
      form: { csrf, client: 'claude-code', name: 'minted', grants: 'tool:*' },
    });
    expect(create.headers.location).toBe('/console/tokens?n=passkey-failed');
    await expect(srv.rt.tokens.get('minted')).rejects.toMatchObject({ code: 'not_found' });
    const rotate = await srv.call('POST', '/console/tokens/victim/rotate', { cookie, form: { csrf } });
    expect(rotate.headers.location).toBe('/console/tokens?n=passkey-failed');
    const revoke = await srv.call('POST', '/console/tokens/victim/revoke', { cookie, form: { csrf } });
    expect(revoke.headers.location).toBe('/console/tokens?n=token-revoked');
    // Swapping a credential for one's own needs a passkey too.
    await srv.rt.vault.createVault('pkv');
    await srv.rt.vault.setField('pkv/api.token', 'original-value-123456', { bind: ['target:nowhere'] });
    const swap = await srv.call('POST', '/console/vault/set', {
      cookie,
      form: { csrf, vault: 'pkv', item: 'api', field: 'token', value: 'attacker-value-123456' },
    });
    expect(swap.headers.location).toBe('/console/vault?n=passkey-failed');
    expect(await srv.rt.vault.openField('pkv/api.token')).toBe('original-value-123456');
  });
});
