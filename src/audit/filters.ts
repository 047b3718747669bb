import { GatehouseError, pointInTime } from '../core/index.js';
import type { AuditQuery } from './read.js';

/** The filters people and scripts give a search (the console's form, the admin API's query). */
export const AUDIT_FILTER_FIELDS = [
  'q',
  'token',
  'tool',
  'target',
  'decision',
  'approver',
  'outcome',
  'since',
  'until',
] as const;

/** Each filter as typed (trimmed, bounded; empty when not given). */
export type AuditFilters = Record<(typeof AUDIT_FILTER_FIELDS)[number], string>;

/** Longest filter value taken. */
const MAX_FIELD = 200;
const DECISIONS = ['allow', 'approve', 'deny', 'redirect'];

/** Reads the filters from a query string (or form); a value over the bound is `invalid_input`. */
export function auditFiltersOf(params: URLSearchParams): AuditFilters {
  const f = {} as AuditFilters;
  for (const k of AUDIT_FILTER_FIELDS) {
    const v = (params.get(k) ?? '').trim();
    if (v.length > MAX_FIELD)
      throw new GatehouseError('invalid_input', `the ${k} filter is over ${MAX_FIELD} characters`);
    f[k] = v;
  }
  return f;
}

/**
 * The query the filters mean: exact matches on token name, tool, target, decision, approver and
 * outcome, text anywhere (`q`), and a time range (`since`/`until`: `90m`, `2d` or an ISO time).
 * A malformed time or an unknown decision is `invalid_input`.
 */
export function auditQueryOf(f: AuditFilters, now: number): AuditQuery {
  if (f.decision !== '' && !DECISIONS.includes(f.decision))
    throw new GatehouseError('invalid_input', `no such decision ${JSON.stringify(f.decision)}`, {
      hint: DECISIONS.join(', '),
    });
  const q: AuditQuery = {};
  if (f.q) q.text = f.q;
  if (f.token) q.tokenName = f.token;
  if (f.tool) q.tool = f.tool;
  if (f.target) q.target = f.target;
  if (f.decision) q.decision = f.decision;
  if (f.approver) q.approver = f.approver;
  if (f.outcome) q.outcome = f.outcome;
  if (f.since) q.since = pointInTime(f.since, now);
  if (f.until) q.until = pointInTime(f.until, now);
  return q;
}
