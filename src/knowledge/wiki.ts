import { randomBytes } from 'node:crypto';
import { GatehouseError } from '../core/index.js';
import type { ChangeOptions, KnowledgeStore } from './store.js';
import type { Item, ItemContent, JsonValue, Provenance, SearchHit, VersionInfo } from './types.js';

/**
 * The wiki on the shared layer: pages in namespaces (scope `ns:<namespace>`), keyed by slug.
 * A page's text is its title, summary, tags and markdown body; its meta holds a stable page id
 * (kept through renames), status, owner, review date, typed sources and the `[[ns:slug]]` links
 * its body makes (the store keeps them as a links table, so backlinks are one query).
 *
 * A rename moves the page to its new slug (same page id, history noted) and leaves a redirect at
 * the old one (a version whose meta names the new slug), which reads follow.
 *
 * The grants (`wiki:NS:read|write|publish`) and the approvals of protected namespaces are decided
 * by the tools (src/tools/wiki.ts); this layer is told which scopes a caller may touch.
 */
export const WIKI_STATUSES = ['draft', 'active', 'stale', 'archived'] as const;
export type WikiStatus = (typeof WIKI_STATUSES)[number];

export type WikiSource =
  | { type: 'url'; url: string; retrieved_at: string; sha256?: string; title?: string }
  | { type: 'document'; title: string; ref: string; retrieved_at: string; sha256: string };

export interface WikiPage {
  /** The knowledge item's id (changes on a rename; `page_id` does not). */
  id: string;
  page_id: string;
  namespace: string;
  slug: string;
  title: string;
  summary: string;
  tags: string[];
  body: string;
  status: WikiStatus;
  owner: string;
  review_by: string;
  sources: WikiSource[];
  links: string[];
  /** Set on a redirect left by a rename: the slug the page moved to. */
  redirect?: string;
  deleted: boolean;
  provenance: Provenance;
}

/** What a writer sets on a page. */
export interface PageFields {
  title: string;
  body: string;
  summary?: string;
  tags?: string[];
  status?: WikiStatus;
  owner?: string;
  review_by?: string;
  sources?: WikiSource[];
}

const NAMESPACE = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const SLUG_SEGMENT = /^[a-z0-9][a-z0-9-]{0,127}$/;
const LINK = /\[\[([a-z0-9][a-z0-9_-]{0,62}:)?([a-z0-9][a-z0-9/-]{0,511})(?:\|[^\]\n]{0,200})?\]\]/g;
const MAX_SOURCES = 50;
const MAX_LINKS = 200;
const MAX_REDIRECTS = 5;

const invalid = (message: string, hint: string) => new GatehouseError('invalid_input', message, { hint });

export const nsScope = (ns: string): string => `ns:${checkNamespace(ns)}`;
export const namespaceOf = (scope: string): string => scope.slice(3);

export function checkNamespace(ns: string): string {
  if (!NAMESPACE.test(ns))
    throw invalid(`${JSON.stringify(ns)} is not a wiki namespace`, 'use lowercase letters, digits, "_" and "-"');
  return ns;
}

export function checkSlug(slug: string): string {
  const segs = slug.split('/');
  if (slug.length > 512 || segs.length > 8 || !segs.every((s) => SLUG_SEGMENT.test(s)))
    throw invalid(
      `${JSON.stringify(slug)} is not a page slug`,
      'use lowercase letters, digits and hyphens, with "/" between levels (e.g. runbooks/deploy)',
    );
  return slug;
}

/** The pages a body links to, as `ns:slug` (a link without a namespace is to the page's own). */
export function parseLinks(body: string, ns: string): string[] {
  const out = new Set<string>();
  for (const m of body.matchAll(LINK)) {
    const target = `${m[1] ? m[1].slice(0, -1) : ns}:${m[2]}`;
    out.add(target);
    if (out.size >= MAX_LINKS) break;
  }
  return [...out];
}

const ISO_SHAPE = /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/;
/** A date (or date and time) that is both shaped like ISO 8601 and a real day (not 2026-13-45). */
const ISO = {
  test(s: string): boolean {
    if (!ISO_SHAPE.test(s) || Number.isNaN(Date.parse(s))) return false;
    const [y, m, d] = s.split(/[-T]/, 3).map(Number) as [number, number, number];
    const day = new Date(Date.UTC(y, m - 1, d));
    return day.getUTCFullYear() === y && day.getUTCMonth() === m - 1 && day.getUTCDate() === d;
  },
};

