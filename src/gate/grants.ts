import { GatehouseError } from '../core/index.js';

export type GrantKind = 'tool' | 'target' | 'vault' | 'memory' | 'skill';
export interface Grant {
  kind: GrantKind;
  /** A name, or `*` for every name of that kind. */
  name: string;
}

const GRANT = /^(tool|target|vault):([A-Za-z0-9_.-]{1,100}|\*)$/;
/**
 * Memory grants widen what a memory tool may reach beyond its defaults (its own token scope read
 * and write, the org scope read): `memory:write:org` writes team memory, `memory:*` everything.
 * (`memory:read:org` is accepted and is the default already.)
 */
const MEMORY_GRANT = /^(memory):((?:read|write):org|\*)$/;
/**
 * Skill grants: `skill:propose` changes drafts of org skills; `skill:publish` may ask a person to
 * publish, roll back or deprecate one (a publish never happens without that approval);
 * `skill:*` both. Reading published skills needs only the read tools.
 */
const SKILL_GRANT = /^(skill):(propose|publish|\*)$/;

export function parseGrant(text: string): Grant {
  const [, kind, name] =
    GRANT.exec(text.trim()) ?? MEMORY_GRANT.exec(text.trim()) ?? SKILL_GRANT.exec(text.trim()) ?? [];
  if (kind === undefined || name === undefined) {
    throw new GatehouseError('invalid_input', `invalid grant ${JSON.stringify(text)}`, {
      hint: 'grants look like tool:api_request, tool:*, target:prod-db, vault:ops, memory:write:org, skill:propose',
    });
  }
  return { kind: kind as GrantKind, name };
}

export function formatGrant(g: Grant): string {
  return `${g.kind}:${g.name}`;
}

/** Whether the grants allow `kind:name`. Only exact names or `*` match; there are no other globs. */
export function isGranted(grants: readonly Grant[], kind: GrantKind, name: string): boolean {
  return grants.some((g) => g.kind === kind && (g.name === '*' || g.name === name));
}

/** The names of `kind` granted, or `'*'` when all are. */
export function grantedNames(grants: readonly Grant[], kind: GrantKind): string[] | '*' {
  const names = grants.filter((g) => g.kind === kind).map((g) => g.name);
  return names.includes('*') ? '*' : names;
}
