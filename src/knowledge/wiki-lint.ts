import { cutText } from '../core/index.js';
import { lintText } from './lint.js';
import type { WikiPage } from './wiki.js';

/**
 * Lint for wiki pages: what keeps a wiki worth trusting, reported, never fixed by itself (a fix
 * is a suggestion for whoever edits the page). Per page: missing fields, broken links, stale
 * pages, active pages without sources, text that holds a secret (a value that reached the vault
 * after the page was written), text aimed at a model or hidden from a reader, and markdown images
 * on foreign hosts (rendering one sends a request, with whatever the URL carries, to that host).
 * Per namespace, also: orphans (no page links to them) and near-duplicates.
 */
export interface WikiFinding {
  rule:
    | 'missing-summary'
    | 'missing-owner'
    | 'missing-review-by'
    | 'broken-link'
    | 'unreadable-link'
    | 'stale'
    | 'claims-without-sources'
    | 'secret'
    | 'instruction-like'
    | 'hidden-text'
    | 'external-image'
    | 'orphan'
    | 'near-duplicate';
  severity: 'info' | 'warning' | 'danger';
  /** `ns:slug`. */
  page: string;
  evidence: string;
  fix?: string;
}

export interface PageLintContext {
  /** Whether `ns:slug` is a page: true, false, or undefined when its namespace is not readable. */
  exists(target: string): Promise<boolean | undefined>;
  /** Hosts the operator configured: images elsewhere are findings. */
  knownHosts: ReadonlySet<string>;
  /** What in the text is a secret now (a name, never the value), or undefined. */
  secretIn(text: string): string | undefined;
  now: Date;
}

