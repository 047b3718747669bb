/**
 * console.public_origin: the console behind a proxy that terminates TLS answers at exactly that
 * host, with that origin for the Origin check, Secure cookies, and passkeys for that name; every
 * other name is still refused, and loopback keeps working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkPublicOrigin } from '../../src/console/index.js';
import { consoleServer, type ConsoleServer } from './helpers.js';

describe('console.public_origin', () => {
  let srv: ConsoleServer;
  let admin: string;
  beforeAll(async () => {
    srv = await consoleServer({ console: { publicOrigin: 'https://gatehouse.example.test' } });
    admin = (await srv.rt.tokens.create({ name: 'ops-admin', admin: true })).token;
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('answers at the public host with the public origin, and its cookie is Secure', async () => {
    const host = 'gatehouse.example.test';
    expect((await srv.call('GET', '/console/login', { host })).status).toBe(200);
    const ok = await srv.call('POST', '/console/login', {
      host,
      origin: 'https://gatehouse.example.test',
      form: { token: admin },
    });
    expect(ok.status).toBe(303);
    expect(String(ok.headers['set-cookie'])).toMatch(/; Secure/);
    // The same host over another scheme or port is another origin.
    const wrongScheme = await srv.call('POST', '/console/login', {
      host,
      origin: 'http://gatehouse.example.test',
      form: { token: admin },
    });
    expect(wrongScheme.status).toBe(403);
    expect((await srv.call('GET', '/console/login', { host: 'gatehouse.example.test:8443' })).status).toBe(421);
    expect((await srv.call('GET', '/console/login', { host: 'evil.example.test' })).status).toBe(421);
    // Loopback keeps working, without Secure (plain http).
    const local = await srv.call('POST', '/console/login', { form: { token: admin } });
    expect(local.status).toBe(303);
    expect(String(local.headers['set-cookie'])).not.toMatch(/Secure/);
  });

  it('only an https origin with a host name and no path is taken', () => {
    expect(checkPublicOrigin('https://gatehouse.example.com').origin).toBe('https://gatehouse.example.com');
    expect(checkPublicOrigin('https://gatehouse.example.com:8443/').host).toBe('gatehouse.example.com:8443');
    expect(checkPublicOrigin('http://ops.localhost:3000').origin).toBe('http://ops.localhost:3000');
    for (const bad of [
      'http://gatehouse.example.com',
      'https://10.0.0.5',
      'https://[::1]',
      'https://x.example/console',
      'https://x.example?a=1',
      'not a url',
    ])
      expect(() => checkPublicOrigin(bad), bad).toThrow();
  });
});
