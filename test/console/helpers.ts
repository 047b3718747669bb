/**
 * An in-process `gatehouse serve` with every plain route (the console's included, as serve mounts
 * them), on a port known before it listens so the console's own origin can be named. Requests go
 * to 127.0.0.1 with the Host header a browser at http://localhost:PORT would send.
 */
import { createHash } from 'node:crypto';
import { request } from 'undici';
import { WebSocket } from 'ws';
import type { ConsoleOptions } from '../../src/console/index.js';
import { bootRuntime, plainRoutes, startHttpServer } from '../../src/server/index.js';
import { tempHome } from '../helpers/home.js';
import { freePort } from '../helpers/sshd.js';

export interface ConsoleServer {
  rt: Awaited<ReturnType<typeof bootRuntime>>;
  home: ReturnType<typeof tempHome>;
  port: number;
  /** The console's origin as a browser sees it: http://localhost:PORT. */
  origin: string;
  call(method: 'GET' | 'POST', path: string, o?: CallOptions): Promise<Answer>;
  /** Cuts every open connection (a network drop: live streams reconnect). */
  dropConnections(): void;
  close(): Promise<void>;
}

export interface CallOptions {
  cookie?: string;
  /** Default: the console's own origin on POST, none on GET; `null` sends none. */
  origin?: string | null;
  host?: string;
  form?: Record<string, string>;
  headers?: Record<string, string>;
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * A server with serve's own routes and no `allowedOrigins`: the console's pages are exempt from
 * serve's global Origin check and do their own, stricter one (what the tests exercise).
 */
export async function consoleServer(o: { console?: ConsoleOptions } = {}): Promise<ConsoleServer> {
  const home = tempHome();
  const rt = await bootRuntime({ env: home.env });
  try {
    const port = await freePort();
    const origin = `http://localhost:${port}`;
    const http = await startHttpServer(rt, {
      host: '127.0.0.1',
      port,
      routes: await plainRoutes(rt, { console: o.console }),
    });
    return {
      rt,
      home,
      port,
      origin,
      call: async (method, path, o = {}) => {
        const form = o.form ? new URLSearchParams(o.form).toString() : undefined;
        const originHeader = o.origin === undefined ? (method === 'POST' ? origin : null) : o.origin;
        const r = await request(`http://127.0.0.1:${port}${path}`, {
          method,
          headers: {
            host: o.host ?? `localhost:${port}`,
            ...(originHeader !== null ? { origin: originHeader } : {}),
            ...(o.cookie ? { cookie: o.cookie } : {}),
            ...(form !== undefined ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
            ...o.headers,
          },
          body: form,
        });
        return { status: r.statusCode, headers: r.headers, body: await r.body.text() };
      },
      dropConnections: () => http.server.closeAllConnections(),
      close: async () => {
        await http.close();
        await rt.close();
        home.cleanup();
      },
    };
  } catch (e) {
    await rt.close();
    home.cleanup();
    throw e;
  }
}

/** The `gh_console=…` pair from a Set-Cookie answer (what a browser sends back). */
export function sessionCookieOf(a: Answer): string {
  const set = a.headers['set-cookie'];
  const line = Array.isArray(set) ? set[0] : set;
  const m = /^(gh_console=[A-Za-z0-9_-]{43});/.exec(line ?? '');
  if (!m) throw new Error(`no session cookie in ${JSON.stringify(set)} (status ${a.status})`);
  return m[1];
}

/** The CSRF token the page's forms carry. */
export function csrfOf(page: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(page);
  if (!m) throw new Error('no csrf token on the page');
  return m[1];
}

let asked = 0;
/** An out-of-band approval a token's `exec` of `command` waits for (the guard's rm -rf rule). */
export async function askApproval(
  srv: Pick<ConsoleServer, 'rt'>,
  token: { id: string; name: string },
  command = 'rm -rf /srv/x',
): Promise<string> {
  const { id } = await srv.rt.approvals.request({
    tokenId: token.id,
    tokenName: token.name,
    tool: 'exec',
    target: null,
    summary: `exec: ${command}`,
    operation: { kind: 'command', command },
    digest: createHash('sha256').update(`${process.pid}/${++asked}/${Date.now()}`).digest('hex'),
    rule: 'fs.rm-recursive',
    reason: 'recursive delete',
    matched: 'rm -rf',
    mode: 'out-of-band',
  });
  return id;
}

/** A message from the console's terminal socket. */
export type TerminalMessage = { type: string; [k: string]: unknown };
export interface TerminalOptions {
  ticket?: string;
  origin?: string;
  host?: string;
  /** The session cookie to send; '' sends none. */
  cookie?: string;
}
export interface TerminalSocket {
  ws: WebSocket;
  /** The first message (already received or still to come) that `p` accepts; it is consumed. */
  next(p: (m: TerminalMessage) => boolean): Promise<TerminalMessage>;
  /** Resolves with the close code. */
  closed: Promise<number>;
}

/** Opens a session's terminal socket as a browser would; rejects with `status N` when refused. */
export function terminalSocket(srv: ConsoleServer, id: string, o: TerminalOptions = {}): Promise<TerminalSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(
      `ws://127.0.0.1:${srv.port}/console/sessions/${id}/terminal?ticket=${encodeURIComponent(o.ticket ?? '')}`,
      {
        headers: {
          host: o.host ?? `localhost:${srv.port}`,
          origin: o.origin ?? srv.origin,
          ...(o.cookie ? { cookie: o.cookie } : {}),
        },
      },
    );
    const seen: TerminalMessage[] = [];
    const waiters: { p: (m: TerminalMessage) => boolean; r: (m: TerminalMessage) => void }[] = [];
    ws.on('message', (d: Buffer) => {
      const m = JSON.parse(d.toString()) as TerminalMessage;
      const w = waiters.find((x) => x.p(m));
      if (!w) return void seen.push(m);
      waiters.splice(waiters.indexOf(w), 1);
      w.r(m);
    });
    const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
    ws.on('unexpected-response', (_req, res) => reject(new Error(`status ${res.statusCode}`)));
    ws.on('error', reject);
    ws.on('open', () =>
      resolve({
        ws,
        closed,
        next: (p) => {
          const hit = seen.findIndex(p);
          if (hit >= 0) return Promise.resolve(seen.splice(hit, 1)[0]!);
          return new Promise((r) => waiters.push({ p, r }));
        },
      }),
    );
  });
}

/** A one-time terminal ticket, as the session page's script asks for it. */
export async function terminalTicket(srv: ConsoleServer, id: string, cookie: string, csrf: string): Promise<string> {
  const r = await srv.call('POST', `/console/sessions/${id}/ticket`, { cookie, form: { csrf } });
  if (r.status !== 200) throw new Error(`ticket: ${r.status} ${r.body}`);
  return (JSON.parse(r.body) as { ticket: string }).ticket;
}

/** Matches a screen message whose rows contain `text`. */
export const screenHas = (text: string) => (m: TerminalMessage) =>
  m.type === 'screen' && (m.rows as string[]).join('\n').includes(text);

/** The admin JSON API of `srv` as a script calls it, with an admin token. */
export function adminApi(srv: ConsoleServer, token: string) {
  return async (method: 'GET' | 'POST', path: string, body?: unknown) => {
    const r = await fetch(`http://127.0.0.1:${srv.port}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    return { status: r.status, text, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
}
