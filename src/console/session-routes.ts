import { cutText, GatehouseError } from '../core/index.js';
import type { Person, ScreenView, SessionInfo } from '../ssh/index.js';
import { when } from './approval-pages.js';
import { TERMINAL_SCRIPT } from './client-scripts.js';
import { html, raw, type Html } from './html.js';
import { redirect, send, sendJson, type Call, type ConsoleKit, type ConsoleRoute } from './kit.js';
import { TerminalTickets, openTerminal } from './terminal.js';
import { layout, notice, noticeOf } from './pages.js';

/** One session as the console's terminal shows it. */
export interface SessionView {
  info: SessionInfo;
  /** The console session (hash) of the person holding the terminal, if one does. */
  holder: string | undefined;
  /** The current screen, scrubbed. */
  screen: ScreenView | undefined;
}

/**
 * What a person at the console may see and do to the interactive sessions of every process that
 * shares the store (this one's, and those of a local `gatehouse mcp`: src/server/session-host.ts).
 */
export interface SessionControl {
  list(): Promise<SessionInfo[]>;
  info(id: string): Promise<SessionInfo | undefined>;
  view(id: string): Promise<SessionView | undefined>;
  /** Calls `changed` when the screen or the control state changes, until the returned function is called. */
  watch(id: string, changed: () => void): Promise<(() => void) | undefined>;
  takeOver(id: string, person: Person): Promise<SessionInfo>;
  giveBack(id: string, person: Person, note: string): Promise<SessionInfo>;
  personInput(id: string, holder: string, data: string): Promise<void>;
  terminate(id: string, reason: string): Promise<SessionInfo | undefined>;
  dismissHandoff(id: string): Promise<boolean>;
}

