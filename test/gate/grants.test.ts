/**
 * Grant strings (src/gate/grants.ts): every accepted form, the ones refused, and what the wiki's
 * per-namespace rights imply (write and publish imply read; nothing implies another namespace).
 */
import { describe, expect, it } from 'vitest';
import { isGranted, parseGrant, wikiAllows, wikiNamespaces } from '../../src/gate/index.js';

describe('grants', () => {
  it.each([
    'tool:api_request',
    'tool:*',
    'target:prod-db',
    'vault:ops',
    'memory:write:org',
    'memory:read:org',
    'memory:write:user',
    'memory:read:user',
    'memory:*',
    'skill:propose',
    'skill:publish',
    'skill:*',
    'wiki:ops:read',
    'wiki:ops:write',
    'wiki:ops:publish',
    'wiki:ops:*',
    'wiki:*:read',
    'wiki:*:*',
    'wiki:*',
  ])('accepts %s', (g) => {
    expect(() => parseGrant(g)).not.toThrow();
  });

  it.each([
    'memory:write:token',
    'memory:admin',
    'skill:approve',
    'skill:publish:now',
    'wiki:ops',
    'wiki:Ops:read',
    'wiki:ops:delete',
    'wiki:../x:read',
    'wiki:ops:read:x',
    'tool:a b',
    'nonsense',
  ])('refuses %s', (g) => {
    expect(() => parseGrant(g)).toThrow(expect.objectContaining({ code: 'invalid_input' }));
  });

  it('gives wiki rights per namespace: write and publish imply read, nothing crosses namespaces', () => {
    const g = ['wiki:ops:write', 'wiki:docs:publish', 'wiki:*:read'].map(parseGrant);
    expect(wikiAllows(g, 'ops', 'read')).toBe(true);
    expect(wikiAllows(g, 'ops', 'write')).toBe(true);
    expect(wikiAllows(g, 'ops', 'publish')).toBe(false);
    expect(wikiAllows(g, 'docs', 'write')).toBe(false);
    expect(wikiAllows(g, 'docs', 'publish')).toBe(true);
    expect(wikiAllows(g, 'anything', 'read')).toBe(true);
    expect(wikiAllows(g, 'anything', 'write')).toBe(false);
    expect(wikiNamespaces(g)).toBe('*');
    const only = ['wiki:ops:read'].map(parseGrant);
    expect(wikiAllows(only, 'ops2', 'read')).toBe(false);
    expect(wikiNamespaces(only)).toEqual(['ops']);
    expect(wikiAllows(['wiki:*'].map(parseGrant), 'any', 'publish')).toBe(true);
    expect(wikiNamespaces(['wiki:*'].map(parseGrant))).toBe('*');
    expect(isGranted(['skill:*'].map(parseGrant), 'skill', 'publish')).toBe(true);
    expect(isGranted(['skill:propose'].map(parseGrant), 'skill', 'publish')).toBe(false);
  });
});
