import dc from 'node:diagnostics_channel';
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  UpstreamPool,
  type HttpTargetSpec,
  type LookupAddress,
  type LookupFunction,
} from '../../src/upstream/index.js';
import { echoHandler, startServer, type TestServer } from './servers.js';

// Every socket Node creates for an outgoing connection is published here; SSRF refusals must
// happen before any socket exists.
const sockets: Socket[] = [];
const onSocket = (m: unknown) => sockets.push((m as { socket: Socket }).socket);

function mapLookup(table: Record<string, LookupAddress[] | ((call: number) => LookupAddress[])>) {
  const calls: string[] = [];
  const lookup: LookupFunction = (hostname, _opts, cb) => {
    calls.push(hostname);
    const entry = table[hostname];
    if (!entry) {
      const err = Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      setImmediate(() => cb(err, []));
      return;
    }
    const answer = typeof entry === 'function' ? entry(calls.filter((h) => h === hostname).length) : entry;
    setImmediate(() => cb(null, answer));
  };
  return { lookup, calls };
}

const v4 = (address: string): LookupAddress => ({ address, family: 4 });
const v6 = (address: string): LookupAddress => ({ address, family: 6 });

async function errorOf(p: Promise<unknown>): Promise<{ code?: string; details?: Record<string, unknown> }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string };
  }
  throw new Error('expected the request to fail');
}

describe('SSRF: refused at connect time, before any socket is opened', () => {
  let echo: TestServer;
  const { lookup, calls } = mapLookup({
    'internal.test': [v4('10.0.0.5')],
    'metadata.test': [v4('169.254.169.254')],
    'mapped.test': [v6('::ffff:127.0.0.1')],
    'ec2v6.test': [v6('fd00:ec2::254')],
    'cgnat.test': [v4('100.64.1.2')],
    'mixed.test': [v4('93.184.216.34'), v4('10.0.0.5')],
    'mixed6.test': [v6('2606:4700::1111'), v6('fe80::1')],
    'svc.test': (call) => (call === 1 ? [v4('127.0.0.1')] : [v4('127.0.0.2')]),
  });
  const pool = new UpstreamPool({ lookup });
  const spec = (host: string, allowPrivate = false): HttpTargetSpec => ({
    name: host.replace(/[^a-z0-9]/gi, '-').slice(0, 40) || 'x',
    baseUrl: `http://${host}:${echo.port}`,
    auth: { kind: 'bearer' },
    allowPrivate,
  });

  beforeAll(async () => {
    echo = await startServer(echoHandler);
    dc.subscribe('net.client.socket', onSocket);
  });
  afterAll(async () => {
    dc.unsubscribe('net.client.socket', onSocket);
    await pool.close();
    await echo.close();
  });
  afterEach(() => {
    sockets.length = 0;
  });

  it.each(['127.0.0.1', '[::1]', 'localhost'])('loopback %s is refused without allowPrivate', async (host) => {
    // The system resolver (dns.lookup) here, so "localhost" resolves for real.
    const plain = new UpstreamPool();
    const err = await errorOf(plain.request({ ...spec(host), name: 'lo' }, 'secret', { method: 'GET', path: '/' }));
    await plain.close();
    expect(err.code).toBe('ssrf_blocked');
    expect(sockets.length).toBe(0);
    expect(echo.seen.length).toBe(0);
  });

  it.each([
    ['internal.test', 'private'],
    ['metadata.test', 'metadata'],
    ['mapped.test', 'loopback'],
    ['ec2v6.test', 'metadata'],
    ['cgnat.test', 'private'],
    ['mixed.test', 'private'],
    ['mixed6.test', 'link_local'],
  ])('a name the resolver maps to a blocked address (%s) is refused: %s', async (host, reason) => {
    const before = calls.length;
    const err = await errorOf(pool.request(spec(host), 'secret', { method: 'GET', path: '/' }));
    expect(err.code).toBe('ssrf_blocked');
    expect(err.details?.reason).toBe(reason);
    // The decision was taken on the resolved address, at connect time, with no socket created.
    expect(calls.slice(before)).toEqual([host]);
    expect(sockets.length).toBe(0);
  });

  it('metadata addresses stay refused even with allowPrivate', async () => {
    const err = await errorOf(pool.request(spec('metadata.test', true), 'secret', { method: 'GET', path: '/' }));
    expect(err.code).toBe('ssrf_blocked');
    expect(sockets.length).toBe(0);
  });

  it('the checked address is the one dialled: the name is resolved once per connection, never again', async () => {
    // svc.test answers 127.0.0.1 first and 127.0.0.2 (where nothing listens) afterwards; if the
    // socket layer resolved the name a second time the request would fail.
    const before = calls.length;
    const res = await pool.request(spec('svc.test', true), 'secret', { method: 'GET', path: '/hello' });
    expect(res.status).toBe(200);
    expect(calls.slice(before)).toEqual(['svc.test']);
    expect(sockets.length).toBe(1);
    // The Host header names the target, not the address.
    expect(echo.seen.at(-1)!.headers['host']).toBe(`svc.test:${echo.port}`);
    expect(echo.seen.at(-1)!.headers['authorization']).toBe('Bearer secret');
  });

  it('an unresolvable name is a typed upstream_error', async () => {
    const err = await errorOf(pool.request(spec('nowhere.test'), 'secret', { method: 'GET', path: '/' }));
    expect(err.code).toBe('upstream_error');
    expect(sockets.length).toBe(0);
  });

  it('the proxy path refuses the same way', async () => {
    const { default: http } = await import('node:http');
    const gw = http.createServer((req, res) => {
      pool.proxy(spec('internal.test'), 'secret', req, res, { path: '/' }).catch((e: { code: string }) => {
        res.writeHead(403, { 'content-type': 'text/plain' }).end(e.code);
      });
    });
    await new Promise<void>((r) => gw.listen(0, '127.0.0.1', r));
    try {
      const port = (gw.address() as { port: number }).port;
      const before = sockets.length;
      const res = await fetch(`http://127.0.0.1:${port}/`);
      expect(await res.text()).toBe('ssrf_blocked');
      // Only the test's own client socket to the gateway was created (fetch uses undici's net.connect).
      expect(sockets.length - before).toBeLessThanOrEqual(1);
    } finally {
      gw.close();
    }
  });
});
