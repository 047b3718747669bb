import type { GuardDecision, GuardRunContext, HttpRequestLike, Verdict } from '../guard/index.js';

/**
 * An HTTP request as the guard judges it (its path carries the query string as sent), plus what
 * only the approval digest needs: the size and SHA-256 of bytes the guard judged in another form
 * or not at all (a binary body read once a person must approve it, a compressed one judged
 * decoded), so an approval covers the exact bytes sent.
 */
export type HttpOperation = { kind: 'http' } & HttpRequestLike & { bodyBytes?: number; bodySha256?: string };

/**
 * A shell command line as the guard judges it, with what else feeds it: the text on its standard
 * input and the variables the caller sets in its environment (both can run code, so both are
 * judged), and whether it is typed into an interactive session at the shell's prompt.
 */
export interface CommandOperation {
  kind: 'command';
  command: string;
  /**
   * Where the command runs: the policy's `unknown_command` verdict depends on it (approve on SSH
   * targets and in sessions, allow in the sandbox by default). Required, so no tool can forget it
   * and fall to the stricter-or-looser default by accident.
   */
  context: GuardRunContext;
  stdin?: string;
  env?: Readonly<Record<string, string>>;
  session?: boolean;
  /** `exec` in a soft-delete sandbox (GuardContext.reversibleDeletes): the tool vouches a checkpoint comes first. */
  reversibleDeletes?: boolean;
}

/**
 * A verdict a tool fixes when there is nothing for the guard to parse: the guard's decision shape,
 * without `redirect` (there is no command to run instead).
 */
export type FixedVerdict = Omit<GuardDecision, 'decision' | 'redirect'> & { decision: Exclude<Verdict, 'redirect'> };

/** What a tool or route asks to do, in the terms the guard, approvals and audit understand. */
export interface Action {
  /** The tool or route name (`api_request`, `ssh_exec`, `POST /gateway`, …). */
  tool: string;
  /** The plain HTTP route it came through (`/gateway`, `/ssh/exec`), for the audit log. */
  route?: string;
  /** The target it acts on, if any. Authorization requires a `target:` grant for it. */
  target?: string;
  /** What the guard judges. Absent for read-only actions with nothing to judge (discover). */
  guard?: CommandOperation | HttpOperation | { kind: 'path'; op: 'read' | 'write'; path: string };
  /**
   * Every other input that changes what happens but is not judged (a working directory, a
   * timeout, a file's content digest and mode, …), by name, as text. INVARIANT: the approval
   * digest covers these, the person is shown them, and the audit record keeps them.
   */
  bound?: Readonly<Record<string, string>>;
  /**
   * Full texts only the audit record keeps (a written file's content, whose digest is bound):
   * what ran, whole, where `bound` carries only a digest for the approval.
   */
  record?: Readonly<Record<string, string>>;
  /**
   * A verdict fixed by the tool when there is nothing for the guard to parse (opening an
   * interactive session needs approval by default). Ignored when `guard` is set.
   */
  fixedVerdict?: FixedVerdict;
  /** A one-line human summary for audit and approval prompts; must not contain secret values. */
  summary: string;
  /** The client's address or transport (`stdio`, `127.0.0.1`). */
  client?: string;
}
