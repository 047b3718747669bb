import { z } from 'zod';
import { boundInputs } from './common.js';
import { defineTool } from './types.js';

export const vaultSearchTool = defineTool({
  name: 'vault_search',
  title: 'Find credential handles',
  description:
    'Finds credentials you can use without seeing them. Returns handles such as {{vault:ops/github.token}} with the item description and the destinations it is bound to ' +
    '(target:NAME or host:PATTERN). Put a handle in api_request headers, query or body, or in the env of ssh_exec or exec; Gatehouse fills it only for a bound destination. ' +
    'Search by free text, by target name, or by host. Never returns a secret value.',
  inputSchema: z
    .object({
      text: z.string().max(200).optional().describe('Words to match in vault, item, field, description or binding'),
      target: z.string().max(100).optional().describe('Only handles usable for this target'),
      host: z.string().max(253).optional().describe('Only handles usable for this host'),
    })
    .strict(),
  inputRoles: { text: 'bound', target: 'bound', host: 'bound' },
  outputSchema: z.object({
    handles: z.array(
      z.object({
        handle: z.string(),
        vault: z.string(),
        item: z.string(),
        field: z.string(),
        description: z.string().nullable(),
        bindings: z.array(z.string()),
      }),
    ),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
  async handler(input, ctx) {
    const action = {
      tool: 'vault_search',
      bound: boundInputs({ text: input.text, target: input.target, host: input.host }),
      summary: `vault_search ${JSON.stringify(input)}`,
      client: ctx.client,
    };
    return ctx.gate.run(ctx.principal, action, async () => ({
      handles: await ctx.ports.handles.search(ctx.principal, input),
    }));
  },
});
