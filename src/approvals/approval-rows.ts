import { rowMac, rowMacValid, type MacField } from '../core/index.js';

/** The stored approval, as both databases return it (every column is text). */
export interface ApprovalRow {
  id: string;
  token_id: string;
  token_name: string;
  tool: string;
  target: string | null;
  summary: string;
  operation: string | null;
  digest: string;
  rule: string;
  reason: string;
  matched: string;
  mode: string;
  status: string;
  created_at: string;
  expires_at: string;
  decided_at: string | null;
  decided_by: string | null;
  channel: string | null;
  note: string | null;
  consumed_at: string | null;
  mac: string | null;
}

/** Names the row kind and its layout; a signature of another kind or version never verifies here. */
const KIND = 'approval/v1';

/**
 * Every column but the signature itself, in a fixed order. All of them are signed, not only the
 * ones the gate decides on (status, digest, token_id, expires_at, consumed_at): what the person
 * was shown (summary, operation, rule, reason) and who decided are the record's meaning too.
 */
function fields(r: Omit<ApprovalRow, 'mac'>): MacField[] {
  return [
    r.id,
    r.token_id,
    r.token_name,
    r.tool,
    r.target,
    r.summary,
    r.operation,
    r.digest,
    r.rule,
    r.reason,
    r.matched,
    r.mode,
    r.status,
    r.created_at,
    r.expires_at,
    r.decided_at,
    r.decided_by,
    r.channel,
    r.note,
    r.consumed_at,
  ];
}

/** The signature a legitimate write stores with this exact state of the row. */
export function signApproval(key: Buffer, r: Omit<ApprovalRow, 'mac'>): string {
  return rowMac(key, KIND, fields(r));
}

/** Whether the stored row is exactly a state Gatehouse signed (a NULL or altered signature is not). */
export function approvalVerifies(key: Buffer, r: ApprovalRow): boolean {
  return rowMacValid(key, KIND, fields(r), r.mac);
}
