import { createHash } from 'node:crypto';
import { GatehouseError, toGatehouseError, log } from '../core/index.js';
import { actionPayload, type AuditLog } from '../audit/index.js';
import type { GuardDecision, GuardEngine } from '../guard/index.js';
import type { Action } from './action.js';
import { isGranted } from './grants.js';
import type { RateLimiter } from './rate-limit.js';
import type { Principal } from './tokens.js';

/**
 * The part of the guard engine the gate needs (src/guard implements it). The verdict vocabulary
 * (`Verdict`, `GuardDecision`) is the guard's own: the gate declares no copy of it.
 */
export type ActionGuard = Pick<GuardEngine, 'checkCommand' | 'checkHttp' | 'checkPath'>;

/**
 * What the transport an action came through can do to ask a person (an MCP request: whether the
 * client shows forms, the sealed state of a retry). Opaque to the gate, which only passes it to
 * the approver; the transport builds it from protocol context, never from tool arguments.
 */
export interface ApprovalContext {
  readonly kind: string;
}

/** What the gate asks an approver: a person's decision on this exact action. */
export interface ApprovalAsk {
  principal: Principal;
  action: Action;
  verdict: GuardDecision;
  /** The exact-action digest the approval binds to (actionDigest). */
  digest: string;
  approvalContext?: ApprovalContext;
  /** An out-of-band approval id the agent retries with; checked against this exact action. */
  approvalId?: string;
}

/** Asks a person; resolves with who approved, or throws (denied, pending out of band, unavailable). */
export interface Approver {
  obtain(req: ApprovalAsk): Promise<{ approver: string; channel: string }>;
}

export interface GateDeps {
  audit: AuditLog;
  /** Per-token call rate; absent means unlimited. */
  rateLimit?: RateLimiter;
  /** Loads the guard (its parser is loaded on first use). */
  guard?: () => Promise<ActionGuard>;
  approver?: Approver;
}

export interface ExecutionContext {
  /** The audit id of the attempt record (for correlation in logs). */
  auditId: string;
  verdict: GuardDecision | null;
  approver: string | null;
}

/** What the result record of an action adds: how it ended, a status, small details. */
export interface AuditFields {
  outcome?: string;
  status?: number;
  detail?: Record<string, unknown>;
}

/** How one `Gate.run` goes, besides the action itself. `T` is what the action returns. */
export interface GateOptions<T = unknown> {
  /** Passed to the approver when a person must decide (see ApprovalContext). */
  approvalContext?: ApprovalContext;
  /** An out-of-band approval id the agent retries with; checked against this exact action. */
  approvalId?: string;
  /** The result record's fields for a successful result (default: outcome `ok`). */
  auditFields?: (result: T) => AuditFields;
  /**
   * Completes the action's guard input once the caller is known to be allowed and within its rate
   * (the `/gateway` route reads a textual body here, so the guard judges it; an SSH session asks
   * which program holds its terminal). A failure is audited as the attempt's outcome and refuses
   * the action.
   */
  completeGuardInput?: () => Promise<void>;
  /**
   * Completes the action before a person is asked, so the approval binds to all of it (the
   * `/gateway` route reads a body it would otherwise stream unread, and adds its digest). Runs
   * only for `approve` verdicts; a failure is audited and refuses the action.
   */
  bindForApproval?: () => Promise<void>;
}

/**
 * The exact-action digest approvals bind to: token, tool, target, the guarded operation (with its
 * stdin and env) and every bound input. Objects are hashed with sorted keys, so the same action
 * always has the same digest whatever order its arguments came in.
 */
export function actionDigest(principal: Principal, action: Action): string {
  return createHash('sha256')
    .update(
      canonicalJson([
        principal.tokenId,
        action.tool,
        action.target ?? null,
        action.guard ?? null,
        action.bound ?? null,
        action.fixedVerdict ? action.summary : null,
      ]),
    )
    .digest('hex');
}