function checkSources(sources: readonly WikiSource[]): WikiSource[] {
  if (sources.length > MAX_SOURCES) throw invalid(`at most ${MAX_SOURCES} sources`, 'keep the ones that matter');
  return sources.map((s) => {
    if (!ISO.test(s.retrieved_at))
      throw invalid('a source needs retrieved_at as a date (YYYY-MM-DD or ISO time)', 'say when it was read');
    if (s.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(s.sha256))
      throw invalid('a source sha256 must be 64 hex characters', 'hash the content you read');
    if (s.type === 'url') {
      let u: URL;
      try {
        u = new URL(s.url);
      } catch {
        throw invalid(`${JSON.stringify(s.url)} is not a URL`, 'give the full https:// address');
      }
      if (u.protocol !== 'https:' && u.protocol !== 'http:')
        throw invalid('a source URL must be http or https', 'give the full https:// address');
      if (u.username || u.password)
        throw invalid('a source URL must not carry credentials', 'drop the user:password part');
      return {
        type: 'url',
        url: s.url,
        retrieved_at: s.retrieved_at,
        ...(s.sha256 ? { sha256: s.sha256 } : {}),
        ...(s.title ? { title: s.title } : {}),
      };
    }
    if (!s.title || !s.ref) throw invalid('a document source needs a title and a ref', 'name the document');
    return { type: 'document', title: s.title, ref: s.ref, retrieved_at: s.retrieved_at, sha256: s.sha256 };
  });
}

/** What a page version keeps in its meta: the page's fields beyond the shared text. */
type PageMeta = Pick<WikiPage, 'page_id' | 'status' | 'owner' | 'review_by' | 'sources' | 'links' | 'redirect'>;

function metaOf(item: { meta?: ItemContent['meta'] }): PageMeta {
  const m = (item.meta ?? {}) as Partial<PageMeta>;
  return {
    page_id: typeof m.page_id === 'string' ? m.page_id : '',
    status: WIKI_STATUSES.includes(m.status as WikiStatus) ? (m.status as WikiStatus) : 'draft',
    owner: typeof m.owner === 'string' ? m.owner : '',
    review_by: typeof m.review_by === 'string' ? m.review_by : '',
    sources: Array.isArray(m.sources) ? m.sources : [],
    links: Array.isArray(m.links) ? m.links : [],
    ...(typeof m.redirect === 'string' ? { redirect: m.redirect } : {}),
  };
}

export function pageOf(item: Item): WikiPage {
  const m = metaOf(item);
  return {
    id: item.id,
    page_id: m.page_id || item.id,
    namespace: namespaceOf(item.scope),
    slug: item.key,
    title: item.title,
    summary: item.summary,
    tags: item.tags,
    body: item.body,
    status: m.status,
    owner: m.owner,
    review_by: m.review_by,
    sources: m.sources,
    links: m.links,
    ...(m.redirect ? { redirect: m.redirect } : {}),
    deleted: item.deleted,
    provenance: item.provenance,
  };
}

/** The content a page version holds. */
export function pageContent(ns: string, f: PageFields, pageId: string): ItemContent {
  if (f.review_by !== undefined && f.review_by !== '' && !ISO.test(f.review_by))
    throw invalid('review_by must be a date (YYYY-MM-DD)', 'say when the page should be checked again');
  if ((f.owner ?? '').length > 200) throw invalid('owner is too long', 'name a person or a team');
  const meta: PageMeta = {
    page_id: pageId,
    status: f.status ?? 'draft',
    owner: f.owner ?? '',
    review_by: f.review_by ?? '',
    sources: checkSources(f.sources ?? []),
    links: parseLinks(f.body, ns),
  };
  return {
    title: f.title,
    summary: f.summary ?? '',
    tags: f.tags ?? [],
    body: f.body,
    meta: meta as unknown as { [k: string]: JsonValue },
  };
}

const notFound = (what: string) =>
  new GatehouseError('not_found', `no ${what}`, { hint: 'wiki_list_pages or wiki_search show the pages you can read' });

export class WikiStore {
  constructor(private readonly k: KnowledgeStore) {}

