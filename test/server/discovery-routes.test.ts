/**
 * Issue 17 item 10: plain-HTTP agents. `GET /discovery` answers what the MCP `discover` tool
 * answers the same token (through the same handler, gate, audit and scrubbing), and
 * `GET /instructions` is a markdown guide to the plain routes. Both authenticate only a Bearer
 * token. A real runtime and HTTP server with serve's own routes (`plainRoutes`), real requests,
 * and the real MCP client for the tool's side.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAudit } from '../../src/audit/index.js';
import { APPROVAL_ID_HEADER, bootRuntime, plainRoutes, startHttpServer } from '../../src/server/index.js';
import { tempHome } from '../helpers/home.js';
import { ERAS, httpClient, type Era } from '../helpers/mcp-client.js';
import { errorOf } from './harness.js';

/** A strong value in the vault (the agent redactor scrubs it), planted where discover shows text. */
const CANARY = 'canary-DISCOVERY-value-4c1f8e27a9b35d60';

type Booted = Awaited<ReturnType<typeof bootRuntime>>;

interface Server {
  rt: Booted;
  url: string;
  port: number;
  close(): Promise<void>;
}

/** `gatehouse serve` in process: every plain route, as serve mounts them. */
async function server(config?: string): Promise<Server> {
  const home = tempHome();
  const env = { ...home.env };
  if (config !== undefined) {
    const file = join(home.dir, 'config.yaml');
    writeFileSync(file, config);
    env.GATEHOUSE_CONFIG = file;
  }
  const rt = await bootRuntime({ env });
  try {
    const http = await startHttpServer(rt, { host: '127.0.0.1', port: 0, routes: await plainRoutes(rt) });
    return {
      rt,
      url: http.url,
      port: Number(new URL(http.url).port),
      close: async () => {
        await http.close();
        await rt.close();
        home.cleanup();
      },
    };
  } catch (e) {
    await rt.close();
    home.cleanup();
    throw e;
  }
}

const get = (url: string, token?: string, headers: Record<string, string> = {}) =>
  fetch(url, { headers: { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...headers } });

/** What the MCP `discover` tool returns this token, over Streamable HTTP with the official client. */
async function discoverTool(url: string, token: string, era: Era): Promise<Record<string, unknown>> {
  const { client, close } = await httpClient(url, token, era);
  try {
    const r = await client.callTool({ name: 'discover', arguments: {} });
    expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
    return r.structuredContent as Record<string, unknown>;
  } finally {
    await close();
  }
}

