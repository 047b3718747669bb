import type { AccessRequest } from '../access/index.js';
import { describeForHuman, type Approval, type ApprovalPage } from '../approvals/index.js';
import type { InboxState } from './approvals-feed.js';
import { INBOX_SCRIPT } from './client-scripts.js';
import { handoffBanner } from './session-routes.js';
import { html, type Html } from './html.js';
import { layout, notice, type PageSession } from './pages.js';

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/** An ISO time for epoch milliseconds, or null when the number is not a time (a row edited outside Gatehouse). */
export function isoOf(ms: number | null | undefined): string | null {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return null;
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/** A time with its relative form; the page's script keeps the relative form current. */
export function when(iso: string, now: number): Html {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return html`<time>${iso}</time>`;
  const rel = t <= now ? `${ago(now - t)} ago` : `in ${ago(t - now)}`;
  return html`<time datetime="${iso}" title="${iso}" data-rel>${rel}</time>`;
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

/**
 * The request as a person reads it, with the part the guard matched marked (its first place in
 * the text; the `Matched` line below says it whole when it is not found verbatim).
 */
function described(a: Approval, now: number): Html {
  const text = describeForHuman(a, { now });
  const m = a.matched ? text.indexOf(a.matched) : -1;
  if (!a.matched || m < 0) return html`<pre>${text}</pre>`;
  return html`<pre>${text.slice(0, m)}<mark>${a.matched}</mark>${text.slice(m + a.matched.length)}</pre>`;
}

export function approvalCard(a: Approval, s: PageSession, now: number): Html {
  const pending = a.status === 'pending';
  const id = encodeURIComponent(a.id);
  return html`<article class="card" id="${a.id}" tabindex="-1" data-summary="${summaryOf(a)}">
    <div class="meta">
      <span class="status ${a.status}">${a.status}</span>
      <span><strong>${a.tool}</strong>${a.target ? html` on <strong>${a.target}</strong>` : null}</span>
      <span>token <strong>${a.tokenName}</strong></span>
      <span>asked ${when(a.createdAt, now)}</span>
      ${pending ? html`<span>expires ${when(a.expiresAt, now)}</span>` : null}
      <a href="/console/approvals/${id}">${a.id}</a>
    </div>
    ${described(a, now)}
    ${
      pending
        ? html`<div class="actions">
            <form method="post" action="/console/approvals/${id}/approve" data-approve="${a.id}">
              <input type="hidden" name="csrf" value="${s.csrf}" />
              <input type="hidden" name="assertion" value="" />
              <button class="approve" type="submit">${s.passkeys ? 'Approve with passkey' : 'Approve once'}</button>
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

/** Where an access request asks to reach, as one line. */
export function accessWhere(r: AccessRequest): string {
  return r.kind === 'ssh' ? `${r.user ?? '?'}@${r.host}:${r.port ?? 22}` : (r.baseUrl ?? r.host);
}

function accessCard(r: AccessRequest, now: number): Html {
  return html`<article class="card" id="${r.id}">
    <div class="meta">
      <span class="status ${r.verified ? 'pending' : 'tampered'}">${r.verified ? 'access request' : 'tampered'}</span>
      <span><strong>${r.kind}</strong> <strong>${accessWhere(r)}</strong></span>
      <span>token <strong>${r.tokenName}</strong></span>
      <span>asked ${((t) => (t ? when(t, now) : '?'))(isoOf(r.createdAt))}</span>
      <a href="/console/requests/${encodeURIComponent(r.id)}">Review ${r.id}</a>
    </div>
    <p>${r.reason}</p>
  </article>`;
}

/** The access requests section of the inbox (replaced whole by the live stream: it holds no form). */
export function accessList(requests: readonly AccessRequest[], now: number): Html {
  return requests.length === 0
    ? html`<p class="empty">No access requests.</p>`
    : html`${requests.map((r) => accessCard(r, now))}`;
}

/** One line for a browser notification (plain text; the browser shows it as text). */
function summaryOf(a: Approval): string {
  return `${a.tool}${a.target ? ` on ${a.target}` : ''} · token ${a.tokenName}`;
}

function truncation(p: ApprovalPage): Html | null {
  if (!p.truncated) return null;
  return html`<p class="notice">
    Showing ${p.approvals.length} of ${p.total}. Waiting per token:
    ${p.byToken.map((t, i) => html`${i > 0 ? ', ' : ''}${t.tokenName} ${t.count}`)}.
  </p>`;
}

function recentList(recent: readonly Approval[], s: PageSession, now: number): Html {
  return recent.length === 0
    ? html`<p class="empty">No decisions yet.</p>`
    : html`${recent.map((a) => approvalCard(a, s, now))}`;
}

/**
 * The live inbox's event: the whole state, each pending card rendered here (escaped like every
 * page), so the page's script only places server-made fragments by approval id and never builds
 * markup from data.
 */
export function inboxEvent(state: InboxState, s: PageSession, now: number) {
  return {
    version: state.version,
    total: state.pending.total,
    pending: state.pending.approvals.map((a) => ({
      id: a.id,
      summary: summaryOf(a),
      html: approvalCard(a, s, now).toString(),
    })),
    truncation: (truncation(state.pending) ?? html``).toString(),
    requests: accessList(state.requests, now).toString(),
    handoffs: handoffBanner(state.handoffs, now).toString(),
    handoffList: state.handoffs.map((h) => ({ id: h.id, summary: `${h.tokenName} on ${h.target}: ${h.message}` })),
    requestCount: state.requests.length,
    recent: recentList(state.recent, s, now).toString(),
  };
}

/** The approvals inbox: what waits, with the forms to decide (no JavaScript needed), then recent decisions. */
export function inboxPage(o: {
  nonce: string;
  session: PageSession;
  state: InboxState;
  now: number;
  notice: string | null;
}): Html {
  const p = o.state.pending;
  return layout({
    title: p.total > 0 ? `(${p.total}) Approvals` : 'Approvals',
    nonce: o.nonce,
    session: o.session,
    current: 'approvals',
    script: INBOX_SCRIPT,
    body: html`<div class="heading">
        <h1>Approvals waiting <span class="muted" id="pending-count">${p.total}</span></h1>
        <span class="live" id="live" data-state="off" role="status">Not live: reload to see new requests</span>
        <button type="button" id="notify" class="link" hidden>Notify me</button>
      </div>
      ${notice(o.notice)}
      <div id="handoffs">${handoffBanner(o.state.handoffs, o.now)}</div>
      <div id="truncation">${truncation(p)}</div>
      <section id="pending" data-version="${o.state.version}" aria-live="polite">
        <p class="empty" id="pending-empty" ${p.approvals.length > 0 ? 'hidden' : null}>
          Nothing is waiting for a person.
        </p>
        ${p.approvals.map((a) => approvalCard(a, o.session, o.now))}
      </section>
      <h2>Access requests <span class="muted" id="request-count">${o.state.requests.length}</span></h2>
      <section id="requests">${accessList(o.state.requests, o.now)}</section>
      <h2>Recently decided</h2>
      <section id="recent">${recentList(o.state.recent, o.session, o.now)}</section>
      <p class="muted keys">
        Keys: <kbd>j</kbd>/<kbd>k</kbd> next/previous request, <kbd>a</kbd> approve it, <kbd>d</kbd> write a reason to
        deny it.
      </p>`,
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
