import { GatehouseError } from '../core/index.js';

/**
 * Destination bindings. An item is usable only where one of its bindings matches:
 * - `target:NAME`  the configured target NAME, exactly (case-sensitive).
 * - `host:PATTERN` the request's host: an exact host name / IP, or `*.example.com`, which matches
 *   any subdomain at any depth (`a.example.com`, `a.b.example.com`) but NOT `example.com` itself.
 *   Hosts compare case-insensitively, without a trailing dot; ports are not part of the pattern.
 * INVARIANT: an item with no binding is usable nowhere (fail closed).
 */
export interface Binding {
  kind: 'target' | 'host';
  pattern: string;
}

export interface Destination {
  target?: string;
  host?: string;
}

const TARGET = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST_PATTERN = /^(\*\.)?([a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*|\[[0-9a-f:.]+\])$/;

export function parseBinding(text: string): Binding {
  const colon = text.indexOf(':');
  const kind = colon > 0 ? text.slice(0, colon) : '';
  const value = colon > 0 ? text.slice(colon + 1) : '';
  if (kind === 'target' && TARGET.test(value)) return { kind, pattern: value };
  if (kind === 'host') {
    const p = normalizeHost(value);
    if (HOST_PATTERN.test(p)) return { kind, pattern: p };
  }
  throw new GatehouseError('invalid_input', `invalid binding ${JSON.stringify(text.slice(0, 200))}`, {
    hint: 'write target:NAME or host:PATTERN (e.g. host:api.example.com, host:*.example.com)',
  });
}

export function formatBinding(b: Binding): string {
  return `${b.kind}:${b.pattern}`;
}

function normalizeHost(h: string): string {
  return h.trim().toLowerCase().replace(/\.$/, '');
}

export function hostMatches(pattern: string, host: string): boolean {
  const h = normalizeHost(host);
  if (!h) return false;
  if (pattern.startsWith('*.')) {
    const suffix = pattern.slice(1); // ".example.com"
    return h.length > suffix.length && h.endsWith(suffix);
  }
  return h === pattern;
}

export function bindingMatches(b: Binding, dest: Destination): boolean {
  if (b.kind === 'target') return dest.target !== undefined && dest.target === b.pattern;
  return dest.host !== undefined && hostMatches(b.pattern, dest.host);
}

export function anyBindingMatches(bs: readonly Binding[], dest: Destination): boolean {
  return bs.some((b) => bindingMatches(b, dest));
}
