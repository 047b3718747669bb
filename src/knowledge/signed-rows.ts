import { createHash } from 'node:crypto';
import { GatehouseError, rowMac, rowMacValid, type MacField } from '../core/index.js';
import type { Item, ItemContent, ItemMeta, JsonValue, KnowledgeKind, VersionInfo, VersionOp } from './types.js';

/**
 * The knowledge tables' rows, how a version is signed, and how a row is checked before anything
 * in it is trusted (src/knowledge/store.ts reads and writes them).
 *
 * INVARIANTS: a version row is signed with the store integrity key over which item it belongs to
 * (id, kind, scope, key), what was done (version, op, content hash), by whom (token, name, trust),
 * the note and the time; a version whose signature or content hash does not hold is never
 * returned, and an item row is trusted only when it matches its newest version exactly: same
 * version, deleted exactly when that version is a delete, same content.
 */
const VERSION_MAC = 'knowledge-version/v1';

export interface ItemRow {
  n: number;
  id: string;
  kind: string;
  scope: string;
  key: string;
  version: number;
  deleted: number;
  title: string;
  summary: string;
  tags: string;
  body: string;
  /** Canonical JSON of the version's meta (`{}` when it has none). */
  meta: string;
  created_at: string;
  updated_at: string;
  updated_by: string;
}

export interface VersionRow {
  item_id: string;
  version: number;
  op: string;
  title: string;
  summary: string;
  tags: string;
  body: string;
  meta: string;
  sha256: string;
  author_token_id: string | null;
  author: string;
  trust: string;
  note: string | null;
  created_at: string;
  mac: string;
}

/**
 * JSON with object keys sorted at every level, strings made well-formed: one text for one value,
 * so a hash over it does not depend on the order a caller built the object in.
 */
export function canonicalJson(v: JsonValue | undefined): string {
  const norm = (x: JsonValue): JsonValue =>
    typeof x === 'string'
      ? x.toWellFormed()
      : Array.isArray(x)
        ? x.map(norm)
        : x !== null && typeof x === 'object'
          ? Object.fromEntries(
              Object.keys(x)
                .sort()
                .map((k) => [k.toWellFormed(), norm(x[k]!)]),
            )
          : x;
  return JSON.stringify(v === undefined ? {} : norm(v));
}

const EMPTY_META = '{}';

/**
 * The SHA-256 a version signs: title, summary, tags and body, strings made well-formed first, and
 * the meta when there is any (versions without meta hash as they did before meta existed).
 */
export const sha256Of = (c: ItemContent): string => {
  const parts: unknown[] = [c.title, c.summary, c.tags, c.body].map((x) =>
    typeof x === 'string' ? x.toWellFormed() : x,
  );
  const meta = canonicalJson(c.meta);
  if (meta !== EMPTY_META) parts.push(meta);
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
};

const tampered = (message: string) =>
  new GatehouseError('integrity_failed', message, {
    hint: 'an operator should compare it with the audit log and restore the store from a backup',
  });

export function signVersion(
  key: Buffer,
  item: { id: string; kind: string; scope: string; key: string },
  v: Omit<VersionRow, 'mac'>,
): string {
  return rowMac(key, VERSION_MAC, macFields(item, v));
}

/** INVARIANT: a version whose signature or content hash does not hold is never returned. */
export function checkVersion(key: Buffer, item: ItemRow, v: VersionRow): void {
  const { mac, ...fields } = v;
  if (!rowMacValid(key, VERSION_MAC, macFields(item, fields), mac) || sha256Of(contentOf(v)) !== v.sha256)
    throw tampered(`version ${v.version} of item ${item.id} was changed outside Gatehouse`);
}

/** An item row checked against its newest version row: the item as it may be trusted. */
export function checkedItem(key: Buffer, row: ItemRow, v: VersionRow | undefined): Item {
  if (!v || Number(v.version) !== Number(row.version) || (Number(row.deleted) === 1) !== (v.op === 'delete'))
    throw tampered(`item ${row.id} does not match its newest signed version`);
  checkVersion(key, row, v);
  const c = contentOf(row);
  if (sha256Of(c) !== v.sha256) throw tampered(`item ${row.id} does not match its version ${row.version}`);
  return {
    id: row.id,
    kind: row.kind as KnowledgeKind,
    scope: row.scope,
    key: row.key,
    deleted: row.deleted === 1,
    createdAt: row.created_at,
    ...c,
    provenance: provenanceOf(v),
  };
}

export function columns(c: ItemContent): { title: string; summary: string; tags: string; body: string; meta: string } {
  return {
    title: c.title,
    summary: c.summary,
    tags: JSON.stringify(c.tags),
    body: c.body,
    meta: canonicalJson(c.meta),
  };
}

export function contentOf(r: {
  title: string;
  summary: string;
  tags: string;
  body: string;
  meta: string;
}): ItemContent {
  const meta = r.meta && r.meta !== EMPTY_META ? (JSON.parse(r.meta) as ItemMeta) : undefined;
  return {
    title: r.title,
    summary: r.summary,
    tags: JSON.parse(r.tags) as string[],
    body: r.body,
    ...(meta ? { meta } : {}),
  };
}

export function provenanceOf(v: VersionRow): VersionInfo {
  return {
    version: v.version,
    author: v.author,
    trust: v.trust === 'operator' ? 'operator' : 'agent',
    at: v.created_at,
    sha256: v.sha256,
    op: v.op as VersionOp,
  };
}

/** The signed fields of a version: which item (and where it lives), what was done, by whom, when. */
function macFields(
  item: { id: string; kind: string; scope: string; key: string },
  v: Omit<VersionRow, 'mac'>,
): MacField[] {
  return [
    item.id,
    item.kind,
    item.scope,
    item.key,
    v.version,
    v.op,
    v.sha256,
    v.author_token_id,
    v.author,
    v.trust,
    v.note,
    v.created_at,
  ];
}
