import { GatehouseError } from '../core/index.js';

/**
 * Why an approval id cannot be used for this call. `not_found` also covers an approval of another
 * token: a caller can never learn that someone else's approval exists, nor anything about it.
 */
export type ConsumeFailure = 'not_found' | 'pending' | 'denied' | 'expired' | 'used' | 'changed' | 'tampered';

/**
 * A stored approval whose signature does not verify: written or changed by something other than
 * Gatehouse (a database writer without the master key). Nothing in it is trusted or used.
 */
export function tamperedError(id: string): GatehouseError {
  return new GatehouseError(
    'approval_invalid',
    `approval ${id} failed its integrity check (it was written or changed outside Gatehouse) and cannot be used or decided`,
    {
      hint: 'ask for a new approval; an operator should find out who can write to the Gatehouse database (the audit log records this refusal)',
      details: { reason: 'tampered', approvalId: id },
    },
  );
}

export function consumeError(
  reason: ConsumeFailure,
  id: string,
  extra: { by?: string | null; expiresAt?: string; note?: string | null } = {},
): GatehouseError {
  const details = { reason, approvalId: id };
  switch (reason) {
    case 'pending':
      // Still waiting: approval_required (not approval_invalid), so callers can keep the agent waiting.
      return new GatehouseError('approval_required', `approval ${id} is still waiting for a person`, {
        hint: `wait for the person to decide (they run \`gatehouse approve ${id}\` or \`gatehouse deny ${id}\`), then retry the same call with the same approval_id; it expires at ${extra.expiresAt}`,
        details: { ...details, expiresAt: extra.expiresAt },
      });
    case 'denied':
      return new GatehouseError(
        'approval_invalid',
        `approval ${id} was denied${extra.by ? ` by ${extra.by}` : ''}${extra.note ? `: ${extra.note}` : ''}`,
        {
          hint: 'a denial is final; do not retry this action, and tell the person what you intended instead',
          details,
        },
      );
    case 'expired':
      return new GatehouseError('approval_invalid', `approval ${id} expired before it was used`, {
        hint: 'call the tool again without approval_id to ask for a new approval',
        details,
      });
    case 'used':
      return new GatehouseError(
        'approval_invalid',
        `approval ${id} was already used; an approval is good for one call`,
        {
          hint: 'call the tool again without approval_id to ask for a new approval',
          details,
        },
      );
    case 'tampered':
      return tamperedError(id);
    case 'changed':
      return new GatehouseError(
        'approval_invalid',
        `approval ${id} covers a different action (the command, request or target changed)`,
        {
          hint: 'retry exactly the approved call, or call again without approval_id to ask for a new approval for this one',
          details,
        },
      );
    default:
      return new GatehouseError('approval_invalid', `no approval ${id} exists for this token`, {
        hint: 'use the approval_id Gatehouse returned to this token for this exact call, or call again without it to ask for a new approval',
        details: { reason: 'not_found' },
      });
  }
}
