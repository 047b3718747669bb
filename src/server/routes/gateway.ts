import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatehouseError, isMultipartForm, mediaTypeOf } from '../../core/index.js';
import type { HttpOperation, Principal } from '../../gate/index.js';
import {
  afterSend,
  beforeSend,
  fillsBodyHandles,
  CallScrub,
  dropForgedHeaders,
  fillText,
  httpTarget,
  targetCallAudit,
  type TrafficCounts,
} from '../../tools/index.js';
import type { UpstreamProxyResult } from '../../upstream/index.js';

// The light face: this route is loaded with the server, before any request needs undici.
import {
  connectionHeaderNames,
  checkPath,
  checkQuery,
  decodeRequestForGuard,
  parseContentCodings,
  readTextualBody,
  readWhole,
  UPSTREAM_LIMITS,
} from '../../upstream/light.js';
import { scrubbedErrors } from '../http.js';
import { defineRoute, routeParam, type Route } from '../route.js';
import type { Runtime } from '../runtime.js';

/** The header an HTTP agent retries with after a person approved out of band. */
export const APPROVAL_ID_HEADER = 'x-gatehouse-approval-id';

/** A header that names one thing (an approval id): sent more than once it is refused, never half read. */
function oneHeader(v: string | string[] | undefined, name: string): string | undefined {
  if (!Array.isArray(v)) return v;
  throw new GatehouseError('invalid_input', `the ${name} header was sent ${v.length} times`, { hint: 'send it once' });
}

/**
 * The request headers that are part of the action. Declared irrelevant, with the reason: `host`
 * and the hop-by-hop headers describe the agent's connection to this gateway process (which of
 * several behind a load balancer it reached, keep-alive), never reach the upstream, and so are not
 * judged or bound into an approval: an approval asked for through one process holds on another.
 */
function headerMap(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  const skip = connectionHeaderNames(req.headers);
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined || skip.has(k)) continue;
    out[k] = Array.isArray(v) ? v.join(', ') : v;
  }
  return out;
}

/** What the guard is shown of a body read whole, and whether the approval must bind its bytes. */
interface GuardBody {
  /** Text whose UTF-8 bytes are the body as a server reads it (after its content codings). */
  text?: string;
  /** Set when `text` is the decoded form: the Content-Encoding it was decoded from. */
  decodedFrom?: string;
  /** The guard cannot be shown the body as text (undecodable coding, not UTF-8): it judges it unread. */
  unread: boolean;
  /** The bytes sent differ from the text judged (or none was judged): the approval binds the bytes. */
  bindBytes: boolean;
}

/**
 * The body as the guard must judge it. INVARIANT: the guard's view is the server's, or the body
 * is judged unread (approve for any textual type): every content coding is undone with the same
 * parser the response path uses (a bomb, corrupt data or an unknown coding stays unread), and
 * only UTF-8 text is passed as text; the guard reads that text again with any declared charset.
 * Bytes that are not UTF-8 (UTF-16 with a byte-order mark, Latin-1) cannot be carried as text
 * without loss, so they are judged unread and the approval binds them.
 */
async function guardBody(body: Buffer, contentEncoding: string | undefined, contentType: string): Promise<GuardBody> {
  let bytes: Buffer | undefined = body;
  let decodedFrom: string | undefined;
  if (contentEncoding !== undefined && contentEncoding.trim() !== '') {
    const list = parseContentCodings(contentEncoding);
    bytes = !list.ok
      ? undefined
      : list.codings.length === 0
        ? body
        : await decodeRequestForGuard(body, contentEncoding, UPSTREAM_LIMITS.maxDecodedForGuard);
    decodedFrom = contentEncoding;
  }
  const encoded = bytes !== body;
  if (bytes === undefined) return { unread: true, bindBytes: true };
  // A multipart body's file parts are binary by nature: its fields are read from a lossy decoding
  // (file parts are skipped, a part in another charset makes the view opaque).
  if (!isUtf8(bytes) && !isMultipartForm(mediaTypeOf(contentType))) return { unread: true, bindBytes: true };
  return { text: bytes.toString('utf8'), decodedFrom, unread: false, bindBytes: encoded };
}

