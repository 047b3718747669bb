import { z } from 'zod';
import { grantedNames, isGranted } from '../gate/index.js';
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
  client: z
    .object({ name: z.string(), version: z.string(), protocol: z.string(), transport: z.string() })
    .nullable()
    .describe('the MCP client this call came from, as it identified itself'),
});

export const discoverTool = defineTool({
  name: 'discover',
  title: 'Discover what this token may use',
  description:
    'Lists what your Gatehouse token may use: the tools you are granted, the targets (HTTP APIs, SSH servers) with their kind and description, ' +
    'the vaults whose credential handles you may reference, your open interactive sessions, the memories you can read (paths and titles), the team’s skills and your wiki namespaces. Call this first to learn which target names to pass to other tools. ' +
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
