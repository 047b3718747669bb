import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeRequestForGuard } from '../../src/upstream/index.js';
import { graphqlOperations } from '../../src/guard/graphql.js';
import { loadGuard, type GuardEngine } from '../../src/guard/index.js';

// Bypasses found in review of the HTTP rules: each of these reached the upstream as `allow`.
let g: GuardEngine;
beforeAll(async () => {
  g = await loadGuard();
});

const post = (path: string, body?: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  g.checkHttp({ method: 'POST', path, headers, body });

describe('HTTP rules: GraphQL operations are read by a lexer, not a regex', () => {
  it('a quote inside a comment or a block string does not hide a mutation', () => {
    expect(post('/graphql', JSON.stringify({ query: '# "\nmutation { deleteRepo(id: "1") { id } }' }))).toMatchObject({
      decision: 'approve',
      rule: 'http.graphql-mutation',
    });
    expect(
      post('/graphql', JSON.stringify({ query: 'query { a(s: """ say "hi" """) } mutation { b }' })),
    ).toMatchObject({ decision: 'approve', rule: 'http.graphql-mutation' });
  });

  it('the query string is split before it is decoded, and every query value counts', () => {
    expect(g.checkHttp({ method: 'GET', path: '/graphql?query=%23%26%0Amutation%20%7B%20wipe%20%7D' }).decision).toBe(
      'approve',
    );
    expect(
      g.checkHttp({ method: 'GET', path: '/graphql?query=%7B%20a%20%7D&query=mutation%20%7B%20b%20%7D' }).decision,
    ).toBe('approve');
  });

  it('a byte-order mark, an escaped key or a compressed body does not hide the operation', () => {
    expect(post('/graphql', '\ufeff{"query":"mutation { x }"}').decision).toBe('approve');
    expect(post('/api', '{"\\u0071uery":"mutation { x }"}')).toMatchObject({
      decision: 'approve',
      rule: 'http.graphql-mutation',
    });
    expect(
      post('/graphql', '\x1f\x8b\x08 not text', { 'content-type': 'application/json', 'content-encoding': 'gzip' }),
    ).toMatchObject({ decision: 'approve', rule: 'http.graphql-unreadable' });
  });

  it('a compressed body decoded by the caller is judged as decoded, on any path; an undecoded one stays unread', () => {
    const gz = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
    const mutation = JSON.stringify({ query: 'mutation { wipe }' });
    // Off GraphQL paths a compressed JSON body used to be ignored: now its operation is seen.
    expect(
      g.checkHttp({ method: 'POST', path: '/api', headers: gz, body: mutation, bodyDecodedFrom: 'gzip' }),
    ).toMatchObject({ decision: 'approve', rule: 'http.graphql-mutation' });
    expect(
      g.checkHttp({
        method: 'POST',
        path: '/graphql',
        headers: gz,
        body: JSON.stringify({ query: '{ a }' }),
        bodyDecodedFrom: 'GZIP ',
      }).decision,
    ).toBe('allow');
    // Decoded from another coding than the one sent: not the server's view, so unread.
    expect(
      g.checkHttp({
        method: 'POST',
        path: '/graphql',
        headers: gz,
        body: JSON.stringify({ query: '{ a }' }),
        bodyDecodedFrom: 'br',
      }),
    ).toMatchObject({ rule: 'http.graphql-unreadable' });
  });

  it('decodeRequestForGuard: gzip, zlib and raw deflate, br, stacked codings; a bomb or garbage stays unread', async () => {
    const text = JSON.stringify({ query: 'mutation { wipe }' });
    expect((await decodeRequestForGuard(gzipSync(text), 'gzip', 1024))?.toString()).toBe(text);
    expect((await decodeRequestForGuard(deflateSync(text), 'deflate', 1024))?.toString()).toBe(text);
    expect((await decodeRequestForGuard(deflateRawSync(text), 'deflate', 1024))?.toString()).toBe(text);
    expect((await decodeRequestForGuard(brotliCompressSync(text), 'br', 1024))?.toString()).toBe(text);
    expect((await decodeRequestForGuard(brotliCompressSync(gzipSync(text)), 'gzip, br', 1024))?.toString()).toBe(text);
    expect(await decodeRequestForGuard(gzipSync(Buffer.alloc(1024 * 1024)), 'gzip', 64 * 1024)).toBeUndefined();
    expect(await decodeRequestForGuard(Buffer.from('\x1f\x8b\x08 not gzip'), 'gzip', 1024)).toBeUndefined();
    expect(await decodeRequestForGuard(gzipSync(text), 'compress', 1024)).toBeUndefined();
  });

  it('`mutation` counts only where a definition starts; text that is not GraphQL is not a mutation', () => {
    // A search API's `query` field: not a GraphQL document, so not a mutation (it was a false positive).
    expect(post('/search', JSON.stringify({ query: 'gene mutation' })).decision).toBe('allow');
    expect(post('/search', JSON.stringify({ query: 'mutation testing tools' })).decision).toBe('approve'); // starts like one: stays cautious
    // An operation named "mutation", a directive, a fragment on a type called Mutation: reads.
    expect(post('/graphql', JSON.stringify({ query: 'query mutation { a }' })).decision).toBe('allow');
    expect(post('/graphql', JSON.stringify({ query: 'query Q @mutation { a }' })).decision).toBe('allow');
    expect(post('/graphql', JSON.stringify({ query: '{ ...F } fragment F on Mutation { a }' })).decision).toBe('allow');
    // A mutation after another definition still counts.
    expect(post('/graphql', JSON.stringify({ query: '{ a } mutation { b }' }))).toMatchObject({
      decision: 'approve',
      rule: 'http.graphql-mutation',
    });
    expect(
      post('/graphql', JSON.stringify({ query: 'query A($v: [Int]) { a(v: $v) } mutation B { b }' })),
    ).toMatchObject({ rule: 'http.graphql-mutation' });
    // On a GraphQL path, a document that starts with another word is unreadable: a write needs approval.
    expect(post('/graphql', JSON.stringify({ query: 'gene mutation' }))).toMatchObject({
      decision: 'approve',
      rule: 'http.graphql-unreadable',
    });
    expect(graphqlOperations('extend type Mutation { x: Int }')).toEqual({ mutation: false, unreadable: true });
  });

  it('a write to a GraphQL path without visible query text (a persisted query) needs approval', () => {
    expect(
      post('/graphql', JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } } })),
    ).toMatchObject({ decision: 'approve', rule: 'http.graphql-unreadable' });
  });

  it('reads stay reads: comments, strings and names that say "mutation" are not operations', () => {
    expect(post('/graphql', JSON.stringify({ query: '{ viewer { login } }' })).decision).toBe('allow');
    expect(post('/graphql', JSON.stringify({ query: '# no mutation here\n{ a }' })).decision).toBe('allow');
    expect(post('/graphql', JSON.stringify({ query: '{ a(s: "mutation { x }") }' })).decision).toBe('allow');
    expect(
      post(
        '/graphql',
        JSON.stringify({ query: 'query Q($n: Int = 5) { items(first: $n) { ...F } } fragment F on Item { id }' }),
      ).decision,
    ).toBe('allow');
  });

  it('the lexer refuses what it cannot read', () => {
    expect(graphqlOperations('{ a(s: "unterminated) }').unreadable).toBe(true);
    expect(graphqlOperations('{ a ').unreadable).toBe(true);
    expect(graphqlOperations('').unreadable).toBe(true);
    expect(graphqlOperations('"""open').unreadable).toBe(true);
    expect(graphqlOperations('mutation { x }')).toEqual({ mutation: true, unreadable: false });
  });
});

