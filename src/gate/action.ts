import type { HttpRequestLike } from '../guard/index.js';
import type { Principal } from './tokens.js';

/**
 * An HTTP request as the guard judges it (its path carries the query string as sent), plus what
 * only the approval digest needs: the size and SHA-256 of bytes the guard judged in another form
 * or not at all (a binary body read once a person must approve it, a compressed one judged
 * decoded), so an approval covers the exact bytes sent.
 */
export type HttpOperation = { kind: 'http' } & HttpRequestLike & { bodyBytes?: number; bodySha256?: string };

/** What a tool or route asks to do, in the terms the guard, approvals and audit understand. */
export interface Action {
  /** The tool or route name (`api_request`, `ssh_exec`, `POST /gateway`, …). */
  tool: string;
  /** The plain HTTP route it came through (`/gateway`, `/ssh/exec`), for the audit log. */
  route?: string;
  /** The target it acts on, if any. Authorization requires a `target:` grant for it. */
  target?: string;
  /** What the guard judges. Absent for read-only actions with nothing to judge (discover). */
  guard?:
    | { kind: 'command'; command: string }
    | HttpOperation
    | { kind: 'path'; op: 'read' | 'write'; path: string };
  /**
   * A verdict fixed by the tool when there is nothing for the guard to parse (opening an
   * interactive session needs approval by default). Ignored when `guard` is set.
   */
  fixedVerdict?: { decision: 'allow' | 'approve' | 'deny'; rule: string; reason: string; matched: string };
  /** A one-line human summary for audit and approval prompts; must not contain secret values. */
  summary: string;
  /** The client's address or transport (`stdio`, `127.0.0.1`). */
  client?: string;
}

export interface GateRequest {
  principal: Principal;
  action: Action;
}