/** JSON with object keys sorted at every level (undefined members dropped, as JSON.stringify does). */
function canonicalJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (x === null || typeof x !== 'object' || Array.isArray(x)) return x;
    const o = x as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, o[k]]),
    );
  });
}

/**
 * The one path every action takes: authorize -> guard -> approve -> audit (before) -> execute ->
 * audit (after). No executor is reachable except through `run`.
 */
export class Gate {
  readonly #deps: GateDeps;

  constructor(deps: GateDeps) {
    this.#deps = deps;
  }

  get audit(): AuditLog {
    return this.#deps.audit;
  }

  async run<T>(
    principal: Principal,
    action: Action,
    execute: (ctx: ExecutionContext) => Promise<T>,
    opts: GateOptions<T> = {},
  ): Promise<T> {
    const started = performance.now();
    const base = recordBase(principal, action);

    // 1. authorize (and rate-limit: a refused call still costs a token, so a flood is bounded)
    try {
      this.#deps.rateLimit?.take(principal.tokenId);
    } catch (e) {
      return this.#refuse(base, action, 'deny', 'rate_limit', toGatehouseError(e));
    }
    const refusal = this.#authorize(principal, action);
    if (refusal) return this.#refuse(base, action, 'deny', 'grant', refusal);

    if (opts.completeGuardInput) {
      try {
        await opts.completeGuardInput();
      } catch (e) {
        return this.#refuse(base, action, 'deny', 'complete-guard-input', toGatehouseError(e));
      }
    }

    // 2. guard. INVARIANT: anything the guard cannot judge is refused, never allowed.
    let verdict: GuardDecision | null = null;
    if (action.guard) verdict = await this.#judge(principal, action);
    else if (action.fixedVerdict) verdict = action.fixedVerdict;

    // 3. deny and redirect end here (a deny is never approvable).
    if (verdict && (verdict.decision === 'deny' || verdict.decision === 'redirect')) {
      const denied = new GatehouseError('denied', `refused by rule ${verdict.rule}: ${verdict.reason}`, {
        hint:
          verdict.decision === 'redirect' && verdict.redirect
            ? `run this instead: ${verdict.redirect}`
            : 'this action is not permitted by policy; do not retry it in another form',
        details: {
          rule: verdict.rule,
          matched: verdict.matched,
          decision: verdict.decision,
          ...(verdict.redirect ? { redirect: verdict.redirect } : {}),
        },
      });
      return this.#refuse(base, action, verdict.decision, verdict.rule, denied, 'refused');
    }

    // 4. approve
    let approver: string | null = null;
    if (verdict && verdict.decision === 'approve') {
      if (!this.#deps.approver) {
        const unasked = new GatehouseError(
          'approval_required',
          `a person must approve this (${verdict.rule}: ${verdict.reason}), and no approval channel is available`,
          {
            hint: 'ask an operator to run it, or to configure approvals for this token',
            details: { rule: verdict.rule, matched: verdict.matched },
          },
        );
        return this.#refuse(base, action, 'approve', verdict.rule, unasked, 'no_approval_channel');
      }
      if (opts.bindForApproval) {
        try {
          await opts.bindForApproval();
        } catch (e) {
          return this.#refuse(base, action, 'approve', verdict.rule, toGatehouseError(e));
        }
      }
      try {
        const digest = actionDigest(principal, action);
        const got = await this.#deps.approver.obtain({
          principal,
          action,
          verdict,
          digest,
          approvalContext: opts.approvalContext,
          approvalId: opts.approvalId,
        });
        approver = `${got.channel}:${got.approver}`;
      } catch (e) {
        return this.#refuse(base, action, 'approve', verdict.rule, toGatehouseError(e));
      }
    }

    // 5. audit (before). INVARIANT: no audit record, no action — append rejects and we stop here.
    const attempt = await this.#deps.audit.append({
      ...base,
      payload: operationPayload(action),
      phase: 'attempt',
      decision: verdict?.decision ?? 'allow',
      rule: verdict?.rule,
      approver: approver ?? undefined,
    });

    // 6. execute, 8. audit (after)
    try {
      const result = await execute({ auditId: attempt.id, verdict, approver });
      const d = opts.auditFields?.(result) ?? {};
      await this.#appendResult(attempt.id, base, {
        outcome: d.outcome ?? 'ok',
        status: d.status,
        detail: d.detail,
        durationMs: performance.now() - started,
      });
      return result;
    } catch (e) {
      const err = toGatehouseError(e);
      await this.#appendResult(attempt.id, base, { outcome: err.code, durationMs: performance.now() - started });
      throw err;
    }
  }

  /**
   * Every refusal before the action: the attempt is recorded with what refused it, then the error
   * goes to the caller (if the record cannot be written, that failure refuses instead).
   */
  async #refuse(
    base: Record<string, unknown>,
    action: Action,
    decision: string,
    rule: string,
    err: GatehouseError,
    outcome: string = err.code,
  ): Promise<never> {
    await this.#deps.audit.append({
      ...(base as object),
      payload: operationPayload(action),
      phase: 'attempt',
      decision,
      rule,
      outcome,
    });
    throw err;
  }

  /**
   * Judges a further step of an action that is already running (a redirect the upstream answered
   * with) by the same guard and policy, and records the step and its verdict. Nothing here asks a
   * person: a step that needs approval is refused by the caller, and the agent makes it as a call
   * of its own. INVARIANT: what the guard cannot judge is never allowed (as in `run`).
   */
  async judgeStep(principal: Principal, action: Action): Promise<GuardDecision> {
    const verdict: GuardDecision = action.guard
      ? await this.#judge(principal, action)
      : {
          decision: 'deny',
          rule: 'gate.nothing-to-judge',
          reason: 'a step with nothing to judge is not taken',
          matched: '',
        };
    await this.#deps.audit.append({
      ...recordBase(principal, action),
      phase: 'event',
      decision: verdict.decision,
      rule: verdict.rule,
      outcome: verdict.decision === 'allow' ? 'step_allowed' : 'step_refused',
      payload: operationPayload(action),
    });
    return verdict;
  }

  /** Records an event that is not an action (a forged approval attempt, a refused login). */
  /**
   * A protocol request that runs nothing (`tools/list`, `ping`) still costs the token one unit of
   * its rate, so a flood of them is bounded like a flood of calls (issue 24.3). A refusal is
   * audited like a refused call (`rate_limit`); an answered one is not (it reads nothing secret).
   */
  async admit(principal: Principal, request: string): Promise<void> {
    try {
      this.#deps.rateLimit?.take(principal.tokenId);
    } catch (e) {
      const err = toGatehouseError(e);
      await this.event(principal, request, 'rate_limit', { code: err.code }).catch(() => undefined);
      throw err;
    }
  }

  async event(
    principal: Principal | null,
    tool: string,
    outcome: string,
    detail?: Record<string, unknown>,
  ): Promise<void> {
    await this.#deps.audit.append({
      phase: 'event',
      tokenId: principal?.tokenId,
      tokenName: principal?.tokenName,
      tool,
      outcome,
      detail,
    });
  }

  #authorize(principal: Principal, action: Action): GatehouseError | null {
    if (!isGranted(principal.grants, 'tool', action.tool)) {
      return new GatehouseError('not_granted', `this token is not granted the tool ${action.tool}`, {
        hint: `ask an operator to add the grant tool:${action.tool} to your token`,
      });
    }
    if (action.target !== undefined && !isGranted(principal.grants, 'target', action.target)) {
      return new GatehouseError('not_granted', `this token is not granted the target ${action.target}`, {
        hint: `ask an operator to add the grant target:${action.target}; \`discover\` lists what you may use`,
      });
    }
    return null;
  }

  async #judge(principal: Principal, action: Action): Promise<GuardDecision> {
    const g = action.guard!;
    if (!this.#deps.guard)
      return { decision: 'approve', rule: 'guard.unavailable', reason: 'the command guard is not loaded', matched: '' };
    let guard: ActionGuard;
    try {
      guard = await this.#deps.guard();
    } catch (e) {
      log.error('guard failed to load; refusing', { err: e });
      return { decision: 'deny', rule: 'guard.unavailable', reason: 'the guard could not be loaded', matched: '' };
    }
    const ctx = {
      policy: principal.policy ?? undefined,
      target: action.target,
      token: principal.tokenName,
      ...(g.kind === 'command' ? { context: g.context } : {}),
      ...(g.kind === 'command' && g.reversibleDeletes === true ? { reversibleDeletes: true } : {}),
    };
    try {
      if (g.kind === 'command') {
        // INVARIANT: stdin and env reach the guard with the command: both can run code.
        const input =
          g.stdin !== undefined || g.env !== undefined || g.session
            ? { stdin: g.stdin, env: g.env, session: g.session }
            : undefined;
        return guard.checkCommand(g.command, ctx, input);
      }
      if (g.kind === 'http') return guard.checkHttp(g, ctx);
      return guard.checkPath(g.op, g.path, ctx);
    } catch (e) {
      log.warn('guard failed; refusing', { err: e });
      return { decision: 'deny', rule: 'guard.error', reason: 'the guard could not judge this action', matched: '' };
    }
  }

  async #appendResult(
    ref: string,
    base: Record<string, unknown>,
    r: { outcome: string; status?: number; detail?: Record<string, unknown>; durationMs: number },
  ): Promise<void> {
    try {
      await this.#deps.audit.append({
        ...(base as object),
        phase: 'result',
        ref,
        outcome: r.outcome,
        status: r.status,
        detail: r.detail,
        durationMs: r.durationMs,
      });
    } catch (e) {
      // The action already ran; losing its result record is logged loudly (the attempt is on file).
      log.error('audit result record failed', { err: e, ref });
    }
  }
}

