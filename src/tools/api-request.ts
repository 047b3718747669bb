import { z } from 'zod';
import { GatehouseError } from '../core/index.js';
import { agentCounts, type DlpCounts } from '../dlp/index.js';
import type { Action, Principal } from '../gate/index.js';
// The upstream's light face: its index loads undici, which tools must not at cold start.
import {
  checkPath,
  checkQuery,
  formatBody,
  hopAsRequest,
  jsonBodyText,
  pathWithQuery,
  type JudgeHop,
} from '../upstream/light.js';
import { APPROVAL_ID_ROLE, approvalIdField, fillText, fillValues } from './common.js';
import {
  afterSend,
  beforeSend,
  fillsBodyHandles,
  dropForgedHeaders,
  httpTarget,
  targetCallAudit,
  type TrafficCounts,
} from './http-target.js';
import type { GatePort } from './ports.js';
import { defineTool, type ToolContext } from './types.js';

const queryValue = z.union([
  z.string(),
  z.number(),
  z.boolean(),
  z.array(z.union([z.string(), z.number(), z.boolean()])),
]);

const apiRequestInput = z
  .object({
    target: z.string().min(1).max(100).describe('An HTTP target name from discover'),
    method: z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']),
    path: z.string().min(1).max(8192).describe('Path under the target base URL, e.g. /v1/models'),
    query: z.record(z.string(), queryValue).optional(),
    headers: z.record(z.string(), z.string().max(65_536)).optional(),
    body: z
      .union([z.string(), z.record(z.string(), z.unknown()), z.array(z.unknown())])
      .optional()
      .describe('A string, or JSON (sent as application/json)'),
    timeout_ms: z.number().int().min(100).max(300_000).optional(),
    approval_id: approvalIdField,
  })
  .strict();

const apiRequestOutput = z.object({
  status: z.number(),
  dlp: z
    .object({ redacted: z.record(z.string(), z.number()), note: z.string() })
    .optional()
    .describe("What the target's DLP replaced in the request body before it was sent"),
  headers: z.record(z.string(), z.string()),
  body: z.unknown(),
  body_encoding: z.enum(['json', 'text', 'base64']),
  truncated: z.boolean(),
  duration_ms: z.number(),
});

export const apiRequestTool = defineTool({
  name: 'api_request',
  title: 'Call an HTTP API target',
  description:
    "Sends an HTTP request to an API target (see discover) and returns the response. Gatehouse adds the target's credential itself: do not send Authorization or API-key headers. " +
    "The path is relative to the target's base URL and cannot leave it. Headers, query and body may hold vault handles ({{vault:VAULT/ITEM.FIELD}}) bound to the target (not the body of a model API target: a prompt is sent as written). " +
    "Risky requests (DELETE, admin writes, GraphQL mutations) may need a person's approval. JSON bodies come back as JSON, text as text, binary as base64, cut at 1 MiB with truncated: true; secrets are scrubbed. " +
    'Targets with DLP (model APIs) scan the body before it leaves: matches are replaced (counted in `dlp`) or refused.',
  inputSchema: apiRequestInput,
  inputRoles: {
    target: 'target',
    method: 'judged',
    path: 'judged',
    query: 'judged',
    headers: 'judged',
    body: 'judged',
    timeout_ms: { irrelevant: 'how long Gatehouse waits for the answer; the request sent is the same' },
    approval_id: APPROVAL_ID_ROLE,
  },
  outputSchema: apiRequestOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
  async handler(input, ctx) {
    let { headers } = await dropForgedHeaders(ctx.gate, ctx.principal, 'api_request', input.headers ?? {});
    let body: string | undefined;
    if (typeof input.body === 'string') body = input.body;
    else if (input.body !== undefined) {
      // Bounded depth, walked without recursion: a body nested 400,000 deep is invalid_input.
      body = jsonBodyText(input.body);
      if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
        headers = { ...headers, 'content-type': 'application/json' };
    }
    // The guard judges the query serialised exactly as the executor appends it.
    const sent = pathWithQuery(input.path, input.query);
    const call = await ctx.gate.run(
      ctx.principal,
      {
        tool: 'api_request',
        target: input.target,
        guard: { kind: 'http', method: input.method, path: sent, headers, body },
        // What a person approving sees: the query too, where an override or mutation may hide.
        summary: `${input.method} ${input.target}${sent.startsWith('/') ? '' : '/'}${sent}`,
        client: ctx.client,
      },
      () => send(ctx, input, headers, body),
      {
        approvalContext: ctx.approvalContext,
        approvalId: input.approval_id,
        auditFields: targetCallAudit,
        // A path or query the executor would refuse or rewrite is refused (and audited) before it
        // is judged, so a person is never asked to approve a request other than the one sent.
        completeGuardInput: async () => {
          const q = input.path.indexOf('?');
          checkPath(q < 0 ? input.path : input.path.slice(0, q));
          if (q >= 0) checkQuery(input.path.slice(q + 1));
        },
      },
    );
    return call.output;
  },
});

type ApiRequestInput = z.infer<typeof apiRequestInput>;

/** What one call gives the model, and what its audit record adds (usage and DLP counts, never a value). */
interface Sent extends TrafficCounts {
  output: z.infer<typeof apiRequestOutput>;
  status: number;
}

