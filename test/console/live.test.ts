/**
 * The console's live streams and exports over plain HTTP: the inbox stream sends whole states with
 * a version id (a reconnect with the current version waits, any other gets the state at once), a
 * stream ends when its session does, and exports carry the filtered set with CSV cells that a
 * spreadsheet cannot run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvField } from '../../src/console/audit-routes.js';
import { askApproval, consoleServer, csrfOf, sessionCookieOf, type ConsoleServer } from './helpers.js';

interface SseEvent {
  event: string;
  id: string;
  data: string;
}

/** Opens a console stream and collects its events until `stop` says so (or the time is up). */
async function collect(
  srv: ConsoleServer,
  path: string,
  o: { cookie: string; lastEventId?: string; stop: (events: SseEvent[]) => boolean; ms?: number },
): Promise<{ status: number; type: string | null; events: SseEvent[]; ended: boolean }> {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), o.ms ?? 5000);
  const events: SseEvent[] = [];
  let ended = false;
  try {
    const r = await fetch(`http://127.0.0.1:${srv.port}${path}`, {
      headers: {
        host: `localhost:${srv.port}`,
        cookie: o.cookie,
        ...(o.lastEventId !== undefined ? { 'last-event-id': o.lastEventId } : {}),
      },
      signal: ctl.signal,
      redirect: 'manual',
    });
    if (r.status !== 200 || !r.body) return { status: r.status, type: r.headers.get('content-type'), events, ended };
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) {
        ended = true;
        break;
      }
      buf += dec.decode(value, { stream: true });
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        const e: SseEvent = { event: 'message', id: '', data: '' };
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) e.event = line.slice(7);
          else if (line.startsWith('id: ')) e.id = line.slice(4);
          else if (line.startsWith('data: ')) e.data += line.slice(6);
        }
        if (e.data !== '' || e.event !== 'message') events.push(e);
      }
      if (o.stop(events)) break;
    }
    return { status: r.status, type: r.headers.get('content-type'), events, ended };
  } finally {
    clearTimeout(timer);
    ctl.abort();
  }
}

