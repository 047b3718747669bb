/**
 * The guarded actions of a token or session as the audit log recorded them (issue 20 item 5): for
 * each attempt the guard judged, what it judged (the command with its stdin and env, the HTTP
 * request, the file path, read back whole from the record's payload) and what was decided then.
 * `gatehouse policy generate` builds a policy from them and `gatehouse policy test` replays them.
 * Read-only, and as trustworthy as the chain (`gatehouse audit verify`).
 */
import type { Store } from '../store/index.js';
import type { AuditRecord } from './log.js';
import { readAuditPayloads } from './read.js';
import { readReportScope, type ReportOptions } from './report.js';

/**
 * Where a command ran, as the guard's `unknown_command` contexts name it. The audit record does not
 * carry the context, so it is read from the tool (the tools set it: `exec` runs in the sandbox,
 * `ssh_session_send` types into a session, every other command tool runs over SSH).
 */
export type AuditedContext = 'ssh' | 'session' | 'sandbox';

export type AuditedOperation =
  | {
      kind: 'command';
      command: string;
      context: AuditedContext;
      stdin?: string;
      env?: Record<string, string>;
      session?: boolean;
    }
  | {
      kind: 'http';
      method: string;
      path: string;
      headers?: Record<string, string>;
      body?: string;
      bodyUnread?: boolean;
    }
  | { kind: 'path'; op: 'read' | 'write'; path: string };

export interface AuditedAction {
  seq: number;
  ts: string;
  tokenName: string | null;
  tool: string;
  target: string | null;
  /** The record's one-line summary (for display). */
  summary: string;
  operation: AuditedOperation;
  /** The guard's verdict then. */
  decision: 'allow' | 'approve' | 'deny' | 'redirect';
  rule: string | null;
  /**
   * How the attempt ended before running, if it did not run: for `approve`, a person did not
   * approve it (`approval_required` while waiting, `denied`, an expired or missing channel…).
   */
  outcome: string | null;
  /** Who approved it, for an approved action. */
  approver: string | null;
}

export interface GuardedActions {
  actions: AuditedAction[];
  /** Records in scope that are not replayable guarded attempts, by reason. */
  skipped: Record<string, number>;
  /** The scope held more records than are read; the oldest were left out. */
  truncated: boolean;
  records: number;
}

/**
 * Refusals made before the guard was asked (or when it could not answer): not a guard verdict, so
 * neither a policy to learn from nor one a replay could reproduce.
 */
const NOT_GUARD_RULES = new Set(['grant', 'rate_limit', 'complete-guard-input', 'guard.unavailable', 'guard.error']);
const DECISIONS = new Set(['allow', 'approve', 'deny', 'redirect']);

export async function readGuardedActions(
  store: Store,
  scope: Pick<ReportOptions, 'since' | 'tokenId' | 'session'>,
): Promise<GuardedActions> {
  const { records, truncated } = await readReportScope(store, scope);
  const skipped: Record<string, number> = {};
  const skip = (why: string) => (skipped[why] = (skipped[why] ?? 0) + 1);
  const actions: AuditedAction[] = [];
  for (const r of records) {
    if (r.phase !== 'attempt') continue;
    if (r.decision === null || !DECISIONS.has(r.decision)) {
      skip('no guard decision');
      continue;
    }
    if (r.rule !== null && NOT_GUARD_RULES.has(r.rule)) {
      skip('refused before the guard');
      continue;
    }
    if (!r.payload) {
      skip('nothing the guard judged');
      continue;
    }
    const op = await operationOf(store, r);
    if (typeof op === 'string') {
      skip(op);
      continue;
    }
    actions.push({
      seq: r.seq,
      ts: r.ts,
      tokenName: r.tokenName,
      tool: r.tool ?? '?',
      target: r.target,
      summary: r.action ?? '',
      operation: op,
      decision: r.decision as AuditedAction['decision'],
      rule: r.rule,
      outcome: r.outcome,
      approver: r.approver,
    });
  }
  return { actions, skipped, truncated, records: records.length };
}

/** The operation the record's payload holds, or why it cannot be replayed. */
async function operationOf(store: Store, r: AuditRecord): Promise<AuditedOperation | string> {
  const payload = await readAuditPayloads(store, r);
  // A blob that is gone or changed no longer says what ran: replaying it would judge other text.
  if (Object.values(payload).some((v) => v.problem !== undefined)) return 'payload blob missing or changed';
  const text = (k: string) => payload[k]?.text;
  const command = text('command');
  if (command !== undefined) {
    const session = text('session_line') === 'true';
    const env = jsonStrings(text('env'));
    if (env === null) return 'unreadable env payload';
    const stdin = text('stdin');
    return {
      kind: 'command',
      command,
      context: session ? 'session' : r.tool === 'exec' ? 'sandbox' : 'ssh',
      ...(stdin !== undefined ? { stdin } : {}),
      ...(env ? { env } : {}),
      ...(session ? { session } : {}),
    };
  }
  const request = text('request');
  if (request !== undefined) {
    const sp = request.indexOf(' ');
    if (sp <= 0) return 'unreadable request payload';
    const headers = jsonStrings(text('headers'));
    if (headers === null) return 'unreadable headers payload';
    const body = text('body');
    const bodyUnread = text('body_unread') === 'true';
    // A compressed body was judged decoded (the record keeps the decoded text and the sent bytes'
    // digest, not the coding the guard was told about): a replay would judge something else.
    if (!bodyUnread && text('body_sent') !== undefined) return 'request body judged in another form';
    return {
      kind: 'http',
      method: request.slice(0, sp),
      path: request.slice(sp + 1),
      ...(headers ? { headers } : {}),
      ...(body !== undefined ? { body } : {}),
      // A body the guard was not shown (binary, streamed) is replayed as unread, as it was judged.
      ...(bodyUnread ? { bodyUnread } : {}),
    };
  }
  const path = text('path');
  if (path !== undefined) {
    const m = /^(read|write) (.+)$/s.exec(path);
    if (!m) return 'unreadable path payload';
    return { kind: 'path', op: m[1] as 'read' | 'write', path: m[2]! };
  }
  return 'nothing the guard judged';
}

/** A JSON object of strings (`env`, `headers`); undefined when absent, null when it is not one. */
function jsonStrings(raw: string | undefined): Record<string, string> | undefined | null {
  if (raw === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return null;
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x !== 'string') return null;
    out[k] = x;
  }
  return out;
}
