/**
 * The command guard: bash syntax tree -> commands -> rules -> decision; HTTP request rules;
 * path rules; YAML policies. Invariants enforced here: what cannot be parsed or resolved is
 * never `allow`; a built-in `deny` is never lowered by a policy; the most restrictive verdict of
 * a compound command wins.
 */
export type { Verdict, GuardDecision, GuardContext, GuardRunContext, HttpRequestLike, CommandInput } from './types.js';
export { GUARD_RUN_CONTEXTS } from './types.js';
export { loadGuard, assertCommandSize, MAX_COMMAND_BYTES, MAX_REPARSE_DEPTH, type GuardEngine } from './engine.js';
export { parsePolicy, loadPolicyFile, type Policy } from './policy.js';
export { stripSql, inspectSql } from './sql.js';
export { workspaceChange, type WorkspaceChange } from './workspace-changes.js';
export { loadBashParser } from './parser.js';
export {
  generateLockPolicy,
  judgeObserved,
  replayObserved,
  type LockPolicyOptions,
  type LockPolicyResult,
  type ObservedAction,
  type ObservedOperation,
  type ReplayChange,
  type ReplayResult,
} from './lock-policy.js';
