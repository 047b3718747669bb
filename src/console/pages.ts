import { describeForHuman, type Approval, type ApprovalPage } from '../approvals/index.js';
import { html, raw, type Html } from './html.js';
import { STYLESHEET } from './style.js';

/** What every page of a logged-in session needs: who, and the token its forms carry. */
export interface PageSession {
  label: string;
  csrf: string;
}

/** Notices a redirect may ask a page to show: a fixed vocabulary, never text from the request. */
export const NOTICES: Readonly<Record<string, { text: string; ok?: boolean }>> = {
  approved: { text: 'Approved. The agent can retry with the approval id.', ok: true },
  denied: { text: 'Denied. The agent receives your reason.', ok: true },
  already: { text: 'Someone decided this approval first; their decision stands.' },
  expired: { text: 'This approval expired before it was decided (expiry means deny).' },
  own: { text: 'A token cannot decide an approval its own action is waiting for: log in as someone else.' },
  notfound: { text: 'No such approval (it may have been purged).' },
  'logged-out': { text: 'Logged out.', ok: true },
};

function notice(code: string | null): Html | null {
  const n = code !== null && Object.hasOwn(NOTICES, code) ? NOTICES[code] : undefined;
  return n ? html`<p class="${n.ok ? 'notice ok' : 'notice'}" role="status">${n.text}</p>` : null;
}

/** The page frame: strict CSP nonce on the one <style> (and a script only where a page needs one). */
export function layout(o: {
  title: string;
  nonce: string;
  session?: PageSession;
  body: Html;
  script?: string;
  current?: 'approvals';
}): Html {
  const s = o.session;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>${o.title} · Gatehouse</title>
        <style nonce="${o.nonce}">
          ${raw(STYLESHEET)}
        </style>
      </head>
      <body>
        <header class="top">
          <span class="brand">Gatehouse</span>
          <nav>
            ${s ? html`<a href="/console/" ${o.current === 'approvals' ? raw('aria-current="page"') : null}>Approvals</a>` : null}
          </nav>
          ${
            s
              ? html`<span class="who">${s.label}</span>
                  <form method="post" action="/console/logout">
                    <input type="hidden" name="csrf" value="${s.csrf}" /><button class="link" type="submit">
                      Log out
                    </button>
                  </form>`
              : null
          }
        </header>
        <main>${o.body}</main>
        ${
          o.script !== undefined
            ? html`<script type="module" nonce="${o.nonce}">
                ${raw(o.script)};
              </script>`
            : null
        }
      </body>
    </html> `;
}

/**
 * The login page's script: reads `#code=…` from the fragment (which never reaches the server or
 * its logs), takes it out of the address bar and history, and submits it with the page's form.
 */
const LOGIN_SCRIPT = `
const m = /^#code=([A-Za-z0-9_-]{1,100})$/.exec(location.hash);
if (m) {
  history.replaceState(null, '', location.pathname);
  const form = document.getElementById('code-form');
  form.elements.namedItem('code').value = m[1];
  document.getElementById('signing-in').hidden = false;
  form.submit();
}
`;

