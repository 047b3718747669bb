import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatBody, UpstreamPool, type HttpTargetSpec } from '../../src/upstream/index.js';
import { echoHandler, gzipJsonHandler, startServer, type TestServer } from './servers.js';

const SECRET = 'sk-REAL-SECRET-0123456789';

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

describe('buffered request against a real echo upstream', () => {
  let echo: TestServer;
  const pool = new UpstreamPool();
  const target = (auth: HttpTargetSpec['auth'], base = ''): HttpTargetSpec => ({
    name: 'echo',
    baseUrl: echo.url + base,
    auth,
    allowPrivate: true,
  });

  beforeAll(async () => {
    echo = await startServer(echoHandler);
  });
  afterAll(async () => {
    await pool.close();
    await echo.close();
  });

  it('injects the bearer credential and drops what the agent sent in Authorization, Cookie, Proxy-Authorization', async () => {
    const res = await pool.request(target({ kind: 'bearer' }), SECRET, {
      method: 'POST',
      path: '/v1/things',
      headers: {
        Authorization: 'Bearer agent-token',
        cookie: 'sid=agent',
        'Proxy-Authorization': 'Basic xx',
        host: 'evil.example',
        'x-forwarded-for': '1.2.3.4',
        'X-HTTP-Method-Override': 'DELETE',
        'x-custom': 'kept',
        'content-type': 'application/json',
      },
      body: '{"a":1}',
    });
    const seen = echo.seen.at(-1)!;
    expect(seen.headers['authorization']).toBe(`Bearer ${SECRET}`);
    expect(seen.headers['cookie']).toBeUndefined();
    expect(seen.headers['proxy-authorization']).toBeUndefined();
    expect(seen.headers['x-forwarded-for']).toBeUndefined();
    expect(seen.headers['x-http-method-override']).toBeUndefined();
    expect(seen.headers['host']).toBe(`127.0.0.1:${echo.port}`);
    expect(seen.headers['x-custom']).toBe('kept');
    expect(seen.headers['accept-encoding']).toBe('identity');
    expect(seen.method).toBe('POST');
    expect(seen.url).toBe('/v1/things');
    expect(seen.body.toString()).toBe('{"a":1}');
    expect(res.status).toBe(200);
    // The upstream reflected the credential in a header: the agent never sees it.
    expect(res.headers['x-echo-authorization']).toBe('Bearer [REDACTED]');
    expect(JSON.stringify(res.headers)).not.toContain(SECRET);
    // Hop-by-hop and cookie headers do not come back.
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.headers['keep-alive']).toBeUndefined();
    expect(res.headers['connection']).toBeUndefined();
    expect(res.headers['x-hop']).toBeUndefined();
    expect(res.truncated).toBe(false);
    expect(formatBody(res.headers['content-type'], res.body)).toMatchObject({
      encoding: 'json',
      value: { method: 'POST' },
    });
  });

  it('header:NAME auth replaces an agent-supplied copy of that header', async () => {
    const res = await pool.request(target({ kind: 'header', name: 'X-Api-Key' }), SECRET, {
      method: 'GET',
      path: '/k',
      headers: { 'x-api-key': 'agent-guess', authorization: 'Bearer agent' },
    });
    const seen = echo.seen.at(-1)!;
    expect(seen.headers['x-api-key']).toBe(SECRET);
    expect(seen.headers['authorization']).toBeUndefined();
    expect(res.headers['x-echo-api-key']).toBe('[REDACTED]');
  });

  it('basic auth base64-encodes user:password', async () => {
    await pool.request(target({ kind: 'basic' }), 'alice:pa ss', { method: 'GET', path: '/b' });
    expect(echo.seen.at(-1)!.headers['authorization']).toBe(`Basic ${Buffer.from('alice:pa ss').toString('base64')}`);
  });

  it('query:NAME auth adds the parameter and overrides the agent copy', async () => {
    await pool.request(target({ kind: 'query', name: 'api_key' }), SECRET, {
      method: 'GET',
      path: '/q?api_key=agent&x=1',
      query: { api_key: 'again' },
    });
    const u = new URL(echo.seen.at(-1)!.url, 'http://x');
    expect(u.searchParams.getAll('api_key')).toEqual([SECRET]);
    expect(u.searchParams.get('x')).toBe('1');
  });

  it('a missing credential is a typed error, never an empty header', async () => {
    expect(await codeOf(pool.request(target({ kind: 'bearer' }), undefined, { method: 'GET', path: '/' }))).toBe(
      'config_invalid',
    );
    expect(await codeOf(pool.request(target({ kind: 'bearer' }), 'a\r\nX-Evil: 1', { method: 'GET', path: '/' }))).toBe(
      'config_invalid',
    );
  });

  it('strips hop-by-hop request headers, including those named by Connection', async () => {
    await pool.request(target({ kind: 'none' }), undefined, {
      method: 'GET',
      path: '/h',
      headers: {
        connection: 'x-secret-hop',
        'x-secret-hop': '1',
        'keep-alive': 'timeout=1',
        te: 'trailers',
        upgrade: 'websocket',
        'proxy-foo': '1',
        trailer: 'x',
      },
    });
    const h = echo.seen.at(-1)!.headers;
    for (const name of ['x-secret-hop', 'keep-alive', 'te', 'upgrade', 'proxy-foo', 'trailer'])
      expect(h[name]).toBeUndefined();
  });

  it('fills vault handles in header values, query values and a string body (not in the path)', async () => {
    const fill = (s: string) => s.replaceAll('{{vault:v/i.f}}', 'FILLED');
    await pool.request(target({ kind: 'none' }), undefined, {
      method: 'POST',
      path: '/f',
      query: { q: '{{vault:v/i.f}}' },
      headers: { 'x-h': 'a {{vault:v/i.f}}' },
      body: '{"k":"{{vault:v/i.f}}"}',
      fill,
    });
    const seen = echo.seen.at(-1)!;
    expect(seen.headers['x-h']).toBe('a FILLED');
    expect(new URL(seen.url, 'http://x').searchParams.get('q')).toBe('FILLED');
    expect(seen.body.toString()).toBe('{"k":"FILLED"}');
  });

  it('refuses header values with CR/LF and bad methods', async () => {
    expect(
      await codeOf(
        pool.request(target({ kind: 'none' }), undefined, {
          method: 'GET',
          path: '/',
          headers: { 'x-a': 'v\r\nInjected: 1' },
        }),
      ),
    ).toBe('invalid_input');
    expect(await codeOf(pool.request(target({ kind: 'none' }), undefined, { method: 'TRACE', path: '/' }))).toBe(
      'invalid_input',
    );
    expect(await codeOf(pool.request(target({ kind: 'none' }), undefined, { method: 'CONNECT', path: '/' }))).toBe(
      'invalid_input',
    );
    expect(await codeOf(pool.request(target({ kind: 'none' }), undefined, { method: 'G ET', path: '/' }))).toBe(
      'invalid_input',
    );
  });

  it('keeps requests under the base path and refuses traversal before sending', async () => {
    const before = echo.seen.length;
    expect(
      await codeOf(pool.request(target({ kind: 'bearer' }, '/api'), SECRET, { method: 'GET', path: '/%2e%2e/admin' })),
    ).toBe('path_denied');
    expect(echo.seen.length).toBe(before);
    await pool.request(target({ kind: 'bearer' }, '/api'), SECRET, { method: 'GET', path: 'users' });
    expect(echo.seen.at(-1)!.url).toBe('/api/users');
  });

  it('refuses a request body over the limit with request_too_large, before sending', async () => {
    const before = echo.seen.length;
    expect(
      await codeOf(
        pool.request(target({ kind: 'none' }), undefined, {
          method: 'POST',
          path: '/',
          body: 'x'.repeat(2000),
          maxRequestBytes: 1000,
        }),
      ),
    ).toBe('request_too_large');
    expect(echo.seen.length).toBe(before);
  });

  it('decodes a gzip body the upstream sends anyway', async () => {
    const gz = await startServer(gzipJsonHandler);
    try {
      const res = await pool.request(
        { name: 'gz', baseUrl: gz.url, auth: { kind: 'none' }, allowPrivate: true },
        undefined,
        { method: 'GET', path: '/' },
      );
      expect(res.headers['content-encoding']).toBeUndefined();
      expect(formatBody(res.headers['content-type'], res.body)).toMatchObject({
        encoding: 'json',
        value: { compressed: true },
      });
    } finally {
      await pool.invalidate('gz');
      await gz.close();
    }
  });

  it('a changed target (same name, new base URL) gets a new pool', async () => {
    const a = await startServer(echoHandler);
    const b = await startServer(echoHandler);
    try {
      await pool.request({ name: 'moving', baseUrl: a.url, auth: { kind: 'none' }, allowPrivate: true }, undefined, {
        method: 'GET',
        path: '/1',
      });
      await pool.request({ name: 'moving', baseUrl: b.url, auth: { kind: 'none' }, allowPrivate: true }, undefined, {
        method: 'GET',
        path: '/2',
      });
      expect(a.seen.map((x) => x.url)).toEqual(['/1']);
      expect(b.seen.map((x) => x.url)).toEqual(['/2']);
      // allowPrivate turned off on the same name takes effect at once.
      expect(
        await codeOf(
          pool.request({ name: 'moving', baseUrl: b.url, auth: { kind: 'none' }, allowPrivate: false }, undefined, {
            method: 'GET',
            path: '/3',
          }),
        ),
      ).toBe('ssrf_blocked');
      expect(b.seen.length).toBe(1);
    } finally {
      await pool.invalidate('moving');
      await a.close();
      await b.close();
    }
  });

  it('reuses keep-alive connections for sequential calls', async () => {
    const ka = await startServer(echoHandler);
    try {
      const t: HttpTargetSpec = { name: 'ka', baseUrl: ka.url, auth: { kind: 'none' }, allowPrivate: true };
      for (let i = 0; i < 10; i++) await pool.request(t, undefined, { method: 'GET', path: `/${i}` });
      // undici hands the next request to a second client while the first one's drain is pending,
      // so sequential calls settle on at most two sockets; without keep-alive there would be 10.
      expect(ka.connections).toBeLessThanOrEqual(2);
      expect(pool.targets).toContain('ka');
      await pool.invalidate('ka');
      expect(pool.targets).not.toContain('ka');
    } finally {
      await ka.close();
    }
  });
});

