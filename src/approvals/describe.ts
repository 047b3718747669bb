import type { Approval } from './types.js';
import { cutText } from '../core/index.js';

/**
 * Makes agent-supplied text safe to show a person. INVARIANT: what the person reads is what will
 * run; a command cannot hide part of itself or forge extra lines of the prompt. Newlines, tabs,
 * other control characters (ANSI escapes included), bidi overrides and zero-width characters are
 * shown as visible escapes instead of being interpreted by the terminal or client.
 */
export function visible(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g, (ch) => {
    if (ch === '\n') return '\\n';
    if (ch === '\t') return '\\t';
    if (ch === '\r') return '\\r';
    return `\\u{${ch.codePointAt(0)!.toString(16)}}`;
  });
}

/**
 * Bound values a person reads as lines (a skill's diff and file list, a wiki page's text): each
 * line is made visible on its own and prefixed, so no line of the value can pass for a line of the
 * prompt.
 */
const BLOCK_VALUES = new Set(['diff', 'files', 'text']);

function boundLines(k: string, v: string): string[] {
  if (!BLOCK_VALUES.has(k) || !v.includes('\n')) return [`  ${visible(k)}: ${visible(v)}`];
  return [`  ${visible(k)}:`, ...v.split('\n').map((line) => `    | ${visible(line)}`)];
}

function operationLines(a: Approval): string[] {
  const op = a.operation;
  if (!op) return [`Action:   ${visible(a.summary)}`];
  return [...mainLines(op), ...Object.entries(op.bound ?? {}).flatMap(([k, v]) => boundLines(k, v))];
}

function mainLines(op: NonNullable<Approval['operation']>): string[] {
  if (op.kind === 'command') return [`Command:  ${visible(op.command)}`];
  if (op.kind === 'action') return [`Action:   ${visible(op.summary)}`];
  if (op.kind === 'http') {
    const lines = [`Request:  ${visible(op.method.toUpperCase())} ${visible(op.path)}`];
    const b = op.body;
    if (b && b.preview !== undefined)
      lines.push(`Body:     ${b.bytes} bytes, sha256 ${cutText(b.sha256, 16)}…: ${visible(b.preview)}`);
    else if (b) lines.push(`Body:     ${b.bytes} bytes, not text (not shown), sha256 ${b.sha256}`);
    return lines;
  }
  return [`File:     ${op.op} ${visible(op.path)}`];
}

function until(expiresAt: string, now: number): string {
  const ms = Date.parse(expiresAt) - now;
  if (ms <= 0) return 'expired';
  const s = Math.round(ms / 1000);
  return s >= 120 ? `in ${Math.round(s / 60)} min` : `in ${s} s`;
}

/**
 * Exactly what a person sees before deciding (the elicitation message and `approvals list`):
 * the command or request in full, where it runs, which token asks, the rule that matched and why,
 * and when the request expires.
 */
export function describeForHuman(a: Approval, opts: { now?: number } = {}): string {
  const now = opts.now ?? Date.now();
  const lines = [
    `Approval ${a.id} (${a.status})`,
    ...(a.status === 'tampered'
      ? [
          'WARNING:  this record failed its integrity check: it was written or changed outside Gatehouse. It cannot be decided or used; find out who can write to the database.',
        ]
      : []),
    ...operationLines(a),
    `Tool:     ${visible(a.tool)}`,
    `Target:   ${a.target ? visible(a.target) : '(none)'}`,
    `Token:    ${visible(a.tokenName)} (${a.tokenId})`,
    `Rule:     ${visible(a.rule)}: ${visible(a.reason)}`,
  ];
  if (a.matched && a.matched !== (a.operation?.kind === 'command' ? a.operation.command : undefined))
    lines.push(`Matched:  ${visible(a.matched)}`);
  if (a.operation && a.summary) lines.push(`Summary:  ${visible(a.summary)}`);
  lines.push(`Expires:  ${a.expiresAt} (${until(a.expiresAt, now)}; no decision means deny)`);
  if (a.decidedBy)
    lines.push(
      `Decided:  ${a.status === 'denied' ? 'denied' : 'approved'} by ${visible(a.decidedBy)} via ${a.channel ?? '?'} at ${a.decidedAt}${a.note ? ` (${visible(a.note)})` : ''}`,
    );
  if (a.consumedAt) lines.push(`Used:     ${a.consumedAt}`);
  return lines.join('\n');
}

/** What to tell the person when the approval goes out of band (part of the agent's `approval_required` result). */
export function decideInstructions(id: string): string {
  return `Ask a person to review and run \`gatehouse approve ${id}\` (or \`gatehouse deny ${id}\`) on the Gatehouse host, or POST /admin/approvals/${id}/approve with an admin token; then retry the same call with approval_id "${id}".`;
}
