import type { AdminRoute, AdminRouteContext } from '../../approvals/index.js';
import { auditFiltersOf, auditQueryOf, searchAudit, verifyAuditChain, type AuditRecord } from '../../audit/index.js';
import { CLIENTS, isClientKind } from '../../connect/index.js';
import { GatehouseError } from '../../core/index.js';
import { EnrollmentCodes, formatGrant, parseTokenSpec, type TokenInfo } from '../../gate/index.js';
import type { Runtime } from '../runtime.js';

const MAX_BODY = 16 * 1024;
const PAGE_MAX = 1000;

/** A token as the API shows it: grants as text, the last client seen, never a secret or hash. */
function tokenView(t: TokenInfo, client?: { name: string; version: string; transport: string; seenAt: string }) {
  return { ...t, grants: t.grants.map(formatGrant), lastClient: client ?? null };
}

function str(v: unknown, what: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new GatehouseError('invalid_input', `${what} must be a string`);
  return v;
}

/** A token scope from a JSON body (`grants` a list of strings); anything off is `invalid_input`. */
function specFromBody(b: Readonly<Record<string, unknown>>, client?: string) {
  if (b.grants !== undefined && !Array.isArray(b.grants))
    throw new GatehouseError('invalid_input', 'grants is a list of strings like "tool:discover"');
  return parseTokenSpec({
    name: str(b.name, 'name'),
    grants: b.grants as string[] | undefined,
    approval: str(b.approval, 'approval'),
    expires: str(b.expires, 'expires'),
    ...(client !== undefined ? { client } : {}),
  });
}

/** Records an admin API change: tool `admin_api` (or `tool`), approver `api:<admin token name>`. */
export function adminAudit(rt: Pick<Runtime, 'audit'>) {
  return (ctx: AdminRouteContext, outcome: string, detail: Record<string, unknown>, tool = 'admin_api') =>
    rt.audit.append({
      phase: 'event',
      tool,
      tokenId: ctx.principal.tokenId,
      tokenName: ctx.principal.tokenName,
      approver: `api:${ctx.principal.tokenName}`,
      outcome,
      detail,
    });
}

/**
 * The admin JSON API for what the console does (issue 17 item 11), for scripts: tokens (list,
 * create agent tokens, rotate, revoke), the audit log (search with the console's filters, verify),
 * targets and the vault (listings, never a value), and enrollment codes. Admin token only (the
 * server checks it: `auth: 'admin'`); a console cookie never reaches these routes.
 *
 * INVARIANTS: no admin token is made, rotated or revoked here (that stays a server act); every
 * change is an audit record with tool `admin_api` and approver `api:<admin token name>`; values
 * from the vault are never returned (listings carry names, fields and bindings).
 */