/** What the sessions pages need of the process. */
export interface SessionControlPorts {
  sessionControl(): Promise<SessionControl>;
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
  const waiting = (await (await kit.rt.sessionControl()).list()).filter((s) => !s.closed && s.handoff);
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

/** The state a person reads at a glance: who holds the terminal, or whether it waits or idles. */
export function sessionState(
  x: SessionInfo,
  now: number,
): 'person in control' | 'waiting for a person' | 'idle' | 'agent in control' {
  if (x.control === 'person') return 'person in control';
  if (x.handoff) return 'waiting for a person';
  return now - Date.parse(x.lastActivityAt) > IDLE_AFTER_MS ? 'idle' : 'agent in control';
}

/** A session with no input or output for this long shows as idle. */
const IDLE_AFTER_MS = 60_000;

function endForms(c: Call, id: string): Html {
  const csrf = c.page!.csrf;
  return html`<form method="post" action="/console/sessions/${id}/terminate">
      <input type="hidden" name="csrf" value="${csrf}" />
      <button class="deny" type="submit">Terminate</button>
    </form>
    <form method="post" action="/console/sessions/${id}/terminate-revoke">
      <input type="hidden" name="csrf" value="${csrf}" />
      <button class="deny" type="submit">Terminate and revoke token</button>
    </form>`;
}

function sessionsPage(c: Call, sessions: SessionInfo[], names: Map<string, string>, now: number): Html {
  const s = c.page!;
  const open = sessions.filter((x) => !x.closed);
  return layout({
    title: 'Sessions',
    nonce: c.nonce,
    session: s,
    current: 'sessions',
    wide: true,
    body: html`<h1>SSH sessions</h1>
      ${notice(noticeOf(c.ctx.url))}
      <p class="muted">
        Interactive sessions of this server's agents (Streamable HTTP) and of every local <code>gatehouse mcp</code> on
        this store (Claude Code and other stdio clients). Open one to watch its terminal live, take it over for a sudo
        or 2FA prompt, and hand it back.
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
                    <th>State</th>
                    <th>Last command</th>
                    <th>Opened</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  ${open.map((x) => {
                    const id = encodeURIComponent(x.id);
                    return html`<tr>
                      <td>
                        <a href="/console/sessions/${id}">${x.id}</a>
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
                      <td>
                        ${sessionState(x, now)}${x.controlledBy ? html` (${x.controlledBy.label})` : null}
                        <br /><span class="muted">active ${when(x.lastActivityAt, now)}</span>
                      </td>
                      <td>${x.lastInput ? html`<code>${x.lastInput}</code>` : html`<span class="muted">—</span>`}</td>
                      <td>${when(x.openedAt, now)}</td>
                      <td>
                        <a href="/console/sessions/${id}">Watch</a>
                        ${endForms(c, id)}
                      </td>
                    </tr>`;
                  })}
                </tbody>
              </table>
            </div>`
      }`,
  });
}

/** One session: its live terminal, and Take over / Return to AI / Terminate. */
function sessionPage(c: Call, x: SessionInfo, tokenName: string, mine: boolean, now: number): Html {
  const s = c.page!;
  const id = encodeURIComponent(x.id);
  return layout({
    title: `Session ${x.target}`,
    nonce: c.nonce,
    session: s,
    current: 'sessions',
    wide: true,
    script: TERMINAL_SCRIPT,
    body: html`<h1>Session on ${x.target}</h1>
      ${notice(noticeOf(c.ctx.url))}
      <div class="card">
        <div class="meta">
          <span>Token <strong>${tokenName}</strong></span>
          <span>Opened ${when(x.openedAt, now)}</span>
          <span
            >State
            <strong id="term-state"
              >${sessionState(x, now)}${x.controlledBy ? ` (${x.controlledBy.label})` : ''}</strong
            ></span
          >
          <span id="live" class="live" data-state="off">connecting…</span>
        </div>
        ${
          x.handoff
            ? html`<p class="notice" role="alert">
                The agent asks for a person (${when(x.handoff.at, now)}): “${x.handoff.message}”
              </p>`
            : null
        }
        <pre
          id="terminal"
          class="terminal"
          tabindex="0"
          data-session="${x.id}"
          aria-label="Terminal of session ${x.id}"
          aria-live="off"
        ></pre>
        <p class="muted" id="term-help">
          ${
            mine
              ? 'You hold the terminal: click it and type. The agent sees none of it.'
              : 'Watching. Take over to type; the agent is then refused and sees none of what you type or see.'
          }
        </p>
        <div class="actions">
          <form method="post" action="/console/sessions/${id}/takeover" data-takeover="${x.id}">
            <input type="hidden" name="csrf" value="${s.csrf}" />
            <input type="hidden" name="assertion" value="" />
            <button class="approve" type="submit" ${mine ? raw('disabled') : null}>Take over</button>
          </form>
          <form method="post" action="/console/sessions/${id}/return" class="return">
            <input type="hidden" name="csrf" value="${s.csrf}" />
            <label
              >Note for the agent
              <input name="note" type="text" maxlength="1000" placeholder="e.g. sudo done; carry on with the upgrade" />
            </label>
            <button type="submit" ${x.control === 'agent' ? raw('disabled') : null}>Return to AI</button>
          </form>
          ${endForms(c, id)}
        </div>
      </div>
      <p><a href="/console/sessions">← Sessions</a></p>`,
  });
}

/**
 * The sessions pages: this process's interactive SSH sessions, the agents asking for a person
 * (`ssh_session_handoff`), a live terminal per session (terminal.ts), Take over (a passkey touch
 * bound to the session when passkeys are required: it gives a person's browser the keyboard of a
 * live shell), Return to AI with a note, Terminate, and Terminate-and-revoke. Every action is
 * audited. Ending a session or a token, or handing a terminal back, only takes power from the
 * person at the console, so none of those needs a passkey.
 */
export function sessionRoutes(kit: ConsoleKit): ConsoleRoute[] {
  const tickets = new TerminalTickets(kit.now);
  const person = (c: Call): Person => ({ holder: c.session!.idHash, label: `console:${c.session!.label}` });
  const names = async () => new Map((await kit.rt.tokens.list()).map((t) => [t.id, t.name]));

  const page = kit.route('GET', '/console/sessions', true, async (c) => {
    const ctl = await kit.rt.sessionControl();
    send(c.res, 200, c.nonce, sessionsPage(c, await ctl.list(), await names(), kit.now()));
  });

  const one = kit.route('GET', '/console/sessions/:id', true, async (c) => {
    const id = c.ctx.params.id ?? '';
    const ctl = await kit.rt.sessionControl();
    const v = await ctl.view(id);
    if (!v || v.info.closed) throw new GatehouseError('not_found', 'no such open session (it may have closed)');
    const x = v.info;
    const mine = v.holder === c.session!.idHash;
    send(c.res, 200, c.nonce, sessionPage(c, x, (await names()).get(x.owner) ?? x.owner, mine, kit.now()));
  });

  const terminal = kit.upgradeRoute('/console/sessions/:id/terminal', async (u) =>
    openTerminal(kit, tickets, await kit.rt.sessionControl(), u),
  );

  const act = kit.route('POST', '/console/sessions/:id/:action', true, async (c) => {
    const id = c.ctx.params.id ?? '';
    const action = c.ctx.params.action;
    const ctl = await kit.rt.sessionControl();
    const back = `/console/sessions/${encodeURIComponent(id)}`;
    if (action === 'ticket') {
      if (!(await ctl.info(id))) return sendJson(c.res, 404, c.nonce, { error: 'no such open session' });
      return sendJson(c.res, 200, c.nonce, { ticket: tickets.issue(c.session!.idHash, id) });
    }
    if (action === 'dismiss') {
      if (!(await ctl.dismissHandoff(id))) throw new GatehouseError('not_found', 'no such open session');
      await kit.audit(c, 'handoff_dismissed', { session: id });
      return redirect(c.res, c.nonce, '/console/sessions');
    }
    if (action === 'takeover') {
      const x = await ctl.info(id);
      if (!x || x.closed) throw new GatehouseError('not_found', 'no such open session');
      // INVARIANT: with passkeys required, a cookie alone never takes a live shell's keyboard.
      const gate = await kit.passkeyGate(c, 'takeover', id, back);
      if (typeof gate === 'string') {
        await kit.audit(c, 'session_takeover_refused', { sshSession: id, target: x.target, reason: 'passkey' });
        return redirect(c.res, c.nonce, gate);
      }
      const from = x.controlledBy?.label;
      await ctl.takeOver(id, person(c));
      await kit.audit(c, 'session_takeover', {
        sshSession: id,
        target: x.target,
        tokenId: x.owner,
        ...(from ? { from } : {}),
        ...(gate ? { passkey: gate.passkey } : {}),
      });
      return redirect(c.res, c.nonce, `${back}?n=session-taken`);
    }
    if (action === 'return') {
      const x = await ctl.info(id);
      if (!x || x.closed) throw new GatehouseError('not_found', 'no such open session');
      const note = cutText(c.form.get('note') ?? '', 1000);
      await ctl.giveBack(id, person(c), note);
      await kit.audit(c, 'session_returned', { sshSession: id, target: x.target, tokenId: x.owner, note });
      return redirect(c.res, c.nonce, `${back}?n=session-returned`);
    }
    if (action !== 'terminate' && action !== 'terminate-revoke')
      throw new GatehouseError('not_found', 'no such session action');
    const ended = await ctl.terminate(id, `terminated by console:${c.session!.label}`);
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

  return [page, terminal, one, act];
}
