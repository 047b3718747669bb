import { GatehouseError } from '../../core/index.js';
import { CallScrub } from '../../tools/call-scrub.js';
import { runSshExec, sshExecInput } from '../../tools/ssh-exec.js';
import { pathParam, readJsonBody, scrubbedErrors, sendJson, type Route } from '../http.js';
import type { Runtime } from '../runtime.js';

const EXEC_PATH = /^\/ssh\/([^/]+)\/exec$/;

/**
 * `POST /ssh/:target/exec` with JSON `{command, timeout_s?, cwd?, env?, stdin?, approval_id?}`:
 * ssh_exec for plain HTTP agents, through the same gate. Authorization: `tool:ssh_exec` and the target.
 *
 * The path is matched as sent (the URL parser would resolve `..` and `%2e%2e` first), and the
 * target name is decoded by `pathParam`: a malformed escape is a 400, not an untyped 500.
 */
export function sshExecRoute(rt: Runtime): Route {
  return {
    method: 'POST',
    prefix: '/ssh/',
    handler: async (req, res, ctx) => {
      const rawPath = (req.url ?? '').split('?')[0];
      const m = EXEC_PATH.exec(rawPath);
      if (!m) throw new GatehouseError('not_found', `no route ${req.method} ${ctx.url.pathname}`, { hint: 'use POST /ssh/TARGET/exec' });
      const target = pathParam(m[1], 'target name');
      const body = await readJsonBody(req, undefined, ctx.principal.tokenId, res);
      if (body === null || typeof body !== 'object' || Array.isArray(body)) {
        throw new GatehouseError('invalid_input', 'request body must be a JSON object', { hint: 'send {"command": "..."} with content-type application/json' });
      }
      const parsed = sshExecInput.safeParse({ ...(body as object), target });
      if (!parsed.success) throw new GatehouseError('invalid_input', `invalid request body: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      // The result boundary for this route: the result and any error pass through the call's scrubbing.
      const output = new CallScrub(rt.redactor, parsed.data);
      const result = await scrubbedErrors(output, () => runSshExec(rt, ctx.principal, parsed.data, { client: ctx.client, signal: ctx.signal, output }, 'ssh_exec'));
      sendJson(res, 200, output.scrubValue(result));
    },
  };
}