// Every hop allowed: these tests are about which hops are followed at all (origin, count, method rewriting).
const allowAll = () => 'allow' as const;

describe('redirects', () => {
  let other: TestServer;
  let redir: TestServer;
  const pool = new UpstreamPool();
  const spec = (): HttpTargetSpec => ({
    name: 'redir',
    baseUrl: redir.url,
    auth: { kind: 'header', name: 'X-Api-Key' },
    allowPrivate: true,
  });

  beforeAll(async () => {
    other = await startServer(echoHandler);
    redir = await startServer((req, res) => {
      const u = req.url ?? '/';
      if (u === '/same') res.writeHead(302, { location: '/final' }).end();
      else if (u === '/post307') res.writeHead(307, { location: '/final' }).end();
      else if (u === '/post303') res.writeHead(303, { location: '/final' }).end();
      else if (u === '/cross') res.writeHead(302, { location: `${other.url}/stolen` }).end();
      else if (u === '/scheme') res.writeHead(302, { location: `https://127.0.0.1:${redir.port}/final` }).end();
      else if (u.startsWith('/loop')) res.writeHead(302, { location: `/loop${Number(u.slice(5) || 0) + 1}` }).end();
      else echoHandler(req, res, Buffer.alloc(0), redir);
    });
  });
  afterAll(async () => {
    await pool.close();
    await redir.close();
    await other.close();
  });

  it('returns 3xx unfollowed by default', async () => {
    const res = await pool.request(spec(), SECRET, { method: 'GET', path: '/same' });
    expect(res.status).toBe(302);
    expect(res.headers['location']).toBe('/final');
    expect(res.redirects).toBe(0);
  });

  it('follows same-origin redirects with the credential', async () => {
    const res = await pool.request(spec(), SECRET, {
      method: 'GET',
      path: '/same',
      followRedirects: true,
      judgeHop: allowAll,
    });
    expect(res.status).toBe(200);
    expect(res.redirects).toBe(1);
    expect(redir.seen.at(-1)!.url).toBe('/final');
    expect(redir.seen.at(-1)!.headers['x-api-key']).toBe(SECRET);
  });

  it('307 keeps method and body; 303 turns into GET without body', async () => {
    await pool.request(spec(), SECRET, {
      method: 'POST',
      path: '/post307',
      body: 'payload',
      followRedirects: true,
      judgeHop: allowAll,
    });
    expect(redir.seen.at(-1)!.method).toBe('POST');
    expect(redir.seen.at(-1)!.body.toString()).toBe('payload');
    await pool.request(spec(), SECRET, {
      method: 'POST',
      path: '/post303',
      body: 'payload',
      followRedirects: true,
      judgeHop: allowAll,
    });
    expect(redir.seen.at(-1)!.method).toBe('GET');
    expect(redir.seen.at(-1)!.body.length).toBe(0);
  });

  it('never follows a cross-origin Location and never sends the credential there', async () => {
    const res = await pool.request(spec(), SECRET, {
      method: 'GET',
      path: '/cross',
      followRedirects: true,
      judgeHop: allowAll,
    });
    expect(res.status).toBe(302);
    expect(res.headers['location']).toBe(`${other.url}/stolen`);
    expect(other.seen.length).toBe(0);
    // Same host, other scheme is another origin too.
    const res2 = await pool.request(spec(), SECRET, {
      method: 'GET',
      path: '/scheme',
      followRedirects: true,
      judgeHop: allowAll,
    });
    expect(res2.status).toBe(302);
  });

  it('stops after 5 same-origin redirects with redirect_blocked', async () => {
    expect(
      await codeOf(
        pool.request(spec(), SECRET, { method: 'GET', path: '/loop0', followRedirects: true, judgeHop: allowAll }),
      ),
    ).toBe('redirect_blocked');
  });
});

