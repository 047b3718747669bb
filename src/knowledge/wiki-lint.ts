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

/** Pages compared pairwise for near-duplicates at most (beyond, only equal titles are found). */
const MAX_PAIRWISE = 2000;
const NEAR = 0.8;

/** Namespace-wide findings: orphans (given each page's backlink count) and near-duplicates. */
export function lintNamespace(pages: readonly WikiPage[], backlinkCount: ReadonlyMap<string, number>): WikiFinding[] {
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
  const byTitle = new Map<string, WikiPage[]>();
  for (const p of live) {
    const t = p.title
      .toLowerCase()
      .replace(/[^\p{L}\p{N}]+/gu, ' ')
      .trim();
    if (t) byTitle.set(t, [...(byTitle.get(t) ?? []), p]);
  }
  const reported = new Set<string>();
  const pair = (a: WikiPage, b: WikiPage, why: string) => {
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
  if (live.length <= MAX_PAIRWISE) {
    const sh = live.map((p) => shingles(p.body));
    for (let i = 0; i < live.length; i++) {
      for (let j = i + 1; j < live.length; j++) {
        const a = sh[i]!;
        const b = sh[j]!;
        if (a.size < 5 || b.size < 5 || Math.min(a.size, b.size) / Math.max(a.size, b.size) < NEAR) continue;
        let both = 0;
        for (const s of a) if (b.has(s)) both++;
        if (both / (a.size + b.size - both) >= NEAR) pair(live[i]!, live[j]!, 'mostly the same text as');
      }
    }
  }
  return out;
}

/** Findings a namespace lint returns at most (most severe first; the total is counted). */
export const MAX_NAMESPACE_FINDINGS = 500;

/**
 * Lints every page of a namespace: each page's rules, then orphans and near-duplicates. A page
 * counts as linked when a page of the namespace links to it, or when `linkedFromElsewhere` says
 * a page the caller reads in another namespace does.
 */
export async function lintWholeNamespace(
  pages: AsyncIterable<WikiPage>,
  ctx: PageLintContext & { linkedFromElsewhere(page: WikiPage): Promise<boolean> },
): Promise<{ findings: WikiFinding[]; total: number; pages: number }> {
  const all: WikiPage[] = [];
  const inbound = new Map<string, number>();
  for await (const p of pages) {
    all.push(p);
    if (!p.redirect) for (const l of p.links) inbound.set(l, (inbound.get(l) ?? 0) + 1);
  }
  const findings: WikiFinding[] = [];
  for (const p of all) {
    if (p.redirect) continue;
    const key = `${p.namespace}:${p.slug}`;
    if (!inbound.has(key) && (await ctx.linkedFromElsewhere(p))) inbound.set(key, 1);
    findings.push(...(await lintPage(p, ctx)));
  }
  findings.push(...lintNamespace(all, inbound));
  const order = { danger: 0, warning: 1, info: 2 } as const;
  findings.sort((a, b) => order[a.severity] - order[b.severity]);
  return {
    findings: findings.slice(0, MAX_NAMESPACE_FINDINGS),
    total: findings.length,
    pages: all.filter((p) => !p.redirect).length,
  };
}
