import { z } from 'zod';
import { checkAsk, ACCESS_REQUEST_TTL_MS } from '../access/index.js';
import { boundInputs } from './common.js';
import { defineTool } from './types.js';

/**
 * `request_access`: asks a person for an SSH host or an HTTP API this token cannot reach yet. It
 * files a request and returns at once; nothing is reached, and no credential ever comes back to
 * the agent (a person types it into the console, where it is sealed in the vault).
 */
export const requestAccessTool = defineTool({
  name: 'request_access',
  title: 'Ask for access to a host or API',
  description:
    'Asks a person for access you do not have yet: an SSH host (kind "ssh", host, user, optional port) or an HTTP API (kind "http", base_url), with the reason you need it. ' +
    'It files a request and returns its id at once; it does not wait. A person sees it in the Gatehouse console (or `gatehouse requests list`), adds the credential themselves (you never see it) and may grant it only for a while. ' +
    'Call discover later: an approved request shows up there as a new target. Asking again for the same thing returns the request already waiting.',
  inputSchema: z
    .object({
      kind: z.enum(['ssh', 'http']).describe('ssh for a host to run commands on, http for an API'),
      host: z.string().max(253).optional().describe('SSH: the host name or IPv4 address'),
      port: z.number().int().min(1).max(65535).optional().describe('SSH: the port (default 22)'),
      user: z.string().max(32).optional().describe('SSH: the login name'),
      base_url: z.string().max(2000).optional().describe('HTTP: the API’s base URL, e.g. https://api.example.com'),
      reason: z.string().min(1).max(2000).describe('Why you need it: the person decides on this'),
    })
    .strict(),
  inputRoles: { kind: 'bound', host: 'bound', port: 'bound', user: 'bound', base_url: 'bound', reason: 'bound' },
  outputSchema: z.object({
    id: z.string(),
    status: z.string(),
    existing: z.boolean(),
    expiresAt: z.string(),
    next: z.string(),
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(input, ctx) {
    const ask = checkAsk({
      kind: input.kind,
      ...(input.host !== undefined ? { host: input.host } : {}),
      ...(input.port !== undefined ? { port: input.port } : {}),
      ...(input.user !== undefined ? { user: input.user } : {}),
      ...(input.base_url !== undefined ? { baseUrl: input.base_url } : {}),
      reason: input.reason,
    });
    const action = {
      tool: 'request_access',
      bound: boundInputs({
        kind: ask.kind,
        host: ask.host,
        port: ask.port,
        user: ask.user,
        base_url: ask.baseUrl,
        reason: ask.reason,
      }),
      summary: `request_access ${JSON.stringify(input)}`,
      client: ctx.client,
    };
    return ctx.gate.run(ctx.principal, action, async () => {
      const { request, existing } = await ctx.ports.access.file(ctx.principal, ask);
      return {
        id: request.id,
        status: request.status,
        existing,
        expiresAt: new Date(request.expiresAt).toISOString(),
        next:
          `A person decides this request (${request.id}) in the Gatehouse console or with gatehouse requests; it lapses after ${ACCESS_REQUEST_TTL_MS / 3_600_000} h. ` +
          'Tell the person what you asked for and why. When it is approved, discover lists the new target; until then, do not retry the work that needs it.',
      };
    });
  },
});