describe('HTTP rules: a method override anywhere a framework reads one', () => {
  it('in a form body, a JSON body, or any repeat of the query parameter', () => {
    expect(post('/items/1', '_method=DELETE', { 'content-type': 'application/x-www-form-urlencoded' })).toMatchObject({
      decision: 'approve',
      rule: 'http.delete',
    });
    expect(post('/items/1', JSON.stringify({ _method: 'DELETE' }))).toMatchObject({
      decision: 'approve',
      rule: 'http.delete',
    });
    expect(g.checkHttp({ method: 'POST', path: '/items/1?_method=GET&_method=DELETE' }).decision).toBe('approve');
    expect(
      g.checkHttp({ method: 'GET', path: '/items/1', headers: { 'X-HTTP-Method-Override': 'DELETE' } }).decision,
    ).toBe('approve');
  });

  it('ordinary bodies are not mistaken for overrides', () => {
    expect(post('/items/1', JSON.stringify({ method: 'DELETE', note: '_method=DELETE' })).decision).toBe('allow');
    expect(g.checkHttp({ method: 'GET', path: '/items?sort=_method' }).decision).toBe('allow');
  });
});

// Second review: bodies that only lenient parsers read, and multipart forms.
describe('HTTP rules: loose JSON and multipart forms prove nothing harmless', () => {
  const mutation = 'mutation { deleteUser(id: 1) { id } }';
  it('trailing data, NaN, a trailing comma or a repeated key on a GraphQL path needs approval', () => {
    for (const body of [
      `${JSON.stringify({ query: mutation })}{}`,
      `{"query":${JSON.stringify(mutation)},"n":NaN}`,
      `{"query":${JSON.stringify(mutation)},}`,
      `{"query":${JSON.stringify(mutation)},"query":"{ a }"}`,
      `{"\\u0071uery":${JSON.stringify(mutation)},"query":"{ a }"}`,
    ]) {
      expect(post('/graphql', body).decision, body).toBe('approve');
    }
    // The same JSON with text/plain: a JSON object is not a GraphQL document.
    expect(
      post('/graphql', `${JSON.stringify({ query: mutation })}{}`, { 'content-type': 'text/plain' }).decision,
    ).toBe('approve');
  });

  it('off GraphQL paths, a loose body naming an override or a query needs approval', () => {
    expect(post('/users/1', '{"_method":"DELETE",}')).toMatchObject({
      decision: 'approve',
      rule: 'http.body-unreadable',
    });
    expect(post('/users/1', '{"_method":"GET","_method":"DELETE"}').decision).toBe('approve');
    expect(post('/users/1', '{"name":"x",}').decision).toBe('allow'); // loose, but names nothing the rules read
  });

  const multipart = (fields: [string, string, string?][]) => {
    const b = 'XyZ123';
    const body =
      fields
        .map(
          ([name, value, file]) =>
            `--${b}\r\nContent-Disposition: form-data; name="${name}"${file ? `; filename="${file}"` : ''}\r\n\r\n${value}\r\n`,
        )
        .join('') + `--${b}--\r\n`;
    return { body, headers: { 'content-type': `multipart/form-data; boundary=${b}` } };
  };

  it('a multipart form carrying _method or GraphQL operations is judged', () => {
    const del = multipart([
      ['_method', 'DELETE'],
      ['name', 'x'],
    ]);
    expect(post('/users/1', del.body, del.headers)).toMatchObject({ decision: 'approve', rule: 'http.delete' });
    const ops = multipart([
      [
        'operations',
        JSON.stringify({ query: 'mutation ($f: Upload!) { upload(file: $f) { id } }', variables: { f: null } }),
      ],
      ['map', '{"0":["variables.f"]}'],
      ['0', 'bytes', 'a.txt'],
    ]);
    expect(post('/graphql', ops.body, ops.headers)).toMatchObject({
      decision: 'approve',
      rule: 'http.graphql-mutation',
    });
    const upload = multipart([
      ['title', 'report'],
      ['file', '\u0000\u0001binary', 'r.pdf'],
    ]);
    expect(post('/upload', upload.body, upload.headers).decision).toBe('allow');
    expect(post('/upload', 'no boundary here', { 'content-type': 'multipart/form-data' }).decision).toBe('allow');
    expect(
      post('/users/1', '--x\r\nbroken _method', { 'content-type': 'multipart/form-data; boundary=x' }),
    ).toMatchObject({ decision: 'approve', rule: 'http.body-unreadable' });
  });

  it('the boundary is the boundary parameter, whole: not a substring of another name, not one of two', () => {
    const del = multipart([
      ['_method', 'DELETE'],
      ['name', 'x'],
    ]);
    // A server splits on XyZ123 (the real `boundary`); a guard that took `xboundary=` would see one
    // part of noise and miss the override.
    for (const type of [
      'multipart/form-data; xboundary=Other; boundary=XyZ123',
      'multipart/form-data; boundary=Other; boundary=XyZ123',
    ]) {
      expect(post('/users/1', del.body, { 'content-type': type }).decision, type).not.toBe('allow');
    }
  });
});

describe('HTTP rules: GraphQL endpoints by path parameter or declared type', () => {
  it('/gql;jsessionid=… and an application/graphql body on any path are GraphQL', () => {
    expect(post('/gql;jsessionid=1', JSON.stringify({ query: 'mutation { x }' })).decision).toBe('approve');
    expect(post('/api', 'mutation { wipe }', { 'content-type': 'application/graphql' })).toMatchObject({
      decision: 'approve',
      rule: 'http.graphql-mutation',
    });
    expect(post('/api', '{ viewer { login } }', { 'content-type': 'application/graphql' }).decision).toBe('allow');
  });
});
