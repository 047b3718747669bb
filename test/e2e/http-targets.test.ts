import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, createToken, startServe } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { httpClient, stdioClient } from '../helpers/mcp-client.js';
import { echoHandler, startServer, type TestServer } from '../upstream/servers.js';

// A credential canary: it must reach the upstream and never come back to the agent, an operator's
// log, the audit log, or the database in plaintext.
// Random-looking on purpose: a guessable value is (by design) never literal-scrubbed from what agents read.
const CANARY = 'sk-canary-Zq7Xb2Lm9Pw4Rt6Yh8Ns3Kd5Vf1Jc0Gx';
const OTHER = 'other-secret-value-9f8e7d6c5b4a';

describe('HTTP targets end to end: api_request and /gateway with injected credentials', () => {
  const home = tempHome();
  let upstream: TestServer;
  let sse: TestServer;
  let releaseSecond: () => void = () => undefined;
  let server: Awaited<ReturnType<typeof startServe>>;
  let agent: string;

  beforeAll(async () => {
    assertBuilt();
    upstream = await startServer(echoHandler);
    // An SSE upstream that sends one event, then waits for the test before sending the last.
    sse = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(`data: first ${CANARY}\n\n`);
      releaseSecond = () => res.end('data: second\n\n');
    });
    const ok = (r: ReturnType<typeof cli>) => {
      if (r.code !== 0) throw new Error(r.stderr);
      return r;
    };
    ok(cli(['vault', 'create', 'ops'], home.env));
    ok(
      cli(['vault', 'set', 'ops/echo.key', '--bind', 'target:echo', '--description', 'echo API key'], home.env, CANARY),
    );
    ok(cli(['vault', 'set', 'ops/extra.value', '--bind', 'target:echo'], home.env, OTHER));
    ok(
      cli(
        ['vault', 'set', 'ops/elsewhere.value', '--bind', 'target:somewhere-else'],
        home.env,
        'never-sent-anywhere-123',
      ),
    );
    ok(cli(['vault', 'set', 'ops/sse.key', '--bind', 'target:sse'], home.env, CANARY));
    ok(cli(['target', 'add', 'http', 'sse', '--base-url', sse.url, '--auth', 'none', '--allow-private'], home.env));
    ok(
      cli(
        [
          'target',
          'add',
          'http',
          'echo',
          '--base-url',
          upstream.url,
          '--auth',
          'bearer',
          '--secret',
          'vault:ops/echo.key',
          '--allow-private',
          '--description',
          'loopback echo',
        ],
        home.env,
      ),
    );
    agent = createToken(home.env, 'agent', ['tool:*', 'target:echo', 'target:sse', 'vault:ops']);
    server = await startServe(home.env);
  });
  afterAll(async () => {
    await server?.stop();
    await upstream?.close();
    await sse?.close();
    home.cleanup();
  });

  it('refuses to add a target whose credential is not bound to it', () => {
    const r = cli(
      [
        'target',
        'add',
        'http',
        'sneaky',
        '--base-url',
        'https://example.com',
        '--auth',
        'bearer',
        '--secret',
        'vault:ops/elsewhere.value',
      ],
      home.env,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not bound to target sneaky/);
    expect(r.stderr).not.toContain('never-sent-anywhere');
  });

  it('warns when a credential would travel over plain http:// to a public host', () => {
    cli(['vault', 'set', 'ops/plain.key', '--bind', 'target:plain'], home.env, 'plain-http-secret-000111');
    const r = cli(
      [
        'target',
        'add',
        'http',
        'plain',
        '--base-url',
        'http://api.example.com',
        '--auth',
        'bearer',
        '--secret',
        'vault:ops/plain.key',
      ],
      home.env,
    );
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /warning: target plain uses http:\/\/, so its credential travels unencrypted to api\.example\.com/,
    );
    const secure = cli(['target', 'update', 'plain', '--base-url', 'https://api.example.com'], home.env);
    expect(secure.code).toBe(0);
    expect(secure.stderr).not.toMatch(/warning/);
    expect(cli(['target', 'rm', 'plain'], home.env).code).toBe(0);
  });

  it("api_request injects the credential, drops the agent's Authorization, and scrubs the echo", async () => {
    const { client, close } = await httpClient(server.url, agent, 'modern');
    try {
      const before = upstream.seen.length;
      const r = await client.callTool({
        name: 'api_request',
        arguments: {
          target: 'echo',
          method: 'GET',
          path: '/v1/things',
          query: { q: 'x' },
          headers: { authorization: 'Bearer agent-made-this-up', 'x-extra': '{{vault:ops/extra.value}}' },
        },
      });
      expect(r.isError).toBeFalsy();
      const seen = upstream.seen[before];
      expect(seen.headers.authorization).toBe(`Bearer ${CANARY}`);
      expect(seen.headers['x-extra']).toBe(OTHER);
      expect(seen.url).toBe('/v1/things?q=x');
      const out = r.structuredContent as {
        status: number;
        body: { headers: Record<string, string> };
        headers: Record<string, string>;
      };
      expect(out.status).toBe(200);
      const text = JSON.stringify(r);
      expect(text).not.toContain(CANARY);
      expect(text).not.toContain(OTHER);
      expect(text).not.toContain(Buffer.from(CANARY).toString('base64'));
      expect(out.body.headers.authorization).toMatch(/REDACTED|\*\*\*/);
    } finally {
      await close();
    }
  });

  it('refuses a handle aimed at a destination it is not bound to, naming the handle, never the value', async () => {
    const { client, close } = await stdioClient({ ...home.env, GATEHOUSE_TOKEN: agent }, 'legacy');
    try {
      const before = upstream.seen.length;
      const r = await client.callTool({
        name: 'api_request',
        arguments: { target: 'echo', method: 'POST', path: '/x', body: { k: '{{vault:ops/elsewhere.value}}' } },
      });
      expect(r.isError).toBe(true);
      const text = JSON.stringify(r.content);
      expect(text).toMatch(/vault_handle_refused/);
      expect(text).toContain('ops/elsewhere.value');
      expect(text).not.toContain('never-sent-anywhere');
      expect(upstream.seen.length).toBe(before);
    } finally {
      await close();
    }
  });

  it('keeps the agent inside the target: traversal and absolute URLs are refused before sending', async () => {
    const { client, close } = await httpClient(server.url, agent, 'legacy');
    try {
      const before = upstream.seen.length;
      for (const path of [
        '/../../etc/passwd',
        '//evil.example/x',
        'http://evil.example/',
        '/%2e%2e/admin',
        '/a\\b',
        '/%252e%252e/x',
      ]) {
        const r = await client.callTool({ name: 'api_request', arguments: { target: 'echo', method: 'GET', path } });
        expect(r.isError, path).toBe(true);
        expect(JSON.stringify(r.content)).toMatch(/path_denied|denied|invalid_input/);
      }
      expect(upstream.seen.length).toBe(before);
    } finally {
      await close();
    }
  });

  it('a token without the target grant cannot use it, and does not see it in discover', async () => {
    const t = createToken(home.env, 'no-target', ['tool:*']);
    const { client, close } = await httpClient(server.url, t, 'modern');
    try {
      const d = await client.callTool({ name: 'discover', arguments: {} });
      expect((d.structuredContent as { targets: unknown[] }).targets).toEqual([]);
      const r = await client.callTool({ name: 'api_request', arguments: { target: 'echo', method: 'GET', path: '/' } });
      expect(JSON.stringify(r.content)).toMatch(/not_granted: this token is not granted the target echo/);
    } finally {
      await close();
    }
  });

  it('vault_search finds usable handles and never returns a value; discover lists the target', async () => {
    const { client, close } = await httpClient(server.url, agent, 'modern');
    try {
      const s = await client.callTool({ name: 'vault_search', arguments: { target: 'echo' } });
      const handles = (s.structuredContent as { handles: { handle: string }[] }).handles.map((h) => h.handle);
      expect(handles).toContain('{{vault:ops/echo.key}}');
      expect(handles).not.toContain('{{vault:ops/elsewhere.value}}');
      expect(JSON.stringify(s)).not.toContain(CANARY);
      const d = await client.callTool({ name: 'discover', arguments: {} });
      expect(d.structuredContent).toMatchObject({
        targets: expect.arrayContaining([{ name: 'echo', kind: 'http', description: 'loopback echo' }]),
        vaults: ['ops'],
      });
    } finally {
      await close();
    }
  });

  it('/gateway proxies with the credential injected and the echoed secret scrubbed as it streams', async () => {
    const before = upstream.seen.length;
    const r = await fetch(`${server.url}/gateway/echo/v2/items?page=2`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/json', 'x-gatehouse-approved': 'true' },
      body: JSON.stringify({ hello: 'world' }),
    });
    expect(r.status).toBe(200);
    const body = await r.text();
    const seen = upstream.seen[before];
    expect(seen.headers.authorization).toBe(`Bearer ${CANARY}`);
    expect(seen.headers['x-gatehouse-approved']).toBeUndefined();
    expect(seen.url).toBe('/v2/items?page=2');
    expect(JSON.parse(seen.body.toString())).toEqual({ hello: 'world' });
    expect(body).not.toContain(CANARY);
    expect(body).not.toContain(agent);
    expect(r.headers.get('x-echo-authorization') ?? '').not.toContain(CANARY);
  });

  it('/gateway passes server-sent events through as they arrive, scrubbed', async () => {
    const r = await fetch(`${server.url}/gateway/sse/events`, { headers: { authorization: `Bearer ${agent}` } });
    expect(r.status).toBe(200);
    const reader = r.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    // The upstream has not sent the second event yet: the first arrived on its own, scrubbed.
    expect(first).toBe('data: first [REDACTED]\n\n');
    releaseSecond();
    let rest = '';
    for (let c = await reader.read(); !c.done; c = await reader.read()) rest += new TextDecoder().decode(c.value);
    expect(rest).toBe('data: second\n\n');
  });

  it('/gateway refuses a bad token with 401 and traversal with 400', async () => {
    expect((await fetch(`${server.url}/gateway/echo/x`, { headers: { authorization: 'Bearer nope' } })).status).toBe(
      401,
    );
    const { request } = await import('node:http');
    const u = new URL(server.url);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: '/gateway/echo/%2e%2e/%2e%2e/etc/passwd',
          headers: { authorization: `Bearer ${agent}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(400);
  });

  // Bypasses found in review: the guard saw neither the query string nor (on /gateway) the body,
  // so an override or a GraphQL mutation hidden there went out without a person's approval.
  it('/gateway: a GraphQL mutation in the body, or a method override in the query, needs approval', async () => {
    const before = upstream.seen.length;
    const gw = (path: string, body?: string, type = 'application/json') =>
      fetch(`${server.url}/gateway/echo${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${agent}`, 'content-type': type },
        body,
      });
    const mutation = await gw('/graphql', JSON.stringify({ query: 'mutation { deleteRepository(id: "r1") { id } }' }));
    expect(mutation.status).toBe(403);
    expect(((await mutation.json()) as { error: { code: string; details: { rule: string } } }).error).toMatchObject({
      code: 'approval_required',
      details: { rule: 'http.graphql-mutation' },
    });
    const inQuery = await gw('/graphql?query=mutation%20%7B%20wipe%20%7D');
    expect(((await inQuery.json()) as { error: { code: string } }).error.code).toBe('approval_required');
    const override = await gw('/items/9?_method=DELETE', '{}');
    expect(((await override.json()) as { error: { code: string } }).error.code).toBe('approval_required');
    // A body the guard cannot read (a binary type streams unread) does not slip a mutation past it.
    const opaque = await gw('/graphql', JSON.stringify({ query: 'mutation { wipe }' }), 'application/octet-stream');
    expect(((await opaque.json()) as { error: { details: { rule: string } } }).error.details.rule).toBe(
      'http.graphql-unreadable',
    );
    // A compressed JSON body is judged decoded, on any path (servers that honour Content-Encoding
    // read the mutation), and an undecodable one on a GraphQL path needs approval.
    const zipped = await fetch(`${server.url}/gateway/echo/api`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: gzipSync(JSON.stringify({ query: 'mutation { wipe }' })),
    });
    expect(((await zipped.json()) as { error: { details: { rule: string } } }).error.details.rule).toBe(
      'http.graphql-mutation',
    );
    // A multipart form is read too: frameworks take `_method` from it.
    const form = `--B0\r\nContent-Disposition: form-data; name="_method"\r\n\r\nDELETE\r\n--B0--\r\n`;
    const hidden = await gw('/users/1', form, 'multipart/form-data; boundary=B0');
    expect(((await hidden.json()) as { error: { details: { rule: string } } }).error.details.rule).toBe('http.delete');
    expect(upstream.seen.length).toBe(before); // nothing reached the upstream
    // An ordinary multipart upload passes, byte for byte (binary parts are not re-encoded).
    const upload = Buffer.concat([
      Buffer.from('--B1\r\nContent-Disposition: form-data; name="f"; filename="x.bin"\r\n\r\n'),
      Buffer.from([0xff, 0xfe, 0x00, 0x80]),
      Buffer.from('\r\n--B1--\r\n'),
    ]);
    const up = await fetch(`${server.url}/gateway/echo/upload`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent}`, 'content-type': 'multipart/form-data; boundary=B1' },
      body: upload,
    });
    expect(up.status).toBe(200);
    expect(Buffer.compare(upstream.seen[before].body, upload)).toBe(0);
    // A read-only GraphQL query still passes, and its body arrives byte for byte as judged.
    const query = JSON.stringify({ query: '{ viewer { login } }' });
    const ok = await gw('/graphql', query);
    expect(ok.status).toBe(200);
    expect(upstream.seen[before + 1].body.toString()).toBe(query);
    // A compressed read goes out compressed, byte for byte.
    const zippedQuery = gzipSync(query);
    const zok = await fetch(`${server.url}/gateway/echo/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent}`, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      body: zippedQuery,
    });
    expect(zok.status).toBe(200);
    expect(Buffer.compare(upstream.seen[before + 2].body, zippedQuery)).toBe(0);
  });

  it('api_request: a method override or GraphQL mutation passed in `query` needs approval', async () => {
    const { client, close } = await httpClient(server.url, agent, 'modern');
    try {
      const before = upstream.seen.length;
      const override = await client.callTool({
        name: 'api_request',
        arguments: { target: 'echo', method: 'POST', path: '/items/9', query: { _method: 'DELETE' }, body: {} },
      });
      expect(JSON.stringify(override.content)).toMatch(/approval_required/);
      const mutation = await client.callTool({
        name: 'api_request',
        arguments: { target: 'echo', method: 'GET', path: '/graphql', query: { query: 'mutation { wipe }' } },
      });
      expect(JSON.stringify(mutation.content)).toMatch(
        /approval_required.*graphql-mutation|graphql-mutation.*approval_required/s,
      );
      expect(upstream.seen.length).toBe(before);
    } finally {
      await close();
    }
  });

  it('the canary is nowhere an agent or operator can see, nor in the database in plaintext', () => {
    const audit = cli(['audit', 'tail', '-n', '1000', '--json'], home.env);
    expect(audit.code).toBe(0);
    expect(audit.stdout).toMatch(/api_request/);
    const places: [string, string][] = [
      ['audit log', audit.stdout],
      ['server output', server.output()],
      ['token list', cli(['token', 'list', '--json'], home.env).stdout],
      ['target list', cli(['target', 'list', '--json'], home.env).stdout],
      ['vault list', cli(['vault', 'list', '--json'], home.env).stdout],
    ];
    const dir = home.env.GATEHOUSE_HOME!;
    for (const f of readdirSync(dir))
      if (f.startsWith('gatehouse.db')) places.push([f, readFileSync(join(dir, f)).toString('latin1')]);
    for (const [where, text] of places) {
      for (const form of [CANARY, Buffer.from(CANARY).toString('base64'), Buffer.from(CANARY).toString('hex'), OTHER]) {
        expect(text.includes(form), `${where} contains a form of the canary`).toBe(false);
      }
    }
  });
});
