/**
 * Session and token reports from the audit log (issue 20 item 8): what was decided (allowed,
 * approved, refused, redirected), what a person should look at (refused attempts, approvals not
 * given, DLP hits, limits reached, hosts reached for the first time), activity by tool and target,
 * and in detailed mode a timeline. Read-only: built from the records as they are, so a report is
 * as trustworthy as the chain (`gatehouse audit verify` says whether it is intact).
 */
import { cutText } from '../core/index.js';
import type { Store } from '../store/index.js';
import type { AuditRecord } from './log.js';
import { searchAudit, type AuditQuery } from './read.js';

/** Records a report reads at most (newest first past it; the report says it was cut). */
const MAX_RECORDS = 50_000;
const PAGE = 1000;

export interface ReportOptions {
  tokenId?: string;
  /** An SSH session id: records that name it. */
  session?: string;
  /** ISO time: records at or after it. */
  since: string;
  level: 'summary' | 'detailed';
}

export interface Report {
  since: string;
  scope: { token?: string; session?: string };
  records: number;
  truncated: boolean;
  decisions: { allowed: number; approved: number; refused: number; redirected: number; notApproved: number };
  findings: {
    refused: { ts: string; tool: string; target: string | null; rule: string | null; action: string }[];
    notApproved: { ts: string; tool: string; target: string | null; outcome: string; action: string }[];
    dlp: Record<string, number>;
    limits: { ts: string; tool: string; target: string | null }[];
    newHosts: string[];
  };
  activity: { byTool: Record<string, number>; byTarget: Record<string, number> };
  timeline?: {
    ts: string;
    token: string | null;
    tool: string;
    target: string | null;
    decision: string;
    outcome: string;
    action: string;
  }[];
}

const clip = (s: string | null) => cutText(s ?? '', 160);

async function read(store: Store, q: AuditQuery): Promise<{ records: AuditRecord[]; truncated: boolean }> {
  const out: AuditRecord[] = [];
  let before: number | undefined;
  for (;;) {
    const page = await searchAudit(store, {
      ...q,
      limit: PAGE,
      ...(before !== undefined ? { beforeSeq: before } : {}),
    });
    out.push(...page);
    if (page.length < PAGE) return { records: out.reverse().sort((a, b) => a.seq - b.seq), truncated: false };
    if (out.length >= MAX_RECORDS) return { records: out.sort((a, b) => a.seq - b.seq), truncated: true };
    before = page[0]!.seq;
  }
}

/** The records of a token, a session or both since a time, oldest first (policy generation reads the same). */
export async function readReportScope(
  store: Store,
  o: Pick<ReportOptions, 'since' | 'tokenId' | 'session'>,
): Promise<{ records: AuditRecord[]; truncated: boolean }> {
  return read(store, {
    since: o.since,
    ...(o.tokenId ? { tokenId: o.tokenId } : {}),
    ...(o.session ? { text: o.session } : {}),
  });
}

