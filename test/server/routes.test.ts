/**
 * Issue 22 item 3: routes have path parameters and a declared auth kind (`token`, `admin`,
 * `sender`), so a route signed by its sender (an inbound webhook) needs no special case in the
 * server's `handle()`. Through the real server: the kind decides what is checked before the
 * handler runs, parameters are decoded in one place, and the raw rest of a path stays raw.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatehouseError } from '../../src/core/index.js';
import {
  bootRuntime,
  defineRoute,
  matchPath,
  sendJson,
  startHttpServer,
  type AnyRoute,
  type Runtime,
} from '../../src/server/index.js';
import { tempHome } from '../helpers/home.js';
import { rawRequest } from './harness.js';

const WEBHOOK_KEY = 'whsec-test-key';

async function bodyOf(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A stand-in for a future webhook route: the sender signs the body; no Gatehouse token. */
const webhook = defineRoute({
  method: 'POST',
  path: '/webhooks/incoming/:slug',
  auth: 'sender',
  handler: async (req, res, ctx) => {
    const body = await bodyOf(req);
    const sent = Buffer.from(String(req.headers['x-signature'] ?? ''), 'hex');
    const want = createHmac('sha256', WEBHOOK_KEY).update(body).digest();
    if (sent.length !== want.length || !timingSafeEqual(sent, want))
      throw new GatehouseError('unauthenticated', 'bad signature');
    sendJson(res, 200, { slug: ctx.params.slug, principal: ctx.principal, bytes: body.length });
  },
});

const echoParams = defineRoute({
  method: 'GET',
  path: '/t/:name/*',
  auth: 'token',
  handler: async (_req, res, ctx) =>
    sendJson(res, 200, {
      name: ctx.params.name,
      rest: ctx.params['*'],
      query: ctx.rawQuery,
      token: ctx.principal.tokenName,
    }),
});

const adminOnly = defineRoute({
  method: 'GET',
  path: '/a/things',
  auth: 'admin',
  handler: async (_req, res, ctx) => sendJson(res, 200, { admin: ctx.principal.tokenName }),
});

