/**
 * The real `/gateway` route with the real guard:
 * - issue 13.12: a GraphQL mutation in UTF-16 JSON to a path not named like GraphQL used to be
 *   forwarded; it now needs approval (declared, sniffed, or with a byte-order mark, which is not
 *   UTF-8 and so is judged unread and bound by its bytes);
 * - issue 13.12: a response header whose name holds the credential never reaches the agent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoHandler } from '../upstream/servers.js';
import { errorOf, serve, type Served } from './harness.js';

const CANARY = 'sk-Guard-Canary-' + 'Gq2'.repeat(8);
const MUTATION = JSON.stringify({ query: 'mutation { dropAll { ok } }' });
const utf16be = (s: string) => Buffer.from(s, 'utf16le').swap16();

describe('/gateway judges bodies as the server reads them, and scrubs header names', () => {
  let s: Served;
  beforeAll(async () => {
    s = await serve({
      canary: CANARY,
      handler: (req, res, body, srv) => {
        if (req.url === '/named') {
          const cred = (req.headers.authorization ?? '').slice('Bearer '.length);
          res.setHeader(`X-Echo-${cred}`, '1');
          res.setHeader('x-safe', 'kept');
          return void res.end('ok');
        }
        echoHandler(req, res, body, srv);
      },
    });
  });
  afterAll(async () => {
    await s?.close();
  });
  const post = (path: string, body: Buffer | string, type?: string) =>
    fetch(`${s.url}/gateway/echo${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${s.agent}`, ...(type ? { 'content-type': type } : {}) },
      body,
    });

  it.each([
    ['declared utf-16le, no BOM', Buffer.from(MUTATION, 'utf16le'), 'application/json; charset=utf-16'],
    ['declared utf-16be', utf16be(MUTATION), 'application/json; charset=utf-16be'],
    ['sniffed utf-16le under a utf-8 label', Buffer.from(MUTATION, 'utf16le'), 'application/json; charset=utf-8'],
    [
      'utf-16le with a byte-order mark',
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(MUTATION, 'utf16le')]),
      'application/json',
    ],
    [
      'utf-16be with a byte-order mark, form type',
      Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be('query=mutation%20%7B%20x%20%7D')]),
      'application/x-www-form-urlencoded; charset=utf-16',
    ],
  ])('a GraphQL mutation in UTF-16 (%s) to /api/run needs approval and is not sent', async (_n, body, type) => {
    const before = s.upstream.seen.length;
    const r = await post('/api/run', body, type);
    expect(r.status).toBe(403);
    expect((await errorOf(r)).error.code).toBe('approval_required');
    expect(s.upstream.seen.length).toBe(before);
  });

  it.each(['application/json5', 'application/jsonx', 'application/graphql-query'])(
    'a GraphQL mutation sent as %s (a type some servers parse as text) is read, judged and held',
    async (type) => {
      const before = s.upstream.seen.length;
      const r = await post('/api/run', MUTATION, type);
      expect(r.status).toBe(403);
      expect((await errorOf(r)).error.code).toBe('approval_required');
      expect(s.upstream.seen.length).toBe(before);
    },
  );

  it('the same body in UTF-8, as a read, is forwarded byte for byte', async () => {
    const read = JSON.stringify({ query: '{ items { id } }' });
    const r = await post('/api/run', read, 'application/json');
    expect(r.status).toBe(200);
    expect(s.upstream.seen.at(-1)!.body.toString()).toBe(read);
  });

  it('a response header named after the credential is dropped and counted; the rest pass', async () => {
    const r = await fetch(`${s.url}/gateway/echo/named`, { headers: { authorization: `Bearer ${s.agent}` } });
    expect(r.status).toBe(200);
    const names = [...r.headers.keys()];
    expect(names.join(' ').toLowerCase()).not.toContain(CANARY.toLowerCase());
    expect(r.headers.get('x-gatehouse-redacted-headers')).toBe('1');
    expect(r.headers.get('x-safe')).toBe('kept');
  });
});
