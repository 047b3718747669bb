import { describe, expect, it } from 'vitest';
import {
  checkAddress,
  parseAuthSpec,
  pathWithQuery,
  resolveTargetUrl,
  validateTargetSpec,
  type HttpTargetSpec,
} from '../../src/upstream/index.js';

const spec: HttpTargetSpec = {
  name: 'api',
  baseUrl: 'https://api.example.com/api/v1',
  auth: { kind: 'query', name: 'key' },
  allowPrivate: false,
};

function code(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (e) {
    return (e as { code?: string }).code;
  }
}

describe('target spec validation', () => {
  const bad: Array<[string, Partial<HttpTargetSpec>]> = [
    ['empty name', { name: '' }],
    ['name with slash', { name: 'a/b' }],
    ['ftp scheme', { baseUrl: 'ftp://x.example.com' }],
    ['file scheme', { baseUrl: 'file:///etc/passwd' }],
    ['relative url', { baseUrl: '/v1' }],
    ['userinfo', { baseUrl: 'https://user:pw@api.example.com' }],
    ['query in base', { baseUrl: 'https://api.example.com/v1?key=1' }],
    ['fragment in base', { baseUrl: 'https://api.example.com/v1#x' }],
    ['dot segment in base', { baseUrl: 'https://api.example.com/v1/%2e%2e/admin' }],
    ['whitespace in base', { baseUrl: 'https://api.example.com/ v1' }],
    ['backslash in base', { baseUrl: 'https://api.example.com\\v1' }],
    ['bad header name', { auth: { kind: 'header', name: 'X Api Key' } }],
    ['reserved header', { auth: { kind: 'header', name: 'Host' } }],
    ['proxy header', { auth: { kind: 'header', name: 'Proxy-Authorization' } }],
    ['bad query name', { auth: { kind: 'query', name: 'a&b' } }],
    ['unknown auth', { auth: { kind: 'oauth' } as unknown as HttpTargetSpec['auth'] }],
    ['allowPrivate not boolean', { allowPrivate: 'yes' as unknown as boolean }],
  ];
  it.each(bad)('refuses %s with invalid_input', (_label, patch) => {
    expect(code(() => validateTargetSpec({ ...spec, ...patch }))).toBe('invalid_input');
  });

  it('parses a good spec into origin and base path', () => {
    const t = validateTargetSpec({ ...spec, baseUrl: 'https://api.example.com/api/v1/' });
    expect(t.origin).toBe('https://api.example.com');
    expect(t.basePath).toBe('/api/v1');
    expect(validateTargetSpec({ ...spec, baseUrl: 'http://127.0.0.1:8080' }).basePath).toBe('');
  });

  it('parses CLI auth spellings', () => {
    expect(parseAuthSpec('bearer')).toEqual({ kind: 'bearer' });
    expect(parseAuthSpec('header:X-Api-Key')).toEqual({ kind: 'header', name: 'X-Api-Key' });
    expect(parseAuthSpec('query:api_key')).toEqual({ kind: 'query', name: 'api_key' });
    expect(code(() => parseAuthSpec('digest'))).toBe('invalid_input');
  });
});

describe('resolveTargetUrl refuses paths that leave the target', () => {
  const evil = [
    'http://evil.com/x',
    'https://evil.com',
    'HTTP://evil.com',
    '//evil.com/x',
    '///evil.com',
    '/\\evil.com',
    '\\\\evil.com/x',
    'user@evil.com/x',
    '@evil.com/x',
    'evil.com:80/x',
    'javascript:alert(1)',
    '/http://evil.com/x',
    '..',
    '../x',
    '/../secret',
    '/a/../../secret',
    '/a/..',
    '/a/./b',
    '/./x',
    '/...',
    '/a/.../b',
    '/ ../x',
    '/%2e%2e/x',
    '/%2E%2E/x',
    '/%2e./x',
    '/.%2e/x',
    '/%2e/x',
    '%2e%2e/x',
    '/%252e%252e/x',
    '/%25252e%25252e/x',
    '/%%32%65%%32%65/x',
    '/..%2fsecret',
    '/..%2Fsecret',
    '/a%2f..%2f..%2fsecret',
    '/%2e%2e%2f%2e%2e%2fetc',
    '/a/..%252f..%252fsecret',
    '/..%5csecret',
    '/%5c%5cevil.com',
    '/a%255c..%255c',
    '/%2f%2fevil.com',
    '/%252f%252fevil.com',
    '/..;/secret',
    '/.;/x',
    '/a/..;jsessionid=1/b',
    '/x/%00',
    '/x%0d%0aHost:evil',
    '/x\r\nHost: evil',
    '/x\ty',
    '/x\u0000',
    '/x%7f',
    '/%c0%ae%c0%ae/x',
    '/%e0%80%ae%e0%80%ae/x',
    '/%c0%af',
    '/\uff0e\uff0e/x',
    '/x/\u2025',
    '/%ef%bc%8e%ef%bc%8e/x',
    '/a\uff3c..',
    '/a#frag',
    '/x?y=1#z',
  ];
  it.each(evil)('refuses %j with path_denied', (p) => {
    expect(code(() => resolveTargetUrl(spec, p))).toBe('path_denied');
  });

  it('covers dozens of cases', () => {
    expect(evil.length).toBeGreaterThanOrEqual(50);
  });

  const good: Array<[string, string]> = [
    ['/models', '/api/v1/models'],
    ['models', '/api/v1/models'],
    ['', '/api/v1/'],
    ['/', '/api/v1/'],
    ['/files/a%20b.txt', '/api/v1/files/a%20b.txt'],
    ['/users/alice@example.com', '/api/v1/users/alice@example.com'],
    ['/a:b', '/api/v1/a:b'],
    ['/100%25', '/api/v1/100%25'],
    ['/projects/group%2Fproject', '/api/v1/projects/group%2Fproject'],
    ['/.well-known/thing', '/api/v1/.well-known/thing'],
    ['/a..b/..c', '/api/v1/a..b/..c'],
  ];
  it.each(good)('accepts %j under the base path', (p, expected) => {
    const url = resolveTargetUrl(spec, p);
    expect(url.origin).toBe('https://api.example.com');
    expect(url.pathname).toBe(expected);
  });

  it('merges query from the path and the query argument, fills values, and drops the agent copy of the query credential', () => {
    const url = resolveTargetUrl(
      spec,
      '/search?q=a+b&key=stolen',
      { limit: 5, tag: ['x', '{{h}}'], key: 'agent' },
      (s) => s.replace('{{h}}', 'filled'),
    );
    expect(url.searchParams.get('q')).toBe('a b');
    expect(url.searchParams.get('limit')).toBe('5');
    expect(url.searchParams.getAll('tag')).toEqual(['x', 'filled']);
    expect(url.searchParams.has('key')).toBe(false);
  });
});

