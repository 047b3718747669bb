/**
 * Issue 13.3 through the real `/gateway` route (runtime, gate, vault, redactor): an upstream that
 * doubles or stacks its content codings never gets the credential back to the agent, in any form.
 */
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type Served } from './harness.js';

const CANARY = 'sk-gw-canary-' + 'Zx9'.repeat(10);

function leaks(buf: Buffer, depth = 0): boolean {
  if (buf.toString('latin1').includes(CANARY)) return true;
  if (depth >= 4) return false;
  for (const undo of [zlib.gunzipSync, zlib.inflateSync, zlib.inflateRawSync, zlib.brotliDecompressSync]) {
    try {
      if (leaks(undo(buf), depth + 1)) return true;
    } catch {
      // not this coding
    }
  }
  return false;
}

describe('/gateway: doubled and stacked content codings', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve({
      canary: CANARY,
      handler: (req, res) => {
        const echo = Buffer.from(JSON.stringify({ auth: req.headers.authorization }));
        res.setHeader('content-type', 'application/json');
        if (req.url === '/gzip-identity') {
          res.setHeader('content-encoding', ['gzip', 'identity']);
          return void res.end(zlib.gzipSync(echo));
        }
        if (req.url === '/gzip-gzip') {
          res.setHeader('content-encoding', ['gzip', 'gzip']);
          return void res.end(zlib.gzipSync(zlib.gzipSync(echo)));
        }
        if (req.url === '/br-list') {
          res.setHeader('content-encoding', 'gzip, br');
          return void res.end(zlib.brotliCompressSync(zlib.gzipSync(echo)));
        }
        res.setHeader('content-encoding', 'gzip, compress');
        res.end(zlib.gzipSync(echo));
      },
    });
  });
  afterAll(async () => {
    await s?.close();
  });

  it.each(['/gzip-identity', '/gzip-gzip', '/br-list'])(
    '%s: decoded and scrubbed; the canary never comes back',
    async (path) => {
      const r = await fetch(`${s.url}/gateway/echo${path}`, { headers: { authorization: `Bearer ${s.agent}` } });
      const body = Buffer.from(await r.arrayBuffer());
      expect(r.status).toBe(200);
      expect(r.headers.get('content-encoding')).toBeNull();
      expect(leaks(body)).toBe(false);
      expect(JSON.parse(body.toString()).auth).toMatch(/^Bearer (\[REDACTED\]|\*\*\*)$/);
    },
  );

  it('an unknown coding is refused with 502 upstream_error and a hint; no body is returned', async () => {
    const r = await fetch(`${s.url}/gateway/echo/unknown`, { headers: { authorization: `Bearer ${s.agent}` } });
    const body = Buffer.from(await r.arrayBuffer());
    expect(r.status).toBe(502);
    expect(JSON.parse(body.toString()).error).toMatchObject({
      code: 'upstream_error',
      hint: expect.stringMatching(/gzip/),
    });
    expect(leaks(body)).toBe(false);
  });
});
