import type { z } from 'zod';
import type { ApprovalContext, ClientIdentity, Principal } from '../gate/index.js';
import type { CallScrub } from './call-scrub.js';
import type { GatePort, ToolPorts } from './ports.js';

export interface ToolAnnotationsSpec {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint?: boolean;
  openWorldHint: boolean;
}

/**
 * What a tool handler gets besides its validated input: who calls, the gate, the narrow ports it
 * may use (src/tools/ports.ts), and its call's scrubbing. Nothing here knows about MCP.
 */
export interface ToolContext {
  principal: Principal;
  gate: GatePort;
  ports: ToolPorts;
  /** `stdio` or the HTTP client's address. */
  client: string;
  /** The MCP client as it identified itself (name, version, protocol revision), when it did. */
  clientIdentity?: ClientIdentity;
  /** Aborted when the client cancels the call or disconnects. */
  signal: AbortSignal;
  /** Sends a progress notification when the client asked for progress. */
  progress(progress: number, total?: number, message?: string): Promise<void>;
  /** What the transport can do to ask a person (built from protocol context, never from arguments); passed to the gate's approver. */
  approvalContext?: ApprovalContext;
  /**
   * This call's scrubbing: everything the call returns (result, streams, errors) passes through
   * it at the result boundary; executors that cap output scrub with it first, then cap.
   */
  output: CallScrub;
}

/**
 * What becomes of one input field of a tool. INVARIANT (checked for every tool by
 * test/tools/input-roles.test.ts): every field is judged, bound, the target, or declared irrelevant
 * with a reason; the judged, bound and target ones are part of the approval digest, shown to the
 * person who approves, and kept in the audit record.
 * - `judged`: the guard decides on it (a command, its stdin and env, an HTTP request, a path).
 * - `bound`: not judged, but it changes what happens (cwd, a timeout, a file's content and mode).
 * - `target`: names the target; authorization requires a grant for it.
 * - `irrelevant`: changes nothing that happens on the far side (how long to wait for an answer,
 *   how much of it to return), with the reason.
 */
export type InputRole = 'judged' | 'bound' | 'target' | { irrelevant: string };

/** A role for every field of an object schema's input, and nothing else (the compiler checks). */
export type InputRoles<I extends z.ZodType> = { readonly [K in keyof z.input<I>]-?: InputRole };

/**
 * One tool: its schemas, its annotations and its handler. `description` is written for a model:
 * when to use the tool, what it returns, what it refuses.
 */
export interface ToolDefinition<I extends z.ZodType = z.ZodType, O extends z.ZodType = z.ZodType> {
  name: string;
  title: string;
  description: string;
  inputSchema: I;
  /** What each input field is to the gate (see InputRole). */
  inputRoles: InputRoles<I>;
  outputSchema: O;
  annotations: ToolAnnotationsSpec;
  handler(input: z.infer<I>, ctx: ToolContext): Promise<z.infer<O>>;
}

export function defineTool<I extends z.ZodType, O extends z.ZodType>(def: ToolDefinition<I, O>): ToolDefinition<I, O> {
  return def;
}
