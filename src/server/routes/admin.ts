import type { AdminRoute } from '../../approvals/index.js';
import { GatehouseError } from '../../core/index.js';
import { readJsonBody, sendJson } from '../http.js';
import { defineRoute, type Route } from '../route.js';

/**
 * Mounts the approvals module's admin endpoints (a port: src/approvals/admin-routes.ts) as server
 * routes with `auth: 'admin'`: the server authenticates the admin token, decodes the path
 * parameters, reads the JSON body, and answers with the endpoint's result or the error's status.
 */
export function adminHttpRoutes(endpoints: readonly AdminRoute[]): Route<'admin'>[] {
  return endpoints.map((e) =>
    defineRoute({
      method: e.method,
      path: e.path,
      auth: 'admin',
      handler: async (req, res, ctx) => {
        const body =
          e.maxBodyBytes > 0
            ? await readJsonBody(req, { max: e.maxBodyBytes, owner: ctx.principal.tokenId, holdUntil: res })
            : {};
        if (body === null || typeof body !== 'object' || Array.isArray(body))
          throw new GatehouseError('invalid_input', 'the request body must be a JSON object', {
            hint: 'send {"note": "..."} or nothing',
          });
        const answer = await e.handle({
          principal: ctx.principal,
          params: ctx.params,
          query: ctx.url.searchParams,
          body: body as Record<string, unknown>,
        });
        sendJson(res, 200, answer);
      },
    }),
  );
}
