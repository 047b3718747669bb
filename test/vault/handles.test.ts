import { describe, expect, it } from 'vitest';
import { parseHandles, hostMatches, parseBinding, bindingMatches } from '../../src/vault/index.js';

const handlesOf = (t: string) =>
  parseHandles(t)
    .filter((s) => s.kind === 'handle')
    .map((s) => (s.kind === 'handle' ? s.handle : null));
const textOf = (t: string) =>
  parseHandles(t)
    .map((s) =>
      s.kind === 'text' ? s.text : `<${s.handle.vault}/${s.handle.item}.${s.handle.field ?? ''}|${s.handle.filter}>`,
    )
    .join('');

describe('handle grammar', () => {
  it('parses a plain handle and filters', () => {
    expect(handlesOf('Bearer {{vault:ops/github.token}}')).toEqual([
      { text: '{{vault:ops/github.token}}', vault: 'ops', item: 'github', field: 'token', filter: 'raw' },
    ]);
    for (const f of ['raw', 'base64', 'base64url', 'urlencode', 'hex', 'json']) {
      expect(handlesOf(`{{vault:ops/github.token|${f}}}`)[0]?.filter).toBe(f);
    }
  });
  it('splits ITEM.FIELD at the last dot', () => {
    expect(handlesOf('{{vault:ops/api.example.com.token}}')[0]).toMatchObject({
      item: 'api.example.com',
      field: 'token',
    });
  });
  it('parses |basic as an item-level handle', () => {
    expect(handlesOf('Basic {{vault:ops/api.example.com|basic}}')[0]).toMatchObject({
      item: 'api.example.com',
      filter: 'basic',
    });
    expect(handlesOf('Basic {{vault:ops/api.example.com|basic}}')[0]?.field).toBeUndefined();
  });
  it('leaves other {{ alone and honours backslash escapes before {{vault:', () => {
    expect(textOf('{{name}} and {{ x }}')).toBe('{{name}} and {{ x }}');
    expect(textOf('\\{{vault:ops/a.b}}')).toBe('{{vault:ops/a.b}}');
    expect(textOf('\\\\{{vault:ops/a.b}}')).toBe('\\<ops/a.b|raw>');
    expect(textOf('\\\\\\{{vault:x')).toBe('\\{{vault:x');
    expect(textOf('a\\b {{vault:ops/a.b}}{{vault:ops/c.d|hex}}z')).toBe('a\\b <ops/a.b|raw><ops/c.d|hex>z');
  });
  it('refuses malformed handles (fail closed) without echoing much', () => {
    for (const bad of [
      '{{vault:ops}}',
      '{{vault:ops/item}}',
      '{{vault:ops/a.b|rot13}}',
      '{{vault:o ps/a.b}}',
      '{{vault:ops/a.b',
      '{{vault:../a.b}}',
      '{{vault:ops/a.}}',
    ]) {
      expect(() => parseHandles(bad), bad).toThrowError(expect.objectContaining({ code: 'vault_handle_refused' }));
    }
  });
});

describe('bindings', () => {
  it('matches hosts exactly or by *. glob (subdomains only)', () => {
    expect(hostMatches('*.example.com', 'a.example.com')).toBe(true);
    expect(hostMatches('*.example.com', 'a.b.EXAMPLE.com.')).toBe(true);
    expect(hostMatches('*.example.com', 'example.com')).toBe(false);
    expect(hostMatches('*.example.com', 'evilexample.com')).toBe(false);
    expect(hostMatches('*.example.com', 'example.com.evil.net')).toBe(false);
    expect(hostMatches('api.example.com', 'api.example.com')).toBe(true);
    expect(hostMatches('api.example.com', 'x.api.example.com')).toBe(false);
  });
  it('parses and matches bindings', () => {
    expect(parseBinding('target:github')).toEqual({ kind: 'target', pattern: 'github' });
    expect(parseBinding('host:*.Example.COM')).toEqual({ kind: 'host', pattern: '*.example.com' });
    for (const bad of ['github', 'host:', 'host:*', 'host:a.*.com', 'host:http://x', 'target:a b', 'url:x'])
      expect(() => parseBinding(bad), bad).toThrow();
    expect(bindingMatches({ kind: 'target', pattern: 'github' }, { target: 'github' })).toBe(true);
    expect(bindingMatches({ kind: 'target', pattern: 'github' }, { host: 'github' })).toBe(false);
    expect(bindingMatches({ kind: 'host', pattern: 'h.io' }, {})).toBe(false);
  });
});
