import {
  AUDIT_FILTER_FIELDS,
  type AuditFilters,
  type AuditHead,
  type AuditPayloadValue,
  type AuditRecord,
  type VerifyResult,
} from '../audit/index.js';
import { cutText, truncateText } from '../core/index.js';
import { when } from './approval-pages.js';
import { AUDIT_SCRIPT } from './client-scripts.js';
import { html, type Html } from './html.js';
import { layout, type PageSession } from './pages.js';

/** The audit page's filters, as the form holds them (text as typed; checked by the route). */
export type AuditFilterForm = AuditFilters;

const DECISIONS = ['', 'allow', 'approve', 'deny', 'redirect'];

/** Characters of a payload value shown on the record page. */
const PAYLOAD_SHOWN = 64 * 1024;

/** Longest cell text in the table (the record page shows it whole). */
const CELL_CHARS = 160;

function cell(text: string | null): string {
  return text === null ? '' : truncateText(text, CELL_CHARS);
}

/** One table row; the live tail sends rows made here too. */
export function auditRow(r: AuditRecord, now: number): Html {
  return html`<tr data-seq="${r.seq}">
    <td><a href="/console/audit/${r.seq}">${r.seq}</a></td>
    <td>${when(r.ts, now)}</td>
    <td>${r.tokenName ?? ''}</td>
    <td>${r.tool ?? r.route ?? ''}</td>
    <td>${cell(r.target)}</td>
    <td class="action">${cell(r.action)}</td>
    <td>${r.decision ? html`<span class="decision ${r.decision}">${r.decision}</span>` : null}</td>
    <td>${cell(r.outcome)}</td>
    <td>${cell(r.approver)}</td>
  </tr>`;
}

export function auditRows(records: readonly AuditRecord[], now: number): Html {
  return html`${records.map((r) => auditRow(r, now))}`;
}

function filterQuery(f: AuditFilterForm, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  for (const k of AUDIT_FILTER_FIELDS) if (f[k] !== '') p.set(k, f[k]);
  for (const [k, v] of Object.entries(extra)) p.set(k, v);
  const s = p.toString();
  return s === '' ? '' : `?${s}`;
}

function chainState(head: AuditHead | null, csrf: string): Html {
  if (!head) return html`<p class="muted">The audit log is empty.</p>`;
  return html`<p class="muted">
      ${head.chains.length} chain${head.chains.length === 1 ? '' : 's'}, newest record ${when(head.ts, Date.now())}.
      Anchor: <code class="anchor">${head.anchor}</code>
    </p>
    <form class="verify" method="post" action="/console/audit/verify">
      <input type="hidden" name="csrf" value="${csrf}" />
      <button type="submit">Verify the chains now</button>
      <span class="muted">reads the whole log, as <code>gatehouse audit verify</code> does</span>
    </form>`;
}

function filterForm(f: AuditFilterForm): Html {
  const input = (name: keyof AuditFilterForm, label: string, placeholder = '') =>
    html`<label
      >${label}<input type="text" name="${name}" value="${f[name]}" placeholder="${placeholder}" spellcheck="false"
    /></label>`;
  return html`<form class="filters" method="get" action="/console/audit">
    <label class="wide"
      >Search<input
        type="search"
        name="q"
        value="${f.q}"
        placeholder="text in action, target, rule, outcome, detail"
        spellcheck="false"
    /></label>
    ${input('token', 'Token')} ${input('tool', 'Tool')} ${input('target', 'Target')}
    <label
      >Decision<select name="decision">
        ${DECISIONS.map((d) => html`<option value="${d}" ${f.decision === d ? 'selected' : null}>${d || 'any'}</option>`)}
      </select></label
    >
    ${input('approver', 'Approver')} ${input('outcome', 'Outcome')} ${input('since', 'Since', '1h, 2d or ISO time')}
    ${input('until', 'Until', 'ISO time or 30m')}
    <div class="buttons">
      <button type="submit" class="approve">Search</button>
      <a href="/console/audit">Clear</a>
    </div>
  </form>`;
}

export function auditPage(o: {
  nonce: string;
  session: PageSession;
  filters: AuditFilterForm;
  records: readonly AuditRecord[];
  /** The live tail's starting place (formatAuditCursor of the position read before the records). */
  cursor: string;
  head: AuditHead | null;
  /** Set when the page holds as many records as it shows: the next page back starts below this seq. */
  olderThan: number | null;
  /** A page further back does not follow live. */
  paged: boolean;
  error: string | null;
  now: number;
}): Html {
  const f = o.filters;
  return layout({
    title: 'Audit',
    nonce: o.nonce,
    session: o.session,
    current: 'audit',
    wide: true,
    script: AUDIT_SCRIPT,
    body: html`<div class="heading">
        <h1>Audit log</h1>
        <span class="live" id="live" data-state="off" role="status"></span>
        ${o.paged ? null : html`<button type="button" id="tail" class="link" data-auto="on" hidden>Follow live</button>`}
      </div>
      ${chainState(o.head, o.session.csrf)} ${filterForm(f)}
      ${o.error ? html`<p class="notice" role="alert">${o.error}</p>` : null}
      <p class="muted">
        Export what matches: <a href="/console/audit/export${filterQuery(f, { format: 'jsonl' })}">JSON lines</a> ·
        <a href="/console/audit/export${filterQuery(f, { format: 'csv' })}">CSV</a>
      </p>
      <div class="table">
        <table>
          <thead>
            <tr>
              <th>#</th>
              <th>When</th>
              <th>Token</th>
              <th>Tool</th>
              <th>Target</th>
              <th>Action</th>
              <th>Decision</th>
              <th>Outcome</th>
              <th>Approver</th>
            </tr>
          </thead>
          <tbody id="audit-rows" data-cursor="${o.cursor}">
            ${auditRows([...o.records].reverse(), o.now)}
          </tbody>
        </table>
      </div>
      <p class="empty" id="audit-empty" ${o.records.length > 0 ? 'hidden' : null}>No records match.</p>
      ${o.olderThan !== null ? html`<p><a href="/console/audit${filterQuery(f, { before: String(o.olderThan) })}">Older records →</a></p>` : null}`,
  });
}

