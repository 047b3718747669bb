/**
 * Issue 13.12: a body nested 400,000 arrays deep gave an untyped `internal` error. JSON.parse is
 * iterative in V8, JSON.stringify is not: a request body serialised for sending, or a parsed
 * response serialised into an MCP result, overflowed the stack. Depth is now bounded by iterative
 * walks, with a typed `invalid_input` (request bodies) or the text itself (responses).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GatehouseError } from '../../src/core/index.js';
import {
  formatBody,
  jsonBodyText,
  jsonTextDepth,
  MAX_JSON_DEPTH,
  UpstreamPool,
  valueTooDeep,
} from '../../src/upstream/index.js';
import { startServer, type TestServer } from './servers.js';

const DEEP = 400_000;
const deepArrays = '['.repeat(DEEP) + ']'.repeat(DEEP);
const deepObjects = '{"a":'.repeat(DEEP) + '1' + '}'.repeat(DEEP);
const nest = (n: number) => JSON.parse('['.repeat(n) + ']'.repeat(n)) as unknown;

describe('JSON depth is bounded without recursion', () => {
  it('jsonBodyText refuses 400,000-deep arrays and objects with invalid_input and a hint (api_request bodies)', () => {
    for (const text of [deepArrays, deepObjects]) {
      const value = JSON.parse(text) as unknown;
      let err: GatehouseError | undefined;
      try {
        jsonBodyText(value);
      } catch (e) {
        err = e as GatehouseError;
      }
      expect(err).toMatchObject({ code: 'invalid_input', details: { maxDepth: MAX_JSON_DEPTH } });
      expect(err!.hint).toMatch(/flatten/);
    }
  });

  it('the limit is exact: MAX_JSON_DEPTH levels pass, one more does not; cycles count as too deep', () => {
    expect(valueTooDeep(nest(MAX_JSON_DEPTH))).toBe(false);
    expect(valueTooDeep(nest(MAX_JSON_DEPTH + 1))).toBe(true);
    expect(jsonBodyText({ a: [1, { b: 'x' }] })).toBe('{"a":[1,{"b":"x"}]}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(valueTooDeep(cyclic)).toBe(true);
    expect(jsonTextDepth('['.repeat(MAX_JSON_DEPTH) + ']'.repeat(MAX_JSON_DEPTH))).toBe(MAX_JSON_DEPTH);
    expect(jsonTextDepth(deepArrays)).toBe(MAX_JSON_DEPTH + 1);
    // Brackets in strings (escaped quotes too) are not nesting.
    expect(jsonTextDepth(JSON.stringify({ s: '[[[[{{{{\\"[[' }))).toBe(1);
  });

  it('formatBody keeps a 400,000-deep JSON response as text, so serialising the result cannot overflow', () => {
    for (const text of [deepArrays, deepObjects]) {
      const f = formatBody('application/json', Buffer.from(text));
      expect(f.encoding).toBe('text');
      expect(() => JSON.stringify(f)).not.toThrow();
    }
    expect(formatBody('application/json', Buffer.from('[[[1]]]'))).toEqual({ encoding: 'json', value: [[[1]]] });
  });

  describe('through the buffered executor', () => {
    let up: TestServer;
    const pool = new UpstreamPool();
    beforeAll(async () => {
      up = await startServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(deepArrays);
      });
    });
    afterAll(async () => {
      await pool.close();
      await up.close();
    });

    it('a 400,000-deep answer comes back whole, formatted as text', async () => {
      const r = await pool.request(
        { name: 'deep', baseUrl: up.url, auth: { kind: 'none' }, allowPrivate: true },
        undefined,
        { method: 'GET', path: '/', maxResponseBytes: 2 * DEEP + 10 },
      );
      expect(r.truncated).toBe(false);
      const f = formatBody(r.headers['content-type'], r.body);
      expect(f).toMatchObject({ encoding: 'text' });
      expect(JSON.stringify({ structuredContent: { body: f.value } }).length).toBeGreaterThan(2 * DEEP);
    });
  });
});
