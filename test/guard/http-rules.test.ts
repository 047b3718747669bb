import { beforeAll, describe, expect, it } from 'vitest';
import { graphqlOperations } from '../../src/guard/graphql.js';
import { loadGuard, type GuardEngine } from '../../src/guard/index.js';

// Bypasses found in review of the HTTP rules: each of these reached the upstream as `allow`.
let g: GuardEngine;
beforeAll(async () => {
  g = await loadGuard();
});

const post = (path: string, body?: string, headers: Record<string, string> = { 'content-type': 'application/json' }) => g.checkHttp({ method: 'POST', path, headers, body });

describe('HTTP rules: GraphQL operations are read by a lexer, not a regex', () => {
  it('a quote inside a comment or a block string does not hide a mutation', () => {
    expect(post('/graphql', JSON.stringify({ query: '# "\nmutation { deleteRepo(id: "1") { id } }' }))).toMatchObject({ decision: 'approve', rule: 'http.graphql-mutation' });
    expect(post('/graphql', JSON.stringify({ query: 'query { a(s: """ say "hi" """) } mutation { b }' }))).toMatchObject({ decision: 'approve', rule: 'http.graphql-mutation' });
  });

  it('the query string is split before it is decoded, and every query value counts', () => {
    expect(g.checkHttp({ method: 'GET', path: '/graphql?query=%23%26%0Amutation%20%7B%20wipe%20%7D' }).decision).toBe('approve');
    expect(g.checkHttp({ method: 'GET', path: '/graphql?query=%7B%20a%20%7D&query=mutation%20%7B%20b%20%7D' }).decision).toBe('approve');
  });

  it('a byte-order mark, an escaped key or a compressed body does not hide the operation', () => {
    expect(post('/graphql', '\ufeff{"query":"mutation { x }"}').decision).toBe('approve');
    expect(post('/api', '{"\\u0071uery":"mutation { x }"}')).toMatchObject({ decision: 'approve', rule: 'http.graphql-mutation' });
    expect(post('/graphql', '\x1f\x8b\x08 not text', { 'content-type': 'application/json', 'content-encoding': 'gzip' })).toMatchObject({ decision: 'approve', rule: 'http.graphql-unreadable' });
  });

  it('a write to a GraphQL path without visible query text (a persisted query) needs approval', () => {
    expect(post('/graphql', JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: 'ab'.repeat(32) } } }))).toMatchObject({ decision: 'approve', rule: 'http.graphql-unreadable' });
  });

  it('reads stay reads: comments, strings and names that say "mutation" are not operations', () => {
    expect(post('/graphql', JSON.stringify({ query: '{ viewer { login } }' })).decision).toBe('allow');
    expect(post('/graphql', JSON.stringify({ query: '# no mutation here\n{ a }' })).decision).toBe('allow');
    expect(post('/graphql', JSON.stringify({ query: '{ a(s: "mutation { x }") }' })).decision).toBe('allow');
    expect(post('/graphql', JSON.stringify({ query: 'query Q($n: Int = 5) { items(first: $n) { ...F } } fragment F on Item { id }' })).decision).toBe('allow');
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
    expect(post('/items/1', '_method=DELETE', { 'content-type': 'application/x-www-form-urlencoded' })).toMatchObject({ decision: 'approve', rule: 'http.delete' });
    expect(post('/items/1', JSON.stringify({ _method: 'DELETE' }))).toMatchObject({ decision: 'approve', rule: 'http.delete' });
    expect(g.checkHttp({ method: 'POST', path: '/items/1?_method=GET&_method=DELETE' }).decision).toBe('approve');
    expect(g.checkHttp({ method: 'GET', path: '/items/1', headers: { 'X-HTTP-Method-Override': 'DELETE' } }).decision).toBe('approve');
  });

  it('ordinary bodies are not mistaken for overrides', () => {
    expect(post('/items/1', JSON.stringify({ method: 'DELETE', note: '_method=DELETE' })).decision).toBe('allow');
    expect(g.checkHttp({ method: 'GET', path: '/items?sort=_method' }).decision).toBe('allow');
  });
});