/** One record whole, with its payload values (as the operator's audience sees them: scrubbed). */
export function auditRecordPage(o: {
  nonce: string;
  session: PageSession;
  record: AuditRecord;
  payloads: Record<string, AuditPayloadValue>;
  now: number;
}): Html {
  const r = o.record;
  const fields: [string, string | number | null][] = [
    ['Id', r.id],
    ['Time', r.ts],
    ['Phase', r.phase],
    ['Closes', r.ref],
    ['Token', r.tokenName],
    ['Tool', r.tool],
    ['Route', r.route],
    ['Target', r.target],
    ['Action', r.action],
    ['Decision', r.decision],
    ['Rule', r.rule],
    ['Approver', r.approver],
    ['Outcome', r.outcome],
    ['Status', r.status],
    ['Duration (ms)', r.durationMs],
    ['Client', r.client],
    ['Chain', r.chain === null ? null : `${r.chain} #${r.chainSeq ?? '?'}`],
    ['Hash', r.hash],
  ];
  return layout({
    title: `Audit record ${r.seq}`,
    nonce: o.nonce,
    session: o.session,
    current: 'audit',
    body: html`<p><a href="/console/audit">← Audit log</a></p>
      <article class="card">
        <h1>Record ${r.seq}</h1>
        <dl>
          ${fields
            .filter(([, v]) => v !== null && v !== '')
            .map(
              ([k, v]) =>
                html`<dt>${k}</dt>
                  <dd>${String(v)}</dd>`,
            )}
        </dl>
        ${
          r.detail
            ? html`<h2>Detail</h2>
                <pre>${JSON.stringify(r.detail, null, 2)}</pre>`
            : null
        }
        ${Object.entries(o.payloads).map(
          ([name, p]) =>
            html`<h2>${name} <span class="muted">${p.bytes} bytes${p.problem ? ` · blob ${p.problem}` : ''}</span></h2>
              <pre>
${p.text.length > PAYLOAD_SHOWN ? `${cutText(p.text, PAYLOAD_SHOWN)}\n… (${p.text.length - PAYLOAD_SHOWN} more characters: gatehouse audit show ${o.record.seq} prints it whole)` : p.text}</pre>`,
        )}
      </article>`,
  });
}

export function verifyPage(o: { nonce: string; session: PageSession; result: VerifyResult }): Html {
  const v = o.result;
  const first = v.firstBad;
  return layout({
    title: 'Audit verify',
    nonce: o.nonce,
    session: o.session,
    current: 'audit',
    body: html`<p><a href="/console/audit">← Audit log</a></p>
      <article class="card">
        <h1>${v.ok ? 'The audit log verifies' : 'The audit log does not verify'}</h1>
        ${
          v.ok
            ? html`<p class="notice ok" role="status">
                Verified through seq ${v.maxSeq}: ${v.records} records in ${v.chains.length}
                chain${v.chains.length === 1 ? '' : 's'}.
              </p>`
            : html`<p class="notice" role="alert">
                Broken at seq
                ${first?.seq ?? '?'}${first?.chain ? ` (chain ${first.chain} #${first.chainSeq ?? '?'})` : ''}:
                ${first?.problem ?? 'anchor'}. ${v.breakCount} break${v.breakCount === 1 ? '' : 's'} in all.
              </p>`
        }
        <table>
          <thead>
            <tr>
              <th>Chain</th>
              <th>Records</th>
              <th>Head</th>
            </tr>
          </thead>
          <tbody>
            ${v.chains.map(
              (c) =>
                html`<tr>
                  <td>${c.chain}</td>
                  <td>${c.records}</td>
                  <td>${c.head ? `#${c.head.chainSeq} ${cutText(c.head.hash, 16)}…` : 'none'}</td>
                </tr>`,
            )}
          </tbody>
        </table>
        ${
          v.breaks.length > 0
            ? html`<h2>Breaks</h2>
                <ul>
                  ${v.breaks.map(
                    (b) =>
                      html`<li>
                        seq ${b.seq}${b.chain ? ` (${b.chain} #${b.chainSeq ?? '?'})` : ''}:
                        ${b.problem}${b.missing ? `, ${b.missing} missing` : ''}${b.payload ? `, payload ${b.payload}` : ''}
                      </li>`,
                  )}
                </ul>`
            : null
        }
      </article>`,
  });
}
