import { GatehouseError, log } from '../core/index.js';
import { unifiedDiff } from './line-diff.js';
import {
  checkSkill,
  isText,
  manifestBytes,
  parseManifest,
  parseSkillMd,
  sha256Hex,
  SKILL_MD,
  type CheckedSkill,
  type SkillFile,
  type SkillManifest,
} from './skill-format.js';
import { lintSkill, type SkillFinding } from './skill-lint.js';
import type { ChangeOptions, KnowledgeStore } from './store.js';
import type { Author, Item, ItemContent, Provenance, VersionInfo } from './types.js';

/**
 * Org skills on the shared layer: one knowledge item per skill name in each of two scopes.
 *
 *  - `org`: the published skill, what every token with the read tool sees. Each version is one
 *    publication (a rollback publishes an older digest again); a deprecation is its tombstone.
 *  - `draft:org`: the working copy, changed by tokens with `skill:propose`; publishing it marks it
 *    deleted (its history stays), and the next change brings it back.
 *
 * A version's text is its SKILL.md (searched and listed: title = name, summary = description);
 * its meta holds the manifest's digest and its files' hashes. Files and manifest are stored by
 * content (KnowledgeStore.file), in the same transaction as the version.
 *
 * INVARIANTS:
 * - A version is checked against the format before it is stored, and every file in it is scanned
 *   for secrets (SKILL.md by the store, the rest here).
 * - What is served for a version is exactly what its manifest names: the manifest must hash to
 *   the signed digest and every file to its manifest entry (size too), or `integrity_failed`.
 * - The published scope changes only through `publish` and `deprecate`, each bound to the digest
 *   and the published version the caller saw (the tools call them only after a person approved
 *   exactly that); a stale binding is a `conflict` and nothing changes.
 */
/** Lines of text files a diff compares at most, and edits per file (the diff's cost grows with both). */
const MAX_DIFF_LINES = 20_000;
const MAX_DIFF_EDITS = 1000;

/** Paths in the order a reviewer should read them: what runs or instructs first. */
function orderForReview(paths: string[]): string[] {
  const rank = (p: string) =>
    p === SKILL_MD
      ? 0
      : p.startsWith('scripts/')
        ? 1
        : p.startsWith('references/')
          ? 3
          : p.startsWith('assets/')
            ? 4
            : 2;
  return [...paths].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
}

export const PUBLISHED_SKILLS = 'org';
export const DRAFT_SKILLS = 'draft:org';
export type SkillWhere = 'published' | 'draft';
const scopeOf = (w: SkillWhere) => (w === 'published' ? PUBLISHED_SKILLS : DRAFT_SKILLS);

/** One version of a skill as read: what it is, where, and its manifest. */
export interface SkillVersion {
  name: string;
  description: string;
  where: SkillWhere;
  /** The knowledge item's id (the same for every version in one scope). */
  id: string;
  digest: string;
  manifest: SkillManifest;
  frontmatter: Record<string, unknown>;
  /** SKILL.md, whole. */
  skillMd: string;
  provenance: Provenance;
  /** Published and then deprecated (this version is the deprecation's). */
  deprecated: boolean;
}

/** The meta a skill version keeps. */
interface SkillMeta {
  digest: string;
  files: string[];
}

const notFound = (what: string) =>
  new GatehouseError('not_found', `no ${what}`, { hint: 'org_skill_list shows the skills this token can read' });

function metaOf(c: { meta?: ItemContent['meta'] }): SkillMeta {
  const m = c.meta as Partial<SkillMeta> | undefined;
  if (!m || typeof m.digest !== 'string' || !Array.isArray(m.files))
    throw new GatehouseError('integrity_failed', 'a skill version has no manifest digest');
  return m as SkillMeta;
}

export class SkillStore {
  constructor(
    private readonly k: KnowledgeStore,
    /** Hosts the operator configured (targets): links elsewhere are lint findings. */
    private readonly knownHosts: () => Promise<ReadonlySet<string>>,
  ) {}

  /** Checks a version: the format (throws), secrets (throws), lint (findings). */
  async check(name: string, files: readonly SkillFile[]): Promise<{ checked: CheckedSkill; findings: SkillFinding[] }> {
    const checked = checkSkill(name, files);
    await this.k.freshSecrets();
    // File names are text every reader sees (and part of every resource URI).
    this.k.refuseSecretsIn(`a file name in ${name}`, checked.files.map((f) => f.path).join('\n'));
    for (const f of checked.files) {
      if (isText(f.data)) this.k.refuseSecretsIn(`${name}/${f.path}`, f.data.toString('utf8'));
      else {
        // Binary files are scanned as Latin-1 and as UTF-16, so secrets stored as either are found.
        this.k.refuseSecretsIn(`${name}/${f.path}`, f.data.toString('latin1'));
        this.k.refuseSecretsIn(`${name}/${f.path}`, f.data.toString('utf16le'));
      }
    }
    return { checked, findings: lintSkill(checked, await this.knownHosts()) };
  }

