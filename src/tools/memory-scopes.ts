import { GatehouseError } from '../core/index.js';
import { isGranted, type Principal } from '../gate/index.js';
import type { Scope } from '../knowledge/index.js';

/**
 * The memory scope policy, in one place for every channel that reads or writes memory (the
 * memory_* tools, the file-style tool, `discover`, MCP resources).
 *
 * INVARIANT: a scope's owner comes from the token, never from a request: `token:<id>` is the
 * token's own (it follows the token through rotation), `user:<name>` its user's when the signed
 * token row binds one, `org` the team's. Reads see those; writes go to the token's or the user's
 * scope, and to the org's only with the `memory:write:org` grant.
 */

/** Which kind of scope an item is in, as the tools name it (never whose). */
export type MemoryScopeLabel = 'token' | 'user' | 'org';

/** The scopes a token reads, in the order a path is looked up: its own, its user's, the org's. */
export function memoryScopes(p: Principal): { label: MemoryScopeLabel; scope: Scope }[] {
  return [
    { label: 'token', scope: `token:${p.tokenId}` },
    ...(p.user ? [{ label: 'user' as const, scope: `user:${p.user}` }] : []),
    { label: 'org', scope: 'org' },
  ];
}

export const memoryScopeLabel = (scope: Scope): MemoryScopeLabel =>
  scope === 'org' ? 'org' : scope.startsWith('user:') ? 'user' : 'token';

function scopeOf(p: Principal, label: MemoryScopeLabel): Scope {
  const s = memoryScopes(p).find((x) => x.label === label);
  if (s) return s.scope;
  throw new GatehouseError('not_granted', 'this token is not bound to a user, so it has no user memory', {
    hint: 'use scope token (yours) or org (the team’s); an operator binds a token to a user with `token create --user NAME`',
  });
}

/** The scopes a read may see: all the token's readable scopes, or the one it names. */
export function memoryReadable(p: Principal, only?: MemoryScopeLabel): Scope[] {
  return only ? [scopeOf(p, only)] : memoryScopes(p).map((s) => s.scope);
}

/** Whether the token writes the team's memory directly (otherwise its org changes are proposals). */
export const canWriteOrg = (p: Principal): boolean => isGranted(p.grants, 'memory', 'write:org');

/** The scope a write goes to; the org scope needs `memory:write:org`. */
export function memoryWritable(p: Principal, label: MemoryScopeLabel = 'token'): Scope {
  if (label === 'org' && !canWriteOrg(p)) {
    throw new GatehouseError('not_granted', 'this token may read the org memory but not write it', {
      hint: 'write it to your own memory (scope token), or ask an operator for the memory:write:org grant',
    });
  }
  return scopeOf(p, label);
}
