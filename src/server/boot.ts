import { createApprovalService, type ApprovalService } from '../approvals/index.js';
import { log } from '../core/index.js';
import { allTools } from '../tools/index.js';
import { createApprover } from './approver.js';
import { Runtime, type RuntimeOptions } from './runtime.js';

/**
 * Opens a full runtime for this process: the whole tool set, and approvals wired into the gate
 * (every decision, consumption and code check is audited; an event that cannot be audited stops
 * the action).
 */
export async function bootRuntime(opts: RuntimeOptions = {}): Promise<Runtime & { approvals: ApprovalService }> {
  const runtime = await Runtime.open(opts);
  try {
    runtime.tools = allTools();
    const approvals = await createApprovalService({
      store: runtime.store,
      keys: runtime.keyring,
      ttlMs: runtime.config.approvals.ttl_seconds * 1000,
      onEvent: async (e) => {
        await runtime.audit.append({
          phase: 'event',
          tool: `approval.${e.kind}`,
          tokenId: e.tokenId,
          approver: e.by ? `${e.channel ?? '?'}:${e.by}` : undefined,
          outcome: e.outcome,
          detail: { approval: e.approvalId, channel: e.channel, note: e.note },
        });
      },
    });
    if (!opts.approver) runtime.setApprover(createApprover(approvals));
    return Object.assign(runtime, { approvals });
  } catch (e) {
    await runtime.close().catch((err) => log.warn('close failed', { err }));
    throw e;
  }
}
