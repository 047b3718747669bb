import { truncateText } from '../core/index.js';
import { lintText, type LintFinding } from './lint.js';
import { isText, SKILL_MD, type CheckedSkill } from './skill-format.js';

/**
 * Lint for a skill version: what a person who publishes it should look at. A skill is a runbook
 * future agents follow with real credentials, so beyond the shared findings (instructions aimed
 * at a model, hidden text, pipe-to-shell) it looks for download-and-run, environment and
 * credential harvesting, secret-looking assignments, hosts nobody configured, a description that
 * does not say when to use the skill, and a body too long to load. Findings never block a draft
 * (the format rules do that); they are shown with the draft, in the publish approval and on read.
 */
export interface SkillFinding {
  rule: LintFinding['rule'] | SkillRule;
  severity: 'warning' | 'danger';
  /** The file it is in (SKILL.md for the frontmatter). */
  file: string;
  evidence: string;
}

type SkillRule =
  | 'body-length'
  | 'description-when'
  | 'download-and-run'
  | 'env-harvest'
  | 'secret-like'
  | 'unknown-host'
  | 'allowed-tools'
  | 'binary-file';

/** SKILL.md bodies beyond this many lines are flagged (the format recommends under 500). */
export const MAX_BODY_LINES = 500;

const WHEN = /\b(when|whenever|use (it|this)|use for|for (use|when)|if you|before|after)\b/i;
const DOWNLOAD_AND_RUN: RegExp[] = [
  /\b(curl|wget)\b[^\n]{0,200}(>|-o|-O|--output)\s*(\S+)[^\n]{0,100}(&&|;|\n)\s*(sudo\s+)?((ba|z|da)?sh|source|\.)\s+\S/i,
  /(^|[\s;&|(])(source|\.)\s+<\(\s*(curl|wget)\b/im,
  /\b(curl|wget)\b[^\n]{0,200}(-o|-O|--output)\s*\S+[^\n]{0,100}(&&|;)\s*(sudo\s+)?(ba|z|da)?sh\b/i,
  /\b(curl|wget)\b[^\n]{0,200}(&&|;)\s*chmod\s+\+?[0-7]*x/i,
  /\b(ba|z)?sh\s+<\(\s*(curl|wget)\b/i,
  /\b(sh|bash|zsh|python3?|perl|ruby|node)\s+-c\s+["']?\$\(\s*(curl|wget)\b/i,
  /\beval\s+["']?\$\(\s*(curl|wget)\b/i,
  /\b(curl|wget)\b[^|\n]{0,200}\|\s*(sudo\s+)?(python3?|perl|ruby|node|php)\b/i,
  /\b(iex|invoke-expression)\b[^\n]{0,40}\b(iwr|irm|invoke-webrequest|invoke-restmethod|downloadstring)\b/i,
];
const ENV_HARVEST: RegExp[] = [
  /(^|[\s;|&`$(])(env|printenv|export\s+-p|set)\s*(\||>|$)/m,
  /\/proc\/(self|\d+|\$\$)\/environ\b/,
  /\b(os\.environ|process\.env|ENV)\b\s*(\)|\]|;|$|\.items\(\)|\.copy\(\))/m,
  /(JSON\.stringify|json\.dumps|print|console\.log)\s*\(\s*(process\.env|os\.environ|dict\(os\.environ\))\s*\)/,
  /~?\/?\.(aws\/credentials|ssh\/id_[a-z0-9]+|netrc|docker\/config\.json|kube\/config|git-credentials|npmrc|pypirc)\b/,
];
const SECRET_LIKE =
  /\b(api[_-]?key|secret|token|passw(or)?d|private[_-]?key|access[_-]?key)\b\s*[:=]\s*["']?[A-Za-z0-9/+_.=-]{16,}/i;
const URL_HOST = /\bhttps?:\/\/([A-Za-z0-9.-]+)(?::\d+)?/g;
const PLACEHOLDER_HOSTS = /(^|\.)(example\.(com|org|net)|localhost|invalid|test)$/;

/** Findings for one skill version. `knownHosts`: hosts the operator configured (targets, config). */
export function lintSkill(skill: CheckedSkill, knownHosts: ReadonlySet<string>): SkillFinding[] {
  const out: SkillFinding[] = [];
  const { head } = skill;
  if (!WHEN.test(head.description)) {
    out.push({
      rule: 'description-when',
      severity: 'warning',
      file: SKILL_MD,
      evidence: 'the description does not say when to use the skill; agents pick skills by it',
    });
  }
  const lines = head.body.split('\n').length;
  if (lines > MAX_BODY_LINES) {
    out.push({
      rule: 'body-length',
      severity: 'warning',
      file: SKILL_MD,
      evidence: `the body is ${lines} lines (over ${MAX_BODY_LINES}): move detail into references/`,
    });
  }
  if (head.frontmatter['allowed-tools'] !== undefined) {
    out.push({
      rule: 'allowed-tools',
      severity: 'warning',
      file: SKILL_MD,
      evidence: 'allowed-tools is advisory: Gatehouse grants nothing because a skill lists a tool',
    });
  }
  for (const f of skill.files) {
    if (!isText(f.data)) {
      if (!f.path.startsWith('assets/'))
        out.push({
          rule: 'binary-file',
          severity: 'warning',
          file: f.path,
          evidence: 'binary content outside assets/',
        });
      continue;
    }
    const text = f.data.toString('utf8').replace(/\\\r?\n/g, ' ');
    for (const x of lintText(text)) out.push({ ...x, file: f.path });
    const first = (res: RegExp[]) => res.map((r) => r.exec(text)).find((m) => m !== null);
    const dl = first(DOWNLOAD_AND_RUN);
    if (dl) out.push({ rule: 'download-and-run', severity: 'danger', file: f.path, evidence: excerpt(dl[0]) });
    const env = first(ENV_HARVEST);
    if (env) out.push({ rule: 'env-harvest', severity: 'danger', file: f.path, evidence: excerpt(env[0].trim()) });
    const secret = SECRET_LIKE.exec(text);
    if (secret) {
      out.push({
        rule: 'secret-like',
        severity: 'danger',
        file: f.path,
        evidence: `${secret[1]} assigned a literal value (keep secrets in the vault; write a {{vault:…}} handle)`,
      });
    }
    const unknown = new Set<string>();
    for (const m of text.matchAll(URL_HOST)) {
      const host = m[1]!.toLowerCase().replace(/\.$/, '');
      if (!knownHosts.has(host) && !PLACEHOLDER_HOSTS.test(host)) unknown.add(host);
    }
    if (unknown.size > 0) {
      out.push({
        rule: 'unknown-host',
        severity: 'warning',
        file: f.path,
        evidence: `links to hosts no target or configuration names: ${[...unknown].slice(0, 5).join(', ')}${unknown.size > 5 ? ', …' : ''}`,
      });
    }
  }
  return out;
}

const excerpt = (s: string): string => truncateText(s, 120, '…');