/**
 * The request, once the gate allowed it: DLP and the budget (a target that turns them on, the
 * same code as /gateway), credential and handles filled, redirects judged, body scrubbed then cut.
 */
async function send(
  ctx: ToolContext,
  input: ApiRequestInput,
  headers: Record<string, string>,
  agentBody: string | undefined,
): Promise<Sent> {
  const t = await httpTarget(ctx.ports.targets, input.target);
  // Before any handle is filled and anything is sent (see beforeSend's invariants).
  const traffic = await beforeSend(ctx.ports.traffic, ctx.principal, input.target, t.config, {
    body: agentBody,
    unread: false,
    contentEncoding: () => contentEncoding(headers),
  });
  const body = traffic?.body ?? agentBody;
  // The target's own credential, injected by Gatehouse, is hidden from this call's output too.
  if (t.credential !== undefined) ctx.output.filled([t.credential]);
  const dest = { target: input.target, host: t.host };
  const h = await fillValues(ctx, headers, dest);
  const fill = (v: string | number | boolean) => fillText(ctx, String(v), dest);
  const query = input.query
    ? Object.fromEntries(
        await Promise.all(
          Object.entries(input.query).map(
            async ([k, v]) => [k, Array.isArray(v) ? await Promise.all(v.map(fill)) : await fill(v)] as const,
          ),
        ),
      )
    : undefined;
  const pool = await ctx.ports.upstream();
  const r = await pool.request(t.spec, t.credential, {
    method: input.method,
    path: input.path,
    query,
    headers: { ...h.values, ...h.secrets },
    body: body === undefined || !fillsBodyHandles(t.config) ? body : await fillText(ctx, body, dest),
    timeoutMs: input.timeout_ms,
    followRedirects: t.config.followRedirects,
    // A hop is judged as the agent wrote the request, as the first request was.
    judgeHop: hopJudge(ctx.gate, ctx.principal, ctx.client, input.target, { headers, body: agentBody }),
    signal: ctx.signal,
    scrubHeader: (v) => ctx.output.scrub(v),
    // INVARIANT: the body is decoded, scrubbed as a stream, and only then cut at the limit;
    // the scrubber's held tail past a cut is dropped, never shown.
    responseScrubber: () => ctx.output.createScrubber(),
    // A model target's usage tap: the answer's body as it is read, after scrubbing.
    observeBody: traffic?.meter?.observe,
  });
  const counts = await afterSend(traffic);
  const formatted = formatBody(r.headers['content-type'], r.body);
  const told = counts.dlp && dlpNotice(counts.dlp);
  return {
    output: {
      status: r.status,
      ...(told ? { dlp: told } : {}),
      headers: r.headers,
      body: formatted.value,
      body_encoding: formatted.encoding,
      truncated: r.truncated,
      duration_ms: Math.round(r.durationMs),
    },
    status: r.status,
    ...counts,
  };
}

/** The request's Content-Encoding, whatever case the agent wrote its name in (every non-empty value). */
function contentEncoding(headers: Record<string, string>): string | undefined {
  const v = Object.entries(headers)
    .filter(([k, val]) => val !== '' && k.toLowerCase() === 'content-encoding')
    .map(([, val]) => val);
  return v.length === 0 ? undefined : v.join(', ');
}

/**
 * What the model is told of DLP's replacements, so it understands why the target's answer may
 * differ from what it sent: the configured patterns' counts only (INVARIANT: what the redactor
 * replaced, vault values and keys, is never told: see agentCounts; the note's sentence about them
 * is the same whether or not any were there).
 */
function dlpNotice(counts: DlpCounts): { redacted: DlpCounts; note: string } | undefined {
  const redacted = agentCounts(counts);
  if (!redacted) return undefined;
  const n = Object.values(redacted).reduce((a, b) => a + b, 0);
  const which = Object.entries(redacted)
    .map(([k, v]) => `${k}: ${v}`)
    .join(', ');
  return {
    redacted,
    note:
      `Gatehouse DLP replaced ${n} match${n === 1 ? '' : 'es'} in the request body before it was sent (${which}); ` +
      'the target received [REDACTED:PATTERN] (or a shortened value) in their place, so its answer may refer to them. ' +
      'Vault values and keys are always replaced too and are not counted here; send secrets the target needs as vault handles.',
  };
}

/**
 * INVARIANT: every redirect hop followed is judged like a request of its own (method after the
 * redirect's rewriting, path, query, the body sent again); anything but allow stops it.
 */
function hopJudge(
  gate: GatePort,
  principal: Principal,
  client: string,
  target: string,
  judged: { headers: Record<string, string>; body?: string },
): JudgeHop {
  return async (hop) => {
    const step: Action = {
      tool: 'api_request',
      target,
      guard: { kind: 'http', ...hopAsRequest(hop, judged) },
      summary: `redirect ${hop.status} to ${hop.method} ${target}${hop.path}`,
      client,
    };
    const v = await gate.judgeStep(principal, step);
    if (v.decision === 'allow') return 'allow';
    const code = v.decision === 'approve' ? 'approval_required' : 'denied';
    const what = v.decision === 'approve' ? 'needs approval' : 'is refused';
    return {
      refuse: new GatehouseError(code, `the redirect to ${hop.method} ${hop.path} ${what} (${v.rule}: ${v.reason})`),
    };
  };
}
