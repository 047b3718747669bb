/**
 * The streaming proxy with a chunk scrubber (`responseScrubber`, what /gateway uses): the body is
 * scrubbed as it streams, secrets split across chunks included; a body that arrives whole goes out
 * with its exact scrubbed length; streams (SSE) still pass through as they arrive.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatehouseError, type ChunkRewriter } from '../../src/core/index.js';
import { UpstreamPool, type HttpTargetSpec, type UpstreamProxyOptions } from '../../src/upstream/index.js';
import { echoHandler, startProxyGateway, startServer, type TestServer } from './servers.js';

const SECRET = 'sk-SCRUB-SECRET-0123456789';
const PAD = `: ${'x'.repeat(40)}\n\n`;

/** Replaces SECRET, holding back a possible partial match at the end of each chunk. */
function scrubber(): ChunkRewriter {
  let held = '';
  const cut = (text: string, final: boolean) => {
    const s = text.split(SECRET).join('[REDACTED]');
    if (final) return { out: s, rest: '' };
    const keep = Math.min(SECRET.length - 1, s.length);
    return { out: s.slice(0, s.length - keep), rest: s.slice(s.length - keep) };
  };
  return {
    push(chunk) {
      const { out, rest } = cut(held + chunk.toString('latin1'), false);
      held = rest;
      return Buffer.from(out, 'latin1');
    },
    end() {
      const { out } = cut(held, true);
      held = '';
      return Buffer.from(out, 'latin1');
    },
  };
}

function startGateway(pool: UpstreamPool, spec: HttpTargetSpec, extra: Partial<UpstreamProxyOptions> = {}) {
  return startProxyGateway(pool, () => spec, SECRET, { responseScrubber: scrubber, ...extra });
}

function call(
  url: string,
  opts: http.RequestOptions = {},
  body?: string,
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

function guard<T>(p: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_r, reject) => setTimeout(() => reject(new Error(`deadlock: ${what}`)), 10_000).unref()),
  ]);
}

