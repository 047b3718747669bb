import {
  CLIENT_CAPABILITIES_META_KEY,
  CLIENT_INFO_META_KEY,
  PROTOCOL_VERSION_META_KEY,
  inputRequired,
  Server,
  type CallToolResult,
  type InputRequiredResult,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { GatehouseError, log, toGatehouseError } from '../core/index.js';
import type { ClientIdentity, Principal } from '../gate/index.js';
import { CallScrub, type ToolContext, type ToolDefinition } from '../tools/index.js';
import { tooDeep, valueTooDeep } from '../upstream/light.js';
import { APPROVAL_INPUT_KEY, ElicitationRequired, type McpApprovalContext } from './approver.js';
import { memoryResources, registerResources, wikiResources } from './mcp-resources.js';
import { registerSubscriptions, webhookResources } from './mcp-webhooks.js';
import { registerSkills, skillResources } from './mcp-skills.js';
import type { Runtime } from './runtime.js';
import { toolJsonSchema } from './tool-schemas.js';

/**
 * Which door and protocol era serve this server instance. Elicitation on a 2025-era connection
 * needs a server->client request on a live connection: stdio has one, and so does an HTTP session
 * (mcp-sessions.ts); the stateless HTTP door does not (those clients get the out-of-band flow).
 */
export interface McpDoor {
  transport: 'stdio' | 'http';
  era: 'legacy' | 'modern';
  /** A 2025-era HTTP session (`Mcp-Session-Id`): it carries server->client requests. */
  sessionful?: boolean;
}

/**
 * Argument names an agent might use hoping to approve its own action. They approve nothing: they
 * are removed before validation and the attempt is audited. (`approval_id` is different: it names
 * a server-side approval a person decided, and is checked against the exact action.)
 */
const FORGED_APPROVAL_ARG =
  /^(approved?|approval|approval_(granted|token|status|override)|confirm(ed)?|human_approved|user_approved|force|x-gatehouse-approved)$/i;

function stringOrUndefined(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function canElicit(server: Server, ctx: ServerContext, door: McpDoor): boolean {
  if (door.era === 'modern') {
    const caps = (ctx.mcpReq.envelope as Record<string, unknown> | undefined)?.[CLIENT_CAPABILITIES_META_KEY] as
      { elicitation?: unknown } | undefined;
    return !!caps?.elicitation;
  }
  return (door.transport === 'stdio' || door.sessionful === true) && !!server.getClientCapabilities()?.elicitation;
}

export const SERVER_INFO = { name: 'gatehouse', version: '0.1.0' } as const;

/**
 * The client behind a request, as it identified itself: the per-request envelope on 2026-07-28,
 * the initialize handshake on 2025-era connections. Recorded, never trusted for a decision.
 */
function clientIdentity(server: Server, ctx: ServerContext, door: McpDoor): ClientIdentity | undefined {
  if (door.era === 'modern') {
    const env = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
    const info = env?.[CLIENT_INFO_META_KEY] as { name?: unknown; version?: unknown } | undefined;
    if (!info) return undefined;
    return {
      name: String(info.name ?? ''),
      version: String(info.version ?? ''),
      protocol: String(env?.[PROTOCOL_VERSION_META_KEY] ?? ''),
      transport: door.transport,
    };
  }
  const info = server.getClientVersion();
  if (!info) return undefined;
  return {
    name: info.name,
    version: info.version,
    protocol: server.getNegotiatedProtocolVersion() ?? '',
    transport: door.transport,
  };
}

const INSTRUCTIONS =
  'Gatehouse is the gateway between you and infrastructure. Call `discover` first to see which tools, targets and vaults your token may use. ' +
  'Credentials are never shown to you: reference them as {{vault:VAULT/ITEM.FIELD}} handles where a tool accepts them. ' +
  'Some actions need a person to approve them; when a result says approval is required, tell the person what it says and wait. Do not try to rephrase a refused command to get around the guard.';

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
 * A call's arguments as the tool gets them: depth-checked, forged approval fields removed (and the
 * attempt audited), validated by the tool's schema.
 */
async function toolInput(
  runtime: Runtime,
  principal: Principal,
  tool: ToolDefinition,
  raw: Record<string, unknown> | undefined,
): Promise<{ value: unknown } | { error: GatehouseError }> {
  // INVARIANT: no argument nested deeper than MAX_JSON_DEPTH reaches a tool (both doors; the
  // walk is iterative, and deeper structure would overflow the stack of any recursive one).
  if (valueTooDeep(raw)) return { error: tooDeep(`the arguments of ${tool.name}`) };
  const args: Record<string, unknown> = { ...(raw ?? {}) };
  const forged = Object.keys(args).filter((k) => FORGED_APPROVAL_ARG.test(k));
  if (forged.length > 0) {
    for (const k of forged) delete args[k];
    await runtime.gate.event(principal, tool.name, 'forged_approval_ignored', { arguments: forged });
  }
  const parsed = tool.inputSchema.safeParse(args);
  if (parsed.success) return { value: parsed.data };
  const hint = 'fix the arguments to match the tool input schema and call again';
  return {
    error: new GatehouseError('invalid_input', `invalid arguments for ${tool.name}: ${z.prettifyError(parsed.error)}`, {
      hint,
    }),
  };
}

/** What the tool's handler gets for this call: who, the gate, the ports, its scrubbing, and what the client can show a person. */
function toolContext(
  runtime: Runtime,
  server: Server,
  ctx: ServerContext,
  principal: Principal,
  call: {
    client: string;
    clientIdentity: ClientIdentity | undefined;
    door: McpDoor;
    input: unknown;
    progressToken: string | number | undefined;
  },
): ToolContext {
  const approvalContext: McpApprovalContext = {
    kind: 'mcp',
    canElicit: canElicit(server, ctx, call.door),
    requestState: stringOrUndefined(ctx.mcpReq.requestState()),
    inputResponses: ctx.mcpReq.inputResponses,
  };
  const progressToken = call.progressToken;
  return {
    output: new CallScrub(runtime.redactor, call.input),
    principal,
    gate: runtime.gate,
    ports: runtime.ports,
    client: call.client,
    ...(call.clientIdentity ? { clientIdentity: call.clientIdentity } : {}),
    signal: ctx.mcpReq.signal,
    approvalContext,
    progress: async (progress, total, message) => {
      if (progressToken === undefined) return;
      await ctx.mcpReq
        .notify({ method: 'notifications/progress', params: { progressToken, progress, total, message } })
        .catch(() => undefined);
    },
  };
}

/** A 2025-era connection that can carry `elicitation/create`: Gatehouse sends it itself. */
interface LegacyElicit {
  elicitInput: ServerContext['mcpReq']['elicitInput'];
  timeoutMs: number;
  runtime: Runtime;
}

/**
 * The 2025-era approval round, run here instead of by the SDK's shim so that every way it can end
 * has a typed result and a recorded outcome (issue 24.2): the client's answer re-enters the tool
 * with the sealed request state, exactly as a 2026-07-28 retry does (accept and decline decide;
 * cancel leaves the approval waiting); an error answer or a timeout leaves the approval waiting
 * for a person out of band and says so with its id; a cancelled call is audited and answered
 * the same way (the client may not read it).
 */
async function legacyApproval(
  tool: ToolDefinition,
  input: unknown,
  toolCtx: ToolContext,
  legacy: LegacyElicit,
  e: ElicitationRequired,
): Promise<CallToolResult> {
  let answer: unknown;
  try {
    const params = {
      mode: 'form',
      message: e.elicitation.message,
      requestedSchema: e.elicitation.requestedSchema,
    } as Parameters<LegacyElicit['elicitInput']>[0];
    answer = await legacy.elicitInput(params, { signal: toolCtx.signal, timeout: legacy.timeoutMs });
  } catch (err) {
    const cancelled = toolCtx.signal.aborted;
    const why = cancelled
      ? 'the call was cancelled before anyone answered the approval form'
      : `the client could not show the approval form (${err instanceof Error ? err.message : String(err)})`;
    await legacy.runtime.gate
      .event(toolCtx.principal, tool.name, cancelled ? 'approval_cancelled' : 'approval_unanswered', {
        approvalId: e.approvalId,
        why,
      })
      .catch(() => undefined);
    try {
      await e.stillWaiting(why);
    } catch (w) {
      return errorResult(toolCtx.output.error(toGatehouseError(w)));
    }
  }
  const approvalContext: McpApprovalContext = {
    ...(toolCtx.approvalContext as McpApprovalContext),
    canElicit: false,
    requestState: e.requestState,
    inputResponses: { [APPROVAL_INPUT_KEY]: answer },
  };
  const retryCtx: ToolContext = { ...toolCtx, approvalContext };
  const r = await runTool(tool, input, retryCtx);
  return r as CallToolResult;
}

/** Runs the tool and answers through the result boundary: its result or error scrubbed, or an input-required answer. */
async function runTool(
  tool: ToolDefinition,
  input: unknown,
  toolCtx: ToolContext,
  legacy?: LegacyElicit,
): Promise<CallToolResult | InputRequiredResult> {
  try {
    // INVARIANT (the result boundary): everything a tool returns passes through this call's
    // scrubbing here, whether or not the tool scrubbed it itself; a careless tool cannot leak.
    const result = toolCtx.output.scrubValue((await tool.handler(input, toolCtx)) as Record<string, unknown>);
    return { content: [{ type: 'text', text: JSON.stringify(result) }], structuredContent: result };
  } catch (e) {
    if (e instanceof ElicitationRequired) {
      const requestedSchema = e.elicitation.requestedSchema as Parameters<
        typeof inputRequired.elicit
      >[0]['requestedSchema'];
      if (legacy) return legacyApproval(tool, input, toolCtx, legacy, e);
      return inputRequired({
        inputRequests: {
          [APPROVAL_INPUT_KEY]: inputRequired.elicit({ message: e.elicitation.message, requestedSchema }),
        },
        requestState: e.requestState,
      });
    }
    const err = toGatehouseError(e);
    if (err.code === 'internal') log.error('tool failed', { tool: tool.name, err: e });
    return errorResult(toolCtx.output.error(err));
  }
}

/**
 * Builds the MCP server for one principal. Both doors (stdio and Streamable HTTP) call this, so
 * they serve the same tools from the same code.
 *
 * INVARIANT: a tool the principal is not granted is absent from tools/list, and a call to it is
 * refused with `not_granted` before anything else happens.
 */
export function buildMcpServer(
  runtime: Runtime,
  authenticate: () => Promise<Principal>,
  client: string,
  door: McpDoor,
): Server {
  const server = new Server(SERVER_INFO, {
    capabilities: {
      tools: { listChanged: false },
      resources: { listChanged: true, subscribe: true },
      prompts: { listChanged: true },
    },
    instructions: INSTRUCTIONS,
    // Legacy (2025-era) clients: the SDK turns an input-required return into a real
    // elicitation/create request and re-enters the handler; a person gets the approval ttl to answer.
    inputRequired: { roundTimeoutMs: runtime.config.approvals.ttl_seconds * 1000, maxRounds: 3 },
  });
  const byName = new Map<string, ToolDefinition>(runtime.tools.map((t) => [t.name, t]));
  registerResources(server, runtime, authenticate, client, [
    memoryResources(runtime),
    skillResources(runtime),
    wikiResources(runtime),
    webhookResources(runtime),
  ]);
  registerSubscriptions(server);
  registerSkills(server, runtime, authenticate, client, door);

  // The token is checked again on every request (cached for at most a second), so a token revoked
  // while a stdio session is open stops working within a second.
  server.setRequestHandler('tools/list', async (_request, ctx: ServerContext) => {
    const principal = await authenticate();
    await runtime.gate.admit(principal, 'tools/list');
    const who = clientIdentity(server, ctx, door);
    if (who) runtime.clients.seen(principal, who);
    return {
      tools: runtime.tools
        .filter((t) => runtime.isToolGranted(principal, t.name))
        .map((t) => ({
          name: t.name,
          title: t.title,
          description: t.description,
          inputSchema: toolJsonSchema(t, 'input') as { type: 'object' },
          outputSchema: toolJsonSchema(t, 'output') as { type: 'object' },
          annotations: { title: t.title, ...t.annotations },
        })),
    };
  });

  // The SDK answers ping itself; this replaces its handler so a ping costs the token's rate too.
  server.setRequestHandler('ping', async () => {
    await runtime.gate.admit(await authenticate(), 'ping');
    return {};
  });

  server.setRequestHandler('tools/call', async (request, ctx: ServerContext) => {
    const principal = await authenticate();
    const said = clientIdentity(server, ctx, door);
    if (said) runtime.clients.seen(principal, said);
    const who = said ?? (await runtime.clients.known(principal));
    const name = request.params.name;
    const tool = byName.get(name);
    if (!tool) {
      return errorResult(
        new GatehouseError('not_found', `no tool named ${JSON.stringify(name)}`, {
          hint: 'call tools/list or `discover` to see the tools you may use',
        }),
      );
    }
    if (!runtime.isToolGranted(principal, name)) {
      await runtime.gate.event(principal, name, 'not_granted').catch(() => undefined);
      return errorResult(
        new GatehouseError('not_granted', `this token is not granted the tool ${name}`, {
          hint: `ask an operator to add the grant tool:${name} to your token`,
        }),
      );
    }
    const input = await toolInput(runtime, principal, tool, request.params.arguments);
    if ('error' in input) return errorResult(input.error);
    const toolCtx = toolContext(runtime, server, ctx, principal, {
      clientIdentity: who,
      client,
      door,
      input: input.value,
      progressToken: request.params._meta?.progressToken,
    });
    // 2025-era clients on a live connection (stdio, an HTTP session) that declared elicitation are
    // asked by Gatehouse itself (legacyApproval).
    const legacy =
      door.era === 'legacy' && toolCtx.approvalContext && (toolCtx.approvalContext as McpApprovalContext).canElicit
        ? {
            elicitInput: (
              p: Parameters<LegacyElicit['elicitInput']>[0],
              o?: Parameters<LegacyElicit['elicitInput']>[1],
            ) => ctx.mcpReq.elicitInput(p, o),
            timeoutMs: runtime.config.approvals.ttl_seconds * 1000,
            runtime,
          }
        : undefined;
    return runTool(tool, input.value, toolCtx, legacy);
  });

  server.onerror = (e) => log.debug('mcp protocol error', { err: e });
  return server;
}
