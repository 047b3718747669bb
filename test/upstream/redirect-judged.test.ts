/**
 * Issue 13.11: on a --follow-redirects target, a 307 to /admin/users re-sent a POST that a direct
 * call could only make with a person's approval. Each followed hop is now judged like a new
 * request (method after the redirect's rewriting, path, query, the body sent again), by the real
 * guard here, and may not leave the target's base path; anything but allow is redirect_blocked
 * with a hint naming the location to call directly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatehouseError } from '../../src/core/index.js';
import { loadGuard, type GuardEngine } from '../../src/guard/index.js';
import {
  hopAsRequest,
  UpstreamPool,
  type HttpTargetSpec,
  type JudgeHop,
  type RedirectHop,
} from '../../src/upstream/index.js';
import { echoHandler, startServer, type TestServer } from './servers.js';

const SECRET = 'sk-REDIRECT-SECRET-0123456789';

describe('redirects are judged hop by hop', () => {
  let up: TestServer;
  let guard: GuardEngine;
  const pool = new UpstreamPool();
  const hops: RedirectHop[] = [];
  const spec = (auth: HttpTargetSpec['auth'] = { kind: 'bearer' }): HttpTargetSpec => ({
    name: 'redir',
    baseUrl: `${up.url}/v1`,
    auth,
    allowPrivate: true,
  });
  // What api_request builds: the guard judges each hop with the headers and body it judged first.
  const judgeWith =
    (original: { headers?: Record<string, string>; body?: string }): JudgeHop =>
    (hop) => {
      hops.push(hop);
      const d = guard.checkHttp(hopAsRequest(hop, original));
      if (d.decision === 'allow') return 'allow';
      return { refuse: new GatehouseError(d.decision === 'deny' ? 'denied' : 'approval_required', d.reason) };
    };
  const sentTo = (path: string) => up.seen.filter((s) => s.url.startsWith(path));

  beforeAll(async () => {
    guard = await loadGuard();
    up = await startServer((req, res, body) => {
      const u = req.url ?? '/';
      const go = (status: number, location: string) => res.writeHead(status, { location }).end();
      if (u === '/v1/items') return go(307, '/v1/admin/users');
      if (u === '/v1/items-308') return go(308, '/v1/admin/users?x=1');
      if (u === '/v1/form') return go(303, '/v1/done');
      if (u === '/v1/to-delete') return go(307, '/v1/users/7/delete');
      if (u === '/v1/outside') return go(307, '/admin/users');
      if (u === '/v1/dotted') return go(307, '/v1/..%2fadmin/users');
      if (u === '/v1/plain') return go(302, '/v1/done');
      if (u === '/v1/override') return go(307, '/v1/things?_method=DELETE');
      if (u === '/v1/echo-secret') return go(307, `/v1/${req.headers.authorization?.slice(7)}/admin`);
      if (u.startsWith('/v1/query-cred'))
        return go(
          307,
          `/v1/admin/next?api_key=${encodeURIComponent(new URL(u, 'http://x').searchParams.get('api_key') ?? '')}`,
        );
      if (u === '/v1/two-locations') {
        res.setHeader('location', ['/v1/done', '/v1/admin/users']);
        return void res.writeHead(307).end();
      }
      echoHandler(req, res, body, up);
    });
  });
  afterAll(async () => {
    await pool.close();
    await up.close();
  });

  it('a 307 that re-sends a POST to an admin path is refused with redirect_blocked, naming the location; nothing reaches it', async () => {
    const headers = { 'content-type': 'application/json' };
    const body = '{"name":"mallory","role":"admin"}';
    const err = (await pool
      .request(spec(), SECRET, {
        method: 'POST',
        path: '/items',
        headers,
        body,
        followRedirects: true,
        judgeHop: judgeWith({ headers, body }),
      })
      .catch((e: unknown) => e)) as GatehouseError;
    expect(err).toBeInstanceOf(GatehouseError);
    expect(err.code).toBe('redirect_blocked');
    expect(err.message).toContain('/admin/users');
    expect(err.hint).toContain('POST /admin/users');
    expect(err.details).toMatchObject({ status: 307, reason: 'approval_required', method: 'POST' });
    expect(hops.at(-1)).toEqual({ status: 307, method: 'POST', path: '/admin/users', resendsBody: true });
    expect(sentTo('/v1/admin')).toHaveLength(0);
  });

  it('a 308 is judged with its query; a destructive path or a method override in the hop needs approval too', async () => {
    for (const path of ['/items-308', '/to-delete', '/override']) {
      const err = (await pool
        .request(spec(), SECRET, {
          method: 'PUT',
          path,
          body: 'x',
          followRedirects: true,
          judgeHop: judgeWith({ body: 'x' }),
        })
        .catch((e: unknown) => e)) as GatehouseError;
      expect(err.code, path).toBe('redirect_blocked');
    }
    expect(hops.find((h) => h.path === '/admin/users?x=1')).toMatchObject({ method: 'PUT', resendsBody: true });
    expect(sentTo('/v1/admin')).toHaveLength(0);
    expect(sentTo('/v1/users/7/delete')).toHaveLength(0);
    expect(sentTo('/v1/things')).toHaveLength(0);
  });

  it('a harmless hop is followed: a 303 after a POST becomes a GET without the body, judged as such', async () => {
    const headers = { 'content-type': 'application/json' };
    const res = await pool.request(spec(), SECRET, {
      method: 'POST',
      path: '/form',
      headers,
      body: '{"a":1}',
      followRedirects: true,
      judgeHop: judgeWith({ headers, body: '{"a":1}' }),
    });
    expect(res.status).toBe(200);
    expect(res.redirects).toBe(1);
    expect(hops.at(-1)).toEqual({ status: 303, method: 'GET', path: '/done', resendsBody: false });
    const last = up.seen.at(-1)!;
    expect(last).toMatchObject({ method: 'GET', url: '/v1/done' });
    expect(last.body.length).toBe(0);
    expect(last.headers['content-type']).toBeUndefined();
    expect(hopAsRequest(hops.at(-1)!, { headers, body: '{"a":1}' })).toEqual({
      method: 'GET',
      path: '/done',
      headers: {},
    });
  });

  it('a hop that leaves the base path, or that a direct call could not use, is refused before anything is sent', async () => {
    const allow: JudgeHop = () => 'allow';
    const outside = (await pool
      .request(spec(), SECRET, { method: 'GET', path: '/outside', followRedirects: true, judgeHop: allow })
      .catch((e: unknown) => e)) as GatehouseError;
    expect(outside.code).toBe('redirect_blocked');
    expect(outside.message).toMatch(/leaves the target's base path \/v1/);
    const dotted = (await pool
      .request(spec(), SECRET, { method: 'GET', path: '/dotted', followRedirects: true, judgeHop: allow })
      .catch((e: unknown) => e)) as GatehouseError;
    expect(dotted.code).toBe('redirect_blocked');
    expect(up.seen.some((s) => s.url.startsWith('/admin') || s.url.includes('..'))).toBe(false);
  });

  it('without a judge no hop is followed (fail closed); a judge that throws refuses too', async () => {
    const none = (await pool
      .request(spec(), SECRET, { method: 'GET', path: '/plain', followRedirects: true })
      .catch((e: unknown) => e)) as GatehouseError;
    expect(none.code).toBe('redirect_blocked');
    expect(none.hint).toContain('GET /done');
    const broken: JudgeHop = () => {
      throw new Error('guard exploded');
    };
    const threw = (await pool
      .request(spec(), SECRET, { method: 'GET', path: '/plain', followRedirects: true, judgeHop: broken })
      .catch((e: unknown) => e)) as GatehouseError;
    expect(threw).toMatchObject({ code: 'redirect_blocked', details: { reason: 'internal' } });
    expect(sentTo('/v1/done').length).toBe(1); // only the 303 test above reached it
  });

  it('a Location that echoes the credential is scrubbed from the error; a query credential is not part of the hop', async () => {
    const refuseAll: JudgeHop = (hop) => (hops.push(hop), { refuse: new GatehouseError('approval_required', 'x') });
    const echoed = (await pool
      .request(spec(), SECRET, { method: 'GET', path: '/echo-secret', followRedirects: true, judgeHop: refuseAll })
      .catch((e: unknown) => e)) as GatehouseError;
    expect(echoed.code).toBe('redirect_blocked');
    expect(JSON.stringify({ ...echoed.toJSON(), hint: echoed.hint })).not.toContain(SECRET);
    const q = spec({ kind: 'query', name: 'api_key' });
    const viaQuery = (await pool
      .request(q, SECRET, { method: 'GET', path: '/query-cred', followRedirects: true, judgeHop: refuseAll })
      .catch((e: unknown) => e)) as GatehouseError;
    expect(viaQuery.code).toBe('redirect_blocked');
    expect(hops.at(-1)!.path).toBe('/admin/next');
    expect(JSON.stringify({ ...viaQuery.toJSON(), hint: viaQuery.hint })).not.toContain(SECRET);
  });

  it('two Location headers are ambiguous: the 3xx comes back unfollowed', async () => {
    const res = await pool.request(spec(), SECRET, {
      method: 'GET',
      path: '/two-locations',
      followRedirects: true,
      judgeHop: () => 'allow',
    });
    expect(res.status).toBe(307);
    expect(res.redirects).toBe(0);
    expect(sentTo('/v1/admin')).toHaveLength(0);
  });
});
