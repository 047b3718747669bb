import type { AdminRoute, AdminRouteContext } from '../../approvals/index.js';
import { GatehouseError } from '../../core/index.js';
import type { Person } from '../../ssh/index.js';
import type { Runtime } from '../runtime.js';
import { adminAudit } from './admin-api.js';

const MAX_BODY = 64 * 1024;

function str(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new GatehouseError('invalid_input', `${what} must be a string`);
  return v;
}

/**
 * The admin JSON API for live SSH sessions (what the console's Sessions pages do), across every
 * process on the store: list, screen, take over, type, return with a note, dismiss a handoff,
 * terminate (and revoke the token). Admin token only.
 *
 * INVARIANTS: the caller holding control is the admin token (`api:<token id>`), so only the token
 * that took over can type; while it holds control the agent is refused (`human_control`) exactly
 * as when a person holds it in the console; every action but reading is an audit record with tool
 * `admin_api` (keystrokes are counted, never recorded).
 */
export function adminSessionRoutes(rt: Runtime): AdminRoute[] {
  const audit = adminAudit(rt);
  const person = (ctx: AdminRouteContext): Person => ({
    holder: `api:${ctx.principal.tokenId}`,
    label: `api:${ctx.principal.tokenName}`,
  });
  const open = async (id: string) => {
    const x = await (await rt.sessionControl()).info(id);
    if (!x || x.closed) throw new GatehouseError('not_found', 'no such open SSH session');
    return x;
  };

  return [
    {
      method: 'GET',
      path: '/admin/sessions',
      maxBodyBytes: 0,
      handle: async () => ({ sessions: (await (await rt.sessionControl()).list()).filter((s) => !s.closed) }),
    },
    {
      method: 'GET',
      path: '/admin/sessions/:id',
      maxBodyBytes: 0,
      handle: async (ctx) => {
        const v = await (await rt.sessionControl()).view(ctx.params.id ?? '');
        if (!v) throw new GatehouseError('not_found', 'no such open SSH session');
        return { info: v.info, screen: v.screen ?? null, mine: v.holder === person(ctx).holder };
      },
    },
    {
      method: 'POST',
      path: '/admin/sessions/:id/:action',
      maxBodyBytes: MAX_BODY,
      handle: async (ctx) => {
        const id = ctx.params.id ?? '';
        const action = ctx.params.action;
        const ctl = await rt.sessionControl();
        const x = await open(id);
        switch (action) {
          case 'takeover': {
            const info = await ctl.takeOver(id, person(ctx));
            await audit(ctx, 'session_takeover', { sshSession: id, target: x.target, tokenId: x.owner });
            return { info };
          }
          case 'input':
            await ctl.personInput(id, person(ctx).holder, str(ctx.body.data, 'data'));
            return { ok: true };
          case 'return': {
            const note = ctx.body.note === undefined ? '' : str(ctx.body.note, 'note');
            const info = await ctl.giveBack(id, person(ctx), note);
            await audit(ctx, 'session_returned', { sshSession: id, target: x.target, tokenId: x.owner, note });
            return { info };
          }
          case 'dismiss':
            await ctl.dismissHandoff(id);
            await audit(ctx, 'handoff_dismissed', { sshSession: id });
            return { ok: true };
          case 'terminate':
          case 'terminate-revoke': {
            const ended = await ctl.terminate(id, `terminated by api:${ctx.principal.tokenName}`);
            if (!ended) throw new GatehouseError('not_found', 'no such open SSH session');
            const t =
              action === 'terminate-revoke' ? await rt.tokens.get(ended.owner).catch(() => undefined) : undefined;
            if (t && !t.admin) await rt.tokens.revoke(t.id);
            await audit(ctx, 'session_terminated', {
              sshSession: id,
              target: ended.target,
              ...(action === 'terminate-revoke' ? { tokenRevoked: t && !t.admin ? t.id : null } : {}),
            });
            return { info: ended };
          }
          default:
            throw new GatehouseError(
              'not_found',
              'session actions: takeover, input, return, dismiss, terminate, terminate-revoke',
            );
        }
      },
    },
  ];
}
