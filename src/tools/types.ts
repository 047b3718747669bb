import type { z } from 'zod';
import type { Gate, Principal } from '../gate/index.js';
import type { Runtime } from '../server/runtime.js';

export interface ToolAnnotationsSpec {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint?: boolean;
  openWorldHint: boolean;
}

/** What a tool handler gets besides its validated input. Nothing here knows about MCP. */
export interface ToolContext {
  principal: Principal;
  gate: Gate;
  runtime: Runtime;
  /** `stdio` or the HTTP client's address. */
  client: string;
  /** Aborted when the client cancels the call or disconnects. */
  signal: AbortSignal;
  /** Sends a progress notification when the client asked for progress. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /** The transport's approval channel (MCP request context), passed to the gate's approver. */
  channel: unknown;
}

/**
 * One tool: its schemas, its annotations and its handler. `description` is written for a model:
 * when to use the tool, what it returns, what it refuses.
 */
export interface ToolDefinition<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  name: string;
  title: string;
  description: string;
  inputSchema: I;
  outputSchema: O;
  annotations: ToolAnnotationsSpec;
  handler(input: z.infer<I>, ctx: ToolContext): Promise<z.infer<O>>;
}

export function defineTool<I extends z.ZodType, O extends z.ZodType>(def: ToolDefinition<I, O>): ToolDefinition<I, O> {
  return def;
}