describe('console live streams and exports', () => {
  let srv: ConsoleServer;
  let cookie: string;
  let adminToken: string;
  let agentId: string;
  const ask = () => askApproval(srv, { id: agentId, name: 'agent' });

  beforeAll(async () => {
    srv = await consoleServer({ console: { pollMs: 50 } });
    adminToken = (await srv.rt.tokens.create({ name: 'ops-admin', admin: true })).token;
    agentId = (await srv.rt.tokens.create({ name: 'agent', grants: ['tool:*'] })).info.id;
    cookie = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: adminToken } }));
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('a stream needs a live session: without one it is the login redirect, never a stream', async () => {
    const r = await collect(srv, '/console/events', { cookie: 'gh_console=' + 'A'.repeat(43), stop: () => true });
    expect(r.status).toBe(303);
    const wrongHost = await srv.call('GET', '/console/events', { cookie, host: 'evil.example:80' });
    expect(wrongHost.status).toBe(421);
  });

  it('the inbox stream: whole states with a version id; the version a browser already has waits for a change', async () => {
    const first = await collect(srv, '/console/events', { cookie, stop: (e) => e.length >= 1 });
    expect(first.type).toMatch(/^text\/event-stream/);
    const s0 = first.events[0]!;
    expect(s0.event).toBe('inbox');
    const state = JSON.parse(s0.data) as { version: string; total: number; pending: { id: string; html: string }[] };
    expect(s0.id).toBe(state.version);
    // Coming back with that version: nothing until the inbox changes, then the new whole state.
    const waiting = collect(srv, '/console/events', {
      cookie,
      lastEventId: s0.id,
      stop: (e) => e.some((x) => x.event === 'inbox'),
    });
    await new Promise((r) => setTimeout(r, 300));
    const id = await ask();
    const next = await waiting;
    const got = JSON.parse(next.events.find((e) => e.event === 'inbox')!.data) as typeof state;
    expect(got.version).not.toBe(s0.id);
    expect(got.pending.map((p) => p.id)).toContain(id);
    expect(got.pending.find((p) => p.id === id)!.html).toContain(`action="/console/approvals/${id}/approve"`);
    // A stale or unknown version gets the current state at once (no gap after a long absence).
    const stale = await collect(srv, '/console/events', { cookie, lastEventId: 'old', stop: (e) => e.length >= 1 });
    expect(JSON.parse(stale.events[0]!.data).version).toBe(got.version);
    await srv.rt.approvals.decide(id, 'denied', { by: 'test', channel: 'cli' });
  });

  it('logging out ends an open stream with an `ended` event', async () => {
    const mine = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: adminToken } }));
    const csrf = csrfOf((await srv.call('GET', '/console/', { cookie: mine })).body);
    const open = collect(srv, '/console/events', {
      cookie: mine,
      stop: (e) => e.some((x) => x.event === 'ended'),
      ms: 8000,
    });
    await new Promise((r) => setTimeout(r, 200));
    expect((await srv.call('POST', '/console/logout', { cookie: mine, form: { csrf } })).status).toBe(303);
    await ask(); // a change, so the stream has something to send and checks its session first
    const r = await open;
    expect(r.events.map((e) => e.event)).toContain('ended');
  });

  it('the audit stream resumes from the cursor it is given and refuses a malformed filter', async () => {
    const page = await srv.call('GET', '/console/audit?tool=live-test', { cookie });
    const cursor = /data-cursor="([^"]*)"/.exec(page.body)![1]!;
    await srv.rt.audit.append({ phase: 'event', tool: 'live-test', outcome: 'one' });
    await srv.rt.audit.append({ phase: 'event', tool: 'other', outcome: 'two' });
    const r = await collect(srv, `/console/audit/stream?tool=live-test&after=${encodeURIComponent(cursor)}`, {
      cookie,
      stop: (e) => e.length >= 1,
    });
    expect(r.events[0]!.event).toBe('records');
    const rows = (JSON.parse(r.events[0]!.data) as { rows: string }).rows;
    expect(rows).toContain('>one<');
    expect(rows).not.toContain('>two<');
    expect(r.events[0]!.id).toMatch(/^w\d+:\d+(,w\d+:\d+)*$/);
    const bad = await srv.call('GET', '/console/audit/stream?since=yesterday-ish', { cookie });
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('invalid time');
  });

  it('exports the filtered set as JSON lines and CSV, audited, with formula-looking cells defused', async () => {
    await srv.rt.audit.append({ phase: 'event', tool: 'export-test', action: '=HYPERLINK("http://x","y")' });
    await srv.rt.audit.append({ phase: 'event', tool: 'export-test', action: 'line one\nline "two", three' });
    await srv.rt.audit.append({ phase: 'event', tool: 'elsewhere', action: 'not exported' });
    const jsonl = await srv.call('GET', '/console/audit/export?format=jsonl&tool=export-test', { cookie });
    expect(jsonl.status).toBe(200);
    expect(jsonl.headers['content-disposition']).toMatch(/^attachment; filename="gatehouse-audit-.*\.jsonl"$/);
    const lines = jsonl.body
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { tool: string; action: string });
    expect(lines.map((l) => l.action)).toEqual(['=HYPERLINK("http://x","y")', 'line one\nline "two", three']);
    const csv = await srv.call('GET', '/console/audit/export?format=csv&tool=export-test', { cookie });
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.body).toContain(`"'=HYPERLINK(""http://x"",""y"")"`);
    expect(csv.body).toContain('"line one\nline ""two"", three"');
    expect(csv.body).not.toContain('not exported');
    const bad = await srv.call('GET', '/console/audit/export?format=xml', { cookie });
    expect(bad.status).toBe(400);
    const audited = await srv.call('GET', '/console/audit?tool=console&outcome=audit_export', { cookie });
    expect(audited.body).toContain('audit_export');
  });

  it('csv fields: formulas get a leading quote mark, separators are quoted, numbers stay numbers', () => {
    for (const [v, want] of [
      ['=1+1', "'=1+1"],
      ['+cmd', "'+cmd"],
      ['-2', "'-2"],
      ['@SUM(A1)', "'@SUM(A1)"],
      ['\tx', "'\tx"],
      ['a,b', '"a,b"'],
      ['say "hi"', '"say ""hi"""'],
      ['plain', 'plain'],
    ] as const)
      expect(csvField(v), v).toBe(want);
    expect(csvField(-5)).toBe('-5');
    expect(csvField(null)).toBe('');
  });

  it('another localhost page cannot start a console GET that does work: only navigations to pages pass', async () => {
    const from = (site: string, mode: string, dest = 'document') => ({
      'sec-fetch-site': site,
      'sec-fetch-mode': mode,
      'sec-fetch-dest': dest,
    });
    const exports = async () =>
      (await srv.call('GET', '/console/audit?tool=console&outcome=audit_export', { cookie })).body;
    const before = (await exports()).split('audit_export').length;
    for (const path of [
      '/console/audit/export?format=csv',
      '/console/events',
      '/console/audit/stream',
      '/console/audit/1',
    ]) {
      expect(
        (await srv.call('GET', path, { cookie, headers: from('same-site', 'no-cors', 'image') })).status,
        path,
      ).toBe(403);
      expect((await srv.call('GET', path, { cookie, headers: from('same-site', 'navigate') })).status, path).toBe(403);
    }
    expect((await srv.call('GET', '/console/', { cookie, headers: from('cross-site', 'cors', 'empty') })).status).toBe(
      403,
    );
    // A link from elsewhere to a page still opens it; the console's own requests pass.
    expect((await srv.call('GET', '/console/', { cookie, headers: from('cross-site', 'navigate') })).status).toBe(200);
    expect(
      (
        await srv.call('GET', '/console/audit/export?format=jsonl', {
          cookie,
          headers: from('same-origin', 'navigate'),
        })
      ).status,
    ).toBe(200);
    expect((await exports()).split('audit_export').length).toBe(before + 1);
  });

  it('one session holds a bounded number of live streams', async () => {
    const ctl = new AbortController();
    const open = () =>
      fetch(`http://127.0.0.1:${srv.port}/console/events`, {
        headers: { host: `localhost:${srv.port}`, cookie },
        signal: ctl.signal,
      });
    try {
      const held = await Promise.all(Array.from({ length: 8 }, open));
      expect(held.map((r) => r.status)).toEqual(Array(8).fill(200));
      const over = await open();
      expect(over.status).toBe(429);
    } finally {
      ctl.abort();
    }
    // Closed streams give their places back.
    await new Promise((r) => setTimeout(r, 200));
    const again = await collect(srv, '/console/events', { cookie, stop: (e) => e.length >= 1 });
    expect(again.status).toBe(200);
  });

  it('an empty or malformed cursor starts the audit tail at the present, never at the start of the log', async () => {
    await srv.rt.audit.append({ phase: 'event', tool: 'cursor-test', outcome: 'old' });
    for (const after of ['', 'garbage', 'w1:1,w1:2']) {
      const r = await collect(srv, `/console/audit/stream?tool=cursor-test&after=${encodeURIComponent(after)}`, {
        cookie,
        stop: (e) => e.length >= 1,
        ms: 600,
      });
      expect(r.status).toBe(200);
      expect(r.events.filter((e) => e.event === 'records')).toEqual([]);
    }
  });
});

describe('console sessions and live streams: an open tab is not a person', () => {
  let srv: ConsoleServer;
  let clock = Date.now();
  beforeAll(async () => {
    srv = await consoleServer({ console: { now: () => clock, pollMs: 50 } });
  });
  afterAll(async () => {
    await srv?.close();
  });

  it('streams do not keep an idle session alive; the idle limit still ends it', async () => {
    const admin = (await srv.rt.tokens.create({ name: 'idle-admin', admin: true })).token;
    const cookie = sessionCookieOf(await srv.call('POST', '/console/login', { form: { token: admin } }));
    for (let i = 0; i < 3; i++) {
      clock += 12 * 60_000;
      const r = await collect(srv, '/console/events', { cookie, stop: (e) => e.length >= 1, ms: 2000 });
      if (i < 2) expect(r.status).toBe(200);
    }
    // 36 minutes without a page view or a form: past the 30-minute idle limit.
    expect((await srv.call('GET', '/console/', { cookie })).status).toBe(303);
  });
});
