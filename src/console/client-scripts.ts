/**
 * The console's browser scripts: plain ES modules sent in a nonce'd <script> (the CSP allows no
 * other). They only make pages live: every form works without them.
 *
 * INVARIANT: the scripts never build markup from data. Markup comes whole from the server, which
 * renders it with the escaping templates (html.ts); data the scripts use themselves (a
 * notification's text, a count) goes in through `textContent` or the Notification API, as text.
 */

/** Keeps `<time data-rel>` showing "12 s ago" / "in 9 min" while the page stays open. */
const RELATIVE_TIMES = `
function ago(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return s + ' s';
  if (s < 7200) return Math.round(s / 60) + ' min';
  return Math.round(s / 3600) + ' h';
}
function refreshTimes(root) {
  const now = Date.now();
  for (const t of root.querySelectorAll('time[data-rel]')) {
    const at = Date.parse(t.getAttribute('datetime'));
    if (!Number.isNaN(at)) t.textContent = at <= now ? ago(now - at) + ' ago' : 'in ' + ago(at - now);
  }
}
setInterval(() => refreshTimes(document), 5000);
`;

/** Shows whether the page's live stream is up. */
const LIVE_BADGE = `
const badge = document.getElementById('live');
function liveState(state, text) {
  if (!badge) return;
  badge.dataset.state = state;
  badge.textContent = text;
}
function fragment(markup) {
  const t = document.createElement('template');
  t.innerHTML = markup;
  return t.content;
}
`;

/**
 * The approvals inbox: follows /console/events (server-sent events). Each event is the whole
 * inbox state, so a reconnect (the browser resends the last event id) never leaves a gap. Cards
 * are placed by approval id: a card already shown is left alone (a reason being typed survives),
 * new ones are added, decided ones leave.
 */
export const INBOX_SCRIPT = `${RELATIVE_TIMES}${LIVE_BADGE}
const pending = document.getElementById('pending');
const empty = document.getElementById('pending-empty');
const count = document.getElementById('pending-count');
const notifyButton = document.getElementById('notify');
const known = new Set([...pending.querySelectorAll(':scope > article.card')].map((c) => c.id));
const knownHandoffs = new Set();
let firstState = true;

function cards() {
  return [...pending.querySelectorAll(':scope > article.card')];
}

function apply(s) {
  const want = new Set(s.pending.map((p) => p.id));
  for (const card of cards()) if (!want.has(card.id)) card.remove();
  let before = empty;
  const fresh = [];
  for (const p of s.pending) {
    let card = cards().find((c) => c.id === p.id);
    if (!card) {
      card = fragment(p.html).firstElementChild;
      if (!known.has(p.id)) fresh.push(p);
      known.add(p.id);
    }
    if (before.nextElementSibling !== card) before.after(card);
    before = card;
  }
  empty.hidden = s.pending.length > 0;
  count.textContent = String(s.total);
  document.title = s.total > 0 ? '(' + s.total + ') Approvals · Gatehouse' : 'Approvals · Gatehouse';
  document.getElementById('truncation').replaceChildren(fragment(s.truncation));
  document.getElementById('recent').replaceChildren(fragment(s.recent));
  document.getElementById('requests').replaceChildren(fragment(s.requests));
  document.getElementById('handoffs').replaceChildren(fragment(s.handoffs));
  document.getElementById('request-count').textContent = String(s.requestCount);
  pending.dataset.version = s.version;
  refreshTimes(document);
  const asks = s.handoffList.filter((h) => !knownHandoffs.has(h.id));
  for (const h of s.handoffList) knownHandoffs.add(h.id);
  const notify = 'Notification' in window && Notification.permission === 'granted'
    && localStorage.getItem('gatehouse-notify') === 'on';
  if (notify) {
    for (const p of fresh.slice(0, 3)) new Notification('Gatehouse: approval waiting', { body: p.summary, tag: p.id });
    if (!firstState) for (const h of asks.slice(0, 3)) new Notification('Gatehouse: an agent asks for you', { body: h.summary, tag: h.id });
  }
  firstState = false;
}

const stream = new EventSource('/console/events?after=' + encodeURIComponent(pending.dataset.version));
stream.addEventListener('open', () => liveState('on', 'Live'));
stream.addEventListener('error', () => liveState('retrying', 'Reconnecting…'));
stream.addEventListener('inbox', (e) => apply(JSON.parse(e.data)));
stream.addEventListener('ended', () => {
  stream.close();
  location.assign('/console/login');
});

if ('Notification' in window && notifyButton) {
  const label = () => {
    const on = Notification.permission === 'granted' && localStorage.getItem('gatehouse-notify') === 'on';
    notifyButton.textContent = on ? 'Notifications on' : 'Notify me';
  };
  notifyButton.hidden = false;
  label();
  notifyButton.addEventListener('click', async () => {
    if (localStorage.getItem('gatehouse-notify') === 'on') localStorage.removeItem('gatehouse-notify');
    else if ((await Notification.requestPermission()) === 'granted') localStorage.setItem('gatehouse-notify', 'on');
    label();
  });
}

// Keyboard: j/k move between waiting requests, a approves the focused one, d goes to its reason.
document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey) return;
  const el = document.activeElement;
  if (el && (el.tagName === 'TEXTAREA' || el.tagName === 'INPUT')) {
    if (e.key === 'Escape') el.blur();
    return;
  }
  const list = cards();
  const at = list.indexOf(el && el.closest ? el.closest('article.card') : null);
  if (e.key === 'j' || e.key === 'k') {
    const next = list[Math.min(list.length - 1, Math.max(0, at + (e.key === 'j' ? 1 : -1)))];
    if (next) { next.focus(); next.scrollIntoView({ block: 'nearest' }); }
  } else if (e.key === 'a' && at >= 0) {
    list[at].querySelector('form[data-approve]').requestSubmit();
  } else if (e.key === 'd' && at >= 0) {
    e.preventDefault();
    list[at].querySelector('textarea[name=reason]').focus();
  }
});
`;