describe('limits and timeouts against slow and huge upstreams', () => {
  let slow: TestServer;
  let huge: TestServer;
  const pool = new UpstreamPool();
  const slowSpec = (): HttpTargetSpec => ({
    name: 'slow',
    baseUrl: slow.url,
    auth: { kind: 'none' },
    allowPrivate: true,
  });
  const hugeSpec = (): HttpTargetSpec => ({
    name: 'huge',
    baseUrl: huge.url,
    auth: { kind: 'none' },
    allowPrivate: true,
  });

  beforeAll(async () => {
    slow = await startServer((req, res) => {
      if (req.url === '/no-headers') return; // never answers
      if (req.url === '/stall-body') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first ');
        return; // never finishes
      }
      if (req.url === '/drip') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const t = setInterval(() => res.write('.'), 20);
        res.on('close', () => clearInterval(t));
        return;
      }
      res.end('ok');
    });
    huge = await startServer((req, res) => {
      const total = 8 * 1024 * 1024;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
  });
  afterAll(async () => {
    await pool.close();
    await slow.close();
    await huge.close();
  });

  it('headers timeout ends in a typed timeout', async () => {
    const err = await pool
      .request(slowSpec(), undefined, { method: 'GET', path: '/no-headers', headersTimeoutMs: 200 })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'timeout', details: { phase: 'headers' } });
  });

  it('body timeout ends in a typed timeout', async () => {
    const err = await pool
      .request(slowSpec(), undefined, { method: 'GET', path: '/stall-body', bodyTimeoutMs: 200 })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'timeout', details: { phase: 'body' } });
  });

  it('total duration ends in a typed timeout even while bytes keep dripping', async () => {
    const err = await pool
      .request(slowSpec(), undefined, { method: 'GET', path: '/drip', timeoutMs: 300 })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'timeout', details: { phase: 'total' } });
  });

  it('an AbortSignal cancels with a typed cancelled error', async () => {
    const ctl = new AbortController();
    const p = pool.request(slowSpec(), undefined, { method: 'GET', path: '/no-headers', signal: ctl.signal });
    setTimeout(() => ctl.abort(), 50);
    expect(await codeOf(p)).toBe('cancelled');
    const pre = new AbortController();
    pre.abort();
    expect(await codeOf(pool.request(slowSpec(), undefined, { method: 'GET', path: '/', signal: pre.signal }))).toBe(
      'cancelled',
    );
  });

  it('a huge body is cut at maxResponseBytes with truncated: true', async () => {
    const res = await pool.request(hugeSpec(), undefined, { method: 'GET', path: '/', maxResponseBytes: 100_000 });
    expect(res.truncated).toBe(true);
    expect(res.body.length).toBe(100_000);
    expect(formatBody(res.headers['content-type'], res.body).encoding).toBe('base64');
  });

  it('the default buffered limit is 1 MiB', async () => {
    const res = await pool.request(hugeSpec(), undefined, { method: 'GET', path: '/' });
    expect(res.truncated).toBe(true);
    expect(res.body.length).toBe(1024 * 1024);
  });

  it('a body exactly at the limit is not truncated', async () => {
    const res = await pool.request(hugeSpec(), undefined, {
      method: 'GET',
      path: '/',
      maxResponseBytes: 8 * 1024 * 1024,
    });
    expect(res.truncated).toBe(false);
    expect(res.body.length).toBe(8 * 1024 * 1024);
  });
});

