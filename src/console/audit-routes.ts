import type { ServerResponse } from 'node:http';
import {
  auditHead,
  auditPosition,
  auditSince,
  formatAuditCursor,
  parseAuditCursor,
  readAuditPayloads,
  readAuditRecord,
  scanAudit,
  searchAudit,
  verifyAuditChain,
  auditFiltersOf,
  auditQueryOf,
  AUDIT_FILTER_FIELDS,
  type AuditQuery,
  type AuditRecord,
} from '../audit/index.js';
import { GatehouseError, toGatehouseError } from '../core/index.js';
import { auditPage, auditRecordPage, auditRows, verifyPage, type AuditFilterForm } from './audit-pages.js';
import { securityHeaders } from './http-checks.js';
import { redirect, send, type Call, type ConsoleKit, type ConsoleRoute } from './kit.js';
import { lastEventId, openStream, pollWhileOpen } from './live.js';

/** Records on one page of the audit table. */
const PAGE = 100;
/** Records one live event carries at most (more are sent at once in the next). */
const TAIL_BATCH = 200;
/** Most records one export writes (narrow the filters, by time for one, to export more). */
const EXPORT_MAX = 1_000_000;
const EXPORT_PAGE = 1000;
const POLL_MS = 1000;

const formOf = (url: URL): AuditFilterForm => auditFiltersOf(url.searchParams);
const queryOf = auditQueryOf;

const CSV_COLUMNS: readonly [string, (r: AuditRecord) => string | number | null][] = [
  ['seq', (r) => r.seq],
  ['id', (r) => r.id],
  ['ts', (r) => r.ts],
  ['phase', (r) => r.phase],
  ['ref', (r) => r.ref],
  ['token_id', (r) => r.tokenId],
  ['token_name', (r) => r.tokenName],
  ['tool', (r) => r.tool],
  ['route', (r) => r.route],
  ['target', (r) => r.target],
  ['action', (r) => r.action],
  ['decision', (r) => r.decision],
  ['rule', (r) => r.rule],
  ['approver', (r) => r.approver],
  ['outcome', (r) => r.outcome],
  ['status', (r) => r.status],
  ['duration_ms', (r) => r.durationMs],
  ['client', (r) => r.client],
  ['detail', (r) => (r.detail ? JSON.stringify(r.detail) : null)],
  ['chain', (r) => r.chain],
  ['chain_seq', (r) => r.chainSeq],
  ['hash', (r) => r.hash],
];

/**
 * One CSV field. INVARIANT (formula injection): a text an agent wrote can start with `=`, `+`,
 * `-`, `@`, a tab or a carriage return, which a spreadsheet would run as a formula; such a field
 * gets a leading `'` so it opens as text. Numbers the log wrote are left as they are.
 */