/**
 * The audit page's live tail: follows /console/audit/stream with the page's filters. Each event
 * carries new records (rendered rows, oldest first: each goes on top) and its id is the position read up to, which the browser
 * resends on a reconnect, so the tail resumes where it stopped. Rows are placed by seq and a row
 * already shown is never shown twice.
 */
export const AUDIT_SCRIPT = `${RELATIVE_TIMES}${LIVE_BADGE}
const body = document.getElementById('audit-rows');
const toggle = document.getElementById('tail');
let stream = null;

function follow() {
  const url = new URL('/console/audit/stream', location.href);
  for (const [k, v] of new URLSearchParams(location.search)) if (k !== 'before' && k !== 'after') url.searchParams.set(k, v);
  url.searchParams.set('after', body.dataset.cursor);
  stream = new EventSource(url.pathname + url.search);
  stream.addEventListener('open', () => liveState('on', 'Live tail on'));
  stream.addEventListener('error', () => liveState('retrying', 'Reconnecting…'));
  stream.addEventListener('records', (e) => {
    const s = JSON.parse(e.data);
    const rows = fragment(s.rows);
    for (const row of [...rows.children]) {
      if (body.querySelector('tr[data-seq="' + row.dataset.seq + '"]')) continue;
      body.prepend(row);
    }
    body.dataset.cursor = e.lastEventId;
    const none = document.getElementById('audit-empty');
    if (none && body.children.length > 0) none.hidden = true;
    refreshTimes(body);
  });
  stream.addEventListener('ended', () => {
    stream.close();
    location.assign('/console/login');
  });
}

if (toggle) {
  toggle.hidden = false;
  toggle.addEventListener('click', () => {
    if (stream) {
      stream.close();
      stream = null;
      liveState('off', 'Live tail off');
      toggle.textContent = 'Follow live';
    } else {
      follow();
      toggle.textContent = 'Stop following';
    }
  });
  if (toggle.dataset.auto === 'on') toggle.click();
}
`;

