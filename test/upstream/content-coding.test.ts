/**
 * Issue 13.3 (critical): an upstream that sent two Content-Encoding headers (`gzip` and
 * `identity`, or `gzip` twice over a doubly compressed body) got an array from undici, no decoder
 * was chosen, the scrubber saw compressed bytes, and api_request (base64) and /gateway returned
 * the target's credential. Every response path now reads its codings through one parser, decodes
 * all of them (transfer codings other than chunked too) or refuses the response.
 */
import http from 'node:http';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatehouseError } from '../../src/core/index.js';
import {
  MAX_CODINGS,
  parseContentCodings,
  responseCodings,
  UpstreamPool,
  type HttpTargetSpec,
} from '../../src/upstream/index.js';
import { Redactor } from '../../src/vault/index.js';
import { startProxyGateway, startServer, type TestServer } from './servers.js';

const CANARY = 'sk-canary-' + 'Qw3'.repeat(10);
// The redactor replaces a filled secret, or a bearer token by its shape.
const SCRUBBED = /^Bearer (\[REDACTED\]|\*\*\*)$/;

/** Every form the canary could be recovered from: as is, base64, or under up to four layers of any coding. */
function leaks(buf: Buffer, depth = 0): boolean {
  const text = buf.toString('latin1');
  if (text.includes(CANARY) || text.includes(Buffer.from(CANARY).toString('base64').slice(0, 24))) return true;
  if (
    /^[A-Za-z0-9+/=\s]+$/.test(buf.toString('utf8')) &&
    Buffer.from(buf.toString('utf8'), 'base64').toString('latin1').includes(CANARY)
  )
    return true;
  if (depth >= 4) return false;
  const opts = { maxOutputLength: 16 * 1024 * 1024 };
  for (const undo of [zlib.gunzipSync, zlib.inflateSync, zlib.inflateRawSync, zlib.brotliDecompressSync]) {
    let out: Buffer;
    try {
      out = undo(buf, opts);
    } catch {
      continue;
    }
    if (out.length > 0 && leaks(out, depth + 1)) return true;
  }
  return false;
}

type Coder = (b: Buffer) => Buffer;
const gz: Coder = (b) => zlib.gzipSync(b);
const df: Coder = (b) => zlib.deflateSync(b);
const br: Coder = (b) => zlib.brotliCompressSync(b);

/** Path -> (Content-Encoding header lines, codings applied in order). */
const CASES: Record<string, { ce: string | string[]; apply: Coder[] }> = {
  '/gzip-and-identity': { ce: ['gzip', 'identity'], apply: [gz] },
  '/identity-and-gzip': { ce: ['identity', 'gzip'], apply: [gz] },
  '/gzip-twice-lines': { ce: ['gzip', 'gzip'], apply: [gz, gz] },
  '/gzip-twice-list': { ce: 'gzip, gzip', apply: [gz, gz] },
  '/upper-case': { ce: 'GZIP', apply: [gz] },
  '/x-gzip': { ce: 'x-gzip', apply: [gz] },
  '/deflate-then-br': { ce: ['deflate', ' br '], apply: [df, br] },
  '/three': { ce: 'gzip,identity, ,deflate,br', apply: [gz, df, br] },
};

function payload(req: http.IncomingMessage): Buffer {
  return Buffer.from(JSON.stringify({ echoed: req.headers.authorization, pad: 'p'.repeat(300) }));
}

