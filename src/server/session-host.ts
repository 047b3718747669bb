/**
 * The session-control endpoint of a process that holds interactive SSH sessions: a small HTTP
 * server on the loopback interface through which the console of any `gatehouse serve` sharing the
 * store lists, watches and takes over this process's sessions. It matters most for `gatehouse mcp`
 * started by Claude Code over stdio: that process has no HTTP server of its own, and its sessions
 * would otherwise be out of every person's reach.
 *
 * INVARIANTS:
 * - it listens on 127.0.0.1 only, and its URL is published in `session_hosts` in a row signed with
 *   the store integrity key (InstanceRegistry), so only a process holding the master key can point
 *   a console at it;
 * - every request is signed with a key derived from the master key (`sessionHostKey`): HMAC over
 *   this host's id, the method, the path, a timestamp and the body's digest, checked in constant
 *   time, within REQUEST_WINDOW_MS, and never accepted twice. No secret travels: a process that
 *   took over the port of a host that died learns nothing it could use elsewhere, and a signed
 *   request names the one host it is for. A request with an Origin header (a browser) is refused
 *   before it is read, so a web page that finds the port can neither read a screen nor type;
 * - it serves exactly the console's SessionControl operations on this process's manager, whose
 *   own invariants (scrubbed screens, input only from the person in control) apply unchanged.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SessionControl } from '../console/index.js';
import { GatehouseError, httpStatusOf, log, toGatehouseError } from '../core/index.js';
import type { Person } from '../ssh/index.js';
import { readWhole } from '../upstream/light.js';

/** Largest request body (a paste of a few pages of text, as JSON). */
const MAX_BODY = 256 * 1024;
/** Change events are sent at most this often per watcher. */
const EVENT_MS = 40;
const HEARTBEAT_MS = 15_000;

/** How far a request's timestamp may be from this host's clock. */
const REQUEST_WINDOW_MS = 30_000;

/** The signing key every process sharing the master key derives alike. */
export async function sessionHostKey(keyring: { internalKey(purpose: string): Promise<Buffer> }): Promise<Buffer> {
  return keyring.internalKey('session-control');
}

/** The headers that sign one request to host `hostId`. */
export function signRequest(
  key: Buffer,
  hostId: string,
  method: string,
  path: string,
  body: string,
  now = Date.now(),
): Record<string, string> {
  const ts = String(now);
  return { 'x-gatehouse-ts': ts, 'x-gatehouse-sig': signature(key, hostId, method, path, ts, body) };
}

function signature(key: Buffer, hostId: string, method: string, path: string, ts: string, body: string): string {
  const digest = createHash('sha256').update(body, 'utf8').digest('hex');
  return createHmac('sha256', key)
    .update(`session-host/v1\n${hostId}\n${method}\n${path}\n${ts}\n${digest}`)
    .digest('base64url');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

/** Signatures seen within the window (a replay is refused). */
class SeenSignatures {
  readonly #seen = new Map<string, number>();
  add(sig: string, now: number): boolean {
    for (const [k, at] of this.#seen) if (now - at > 2 * REQUEST_WINDOW_MS) this.#seen.delete(k);
    if (this.#seen.has(sig) || this.#seen.size > 100_000) return false;
    this.#seen.set(sig, now);
    return true;
  }
}

function person(v: unknown): Person {
  const p = v as Partial<Person> | undefined;
  if (typeof p?.holder !== 'string' || typeof p.label !== 'string')
    throw new GatehouseError('invalid_input', 'person needs holder and label');
  return { holder: p.holder, label: p.label };
}

function text(v: unknown, what: string): string {
  if (typeof v !== 'string') throw new GatehouseError('invalid_input', `${what} must be a string`);
  return v;
}

/** Serves `ctl` on 127.0.0.1 (a free port); resolves with its URL and a close function. */
export async function startSessionHost(
  ctl: SessionControl,
  key: Buffer,
  hostId: string,
): Promise<{ url: string; close(): Promise<void> }> {
  const seen = new SeenSignatures();
  /** Whether the request is signed for this host, in time, and new. The body is part of it. */
  const authorized = (req: IncomingMessage, body: string): boolean => {
    const ts = req.headers['x-gatehouse-ts'];
    const sig = req.headers['x-gatehouse-sig'];
    if (typeof ts !== 'string' || typeof sig !== 'string' || !/^\d{1,16}$/.test(ts)) return false;
    const now = Date.now();
    if (Math.abs(now - Number(ts)) > REQUEST_WINDOW_MS) return false;
    const want = Buffer.from(signature(key, hostId, req.method ?? '', req.url ?? '', ts, body));
    const given = Buffer.from(sig);
    return given.length === want.length && timingSafeEqual(given, want) && seen.add(sig, now);
  };
  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((e: unknown) => {
      const err = toGatehouseError(e);
      if (err.code === 'internal') log.error('session host request failed', { err: e });
      if (res.headersSent) return void res.destroy();
      sendJson(res, httpStatusOf(err.code), { error: { code: err.code, message: err.message, hint: err.hint } });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const refuse = () => sendJson(res, 403, { error: { code: 'unauthenticated', message: 'not for this caller' } });
    if (req.headers.origin !== undefined) {
      req.resume();
      return refuse();
    }
    const raw = (
      await readWhole(req, MAX_BODY, { tooLarge: () => new GatehouseError('input_too_large', 'body too large') })
    ).toString('utf8');
    if (!authorized(req, raw)) return refuse();
    const url = new URL(req.url ?? '/', 'http://session-host');
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    if (req.method === 'GET' && url.pathname === '/sessions') return sendJson(res, 200, { sessions: await ctl.list() });
    if (parts[0] !== 'sessions' || !parts[1]) throw new GatehouseError('not_found', 'no such route');
    const id = parts[1];
    const action = parts[2];
    if (req.method === 'GET' && action === undefined) return sendJson(res, 200, { view: (await ctl.view(id)) ?? null });
    if (req.method === 'GET' && action === 'events') return events(id, req, res);
    if (req.method !== 'POST') throw new GatehouseError('not_found', 'no such route');
    const body = JSON.parse(raw || '{}') as Record<string, unknown>;
    if (action === 'takeover') return sendJson(res, 200, { info: await ctl.takeOver(id, person(body.person)) });
    if (action === 'return')
      return sendJson(res, 200, { info: await ctl.giveBack(id, person(body.person), text(body.note, 'note')) });
    if (action === 'input') {
      await ctl.personInput(id, text(body.holder, 'holder'), text(body.data, 'data'));
      return sendJson(res, 200, {});
    }
    if (action === 'terminate')
      return sendJson(res, 200, { info: (await ctl.terminate(id, text(body.reason, 'reason'))) ?? null });
    if (action === 'dismiss') return sendJson(res, 200, { ok: await ctl.dismissHandoff(id) });
    throw new GatehouseError('not_found', 'no such route');
  }

  /** A server-sent event (`changed`, no data) whenever the session's screen or control changes. */
  async function events(id: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const stop = await ctl.watch(id, () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        res.write('data: changed\n\n');
      }, EVENT_MS);
    });
    if (!stop) throw new GatehouseError('not_found', 'no such open session');
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write(': open\n\n');
    const beat = setInterval(() => res.write(': keep-alive\n\n'), HEARTBEAT_MS);
    beat.unref();
    req.on('close', () => {
      stop();
      clearInterval(beat);
      if (timer) clearTimeout(timer);
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
