/**
 * Issue 18 item 1: the sessionful door for 2025-era clients over Streamable HTTP. An `initialize`
 * opens a session (`Mcp-Session-Id`); its requests, the `GET /mcp` stream and `DELETE /mcp` work
 * on it; a session belongs to its token; requests without a session keep the stateless door. With
 * two `gatehouse serve` processes on one PostgreSQL behind a round-robin (not sticky) balancer, a
 * 2025-11-25 client that can show a form is asked for an approval in the client and its answer
 * comes back through whichever process the balancer picks.
 */
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, createToken, startServe } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { httpClient } from '../helpers/mcp-client.js';
import { dropSchema } from '../../src/store/index.js';
import { freshSchema, postgresUrl, sharedStoreEnvs } from '../helpers/pg.js';
import { echoHandler, startServer, type TestServer } from '../upstream/servers.js';

const LEGACY = '2025-11-25';
const ELICIT = { elicitation: { form: {} } };

async function rpc(
  url: string,
  token: string,
  body: unknown,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<{ status: number; session: string | null; text: string; type: string | null }> {
  const r = await fetch(`${url}/mcp`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: method === 'POST' ? JSON.stringify(body) : undefined,
  });
  const type = r.headers.get('content-type');
  // An SSE stream that stays open (GET) is not read to its end.
  const text = type?.startsWith('text/event-stream') && method === 'GET' ? '' : await r.text();
  if (method === 'GET') await r.body?.cancel();
  return { status: r.status, session: r.headers.get('mcp-session-id'), text, type };
}

const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

describe('the 2025-era session door on one process', () => {
  const home = tempHome();
  let server: Awaited<ReturnType<typeof startServe>>;
  let agent: string;
  let other: string;

  beforeAll(async () => {
    assertBuilt();
    agent = createToken(home.env, 'agent', ['tool:discover']);
    other = createToken(home.env, 'other', ['tool:discover']);
    server = await startServe(home.env);
  });
  afterAll(async () => {
    await server?.stop();
    home.cleanup();
  });

  const open = async (token: string): Promise<string> => {
    const r = await rpc(server.url, token, initialize);
    expect(r.status).toBe(200);
    expect(r.session).toMatch(/^[0-9a-f]{16}\.[A-Za-z0-9_-]{32}$/);
    const h = { 'mcp-session-id': r.session!, 'mcp-protocol-version': LEGACY };
    expect((await rpc(server.url, token, { jsonrpc: '2.0', method: 'notifications/initialized' }, h)).status).toBe(202);
    return r.session!;
  };

  it('initialize opens a session; its requests are served on it; GET is its stream; DELETE ends it', async () => {
    const session = await open(agent);
    const h = { 'mcp-session-id': session, 'mcp-protocol-version': LEGACY };
    const listed = await rpc(server.url, agent, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, h);
    expect(listed.status).toBe(200);
    expect(listed.text).toContain('"discover"');
    const stream = await rpc(server.url, agent, undefined, h, 'GET');
    expect(stream.status).toBe(200);
    expect(stream.type).toMatch(/^text\/event-stream/);
    expect((await rpc(server.url, agent, undefined, h, 'DELETE')).status).toBe(200);
    const after = await rpc(server.url, agent, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, h);
    expect(after.status).toBe(404);
  });

  it("another token's session id is an unknown session: 404, nothing served on it", async () => {
    const session = await open(agent);
    const h = { 'mcp-session-id': session, 'mcp-protocol-version': LEGACY };
    const stolen = await rpc(server.url, other, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, h);
    expect(stolen.status).toBe(404);
    expect(stolen.text).not.toContain('discover');
    // Made-up and malformed ids are unknown sessions too.
    for (const id of ['0123456789abcdef.' + 'A'.repeat(32), 'not-a-session', session + 'x'])
      expect(
        (await rpc(server.url, agent, { jsonrpc: '2.0', id: 4, method: 'tools/list' }, { 'mcp-session-id': id }))
          .status,
      ).toBe(404);
    // The owner's session still works.
    expect((await rpc(server.url, agent, { jsonrpc: '2.0', id: 5, method: 'tools/list' }, h)).status).toBe(200);
  });

  it('a revoked token stops at once on its open session', async () => {
    const doomed = createToken(home.env, 'doomed', ['tool:discover']);
    const session = await open(doomed);
    expect(cli(['token', 'revoke', 'doomed'], home.env).code).toBe(0);
    await new Promise((r) => setTimeout(r, 1100)); // the token cache bound
    const h = { 'mcp-session-id': session, 'mcp-protocol-version': LEGACY };
    expect((await rpc(server.url, doomed, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, h)).status).toBe(401);
  });

  it('a 2025-era request without a session still gets the stateless door', async () => {
    const r = await rpc(
      server.url,
      agent,
      { jsonrpc: '2.0', id: 9, method: 'tools/list' },
      { 'mcp-protocol-version': LEGACY },
    );
    expect(r.status).toBe(200);
    expect(r.text).toContain('"discover"');
    expect(r.session).toBeNull();
  });
});

