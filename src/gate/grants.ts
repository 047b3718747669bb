import { GatehouseError } from '../core/index.js';

export type GrantKind = 'tool' | 'target' | 'vault' | 'memory' | 'skill' | 'wiki' | 'webhook';
export interface Grant {
  kind: GrantKind;
  /** A name, or `*` for every name of that kind. */
  name: string;
}

const GRANT = /^(tool|target|vault):([A-Za-z0-9_.-]{1,100}|\*)$/;
/**
 * Memory grants widen what a memory tool may reach beyond its defaults (its own token scope read
 * and write, the org scope read): `memory:write:org` writes team memory, `memory:*` everything.
 * (`memory:read:org`, `memory:read:user` and `memory:write:user` are accepted and are the defaults
 * already: a token reads the org scope, and reads and writes its user's scope when it is bound to one.)
 */
const MEMORY_GRANT = /^(memory):((?:read|write):(?:org|user)|\*)$/;
/**
 * Skill grants: `skill:propose` changes drafts of org skills; `skill:publish` may ask a person to
 * publish, roll back or deprecate one (a publish never happens without that approval);
 * `skill:*` both. Reading published skills needs only the read tools.
 */
const SKILL_GRANT = /^(skill):(propose|publish|\*)$/;
/**
 * Wiki grants, per namespace: `wiki:NS:read`, `wiki:NS:write` (implies read), `wiki:NS:publish`
 * (make pages active or archive them; implies read), with `*` for every namespace or every right
 * (`wiki:*:read`, `wiki:ops:*`, `wiki:*:*`, or `wiki:*` for all of it). Without one, a token reads no
 * namespace.
 */
const WIKI_GRANT = /^(wiki):(\*|(?:[a-z0-9][a-z0-9_-]{0,62}|\*):(?:read|write|publish|\*))$/;

/**
 * Webhook grants: `webhook:NAME` lets a token poll, ack and read the events of endpoint NAME (with
 * the webhook tools), `webhook:*` every endpoint. Endpoints themselves are changed by operators only.
 */
const WEBHOOK_GRANT = /^(webhook):([a-z0-9][a-z0-9_-]{0,62}|\*)$/;

export type WikiRight = 'read' | 'write' | 'publish';

/** Whether the grants give `right` on wiki namespace `ns` (write and publish imply read). */
export function wikiAllows(grants: readonly Grant[], ns: string, right: WikiRight): boolean {
  const rights = right === 'read' ? ['read', 'write', 'publish', '*'] : [right, '*'];
  return grants.some((g) => {
    if (g.kind !== 'wiki') return false;
    const [gns, gr] = g.name === '*' ? ['*', '*'] : g.name.split(':');
    return (gns === ns || gns === '*') && rights.includes(gr ?? '');
  });
}

/** The namespaces named in wiki grants (`*` when any grant covers every namespace). */
export function wikiNamespaces(grants: readonly Grant[]): string[] | '*' {
  const names = grants.filter((g) => g.kind === 'wiki').map((g) => g.name.split(':')[0]!);
  return names.includes('*') ? '*' : [...new Set(names)];
}

export function parseGrant(text: string): Grant {
  const [, kind, name] =
    GRANT.exec(text.trim()) ??
    MEMORY_GRANT.exec(text.trim()) ??
    SKILL_GRANT.exec(text.trim()) ??
    WIKI_GRANT.exec(text.trim()) ??
    WEBHOOK_GRANT.exec(text.trim()) ??
    [];
  if (kind === undefined || name === undefined) {
    throw new GatehouseError('invalid_input', `invalid grant ${JSON.stringify(text)}`, {
      hint: 'grants look like tool:api_request, tool:*, target:prod-db, vault:ops, memory:write:org, skill:propose, wiki:ops:write, webhook:github-main',
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