export function loginPage(nonce: string, o: { failed?: boolean; notice?: string | null } = {}): Html {
  return layout({
    title: 'Log in',
    nonce,
    script: LOGIN_SCRIPT,
    body: html`<div class="login card">
      <h1>Log in to the console</h1>
      ${notice(o.notice ?? null)}
      ${o.failed ? html`<p class="notice" role="alert">That login link or token is not valid: it is wrong, expired, already used, or not an admin token.</p>` : null}
      <p id="signing-in" class="notice ok" hidden>Signing you in…</p>
      <form method="post" action="/console/login" autocomplete="off">
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="off" spellcheck="false" required />
        <button class="approve" type="submit">Log in</button>
      </form>
      <details>
        <summary class="muted">Have a login code?</summary>
        <form id="code-form" method="post" action="/console/login" autocomplete="off">
          <label for="code">Login code from <code>gatehouse console</code></label>
          <input id="code" name="code" type="text" autocomplete="off" spellcheck="false" required />
          <button type="submit">Log in with code</button>
        </form>
      </details>
      <p class="muted">
        Run <code>gatehouse console</code> on the server for a one-time link (valid 60 s). Agent tokens cannot log in
        here.
      </p>
    </div>`,
  });
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

function when(iso: string, now: number): Html {
  const t = Date.parse(iso);
  const rel = t <= now ? `${ago(now - t)} ago` : `in ${ago(t - now)}`;
  return html`<time datetime="${iso}" title="${iso}">${rel}</time>`;
}

/** Who decided, how and when; an expired approval is said to be expired, never a person's denial. */
function decision(a: Approval, now: number): Html {
  if (a.status === 'expired' && !a.decidedAt)
    return html`<p class="muted">Nobody decided before it expired ${when(a.expiresAt, now)} (expiry means deny).</p>`;
  if (a.status === 'tampered')
    return html`<p class="notice">
      This record failed its integrity check: it was written or changed outside Gatehouse. It cannot be decided or used.
    </p>`;
  if (!a.decidedAt) return html``;
  return html`<p class="muted">
    ${a.status === 'denied' ? 'Denied' : 'Approved'} by <strong>${a.decidedBy ?? '?'}</strong> via ${a.channel ?? '?'}
    ${when(a.decidedAt, now)}${a.note ? html`: “${a.note}”` : null}${a.status === 'used' ? html` · used ${a.consumedAt ? when(a.consumedAt, now) : null}` : null}
  </p>`;
}

function approvalCard(a: Approval, s: PageSession, now: number): Html {
  const pending = a.status === 'pending';
  const id = encodeURIComponent(a.id);
  return html`<article class="card" id="${a.id}">
    <div class="meta">
      <span class="status ${a.status}">${a.status}</span>
      <span><strong>${a.tool}</strong>${a.target ? html` on <strong>${a.target}</strong>` : null}</span>
      <span>token <strong>${a.tokenName}</strong></span>
      <span>asked ${when(a.createdAt, now)}</span>
      ${pending ? html`<span>expires ${when(a.expiresAt, now)}</span>` : null}
      <a href="/console/approvals/${id}">${a.id}</a>
    </div>
    <pre>${describeForHuman(a, { now })}</pre>
    <dl>
      <dt>Rule</dt>
      <dd>${a.rule}</dd>
      <dt>Reason</dt>
      <dd>${a.reason}</dd>
      ${
        a.matched
          ? html`<dt>Matched</dt>
              <dd><code>${a.matched}</code></dd>`
          : null
      }
    </dl>
    ${
      pending
        ? html`<div class="actions">
            <form method="post" action="/console/approvals/${id}/approve">
              <input type="hidden" name="csrf" value="${s.csrf}" />
              <button class="approve" type="submit">Approve once</button>
            </form>
            <form class="deny" method="post" action="/console/approvals/${id}/deny">
              <input type="hidden" name="csrf" value="${s.csrf}" />
              <textarea
                name="reason"
                maxlength="2000"
                placeholder="Reason (the agent receives it)"
                aria-label="Reason for denying"
              ></textarea>
              <button class="deny" type="submit">Deny</button>
            </form>
          </div>`
        : decision(a, now)
    }
  </article>`;
}

/** The approvals inbox: what waits, with the forms to decide (no JavaScript needed), then recent decisions. */
export function inboxPage(o: {
  nonce: string;
  session: PageSession;
  pending: ApprovalPage;
  recent: readonly Approval[];
  now: number;
  notice: string | null;
}): Html {
  const p = o.pending;
  return layout({
    title: p.total > 0 ? `(${p.total}) Approvals` : 'Approvals',
    nonce: o.nonce,
    session: o.session,
    current: 'approvals',
    body: html`<h1>Approvals waiting <span class="muted">${p.total}</span></h1>
      ${notice(o.notice)}
      ${
        p.truncated
          ? html`<p class="notice">
              Showing ${p.approvals.length} of ${p.total}. Waiting per token:
              ${p.byToken.map((t, i) => html`${i > 0 ? ', ' : ''}${t.tokenName} ${t.count}`)}.
            </p>`
          : null
      }
      ${p.approvals.length === 0 ? html`<p class="empty">Nothing is waiting for a person.</p>` : p.approvals.map((a) => approvalCard(a, o.session, o.now))}
      <h2>Recently decided</h2>
      ${o.recent.length === 0 ? html`<p class="empty">No decisions yet.</p>` : o.recent.map((a) => approvalCard(a, o.session, o.now))}
      <p class="muted">This page does not update by itself yet: reload it to see new requests.</p>`,
  });
}

/** One approval (its deep link), pending or decided. */
export function approvalPage(o: {
  nonce: string;
  session: PageSession;
  approval: Approval;
  now: number;
  notice: string | null;
}): Html {
  return layout({
    title: `Approval ${o.approval.id}`,
    nonce: o.nonce,
    session: o.session,
    current: 'approvals',
    body: html`<p><a href="/console/">← All approvals</a></p>
      ${notice(o.notice)} ${approvalCard(o.approval, o.session, o.now)}`,
  });
}

export function errorPage(nonce: string, status: number, message: string, session?: PageSession): Html {
  return layout({
    title: `Error ${status}`,
    nonce,
    session,
    body: html`<div class="card">
      <h1>${status === 401 ? 'Please log in' : 'Request refused'}</h1>
      <p>${message}</p>
      <p><a href="/console/">Back to the console</a></p>
    </div>`,
  });
}