describe('checkAddress', () => {
  const blocked: Array<[string, string]> = [
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.0.0.5', 'private'],
    ['172.16.3.4', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['169.254.1.1', 'link_local'],
    ['169.254.169.254', 'metadata'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['::1', 'loopback'],
    ['::', 'unspecified'],
    ['fc00::1', 'private'],
    ['fd12:3456::1', 'private'],
    ['fe80::1', 'link_local'],
    ['fe80::1%eth0', 'link_local'],
    ['ff02::1', 'multicast'],
    ['fd00:ec2::254', 'metadata'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['::ffff:10.0.0.5', 'private'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['2001:db8::1', 'reserved'],
    ['2001::1', 'reserved'],
    ['not-an-ip', 'invalid'],
  ];
  it.each(blocked)('blocks %s as %s', (ip, reason) => {
    expect(checkAddress(ip, false)).toEqual({ allowed: false, reason });
  });
  it.each(['8.8.8.8', '93.184.216.34', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808'])(
    'allows public %s',
    (ip) => {
      expect(checkAddress(ip, false)).toEqual({ allowed: true });
    },
  );
  it('allowPrivate opens private ranges but never metadata', () => {
    expect(checkAddress('127.0.0.1', true).allowed).toBe(true);
    expect(checkAddress('10.0.0.5', true).allowed).toBe(true);
    expect(checkAddress('169.254.169.254', true)).toEqual({ allowed: false, reason: 'metadata' });
    expect(checkAddress('fd00:ec2::254', true)).toEqual({ allowed: false, reason: 'metadata' });
    expect(checkAddress('::ffff:169.254.169.254', true)).toEqual({ allowed: false, reason: 'metadata' });
  });
  it('an IPv4 address with a zone (only a custom lookup could answer one) is refused, never judged by its text', () => {
    for (const allowPrivate of [true, false]) {
      expect(checkAddress('169.254.169.254%eth0', allowPrivate)).toEqual({ allowed: false, reason: 'invalid' });
      expect(checkAddress('10.0.0.5%1', allowPrivate)).toEqual({ allowed: false, reason: 'invalid' });
    }
  });
});

// The guard is shown pathWithQuery(); the upstream is sent resolveTargetUrl(). They must agree, or
// an override or a GraphQL operation could be judged in one spelling and sent in another.
describe('pathWithQuery is the query resolveTargetUrl sends', () => {
  const spec: HttpTargetSpec = {
    name: 'q',
    baseUrl: 'https://api.example.com',
    auth: { kind: 'bearer' },
    allowPrivate: false,
  };
  it.each([
    ['/items', { _method: 'DELETE' }],
    ['/graphql', { query: 'mutation { a(s: "x&y=z") }', n: [1, 2] }],
    ['/items?a=1', { b: 'two words', c: true }],
    ['/items?x=%26y', undefined],
    ['/items', { '': '', 'k+': '+%20' }],
  ] as const)('%s %j', (path, query) => {
    const url = resolveTargetUrl(spec, path, query as Record<string, string>);
    const shown = pathWithQuery(path, query as Record<string, string> | undefined);
    const q = shown.indexOf('?');
    const shownQuery = q < 0 ? '' : new URLSearchParams(shown.slice(q + 1)).toString();
    expect(shownQuery).toBe(url.searchParams.toString());
  });
});
