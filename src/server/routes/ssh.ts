import { GatehouseError } from '../../core/index.js';
import { runSshExec, sshExecInput } from '../../tools/ssh-exec.js';
import { readJsonBody, sendJson, type Route } from '../http.js';
import type { Runtime } from '../runtime.js';

/**
 * `POST /ssh/:target/exec` with JSON `{command, timeout_s?, cwd?, env?, stdin?, approval_id?}`:
 * ssh_exec for plain HTTP agents, through the same gate. Authorization: `tool:ssh_exec` and the target.
 */
export function sshExecRoute(rt: Runtime): Route {
  return {
    method: 'POST',
    prefix: '/ssh/',
    handler: async (req, res, ctx) => {
      const m = /^\/ssh\/([^/]+)\/exec$/.exec(ctx.url.pathname);
      if (!m) throw new GatehouseError('not_found', `no route ${req.method} ${ctx.url.pathname}`, { hint: 'use POST /ssh/TARGET/exec' });
      const body = await readJsonBody(req, undefined, ctx.principal.tokenId, res);
      const parsed = sshExecInput.safeParse({ ...(body as object), target: decodeURIComponent(m[1]) });
      if (!parsed.success) throw new GatehouseError('invalid_input', `invalid request body: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      const result = await runSshExec(rt, ctx.principal, parsed.data, { client: ctx.client, signal: ctx.signal }, 'ssh_exec');
      sendJson(res, 200, result);
    },
  };
}