/**
 * `ANY /gateway/:target/*`: the same guard, approval, audit, injection and scrubbing as
 * api_request, for agents that speak plain HTTP. Bodies stream both ways (SSE and large
 * downloads pass through as they arrive); the response is scrubbed as it streams, header names
 * and values included. Authorization: a token granted `tool:api_request` and the target.
 *
 * INVARIANT: the guard judges what is sent. It sees the query string (a `_method=DELETE` or a
 * GraphQL `query=mutation…` lives there) and every textual (or untyped) body, which is read
 * whole before the gate (as it would be anyway, to fill vault handles) and sent byte for byte as
 * judged. A binary body streams unread, and the guard is told so: a write to a GraphQL path then
 * needs approval. A path or query that a direct call could not use is refused before the guard
 * (a person is never asked to approve a request that cannot be sent as shown).
 *
 * Redirects are not followed here: a 3xx goes back to the client, whose next request comes
 * through the gate again.
 */
export function gatewayRoute(rt: Runtime): Route<'token'> {
  return defineRoute({
    method: '*',
    path: '/gateway/:target/*',
    auth: 'token',
    handler: async (req, res, ctx) => {
      // The rest of the path and the query as sent: the URL parser would resolve %2e%2e and ..
      // before the upstream's path check could refuse them.
      const target = routeParam(ctx, 'target');
      const path = routeParam(ctx, '*');
      const rawQuery = ctx.rawQuery;
      const method = req.method ?? 'GET';
      const approvalId = oneHeader(req.headers[APPROVAL_ID_HEADER], APPROVAL_ID_HEADER);
      const { headers, forged } = await dropForgedHeaders(rt.gate, ctx.principal, 'api_request', headerMap(req));
      const pathAndQuery = rawQuery === '' ? path : `${path}?${rawQuery}`;
      // This call's scrubbing: the response stream and any error pass through it.
      const output = new CallScrub(rt.redactor, { pathAndQuery, headers });
      const call = new GatewayCall(rt, req, res, ctx.principal, output, {
        kind: 'http',
        method,
        path: pathAndQuery,
        headers,
      });
      const action = {
        tool: 'api_request',
        route: '/gateway',
        target,
        guard: call.guard,
        summary: `${method} /gateway/${target}${pathAndQuery}`,
        client: ctx.client,
      };
      await scrubbedErrors(output, () =>
        rt.gate.run(
          ctx.principal,
          action,
          () =>
            call.forward(target, {
              path,
              rawQuery,
              method,
              signal: ctx.signal,
              dropHeaders: [APPROVAL_ID_HEADER, ...forged],
            }),
          {
            approvalId,
            auditFields: targetCallAudit,
            // INVARIANT: a path or query a direct call could not use is refused here, typed and
            // audited, before the guard (its own decoding would only answer "approve").
            completeGuardInput: async () => {
              checkPath(path);
              checkQuery(rawQuery);
              await call.readForGuard();
            },
            bindForApproval: () => call.bindForApproval(),
          },
        ),
      );
    },
  });
}

/**
 * One /gateway request through the gate: the body read for the guard (only once the caller is
 * granted and within its rate; a failed read is audited like any refusal), the bytes an approval
 * binds, and the proxied exchange.
 */
class GatewayCall {
  readonly guard: HttpOperation;
  readonly #rt: Runtime;
  readonly #req: IncomingMessage;
  readonly #res: ServerResponse;
  readonly #principal: Principal;
  readonly #output: CallScrub;
  #body: Buffer | undefined;

  constructor(
    rt: Runtime,
    req: IncomingMessage,
    res: ServerResponse,
    principal: Principal,
    output: CallScrub,
    guard: HttpOperation,
  ) {
    this.#rt = rt;
    this.#req = req;
    this.#res = res;
    this.#principal = principal;
    this.#output = output;
    this.guard = guard;
  }

  /** Reads a textual body (the bytes stay in the token's reading budget until the response is done) and shows it to the guard. */
  async readForGuard(): Promise<void> {
    const read = await readTextualBody(this.#req, UPSTREAM_LIMITS.maxRequestBytes, {
      owner: this.#principal.tokenId,
      holdUntil: this.#res,
    });
    this.#body = read.body;
    this.guard.bodyUnread = read.unread;
    if (!this.#body) return;
    this.#output.agentSent(this.#body.toString('utf8'));
    const seen = await guardBody(
      this.#body,
      this.#req.headers['content-encoding'],
      this.#req.headers['content-type'] ?? '',
    );
    if (seen.unread) this.guard.bodyUnread = true;
    if (seen.decodedFrom !== undefined && seen.text !== undefined) this.guard.bodyDecodedFrom = seen.decodedFrom;
    if (seen.bindBytes) this.#bindBytes(this.#body);
    this.guard.body = seen.text;
  }