/** The fields every audit record of an action carries: who, through what, on what, and the summary. */
function recordBase(principal: Principal, action: Action) {
  return {
    tokenId: principal.tokenId,
    tokenName: principal.tokenName,
    tool: action.tool,
    route: action.route,
    target: action.target ?? null,
    action: action.summary,
    client: action.client,
  };
}

/**
 * What an attempt record keeps of the action, whole: the command with its stdin and env, or the
 * request line, headers and text body (a body the guard was not shown by its size and SHA-256),
 * or the path, every bound input, and what the tool adds for the record (a file's content).
 * INVARIANT: an audit record never drops what ran; the one-line `summary` is only for display
 * (the audit log stores large values as blobs its chain covers).
 */
export function operationPayload(action: Action): Record<string, string> | undefined {
  const g = action.guard;
  const main = actionPayload({
    ...(g?.kind === 'command' ? { command: g.command, stdin: g.stdin, env: g.env } : {}),
    ...(g?.kind === 'http' ? { request: `${g.method.toUpperCase()} ${g.path}`, headers: g.headers, body: g.body } : {}),
    ...(g?.kind === 'path' ? { path: `${g.op} ${g.path}` } : {}),
    bound: action.bound,
  });
  const extra: Record<string, string> = { ...action.record };
  if (g?.kind === 'command' && g.session) extra.session_line = 'true';
  if (g?.kind === 'http' && g.bodySha256 !== undefined)
    extra.body_sent = `${g.bodyBytes ?? '?'} bytes, sha256 ${g.bodySha256}`;
  if (g?.kind === 'http' && g.bodyUnread) extra.body_unread = 'true';
  return main || Object.keys(extra).length ? { ...main, ...extra } : undefined;
}