export function csvField(v: string | number | null): string {
  if (v === null) return '';
  if (typeof v === 'number') return String(v);
  const text = /^[=+\-@\t\r]/.test(v) ? `'${v}` : v;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

async function write(res: ServerResponse, text: string): Promise<void> {
  if (!res.write(text)) await new Promise<void>((r) => res.once('drain', () => r()).once('close', () => r()));
}

/** The audit log in the console: search and filters, the live tail, one record, verify and export. */
export function auditRoutes(kit: ConsoleKit): ConsoleRoute[] {
  const store = kit.rt.store;
  const pollMs = kit.opts.pollMs ?? POLL_MS;

  const page = kit.route('GET', '/console/audit', true, async (c) => {
    const f = formOf(c.ctx.url);
    const before = c.ctx.url.searchParams.get('before');
    let error: string | null = null;
    let q: AuditQuery = {};
    try {
      q = queryOf(f, kit.now());
    } catch (e) {
      error = toGatehouseError(e).message;
    }
    const beforeSeq = before !== null && /^\d{1,15}$/.test(before) ? Number(before) : undefined;
    // The position first: the live tail starts there, so a record added while the page is read is
    // shown twice at worst (the script skips a seq it has), never missed.
    const cursor = await auditPosition(store);
    const [records, head] = await Promise.all([
      error === null ? searchAudit(store, { ...q, beforeSeq, limit: PAGE }) : Promise.resolve([]),
      auditHead(store),
    ]);
    send(
      c.res,
      200,
      c.nonce,
      auditPage({
        nonce: c.nonce,
        session: c.page!,
        filters: f,
        records,
        cursor: formatAuditCursor(cursor),
        head,
        olderThan: records.length === PAGE ? records[0]!.seq : null,
        paged: beforeSeq !== undefined || error !== null,
        error,
        now: kit.now(),
      }),
    );
  });

  /**
   * The live tail. The event id is the position read up to (formatAuditCursor); the browser
   * resends it on a reconnect, so the tail carries on from there and no record is skipped.
   */
  const stream = kit.route(
    'GET',
    '/console/audit/stream',
    true,
    async (c) => {
      const q = queryOf(formOf(c.ctx.url), kit.now());
      const given = lastEventId(c);
      // An empty or malformed cursor starts at the log's present, never at its beginning (a
      // stream from the start of a long log would be the whole log at once).
      const parsed = given !== null && given !== '' ? parseAuditCursor(given) : null;
      let cursor = parsed && parsed.size > 0 ? parsed : await auditPosition(store);
      const live = openStream(kit, c);
      if (!live) return;
      await pollWhileOpen(live, pollMs, async () => {
        const next = await auditSince(store, cursor, q, TAIL_BATCH);
        if (next.records.length > 0) {
          const sent = await live.send('records', formatAuditCursor(next.cursor), {
            rows: auditRows(next.records, kit.now()).toString(),
          });
          if (!sent) return false;
        }
        cursor = next.cursor;
        return next.more;
      });
    },
    { touch: false, sameOriginOnly: true },
  );

  // Verify reads the whole log and every blob: a POST (CSRF-checked), one at a time per process.
  let verifying = false;
  const verify = kit.route('POST', '/console/audit/verify', true, async (c) => {
    if (verifying) throw new GatehouseError('limit_exceeded', 'a verify is already running: wait for it and reload');
    verifying = true;
    let result: Awaited<ReturnType<typeof verifyAuditChain>>;
    try {
      result = await verifyAuditChain(store, await kit.rt.keyring.internalKey('audit-chain'));
    } finally {
      verifying = false;
    }
    await kit.audit(c, result.ok ? 'audit_verified' : 'audit_broken', {
      records: result.records,
      breaks: result.breakCount,
    });
    send(
      c.res,
      200,
      c.nonce,
      verifyPage({
        nonce: c.nonce,
        session: c.page!,
        result,
      }),
    );
  });

  const exporter = kit.route(
    'GET',
    '/console/audit/export',
    true,
    async (c) => {
      const format = c.ctx.url.searchParams.get('format');
      if (format !== 'jsonl' && format !== 'csv')
        throw new GatehouseError('invalid_input', 'export format is jsonl or csv');
      const f = formOf(c.ctx.url);
      const q = queryOf(f, kit.now());
      await kit.audit(c, 'audit_export', {
        format,
        filters: Object.fromEntries(AUDIT_FILTER_FIELDS.filter((k) => f[k] !== '').map((k) => [k, f[k]])),
      });
      const stamp = new Date(kit.now()).toISOString().replace(/[:.]/g, '-');
      c.res.writeHead(200, {
        ...securityHeaders(c.nonce),
        'content-type': format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8',
        'content-disposition': `attachment; filename="gatehouse-audit-${stamp}.${format}"`,
      });
      if (format === 'csv') await write(c.res, `${CSV_COLUMNS.map(([name]) => name).join(',')}\r\n`);
      let after = 0;
      let written = 0;
      while (written < EXPORT_MAX && !c.res.destroyed) {
        const records = await scanAudit(store, {
          ...q,
          afterSeq: after,
          limit: Math.min(EXPORT_PAGE, EXPORT_MAX - written),
        });
        if (records.length === 0) break;
        let chunk = '';
        for (const r of records)
          chunk +=
            format === 'csv'
              ? `${CSV_COLUMNS.map(([, get]) => csvField(get(r))).join(',')}\r\n`
              : `${JSON.stringify(r)}\n`;
        await write(c.res, chunk);
        written += records.length;
        after = records.at(-1)!.seq;
      }
      c.res.end();
    },
    { sameOriginOnly: true },
  );

  const record = kit.route(
    'GET',
    '/console/audit/:seq',
    true,
    async (c: Call) => {
      const seq = c.ctx.params.seq ?? '';
      const r = /^\d{1,15}$/.test(seq) ? await readAuditRecord(store, seq) : null;
      if (!r) return redirect(c.res, c.nonce, '/console/audit');
      const payloads = await readAuditPayloads(store, r);
      // Payloads hold whole commands and file contents: reading them is itself recorded.
      if (Object.keys(payloads).length > 0) await kit.audit(c, 'audit_viewed', { seq: r.seq, id: r.id });
      send(
        c.res,
        200,
        c.nonce,
        auditRecordPage({ nonce: c.nonce, session: c.page!, record: r, payloads, now: kit.now() }),
      );
    },
    { sameOriginOnly: true },
  );

  // The literal paths before `:seq` (the first route that matches answers).
  return [page, stream, verify, exporter, record];
}
