/**
 * An in-process `gatehouse serve` with every plain route (the console's included, as serve mounts
 * them), on a port known before it listens so the console's own origin can be named. Requests go
 * to 127.0.0.1 with the Host header a browser at http://localhost:PORT would send.
 */
import { createHash } from 'node:crypto';
import { request } from 'undici';
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
      routes: plainRoutes(rt, { console: o.console }),
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
