/** How a token's approvals are obtained (the gate imports this; it is declared nowhere else). */
export type ApprovalMode = 'out-of-band' | 'totp' | 'elicitation';

/** Who decided, through what. `api` is the admin HTTP API; `totp` a person who typed a code. */
export type DecisionChannel = 'cli' | 'api' | 'console' | 'elicitation' | 'totp';

/** What a person is shown of a request body: its size and digest, and the start of it when it is text. */
export interface ApprovalBody {
  bytes: number;
  sha256: string;
  /** The first APPROVAL_BODY_PREVIEW characters of a text body; absent for a binary one. */
  preview?: string;
}

/**
 * What a person reads: the exact operation the guard judged (structurally the gate's
 * `Action['guard']`). Headers are not stored; a body is stored as ApprovalBody.
 */
export type ApprovalOperation = (
  | { kind: 'command'; command: string }
  | { kind: 'http'; method: string; path: string; body?: ApprovalBody }
  | { kind: 'path'; op: 'read' | 'write'; path: string }
  /** Nothing the guard judges (a session opened, input typed into a program): the summary and the bound inputs say what. */
  | { kind: 'action'; summary: string }
) & {
  /**
   * Every other input that changes what happens (stdin, env, cwd, timeout, headers, a file's
   * content digest and mode, …), by name, as the person is shown it. The action digest covers the
   * same values, so an approval given for these cannot run with others.
   */
  bound?: Record<string, string>;
};

export interface ApprovalRequest {
  tokenId: string;
  tokenName: string;
  tool: string;
  target?: string | null;
  /** One-line summary of the action (never a secret value). */
  summary: string;
  /** The exact command or request, shown to the person in full. */
  operation?: ApprovalOperation | null;
  /** `actionDigest(principal, action)` from the gate: the approval covers exactly this. */
  digest: string;
  rule: string;
  reason: string;
  matched: string;
  mode: ApprovalMode;
}

/**
 * Status as seen now: `pending` (waiting for a person), `approved` (not yet used), `denied`,
 * `expired` (nobody decided in time, or approved but not used in time: both mean deny), `used`,
 * `tampered` (the record's signature does not verify: it was written or changed outside
 * Gatehouse; nothing in it is used, and its decision fields are not shown).
 */
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired' | 'used' | 'tampered';

export interface Approval {
  id: string;
  tokenId: string;
  tokenName: string;
  tool: string;
  target: string | null;
  summary: string;
  operation: ApprovalOperation | null;
  digest: string;
  rule: string;
  reason: string;
  matched: string;
  mode: ApprovalMode;
  status: ApprovalStatus;
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  channel: DecisionChannel | null;
  note: string | null;
  consumedAt: string | null;
}

/** Every decision, consumption and verification outcome, for the audit log (the lead wires it). */
export interface ApprovalEvent {
  kind: 'request' | 'decide' | 'consume' | 'totp' | 'request_state' | 'approver';
  /** The approval id (or the requestState nonce for `request_state`, the approver name for `approver`). */
  approvalId: string | null;
  tokenId?: string;
  by?: string;
  channel?: DecisionChannel;
  note?: string;
  /** `approved`, `denied`, `consumed`, `refused:<reason>`, `ok`, `wrong_code`, `locked`, ... */
  outcome: string;
}

/** The part of the vault keyring approvals need (`Keyring` from src/vault satisfies it). */
export interface InternalKeySource {
  internalKey(purpose: string): Promise<Buffer>;
}
