import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { GatehouseError } from '../core/index.js';
import type { JsonValue } from './types.js';

/**
 * The Agent Skills format (agentskills.io/specification, and the MCP Skills extension's rules as
 * the official SDK checks them): a skill is a folder named like the skill, with `SKILL.md` at its
 * root (YAML frontmatter, then markdown) and optional `scripts/`, `references/`, `assets/`.
 *
 * INVARIANT: every version is checked here before anything is stored, so a skill that is served
 * is one a client following the format accepts: a valid name equal to its folder, a description,
 * only the known frontmatter fields with their types, safe relative paths, and the size limits.
 */

/** Per skill file, files per skill and bytes per skill (issue 15; the extension's SKILL_LIMITS). */
export const SKILL_LIMITS = { fileBytes: 256 * 1024, files: 512, bytes: 16 * 1024 * 1024 } as const;
export const SKILL_MD = 'SKILL.md';

const NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;
const MAX_PATH_CHARS = 256;
const MAX_DEPTH = 8;
const FIELDS = new Set(['name', 'description', 'license', 'compatibility', 'metadata', 'allowed-tools']);

const invalid = (message: string, hint: string) => new GatehouseError('invalid_input', message, { hint });

/** A file of a skill: its path inside the skill's folder and its bytes. */
export interface SkillFile {
  path: string;
  data: Buffer;
}

/** What SKILL.md says, checked. `frontmatter` is the YAML as JSON, verbatim (what the extension serves). */
export interface SkillHead {
  name: string;
  description: string;
  frontmatter: { [k: string]: JsonValue };
  /** The markdown after the frontmatter. */
  body: string;
}

/** A skill name: 1-64 lowercase letters, digits and single hyphens, not at either end. */
export function checkSkillName(name: string): string {
  if (name.length < 1 || name.length > 64 || !NAME.test(name)) {
    throw invalid(
      `${JSON.stringify(name)} is not a valid skill name`,
      'use 1 to 64 lowercase letters, digits and single hyphens, not at the start or end (e.g. deploy-web)',
    );
  }
  return name;
}

/**
 * A path inside a skill: relative, `/`-separated, each segment of letters, digits, `.`, `_` and
 * `-`, none starting with `.` (no hidden files, no `.` or `..`), at most MAX_DEPTH deep.
 */
export function checkSkillPath(path: string): string {
  const segs = path.split('/');
  if (
    path.length === 0 ||
    path.length > MAX_PATH_CHARS ||
    segs.length > MAX_DEPTH ||
    segs.some((s) => !SEGMENT.test(s))
  ) {
    throw invalid(
      `${JSON.stringify(path)} is not a valid path inside a skill`,
      'use a relative path such as references/guide.md: letters, digits, ".", "_" and "-", no segment starting with ".", no leading "/"',
    );
  }
  return path;
}

/** Whether bytes are text a reader can be shown: valid UTF-8 without NUL. */
export function isText(data: Buffer): boolean {
  if (data.includes(0)) return false;
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(data);
    return true;
  } catch {
    return false;
  }
}

/** Splits SKILL.md into its frontmatter and body and checks the frontmatter. */
export function parseSkillMd(text: string, folder: string): SkillHead {
  const m = /^---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(text);
  if (!m) {
    throw invalid(
      'SKILL.md must start with YAML frontmatter between two --- lines',
      'begin it with ---, then name: and description: lines, then ---, then the instructions',
    );
  }
  // The YAML parser is loaded when a skill is first read or written, not when Gatehouse starts
  // (`gatehouse mcp` starts at every agent session).
  const { isAlias, isNode, parseDocument, visit } = createRequire(import.meta.url)('yaml') as typeof import('yaml');
  const doc = parseDocument(m[1]!, { strict: true, uniqueKeys: true, prettyErrors: false });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) throw invalid(`the SKILL.md frontmatter is not valid YAML: ${problem.message}`, 'fix the YAML');
  // Anchors, aliases and explicit tags have no place in a few plain fields; refusing them keeps
  // the frontmatter exactly what a reader sees (no expansion, no custom types).
  visit(doc, (_key, node) => {
    if (isAlias(node) || (isNode(node) && (node.anchor || node.tag))) {
      throw invalid(
        'the SKILL.md frontmatter uses YAML anchors, aliases or tags',
        'write each field as plain text; quote values that start with !, & or *',
      );
    }
  });
  const fm = doc.toJS() as unknown;
  if (fm === null || typeof fm !== 'object' || Array.isArray(fm))
    throw invalid('the SKILL.md frontmatter must be a map of fields', 'write name: and description: lines');
  const f = fm as Record<string, unknown>;
  for (const k of Object.keys(f)) {
    if (!FIELDS.has(k)) {
      throw invalid(
        `the SKILL.md frontmatter has an unknown field ${JSON.stringify(k)}`,
        'the format allows name, description, license, compatibility, metadata and allowed-tools; put anything else under metadata',
      );
    }
  }
  if (typeof f.name !== 'string') throw invalid('SKILL.md has no name', `add name: ${folder}`);
  checkSkillName(f.name);
  if (f.name !== folder)
    throw invalid(`SKILL.md names the skill ${f.name}, but its folder is ${folder}`, 'make them the same');
  const description = f.description;
  if (typeof description !== 'string' || [...description.trim()].length < 1 || [...description].length > 1024) {
    throw invalid(
      'SKILL.md needs a description of 1 to 1024 characters',
      'say what the skill does and when to use it, in one or two sentences',
    );
  }
  if (f.license !== undefined && (typeof f.license !== 'string' || f.license.length === 0 || f.license.length > 200))
    throw invalid('license must be a short text', 'name the license, or the bundled file that holds it');
  if (
    f.compatibility !== undefined &&
    (typeof f.compatibility !== 'string' || f.compatibility.length < 1 || f.compatibility.length > 500)
  )
    throw invalid('compatibility must be 1 to 500 characters', 'say briefly what the skill needs');
  if (f.metadata !== undefined) {
    const md = f.metadata;
    if (
      md === null ||
      typeof md !== 'object' ||
      Array.isArray(md) ||
      Object.values(md as object).some((v) => typeof v !== 'string')
    )
      throw invalid('metadata must map names to text values', 'quote numbers and dates, e.g. version: "1.0"');
  }
  const tools = f['allowed-tools'];
  if (
    tools !== undefined &&
    typeof tools !== 'string' &&
    !(Array.isArray(tools) && tools.every((t) => typeof t === 'string'))
  )
    throw invalid('allowed-tools must be a space-separated text or a list of names', 'e.g. allowed-tools: Bash Read');
  return {
    name: f.name,
    description,
    frontmatter: f as { [k: string]: JsonValue },
    body: text.slice(m[0].length),
  };
}