  /** Writes a new draft version with exactly these files. */
  async saveDraft(
    name: string,
    files: readonly SkillFile[],
    opts: ChangeOptions,
  ): Promise<{ version: SkillVersion; findings: SkillFinding[] }> {
    const { checked, findings } = await this.check(name, files);
    const item = await this.k.write('skill', DRAFT_SKILLS, name, this.#content(checked), {
      ...opts,
      files: [manifestBytes(checked.manifest), ...checked.files.map((f) => f.data)],
    });
    return { version: await this.#fromItem(item, 'draft'), findings };
  }

  /** The current version in a scope (a deprecated published skill or a published draft is not found). */
  async current(name: string, where: SkillWhere): Promise<SkillVersion> {
    const item = await this.k.find('skill', [scopeOf(where)], name);
    if (!item) throw notFound(`${where === 'draft' ? 'draft of skill' : 'published skill'} ${name}`);
    return this.#fromItem(item, where);
  }

  /** Like `current`, but undefined when there is none. */
  async currentOrNone(name: string, where: SkillWhere): Promise<SkillVersion | undefined> {
    const item = await this.k.find('skill', [scopeOf(where)], name);
    return item ? this.#fromItem(item, where) : undefined;
  }

  /** One version by number, deprecated or not (a pinned read). */
  async atVersion(name: string, where: SkillWhere, version: number): Promise<SkillVersion> {
    const item = await this.k.lookup('skill', scopeOf(where), name);
    if (!item) throw notFound(`skill ${name}`);
    const v = await this.k.readVersion(item.id, [scopeOf(where)], version);
    return this.#build(name, where, item.id, v, { ...v }, v.op === 'delete');
  }

  /**
   * The version whose manifest has this digest: a publication first (not a deprecation's copy
   * when there is another), then a draft unless `publishedOnly` (readers who may not see drafts).
   */
  async byDigest(name: string, digest: string, opts: { publishedOnly?: boolean } = {}): Promise<SkillVersion> {
    const places = opts.publishedOnly ? (['published'] as const) : (['published', 'draft'] as const);
    for (const where of places) {
      const item = await this.k.lookup('skill', scopeOf(where), name);
      if (!item) continue;
      const scopes = [scopeOf(where)];
      const v =
        (await this.k.versionWithMeta(item.id, scopes, 'digest', digest, { skipDeletes: true })) ??
        (await this.k.versionWithMeta(item.id, scopes, 'digest', digest));
      if (v !== undefined) return this.atVersion(name, where, v);
    }
    throw notFound(`version of skill ${name} with digest ${digest}`);
  }

