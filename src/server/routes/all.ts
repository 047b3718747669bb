import { adminRoutes, type ApprovalService } from '../../approvals/index.js';
import { consoleRoutes, type ConsoleOptions } from '../../console/index.js';
import type { AnyRoute } from '../route.js';
import type { Runtime } from '../runtime.js';
import { adminHttpRoutes } from './admin.js';
import { adminApiRoutes } from './admin-api.js';
import { adminKnowledgeRoutes } from './admin-api-knowledge.js';
import { adminSessionRoutes } from './admin-api-sessions.js';
import { discoveryRoutes } from './discovery.js';
import { gatewayRoute } from './gateway.js';
import { sshExecRoute } from './ssh.js';
import { webhookRoutes } from './webhooks.js';

/**
 * Every plain HTTP route `gatehouse serve` mounts, in matching order. A new route (a webhook,
 * the console) is added here with its path pattern and auth kind; the server's `handle` needs no
 * change for it.
 */
export function plainRoutes(
  rt: Runtime & { approvals: ApprovalService },
  opts: { console?: ConsoleOptions } = {},
): AnyRoute[] {
  return [
    gatewayRoute(rt),
    sshExecRoute(rt),
    ...webhookRoutes(rt),
    ...discoveryRoutes(rt),
    ...adminHttpRoutes([
      ...adminRoutes(rt.approvals),
      ...adminApiRoutes(rt),
      ...adminSessionRoutes(rt),
      ...adminKnowledgeRoutes(rt),
    ]),
    ...consoleRoutes(rt, {
      requirePasskeys: rt.config.console.require_passkeys,
      ...(rt.config.console.public_origin ? { publicOrigin: rt.config.console.public_origin } : {}),
      ...opts.console,
    }),
  ];
}
