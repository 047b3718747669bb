import { CallScrub, type ToolContext } from '../../tools/index.js';
import type { RouteContext } from '../route.js';
import type { Runtime } from '../runtime.js';

/**
 * The tool call a plain route's principal makes: the same gate, ports and client as an MCP call,
 * and this call's scrubbing (`output`), which the route's result and errors leave through (the
 * result boundary for plain routes). A plain HTTP request has nobody to send progress to.
 */
export function routeCall(
  rt: Runtime,
  ctx: RouteContext<'token'>,
  input: unknown,
): { output: CallScrub; call: ToolContext } {
  const output = new CallScrub(rt.redactor, input);
  return {
    output,
    call: {
      principal: ctx.principal,
      gate: rt.gate,
      ports: rt.ports,
      client: ctx.client,
      signal: ctx.signal,
      output,
      progress: async () => undefined,
    },
  };
}