/**
 * Passkeys in the browser (every logged-in page). With a passkey registered (`data-passkeys` on
 * <body>), an approve form asks the console for a challenge bound to that approval, has the
 * browser's passkey sign it (user verification required), and only then posts the form with the
 * answer. The passkeys page uses the same helpers to add and remove passkeys. Wrapped in a block:
 * it shares one module with the page's own script.
 */
export const PASSKEY_SCRIPT = `{
const b64 = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
const unb64 = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
const PKC = window.PublicKeyCredential;
function requestOptions(j) {
  if (PKC.parseRequestOptionsFromJSON) return PKC.parseRequestOptionsFromJSON(j);
  return { ...j, challenge: unb64(j.challenge), allowCredentials: (j.allowCredentials || []).map((c) => ({ ...c, id: unb64(c.id) })) };
}
function creationOptions(j) {
  if (PKC.parseCreationOptionsFromJSON) return PKC.parseCreationOptionsFromJSON(j);
  return { ...j, challenge: unb64(j.challenge), user: { ...j.user, id: unb64(j.user.id) },
    excludeCredentials: (j.excludeCredentials || []).map((c) => ({ ...c, id: unb64(c.id) })) };
}
function credentialJson(cred) {
  if (cred.toJSON) return cred.toJSON();
  const r = cred.response;
  const out = { id: cred.id, rawId: b64(cred.rawId), type: cred.type, clientExtensionResults: cred.getClientExtensionResults(),
    authenticatorAttachment: cred.authenticatorAttachment, response: { clientDataJSON: b64(r.clientDataJSON) } };
  if (r.attestationObject) {
    out.response.attestationObject = b64(r.attestationObject);
    out.response.transports = r.getTransports ? r.getTransports() : [];
  } else {
    out.response.authenticatorData = b64(r.authenticatorData);
    out.response.signature = b64(r.signature);
    if (r.userHandle) out.response.userHandle = b64(r.userHandle);
  }
  return out;
}
async function passkeyOptions(purpose, id, form) {
  const body = form ? new URLSearchParams(new FormData(form)) : new URLSearchParams();
  body.set('csrf', document.body.dataset.csrf);
  body.set('purpose', purpose);
  body.set('id', id || '');
  const r = await fetch('/console/passkeys/options', { method: 'POST', body });
  const j = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(j.error || 'the console refused (' + r.status + ')');
  return j.options;
}
async function passkeyAnswer(purpose, id, form) {
  const cred = await navigator.credentials.get({ publicKey: requestOptions(await passkeyOptions(purpose, id, form)) });
  return JSON.stringify(credentialJson(cred));
}
async function passkeyCreate() {
  const cred = await navigator.credentials.create({ publicKey: creationOptions(await passkeyOptions('register', '')) });
  return JSON.stringify(credentialJson(cred));
}
function problem(form, err) {
  let p = form.querySelector('.passkey-problem');
  if (!p) {
    p = document.createElement('p');
    p.className = 'notice passkey-problem';
    p.setAttribute('role', 'alert');
    form.append(p);
  }
  p.textContent = 'Passkey: ' + (err && err.message ? err.message : String(err));
}
/** Runs \`fill\` (the passkey ceremony) before a form is really sent; a failure is shown on the form. */
async function signedSubmit(e, form, fill) {
  if (form.dataset.signed === 'yes') return;
  e.preventDefault();
  try {
    await fill(form);
    form.dataset.signed = 'yes';
    form.submit();
  } catch (err) {
    problem(form, err);
  }
}
window.gatehousePasskeys = { passkeyAnswer, passkeyCreate, signedSubmit };
if (document.body.dataset.passkeys === 'required') {
  document.addEventListener('submit', (e) => {
    const form = e.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.approve) return;
    void signedSubmit(e, form, async (f) => {
      f.elements.namedItem('assertion').value = await passkeyAnswer('approve', f.dataset.approve);
    });
  });
}
}`;

