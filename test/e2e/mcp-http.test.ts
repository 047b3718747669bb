import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, createToken, startServe } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { ERAS, httpClient } from '../helpers/mcp-client.js';

describe('gatehouse serve: Streamable HTTP (official MCP client)', () => {
  const home = tempHome();
  let server: Awaited<ReturnType<typeof startServe>>;
  let full: string;
  let narrow: string;

  beforeAll(async () => {
    assertBuilt();
    server = await startServe(home.env);
    full = createToken(home.env, 'full', ['tool:*']);
    narrow = createToken(home.env, 'narrow', ['tool:nothing']);
  });
  afterAll(async () => {
    await server?.stop();
    home.cleanup();
  });

  it('first start created a 0700 home, a 0600 key file, and printed an admin token once', async () => {
    const { statSync } = await import('node:fs');
    expect(statSync(home.env.GATEHOUSE_HOME!).mode & 0o777).toBe(0o700);
    expect(statSync(`${home.env.GATEHOUSE_HOME}/master.key`).mode & 0o777).toBe(0o600);
    expect(server.output()).toMatch(/Admin token \(shown once[^\n]*\n\n\s+gh_[A-Za-z0-9_-]{43}/);
    expect(server.output()).toMatch(/claude mcp add --transport http/);
  });

  it('GET /health answers {"status":"ok"} without a token', async () => {
    const r = await fetch(`${server.url}/health`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ status: 'ok' });
  });

  it('POST /mcp without or with a bad token gets 401 with a JSON error', async () => {
    for (const auth of [undefined, 'Bearer nope', `Bearer gh_${'A'.repeat(43)}`, 'Basic abc']) {
      const r = await fetch(`${server.url}/mcp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          ...(auth ? { authorization: auth } : {}),
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(r.status).toBe(401);
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await r.json()).toMatchObject({ error: { code: 'unauthenticated' } });
    }
  });

  it('malformed JSON-RPC gets a clear protocol error, and an oversized body 413', async () => {
    const headers = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      authorization: `Bearer ${full}`,
    };
    const bad = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers,
      body: '{"jsonrpc": "2.0", "id": 1, "method": ',
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toMatch(/Parse error|-32700/);
    const big = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/list',
        params: { pad: 'x'.repeat(2 * 1024 * 1024) },
      }),
    });
    expect(big.status).toBe(413);
  });

  it('refuses browser requests from a foreign Origin (DNS rebinding)', async () => {
    const r = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: { origin: 'http://evil.example', 'content-type': 'application/json', authorization: `Bearer ${full}` },
      body: '{}',
    });
    expect(r.status).toBe(403);
  });

  describe.each(ERAS)('protocol era %s', (era) => {
    it('lists and calls discover', async () => {
      const { client, close } = await httpClient(server.url, full, era);
      try {
        const { tools } = await client.listTools();
        expect(tools.map((t) => t.name)).toContain('discover');
        const r = await client.callTool({ name: 'discover', arguments: {} });
        expect(r.isError).toBeFalsy();
        expect(r.structuredContent).toMatchObject({ token: { name: 'full' } });
      } finally {
        await close();
      }
    });

    it('filters tools by grant and refuses ungranted calls', async () => {
      const { client, close } = await httpClient(server.url, narrow, era);
      try {
        expect((await client.listTools()).tools).toEqual([]);
        const r = await client.callTool({ name: 'discover', arguments: {} });
        expect(r.isError).toBe(true);
        expect(JSON.stringify(r.content)).toMatch(/not_granted/);
      } finally {
        await close();
      }
    });
  });
});
