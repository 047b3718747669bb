import { GatehouseError } from '../core/index.js';
import { describeForHuman } from './describe.js';
import type { ApprovalService } from './service.js';
import type { Approval, ApprovalStatus } from './types.js';

/**
 * The admin API as a port: endpoints the server mounts as its own routes (src/server/routes/admin.ts
 * gives each one the server's `Route` shape, `auth: 'admin'` and its path parameters). This module
 * knows no HTTP serving: the server checks the bearer token and that it is an admin's, decodes the
 * path parameters, reads the JSON body within `maxBodyBytes`, answers 200 with what `handle`
 * returns, and answers an error with its status from the one table (core HTTP_STATUS).
 */
export interface AdminRouteContext {
  principal: { tokenId: string; tokenName: string; admin: boolean };
  /** The path's `:name` parameters, percent-decoded. */
  params: Readonly<Record<string, string>>;
  query: URLSearchParams;
  /** The JSON object the request carried (`{}` when it carried no body). */
  body: Readonly<Record<string, unknown>>;
}

export interface AdminRoute {
  method: 'GET' | 'POST';
  /** The path, with `:name` parameters (e.g. `/admin/approvals/:id/:decision`). */
  path: string;
  /** Largest request body read (bytes); past it the server answers 413. */
  maxBodyBytes: number;
  /** The JSON answer (status 200), or a thrown GatehouseError. */
  handle(ctx: AdminRouteContext): Promise<unknown>;
}

const MAX_BODY = 16 * 1024;
const APPROVAL_ID = /^ap_[a-z2-7]{26}$/;
const STATUSES: readonly (ApprovalStatus | 'all')[] = [
  'pending',
  'approved',
  'denied',
  'expired',
  'used',
  'tampered',
  'all',
];
const DECISIONS: Readonly<Record<string, 'approved' | 'denied'>> = { approve: 'approved', deny: 'denied' };

/** Defence in depth: the server already refuses non-admin tokens on these routes. */
function requireAdmin(ctx: AdminRouteContext): void {
  if (ctx.principal.admin !== true) throw new GatehouseError('not_granted', 'this route needs an admin token');
}

function view(a: Approval): Approval & { description: string } {
  return { ...a, description: describeForHuman(a) };
}

/**
 * The admin HTTP API: `GET /admin/approvals[?status=pending|approved|denied|expired|used|tampered|all]
 * [&limit=1..1000][&cursor=C][&token=TOKEN_ID]` (default pending, 100 per page) answers one page:
 * `approvals`, `total`, `byToken` (counts per token, most first), `truncated` and `nextCursor`;
 * `POST /admin/approvals/:id/approve` and `/deny` with `{ "note"?: string }`.
 * Decisions are recorded as `api:<admin token name>`. INVARIANT: a token never decides an approval
 * its own action waits for, even an admin token (an agent holding one cannot approve itself).
 */
export function adminRoutes(service: ApprovalService): AdminRoute[] {
  return [
    {
      method: 'GET',
      path: '/admin/approvals',
      maxBodyBytes: 0,
      async handle(ctx) {
        requireAdmin(ctx);
        const status = (ctx.query.get('status') ?? 'pending') as ApprovalStatus | 'all';
        if (!STATUSES.includes(status))
          throw new GatehouseError('invalid_input', `unknown status ${JSON.stringify(status)}`, {
            hint: STATUSES.join(', '),
          });
        const limitText = ctx.query.get('limit');
        const limit = limitText === null ? undefined : Number(limitText);
        if (limit !== undefined && (!Number.isInteger(limit) || limit < 1 || limit > 1000)) {
          throw new GatehouseError('invalid_input', 'limit must be a whole number from 1 to 1000', {
            hint: 'omit it for 100 per page',
          });
        }
        const token = ctx.query.get('token') ?? undefined;
        // INVARIANT (issue 24): a page says how many match in all, how many per token, and whether
        // it was cut, so one token's flood can never hide another token's approval from a person.
        const page = await service.page({
          status,
          limit,
          cursor: ctx.query.get('cursor') ?? undefined,
          tokenId: token,
        });
        return { ...page, approvals: page.approvals.map(view) };
      },
    },
    {
      method: 'POST',
      path: '/admin/approvals/:id/:decision',
      maxBodyBytes: MAX_BODY,
      async handle(ctx) {
        requireAdmin(ctx);
        const { id, decision: asked } = ctx.params;
        const decision = asked !== undefined && Object.hasOwn(DECISIONS, asked) ? DECISIONS[asked] : undefined;
        if (decision === undefined) {
          throw new GatehouseError('not_found', `no route POST /admin/approvals/ID/${asked}`, {
            hint: 'POST /admin/approvals/ID/approve or /deny',
          });
        }
        // Unknown ids and malformed ones look the same.
        if (id === undefined || !APPROVAL_ID.test(id)) {
          throw new GatehouseError('not_found', 'no such approval', {
            hint: 'GET /admin/approvals lists what is waiting',
          });
        }
        const note = ctx.body.note;
        if (note !== undefined && typeof note !== 'string')
          throw new GatehouseError('invalid_input', 'note must be a string');
        const a = await service.decide(id, decision, {
          by: `api:${ctx.principal.tokenName}`,
          channel: 'api',
          note,
          notTokenId: ctx.principal.tokenId,
        });
        return { approval: view(a) };
      },
    },
  ];
}
