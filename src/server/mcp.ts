import { Server, type CallToolResult, type ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { GatehouseError, log, toGatehouseError } from '../core/index.js';
import type { Principal } from '../gate/index.js';
import type { ToolContext, ToolDefinition } from '../tools/types.js';
import type { Runtime } from './runtime.js';

export const SERVER_INFO = { name: 'gatehouse', version: '0.1.0' } as const;

const INSTRUCTIONS =
  'Gatehouse is the gateway between you and infrastructure. Call `discover` first to see which tools, targets and vaults your token may use. ' +
  'Credentials are never shown to you: reference them as {{vault:VAULT/ITEM.FIELD}} handles where a tool accepts them. ' +
  'Some actions need a person to approve them; when a result says approval is required, tell the person what it says and wait. Do not try to rephrase a refused command to get around the guard.';

/** JSON Schema for a zod schema, as MCP tool listings carry it. */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const s = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as Record<string, unknown>;
  delete s.$schema;
  return s;
}

function outputJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const s = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'output' }) as Record<string, unknown>;
  delete s.$schema;
  return s;
}

/** A tool error as the model sees it: `isError`, a stable code, and what to do. */
export function errorResult(err: GatehouseError): CallToolResult {
  const body = err.toJSON();
  return {
    isError: true,
    content: [{ type: 'text', text: `${body.code}: ${body.message}${body.hint ? `\nWhat to do: ${body.hint}` : ''}` }],
    structuredContent: { error: body },
  };
}

/**
 * Builds the MCP server for one principal. Both doors (stdio and Streamable HTTP) call this, so
 * they serve the same tools from the same code.
 *
 * INVARIANT: a tool the principal is not granted is absent from tools/list, and a call to it is
 * refused with `not_granted` before anything else happens.
 */
export function buildMcpServer(runtime: Runtime, authenticate: () => Promise<Principal>, client: string): Server {
  const server = new Server(SERVER_INFO, { capabilities: { tools: { listChanged: false } }, instructions: INSTRUCTIONS });
  const byName = new Map<string, ToolDefinition>(runtime.tools.map((t) => [t.name, t]));

  // The token is checked again on every request (cached for at most a second), so a token revoked
  // while a stdio session is open stops working within a second.
  server.setRequestHandler('tools/list', async () => {
    const principal = await authenticate();
    return {
    tools: runtime.tools
      .filter((t) => runtime.isToolGranted(principal, t.name))
      .map((t) => ({
        name: t.name,
        title: t.title,
        description: t.description,
        inputSchema: jsonSchema(t.inputSchema) as { type: 'object' },
        outputSchema: outputJsonSchema(t.outputSchema) as { type: 'object' },
        annotations: { title: t.title, ...t.annotations },
      })),
    };
  });

  server.setRequestHandler('tools/call', async (request, ctx: ServerContext) => {
    const principal = await authenticate();
    const name = request.params.name;
    const tool = byName.get(name);
    if (!tool) {
      return errorResult(new GatehouseError('not_found', `no tool named ${JSON.stringify(name)}`, { hint: 'call tools/list or `discover` to see the tools you may use' }));
    }
    if (!runtime.isToolGranted(principal, name)) {
      await runtime.gate.event(principal, name, 'not_granted').catch(() => undefined);
      return errorResult(new GatehouseError('not_granted', `this token is not granted the tool ${name}`, { hint: `ask an operator to add the grant tool:${name} to your token` }));
    }
    const parsed = tool.inputSchema.safeParse(request.params.arguments ?? {});
    if (!parsed.success) {
      return errorResult(
        new GatehouseError('invalid_input', `invalid arguments for ${name}: ${z.prettifyError(parsed.error)}`, { hint: 'fix the arguments to match the tool input schema and call again' }),
      );
    }
    const progressToken = request.params._meta?.progressToken;
    const toolCtx: ToolContext = {
      principal,
      gate: runtime.gate,
      runtime,
      client,
      signal: ctx.mcpReq.signal,
      channel: ctx,
      progress: async (progress, total, message) => {
        if (progressToken === undefined) return;
        await ctx.mcpReq
          .notify({ method: 'notifications/progress', params: { progressToken, progress, total, message } })
          .catch(() => undefined);
      },
    };
    try {
      const result = (await tool.handler(parsed.data, toolCtx)) as Record<string, unknown>;
      return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
    } catch (e) {
      const err = toGatehouseError(e);
      if (err.code === 'internal') log.error('tool failed', { tool: name, err: e });
      return errorResult(err);
    }
  });

  server.onerror = (e) => log.debug('mcp protocol error', { err: e });
  return server;
}
