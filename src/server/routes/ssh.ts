import { GatehouseError } from '../../core/index.js';
import { runSshExec, sshExecInput } from '../../tools/index.js';
import { readJsonBody, scrubbedErrors, sendJson } from '../http.js';
import { defineRoute, routeParam, type Route } from '../route.js';
import type { Runtime } from '../runtime.js';
import { routeCall } from './route-call.js';

/**
 * `POST /ssh/:target/exec` with JSON `{command, timeout_s?, cwd?, env?, stdin?, approval_id?}`:
 * ssh_exec for plain HTTP agents, through the same gate. Authorization: `tool:ssh_exec` and the target.
 *
 * The path is matched as sent (the URL parser would resolve `..` and `%2e%2e` first), and the
 * target name is decoded by the server's one parameter decoder: a malformed escape is a 400.
 */
export function sshExecRoute(rt: Runtime): Route<'token'> {
  return defineRoute({
    method: 'POST',
    path: '/ssh/:target/exec',
    auth: 'token',
    handler: async (req, res, ctx) => {
      const body = await readJsonBody(req, { owner: ctx.principal.tokenId, holdUntil: res });
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new GatehouseError('invalid_input', 'request body must be a JSON object', {
          hint: 'send {"command": "..."} with content-type application/json',
        });
      }
      const parsed = sshExecInput.safeParse({ ...(body as object), target: routeParam(ctx, 'target') });
      if (!parsed.success)
        throw new GatehouseError(
          'invalid_input',
          `invalid request body: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        );
      // The result boundary for this route: the result and any error pass through the call's scrubbing.
      const { output, call } = routeCall(rt, ctx, parsed.data);
      const result = await scrubbedErrors(output, () => runSshExec(call, parsed.data, 'ssh_exec'));
      sendJson(res, 200, output.scrubValue(result));
    },
  });
}