/** The passkeys page: add one (with a passkey touch first when one exists), remove one. */
export const PASSKEYS_PAGE_SCRIPT = `
const { passkeyAnswer, passkeyCreate, signedSubmit } = window.gatehousePasskeys;
const add = document.getElementById('add-passkey');
if (add) {
  add.querySelector('button').disabled = false;
  add.addEventListener('submit', (e) =>
    signedSubmit(e, add, async (f) => {
      if (f.dataset.need === 'assertion') f.elements.namedItem('assertion').value = await passkeyAnswer('add-passkey', '');
      f.elements.namedItem('credential').value = await passkeyCreate();
    }),
  );
}
for (const form of document.querySelectorAll('form[data-remove]')) {
  form.querySelector('button').disabled = false;
  form.addEventListener('submit', (e) =>
    signedSubmit(e, form, async (f) => {
      f.elements.namedItem('assertion').value = await passkeyAnswer('remove-passkey', f.dataset.remove);
    }),
  );
}
`;

/**
 * The Connect page: with a passkey registered, creating an enrollment code asks for a touch bound
 * to the scope in the form; after it, the status line follows the code until the first call.
 */
export const CONNECT_SCRIPT = `
const status = document.getElementById('connect-status');
if (status) {
  const stream = new EventSource('/console/connect/status?code=' + encodeURIComponent(status.dataset.code));
  stream.addEventListener('status', (e) => {
    const s = JSON.parse(e.data);
    status.dataset.state = s.state === 'connected' ? 'on' : 'retrying';
    status.textContent = s.text;
    if (s.state === 'connected' || s.state === 'expired' || s.state === 'gone') stream.close();
  });
  stream.addEventListener('ended', () => stream.close());
}
`;

/** Connect form: a passkey touch bound to the scope, when passkeys are required. */
export const CONNECT_FORM_SCRIPT = `
const form = document.getElementById('connect');
if (form && document.body.dataset.passkeys === 'required') {
  const { passkeyAnswer, signedSubmit } = window.gatehousePasskeys;
  form.addEventListener('submit', (e) =>
    signedSubmit(e, form, async (f) => {
      f.elements.namedItem('assertion').value = await passkeyAnswer(f.dataset.purpose, '', f);
    }),
  );
}
`;

/**
 * A session's live terminal (/console/sessions/ID): a WebSocket opened with a one-time ticket
 * that a same-origin POST returns. The server sends the whole visible screen (already rendered by
 * its terminal emulator and scrubbed) and who holds control; the page writes rows as text and,
 * while this person holds control, sends their keystrokes. A dropped socket reconnects with a
 * fresh ticket and gets the current screen, so nothing is replayed.
 */