  /**
   * INVARIANT: an approval covers the exact bytes sent. A body the guard was not shown (binary,
   * compressed) is read whole before a person is asked, its size and SHA-256 go into the action
   * digest, and those bytes are what is sent; a retry with the same approval id and other bytes
   * has another digest and is refused.
   */
  async bindForApproval(): Promise<void> {
    if (!this.guard.bodyUnread || this.#body) return;
    this.#body = await readWhole(this.#req, UPSTREAM_LIMITS.maxRequestBytes, {
      tooLarge: (limit) =>
        new GatehouseError(
          'request_too_large',
          `this request needs a person's approval, and its body is read whole first so the approval covers it: it is over the ${limit}-byte limit`,
          {
            hint: 'send a smaller body, or ask an operator to make the call',
          },
        ),
      owner: this.#principal.tokenId,
      holdUntil: this.#res,
    });
    this.#bindBytes(this.#body);
  }

  /** The approval digest covers the bytes sent, whatever form the guard judged them in. */
  #bindBytes(bytes: Buffer): void {
    this.guard.bodyBytes = bytes.length;
    this.guard.bodySha256 = createHash('sha256').update(bytes).digest('hex');
  }

  /** The exchange, once the gate allowed it: credential and handles filled, the response scrubbed as it streams. */
  async forward(
    target: string,
    r: { path: string; rawQuery: string; method: string; signal: AbortSignal; dropHeaders: string[] },
  ): Promise<UpstreamProxyResult & TrafficCounts> {
    const t = await httpTarget(this.#rt.ports.targets, target);
    // DLP (a --dlp target) and the budget (a model preset), shared with api_request: before any
    // handle is filled into the body and before anything is sent (see beforeSend's invariants).
    const traffic = await beforeSend(this.#rt.ports.traffic, this.#principal, target, t.config, {
      body: this.#body,
      unread: this.guard.bodyUnread === true,
      contentEncoding: () => this.#req.headers['content-encoding'],
    });
    if (traffic?.body !== undefined) this.#body = Buffer.from(traffic.body, 'utf8');
    if (t.credential !== undefined) this.#output.filled([t.credential]);
    const dest = { target, host: t.host };
    const fc = { ports: this.#rt.ports, principal: this.#principal, output: this.#output };
    // Header and query values are known now: fill their handles up front, so the upstream's
    // synchronous fill is a lookup. Body handles are filled when the body arrives.
    const filled = new Map<string, string>();
    const headers = this.guard.headers ?? {};
    const values =
      r.rawQuery === ''
        ? Object.values(headers)
        : [...Object.values(headers), ...new URLSearchParams(r.rawQuery).values()];
    for (const v of values) if (v.includes('{{vault:') && !filled.has(v)) filled.set(v, await fillText(fc, v, dest));
    const result = await (
      await this.#rt.upstream()
    ).proxy(t.spec, t.credential, this.#req, this.#res, {
      path: r.path,
      query: r.rawQuery,
      method: r.method,
      signal: r.signal,
      fill: filled.size === 0 ? undefined : (v) => filled.get(v) ?? v,
      // A multipart body (files) is sent as read: vault handles are not filled in it, so binary
      // parts are never re-encoded.
      fillBody:
        isMultipartForm(mediaTypeOf(this.#req.headers['content-type'])) || !fillsBodyHandles(t.config)
          ? (text) => text
          : (text) => fillText(fc, text, dest),
      scrubHeader: (v) => this.#output.scrub(v),
      // The body is scrubbed chunk by chunk as it streams (secrets split across chunks too); a
      // model target's usage tap sees it as it passes, after scrubbing (never held).
      responseScrubber: () => this.#output.createScrubber(),
      observeBody: traffic?.meter?.observe,
      dropHeaders: r.dropHeaders,
      body: this.#body,
    });
    return { ...result, ...(await afterSend(traffic)) };
  }
}
