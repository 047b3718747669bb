/**
 * The plain routes against malformed and hostile input, through the real server:
 * - issue 21.10: `POST /ssh/%E0%A4%A/exec` (and the same in /gateway) answered an untyped 500;
 *   path parameters are decoded in one place that answers 400 invalid_input;
 * - a request target the URL parser would throw on (`//[`) or move (`/\x/mcp`) is a 400;
 * - issue 13.12: bodies nested 400,000 levels deep end in a typed answer, never a stack overflow;
 * - issue 22 item 1: every error code is answered with its status from the one table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatehouseError, type ErrorCode } from '../../src/core/index.js';
import { HTTP_STATUS } from '../../src/core/errors.js';
import { echoHandler } from '../upstream/servers.js';
import { errorOf, rawRequest, serve, type Served } from './harness.js';

const CANARY = 'sk-routes-canary-' + 'Rt5'.repeat(8);
const DEEP = 400_000;

describe('plain routes: malformed and hostile input gets a typed answer', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve({
      canary: CANARY,
      handler: echoHandler,
      extraRoutes: [
        {
          method: 'GET',
          path: '/throw/:code',
          auth: 'token',
          handler: async (_req, _res, ctx) => {
            throw new GatehouseError(ctx.params.code as ErrorCode, 'thrown on purpose');
          },
        },
      ],
    });
  });
  afterAll(async () => {
    await s?.close();
  });
  const auth = () => ({ authorization: `Bearer ${s.agent}` });

  it('a malformed escape in a route parameter is 400 invalid_input, not 500 (POST /ssh/%E0%A4%A/exec, /gateway/%E0%A4%A/x)', async () => {
    const ssh = await fetch(`${s.url}/ssh/%E0%A4%A/exec`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: '{"command":"true"}',
    });
    expect(ssh.status).toBe(400);
    expect((await errorOf(ssh)).error).toMatchObject({ code: 'invalid_input', hint: expect.any(String) });
    const gw = await fetch(`${s.url}/gateway/%E0%A4%A/x`, { headers: auth() });
    expect(gw.status).toBe(400);
    expect((await errorOf(gw)).error.code).toBe('invalid_input');
  });

  it('a malformed escape in a /gateway path or query is refused (400) before the guard, never sent for approval', async () => {
    const before = s.upstream.seen.length;
    for (const p of ['/gateway/echo/a%E0%A4%A', '/gateway/echo/items?q=%E0%A4%A', '/gateway/echo/items?q=%zz']) {
      const r = await fetch(`${s.url}${p}`, { method: 'DELETE', headers: auth() });
      expect(r.status, p).toBe(400);
      expect((await errorOf(r)).error.code, p).toBe('path_denied');
    }
    expect(s.upstream.seen.length).toBe(before);
  });

  it('a request target the URL parser throws on or moves is a 400, not a 500', async () => {
    for (const target of ['//[', '/\\evil/mcp', 'http://[::1']) {
      const r = await rawRequest(
        s.url,
        `GET ${target} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${s.agent}\r\nConnection: close\r\n\r\n`,
      );
      expect(r.status, target).toBe(400);
      expect(JSON.parse(r.body).error.code, target).toBe('invalid_input');
    }
  });

  it('an MCP request with a malformed Host is a 400, not a 500 (issue 24.4)', async () => {
    const body = '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}';
    // `user@evil.example` parses as a URL (with credentials) and failed later, as a 500.
    for (const host of ['[', 'a b', '[::1', 'user@evil.example', 'user:pw@x', 'x/y', 'x:99999999', 'x?y']) {
      const r = await rawRequest(
        s.url,
        `POST /mcp HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${s.agent}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
        body,
      );
      expect(r.status, host).toBe(400);
      expect(JSON.parse(r.body).error.code, host).toBe('invalid_input');
    }
    // Well-formed hosts still reach MCP.
    for (const host of ['localhost', '127.0.0.1:3000', '[::1]:8080', 'gatehouse.internal']) {
      const r = await rawRequest(
        s.url,
        `POST /mcp HTTP/1.1\r\nHost: ${host}\r\nAuthorization: Bearer ${s.agent}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nMcp-Protocol-Version: 2025-11-25\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
        body,
      );
      expect(r.status, host).not.toBe(400);
      expect(r.status, host).toBeLessThan(500);
    }
  });

  it('a /gateway body nested 400,000 arrays (or objects) deep is judged without a stack overflow and forwarded', async () => {
    for (const body of [
      '['.repeat(DEEP) + ']'.repeat(DEEP),
      '{"query":"x","a":' + '{"a":'.repeat(DEEP) + '1' + '}'.repeat(DEEP) + '}',
    ]) {
      const r = await fetch(`${s.url}/gateway/echo/items`, {
        method: 'POST',
        headers: { ...auth(), 'content-type': 'application/json' },
        body,
      });
      expect(r.status).toBe(200);
      expect(JSON.parse(await r.text()).body.length).toBe(body.length);
    }
  });

  it('an MCP message or an /ssh body nested 400,000 levels deep is 400 invalid_input with a hint', async () => {
    const deep = '['.repeat(DEEP) + ']'.repeat(DEEP);
    const mcp = await fetch(`${s.url}/mcp`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"api_request","arguments":{"target":"echo","method":"POST","path":"/x","body":${deep}}}}`,
    });
    expect(mcp.status).toBe(400);
    expect((await errorOf(mcp)).error).toMatchObject({ code: 'invalid_input', hint: expect.stringMatching(/levels/) });
    const ssh = await fetch(`${s.url}/ssh/echo/exec`, {
      method: 'POST',
      headers: { ...auth(), 'content-type': 'application/json' },
      body: `{"command":"true","env":${deep}}`,
    });
    expect(ssh.status).toBe(400);
    expect((await errorOf(ssh)).error.code).toBe('invalid_input');
  });

  it('every error code is answered with its status from HTTP_STATUS', async () => {
    for (const [code, status] of Object.entries(HTTP_STATUS)) {
      const r = await fetch(`${s.url}/throw/${code}`, { headers: auth() });
      expect(r.status, code).toBe(status);
      expect((await errorOf(r)).error.code, code).toBe(code);
    }
    expect(HTTP_STATUS.approval_required).toBe(403);
  });
});
