import { html, raw, type Html } from './html.js';
import { PASSKEY_SCRIPT } from './client-scripts.js';
import { STYLESHEET } from './style.js';

/** What every page of a logged-in session needs: who, and the token its forms carry. */
export interface PageSession {
  label: string;
  csrf: string;
  /** A passkey is registered: approving (and changing passkeys) needs a fresh passkey touch. */
  passkeys: boolean;
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
  passkey: {
    text: 'Approving needs a fresh touch of a registered passkey. This page asks for it with JavaScript: allow scripts for the console, then approve again.',
  },
  'passkey-failed': {
    text: 'The passkey answer did not verify (cancelled, expired, or for another request). Nothing was decided.',
  },
  'passkey-host': {
    text: 'Passkeys need the console’s name, not an IP address: open it at http://localhost:PORT (gatehouse console prints the link).',
  },
  'passkey-setup': {
    text: 'The first passkey needs a valid setup code: run gatehouse console --passkey-setup on the server and paste the code it prints (good once, for 10 minutes).',
  },
  'passkey-added': { text: 'Passkey added. Approvals now need a passkey touch.', ok: true },
  'access-approved': {
    text: 'Approved: the target exists with its credential sealed, and the token holds it. The agent sees it in discover.',
    ok: true,
  },
  'access-denied': { text: 'Access request denied.', ok: true },
  'session-ended': { text: 'Session terminated. The agent’s next call on it says it is closed.', ok: true },
  'session-revoked': { text: 'Session terminated and its token revoked.', ok: true },
  'session-taken': {
    text: 'You hold the terminal. The agent is refused until you return it, and sees none of what you type or see.',
    ok: true,
  },
  'session-returned': { text: 'Returned to the agent with your note.', ok: true },
  'proposal-accepted': { text: 'Accepted: the team’s memory has the change, as a version by you.', ok: true },
  'proposal-rejected': { text: 'Proposal rejected.', ok: true },
  'skill-published': { text: 'Published: every agent of the team reads this version now.', ok: true },
  'event-replayed': { text: 'The event is pending again; the next poll delivers it.', ok: true },
  'host-key-pinned': { text: 'Host key pinned: the target connects only to a server that holds it.', ok: true },
  'secret-set': { text: 'Value set. It is sealed and will not be shown again.', ok: true },
  'grant-removed': { text: 'Grant removed: every process stops honouring it within a second.', ok: true },
  'token-revoked': {
    text: 'Token revoked: every process refuses it within a second, and its SSH sessions close at the next sweep.',
    ok: true,
  },
  'passkey-removed': { text: 'Passkey removed.', ok: true },
};

/** The notice a redirect asked for (`?n=`), when it is one of NOTICES. */
export function noticeOf(url: URL): string | null {
  const n = url.searchParams.get('n');
  return n !== null && Object.hasOwn(NOTICES, n) ? n : null;
}

export function notice(code: string | null): Html | null {
  const n = code !== null && Object.hasOwn(NOTICES, code) ? NOTICES[code] : undefined;
  return n ? html`<p class="${n.ok ? 'notice ok' : 'notice'}" role="status">${n.text}</p>` : null;
}

/** Every page in the navigation, in order. */
type PageKey =
  | 'approvals'
  | 'sessions'
  | 'audit'
  | 'connect'
  | 'tokens'
  | 'targets'
  | 'vault'
  | 'webhooks'
  | 'memory'
  | 'skills'
  | 'wiki'
  | 'passkeys';
const NAV: readonly (readonly [PageKey, string, string])[] = [
  ['approvals', '/console/', 'Approvals'],
  ['sessions', '/console/sessions', 'Sessions'],
  ['audit', '/console/audit', 'Audit'],
  ['connect', '/console/connect', 'Connect'],
  ['tokens', '/console/tokens', 'Tokens'],
  ['targets', '/console/targets', 'Targets'],
  ['vault', '/console/vault', 'Vault'],
  ['webhooks', '/console/webhooks', 'Webhooks'],
  ['memory', '/console/memory', 'Memory'],
  ['skills', '/console/skills', 'Skills'],
  ['wiki', '/console/wiki', 'Wiki'],
  ['passkeys', '/console/passkeys', 'Passkeys'],
];

/** The page frame: strict CSP nonce on the one <style> (and a script only where a page needs one). */
export function layout(o: {
  title: string;
  nonce: string;
  session?: PageSession;
  body: Html;
  script?: string;
  current?: PageKey;
  /** A wide page (tables). */
  wide?: boolean;
}): Html {
  const s = o.session;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <link rel="icon" href="/console/favicon.svg" type="image/svg+xml" />
        <title>${o.title} · Gatehouse</title>
        <style nonce="${o.nonce}">
          ${raw(STYLESHEET)}
        </style>
      </head>
      <body data-passkeys="${s?.passkeys ? 'required' : 'off'}" data-csrf="${s?.csrf ?? ''}">
        <header class="top">
          <span class="brand">Gatehouse</span>
          <nav>
            ${
              s
                ? NAV.map(
                    ([key, path, label]) =>
                      html`<a href="${path}" ${o.current === key ? raw('aria-current="page"') : null}>${label}</a>`,
                  )
                : null
            }
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
        <main class="${o.wide ? 'wide' : ''}">${o.body}</main>
        ${
          o.script !== undefined || s
            ? html`<script type="module" nonce="${o.nonce}">
                ${raw(`${s ? PASSKEY_SCRIPT : ''}\n${o.script ?? ''}`)};
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