export const TERMINAL_SCRIPT = `${RELATIVE_TIMES}${LIVE_BADGE}
const term = document.getElementById('terminal');
const stateText = document.getElementById('term-state');
const help = document.getElementById('term-help');
const takeForm = document.querySelector('form[data-takeover]');
const returnButton = document.querySelector('form.return button');
const sessionId = term.dataset.session;
let mine = false;
let socket = null;
let over = false;
const KEYS = { Enter: '\\r', Backspace: '\\x7f', Tab: '\\t', Escape: '\\x1b', ArrowUp: '\\x1b[A', ArrowDown: '\\x1b[B',
  ArrowRight: '\\x1b[C', ArrowLeft: '\\x1b[D', Home: '\\x1b[H', End: '\\x1b[F', Delete: '\\x1b[3~', PageUp: '\\x1b[5~',
  PageDown: '\\x1b[6~' };
function render(screen) {
  const rows = [];
  screen.rows.forEach((row, y) => {
    const line = document.createElement('span');
    line.className = 'row';
    if (y === screen.cursor.y) {
      const text = row.padEnd(screen.cursor.x + 1, ' ');
      const cursor = document.createElement('span');
      cursor.className = 'cursor';
      cursor.textContent = text.charAt(screen.cursor.x);
      line.append(text.slice(0, screen.cursor.x), cursor, text.slice(screen.cursor.x + 1));
    } else line.textContent = row;
    rows.push(line, '\\n');
  });
  term.replaceChildren(...rows);
}
function showState(s) {
  mine = s.mine;
  const words = s.closed ? 'closed' : s.control === 'person' ? 'person in control (' + s.by + ')'
    : s.handoff !== null ? 'waiting for a person' : 'agent in control';
  stateText.textContent = words;
  help.textContent = s.closed ? 'The session has closed.'
    : mine ? 'You hold the terminal: click it and type. The agent sees none of it.'
    : s.control === 'person' ? s.by + ' holds the terminal.'
    : 'Watching. Take over to type; the agent is then refused and sees none of what you type or see.';
  term.dataset.mine = mine ? 'yes' : 'no';
  if (takeForm) takeForm.querySelector('button').disabled = mine || s.closed;
  if (returnButton) returnButton.disabled = s.control !== 'person' || s.closed;
  if (s.closed) over = true;
}
function type(data) {
  if (mine && socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: 'input', data }));
}
term.addEventListener('keydown', (e) => {
  if (!mine || e.metaKey) return;
  let data = KEYS[e.key];
  if (data === undefined && e.key.length === 1) {
    if (e.ctrlKey) {
      const code = e.key.toUpperCase().charCodeAt(0);
      if (code >= 64 && code <= 95) data = String.fromCharCode(code - 64);
    } else data = (e.altKey ? '\\x1b' : '') + e.key;
  }
  if (data === undefined) return;
  e.preventDefault();
  type(data);
});
term.addEventListener('paste', (e) => {
  if (!mine) return;
  e.preventDefault();
  type((e.clipboardData.getData('text/plain') || '').replace(/\\r?\\n/g, '\\r'));
});
async function connect() {
  if (over) return;
  liveState('retrying', 'connecting…');
  try {
    const body = new URLSearchParams({ csrf: document.body.dataset.csrf });
    const r = await fetch('/console/sessions/' + encodeURIComponent(sessionId) + '/ticket', { method: 'POST', body });
    if (r.status === 404) { showState({ closed: true, mine: false, control: 'agent', by: null, handoff: null }); liveState('off', 'closed'); return; }
    if (!r.ok) throw new Error('ticket ' + r.status);
    const { ticket } = await r.json();
    const scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
    socket = new WebSocket(scheme + location.host + '/console/sessions/' + encodeURIComponent(sessionId) + '/terminal?ticket=' + encodeURIComponent(ticket));
  } catch {
    setTimeout(connect, 2000);
    return;
  }
  socket.addEventListener('open', () => liveState('on', 'live'));
  socket.addEventListener('message', (e) => {
    const m = JSON.parse(e.data);
    if (m.type === 'screen') render(m);
    else if (m.type === 'state') showState(m);
    else if (m.type === 'ended') {
      liveState('off', m.reason);
      // The session or this login is over: reconnecting would only be refused.
      if (m.reason === 'the session closed' || m.reason === 'your console session ended') over = true;
    }
  });
  socket.addEventListener('close', () => {
    socket = null;
    if (over) return liveState('off', 'ended');
    liveState('retrying', 'reconnecting…');
    setTimeout(connect, 1500);
  });
}
if (takeForm && document.body.dataset.passkeys === 'required') {
  const { passkeyAnswer, signedSubmit } = window.gatehousePasskeys;
  takeForm.addEventListener('submit', (e) =>
    signedSubmit(e, takeForm, async (f) => {
      f.elements.namedItem('assertion').value = await passkeyAnswer('takeover', f.dataset.takeover);
    }),
  );
}
if (term.dataset.mine === 'yes' || new URLSearchParams(location.search).get('n') === 'session-taken') term.focus();
void connect();
`;
