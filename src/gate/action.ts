import type { Principal } from './tokens.js';

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
    | {
        kind: 'http';
        method: string;
        /** The path with the query string as sent. */
        path: string;
        headers?: Record<string, string>;
        /** The body as sent, when it is text. */
        body?: string;
        /** A body is sent that the guard is not shown (a binary stream); rules that need it fail closed. */
        bodyUnread?: boolean;
        /** `body` is decoded from this Content-Encoding (the bytes sent stay compressed). */
        bodyDecodedFrom?: string;
        /**
         * Size and SHA-256 of a body the guard was not shown, read once a person must approve the
         * request: they are part of the action digest, so the approval covers those exact bytes.
         */
        bodyBytes?: number;
        bodySha256?: string;
      }
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
