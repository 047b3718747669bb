import http from 'node:http';
import { Transform } from 'node:stream';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatehouseError } from '../../src/core/index.js';
import { UpstreamPool, type HttpTargetSpec, type UpstreamProxyOptions } from '../../src/upstream/index.js';
import { echoHandler, startProxyGateway, startServer, type ProxyGateway, type TestServer } from './servers.js';

const SECRET = 'sk-PROXY-SECRET-abcdef123456';

/** The route under test: the gateway's own token header is never forwarded. */
function startGateway(
  pool: UpstreamPool,
  spec: () => HttpTargetSpec,
  extra: Partial<UpstreamProxyOptions> = {},
): Promise<ProxyGateway> {
  return startProxyGateway(pool, spec, SECRET, { dropHeaders: ['x-gatehouse-token'], ...extra });
}

function call(
  url: string,
  opts: http.RequestOptions = {},
  body?: string | Buffer,
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Guards against a deadlock (a buffering proxy would hang these tests); not a timing assertion. */
function guard<T>(p: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_r, reject) => setTimeout(() => reject(new Error(`deadlock: ${what}`)), 10_000).unref()),
  ]);
}

describe('proxy(): streaming both ways', () => {
  let echo: TestServer;
  let sse: TestServer;
  let releaseLast: () => void = () => undefined;
  let lastSent = false;
  let sseUpstreamClosed: Promise<void>;
  let markSseClosed: () => void = () => undefined;
  const pool = new UpstreamPool();
  const echoSpec = (): HttpTargetSpec => ({
    name: 'echo',
    baseUrl: `${echo.url}/base`,
    auth: { kind: 'bearer' },
    allowPrivate: true,
  });
  const sseSpec = (): HttpTargetSpec => ({
    name: 'sse',
    baseUrl: sse.url,
    auth: { kind: 'header', name: 'X-Api-Key' },
    allowPrivate: true,
  });

  beforeAll(async () => {
    echo = await startServer(echoHandler);
    sse = await startServer((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write('data: first\n\n');
      if (req.url === '/forever') {
        const t = setInterval(() => res.write('data: tick\n\n'), 20);
        res.on('close', () => {
          clearInterval(t);
          markSseClosed();
        });
        return;
      }
      void new Promise<void>((r) => (releaseLast = r)).then(() => {
        lastSent = true;
        res.end('data: last\n\n');
      });
    });
  });
  afterAll(async () => {
    await pool.close();
    await echo.close();
    await sse.close();
  });

  it('injects the credential, drops the caller token and hop-by-hop headers, scrubs echoed credentials', async () => {
    const gw = await startGateway(pool, echoSpec, { scrubHeader: (v) => v.replace('upstream', 'scrubbed') });
    try {
      const res = await call(`${gw.url}/things?limit=2`, {
        method: 'GET',
        headers: {
          authorization: 'Bearer gh_agent_token',
          'x-gatehouse-token': 't',
          cookie: 'a=b',
          connection: 'x-hop-req',
          'x-hop-req': '1',
          'x-keep': 'yes',
        },
      });
      const seen = echo.seen.at(-1)!;
      expect(seen.url).toBe('/base/things?limit=2');
      expect(seen.headers['authorization']).toBe(`Bearer ${SECRET}`);
      expect(seen.headers['x-gatehouse-token']).toBeUndefined();
      expect(seen.headers['cookie']).toBeUndefined();
      expect(seen.headers['x-hop-req']).toBeUndefined();
      expect(seen.headers['x-keep']).toBe('yes');
      expect(seen.headers['host']).toBe(`127.0.0.1:${echo.port}`);
      expect(res.status).toBe(200);
      expect(res.headers['x-echo-authorization']).toBe('Bearer [REDACTED]');
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.headers['x-hop']).toBeUndefined();
      expect(await gw.settled()).toMatchObject({ status: 200 });
    } finally {
      await gw.close();
    }
  });

  it('a responseTransform redacts the body as it streams (and Content-Length is dropped)', async () => {
    const redact = () =>
      new Transform({
        transform(chunk: Buffer, _e, cb) {
          cb(null, Buffer.from(chunk.toString('utf8').split(SECRET).join('[REDACTED]')));
        },
      });
    const gw = await startGateway(pool, echoSpec, { responseTransform: redact });
    try {
      const res = await call(`${gw.url}/x`);
      expect(res.body).not.toContain(SECRET);
      expect(JSON.parse(res.body).headers.authorization).toBe('Bearer [REDACTED]');
      expect(res.headers['content-length']).toBeUndefined();
    } finally {
      await gw.close();
    }
  });

  it('SSE events pass through as they arrive: the first event reaches the client before the upstream sends the last', async () => {
    lastSent = false;
    const gw = await startGateway(pool, sseSpec);
    try {
      const got = await guard(
        new Promise<string>((resolve, reject) => {
          const req = http.get(`${gw.url}/events`, (res) => {
            expect(res.headers['content-type']).toBe('text/event-stream');
            let text = '';
            res.on('data', (c: Buffer) => {
              text += c.toString();
              if (text.includes('data: first') && !text.includes('last')) {
                expect(lastSent).toBe(false);
                releaseLast();
              }
            });
            res.on('end', () => resolve(text));
            res.on('error', reject);
          });
          req.on('error', reject);
        }),
        'SSE first event',
      );
      expect(got).toBe('data: first\n\ndata: last\n\n');
      expect(sse.seen.at(-1)!.headers['x-api-key']).toBe(SECRET);
    } finally {
      await gw.close();
    }
  });

  it('the request body streams up: the upstream sees the first chunk before the client sends the rest', async () => {
    let firstChunkSeen: () => void = () => undefined;
    const firstSeen = new Promise<void>((r) => (firstChunkSeen = r));
    const up = await startServer(
      (req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => {
          chunks.push(c);
          if (chunks.length === 1) firstChunkSeen();
        });
        req.on('end', () => res.end(Buffer.concat(chunks).toString()));
      },
      { readBody: false },
    );
    const gw = await startGateway(pool, () => ({
      name: 'up',
      baseUrl: up.url,
      auth: { kind: 'none' },
      allowPrivate: true,
    }));
    try {
      const result = guard(
        new Promise<string>((resolve, reject) => {
          const req = http.request(
            `${gw.url}/upload`,
            { method: 'POST', headers: { 'content-type': 'application/octet-stream' } },
            (res) => {
              let t = '';
              res.on('data', (c: Buffer) => (t += c.toString()));
              res.on('end', () => resolve(t));
            },
          );
          req.on('error', reject);
          req.write('part-one;');
          void firstSeen.then(() => req.end('part-two'));
        }),
        'request body streaming',
      );
      expect(await result).toBe('part-one;part-two');
      expect(up.seen.at(-1)!.headers['transfer-encoding']).toBe('chunked');
    } finally {
      await gw.close();
      await up.close();
    }
  });

  it('fills vault handles in a textual request body', async () => {
    const gw = await startGateway(pool, echoSpec, { fill: (s) => s.replaceAll('{{h}}', 'FILLED') });
    try {
      await call(
        `${gw.url}/f?q={{h}}`,
        { method: 'POST', headers: { 'content-type': 'application/json', 'x-h': '{{h}}' } },
        '{"a":"{{h}}"}',
      );
      const seen = echo.seen.at(-1)!;
      expect(seen.body.toString()).toBe('{"a":"FILLED"}');
      expect(seen.headers['content-length']).toBe(String('{"a":"FILLED"}'.length));
      expect(seen.headers['x-h']).toBe('FILLED');
      expect(seen.url).toBe('/base/f?q=FILLED');
    } finally {
      await gw.close();
    }
  });

  it('a declared body over the limit is refused with 413 before anything is sent', async () => {
    const gw = await startGateway(pool, echoSpec, { maxRequestBytes: 100 });
    const before = echo.seen.length;
    try {
      const res = await call(`${gw.url}/big`, { method: 'POST' }, 'x'.repeat(500));
      expect(res.status).toBe(413);
      expect(JSON.parse(res.body).code).toBe('request_too_large');
      expect(echo.seen.length).toBe(before);
    } finally {
      await gw.close();
    }
  });

  it('a chunked body over the limit fails with request_too_large', async () => {
    const gw = await startGateway(pool, echoSpec, { maxRequestBytes: 100 });
    try {
      await new Promise<void>((resolve) => {
        const req = http.request(
          `${gw.url}/big`,
          { method: 'POST', headers: { 'transfer-encoding': 'chunked' } },
          (res) => {
            res.resume();
            res.on('end', resolve);
            res.on('error', () => resolve());
          },
        );
        req.on('error', () => resolve());
        req.write('x'.repeat(80));
        req.end('y'.repeat(80));
      });
      const outcome = await gw.settled();
      expect(outcome).toBeInstanceOf(GatehouseError);
      expect((outcome as GatehouseError).code).toBe('request_too_large');
    } finally {
      await gw.close();
    }
  });

  it('HEAD passes through, and a 3xx goes back to the client unfollowed', async () => {
    const r = await startServer((req, res) => {
      if (req.url === '/moved') res.writeHead(302, { location: 'http://other.example/steal' }).end();
      else
        res
          .writeHead(200, { 'content-type': 'text/plain', 'content-length': '5' })
          .end(req.method === 'HEAD' ? undefined : 'hello');
    });
    const gw = await startGateway(pool, () => ({
      name: 'r',
      baseUrl: r.url,
      auth: { kind: 'bearer' },
      allowPrivate: true,
    }));
    try {
      const moved = await call(`${gw.url}/moved`);
      expect(moved.status).toBe(302);
      expect(moved.headers['location']).toBe('http://other.example/steal');
      expect(r.seen.length).toBe(1);
      const head = await call(`${gw.url}/x`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers['content-length']).toBe('5');
      expect(head.body).toBe('');
    } finally {
      await gw.close();
      await r.close();
    }
  });

  it('path traversal through the route is refused with 400', async () => {
    const gw = await startGateway(pool, echoSpec);
    try {
      // Options, not a URL string: http.request(url) would resolve the dot segments client-side.
      const port = Number(new URL(gw.url).port);
      for (const path of ['/%2e%2e/%2e%2e/admin', '/../admin', '/a/..%2f..%2fadmin', '//evil.example/x']) {
        const res = await call(`${gw.url}/`, { host: '127.0.0.1', port, path });
        expect(res.status).toBe(400);
        expect(JSON.parse(res.body).code).toBe('path_denied');
      }
      const res = await call(`${gw.url}/`, { host: '127.0.0.1', port, path: '/%2e%2e/admin' });
      expect(res.status).toBe(400);
      expect(JSON.parse(res.body).code).toBe('path_denied');
    } finally {
      await gw.close();
    }
  });

  it('a client that goes away cancels the upstream exchange', async () => {
    sseUpstreamClosed = new Promise<void>((r) => (markSseClosed = r));
    const gw = await startGateway(pool, sseSpec);
    try {
      await guard(
        new Promise<void>((resolve) => {
          const req = http.get(`${gw.url}/forever`, (res) => {
            res.once('data', () => {
              req.destroy();
              resolve();
            });
          });
          req.on('error', () => undefined);
        }),
        'first tick',
      );
      const outcome = await guard(gw.settled(), 'proxy settles after disconnect');
      expect((outcome as GatehouseError).code).toBe('cancelled');
      await guard(sseUpstreamClosed, 'upstream connection closed');
    } finally {
      await gw.close();
    }
  });

  it('gzip from the upstream is decoded when a transform must read the body', async () => {
    const gz = await startServer((_req, res) => {
      const z = zlib.gzipSync(Buffer.from(`token=${SECRET}`));
      res.writeHead(200, {
        'content-type': 'text/plain',
        'content-encoding': 'gzip',
        'content-length': String(z.length),
      });
      res.end(z);
    });
    const redact = () =>
      new Transform({
        transform: (c: Buffer, _e, cb) => cb(null, Buffer.from(c.toString().split(SECRET).join('[REDACTED]'))),
      });
    const gw = await startGateway(
      pool,
      () => ({ name: 'gz', baseUrl: gz.url, auth: { kind: 'none' }, allowPrivate: true }),
      { responseTransform: redact },
    );
    try {
      const res = await call(`${gw.url}/`);
      expect(res.headers['content-encoding']).toBeUndefined();
      expect(res.body).toBe('token=[REDACTED]');
    } finally {
      await gw.close();
      await gz.close();
    }
  });
});

