/**
 * Request-side members of the same classes:
 * - a header read as one value when it may be several: Content-Type or Content-Encoding given
 *   twice (say `Content-Type` and `content-type` in api_request) would reach the upstream as two
 *   headers, one judged and another honoured; refused before sending;
 * - malformed percent-encoding in a query was quietly rewritten by URLSearchParams (`%A` sent as
 *   `%25A`), so what was sent differed from what was judged; refused (path_denied);
 * - the request-side decoder takes the one coding parser (identity alone gives the body back).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkQuery,
  decodeRequestForGuard,
  resolveTargetUrl,
  UpstreamPool,
  type HttpTargetSpec,
} from '../../src/upstream/index.js';
import { echoHandler, startServer, type TestServer } from './servers.js';

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

describe('request input the executor refuses instead of rewriting', () => {
  let echo: TestServer;
  const pool = new UpstreamPool();
  const spec = (): HttpTargetSpec => ({ name: 'in', baseUrl: echo.url, auth: { kind: 'none' }, allowPrivate: true });
  beforeAll(async () => {
    echo = await startServer(echoHandler);
  });
  afterAll(async () => {
    await pool.close();
    await echo.close();
  });

  it('Content-Type or Content-Encoding given twice (two spellings) is invalid_input, and nothing is sent', async () => {
    const before = echo.seen.length;
    expect(
      await codeOf(
        pool.request(spec(), undefined, {
          method: 'POST',
          path: '/',
          headers: { 'Content-Type': 'text/plain', 'content-type': 'application/json; charset=utf-16' },
          body: '{}',
        }),
      ),
    ).toBe('invalid_input');
    expect(
      await codeOf(
        pool.request(spec(), undefined, {
          method: 'POST',
          path: '/',
          headers: { 'content-encoding': 'identity', 'Content-Encoding': 'gzip' },
          body: '{}',
        }),
      ),
    ).toBe('invalid_input');
    expect(echo.seen.length).toBe(before);
    // Other headers may repeat, as HTTP allows.
    await pool.request(spec(), undefined, { method: 'GET', path: '/', headers: { 'X-Tag': 'a', 'x-tag': 'b' } });
    expect(echo.seen.at(-1)!.headers['x-tag']).toBe('a, b');
  });

  it('a query with malformed percent-encoding is refused (path_denied), not rewritten', async () => {
    const before = echo.seen.length;
    for (const path of ['/x?q=%A', '/x?q=%E0%A4%A', '/x?%zz=1'])
      expect(await codeOf(pool.request(spec(), undefined, { method: 'GET', path })), path).toBe('path_denied');
    expect(await codeOf(pool.request(spec(), undefined, { method: 'GET', path: '/x', query: 'a=%ZZ' }))).toBe(
      'path_denied',
    );
    expect(echo.seen.length).toBe(before);
    expect(() => checkQuery('a=%41&b=%C3%A9&c=+&d=%25')).not.toThrow();
    expect(resolveTargetUrl(spec(), '/x?a=%41%42&b=1').search).toBe('?a=AB&b=1');
  });

  it('decodeRequestForGuard reads its codings with the shared parser: identity alone is the body, repeated lines are one list', async () => {
    const body = Buffer.from('{"a":1}');
    expect(await decodeRequestForGuard(body, 'identity', 1024)).toEqual(body);
    expect(await decodeRequestForGuard(body, ['identity', 'zstd'], 1024)).toBeUndefined();
  });
});