describe('routes: path parameters and declared auth kinds, through the real server', () => {
  const home = tempHome();
  let rt: Runtime;
  let url: string;
  let close: () => Promise<void>;
  let agent: string;
  let admin: string;

  beforeAll(async () => {
    rt = await bootRuntime({ env: home.env });
    agent = (await rt.tokens.create({ name: 'agent', grants: ['tool:*'] })).token;
    admin = (await rt.tokens.create({ name: 'ops', admin: true })).token;
    const routes: AnyRoute[] = [webhook, echoParams, adminOnly];
    const http = await startHttpServer(rt, { host: '127.0.0.1', port: 0, routes });
    url = http.url;
    close = http.close;
  });
  afterAll(async () => {
    await close?.();
    await rt?.close();
    home.cleanup();
  });
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

  it('a sender route runs with no Gatehouse token and no principal; its own check refuses a bad signature', async () => {
    const body = '{"event":"push"}';
    const sig = createHmac('sha256', WEBHOOK_KEY).update(body).digest('hex');
    const ok = await fetch(`${url}/webhooks/incoming/gh%20repo`, {
      method: 'POST',
      headers: { 'x-signature': sig },
      body,
    });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ slug: 'gh repo', principal: null, bytes: body.length });
    const forged = await fetch(`${url}/webhooks/incoming/gh`, {
      method: 'POST',
      headers: { 'x-signature': '00'.repeat(32) },
      body,
    });
    expect(forged.status).toBe(401);
  });

  it('a sender route ignores a bearer token: the handler never gets a principal', async () => {
    const body = 'x';
    const sig = createHmac('sha256', WEBHOOK_KEY).update(body).digest('hex');
    const r = await fetch(`${url}/webhooks/incoming/s`, {
      method: 'POST',
      headers: { ...bearer(admin), 'x-signature': sig },
      body,
    });
    expect((await r.json()) as { principal: unknown }).toMatchObject({ principal: null });
  });

  it('a token route refuses a missing or bad token before its handler (401), and runs for a valid one', async () => {
    expect((await fetch(`${url}/t/x/y`)).status).toBe(401);
    expect((await fetch(`${url}/t/x/y`, { headers: bearer('gh_' + 'x'.repeat(43)) })).status).toBe(401);
    const r = await fetch(`${url}/t/x/y`, { headers: bearer(agent) });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { token: string }).token).toBe('agent');
  });

  it('an admin route refuses a non-admin token (403 not_granted) and runs for an admin', async () => {
    const plain = await fetch(`${url}/a/things`, { headers: bearer(agent) });
    expect(plain.status).toBe(403);
    expect(((await plain.json()) as { error: { code: string } }).error.code).toBe('not_granted');
    const ok = await fetch(`${url}/a/things/`, { headers: bearer(admin) });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ admin: 'ops' });
  });

  it(':name parameters are decoded; the * rest and the query stay exactly as sent', async () => {
    // Sent raw: fetch() would resolve the %2e%2e itself.
    const r = await rawRequest(
      url,
      `GET /t/caf%C3%A9/a/%2e%2e/../b%2Fc?q=%zz&x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${agent}\r\nConnection: close\r\n\r\n`,
    );
    expect(JSON.parse(Buffer.from(r.body, 'latin1').toString('utf8'))).toEqual({
      name: 'café',
      rest: '/a/%2e%2e/../b%2Fc',
      query: 'q=%zz&x',
      token: 'agent',
    });
    const bare = await fetch(`${url}/t/n`, { headers: bearer(agent) });
    expect(((await bare.json()) as { rest: string }).rest).toBe('/');
  });

  it('a malformed escape in a parameter is 400 invalid_input for a caller, and 401 for anyone else', async () => {
    const bad = await fetch(`${url}/t/%E0%A4%A/x`, { headers: bearer(agent) });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { code: string } }).error.code).toBe('invalid_input');
    expect((await fetch(`${url}/t/%E0%A4%A/x`)).status).toBe(401);
  });

  it('no route for another method, an empty parameter or extra segments (404)', async () => {
    expect((await fetch(`${url}/a/things`, { method: 'POST', headers: bearer(admin) })).status).toBe(404);
    expect((await fetch(`${url}/t//x`, { headers: bearer(agent) })).status).toBe(404);
    expect((await fetch(`${url}/a/things/more`, { headers: bearer(admin) })).status).toBe(404);
    expect((await fetch(`${url}/webhooks/incoming`, { method: 'POST' })).status).toBe(404);
  });
});

describe('matchPath', () => {
  const r = (path: string) => ({ method: 'GET', path, auth: 'token', handler: async () => undefined }) as AnyRoute;
  it('literal, :param and * segments', () => {
    expect(matchPath(r('/gateway/:target/*'), '/gateway/echo')).toEqual({ target: 'echo', '*': '/' });
    expect(matchPath(r('/gateway/:target/*'), '/gateway/echo/')).toEqual({ target: 'echo', '*': '/' });
    expect(matchPath(r('/gateway/:target/*'), '/gateway/echo//x/..')).toEqual({ target: 'echo', '*': '//x/..' });
    expect(matchPath(r('/gateway/:target/*'), '/gateway/')).toBeNull();
    expect(matchPath(r('/gateway/:target/*'), '/gatewayx/echo')).toBeNull();
    expect(matchPath(r('/ssh/:target/exec'), '/ssh/box/exec')).toEqual({ target: 'box' });
    expect(matchPath(r('/ssh/:target/exec'), '/ssh/box/exec/')).toEqual({ target: 'box' });
    expect(matchPath(r('/ssh/:target/exec'), '/ssh/box/exec//')).toBeNull();
    expect(matchPath(r('/ssh/:target/exec'), '/ssh/box/other')).toBeNull();
  });
});
