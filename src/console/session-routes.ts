import { GatehouseError } from '../core/index.js';
import type { SessionInfo, SshSessionManager } from '../ssh/index.js';
import { when } from './approval-pages.js';
import { html, type Html } from './html.js';
import { redirect, send, type Call, type ConsoleKit, type ConsoleRoute } from './kit.js';
import { layout, notice, noticeOf } from './pages.js';

/** What the sessions page needs of the process's session manager (null: none was ever opened here). */
export interface SessionControlPorts {
  sessionControl(): Promise<Pick<SshSessionManager, 'list' | 'terminate' | 'dismissHandoff'> | null>;
}

/** A session waiting for a person, for the inbox's banner. */
export interface Handoff {
  id: string;
  target: string;
  tokenName: string;
  message: string;
  at: string;
}

/** The sessions of this process whose agent asked for a person, with token names. */
export async function handoffs(kit: ConsoleKit): Promise<Handoff[]> {
  const ctl = await kit.rt.sessionControl();
  const waiting = ctl?.list().filter((s) => !s.closed && s.handoff) ?? [];
  if (waiting.length === 0) return [];
  const names = new Map((await kit.rt.tokens.list()).map((t) => [t.id, t.name]));
  return waiting.map((s) => ({
    id: s.id,
    target: s.target,
    tokenName: names.get(s.owner) ?? s.owner,
    message: s.handoff!.message,
    at: s.handoff!.at,
  }));
}

/** The inbox's banner: agents asking a person to step in on a session. */
export function handoffBanner(list: readonly Handoff[], now: number): Html {
  if (list.length === 0) return html``;
  return html`${list.map(
    (h) =>
      html`<p class="notice" role="alert">
        <strong>${h.tokenName}</strong> asks a person to take over session ${h.id} on
        <strong>${h.target}</strong> (${when(h.at, now)}): “${h.message}” <a href="/console/sessions">Sessions →</a>
      </p>`,
  )}`;
}

function sessionsPage(c: Call, sessions: SessionInfo[] | null, names: Map<string, string>, now: number): Html {
  const s = c.page!;
  const open = (sessions ?? []).filter((x) => !x.closed);
  return layout({
    title: 'Sessions',
    nonce: c.nonce,
    session: s,
    current: 'sessions',
    wide: true,
    body: html`<h1>SSH sessions</h1>
      ${notice(noticeOf(c.ctx.url))}
      <p class="muted">
        Interactive sessions this server holds (agents over Streamable HTTP). Sessions a local
        <code>gatehouse mcp</code> holds live in that process and are not listed here. Watching and taking over a live
        terminal come next; for now you can see who asks for you, and end a session.
      </p>
      ${
        open.length === 0
          ? html`<p class="empty">No open sessions.</p>`
          : html`<div class="table">
              <table>
                <thead>
                  <tr>
                    <th>Session</th>
                    <th>Target</th>
                    <th>Token</th>
                    <th>Opened</th>
                    <th>Last activity</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  ${open.map((x) => {
                    const id = encodeURIComponent(x.id);
                    return html`<tr>
                      <td>
                        ${x.id}
                        ${
                          x.handoff
                            ? html`<p class="notice" role="alert">
                                  Asks for a person (${when(x.handoff.at, now)}): “${x.handoff.message}”
                                </p>
                                <form method="post" action="/console/sessions/${id}/dismiss">
                                  <input type="hidden" name="csrf" value="${s.csrf}" />
                                  <button class="link" type="submit">Dismiss</button>
                                </form>`
                            : null
                        }
                      </td>
                      <td>${x.target}</td>
                      <td>${names.get(x.owner) ?? x.owner}</td>
                      <td>${when(x.openedAt, now)}</td>
                      <td>${when(x.lastActivityAt, now)}</td>
                      <td>
                        <form method="post" action="/console/sessions/${id}/terminate">
                          <input type="hidden" name="csrf" value="${s.csrf}" />
                          <button class="deny" type="submit">Terminate</button>
                        </form>
                        <form method="post" action="/console/sessions/${id}/terminate-revoke">
                          <input type="hidden" name="csrf" value="${s.csrf}" />
                          <button class="deny" type="submit">Terminate and revoke token</button>
                        </form>
                      </td>
                    </tr>`;
                  })}
                </tbody>
              </table>
            </div>`
      }`,
  });
}

/**
 * The sessions page: this process's interactive SSH sessions, the agents asking for a person
 * (`ssh_session_handoff`), Terminate, and Terminate-and-revoke. Every action is audited. Ending a
 * session or a token only takes power away, so none needs a passkey.
 */
export function sessionRoutes(kit: ConsoleKit): ConsoleRoute[] {
  const page = kit.route('GET', '/console/sessions', true, async (c) => {
    const ctl = await kit.rt.sessionControl();
    const names = new Map((await kit.rt.tokens.list()).map((t) => [t.id, t.name]));
    send(c.res, 200, c.nonce, sessionsPage(c, ctl ? ctl.list() : null, names, kit.now()));
  });

  const act = kit.route('POST', '/console/sessions/:id/:action', true, async (c) => {
    const id = c.ctx.params.id ?? '';
    const action = c.ctx.params.action;
    const ctl = await kit.rt.sessionControl();
    if (action === 'dismiss') {
      if (!ctl?.dismissHandoff(id)) throw new GatehouseError('not_found', 'no such open session');
      await kit.audit(c, 'handoff_dismissed', { session: id });
      return redirect(c.res, c.nonce, '/console/sessions');
    }
    if (action !== 'terminate' && action !== 'terminate-revoke')
      throw new GatehouseError('not_found', 'no such session action');
    const ended = ctl?.terminate(id, `terminated by console:${c.session!.label}`);
    if (!ended) throw new GatehouseError('not_found', 'no such open session');
    if (action === 'terminate-revoke') {
      const t = (await kit.rt.tokens.list()).find((x) => x.id === ended.owner);
      if (t && !t.admin) await kit.rt.tokens.revoke(t.id);
      await kit.audit(c, 'session_terminated', {
        session: id,
        target: ended.target,
        tokenRevoked: t && !t.admin ? t.id : null,
      });
      return redirect(c.res, c.nonce, '/console/sessions?n=session-revoked');
    }
    await kit.audit(c, 'session_terminated', { session: id, target: ended.target });
    redirect(c.res, c.nonce, '/console/sessions?n=session-ended');
  });

  return [page, act];
}