describe('response content codings: every declared coding is undone before scrubbing, or the response is refused', () => {
  let up: TestServer;
  const pool = new UpstreamPool();
  const redactor = new Redactor({ audience: 'agent' });
  redactor.add(CANARY);
  const spec = (): HttpTargetSpec => ({ name: 'coded', baseUrl: up.url, auth: { kind: 'bearer' }, allowPrivate: true });

  beforeAll(async () => {
    up = await startServer((req, res) => {
      const url = req.url ?? '/';
      const c = CASES[url];
      if (c) {
        const body = c.apply.reduce((b, f) => f(b), payload(req));
        res.setHeader('content-type', 'application/json');
        res.setHeader('content-encoding', c.ce);
        return void res.end(body);
      }
      if (url === '/transfer-gzip' || url === '/content-and-transfer-gzip') {
        // Transfer-Encoding: gzip, chunked — undici removes the chunking, not the gzip.
        const inner = url === '/content-and-transfer-gzip' ? gz(payload(req)) : payload(req);
        const body = gz(inner);
        const sock = res.socket!;
        sock.write(
          `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n${url === '/content-and-transfer-gzip' ? 'Content-Encoding: gzip\r\n' : ''}Transfer-Encoding: gzip, chunked\r\nConnection: close\r\n\r\n${body.length.toString(16)}\r\n`,
        );
        sock.write(body);
        // Written past Node's ServerResponse, so the connection cannot carry another exchange.
        sock.end('\r\n0\r\n\r\n');
        return;
      }
      if (url === '/unknown') {
        res.setHeader('content-encoding', ['gzip', 'compress']);
        return void res.end(gz(payload(req)));
      }
      if (url === '/zstd') {
        res.setHeader('content-encoding', 'zstd');
        return void res.end(gz(payload(req)));
      }
      if (url === '/too-many') {
        res.setHeader('content-encoding', 'gzip, gzip, gzip, gzip');
        return void res.end(gz(gz(gz(gz(payload(req))))));
      }
      res.writeHead(404).end();
    });
  });
  afterAll(async () => {
    await pool.close();
    await up.close();
  });

  it('parseContentCodings: lists and repeated headers joined, case-insensitive, identity dropped, unknown and too many refused', () => {
    expect(parseContentCodings(undefined)).toEqual({ ok: true, codings: [] });
    expect(parseContentCodings(['gzip', 'identity'])).toEqual({ ok: true, codings: ['gzip'] });
    expect(parseContentCodings(' GZip ,, X-GZIP ')).toEqual({ ok: true, codings: ['gzip', 'gzip'] });
    expect(parseContentCodings(['deflate', 'br'])).toEqual({ ok: true, codings: ['deflate', 'br'] });
    expect(parseContentCodings('identity')).toEqual({ ok: true, codings: [] });
    expect(parseContentCodings('gzip, compress')).toEqual({ ok: false, reason: 'unknown', coding: 'compress' });
    expect(parseContentCodings('zstd')).toMatchObject({ ok: false, reason: 'unknown' });
    // An unregistered value is never echoed: the upstream may have reflected a filled secret there.
    expect(parseContentCodings('sk-looks-like-a-secret')).toEqual({
      ok: false,
      reason: 'unknown',
      coding: 'unregistered',
    });
    expect(parseContentCodings(Array(MAX_CODINGS + 1).fill('gzip'))).toEqual({
      ok: false,
      reason: 'too_many',
      count: MAX_CODINGS + 1,
    });
    expect(responseCodings('gzip', 'gzip, chunked')).toEqual({ ok: true, codings: ['gzip', 'gzip'] });
    expect(responseCodings(undefined, 'chunked')).toEqual({ ok: true, codings: [] });
  });

  const paths = [...Object.keys(CASES), '/transfer-gzip', '/content-and-transfer-gzip'];

  it.each(paths)(
    'buffered (api_request path) %s: decoded, and the canary never comes back in any form',
    async (path) => {
      // As api_request did it before: the executor's body, scrubbed afterwards.
      const plain = await pool.request(spec(), CANARY, { method: 'GET', path });
      expect(plain.status).toBe(200);
      expect(plain.headers['content-encoding']).toBeUndefined();
      const scrubbed = Buffer.from(redactor.scrub(plain.body.toString('utf8')));
      expect(leaks(scrubbed)).toBe(false);
      expect(JSON.parse(scrubbed.toString())).toMatchObject({ echoed: expect.stringMatching(SCRUBBED) });
      // With the scrubber inside the executor (scrubbed before the size cut).
      const inside = await pool.request(spec(), CANARY, {
        method: 'GET',
        path,
        responseScrubber: () => redactor.createScrubber(),
        scrubHeader: (v) => redactor.scrub(v),
      });
      expect(leaks(inside.body)).toBe(false);
      expect(leaks(Buffer.from(JSON.stringify(inside.headers)))).toBe(false);
      expect(JSON.parse(inside.body.toString())).toMatchObject({ echoed: expect.stringMatching(SCRUBBED) });
    },
  );

  it.each(['/unknown', '/zstd', '/too-many'])(
    'buffered %s: refused with upstream_error, the body is not returned',
    async (path) => {
      const err = (await pool
        .request(spec(), CANARY, { method: 'GET', path })
        .catch((e: unknown) => e)) as GatehouseError;
      expect(err).toMatchObject({ code: 'upstream_error' });
      expect(err.hint).toMatch(/identity, gzip, deflate or br/);
      expect(JSON.stringify(err.toJSON())).not.toContain(CANARY);
    },
  );

  function get(url: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
    return new Promise((resolve, reject) => {
      http
        .get(url, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        })
        .on('error', reject);
    });
  }

  it.each(paths)(
    'streamed (/gateway proxy) %s: decoded before the scrubber, and the canary never comes back in any form',
    async (path) => {
      const gw = await startProxyGateway(pool, spec, CANARY, {
        responseScrubber: () => redactor.createScrubber(),
        scrubHeader: (v) => redactor.scrub(v),
      });
      try {
        const res = await get(`${gw.url}${path}`);
        expect(res.status).toBe(200);
        expect(res.headers['content-encoding']).toBeUndefined();
        expect(leaks(res.body)).toBe(false);
        expect(JSON.parse(res.body.toString())).toMatchObject({ echoed: expect.stringMatching(SCRUBBED) });
      } finally {
        await gw.close();
      }
    },
  );

  it.each(['/unknown', '/zstd', '/too-many'])(
    'streamed %s: refused with 502 upstream_error before any body is sent',
    async (path) => {
      const gw = await startProxyGateway(pool, spec, CANARY, { responseScrubber: () => redactor.createScrubber() });
      try {
        const res = await get(`${gw.url}${path}`);
        expect(res.status).toBe(502);
        expect(JSON.parse(res.body.toString())).toMatchObject({ code: 'upstream_error' });
        expect(leaks(res.body)).toBe(false);
      } finally {
        await gw.close();
      }
    },
  );
});