describe('formatBody', () => {
  it('JSON as JSON, text as text, binary as base64', () => {
    expect(formatBody('application/json; charset=utf-8', Buffer.from('{"a":[1]}'))).toEqual({
      encoding: 'json',
      value: { a: [1] },
    });
    expect(formatBody('application/problem+json', Buffer.from('{"t":1}'))).toEqual({
      encoding: 'json',
      value: { t: 1 },
    });
    expect(formatBody('application/json', Buffer.from('{"a":'))).toEqual({ encoding: 'text', value: '{"a":' });
    expect(formatBody('text/html', Buffer.from('<p>hi</p>'))).toEqual({ encoding: 'text', value: '<p>hi</p>' });
    expect(formatBody('text/plain; charset=iso-8859-1', Buffer.from([0x63, 0x61, 0x66, 0xe9]))).toEqual({
      encoding: 'text',
      value: 'café',
    });
    expect(formatBody('image/png', Buffer.from([0x89, 0x50]))).toEqual({ encoding: 'base64', value: 'iVA=' });
    expect(formatBody(undefined, Buffer.from([0, 1, 2, 0xff]))).toEqual({ encoding: 'base64', value: 'AAEC/w==' });
    expect(formatBody(undefined, Buffer.from('plain words'))).toEqual({ encoding: 'text', value: 'plain words' });
    expect(formatBody('application/json', Buffer.alloc(0))).toEqual({ encoding: 'text', value: '' });
  });
});
