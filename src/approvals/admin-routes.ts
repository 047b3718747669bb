import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError, httpStatusOf, toGatehouseError } from '../core/index.js';
import { describeForHuman } from './describe.js';
import type { ApprovalService } from './service.js';
import type { Approval, ApprovalStatus } from './types.js';

/**
 * Structurally the `Route` of src/server/http.ts (the server depends on this module, never the
 * reverse, so the type is declared here). The server checks the bearer token and `admin` before
 * any handler runs.
 */
export interface AdminRouteContext {
  principal: { tokenId: string; tokenName: string; admin: boolean };
  url: URL;
  client: string;
  signal: AbortSignal;
}
export interface AdminRoute {
  method: string;
  prefix: string;
  admin: true;
  handler(req: IncomingMessage, res: ServerResponse, ctx: AdminRouteContext): Promise<void>;
}

const MAX_BODY = 16 * 1024;
const DECIDE = /^\/admin\/approvals\/(ap_[a-z2-7]{26})\/(approve|deny)$/;
const STATUSES: readonly (ApprovalStatus | 'all')[] = ['pending', 'approved', 'denied', 'expired', 'used', 'tampered', 'all'];

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store' });
  res.end(text);
}

function sendErr(res: ServerResponse, e: unknown): void {
  const err = toGatehouseError(e);
  if (res.headersSent) return void res.destroy();
  send(res, httpStatusOf(err.code), { error: err.toJSON() });
}

/** Defence in depth: the server already refuses non-admin tokens on these routes. */
function requireAdmin(ctx: AdminRouteContext): void {
  if (ctx.principal.admin !== true) throw new GatehouseError('not_granted', 'this route needs an admin token');
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new GatehouseError('input_too_large', `request body over ${MAX_BODY} bytes`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (text === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new GatehouseError('invalid_input', 'the request body is not JSON', { hint: 'send {"note": "..."} or nothing' });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new GatehouseError('invalid_input', 'the request body must be a JSON object');
  return v as Record<string, unknown>;
}

function view(a: Approval): Approval & { description: string } {
  return { ...a, description: describeForHuman(a) };
}

/**
 * The admin HTTP API: `GET /admin/approvals[?status=pending|approved|denied|expired|used|tampered|all]`
 * (default pending), `POST /admin/approvals/:id/approve` and `/deny` with `{ "note"?: string }`.
 * Decisions are recorded as `api:<admin token name>`. INVARIANT: a token never decides an approval
 * its own action waits for, even an admin token (an agent holding one cannot approve itself).
 */
export function adminRoutes(service: ApprovalService): AdminRoute[] {
  return [
    {
      method: 'GET',
      prefix: '/admin/approvals',
      admin: true,
      async handler(_req, res, ctx) {
        try {
          requireAdmin(ctx);
          if (ctx.url.pathname !== '/admin/approvals' && ctx.url.pathname !== '/admin/approvals/') throw new GatehouseError('not_found', `no route GET ${ctx.url.pathname}`);
          const status = (ctx.url.searchParams.get('status') ?? 'pending') as ApprovalStatus | 'all';
          if (!STATUSES.includes(status)) throw new GatehouseError('invalid_input', `unknown status ${JSON.stringify(status)}`, { hint: STATUSES.join(', ') });
          const list = await service.list({ status });
          send(res, 200, { approvals: list.map(view) });
        } catch (e) {
          sendErr(res, e);
        }
      },
    },
    {
      method: 'POST',
      prefix: '/admin/approvals/',
      admin: true,
      async handler(req, res, ctx) {
        try {
          requireAdmin(ctx);
          const m = DECIDE.exec(ctx.url.pathname);
          if (!m) {
            // Unknown ids and malformed paths look the same.
            if (/^\/admin\/approvals\/[^/]+\/(approve|deny)$/.test(ctx.url.pathname)) throw new GatehouseError('not_found', 'no such approval', { hint: 'GET /admin/approvals lists what is waiting' });
            throw new GatehouseError('not_found', `no route POST ${ctx.url.pathname}`);
          }
          const body = await readJson(req);
          if (body.note !== undefined && typeof body.note !== 'string') throw new GatehouseError('invalid_input', 'note must be a string');
          const a = await service.decide(m[1], m[2] === 'approve' ? 'approved' : 'denied', {
            by: `api:${ctx.principal.tokenName}`,
            channel: 'api',
            note: body.note as string | undefined,
            notTokenId: ctx.principal.tokenId,
          });
          send(res, 200, { approval: view(a) });
        } catch (e) {
          sendErr(res, e);
        }
      },
    },
  ];
}