/** One file in a manifest. */
export interface ManifestEntry {
  path: string;
  sha256: string;
  bytes: number;
}

/** What a skill version is: its name and every file, sorted by path. Its digest addresses it. */
export interface SkillManifest {
  name: string;
  files: ManifestEntry[];
}

export const sha256Hex = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** The manifest's canonical bytes (what its digest hashes). */
export const manifestBytes = (m: SkillManifest): Buffer =>
  Buffer.from(
    JSON.stringify({
      name: m.name,
      files: m.files.map((f) => ({ path: f.path, sha256: f.sha256, bytes: f.bytes })),
    }),
    'utf8',
  );

/** A checked skill version: its head, its files, its manifest and the manifest's digest. */
export interface CheckedSkill {
  head: SkillHead;
  files: SkillFile[];
  manifest: SkillManifest;
  digest: string;
}

/**
 * Checks a whole skill version (format, paths, limits) and builds its manifest. Paths that differ
 * only in case are refused: exported to a case-insensitive file system they would overwrite each
 * other, and a reader could be shown one while a tool loads the other.
 */
export function checkSkill(name: string, files: readonly SkillFile[]): CheckedSkill {
  checkSkillName(name);
  if (files.length > SKILL_LIMITS.files)
    throw new GatehouseError('input_too_large', `a skill holds at most ${SKILL_LIMITS.files} files`, {
      hint: 'keep fewer, larger references',
    });
  const seen = new Set<string>();
  let total = 0;
  for (const f of files) {
    checkSkillPath(f.path);
    const folded = f.path.toLowerCase();
    if (seen.has(folded))
      throw invalid(`the skill has two files at ${f.path} (paths differ only in case)`, 'give each file its own name');
    seen.add(folded);
    if (f.data.length > SKILL_LIMITS.fileBytes)
      throw new GatehouseError(
        'input_too_large',
        `${f.path} is ${f.data.length} bytes, over the ${SKILL_LIMITS.fileBytes}-byte limit per skill file`,
        { hint: 'split it into several references' },
      );
    // Everything but assets is text a reader (and the diff a person approves) can show: a script
    // with one invalid byte would otherwise be "binary, not shown" and still run.
    if (!f.path.startsWith('assets/') && !isText(f.data))
      throw invalid(
        `${f.path} is not UTF-8 text`,
        'only files under assets/ may be binary; save scripts and references as UTF-8',
      );
    total += f.data.length;
  }
  if (total > SKILL_LIMITS.bytes)
    throw new GatehouseError(
      'input_too_large',
      `the skill is ${total} bytes, over the ${SKILL_LIMITS.bytes}-byte limit`,
      {
        hint: 'move large assets out of the skill',
      },
    );
  const md = files.find((f) => f.path === SKILL_MD);
  if (!md) throw invalid('a skill needs SKILL.md at its root', 'add SKILL.md with name and description frontmatter');
  if (!isText(md.data)) throw invalid('SKILL.md is not UTF-8 text', 'save it as UTF-8');
  const head = parseSkillMd(md.data.toString('utf8'), name);
  const sorted = [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const manifest: SkillManifest = {
    name,
    files: sorted.map((f) => ({ path: f.path, sha256: sha256Hex(f.data), bytes: f.data.length })),
  };
  return { head, files: sorted, manifest, digest: sha256Hex(manifestBytes(manifest)) };
}

/** Reads a manifest back from its bytes, checking it hashes to `digest` and is well formed. */
export function parseManifest(data: Buffer, digest: string): SkillManifest {
  const bad = () =>
    new GatehouseError('integrity_failed', `the skill manifest ${digest} does not match its digest`, {
      hint: 'an operator should compare it with the audit log and restore the store from a backup',
    });
  if (sha256Hex(data) !== digest) throw bad();
  const m = JSON.parse(data.toString('utf8')) as SkillManifest;
  if (typeof m.name !== 'string' || !Array.isArray(m.files)) throw bad();
  return m;
}