describe('GET /discovery and GET /instructions', () => {
  let s: Server;
  let wide: string;
  let narrow: string;
  let ungranted: string;
  let admin: string;

  beforeAll(async () => {
    s = await server();
    const { rt } = s;
    await rt.vault.createVault('opsvault');
    await rt.vault.setField('opsvault/billing.key', CANARY, { bind: ['target:billing-api'] });
    // The upstream is never contacted: discover only lists targets.
    const target = (baseUrl: string) => ({
      baseUrl,
      auth: { kind: 'bearer' as const },
      secret: 'vault:opsvault/billing.key',
      allowPrivate: true,
      followRedirects: false,
    });
    await rt.targets.add('http', 'billing-api', target('http://127.0.0.1:9'), `the billing API (key ${CANARY})`);
    await rt.targets.add('http', 'hidden-api', target('http://127.0.0.1:9'), 'a target only other tokens may use');
    await rt.vault.seedRedactor({ add: (x) => rt.addSecret(x) });
    wide = (await rt.tokens.create({ name: 'wide-agent', grants: ['tool:*', 'target:billing-api', 'vault:opsvault'] }))
      .token;
    narrow = (await rt.tokens.create({ name: 'narrow-agent', grants: ['tool:discover'] })).token;
    ungranted = (await rt.tokens.create({ name: 'ungranted', grants: ['target:billing-api'] })).token;
    admin = (await rt.tokens.create({ name: 'ops-admin', admin: true })).token;
  });
  afterAll(async () => s?.close());

  describe('GET /discovery', () => {
    it.each(ERAS)('answers what the discover tool answers the same token (%s MCP client)', async (era) => {
      const tool = await discoverTool(s.url, wide, era);
      const r = await get(`${s.url}/discovery`, wide);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('application/json');
      const body = (await r.json()) as Record<string, unknown>;
      // `client` names the MCP client a call came from; a plain HTTP request has none.
      expect(tool.client).toMatchObject({ name: 'gatehouse-test', transport: 'http' });
      expect(body).toEqual({ ...tool, client: null });
      expect(body.targets).toEqual([{ name: 'billing-api', kind: 'http', description: expect.any(String) }]);
      expect(body.vaults).toEqual(['opsvault']);
      expect(body.token).toEqual({ name: 'wide-agent', policy: null });
    });

    it('scrubs the answer like the tool: a vault value shown in a description comes back hidden', async () => {
      const text = await (await get(`${s.url}/discovery`, wide)).text();
      expect(text).not.toContain(CANARY);
      const billing = (JSON.parse(text) as { targets: { name: string; description: string }[] }).targets[0];
      expect(billing.description).toMatch(/^the billing API \(key .+\)$/);
      expect(billing.description).not.toContain(CANARY);
    });

    it('shows a token with only tool:discover nothing beyond its grants', async () => {
      const tool = await discoverTool(s.url, narrow, 'modern');
      const body = (await (await get(`${s.url}/discovery`, narrow)).json()) as Record<string, unknown>;
      expect(body).toEqual({ ...tool, client: null });
      expect(body).toMatchObject({
        token: { name: 'narrow-agent' },
        tools: [{ name: 'discover' }],
        targets: [],
        vaults: [],
        sessions: [],
        memory: null,
        skills: null,
        wiki: null,
        webhooks: null,
      });
      const text = JSON.stringify(body);
      for (const unseen of ['billing-api', 'hidden-api', 'opsvault', 'api_request', 'ssh_exec'])
        expect(text).not.toContain(unseen);
    });

    it('refuses a token without tool:discover as the tool does (403 not_granted), and audits the refusal', async () => {
      const r = await get(`${s.url}/discovery`, ungranted);
      expect(r.status).toBe(403);
      const { error } = await errorOf(r);
      expect(error.code).toBe('not_granted');
      expect(JSON.stringify(error)).not.toContain('billing-api');
      const rec = (await searchAudit(s.rt.store, { tool: 'discover', tokenName: 'ungranted', limit: 5 })).at(-1)!;
      expect(rec).toMatchObject({ phase: 'attempt', decision: 'deny', rule: 'grant', outcome: 'not_granted' });
    });

    it('is audited as the tool call is: an attempt and its result, with the token and the client address', async () => {
      const before = (await searchAudit(s.rt.store, { limit: 1 })).at(-1)?.seq ?? 0;
      expect((await get(`${s.url}/discovery`, narrow)).status).toBe(200);
      const recs = (
        await searchAudit(s.rt.store, { tool: 'discover', tokenName: 'narrow-agent', afterSeq: before })
      ).filter((x) => x.seq > before);
      expect(recs).toHaveLength(2);
      const [attempt, result] = recs;
      expect(attempt).toMatchObject({
        phase: 'attempt',
        tool: 'discover',
        tokenName: 'narrow-agent',
        decision: 'allow',
        action: 'discover',
        client: '127.0.0.1',
      });
      expect(result).toMatchObject({ phase: 'result', ref: attempt.id, outcome: 'ok' });
    });
  });

  describe('authentication', () => {
    const routes = ['/discovery', '/instructions'];

    it.each(routes)(
      '%s: no token, a malformed one or a revoked one is the 401 every agent route gives',
      async (path) => {
        // The reference: an existing agent route's answer to the same request.
        const ref = await get(`${s.url}/webhooks/poll`);
        expect(ref.status).toBe(401);
        const want = await ref.json();
        const revoked = await s.rt.tokens.create({ name: `revoked-${path.slice(1)}`, grants: ['tool:*'] });
        expect((await get(`${s.url}${path}`, revoked.token)).status).toBe(200);
        await s.rt.tokens.revoke(revoked.info.id);
        for (const token of [undefined, 'not-a-token', revoked.token]) {
          const r = await get(`${s.url}${path}`, token);
          expect(r.status, String(token)).toBe(401);
          expect(r.headers.get('www-authenticate')).toBe('Bearer realm="gatehouse"');
          expect(await r.json()).toEqual(want);
        }
      },
    );

    it.each(routes)('%s: an admin console session cookie does not authenticate it', async (path) => {
      const origin = `http://localhost:${s.port}`;
      const login = await request(`http://127.0.0.1:${s.port}/console/login`, {
        method: 'POST',
        headers: { host: `localhost:${s.port}`, origin, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ token: admin }).toString(),
      });
      await login.body.text();
      const set = login.headers['set-cookie'];
      const cookie = /^(gh_console=[A-Za-z0-9_-]+);/.exec(Array.isArray(set) ? set[0] : (set ?? ''))?.[1];
      expect(cookie, `login answered ${login.statusCode}`).toBeDefined();
      // The cookie is live (the console accepts it)...
      const page = await request(`http://127.0.0.1:${s.port}/console/`, {
        headers: { host: `localhost:${s.port}`, cookie: cookie! },
      });
      await page.body.text();
      expect(page.statusCode).toBe(200);
      // ...and the agent route reads only the Bearer token.
      const r = await request(`http://127.0.0.1:${s.port}${path}`, {
        headers: { host: `localhost:${s.port}`, cookie: cookie! },
      });
      expect(r.statusCode).toBe(401);
      expect(((await r.body.json()) as { error: { code: string } }).error.code).toBe('unauthenticated');
    });
  });

  describe('GET /instructions', () => {
    it('is markdown that names the routes, the Bearer token, the approval header and the error shape', async () => {
      const r = await get(`${s.url}/instructions`, wide);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/markdown; charset=utf-8');
      const md = await r.text();
      expect(md).toMatch(/^# Gatehouse for plain-HTTP agents\n/);
      expect(md).toMatch(/^## Approvals and retries$/m);
      for (const route of [
        'GET /discovery',
        'ANY /gateway/TARGET/PATH',
        'POST /ssh/TARGET/exec',
        'GET /webhooks/poll',
        'POST /webhooks/ack',
      ])
        expect(md).toContain(`\`${route}`);
      expect(md).toContain('Authorization: Bearer gh_');
      // The header the /gateway route reads, as the guide spells it (header names are case-insensitive).
      const header = /the header `([A-Za-z-]+): ap_\.\.\.`/.exec(md)?.[1];
      expect(header).toBe('X-Gatehouse-Approval-Id');
      expect(header!.toLowerCase()).toBe(APPROVAL_ID_HEADER);
      expect(md).toContain('"approval_id": "ap_..."');
      expect(md).toContain('403 `approval_required`');
      expect(md).toContain('401 `unauthenticated`');
      expect(md).toContain('429 `limit_exceeded`');
      expect(md).toContain('`details.retryAfterMs`');
      expect(md).toContain('at most 200 calls per second, in bursts of up to 1000');
      expect(md).toContain('10 minutes after it was asked');
    });

    it("is tailored only by the token's tool grants, and names no target, vault or secret", async () => {
      const forWide = await (await get(`${s.url}/instructions`, wide)).text();
      const forNarrow = await (await get(`${s.url}/instructions`, narrow)).text();
      expect(forWide).toContain('Your token holds `tool:api_request`.');
      expect(forNarrow).toContain('Your token holds `tool:discover`.');
      expect(forNarrow).toContain('Your token does not hold `tool:api_request`');
      expect(forNarrow).toContain('Your token does not hold `tool:ssh_exec`');
      for (const md of [forWide, forNarrow]) {
        for (const unseen of ['billing-api', 'hidden-api', 'opsvault', CANARY, 'wide-agent', 'narrow-agent'])
          expect(md).not.toContain(unseen);
      }
    });
  });
});

describe('rate limits on /discovery and /instructions', () => {
  let s: Server;
  let token: string;

  beforeAll(async () => {
    // Three calls, then (practically) no refill.
    s = await server('gate:\n  rate_limit: { per_second: 0.001, burst: 3 }\n');
    token = (await s.rt.tokens.create({ name: 'limited', grants: ['tool:discover'] })).token;
  });
  afterAll(async () => s?.close());

  it("both cost the token's rate, and past it answer 429 limit_exceeded (the /discovery refusal audited)", async () => {
    expect((await get(`${s.url}/instructions`, token)).status).toBe(200);
    expect((await get(`${s.url}/discovery`, token)).status).toBe(200);
    expect((await get(`${s.url}/discovery`, token)).status).toBe(200);
    for (const path of ['/discovery', '/instructions']) {
      const r = await get(`${s.url}${path}`, token);
      expect(r.status, path).toBe(429);
      const { error } = await errorOf(r);
      expect(error.code).toBe('limit_exceeded');
      expect(error.details).toMatchObject({ retryAfterMs: expect.any(Number) });
    }
    const refused = (await searchAudit(s.rt.store, { tool: 'discover', tokenName: 'limited' })).at(-1)!;
    expect(refused).toMatchObject({
      phase: 'attempt',
      decision: 'deny',
      rule: 'rate_limit',
      outcome: 'limit_exceeded',
    });
    const event = (await searchAudit(s.rt.store, { tool: 'GET /instructions', tokenName: 'limited' })).at(-1)!;
    expect(event).toMatchObject({ phase: 'event', outcome: 'rate_limit' });
  });
});
