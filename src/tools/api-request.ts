import { z } from 'zod';
// The one module, not the upstream index: that loads undici, which tools must not at cold start.
import { pathWithQuery } from '../upstream/path-safety.js';
import { approvalIdField, fillText, fillValues } from './common.js';
import { dropForgedHeaders, httpTarget } from './http-target.js';
import { defineTool } from './types.js';

const queryValue = z.union([z.string(), z.number(), z.boolean(), z.array(z.union([z.string(), z.number(), z.boolean()]))]);

export const apiRequestTool = defineTool({
  name: 'api_request',
  title: 'Call an HTTP API target',
  description:
    'Sends an HTTP request to an API target (see discover) and returns the response. Gatehouse adds the target\'s credential itself: do not send Authorization or API-key headers. ' +
    'The path is relative to the target\'s base URL and cannot leave it. Headers, query and body may hold vault handles ({{vault:VAULT/ITEM.FIELD}}) bound to the target. ' +
    'Risky requests (DELETE, admin writes, GraphQL mutations) may need a person\'s approval. JSON bodies come back as JSON, text as text, binary as base64, cut at 1 MiB with truncated: true; secrets are scrubbed.',
  inputSchema: z
    .object({
      target: z.string().min(1).max(100).describe('An HTTP target name from discover'),
      method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']),
      path: z.string().min(1).max(8192).describe('Path under the target base URL, e.g. /v1/models'),
      query: z.record(z.string(), queryValue).optional(),
      headers: z.record(z.string(), z.string().max(65_536)).optional(),
      body: z.union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())]).optional().describe('A string, or JSON (sent as application/json)'),
      timeout_ms: z.number().int().min(100).max(300_000).optional(),
      approval_id: approvalIdField,
    })
    .strict(),
  outputSchema: z.object({
    status: z.number(),
    headers: z.record(z.string(), z.string()),
    body: z.unknown(),
    body_encoding: z.enum(['json', 'text', 'base64']),
    truncated: z.boolean(),
    duration_ms: z.number(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  async handler(input, ctx) {
    const rt = ctx.runtime;
    let { headers } = await dropForgedHeaders(rt, ctx.principal, 'api_request', input.headers ?? {});
    let body: string | undefined;
    if (typeof input.body === 'string') body = input.body;
    else if (input.body !== undefined) {
      body = JSON.stringify(input.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers = { ...headers, 'content-type': 'application/json' };
    }
    // The guard judges the query serialised exactly as the executor appends it.
    const sent = pathWithQuery(input.path, input.query);
    return rt.gate.run(
      ctx.principal,
      {
        tool: 'api_request',
        target: input.target,
        guard: { kind: 'http', method: input.method, path: sent, headers, body },
        // What a person approving sees: the query too, where an override or mutation may hide.
        summary: `${input.method} ${input.target}${sent.startsWith('/') ? '' : '/'}${sent}`,
        client: ctx.client,
      },
      async () => {
        const t = await httpTarget(rt, input.target);
        const dest = { target: input.target, host: t.host };
        const h = await fillValues(rt, ctx.principal, headers, dest);
        const fill = (v: string | number | boolean) => fillText(rt, ctx.principal, String(v), dest);
        const query = input.query
          ? Object.fromEntries(await Promise.all(Object.entries(input.query).map(async ([k, v]) => [k, Array.isArray(v) ? await Promise.all(v.map(fill)) : await fill(v)] as const)))
          : undefined;
        const pool = await rt.upstream();
        const r = await pool.request(t.spec, t.credential, {
          method: input.method,
          path: input.path,
          query,
          headers: { ...h.values, ...h.secrets },
          body: body === undefined ? undefined : await fillText(rt, ctx.principal, body, dest),
          timeoutMs: input.timeout_ms,
          followRedirects: t.config.followRedirects,
          signal: ctx.signal,
          scrubHeader: (v) => rt.redactor.scrub(v),
        });
        // Scrub the body as bytes (binary-safe; catches every registered secret and known shape).
        const scrubber = rt.redactor.createScrubber();
        const clean = Buffer.concat([scrubber.push(r.body), scrubber.end()]);
        const { formatBody } = await import('../upstream/index.js');
        const formatted = formatBody(r.headers['content-type'], clean);
        return { status: r.status, headers: r.headers, body: formatted.value, body_encoding: formatted.encoding, truncated: r.truncated, duration_ms: Math.round(r.durationMs) };
      },
      { channel: ctx.channel, approvalId: input.approval_id, describe: (r) => ({ status: (r as { status: number }).status }) },
    );
  },
});
