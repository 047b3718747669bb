import { z } from 'zod';
import { grantedNames, isGranted } from '../gate/index.js';
import { defineTool } from './types.js';

const output = z.object({
  token: z.object({ name: z.string(), policy: z.string().nullable() }),
  tools: z.array(z.object({ name: z.string(), title: z.string(), description: z.string() })),
  targets: z.array(z.object({ name: z.string(), kind: z.string(), description: z.string() })),
  vaults: z.array(z.string()),
  sessions: z.array(z.object({ id: z.string(), target: z.string(), openedAt: z.string() })),
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
    'the vaults whose credential handles you may reference, and your open interactive sessions. Call this first to learn which target names to pass to other tools. ' +
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
      return {
        token: { name: principal.tokenName, policy: principal.policy },
        tools,
        targets,
        vaults,
        sessions: await ports.ssh.listSessions(principal),
        client: ctx.clientIdentity ?? null,
      };
    });
  },
});
