/**
 * The shared knowledge layer's vocabulary. Memory, org skills and wiki pages are all "items":
 * text future agents will read, kept in versions, owned by a scope that comes from the caller's
 * token (never from a tool argument; the tools resolve it before they reach this layer).
 */
export type KnowledgeKind = 'memory' | 'skill' | 'wiki';
export const KNOWLEDGE_KINDS: readonly KnowledgeKind[] = ['memory', 'skill', 'wiki'];

/**
 * Who a scope belongs to: `token:<id>` (follows the token through rotation), `user:<name>`,
 * `org`, `ns:<namespace>` (a wiki namespace), or `proposal:org` (changes to the org scope from
 * tokens that may not write it, waiting for a person; keyed `<token id>/<path>`). Written by the
 * tools from the principal.
 */
export type Scope = string;

/** Who wrote a version, and how far it is trusted when read back. */
export interface Author {
  /** The token's id for an agent's write; undefined for an operator (CLI, console). */
  tokenId?: string;
  /** A name for people: the token's name, or `operator:<who>`. */
  name: string;
  /** `agent`: written through a tool; `operator`: by a person through the CLI or console. */
  trust: 'agent' | 'operator';
}

/** A JSON value, as kept in an item's `meta`. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

/**
 * What a kind keeps beside the text (a skill version's manifest digest, a wiki page's sources):
 * signed with the version like the text. Absent and `{}` are the same.
 */
export type ItemMeta = { readonly [k: string]: JsonValue };

/** What an item holds in one version. */
export interface ItemContent {
  title: string;
  summary: string;
  tags: string[];
  body: string;
  meta?: ItemMeta;
}

/** Where a version came from: returned with every read, so text is framed as data, not instructions. */
export interface Provenance {
  version: number;
  author: string;
  trust: 'agent' | 'operator';
  at: string;
  sha256: string;
}

export interface Item extends ItemContent {
  id: string;
  kind: KnowledgeKind;
  scope: Scope;
  key: string;
  deleted: boolean;
  createdAt: string;
  provenance: Provenance;
}

export type VersionOp = 'write' | 'delete' | 'restore' | 'revert';

/** One entry of an item's history (the content is read with `readVersion`). */
export interface VersionInfo extends Provenance {
  op: VersionOp;
  note?: string;
  /** The version's meta (absent when empty). */
  meta?: ItemMeta;
}

export interface SearchHit {
  id: string;
  kind: KnowledgeKind;
  scope: Scope;
  key: string;
  title: string;
  /** A short extract around the matched words, with them in [brackets]. */
  snippet: string;
  updatedAt: string;
}

/**
 * Refuses text that holds a secret before it is stored: returns what was found (a name, never the
 * value), or undefined. The runtime backs it with the vault's values and the redaction shapes.
 */
export type SecretScan = (text: string) => string | undefined;

/**
 * Items one scope may hold, by kind (deleted ones included until purged): a typed
 * `limit_exceeded` beyond it, so one token cannot fill the store, or the org scope, with notes.
 */
export const MAX_ITEMS_PER_SCOPE: Record<KnowledgeKind, number> = { memory: 5000, skill: 500, wiki: 20000 };

/** Size limits per item body, by kind (issue 15): typed `input_too_large` beyond them. */
export const MAX_BODY_BYTES: Record<KnowledgeKind, number> = {
  memory: 16 * 1024,
  skill: 256 * 1024,
  wiki: 256 * 1024,
};
