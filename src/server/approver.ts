import { acceptedContent } from '@modelcontextprotocol/server';
import { approvalOperation, describeForHuman, type ApprovalRequest, type ApprovalService } from '../approvals/index.js';
import { createHash } from 'node:crypto';
import { cutText, GatehouseError } from '../core/index.js';
import type { Action, ApprovalContext, Approver } from '../gate/index.js';

/** The key of Gatehouse's one embedded input request. */
export const APPROVAL_INPUT_KEY = 'gatehouse_approval';

/**
 * What the MCP layer tells the approver about the current request (the gate's ApprovalContext for
 * MCP). Built from the protocol context, never from tool arguments: the agent cannot set any of it.
 */
export interface McpApprovalContext extends ApprovalContext {
  kind: 'mcp';
  /** The client declared form elicitation and this door can carry it. */
  canElicit: boolean;
  /** The echoed requestState on a retry (attacker-controlled until verified). */
  requestState?: string;
  /** The client's answers on a retry (untrusted). */
  inputResponses?: Record<string, unknown>;
}

/** Thrown to the MCP layer: answer with an input-required result carrying this elicitation. */
export class ElicitationRequired extends GatehouseError {
  constructor(
    readonly elicitation: {
      message: string;
      requestedSchema: { type: 'object'; properties: Record<string, Record<string, unknown>>; required: string[] };
    },
    readonly requestState: string,
    /** The pending approval the elicitation decides (decided out of band when the client cannot answer). */
    readonly approvalId: string,
    /** Throws `approval_required` for this approval, still waiting, saying `why` (ApprovalService.stillWaiting). */
    readonly stillWaiting: (why: string) => Promise<never>,
  ) {
    super('approval_required', 'a person must approve this in the client');
  }
}

/**
 * The client gave no answer (`cancel`, no response for our key): not a decision. The approval stays
 * pending for a person to decide out of band, and the result says so with its id (issue 18.2 and
 * 24.2: cancel is not deny; a decline is).
 */
function answered(inputResponses: Record<string, unknown> | undefined): boolean {
  const a = inputResponses?.[APPROVAL_INPUT_KEY] as { action?: unknown } | undefined;
  return a?.action === 'accept' || a?.action === 'decline';
}

function isMcpContext(c: ApprovalContext | undefined): c is McpApprovalContext {
  return c?.kind === 'mcp';
}

const APPROVE_SCHEMA = {
  type: 'object' as const,
  properties: {
    approve: {
      type: 'boolean',
      title: 'Approve this action?',
      description: 'Approve only if you expected this exact action.',
    },
  },
  required: ['approve'],
};
const TOTP_SCHEMA = {
  type: 'object' as const,
  properties: {
    code: {
      type: 'string',
      title: 'Approver code',
      description: 'The current 6-digit code from your authenticator app.',
      minLength: 6,
      maxLength: 6,
    },
  },
  required: ['code'],
};

/**
 * The gate's approver: an approval id the agent retries with (out of band), a verified answer to
 * Gatehouse's own elicitation, a new elicitation when the client can show one, or else a pending
 * out-of-band approval. INVARIANT: every path ends in a server-side record bound to the token and
 * the exact action digest, spent once; nothing in the tool's arguments can satisfy it.
 */
