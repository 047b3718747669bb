export { KnowledgeStore, type ChangeOptions } from './store.js';
export { lintText, type LintFinding } from './lint.js';
export { ORG_PROPOSALS, parseProposalKey, proposalKey, proposalPrefix } from './proposals.js';
export { ftsMatch, queryWords, websearchText, MAX_QUERY_WORDS } from './search-query.js';
export { checkKey, MAX_KEY_CHARS, MAX_TAGS } from './validate.js';
export {
  KNOWLEDGE_KINDS,
  MAX_BODY_BYTES,
  MAX_ITEMS_PER_SCOPE,
  type Author,
  type Item,
  type ItemContent,
  type ItemMeta,
  type JsonValue,
  type KnowledgeKind,
  type Provenance,
  type Scope,
  type SearchHit,
  type SecretScan,
  type VersionInfo,
  type VersionOp,
} from './types.js';
export {
  checkSkill,
  checkSkillName,
  checkSkillPath,
  isText,
  parseSkillMd,
  SKILL_LIMITS,
  SKILL_MD,
  type CheckedSkill,
  type ManifestEntry,
  type SkillFile,
  type SkillManifest,
} from './skill-format.js';
export { lintSkill, type SkillFinding } from './skill-lint.js';
export { DRAFT_SKILLS, PUBLISHED_SKILLS, SkillStore, type SkillVersion, type SkillWhere } from './skills.js';
export { diffLines, unifiedDiff } from './line-diff.js';
export {
  checkNamespace,
  checkSlug,
  nsScope,
  namespaceOf,
  pageOf,
  parseLinks,
  WIKI_STATUSES,
  WikiStore,
  type PageFields,
  type WikiPage,
  type WikiSource,
  type WikiStatus,
} from './wiki.js';
export {
  lintNamespace,
  lintPage,
  lintWholeNamespace,
  MAX_NAMESPACE_FINDINGS,
  MAX_PAIRWISE,
  type LintedPage,
  type PageLintContext,
  type WikiFinding,
} from './wiki-lint.js';