export function adminApiRoutes(rt: Runtime): AdminRoute[] {
  const audit = adminAudit(rt);
  const agentToken = async (name: string): Promise<TokenInfo> => {
    const t = await rt.tokens.get(name);
    if (t.admin)
      throw new GatehouseError('not_granted', 'admin tokens are changed on the server', {
        hint: 'gatehouse token rotate|revoke NAME',
      });
    return t;
  };

  return [
    {
      method: 'GET',
      path: '/admin/tokens',
      maxBodyBytes: 0,
      handle: async () => {
        const all = await rt.tokens.list();
        const seen = await rt.clients.lastSeen(all.map((t) => t.id));
        return { tokens: all.map((t) => tokenView(t, seen.get(t.id))) };
      },
    },
    {
      method: 'POST',
      path: '/admin/tokens',
      maxBodyBytes: MAX_BODY,
      handle: async (ctx) => {
        const spec = specFromBody(ctx.body);
        const made = await rt.tokens.create({
          name: spec.name,
          grants: spec.grants,
          ...(spec.approvalMode ? { approvalMode: spec.approvalMode } : {}),
          ...(spec.expiresInMs ? { expiresInMs: spec.expiresInMs } : {}),
        });
        await audit(ctx, 'token_created', { token: made.info.name, tokenCreated: made.info.id, grants: spec.grants });
        return { token: made.token, info: tokenView(made.info) };
      },
    },
    {
      method: 'POST',
      path: '/admin/tokens/:name/:action',
      maxBodyBytes: MAX_BODY,
      handle: async (ctx) => {
        const action = ctx.params.action;
        if (action !== 'rotate' && action !== 'revoke' && action !== 'ungrant')
          throw new GatehouseError('not_found', 'token actions are rotate, revoke and ungrant');
        const t = await agentToken(ctx.params.name ?? '');
        if (action === 'ungrant') {
          const grant = str(ctx.body.grant, 'grant');
          const removed = await rt.tokens.removeAddedGrants(t.id, grant);
          await audit(ctx, 'grant_removed', {
            token: t.name,
            tokenChanged: t.id,
            grant: grant ?? '(all added)',
            removed,
          });
          return { removed };
        }
        if (action === 'revoke') {
          const info = await rt.tokens.revoke(t.id);
          await audit(ctx, 'token_revoked', { token: t.name, tokenRevoked: t.id });
          return { info: tokenView(info) };
        }
        const made = await rt.tokens.rotate(t.id);
        await audit(ctx, 'token_rotated', { token: t.name, tokenRotated: t.id });
        return { token: made.token, info: tokenView(made.info) };
      },
    },
    {
      method: 'GET',
      path: '/admin/audit',
      maxBodyBytes: 0,
      handle: async (ctx) => {
        const q = auditQueryOf(auditFiltersOf(ctx.query), Date.now());
        const limit = Number(ctx.query.get('limit') ?? 100);
        if (!Number.isInteger(limit) || limit < 1 || limit > PAGE_MAX)
          throw new GatehouseError('invalid_input', `limit is 1 to ${PAGE_MAX}`);
        const before = ctx.query.get('before');
        if (before !== null && !/^\d{1,15}$/.test(before))
          throw new GatehouseError('invalid_input', 'before is a record seq');
        const records: AuditRecord[] = await searchAudit(rt.store, {
          ...q,
          limit,
          ...(before !== null ? { beforeSeq: Number(before) } : {}),
        });
        return {
          records,
          ...(records.length === limit ? { nextBefore: records[0]!.seq } : {}),
        };
      },
    },
    {
      method: 'POST',
      path: '/admin/audit/verify',
      maxBodyBytes: 0,
      handle: async (ctx) => {
        const result = await verifyAuditChain(rt.store, await rt.keyring.internalKey('audit-chain'));
        await audit(ctx, result.ok ? 'audit_verified' : 'audit_broken', {
          records: result.records,
          breaks: result.breakCount,
        });
        return result;
      },
    },
    {
      method: 'GET',
      path: '/admin/targets',
      maxBodyBytes: 0,
      handle: async () => ({ targets: await rt.targets.list() }),
    },
    {
      method: 'GET',
      path: '/admin/vault',
      maxBodyBytes: 0,
      handle: async () => ({ vaults: await rt.vault.listVaults(), items: await rt.vault.listItems() }),
    },
    {
      method: 'POST',
      path: '/admin/enrollments',
      maxBodyBytes: MAX_BODY,
      handle: async (ctx) => {
        const spec = specFromBody(ctx.body, str(ctx.body.client, 'client') ?? 'claude-code');
        if (!isClientKind(spec.client ?? ''))
          throw new GatehouseError('invalid_input', `client is one of ${CLIENTS.join(', ')}`);
        const codes = new EnrollmentCodes(rt.store, await rt.keyring.internalKey('store-integrity'), rt.tokens);
        const made = await codes.create(spec, `api:${ctx.principal.tokenName}`);
        await audit(ctx, 'enrollment_code', { token: spec.name, grants: spec.grants });
        return {
          code: made.code,
          expiresAt: new Date(made.expiresAt).toISOString(),
          command: `gatehouse connect ${spec.client} --enroll ${made.code} --write`,
        };
      },
    },
  ];
}
