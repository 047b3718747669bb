import { GatehouseError } from '../core/index.js';

export type GrantKind = 'tool' | 'target' | 'vault';
export interface Grant {
  kind: GrantKind;
  /** A name, or `*` for every name of that kind. */
  name: string;
}

const GRANT = /^(tool|target|vault):([A-Za-z0-9_.-]{1,100}|\*)$/;

export function parseGrant(text: string): Grant {
  const [, kind, name] = GRANT.exec(text.trim()) ?? [];
  if (kind === undefined || name === undefined) {
    throw new GatehouseError('invalid_input', `invalid grant ${JSON.stringify(text)}`, {
      hint: 'grants look like tool:api_request, tool:*, target:prod-db, vault:ops',
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