  /**
   * The published item as one read: its version (0: never published; a deprecation counts, so an
   * approval given before one never applies after it) and its current version when not deprecated.
   */
  async publishedState(name: string): Promise<{ version: number; current?: SkillVersion }> {
    const item = await this.k.lookup('skill', PUBLISHED_SKILLS, name);
    if (!item) return { version: 0 };
    return {
      version: item.provenance.version,
      ...(item.deleted ? {} : { current: await this.#fromItem(item, 'published') }),
    };
  }

  /** File by file, what `to` changes against `from` (added, removed, changed; sizes and digests). */
  async changes(to: SkillVersion, from: SkillVersion | undefined): Promise<string[]> {
    const a = new Map((from?.manifest.files ?? []).map((f) => [f.path, f]));
    const out: string[] = [];
    for (const f of orderForReview(to.manifest.files.map((x) => x.path))) {
      const b = to.manifest.files.find((x) => x.path === f)!;
      const old = a.get(f);
      if (!old) out.push(`added ${f} (${b.bytes} bytes, sha256 ${b.sha256})`);
      else if (old.sha256 !== b.sha256) out.push(`changed ${f} (${old.bytes} -> ${b.bytes} bytes, sha256 ${b.sha256})`);
    }
    for (const f of a.keys()) if (!to.manifest.files.some((x) => x.path === f)) out.push(`removed ${f}`);
    return out;
  }

  /** Every file of a version, each checked against its manifest entry. */
  async files(v: SkillVersion): Promise<SkillFile[]> {
    return Promise.all(v.manifest.files.map(async (f) => ({ path: f.path, data: await this.file(v, f.path) })));
  }

  /** One file of a version. INVARIANT: its bytes hash to the manifest's entry, size included. */
  async file(v: SkillVersion, path: string): Promise<Buffer> {
    const entry = v.manifest.files.find((f) => f.path === path);
    if (!entry)
      throw notFound(`file ${path} in skill ${v.name} (its files: ${v.manifest.files.map((f) => f.path).join(', ')})`);
    const data = await this.k.file(entry.sha256);
    if (data.length !== entry.bytes)
      throw new GatehouseError('integrity_failed', `${v.name}/${path} does not match its manifest`);
    return data;
  }

  /**
   * A file as an agent may be served it. Text is scrubbed at the result boundary like every
   * channel; binary bytes cannot be (base64 hides them from the scrubber), so a binary file in
   * which a vault value now appears (it reached the vault after the skill was stored) is refused.
   */
  async servable(v: SkillVersion, path: string): Promise<Buffer> {
    const data = await this.file(v, path);
    if (!isText(data)) this.k.refuseSecretsIn(`${v.name}/${path}`, data.toString('latin1'));
    return data;
  }

  /** The published item's version, deprecations included (0: never published): what a publish replaces. */
  async publishedVersion(name: string): Promise<number> {
    return (await this.k.lookup('skill', PUBLISHED_SKILLS, name))?.provenance.version ?? 0;
  }

  /** Published skills (or drafts), newest first. */
  async list(where: SkillWhere, opts: { includeDeleted?: boolean } = {}): Promise<Item[]> {
    return this.k.list('skill', [scopeOf(where)], opts);
  }

  /** The versions of a skill in both scopes, oldest first. */
  async history(name: string): Promise<Record<SkillWhere, VersionInfo[]>> {
    const out: Record<SkillWhere, VersionInfo[]> = { published: [], draft: [] };
    for (const where of ['published', 'draft'] as const) {
      const item = await this.k.lookup('skill', scopeOf(where), name);
      if (item) out[where] = await this.k.history(item.id, [scopeOf(where)]);
    }
    if (out.published.length === 0 && out.draft.length === 0) throw notFound(`skill ${name}`);
    return out;
  }

  /**
   * What publishing `digest` would change against `from` (default: what is published now): per
   * file, added, removed or changed, most consequential first (SKILL.md, scripts, the rest,
   * references, assets), with a unified diff for changed text files while the line budget lasts.
   */
  async diff(name: string, digest: string, from?: SkillVersion | null): Promise<string> {
    const to = await this.byDigest(name, digest);
    const base = from === undefined ? (await this.publishedState(name)).current : (from ?? undefined);
    const fromFiles = new Map((base ? await this.files(base) : []).map((f) => [f.path, f.data]));
    const toFiles = new Map((await this.files(to)).map((f) => [f.path, f.data]));
    const out: string[] = [
      base ? `published: version ${base.provenance.version}, digest ${base.digest}` : 'published: nothing',
      `proposed: ${to.where} version ${to.provenance.version}, digest ${to.digest}`,
    ];
    let budget = MAX_DIFF_LINES;
    let changed = 0;
    for (const p of orderForReview([...new Set([...fromFiles.keys(), ...toFiles.keys()])])) {
      const a = fromFiles.get(p);
      const b = toFiles.get(p);
      if (a && b && a.equals(b)) continue;
      changed++;
      if (!a) out.push(`added ${p} (${b!.length} bytes)`);
      else if (!b) out.push(`removed ${p}`);
      else out.push(`changed ${p} (${a.length} -> ${b.length} bytes)`);
      if ((a && !isText(a)) || (b && !isText(b))) {
        out.push(`  (binary, sha256 ${b ? sha256Hex(b) : '-'}: not shown)`);
        continue;
      }
      const at = a ? a.toString('utf8') : '';
      const bt = b ? b.toString('utf8') : '';
      const lines = at.split('\n').length + bt.split('\n').length;
      const d = lines <= budget ? unifiedDiff(at, bt, 3, MAX_DIFF_EDITS) : undefined;
      budget -= Math.min(lines, budget);
      out.push(
        d ?? `  (too large to show here: read it with gatehouse skill show ${name} --digest ${to.digest} --file ${p})`,
      );
    }
    if (changed === 0) out.push('no changes');
    return out.join('\n');
  }

  /**
   * Publishes the version with `digest` (a draft, or an older publication: a rollback), only if
   * the published skill is still at `expectedVersion` (0: none published, or deprecated at that
   * version). The draft it came from is then marked published (deleted, history kept).
   */
  async publish(
    name: string,
    digest: string,
    opts: { author: Author; expectedVersion: number; note?: string },
  ): Promise<SkillVersion> {
    const src = await this.byDigest(name, digest);
    const files = await this.files(src);
    // Checked again: the format rules and the vault's values may have changed since the draft.
    const { checked } = await this.check(name, files);
    if (checked.digest !== digest)
      throw new GatehouseError('integrity_failed', `skill ${name} ${digest} does not rebuild to its digest`);
    // The published item's version, deprecations included: an approval given while it was at
    // one version never applies over a later publication or deprecation.
    const cur = await this.k.lookup('skill', PUBLISHED_SKILLS, name);
    const at = cur?.provenance.version ?? 0;
    if (at !== opts.expectedVersion) {
      throw new GatehouseError(
        'conflict',
        `skill ${name} is at published version ${at}, not ${opts.expectedVersion} as when this was approved; nothing was published`,
        { hint: 'read it again and ask for a new approval' },
      );
    }
    const note = opts.note ?? `published ${src.where} version ${src.provenance.version} (${digest})`;
    const item = await this.k.write('skill', PUBLISHED_SKILLS, name, this.#content(checked), {
      author: opts.author,
      note,
      expectedVersion: at,
    });
    if (src.where === 'draft') {
      const draft = await this.k.find('skill', [DRAFT_SKILLS], name);
      if (draft && metaOf(draft).digest === digest) {
        await this.k
          .delete(draft.id, [DRAFT_SKILLS], {
            author: opts.author,
            expectedVersion: draft.provenance.version,
            note: `published as version ${item.provenance.version}`,
          })
          .catch((e: unknown) => {
            // A newer draft arrived meanwhile: it stays. Anything else is worth a look.
            if ((e as { code?: string }).code !== 'conflict')
              log.error('marking a published draft failed', { skill: name, err: e });
          });
      }
    }
    return this.#fromItem(item, 'published');
  }

  /** Deprecates the published skill (a tombstone: publishing any version brings it back). */
  async deprecate(name: string, opts: ChangeOptions & { expectedVersion: number }): Promise<SkillVersion> {
    const cur = await this.current(name, 'published');
    const item = await this.k.delete(cur.id, [PUBLISHED_SKILLS], opts);
    return this.#fromItem(item, 'published');
  }

  /** Discards the draft (a tombstone; its history stays). */
  async discardDraft(name: string, opts: ChangeOptions): Promise<void> {
    const cur = await this.current(name, 'draft');
    await this.k.delete(cur.id, [DRAFT_SKILLS], opts);
  }

  #content(c: CheckedSkill): ItemContent {
    const md = c.files.find((f) => f.path === SKILL_MD)!;
    const meta: SkillMeta = { digest: c.digest, files: c.manifest.files.map((f) => f.sha256) };
    return {
      title: c.head.name,
      summary: c.head.description,
      tags: [],
      body: md.data.toString('utf8'),
      meta: { ...meta },
    };
  }