describe('proxy(): limits', () => {
  let slow: TestServer;
  let huge: TestServer;
  const pool = new UpstreamPool();

  beforeAll(async () => {
    slow = await startServer((req, res) => {
      if (req.url === '/stall-body') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('start');
      }
    });
    huge = await startServer((req, res) => {
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        ...(req.url === '/declared' ? { 'content-length': String(4 * 1024 * 1024) } : {}),
      });
      const chunk = Buffer.alloc(64 * 1024, 0x62);
      let sent = 0;
      const pump = () => {
        while (sent < 4 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      res.on('error', () => undefined);
      pump();
    });
  });
  afterAll(async () => {
    await pool.close();
    await slow.close();
    await huge.close();
  });

  it('no response headers in time: 504 with a typed timeout', async () => {
    const gw = await startGateway(
      pool,
      () => ({ name: 'slow', baseUrl: slow.url, auth: { kind: 'none' }, allowPrivate: true }),
      { headersTimeoutMs: 200 },
    );
    try {
      const res = await call(`${gw.url}/never`);
      expect(res.status).toBe(504);
      expect(JSON.parse(res.body)).toMatchObject({ code: 'timeout', details: { phase: 'headers' } });
    } finally {
      await gw.close();
    }
  });

  it('a stalled body after headers: the stream is cut and the outcome is a typed timeout', async () => {
    const gw = await startGateway(
      pool,
      () => ({ name: 'slow', baseUrl: slow.url, auth: { kind: 'none' }, allowPrivate: true }),
      { bodyTimeoutMs: 200 },
    );
    try {
      const err = await call(`${gw.url}/stall-body`).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err).toBeDefined(); // the client saw an aborted response, not a clean end
      expect((await gw.settled()) as GatehouseError).toMatchObject({ code: 'timeout', details: { phase: 'body' } });
    } finally {
      await gw.close();
    }
  });

  it('a streaming response over the hard cap is aborted with response_too_large', async () => {
    const gw = await startGateway(
      pool,
      () => ({ name: 'huge', baseUrl: huge.url, auth: { kind: 'none' }, allowPrivate: true }),
      { maxResponseBytes: 200_000 },
    );
    try {
      const err = await call(`${gw.url}/chunked`).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err).toBeDefined();
      expect(((await gw.settled()) as GatehouseError).code).toBe('response_too_large');
      // A declared Content-Length over the cap is refused before any byte is sent.
      const res = await call(`${gw.url}/declared`);
      expect(res.status).toBe(502);
      expect(JSON.parse(res.body).code).toBe('response_too_large');
    } finally {
      await gw.close();
    }
  });

  it('streams a large download untouched under the cap', async () => {
    const gw = await startGateway(pool, () => ({
      name: 'huge',
      baseUrl: huge.url,
      auth: { kind: 'none' },
      allowPrivate: true,
    }));
    try {
      const res = await call(`${gw.url}/declared`);
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(4 * 1024 * 1024);
      expect(res.headers['content-length']).toBe(String(4 * 1024 * 1024));
      expect(await gw.settled()).toMatchObject({ status: 200, responseBytes: 4 * 1024 * 1024 });
    } finally {
      await gw.close();
    }
  });
});
