/**
 * The console's memory, skills, wiki and webhooks pages against a real runtime: agent-written
 * text shows as text (markup escaped, bidi and zero-width characters made visible); a proposal to
 * the team's memory is accepted or rejected; a skill draft is published exactly as the page showed
 * it; a webhook event is replayed; every decision is audited; with passkeys required, a cookie
 * alone neither accepts a proposal nor publishes a skill.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAudit } from '../../src/audit/index.js';
import { ORG_PROPOSALS, proposalKey, type Author } from '../../src/knowledge/index.js';
import { adminApi, consoleServer, csrfOf, sessionCookieOf, type ConsoleServer } from './helpers.js';

const agent: Author = { tokenId: 'tok_agent', name: 'agent-a', trust: 'agent' };
const skillMd = (body: string) => Buffer.from(`---\nname: deploy-web\ndescription: Use when shipping.\n---\n${body}\n`);

describe('console knowledge and webhooks pages', () => {
  let srv: ConsoleServer;
  let cookie: string;
  let csrf: string;
  const get = async (path: string) => {
    const r = await srv.call('GET', path, { cookie });
    expect(r.status, r.body.slice(0, 300)).toBe(200);
    return r.body;
  };
  const propose = (path: string, body: string) =>
    srv.rt.knowledge.write(
      'memory',
      ORG_PROPOSALS,
      proposalKey('tok_agent', 0, path),
      { title: `about ${path}`, summary: '', tags: [], body },
      { author: agent },
    );

  beforeAll(async () => {
    srv = await consoleServer();
    const admin = (await srv.rt.tokens.create({ name: 'ops-admin', admin: true })).token;
    cookie = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: admin } }));
    csrf = csrfOf((await srv.call('GET', '/console/memory', { cookie })).body);
  });
  afterAll(async () => srv?.close());

  it('memory: agent text is shown as text; a proposal is accepted into the team’s memory, another rejected', async () => {
    await srv.rt.knowledge.write(
      'memory',
      'token:tok_agent',
      'notes/db',
      { title: '<script>alert(1)</script>', summary: '', tags: [], body: 'use replica\u202Eevil' },
      { author: agent },
    );
    const a = await propose('runbooks/restart', 'restart with <b>care</b>');
    const b = await propose('runbooks/drop', 'drop the table');
    const page = await get('/console/memory');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).not.toContain('<script>alert(1)');
    expect(page).toContain('restart with &lt;b&gt;care&lt;/b&gt;');
    expect(page).toContain('Memory</a>');
    const one = await get(`/console/memory/${a.id}`);
    expect(one).toContain('restart with &lt;b&gt;care&lt;/b&gt;');
    const item = (await srv.rt.knowledge.list('memory', ['token:tok_agent']))[0]!;
    expect(await get(`/console/memory/${item.id}`)).toContain('use replica\\u{202e}evil');

    const ok = await srv.call('POST', `/console/memory/${a.id}/accept`, { cookie, form: { csrf } });
    expect(ok.headers.location).toBe('/console/memory?n=proposal-accepted');
    const org = await srv.rt.knowledge.list('memory', ['org']);
    expect(org.map((i) => [i.key, i.body])).toEqual([['runbooks/restart', 'restart with <b>care</b>']]);
    expect(org[0]!.provenance.author).toMatch(/^console:/);
    const no = await srv.call('POST', `/console/memory/${b.id}/reject`, { cookie, form: { csrf } });
    expect(no.headers.location).toBe('/console/memory?n=proposal-rejected');
    expect((await srv.rt.knowledge.list('memory', ['org'])).length).toBe(1);
    // Decided is decided: neither can be decided again.
    expect((await srv.call('POST', `/console/memory/${a.id}/accept`, { cookie, form: { csrf } })).status).toBe(404);
    expect((await srv.call('POST', `/console/memory/${b.id}/accept`, { cookie, form: { csrf } })).status).toBe(404);
    for (const outcome of ['memory_proposal_accepted', 'memory_proposal_rejected'])
      expect((await searchAudit(srv.rt.store, { tool: 'console', outcome })).length, outcome).toBe(1);
  });

  it('skills: a draft is published with the digest the page showed; a stale page publishes nothing', async () => {
    const { version: d1 } = await srv.rt.skills.saveDraft(
      'deploy-web',
      [{ path: 'SKILL.md', data: skillMd('step 1') }],
      {
        author: agent,
      },
    );
    expect(await get('/console/skills')).toContain('deploy-web');
    const page = await get('/console/skills/deploy-web');
    expect(page).toContain(d1.digest);
    expect(page).toContain('Publish this draft');
    const ok = await srv.call('POST', '/console/skills/deploy-web/publish', {
      cookie,
      form: { csrf, digest: d1.digest, replaces: '0' },
    });
    expect(ok.headers.location).toBe('/console/skills/deploy-web?n=skill-published');
    expect((await srv.rt.skills.current('deploy-web', 'published')).digest).toBe(d1.digest);
    // A second draft, and a page still showing the old state (replaces 0): refused, nothing published.
    const { version: d2 } = await srv.rt.skills.saveDraft(
      'deploy-web',
      [{ path: 'SKILL.md', data: skillMd('step 2') }],
      {
        author: agent,
      },
    );
    const stale = await srv.call('POST', '/console/skills/deploy-web/publish', {
      cookie,
      form: { csrf, digest: d2.digest, replaces: '0' },
    });
    expect(stale.status).toBe(409);
    expect((await srv.rt.skills.current('deploy-web', 'published')).digest).toBe(d1.digest);
    expect((await searchAudit(srv.rt.store, { tool: 'console', outcome: 'skill_published' })).length).toBe(1);
  });

  it('wiki: pages with slugs in segments, agent text as text', async () => {
    await srv.rt.wiki.write(
      'ops',
      'runbooks/deploy',
      { title: 'Deploy <img src=x onerror=alert(1)>', body: 'step one\nstep two' },
      { author: agent },
    );
    const list = await get('/console/wiki');
    expect(list).toContain('/console/wiki/ops/runbooks/deploy');
    expect(list).toContain('Deploy &lt;img src=x onerror=alert(1)&gt;');
    const page = await get('/console/wiki/ops/runbooks/deploy');
    expect(page).toContain('step one\nstep two');
    expect((await srv.call('GET', '/console/wiki/ops/nope', { cookie })).status).toBe(404);
  });

  it('webhooks: endpoints with counts, events without bodies, and replay of a handled event', async () => {
    await srv.rt.vault.createVault('hooks');
    await srv.rt.vault.setField('hooks/gh.secret', 'webhook-secret-123');
    await srv.rt.webhookEndpoints.add('gh', {
      provider: 'github',
      secrets: [{ ref: 'vault:hooks/gh.secret', addedAt: new Date().toISOString() }],
    });
    const { id } = await srv.rt.webhookQueue.enqueue({
      endpoint: 'gh',
      provider: 'github',
      eventId: 'delivery-1',
      type: 'push',
      verified: 'github',
      headers: { 'x-github-event': 'push' },
      body: Buffer.from('{"secret_body":"never-in-the-console"}'),
      keys: ['id:delivery-1'],
      maxAttempts: 3,
      retentionS: 86_400,
      dedupeS: 86_400,
      sealBody: false,
    });
    expect(await get('/console/webhooks')).toContain('/console/webhooks/gh');
    const events = await get('/console/webhooks/gh');
    expect(events).toContain(id);
    expect(events).not.toContain('never-in-the-console');
    expect(events).not.toContain(`/console/webhooks/events/${id}/replay`); // pending: nothing to replay
    // Handled by an agent (leased and acked): now it can be replayed from the page.
    const [leased] = await srv.rt.webhookQueue.lease({ endpoints: ['gh'], limit: 1, leaseS: 60 });
    const [acked] = await srv.rt.webhookQueue.ack([{ id, leaseToken: leased!.leaseToken, outcome: 'done' }], ['gh']);
    expect(acked).toMatchObject({ ok: true, state: 'acked' });
    expect(await get('/console/webhooks/gh')).toContain(`/console/webhooks/events/${id}/replay`);
    const r = await srv.call('POST', `/console/webhooks/events/${id}/replay`, { cookie, form: { csrf } });
    expect(r.headers.location).toBe('/console/webhooks/gh?n=event-replayed');
    expect((await srv.rt.webhookQueue.get(id))!.state).toBe('pending');
    const rec = (await searchAudit(srv.rt.store, { tool: 'webhook_replay' })).at(-1)!;
    expect(rec.detail).toMatchObject({ event: id, by: expect.stringMatching(/^console:/) });
  });

  it('the admin API: memory and proposals, skills published by digest, wiki, webhook events without bodies', async () => {
    const admin = (await srv.rt.tokens.create({ name: 'api-admin', admin: true })).token;
    const api = adminApi(srv, admin);
    const p = await propose('runbooks/api', 'from the api test');
    expect((await api('GET', '/admin/memory')).text).toContain(p.id);
    const accepted = await api('POST', `/admin/memory/proposals/${p.id}/accept`);
    expect(accepted.status, accepted.text).toBe(200);
    expect((await api('POST', `/admin/memory/proposals/${p.id}/reject`)).status).toBe(404);
    const { version } = await srv.rt.skills.saveDraft(
      'api-skill',
      [{ path: 'SKILL.md', data: Buffer.from('---\nname: api-skill\ndescription: Use when testing.\n---\nbody\n') }],
      { author: agent },
    );
    expect((await api('GET', '/admin/skills')).text).toContain('api-skill');
    expect((await api('POST', '/admin/skills/api-skill/publish', { digest: version.digest })).status).toBe(400);
    const published = await api('POST', '/admin/skills/api-skill/publish', { digest: version.digest, replaces: 0 });
    expect(published.status, published.text).toBe(200);
    expect((await api('GET', '/admin/wiki')).text).toContain('runbooks/deploy');
    expect((await api('GET', '/admin/webhooks')).text).toContain('"gh"');
    const events = await api('GET', '/admin/webhooks/gh/events');
    expect(events.status).toBe(200);
    expect(events.text).not.toContain('never-in-the-console');
    for (const outcome of ['memory_proposal_accepted', 'skill_published'])
      expect((await searchAudit(srv.rt.store, { tool: 'admin_api', outcome })).length, outcome).toBe(1);
    // Agent tokens are refused.
    const agentToken = (await srv.rt.tokens.create({ name: 'not-admin', grants: ['tool:discover'] })).token;
    const r = await fetch(`http://127.0.0.1:${srv.port}/admin/memory`, {
      headers: { authorization: `Bearer ${agentToken}` },
    });
    expect(r.status).toBe(403);
  });

  it('with passkeys required, a cookie alone neither accepts a proposal nor publishes a skill', async () => {
    const strict = await consoleServer({ console: { requirePasskeys: true } });
    try {
      const admin = (await strict.rt.tokens.create({ name: 'ops-admin', admin: true })).token;
      const c = sessionCookieOf(await strict.call('POST', '/console/login', { form: { token: admin } }));
      const token = csrfOf((await strict.call('GET', '/console/memory', { cookie: c })).body);
      const p = await strict.rt.knowledge.write(
        'memory',
        ORG_PROPOSALS,
        proposalKey('tok_agent', 0, 'x'),
        { title: 'x', summary: '', tags: [], body: 'x' },
        { author: agent },
      );
      const accept = await strict.call('POST', `/console/memory/${p.id}/accept`, {
        cookie: c,
        form: { csrf: token, assertion: '' },
      });
      expect(accept.headers.location).toBe('/console/memory?n=passkey-failed');
      expect(await strict.rt.knowledge.list('memory', ['org'])).toEqual([]);
      const { version } = await strict.rt.skills.saveDraft('deploy-web', [{ path: 'SKILL.md', data: skillMd('x') }], {
        author: agent,
      });
      const publish = await strict.call('POST', '/console/skills/deploy-web/publish', {
        cookie: c,
        form: { csrf: token, digest: version.digest, replaces: '0', assertion: '' },
      });
      expect(publish.headers.location).toBe('/console/skills/deploy-web?n=passkey-failed');
      expect(await strict.rt.skills.currentOrNone('deploy-web', 'published')).toBeUndefined();
    } finally {
      await strict.close();
    }
  });
});
