import type { ServerResponse } from 'node:http';
import { GatehouseError, log } from '../../core/index.js';
import { ackWebhooks, pollWebhooks, webhookAckInput, webhookPollInput } from '../../tools/index.js';
import { readWhole } from '../../upstream/light.js';
import type { IngestAnswer } from '../../webhooks/index.js';
import { readJsonBody, scrubbedErrors, sendJson } from '../http.js';
import { defineRoute, routeParam, type AnyRoute, type RouteContext } from '../route.js';
import type { Runtime } from '../runtime.js';
import { routeCall } from './route-call.js';

/**
 * The webhook routes (issue 16):
 * - `POST /webhooks/in/:key`: where providers send events. No Gatehouse token: the sender signs,
 *   and ingest verifies the raw bytes before anything else (src/webhooks/ingest.ts).
 * - `GET /webhooks/poll` and `POST /webhooks/ack`: webhook_poll and webhook_ack for plain HTTP
 *   agents, with a Bearer token, through the same functions and gate as the tools.
 *
 * INVARIANTS (test/server/webhook-routes.test.ts): an unknown key is a 404 before a byte of the
 * body is read; a body over the endpoint's cap is refused (413) from its Content-Length, or as soon
 * as the bytes read pass it, never buffered whole; the sender's address is the socket's (a
 * forwarded-for header is the sender's to write, so it never decides an allowlist).
 */

function answer(res: ServerResponse, a: IngestAnswer): void {
  const headers: Record<string, string | number> = {
    'content-type': a.contentType,
    'content-length': Buffer.byteLength(a.body),
    'cache-control': 'no-store',
  };
  if (a.retryAfterS !== undefined) headers['retry-after'] = a.retryAfterS;
  res.writeHead(a.status, headers);
  res.end(a.body);
}

/** Answers without reading the body, and closes the connection so the unread body is not parsed as a next request. */
function refuseUnread(res: ServerResponse, status: number, body: Record<string, string>): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    connection: 'close',
  });
  res.end(text);
}

export function webhookIngestRoute(rt: Runtime) {
  return defineRoute({
    method: 'POST',
    path: '/webhooks/in/:key',
    auth: 'sender',
    handler: async (req, res, ctx: RouteContext<'sender'>) => {
      const ep = await rt.webhookIngest.endpoint(routeParam(ctx, 'key'));
      if (!ep) return refuseUnread(res, 404, { error: 'not_found', message: 'no webhook endpoint at this URL' });
      const remote = req.socket.remoteAddress ?? 'unknown';
      const declared = Number(req.headers['content-length'] ?? NaN);
      if (Number.isFinite(declared) && declared > ep.config.maxBodyBytes) {
        const a = await rt.webhookIngest.refuseTooLarge(ep, remote, declared);
        return refuseUnread(res, a.status, JSON.parse(a.body) as Record<string, string>);
      }
      let body: Buffer;
      try {
        // The endpoint's name owns its share of the bytes being read at once.
        body = await readWhole(req, ep.config.maxBodyBytes, { owner: `webhook:${ep.name}`, holdUntil: res });
      } catch (e) {
        if (
          (e as { code?: string }).code === 'input_too_large' ||
          (e as { code?: string }).code === 'request_too_large'
        ) {
          const a = await rt.webhookIngest.refuseTooLarge(ep, remote, ep.config.maxBodyBytes + 1);
          return refuseUnread(res, a.status, JSON.parse(a.body) as Record<string, string>);
        }
        throw e;
      }
      const a = await rt.webhookIngest.receive(ep, {
        headers: req.headers,
        body,
        url: `${ctx.url.protocol}//${req.headers.host ?? ctx.url.host}${req.url ?? ''}`,
        remote,
      });
      if (a.outcome === 'rejected') log.info('webhook refused', { endpoint: ep.name, reason: a.reason, remote });
      answer(res, a);
    },
  });
}

function invalid(issues: { path: PropertyKey[]; message: string }[]): GatehouseError {
  return new GatehouseError(
    'invalid_input',
    `invalid request: ${issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    {
      hint: 'see the README: GET /webhooks/poll?endpoint=NAME&limit=10&lease_s=60&wait_s=20, POST /webhooks/ack {"items":[{"id","lease_token","outcome"}]}',
    },
  );
}

export function webhookPollRoute(rt: Runtime) {
  return defineRoute({
    method: 'GET',
    path: '/webhooks/poll',
    auth: 'token',
    handler: async (_req, res, ctx) => {
      const q = new URLSearchParams(ctx.rawQuery);
      const num = (k: string) => (q.has(k) ? Number(q.get(k)) : undefined);
      const raw = {
        ...(q.has('endpoint') ? { endpoint: q.get('endpoint') } : {}),
        ...(q.has('limit') ? { limit: num('limit') } : {}),
        ...(q.has('lease_s') ? { lease_s: num('lease_s') } : {}),
        ...(q.has('wait_s') ? { wait_s: num('wait_s') } : {}),
        ...(q.has('types') ? { types: q.get('types')!.split(',').filter(Boolean) } : {}),
      };
      const parsed = webhookPollInput.safeParse(raw);
      if (!parsed.success) throw invalid(parsed.error.issues);
      const { output, call } = routeCall(rt, ctx, parsed.data);
      const result = await scrubbedErrors(output, () => pollWebhooks(call, parsed.data));
      sendJson(res, 200, output.scrubValue(result));
    },
  });
}

export function webhookAckRoute(rt: Runtime) {
  return defineRoute({
    method: 'POST',
    path: '/webhooks/ack',
    auth: 'token',
    handler: async (req, res, ctx) => {
      const body = await readJsonBody(req, { owner: ctx.principal.tokenId, holdUntil: res });
      const parsed = webhookAckInput.safeParse(body);
      if (!parsed.success) throw invalid(parsed.error.issues);
      const { output, call } = routeCall(rt, ctx, parsed.data);
      const result = await scrubbedErrors(output, () => ackWebhooks(call, parsed.data));
      sendJson(res, 200, output.scrubValue(result));
    },
  });
}

export function webhookRoutes(rt: Runtime): AnyRoute[] {
  return [webhookIngestRoute(rt), webhookPollRoute(rt), webhookAckRoute(rt)];
}