const url = await postgresUrl();

describe.skipIf(!url)('2025-era sessions across two processes behind a balancer that is not sticky', () => {
  const schema = freshSchema('gh_sessions');
  const { envs, cleanup } = sharedStoreEnvs(2, url ?? '', schema, 'approvals:\n  ttl_seconds: 60\n');
  let servers: Awaited<ReturnType<typeof startServe>>[] = [];
  let balancer: Server;
  let balancerUrl: string;
  let upstream: TestServer;
  const hits = [0, 0];

  beforeAll(async () => {
    assertBuilt();
    upstream = await startServer(echoHandler);
    servers = [await startServe(envs[0]!), await startServe(envs[1]!)];
    // Round robin, request by request: consecutive requests of one session land on both processes.
    let next = 0;
    balancer = createServer((req, res) => {
      const i = next++ % 2;
      hits[i]!++;
      const to = new URL(servers[i]!.url);
      const out = httpRequest(
        { host: to.hostname, port: to.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      out.on('error', () => res.destroy());
      req.pipe(out);
    });
    await new Promise<void>((r) => balancer.listen(0, '127.0.0.1', r));
    balancerUrl = `http://127.0.0.1:${(balancer.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => balancer?.close(r));
    await Promise.all(servers.map((s) => s.stop()));
    await upstream?.close();
    await dropSchema(url!, schema);
    cleanup();
  });

  it('the approval form reaches the client and its answer gets back to the waiting call, wherever it lands', async () => {
    const add = cli(
      ['target', 'add', 'http', 'echo', '--base-url', upstream.url, '--auth', 'none', '--allow-private'],
      envs[0]!,
    );
    expect(add.code, add.stderr).toBe(0);
    const agent = createToken(envs[0]!, 'agent', ['tool:api_request', 'target:echo']);
    const { client, close } = await httpClient(balancerUrl, agent, 'legacy', ELICIT);
    const shown: string[] = [];
    client.setRequestHandler('elicitation/create', async (req) => {
      shown.push(String((req.params as { message: string }).message));
      return { action: 'accept', content: { approve: true } };
    });
    try {
      for (let i = 0; i < 3; i++) {
        const before = upstream.seen.length;
        const r = await client.callTool({
          name: 'api_request',
          arguments: { target: 'echo', method: 'DELETE', path: `/items/${i}` },
        });
        expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
        expect(upstream.seen.length - before).toBe(1);
        expect(upstream.seen.at(-1)!.method).toBe('DELETE');
      }
      expect(shown).toHaveLength(3);
      expect(shown[0]).toMatch(/DELETE/);
      // Both processes took requests of this one session.
      expect(hits[0]).toBeGreaterThan(2);
      expect(hits[1]).toBeGreaterThan(2);
    } finally {
      await close();
    }
  });
});