const IMAGE =
  /!\[[^\]\n]*\]\(\s*<?(https?:)?\/\/([^/\s)>:]+)[^)]*\)|<img\b[^>]*\bsrc\s*=\s*["']?(https?:)?\/\/([^/\s"'>:]+)/gi;

/** Findings for one page. */
export async function lintPage(p: WikiPage, ctx: PageLintContext): Promise<WikiFinding[]> {
  const page = `${p.namespace}:${p.slug}`;
  const out: WikiFinding[] = [];
  const add = (f: Omit<WikiFinding, 'page'>) => out.push({ page, ...f });
  if (p.redirect) return out;
  if (!p.summary.trim())
    add({
      rule: 'missing-summary',
      severity: 'warning',
      evidence: 'no summary',
      fix: 'add one or two sentences saying what the page is for',
    });
  if (!p.owner.trim())
    add({
      rule: 'missing-owner',
      severity: 'warning',
      evidence: 'no owner',
      fix: 'name the person or team who keeps it true',
    });
  if (p.status === 'active' && !p.review_by)
    add({
      rule: 'missing-review-by',
      severity: 'info',
      evidence: 'no review date',
      fix: 'set review_by to when it should be checked again',
    });
  if (p.status === 'stale' || (p.review_by && new Date(p.review_by) < ctx.now))
    add({
      rule: 'stale',
      severity: 'warning',
      evidence: p.status === 'stale' ? 'marked stale' : `review_by ${p.review_by} has passed`,
      fix: 'check it against its sources, then update review_by (or archive it)',
    });
  if (p.status === 'active' && p.sources.length === 0)
    add({
      rule: 'claims-without-sources',
      severity: 'warning',
      evidence: 'an active page with no sources',
      fix: 'add the URLs or documents its claims come from (with retrieved_at and a hash)',
    });
  for (const target of p.links) {
    const there = await ctx.exists(target);
    if (there === false)
      add({
        rule: 'broken-link',
        severity: 'warning',
        evidence: `[[${target}]] is not a page`,
        fix: 'fix the slug or write the page',
      });
    else if (there === undefined)
      add({
        rule: 'unreadable-link',
        severity: 'info',
        evidence: `[[${target}]] is in a namespace this token cannot read`,
      });
  }
  const text = [p.title, p.summary, p.tags.join(' '), p.body].join('\n');
  const secret = ctx.secretIn(text);
  if (secret)
    add({
      rule: 'secret',
      severity: 'danger',
      evidence: `the page holds ${secret}`,
      fix: 'replace it with a {{vault:…}} handle (an operator can purge the old versions)',
    });
  for (const f of lintText(text)) {
    add({
      rule: f.rule === 'hidden-unicode' || f.rule === 'html-comment' ? 'hidden-text' : 'instruction-like',
      severity: f.severity,
      evidence: `${f.rule}: ${f.evidence}`,
      fix: 'write it as information for people; remove hidden text',
    });
  }
  const foreign = new Set<string>();
  for (const m of p.body.matchAll(IMAGE)) {
    const host = (m[2] ?? m[4] ?? '').toLowerCase();
    if (host && !ctx.knownHosts.has(host)) foreign.add(host);
  }
  if (foreign.size)
    add({
      rule: 'external-image',
      severity: 'danger',
      evidence: `images from ${[...foreign].slice(0, 5).join(', ')}: rendering them sends a request there`,
      fix: 'link to the image instead, or host it on a known host',
    });
  return out;
}

/** Word 3-shingles of a text (for near-duplicates). */
function shingles(text: string): Set<string> {
  const w = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const out = new Set<string>();
  for (let i = 0; i + 2 < w.length; i++) out.add(`${w[i]} ${w[i + 1]} ${w[i + 2]}`);
  return out;
}

/**
 * Pages compared pairwise for near-duplicates at most, and how much of each body is compared
 * (beyond, only equal titles are found): the comparison is quadratic and runs on the event loop.
 */
export const MAX_PAIRWISE = 300;
const COMPARED_CHARS = 20_000;
const NEAR = 0.8;

/** What the namespace-wide rules need of a page (a body only for the near-duplicate comparison). */
export type LintedPage = Pick<WikiPage, 'namespace' | 'slug' | 'title' | 'status' | 'redirect'> & { body?: string };

/** Namespace-wide findings: orphans (given each page's backlink count) and near-duplicates. */
export function lintNamespace(pages: readonly LintedPage[], backlinkCount: ReadonlyMap<string, number>): WikiFinding[] {
  const out: WikiFinding[] = [];
  const live = pages.filter((p) => !p.redirect);
  for (const p of live) {
    if ((backlinkCount.get(`${p.namespace}:${p.slug}`) ?? 0) === 0 && p.status !== 'archived')
      out.push({
        page: `${p.namespace}:${p.slug}`,
        rule: 'orphan',
        severity: 'info',
        evidence: 'no page links to it',
        fix: 'link it from an index or a related page, or archive it',
      });
  }
  const byTitle = new Map<string, LintedPage[]>();
  for (const p of live) {
    const t = p.title
      .toLowerCase()
      .replace(/[^\p{L}\p{N}]+/gu, ' ')
      .trim();
    if (t) byTitle.set(t, [...(byTitle.get(t) ?? []), p]);
  }
  const reported = new Set<string>();
  const pair = (a: LintedPage, b: LintedPage, why: string) => {
    const key = [a.slug, b.slug].sort().join('\u0000');
    if (reported.has(key)) return;
    reported.add(key);
    out.push({
      page: `${a.namespace}:${a.slug}`,
      rule: 'near-duplicate',
      severity: 'warning',
      evidence: `${why} ${b.namespace}:${b.slug}`,
      fix: 'merge them and rename one into the other (its slug keeps a redirect)',
    });
  };
  for (const group of byTitle.values())
    for (let i = 1; i < group.length; i++) pair(group[0]!, group[i]!, 'same title as');
  const compared = live.filter((p) => p.body !== undefined).slice(0, MAX_PAIRWISE);
  const sh = compared.map((p) => shingles(cutText(p.body!, COMPARED_CHARS)));
  for (let i = 0; i < compared.length; i++) {
    for (let j = i + 1; j < compared.length; j++) {
      const a = sh[i]!;
      const b = sh[j]!;
      if (a.size < 5 || b.size < 5 || Math.min(a.size, b.size) / Math.max(a.size, b.size) < NEAR) continue;
      let both = 0;
      for (const s of a) if (b.has(s)) both++;
      if (both / (a.size + b.size - both) >= NEAR) pair(compared[i]!, compared[j]!, 'mostly the same text as');
    }
  }
  return out;
}

/** Findings a namespace lint returns at most (most severe first; the total is counted). */
export const MAX_NAMESPACE_FINDINGS = 500;
/** Pages without a link from their own namespace that are looked up in others, at most. */
const MAX_ELSEWHERE_LOOKUPS = 200;

/**
 * Lints every page of a namespace: each page's rules as it is read (no body is kept beyond the
 * few the near-duplicate comparison needs), then orphans and near-duplicates. A link to a
 * redirect counts for the page it leads to. A page counts as linked when a page of the namespace
 * links to it, or when `linkedFromElsewhere` says a page the caller reads in another namespace
 * does (asked for at most MAX_ELSEWHERE_LOOKUPS pages; beyond, a page is not called an orphan).
 */
export async function lintWholeNamespace(
  pages: AsyncIterable<WikiPage>,
  ctx: PageLintContext & { linkedFromElsewhere(page: LintedPage): Promise<boolean> },
): Promise<{ findings: WikiFinding[]; total: number; pages: number }> {
  const kept: LintedPage[] = [];
  const links: string[] = [];
  const redirects = new Map<string, string>();
  const findings: WikiFinding[] = [];
  let n = 0;
  for await (const p of pages) {
    const key = `${p.namespace}:${p.slug}`;
    if (p.redirect) redirects.set(key, `${p.namespace}:${p.redirect}`);
    else {
      links.push(...p.links);
      findings.push(...(await lintPage(p, ctx)));
    }
    const compared = !p.redirect && kept.filter((k) => k.body !== undefined).length < MAX_PAIRWISE;
    kept.push({
      namespace: p.namespace,
      slug: p.slug,
      title: p.title,
      status: p.status,
      ...(p.redirect ? { redirect: p.redirect } : {}),
      ...(compared ? { body: cutText(p.body, COMPARED_CHARS) } : {}),
    });
    // Let other requests run between pages: a namespace can hold thousands.
    if (++n % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  const inbound = new Map<string, number>();
  for (let target of links) {
    for (let hop = 0; hop < 5 && redirects.has(target); hop++) target = redirects.get(target)!;
    inbound.set(target, (inbound.get(target) ?? 0) + 1);
  }
  let lookups = 0;
  for (const p of kept) {
    const key = `${p.namespace}:${p.slug}`;
    if (p.redirect || inbound.has(key) || p.status === 'archived') continue;
    if (++lookups > MAX_ELSEWHERE_LOOKUPS || (await ctx.linkedFromElsewhere(p))) inbound.set(key, 1);
  }
  findings.push(...lintNamespace(kept, inbound));
  const order = { danger: 0, warning: 1, info: 2 } as const;
  findings.sort((a, b) => order[a.severity] - order[b.severity]);
  return {
    findings: findings.slice(0, MAX_NAMESPACE_FINDINGS),
    total: findings.length,
    pages: kept.filter((p) => !p.redirect).length,
  };
}
