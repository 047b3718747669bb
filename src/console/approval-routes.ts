import { isApprovalId } from '../approvals/index.js';
import { GatehouseError, toGatehouseError } from '../core/index.js';
import { approvalPage, inboxEvent, inboxPage } from './approval-pages.js';
import { ApprovalsFeed } from './approvals-feed.js';
import { redirect, send, type ConsoleKit, type ConsoleRoute } from './kit.js';
import { lastEventId, openStream, pollWhileOpen } from './live.js';
import { noticeOf } from './pages.js';
import { approvalBinding } from './passkey-routes.js';
import { relyingParty } from './passkeys.js';
import { handoffs } from './session-routes.js';

const MAX_REASON = 2000;
/** Default poll for changes made by any process while an inbox is open. */
const POLL_MS = 1000;

/** The approvals inbox: the page, one approval's deep link, the decide forms and the live stream. */
export function approvalRoutes(kit: ConsoleKit): ConsoleRoute[] {
  const rt = kit.rt;
  const now = kit.now;
  const pollMs = kit.opts.pollMs ?? POLL_MS;
  const feed = new ApprovalsFeed(
    rt.approvals,
    async () => (await rt.accessPorts()).requests,
    () => handoffs(kit),
    {
      freshMs: Math.max(1, pollMs / 2),
    },
  );

  const inbox = kit.route('GET', '/console', true, async (c) => {
    const state = await feed.state({ now: true });
    send(
      c.res,
      200,
      c.nonce,
      inboxPage({
        nonce: c.nonce,
        session: c.page!,
        state,
        now: now(),
        notice: noticeOf(c.ctx.url),
      }),
    );
  });

  const one = kit.route('GET', '/console/approvals/:id', true, async (c) => {
    const id = c.ctx.params.id ?? '';
    const a = isApprovalId(id) ? await rt.approvals.get(id) : null;
    if (!a) return redirect(c.res, c.nonce, '/console/?n=notfound');
    send(
      c.res,
      200,
      c.nonce,
      approvalPage({ nonce: c.nonce, session: c.page!, approval: a, now: now(), notice: noticeOf(c.ctx.url) }),
    );
  });

  const decide = kit.route('POST', '/console/approvals/:id/:decision', true, async (c) => {
    const id = c.ctx.params.id ?? '';
    const asked = c.ctx.params.decision;
    const decision = asked === 'approve' ? 'approved' : asked === 'deny' ? 'denied' : undefined;
    if (!decision) throw new GatehouseError('not_found', 'no such console action');
    if (!isApprovalId(id)) return redirect(c.res, c.nonce, '/console/?n=notfound');
    const reason = decision === 'denied' ? (c.form.get('reason') ?? '').trim() : '';
    if (reason.length > MAX_REASON)
      throw new GatehouseError('invalid_input', `the reason is over ${MAX_REASON} characters`);
    const session = c.session!;
    // INVARIANT: with a passkey registered, approving needs a fresh user-verified assertion whose
    // challenge is bound to this approval's id and action digest (a cookie alone approves
    // nothing: every server on localhost gets it). Denying never needs one.
    let passkey: string | undefined;
    if (decision === 'approved' && c.page!.passkeys) {
      const refuse = async (n: string, why: string) => {
        await kit.audit(c, 'approve_refused', { approval: id, reason: why });
        return redirect(c.res, c.nonce, `/console/approvals/${id}?n=${n}`);
      };
      const rp = relyingParty(c.origin);
      if (!rp) return refuse('passkey-host', 'passkey-host');
      const answer = c.form.get('assertion') ?? '';
      if (answer === '') return refuse('passkey', 'passkey-missing');
      const a = await rt.approvals.get(id);
      if (!a) {
        await kit.audit(c, 'approve_refused', { approval: id, reason: 'notfound' });
        return redirect(c.res, c.nonce, '/console/?n=notfound');
      }
      try {
        const used = await (await kit.passkeys()).verify(rp, 'approve', approvalBinding(a), session.idHash, answer);
        passkey = `${used.label} (${used.fingerprint})`;
      } catch (e) {
        const err = toGatehouseError(e);
        if (err.code !== 'approval_invalid') throw e;
        return refuse('passkey-failed', `passkey:${(err.details as { reason?: string } | undefined)?.reason ?? '?'}`);
      }
    }
    try {
      // INVARIANT: a token never decides an approval its own action waits for, in the console
      // too: a session opened with a token decides as that token (`notTokenId`). The first
      // decision wins (the service decides in one conditional UPDATE).
      await rt.approvals.decide(id, decision, {
        by: `console:${session.label}`,
        channel: 'console',
        ...(reason ? { note: reason } : {}),
        ...(session.tokenId !== null ? { notTokenId: session.tokenId } : {}),
      });
    } catch (e) {
      const err = toGatehouseError(e);
      const why = (err.details as { reason?: string } | undefined)?.reason;
      const n =
        err.code === 'not_granted'
          ? 'own'
          : err.code === 'not_found'
            ? 'notfound'
            : why === 'expired'
              ? 'expired'
              : err.code === 'conflict' || err.code === 'approval_invalid'
                ? 'already'
                : null;
      if (n === null) throw e;
      await kit.audit(c, `${asked}_refused`, { approval: id, reason: n });
      return redirect(c.res, c.nonce, n === 'notfound' ? '/console/?n=notfound' : `/console/approvals/${id}?n=${n}`);
    }
    await kit.audit(c, asked!, { approval: id, ...(reason ? { note: reason } : {}), ...(passkey ? { passkey } : {}) });
    redirect(c.res, c.nonce, `/console/?n=${decision}`);
  });

  /**
   * The inbox's live stream. Each event is the whole inbox state with its version as the event
   * id; a browser that comes back with the version it has (Last-Event-ID, or `?after=` from the
   * page) gets the next state only when there is one, any other gets the current state at once.
   */
  const events = kit.route(
    'GET',
    '/console/events',
    true,
    async (c) => {
      const stream = openStream(kit, c);
      if (!stream) return;
      let shown = lastEventId(c);
      await pollWhileOpen(stream, pollMs, async () => {
        const state = await feed.state();
        if (state.version === shown) return false;
        if (await stream.send('inbox', state.version, inboxEvent(state, c.page!, now()))) shown = state.version;
        return false;
      });
    },
    { touch: false, sameOriginOnly: true },
  );

  return [inbox, one, decide, events];
}
