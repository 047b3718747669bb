/**
 * Shared guard types: verdicts, decisions, and the internal "finding" a rule produces.
 * Verdict order (most restrictive first): deny > approve > redirect > allow. In a compound
 * command the most restrictive finding wins and is never capped down.
 */
export type Verdict = 'allow' | 'approve' | 'deny' | 'redirect';

export interface GuardDecision {
  decision: Verdict;
  /** Stable rule id, e.g. `fs.rm-root` (built-in) or `user:<policy>:<id>` (policy file). */
  rule: string;
  /** A reason a person understands. */
  reason: string;
  /** The exact text (of the command, or of the part of it) the rule matched. */
  matched: string;
  /** For `redirect`: the command to run instead. */
  redirect?: string;
}

/**
 * Where a command will run. The verdict for a command the guard does not know to be read-only or
 * harmless (`defaults.unknown_command` in a policy) depends on it: production hosts over SSH and
 * interactive sessions get approve by default; the local sandbox, which is itself the boundary,
 * may allow. An absent or unrecognised context is judged as `default` (approve unless the policy
 * says otherwise).
 */
export type GuardRunContext = 'ssh' | 'session' | 'sandbox' | 'cli';
export const GUARD_RUN_CONTEXTS: readonly GuardRunContext[] = ['ssh', 'session', 'sandbox', 'cli'];

export interface GuardContext {
  /** Where the command runs (ssh_exec: `ssh`, ssh_session_send: `session`, exec: `sandbox`, `guard check`: `cli`). */
  context?: GuardRunContext;
  /** Name of the policy to apply (overrides bindings); default `default`. */
  policy?: string;
  /** Target name (an SSH host, HTTP target...) used to pick policies by `applies_to`. */
  target?: string;
  /** Token name/id used to pick policies by `applies_to`. */
  token?: string;
  /**
   * `sandbox` only: the profile checkpoints the workspace before every deleting command
   * (`checkpoints.softDelete`), so `rm` there is restorable and allowed (rule `fs.rm-soft`).
   * Ignored in any other context.
   */
  reversibleDeletes?: boolean;
}

/**
 * What a command line receives besides its text. Every field can change what runs, so each is
 * judged with the line (src/guard/stdin.ts, src/guard/resolve.ts, src/guard/session.ts).
 */
export interface CommandInput {
  /** Text the command's standard input receives (ssh_exec `stdin`, POST /ssh/:target/exec). */
  stdin?: string;
  /**
   * Variables set in the command's environment by the caller (ssh_exec / exec `env`), values as
   * the agent sent them (vault handles unfilled: a value holding `{{vault:` is unknown).
   */
  env?: Readonly<Record<string, string>>;
  /**
   * The line is typed into an interactive bash session at its own prompt (ssh_session_send):
   * anything that changes how LATER input is read or run is not allowed.
   */
  session?: boolean;
}

export interface HttpRequestLike {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** A body is sent that the guard is not shown (a binary stream): body rules fail closed. */
  bodyUnread?: boolean;
  /**
   * `body` is the decoded form of a body sent with this Content-Encoding (the caller decoded it,
   * bounded); without it a compressed body is judged as unread.
   */
  bodyDecodedFrom?: string;
}

/** A rule hit. `final` marks built-in denies that no user rule may lower. */
export interface Finding extends GuardDecision {
  final?: boolean;
  /** Structural fail-closed findings (parse errors, dynamic names, limits): never lowered below approve. */
  floor?: boolean;
}

const RANK: Record<Verdict, number> = { allow: 0, redirect: 1, approve: 2, deny: 3 };

export function rank(v: Verdict): number {
  return RANK[v];
}

/** Most restrictive of two findings; on a tie the first one (earliest in the text) is kept. */
export function worse<T extends GuardDecision>(a: T | undefined, b: T): T {
  if (!a) return b;
  return RANK[b.decision] > RANK[a.decision] ? b : a;
}

export function worst<T extends GuardDecision>(list: readonly T[]): T | undefined {
  let out: T | undefined;
  for (const f of list) out = worse(out, f);
  return out;
}

export function finding(
  decision: Verdict,
  rule: string,
  reason: string,
  matched: string,
  extra?: Partial<Finding>,
): Finding {
  // No default `{}` to spread: most findings have no extras, and the spread allocated twice.
  return extra === undefined ? { decision, rule, reason, matched } : { decision, rule, reason, matched, ...extra };
}

/** Built-in deny that user policy can never lower (catastrophes, remote code, secrets, reverse shells). */
export function hardDeny(rule: string, reason: string, matched: string): Finding {
  return { decision: 'deny', rule, reason, matched, final: true };
}

export function toDecision(f: GuardDecision): GuardDecision {
  const d: GuardDecision = { decision: f.decision, rule: f.rule, reason: f.reason, matched: f.matched };
  if (f.redirect !== undefined) d.redirect = f.redirect;
  return d;
}