describe('proxy() with a chunk scrubber', () => {
  let up: TestServer;
  let release: () => void = () => undefined;
  let lastSent = false;
  let burstNext: () => void = () => undefined;
  const pool = new UpstreamPool();
  const spec = (): HttpTargetSpec => ({ name: 'scrub', baseUrl: up.url, auth: { kind: 'bearer' }, allowPrivate: true });

  beforeAll(async () => {
    up = await startServer((req, res, body) => {
      if (req.url === '/split') {
        // The secret straddles two chunks sent apart in time.
        res.writeHead(200, { 'content-type': 'text/plain' });
        const half = Math.floor(SECRET.length / 2);
        res.write(`key=${SECRET.slice(0, half)}`);
        setTimeout(() => res.end(`${SECRET.slice(half)};done`), 30);
      } else if (req.url === '/sse') {
        lastSent = false;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        // A scrubber holds back a possible partial secret at a chunk's end; the padding comment
        // (longer than that hold) lets the first event out before the stream ends.
        res.write(`data: first ${SECRET}\n\n${PAD}`);
        void new Promise<void>((r) => (release = r)).then(() => {
          lastSent = true;
          res.end('data: last\n\n');
        });
      } else if (req.url === '/burst') {
        // Rounds of 40 small events written in one socket write (corked: one chunk of the chunked
        // encoding each, all parsed in one tick on the proxy's side), a secret split across two of
        // them; the next round only once the client has the last (nothing waits past its tick).
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        let round = 0;
        const half = Math.floor(SECRET.length / 2);
        const send = () => {
          res.cork();
          for (let i = 0; i < 40; i++) {
            if (i === 20) {
              res.write(`data: ${round}-${i} ${SECRET.slice(0, half)}`);
              res.write(`${SECRET.slice(half)}\n\n`);
            } else res.write(`data: ${round}-${i}\n\n`);
          }
          res.write(PAD);
          process.nextTick(() => res.uncork());
        };
        burstNext = () => (++round < 3 ? send() : res.end('data: end\n\n'));
        // The head alone first: the rounds arrive once the proxy streams (a body that comes with
        // the head is gathered as it was, for one write with an exact length).
        res.flushHeaders();
        setTimeout(send, 20);
      } else if (req.url === '/gzip') {
        const z = zlib.gzipSync(Buffer.from(`token=${SECRET}`));
        res.writeHead(200, {
          'content-type': 'text/plain',
          'content-encoding': 'gzip',
          'content-length': String(z.length),
        });
        res.end(z);
      } else if (req.url === '/sized') {
        // A declared length, and the head and the body in one socket write (so they reach the
        // proxy in the same tick): the answer the proxy sends in one write with an exact length.
        const payload = JSON.stringify({ key: SECRET, echoed: body.toString('utf8') });
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(payload)),
          'x-echo-authorization': String(req.headers.authorization ?? ''),
        });
        res.end(payload);
      } else if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        const chunk = Buffer.alloc(64 * 1024, 0x61);
        let n = 0;
        const go = () => {
          while (n++ < 64) if (!res.write(chunk)) return void res.once('drain', go);
          res.end();
        };
        res.on('error', () => undefined);
        go();
      } else echoHandler(req, res, body, up);
    });
  });
  afterAll(async () => {
    await pool.close();
    await up.close();
  });

  it('a body that arrives whole is scrubbed, and hop-by-hop and cookie headers dropped', async () => {
    const gw = await startGateway(pool, spec());
    try {
      const res = await call(
        `${gw.url}/echo`,
        { method: 'POST', headers: { 'content-type': 'application/json' } },
        JSON.stringify({ x: 1 }),
      );
      expect(res.status).toBe(200);
      expect(res.body).not.toContain(SECRET);
      expect(JSON.parse(res.body).headers.authorization).toBe('Bearer [REDACTED]');
      expect(res.headers['x-echo-authorization']).toBe('Bearer [REDACTED]');
      expect(res.headers['set-cookie']).toBeUndefined();
      expect(res.headers['x-hop']).toBeUndefined();
      expect(up.seen.at(-1)!.body.toString()).toBe('{"x":1}');
    } finally {
      await gw.close();
    }
  });

  it('a body whose length the upstream declared is sent with its exact scrubbed length', async () => {
    const gw = await startGateway(pool, spec());
    try {
      const res = await call(
        `${gw.url}/sized`,
        { method: 'POST', headers: { 'content-type': 'application/json' } },
        JSON.stringify({ x: 1 }),
      );
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ key: '[REDACTED]', echoed: '{"x":1}' });
      expect(res.headers['x-echo-authorization']).toBe('Bearer [REDACTED]');
      // The scrubbed body is shorter than the upstream's: the length sent is the scrubbed one.
      expect(res.headers['transfer-encoding']).toBeUndefined();
      expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.body)));
    } finally {
      await gw.close();
    }
  });

  it('a secret split across chunks of a streamed body is scrubbed', async () => {
    const gw = await startGateway(pool, spec());
    try {
      const res = await call(`${gw.url}/split`);
      expect(res.body).toBe('key=[REDACTED];done');
      expect(res.headers['content-length']).toBeUndefined();
      expect(gw.outcomes.at(-1)).toMatchObject({
        status: 200,
        responseBytes: Buffer.byteLength('key=[REDACTED];done'),
      });
    } finally {
      await gw.close();
    }
  });

  it('SSE passes through as it arrives, scrubbed', async () => {
    const gw = await startGateway(pool, spec());
    try {
      const got = await guard(
        new Promise<string>((resolve, reject) => {
          http
            .get(`${gw.url}/sse`, (res) => {
              expect(res.headers['content-type']).toBe('text/event-stream');
              let text = '';
              let released = false;
              res.on('data', (c: Buffer) => {
                text += c.toString();
                if (!released && text.includes('data: first [REDACTED]')) {
                  released = true;
                  expect(lastSent).toBe(false);
                  release();
                }
              });
              res.on('end', () => resolve(text));
              res.on('error', reject);
            })
            .on('error', reject);
        }),
        'SSE first event',
      );
      expect(got).toBe(`data: first [REDACTED]\n\n${PAD}data: last\n\n`);
    } finally {
      await gw.close();
    }
  });

  it('SSE events of one socket read are scrubbed together, arrive in that tick, and nothing is lost', async () => {
    let pushes = 0;
    const counting = (): ChunkRewriter => {
      const r = scrubber();
      return { push: (c) => (pushes++, r.push(c)), end: () => r.end() };
    };
    const gw = await startProxyGateway(pool, spec, SECRET, { responseScrubber: counting });
    try {
      const got = await guard(
        new Promise<string>((resolve, reject) => {
          http
            .get(`${gw.url}/burst`, (res) => {
              let text = '';
              let seen = 0;
              res.on('data', (c: Buffer) => {
                text += c.toString();
                // Each round's last event reaches the client before the upstream sends the next
                // round: batching never holds bytes past the tick they were read in.
                while (text.includes(`data: ${seen}-39\n\n`)) {
                  seen++;
                  burstNext();
                }
              });
              res.on('end', () => resolve(text));
              res.on('error', reject);
            })
            .on('error', reject);
        }),
        'SSE bursts',
      );
      const round = (n: number) =>
        Array.from({ length: 40 }, (_, i) =>
          i === 20 ? `data: ${n}-${i} [REDACTED]\n\n` : `data: ${n}-${i}\n\n`,
        ).join('') + PAD;
      expect(got).toBe(round(0) + round(1) + round(2) + 'data: end\n\n');
      // 41 chunks a round: one push per chunk would be 124; a round read at once is one push.
      expect(pushes).toBeLessThan(15);
    } finally {
      await gw.close();
    }
  });

  it('a compressed body is decoded so the scrubber sees plain bytes', async () => {
    const gw = await startGateway(pool, spec());
    try {
      const res = await call(`${gw.url}/gzip`);
      expect(res.headers['content-encoding']).toBeUndefined();
      expect(res.body).toBe('token=[REDACTED]');
    } finally {
      await gw.close();
    }
  });

  it('HEAD passes through with no body', async () => {
    const gw = await startGateway(pool, spec());
    try {
      const res = await call(`${gw.url}/echo`, { method: 'HEAD' });
      expect(res.status).toBe(200);
      expect(res.body).toBe('');
    } finally {
      await gw.close();
    }
  });

  it('the response cap still holds: the stream is cut with response_too_large', async () => {
    const gw = await startGateway(pool, spec(), { maxResponseBytes: 200_000 });
    try {
      const err = await call(`${gw.url}/big`).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err).toBeDefined();
      await guard(
        (async () => {
          while (gw.outcomes.length === 0) await new Promise((r) => setTimeout(r, 10));
        })(),
        'outcome',
      );
      expect((gw.outcomes[0] as GatehouseError).code).toBe('response_too_large');
    } finally {
      await gw.close();
    }
  });
});
