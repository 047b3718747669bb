import { z } from 'zod';
import { grantedNames, isGranted, type Principal } from '../gate/index.js';
import { inboxResourceUri } from '../webhooks/index.js';
import type { ToolPorts } from './ports.js';
import { memoryScopeLabel, memoryScopes } from './memory-scopes.js';
import { defineTool } from './types.js';
import { readableNamespaces } from './wiki.js';

const output = z.object({
  token: z.object({ name: z.string(), policy: z.string().nullable() }),
  tools: z.array(z.object({ name: z.string(), title: z.string(), description: z.string() })),
  targets: z.array(z.object({ name: z.string(), kind: z.string(), description: z.string() })),
  vaults: z.array(z.string()),
  sessions: z.array(z.object({ id: z.string(), target: z.string(), openedAt: z.string() })),
  memory: z
    .object({
      items: z.array(z.object({ scope: z.enum(['token', 'user', 'org']), path: z.string(), title: z.string() })),
    })
    .nullable()
    .describe(
      'memories this token can read (newest first, at most 50; read them with memory_read), when it has a memory tool',
    ),
  skills: z
    .array(z.object({ name: z.string(), description: z.string() }))
    .nullable()
    .describe('published org skills (read one with org_skill_read), when the token has org_skill_read'),
  wiki: z
    .array(z.string())
    .nullable()
    .describe('wiki namespaces this token reads (list pages with wiki_list_pages), when it has a wiki tool'),
  webhooks: z
    .array(
      z.object({
        endpoint: z.string(),
        provider: z.string(),
        description: z.string(),
        ready: z.number(),
        leased: z.number(),
        oldest: z.string().nullable(),
        inbox: z.string(),
      }),
    )
    .nullable()
    .describe(
      'webhook endpoints this token may poll, with how many events are waiting (lease them with webhook_poll), when it has webhook_poll',
    ),
  client: z
    .object({ name: z.string(), version: z.string(), protocol: z.string(), transport: z.string() })
    .nullable()
    .describe('the MCP client this call came from, as it identified itself'),
});

/** The endpoints a token's grants reach, with their waiting counts. */
async function webhookInboxes(ports: ToolPorts, principal: Principal) {
  const granted = grantedNames(principal.grants, 'webhook');
  const eps = (await ports.webhooks.endpoints.list()).filter((e) => granted === '*' || granted.includes(e.name));
  const stats = await ports.webhooks.queue.stats(eps.map((e) => e.name));
  return eps.map((e) => {
    const st = stats.get(e.name);
    return {
      endpoint: e.name,
      provider: e.config.provider,
      description: e.config.description,
      ready: st?.ready ?? 0,
      leased: st?.leased ?? 0,
      oldest: st?.oldest ?? null,
      inbox: inboxResourceUri(e.name),
    };
  });
}

export const discoverTool = defineTool({
  name: 'discover',
  title: 'Discover what this token may use',
  description:
    'Lists what your Gatehouse token may use: the tools you are granted, the targets (HTTP APIs, SSH servers) with their kind and description, ' +
    'the vaults whose credential handles you may reference, your open interactive sessions, the memories you can read (paths and titles), the team’s skills, your wiki namespaces and your webhook endpoints with their waiting events. Call this first to learn which target names to pass to other tools. ' +
    'It never returns a secret value.',
  inputSchema: z.object({}).strict(),
  inputRoles: {},
  outputSchema: output,
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(_input, ctx) {
    const { principal, ports } = ctx;
    return ctx.gate.run(principal, { tool: 'discover', summary: 'discover', client: ctx.client }, async () => {
      const tools = ports
        .tools()
        .filter((t) => isGranted(principal.grants, 'tool', t.name))
        .map((t) => ({ name: t.name, title: t.title, description: t.description.split('. ')[0] + '.' }));
      const targets = (await ports.targets.list()).filter((t) => isGranted(principal.grants, 'target', t.name));
      const vaultGrant = grantedNames(principal.grants, 'vault');
      const vaults = vaultGrant === '*' ? await ports.handles.vaultNames() : vaultGrant;
      // Memory: names and titles only (the content is read with memory_read, with its provenance).
      const memoryTool = tools.some((t) => t.name === 'memory' || t.name.startsWith('memory_'));
      const memories = memoryTool
        ? await ports.knowledge.list(
            'memory',
            memoryScopes(principal).map((s) => s.scope),
            { limit: 50 },
          )
        : undefined;
      return {
        token: { name: principal.tokenName, policy: principal.policy },
        tools,
        targets,
        vaults,
        sessions: await ports.ssh.listSessions(principal),
        client: ctx.clientIdentity ?? null,
        // Names and one-line descriptions only: content is read with its own tools.
        skills: tools.some((t) => t.name === 'org_skill_read')
          ? (await ports.skills.list('published')).map((i) => ({ name: i.key, description: i.summary }))
          : null,
        wiki: tools.some((t) => t.name.startsWith('wiki_'))
          ? await readableNamespaces(principal, ports.wiki.pages)
          : null,
        webhooks: tools.some((t) => t.name === 'webhook_poll') ? await webhookInboxes(ports, principal) : null,
        memory: memories
          ? {
              items: memories.map((m) => ({
                scope: memoryScopeLabel(m.scope),
                path: m.key,
                title: m.title,
              })),
            }
          : null,
      };
    });
  },
});