export async function buildReport(store: Store, o: ReportOptions): Promise<Report> {
  const { records, truncated } = await readReportScope(store, o);
  const attempts = records.filter((r) => r.phase === 'attempt');
  const results = new Map(records.filter((r) => r.phase === 'result' && r.ref).map((r) => [r.ref!, r]));
  const decisions = { allowed: 0, approved: 0, refused: 0, redirected: 0, notApproved: 0 };
  const findings: Report['findings'] = { refused: [], notApproved: [], dlp: {}, limits: [], newHosts: [] };
  const byTool: Record<string, number> = {};
  const byTarget: Record<string, number> = {};
  for (const a of attempts) {
    const tool = a.tool ?? '?';
    byTool[tool] = (byTool[tool] ?? 0) + 1;
    if (a.target) byTarget[a.target] = (byTarget[a.target] ?? 0) + 1;
    if (a.decision === 'deny') {
      decisions.refused++;
      findings.refused.push({ ts: a.ts, tool, target: a.target, rule: a.rule, action: clip(a.action) });
    } else if (a.decision === 'redirect') decisions.redirected++;
    else if (a.decision === 'approve' && a.outcome) {
      decisions.notApproved++;
      findings.notApproved.push({ ts: a.ts, tool, target: a.target, outcome: a.outcome, action: clip(a.action) });
    } else if (a.decision === 'approve') decisions.approved++;
    else if (!a.outcome) decisions.allowed++;
    else if (a.outcome === 'limit_exceeded') findings.limits.push({ ts: a.ts, tool, target: a.target });
  }
  for (const r of records) {
    if (r.phase === 'result' && r.outcome === 'limit_exceeded')
      findings.limits.push({ ts: r.ts, tool: r.tool ?? '?', target: r.target });
    const dlp = r.phase === 'result' ? (r.detail?.dlp as Record<string, unknown> | undefined) : undefined;
    if (dlp && typeof dlp === 'object')
      for (const [k, v] of Object.entries(dlp)) if (typeof v === 'number') findings.dlp[k] = (findings.dlp[k] ?? 0) + v;
  }
  // A host is new when no record before the window names its target.
  const first = records[0]?.seq;
  for (const target of Object.keys(byTarget).sort()) {
    const earlier =
      first === undefined ? [] : await searchAudit(store, { target, beforeSeq: first, limit: 1, until: o.since });
    if (earlier.length === 0) findings.newHosts.push(target);
  }
  return {
    since: o.since,
    scope: { ...(o.tokenId ? { token: o.tokenId } : {}), ...(o.session ? { session: o.session } : {}) },
    records: records.length,
    truncated,
    decisions,
    findings,
    activity: { byTool, byTarget },
    ...(o.level === 'detailed'
      ? {
          timeline: attempts.map((a) => ({
            ts: a.ts,
            token: a.tokenName,
            tool: a.tool ?? '?',
            target: a.target,
            decision: a.decision ?? '-',
            outcome: a.outcome ?? results.get(a.id)?.outcome ?? 'pending',
            action: clip(a.action),
          })),
        }
      : {}),
  };
}

/** Markdown, for a person. Agent-written text goes in code spans with backticks made safe. */
export function reportMarkdown(r: Report, title: string): string {
  const code = (s: string) => `\`${s.replace(/`/g, "'").replace(/[\r\n]+/g, ' ')}\``;
  const lines = [
    `# ${title}`,
    '',
    `Since ${r.since}: ${r.records} audit records${r.truncated ? ' (the oldest were left out: narrow the window)' : ''}.`,
    '',
    '## Decisions',
    '',
    `- allowed: ${r.decisions.allowed}`,
    `- approved by a person: ${r.decisions.approved}`,
    `- refused: ${r.decisions.refused}`,
    `- redirected: ${r.decisions.redirected}`,
    `- needed a person and not approved (waiting, denied, expired): ${r.decisions.notApproved}`,
    '',
    '## Findings',
    '',
  ];
  const f = r.findings;
  if (f.refused.length + f.notApproved.length + f.limits.length + Object.keys(f.dlp).length + f.newHosts.length === 0)
    lines.push('Nothing to look at.');
  for (const x of f.refused)
    lines.push(`- refused ${x.ts} ${x.tool}${x.target ? ` on ${x.target}` : ''} (${x.rule ?? '?'}): ${code(x.action)}`);
  for (const x of f.notApproved)
    lines.push(
      `- not approved (${x.outcome}) ${x.ts} ${x.tool}${x.target ? ` on ${x.target}` : ''}: ${code(x.action)}`,
    );
  for (const [k, v] of Object.entries(f.dlp)) lines.push(`- DLP: ${v} × ${k} kept from leaving`);
  for (const x of f.limits) lines.push(`- limit reached ${x.ts} ${x.tool}${x.target ? ` on ${x.target}` : ''}`);
  for (const h of f.newHosts) lines.push(`- first use of target ${h}`);
  lines.push('', '## Activity', '');
  for (const [k, v] of Object.entries(r.activity.byTool).sort((a, b) => b[1] - a[1])) lines.push(`- ${k}: ${v}`);
  if (Object.keys(r.activity.byTarget).length) {
    lines.push('', 'By target:', '');
    for (const [k, v] of Object.entries(r.activity.byTarget).sort((a, b) => b[1] - a[1])) lines.push(`- ${k}: ${v}`);
  }
  if (r.timeline) {
    lines.push('', '## Timeline', '');
    for (const t of r.timeline)
      lines.push(
        `- ${t.ts} ${t.token ?? '-'} ${t.tool}${t.target ? `@${t.target}` : ''} ${t.decision} → ${t.outcome}: ${code(t.action)}`,
      );
  }
  return lines.join('\n');
}