  /** The page at a slug, following a rename's redirects (a page that is deleted is not found). */
  async read(ns: string, slug: string): Promise<WikiPage> {
    let at = checkSlug(slug);
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      const item = await this.k.find('wiki', [nsScope(ns)], at);
      if (!item) throw notFound(`page ${ns}:${slug}`);
      const p = pageOf(item);
      if (!p.redirect) return p;
      at = p.redirect;
    }
    throw notFound(`page ${ns}:${slug} (too many redirects)`);
  }

  /** The page at a slug itself (a redirect is returned as one), deleted or not; undefined when none. */
  async lookup(ns: string, slug: string): Promise<WikiPage | undefined> {
    const item = await this.k.lookup('wiki', nsScope(ns), checkSlug(slug));
    return item ? pageOf(item) : undefined;
  }

  /**
   * Creates a page or writes a new version of it (`expectedVersion` to change one). A status left
   * out keeps the page's (a new page is a draft). A page written over a redirect or a deleted page
   * is a new page: it gets its own page id.
   */
  async write(ns: string, slug: string, f: PageFields, opts: ChangeOptions): Promise<WikiPage> {
    checkSlug(slug);
    const cur = await this.lookup(ns, slug);
    const live = cur && !cur.deleted && !cur.redirect ? cur : undefined;
    const pageId = live?.page_id || `wp_${randomBytes(9).toString('base64url')}`;
    const fields = { ...f, status: f.status ?? live?.status ?? 'draft' };
    return pageOf(await this.k.write('wiki', nsScope(ns), slug, pageContent(ns, fields, pageId), opts));
  }

  /**
   * Moves a page to a new slug (same page id) and leaves a redirect at the old one, in one
   * transaction.
   */
  async rename(ns: string, slug: string, to: string, opts: ChangeOptions): Promise<WikiPage> {
    checkSlug(to);
    const cur = await this.read(ns, slug);
    if (cur.slug !== slug)
      throw new GatehouseError('conflict', `${ns}:${slug} is a redirect to ${cur.slug}`, {
        hint: `rename ${cur.slug}`,
      });
    // The old slug says where the page went (a version whose meta is the redirect), written in
    // the move's own transaction: nothing can take the old slug in between.
    const redirect: ItemContent = {
      title: cur.title,
      summary: `moved to ${to}`,
      tags: [],
      body: `This page moved to [[${ns}:${to}]].`,
      meta: { page_id: cur.page_id, status: 'archived', redirect: to, links: [`${ns}:${to}`] },
    };
    return pageOf(await this.k.move(cur.id, [nsScope(ns)], to, { ...opts, note: `renamed to ${to}`, leave: redirect }));
  }

  async delete(ns: string, slug: string, opts: ChangeOptions): Promise<WikiPage> {
    const cur = await this.read(ns, slug);
    return pageOf(await this.k.delete(cur.id, [nsScope(ns)], opts));
  }

  async revert(ns: string, slug: string, version: number, opts: ChangeOptions): Promise<WikiPage> {
    const cur = await this.read(ns, slug);
    return pageOf(await this.k.revert(cur.id, [nsScope(ns)], version, opts));
  }

  /** One version of a page (its content then). */
  async version(ns: string, slug: string, version: number): Promise<WikiPage & { op: string }> {
    const cur = await this.read(ns, slug);
    const v = await this.k.readVersion(cur.id, [nsScope(ns)], version);
    const item: Item = {
      ...v,
      id: cur.id,
      kind: 'wiki',
      scope: nsScope(ns),
      key: cur.slug,
      deleted: v.op === 'delete',
      createdAt: '',
      provenance: v,
    };
    return { ...pageOf(item), op: v.op };
  }

  async history(ns: string, slug: string): Promise<VersionInfo[]> {
    const cur = await this.read(ns, slug);
    return this.k.history(cur.id, [nsScope(ns)]);
  }

  async list(namespaces: readonly string[], opts: { prefix?: string; limit?: number } = {}): Promise<WikiPage[]> {
    return (await this.k.list('wiki', namespaces.map(nsScope), opts)).map(pageOf);
  }

  async search(namespaces: readonly string[], query: string, opts: { limit?: number } = {}): Promise<SearchHit[]> {
    return this.k.search('wiki', namespaces.map(nsScope), query, opts);
  }

  /** Pages in the readable namespaces that link to `ns:slug`. */
  async backlinks(namespaces: readonly string[], ns: string, slug: string): Promise<WikiPage[]> {
    return (await this.k.backlinks('wiki', namespaces.map(nsScope), `${ns}:${slug}`)).map(pageOf);
  }

  /** Every page of a namespace (lint). */
  async *all(ns: string): AsyncGenerator<WikiPage> {
    for await (const i of this.k.all('wiki', nsScope(ns))) yield pageOf(i);
  }

  /** The namespaces that hold pages. */
  async namespaces(): Promise<string[]> {
    return (await this.k.scopes('wiki')).filter((s) => s.startsWith('ns:')).map(namespaceOf);
  }
}
