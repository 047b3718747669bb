import type { ApprovalService } from '../../approvals/index.js';
import type { ConsoleOptions } from '../../console/index.js';
import type { AnyRoute } from '../route.js';
import type { Runtime } from '../runtime.js';

/**
 * Every plain HTTP route `gatehouse serve` mounts (routes/all.ts), loaded on first use. Why a
 * loader: the routes pull in the browser console and the admin API (about a third of the server's
 * code), and `gatehouse mcp`, which Claude Code starts at every session, serves none of them; a
 * static export here put all of it in the stdio server's cold start.
 */
export async function plainRoutes(
  rt: Runtime & { approvals: ApprovalService },
  opts: { console?: ConsoleOptions } = {},
): Promise<AnyRoute[]> {
  return (await import('./all.js')).plainRoutes(rt, opts);
}
