import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { GatehouseError } from '../../core/index.js';
import { fillText } from '../../tools/common.js';
import { decodeRequestForGuard, MULTIPART, readTextualBody, readWhole, UPSTREAM_LIMITS } from '../../upstream/index.js';
import { dropForgedHeaders, httpTarget } from '../../tools/http-target.js';
import type { HttpOperation } from '../../gate/index.js';
import type { Route } from '../http.js';
import type { Runtime } from '../runtime.js';

/** The header an HTTP agent retries with after a person approved out of band. */
export const APPROVAL_ID_HEADER = 'x-gatehouse-approval-id';

function headerMap(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : v;
  return out;
}

/**
 * `ANY /gateway/:target/*`: the same guard, approval, audit, injection and scrubbing as
 * api_request, for agents that speak plain HTTP. Bodies stream both ways (SSE and large
 * downloads pass through as they arrive); the response is scrubbed as it streams.
 * Authorization: a token granted `tool:api_request` and the target.
 *
 * INVARIANT: the guard judges what is sent. It sees the query string (a `_method=DELETE` or a
 * GraphQL `query=mutation…` lives there) and every textual body, which is read whole before the
 * gate (as it would be anyway, to fill vault handles) and sent byte for byte as judged. A binary
 * body streams unread, and the guard is told so: a write to a GraphQL path then needs approval.
 */
export function gatewayRoute(rt: Runtime): Route {
  return {
    method: '*',
    prefix: '/gateway/',
    handler: async (req, res, ctx) => {
      // The raw request target: the URL parser would resolve %2e%2e and .. before the upstream's
      // path check could refuse them.
      const raw = (req.url ?? '').slice('/gateway/'.length);
      const q = raw.indexOf('?');
      const beforeQuery = q < 0 ? raw : raw.slice(0, q);
      const rawQuery = q < 0 ? '' : raw.slice(q + 1);
      const slash = beforeQuery.indexOf('/');
      const target = decodeURIComponent(slash < 0 ? beforeQuery : beforeQuery.slice(0, slash));
      const path = slash < 0 ? '/' : beforeQuery.slice(slash);
      if (!target) throw new GatehouseError('invalid_input', 'no target in the URL', { hint: 'use /gateway/TARGET/PATH' });
      const method = req.method ?? 'GET';
      const approvalId = req.headers[APPROVAL_ID_HEADER];
      const incoming = headerMap(req);
      const { headers, forged } = await dropForgedHeaders(rt, ctx.principal, 'api_request', incoming);
      const pathAndQuery = rawQuery === '' ? path : `${path}?${rawQuery}`;
      // The body is read by the gate's prepare step: only once the token is granted and within its
      // rate, and a failed read (too large, the client gone) is audited like any refusal.
      const guard: HttpOperation = { kind: 'http', method, path: pathAndQuery, headers };
      let body: Buffer | undefined;
      // The approval digest covers the bytes sent, whatever form the guard judged them in.
      const bindBytes = (bytes: Buffer) => {
        guard.bodyBytes = bytes.length;
        guard.bodySha256 = createHash('sha256').update(bytes).digest('hex');
      };

      await rt.gate.run(
        ctx.principal,
        { tool: 'api_request', route: '/gateway', target, guard, summary: `${method} /gateway/${target}${pathAndQuery}`, client: ctx.client },
        async () => {
          const t = await httpTarget(rt, target);
          const dest = { target, host: t.host };
          // Header and query values are known now: fill their handles up front, so the
          // upstream's synchronous fill is a lookup. Body handles are filled when the body arrives.
          const filled = new Map<string, string>();
          const values = rawQuery === '' ? Object.values(headers) : [...Object.values(headers), ...new URLSearchParams(rawQuery).values()];
          for (const v of values) if (v.includes('{{vault:') && !filled.has(v)) filled.set(v, await fillText(rt, ctx.principal, v, dest));
          return (await rt.upstream()).proxy(t.spec, t.credential, req, res, {
            path,
            query: rawQuery,
            method,
            signal: ctx.signal,
            fill: filled.size === 0 ? undefined : (v) => filled.get(v) ?? v,
            // A multipart body (files) is sent as read: vault handles are not filled in it, so
            // binary parts are never re-encoded.
            fillBody: MULTIPART.test(req.headers['content-type'] ?? '') ? (text) => text : (text) => fillText(rt, ctx.principal, text, dest),
            scrubHeader: (v) => rt.redactor.scrub(v),
            // The body is scrubbed chunk by chunk as it streams (secrets split across chunks too).
            responseScrubber: () => rt.redactor.createScrubber(),
            dropHeaders: [APPROVAL_ID_HEADER, ...forged],
            body,
          });
        },
        {
          approvalId: typeof approvalId === 'string' ? approvalId : undefined,
          describe: (r) => ({ status: (r as { status: number }).status }),
          prepare: async () => {
            // The bytes stay in the token's reading budget until the response is done.
            const read = await readTextualBody(req, UPSTREAM_LIMITS.maxRequestBytes, { owner: ctx.principal.tokenId, holdUntil: res });
            body = read.body;
            guard.bodyUnread = read.unread;
            // A compressed text body is judged as the server will read it once decoded (bounded:
            // a bomb or corrupt data stays unread, which fails closed); the bytes go out as sent.
            const encoding = req.headers['content-encoding'];
            const decoded = body && encoding ? await decodeRequestForGuard(body, encoding, UPSTREAM_LIMITS.maxDecodedForGuard) : undefined;
            if (decoded !== undefined && body) {
              guard.bodyDecodedFrom = encoding;
              bindBytes(body);
            }
            guard.body = decoded ?? body?.toString('utf8');
          },
          // INVARIANT: an approval covers the exact bytes sent. A body the guard was not shown
          // (binary, compressed) is read whole before a person is asked, its size and SHA-256 go
          // into the action digest, and those bytes are what is sent; a retry with the same
          // approval id and other bytes has another digest and is refused.
          bindForApproval: async () => {
            if (!guard.bodyUnread || body) return;
            body = await readWhole(req, UPSTREAM_LIMITS.maxRequestBytes, {
              tooLarge: (limit) =>
                new GatehouseError('request_too_large', `this request needs a person's approval, and its body is read whole first so the approval covers it: it is over the ${limit}-byte limit`, {
                  hint: 'send a smaller body, or ask an operator to make the call',
                }),
              owner: ctx.principal.tokenId,
              holdUntil: res,
            });
            bindBytes(body);
          },
        },
      );
    },
  };
}