  async #fromItem(item: Item, where: SkillWhere): Promise<SkillVersion> {
    return this.#build(item.key, where, item.id, item, item.provenance, item.deleted);
  }

  async #build(
    name: string,
    where: SkillWhere,
    id: string,
    c: ItemContent,
    provenance: Provenance,
    deprecated: boolean,
  ): Promise<SkillVersion> {
    const meta = metaOf(c);
    const manifest = parseManifest(await this.k.file(meta.digest), meta.digest);
    const md = manifest.files.find((f) => f.path === SKILL_MD);
    // The SKILL.md kept as the version's text (searched, listed, served as a prompt) is the one the
    // manifest names, byte for byte.
    if (manifest.name !== name || !md || md.sha256 !== sha256Hex(c.body))
      throw new GatehouseError('integrity_failed', `the manifest of skill ${name} does not match its SKILL.md`);
    const head = parseSkillMd(c.body, name);
    return {
      name,
      description: head.description,
      where,
      id,
      digest: meta.digest,
      manifest,
      frontmatter: head.frontmatter,
      skillMd: c.body,
      provenance: {
        version: provenance.version,
        author: provenance.author,
        trust: provenance.trust,
        at: provenance.at,
        sha256: provenance.sha256,
      },
      deprecated,
    };
  }
}