export function createApprover(service: ApprovalService): Approver {
  return {
    async obtain({ principal, action, verdict, digest, approvalContext, approvalId }) {
      const mode = principal.approvalMode ?? 'elicitation';
      const request: ApprovalRequest = {
        tokenId: principal.tokenId,
        tokenName: principal.tokenName,
        tool: action.tool,
        target: action.target ?? null,
        summary: action.summary,
        operation: action.guard
          ? { ...approvalOperation(action.guard), bound: shownInputs(action) }
          : { kind: 'action', summary: action.summary, bound: shownInputs(action) },
        digest,
        rule: verdict.rule,
        reason: verdict.reason,
        matched: verdict.matched,
        mode,
      };
      if (approvalId !== undefined) return service.outOfBand(request, approvalId);

      const ch = isMcpContext(approvalContext) ? approvalContext : undefined;
      if (ch?.requestState !== undefined && mode !== 'out-of-band') {
        // A retry answering our elicitation: verify the sealed state (token, digest, expiry) and
        // spend its nonce before looking at the answer.
        const state = await service.redeemRequestState(ch.requestState, { tokenId: principal.tokenId, digest });
        if (!state.approvalId)
          throw new GatehouseError('approval_invalid', 'the approval state does not name an approval');
        const who = { tokenId: principal.tokenId, digest };
        if (!answered(ch.inputResponses))
          return service.stillWaiting(
            state.approvalId,
            who,
            'the client cancelled the approval form without an answer',
          );
        if (mode === 'totp') {
          const code = acceptedContent<{ code?: unknown }>(ch.inputResponses, APPROVAL_INPUT_KEY)?.code;
          if (typeof code !== 'string')
            return service.settleInteractive(state.approvalId, who, 'denied', {
              by: 'client',
              channel: 'totp',
              note: 'declined or no code',
            });
          // Checked against this token's own brute-force brake (and the approver's shared one);
          // a wrong, reused or braked code denies the approval on record and is thrown.
          return service.settleTotp(state.approvalId, who, code);
        }
        const approved =
          acceptedContent<{ approve?: unknown }>(ch.inputResponses, APPROVAL_INPUT_KEY)?.approve === true;
        return service.settleInteractive(state.approvalId, who, approved ? 'approved' : 'denied', {
          by: `user of ${principal.tokenName}'s client`,
          channel: 'elicitation',
          note: approved ? undefined : 'declined in the client',
        });
      }

      if (mode !== 'out-of-band' && ch?.canElicit) {
        const { id } = await service.request(request);
        const approval = (await service.get(id))!;
        const message =
          `Gatehouse: an agent asks to run this. Approve only if you expected it.\n\n${describeForHuman(approval)}` +
          (mode === 'totp' ? '\n\nEnter an approver code to approve; leave it and cancel to deny.' : '');
        throw new ElicitationRequired(
          { message, requestedSchema: mode === 'totp' ? TOTP_SCHEMA : APPROVE_SCHEMA },
          service.sealRequestState({ tokenId: principal.tokenId, digest, approvalId: id }),
          id,
          (why) => service.stillWaiting(id, { tokenId: principal.tokenId }, why),
        );
      }
      return service.outOfBand({ ...request, mode: mode === 'totp' ? 'totp' : 'out-of-band' });
    },
  };
}

/** Longest input value shown in full to the person; a longer one is shown as its start, size and digest. */
const SHOWN_VALUE_CHARS = 4000;

function shown(value: string): string {
  if (value.length <= SHOWN_VALUE_CHARS) return value;
  const bytes = Buffer.from(value, 'utf8');
  return `${cutText(value, SHOWN_VALUE_CHARS)}… (${bytes.length} bytes in all, sha256 ${createHash('sha256').update(bytes).digest('hex')})`;
}

/**
 * Everything besides the command, request or path that the person must see to know what will
 * happen: a command's stdin and env, a request's headers, and the action's bound inputs. The
 * digest covers all of them in full (a value shown shortened is still bound by its digest).
 */
function shownInputs(action: Action): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const g = action.guard;
  if (g?.kind === 'command') {
    if (g.stdin !== undefined) out.stdin = shown(g.stdin);
    if (g.env !== undefined && Object.keys(g.env).length) out.env = shown(JSON.stringify(g.env));
    if (g.session) out.typed = 'into an interactive session, at the shell prompt';
  } else if (g?.kind === 'http') {
    if (g.headers !== undefined && Object.keys(g.headers).length) out.headers = shown(JSON.stringify(g.headers));
  }
  for (const [k, v] of Object.entries(action.bound ?? {})) out[k] = shown(v);
  return Object.keys(out).length ? out : undefined;
}
