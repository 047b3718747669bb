import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { Readable, type Duplex } from 'node:stream';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { GatehouseError, httpStatusOf, log, mediaTypeOf, toGatehouseError, truncateText } from '../core/index.js';
import type { Principal } from '../gate/index.js';
import { jsonTextDepth, MAX_JSON_DEPTH, readWhole, tooDeep } from '../upstream/light.js';
import { InstanceRegistry, newInstanceId } from './instances.js';
import { PrincipalEventBus } from './change-hub.js';
import { buildMcpServer } from './mcp.js';
import { McpSessions, unknownSession } from './mcp-sessions.js';
import { decodeParams, findRoute, type AnyRoute, type RouteContext } from './route.js';
import type { Runtime } from './runtime.js';

/** Largest MCP request body accepted over HTTP; larger bodies get 413 before anything is parsed. */
export const MAX_MCP_BODY_BYTES = 1024 * 1024;

export interface HttpServerOptions {
  host: string;
  port: number;
  /** The plain routes (see src/server/route.ts): matched in order, after /health and /mcp. */
  routes?: readonly AnyRoute[];
  /** Origins allowed to call /mcp from a browser; requests with another Origin get 403. */
  allowedOrigins?: string[];
  /**
   * Where the other `gatehouse serve` processes on this store reach this one, for forwarding a
   * 2025-era session's requests to the process that holds it (default: the address it listens on).
   */
  advertiseUrl?: string;
  /**
   * Told of every request once its connection is done with it: the route pattern it matched (never
   * the raw path) and its status, or `aborted` when the client went away before the answer ended.
   */
  onAnswered?: (route: string, status: number | 'aborted') => void;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

/** Answers a typed error with its status from the one table (HTTP_STATUS), or cuts a response already under way. */
export function sendError(res: ServerResponse, err: GatehouseError): void {
  const extra: Record<string, string> =
    err.code === 'unauthenticated' ? { 'www-authenticate': 'Bearer realm="gatehouse"' } : {};
  if (!res.headersSent) sendJson(res, httpStatusOf(err.code), { error: err.toJSON() }, extra);
  else res.destroy();
}

/**
 * The request target as a URL. Only the origin form (`/path?query`) is accepted: an absolute or
 * authority form (`http://…`, `//host`, `*`) or a backslash in the path would make the URL parser move the
 * path (`/\x/mcp` reads as `//x/mcp`, whose pathname is `/mcp`), and `//[` made it throw.
 */
function requestUrl(req: IncomingMessage): URL {
  const target = req.url ?? '/';
  const bad = () =>
    new GatehouseError('invalid_input', 'the request target is not a plain path', {
      hint: 'send an origin-form request target: /PATH?QUERY',
    });
  const q = target.indexOf('?');
  if (!target.startsWith('/') || target.startsWith('//') || (q < 0 ? target : target.slice(0, q)).includes('\\'))
    throw bad();
  try {
    return new URL(target, 'http://gatehouse.local');
  } catch {
    throw bad();
  }
}

/** `NAME[:PORT]` or `[IPV6][:PORT]` (RFC 9110 Host, without userinfo). */
const HOST_HEADER = /^(?:\[[0-9A-Fa-f:.]+(?:%[A-Za-z0-9._~-]+)?\]|[A-Za-z0-9._~-]+)(?::\d{1,5})?$/;

/** The URL the MCP handler sees: the request target under the Host the client named (a Host the URL parser refuses is a 400). */
function mcpUrl(req: IncomingMessage): URL {
  const bad = () =>
    new GatehouseError('invalid_input', 'the Host header is not a valid host', { hint: 'send Host: NAME[:PORT]' });
  const host = req.headers.host ?? 'localhost';
  // A Host is a name or a bracketed IPv6 address, and a port: nothing the URL parser would read as
  // credentials (`user@evil.example`), a path or a second authority, which fail later as a 500.
  if (!HOST_HEADER.test(host)) throw bad();
  try {
    const url = new URL(req.url ?? '/mcp', `http://${host}`);
    if (url.username || url.password) throw bad();
    return url;
  } catch {
    throw bad();
  }
}

/**
 * Reads a whole request body; past `max` bytes it is refused with `input_too_large` (HTTP 413).
 * `owner` (the caller's token id) bounds its share of the bytes being read at once.
 */
function readBody(req: IncomingMessage, max: number, owner?: string, holdUntil?: ServerResponse): Promise<Buffer> {
  return readWhole(req, max, {
    tooLarge: (limit) =>
      new GatehouseError('input_too_large', `request body is over the ${limit}-byte limit`, {
        hint: 'send smaller requests',
      }),
    owner,
    holdUntil,
  });
}

/**
 * Deepest nesting accepted in an MCP message: a tool argument may nest MAX_JSON_DEPTH levels,
 * plus the JSON-RPC envelope around it (params.arguments.field).
 */
export const MAX_MESSAGE_DEPTH = MAX_JSON_DEPTH + 8;

function parsedJson(bytes: Buffer): { parsedBody?: unknown } {
  const text = bytes.toString('utf8');
  let parsedBody: unknown;
  try {
    parsedBody = JSON.parse(text) as unknown;
  } catch {
    return {};
  }
  // INVARIANT: no message nested deeper than MAX_MESSAGE_DEPTH reaches a tool. JSON.parse is
  // iterative, but serialising such a value (results, digests, request bodies) overflows the stack.
  if (jsonTextDepth(text, MAX_MESSAGE_DEPTH) > MAX_MESSAGE_DEPTH) throw tooDeep('the MCP message', MAX_MESSAGE_DEPTH);
  return { parsedBody };
}

/** Largest JSON body a plain route reads. */
export const MAX_JSON_BODY_BYTES = 2 * 1024 * 1024;

/** How a plain route reads a JSON body (the bytes stay in the owner's reading budget until `holdUntil` closes). */
export interface ReadJsonOptions {
  /** Largest body accepted; default MAX_JSON_BODY_BYTES. */
  max?: number;
  /** The caller's token id: bounds its share of the bytes being read at once. */
  owner?: string;
  holdUntil?: ServerResponse;
}

/** Reads and parses a JSON request body, refusing oversized or malformed input with typed errors. */
export async function readJsonBody(req: IncomingMessage, opts: ReadJsonOptions = {}): Promise<unknown> {
  const bytes = await readBody(req, opts.max ?? MAX_JSON_BODY_BYTES, opts.owner, opts.holdUntil);
  const text = bytes.toString('utf8');
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw new GatehouseError('invalid_input', 'request body is not valid JSON', {
      hint: 'send a JSON object with content-type application/json',
    });
  }
  if (jsonTextDepth(text) > MAX_JSON_DEPTH) throw tooDeep('the request body');
  return value;
}

/** Answers an upgrade request no route takes, and closes its connection. */
function refuseUpgrade(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
}

/** Refuses a browser request from an origin the configuration does not list (DNS rebinding). */
function refuseForeignOrigin(req: IncomingMessage, allowed: readonly string[] | undefined): void {
  const origin = req.headers.origin;
  if (origin !== undefined && !(allowed ?? []).includes(origin)) {
    throw new GatehouseError('denied', `origin ${JSON.stringify(truncateText(origin, 200))} is not allowed`, {
      hint: 'add it to server.allowed_origins in the configuration',
    });
  }
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m ? m[1] : undefined;
}

function clientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

/** The Streamable HTTP MCP handler: one server per request, for the principal `handle` authenticated. */
type McpHandler = ReturnType<typeof createMcpHandler>;

function mcpHandler(runtime: Runtime, bus: PrincipalEventBus): McpHandler {
  return createMcpHandler(
    (ctx) => {
      const extra = ctx.authInfo?.extra as { principal?: Principal; client?: string } | undefined;
      if (!extra?.principal) throw new GatehouseError('unauthenticated', 'no principal');
      const principal = extra.principal;
      return buildMcpServer(runtime, async () => principal, extra.client ?? 'http', {
        transport: 'http',
        era: ctx.era,
      });
    },
    // The bus delivers each token's change events to its own subscriptions/listen streams only.
    { maxRequestBodySize: MAX_MCP_BODY_BYTES, bus, onerror: (e) => log.debug('mcp http error', { err: e }) },
  );
}

/** Aborted when the client goes away before the response is finished. */
function abortOnClose(res: ServerResponse): AbortSignal {
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  return abort.signal;
}

/**
 * Authenticates a route's caller by the route's declared kind. INVARIANT: a `token` or `admin`
 * route never runs without a valid bearer token (an `admin` one for admin routes); a `sender` route
 * gets no principal at all, so nothing it does can be done under a Gatehouse token.
 */
async function routeCaller(runtime: Runtime, req: IncomingMessage, auth: AnyRoute['auth']): Promise<Principal | null> {
  if (auth === 'sender') return null;
  const principal = await runtime.tokens.authenticate(bearer(req));
  if (auth === 'admin' && !principal.admin) throw new GatehouseError('not_granted', 'this route needs an admin token');
  return principal;
}

/**
 * `gatehouse serve`: Streamable HTTP at POST /mcp (both protocol eras), /health, and the plain
 * routes, each authenticated as its `auth` kind declares (src/server/route.ts).
 */
export async function startHttpServer(
  runtime: Runtime,
  opts: HttpServerOptions,
): Promise<{ server: HttpServer; url: string; close(): Promise<void> }> {
  // Values another process adds to the vault are scrubbed here too (within its interval).
  runtime.watchVault();
  runtime.watchWebhooks();
  const bus = new PrincipalEventBus(runtime.changes);
  const mcp = mcpHandler(runtime, bus);
  const routes = opts.routes ?? [];
  const instanceId = newInstanceId();
  const sessions = new McpSessions(runtime, { instanceId });
  // Set once listening (the registry needs the address); a session request before then is not forwarded.
  const registry: { current?: InstanceRegistry } = {};

  const answered = opts.onAnswered;
  const server = createServer((req, res) => {
    // The route pattern the request is counted under, set by `handle` as it routes (never the raw
    // path: a target name or an id never becomes a label); `none` when nothing matched.
    const routed = { label: 'none' };
    if (answered) res.once('close', () => answered(routed.label, res.writableFinished ? res.statusCode : 'aborted'));
    void handle(req, res, routed).catch((e) => {
      const err = toGatehouseError(e);
      // A webhook URL's key is a credential of sorts: never in a log line.
      if (err.code === 'internal')
        log.error('http handler failed', {
          err: e,
          url: req.url?.replace(/^\/webhooks\/in\/[^/?]*/, '/webhooks/in/…'),
        });
      sendError(res, err);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse, routed: { label: string }): Promise<void> {
    const url = requestUrl(req);
    if (url.pathname === '/health' || url.pathname === '/mcp') routed.label = url.pathname;
    if (url.pathname === '/health' && req.method === 'GET') return sendJson(res, 200, { status: 'ok' });

    // DNS-rebinding defence: a browser page on another origin cannot drive this server, unless
    // the route that serves the request checks its Origin itself (`ownOrigin`: the console).
    // Decided on the route the raw path matched, so `..` or `%2e%2e` cannot put another route's
    // request under a route's own check.
    if (url.pathname === '/mcp') {
      refuseForeignOrigin(req, opts.allowedOrigins);
      return serveMcp(req, res, await runtime.tokens.authenticate(bearer(req)));
    }

    // Route on the raw path: the URL parser resolves `%2e%2e` and `..`, which would let a request
    // escape its route's pattern before the route could refuse it.
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const match = findRoute(routes, req.method ?? 'GET', q < 0 ? target : target.slice(0, q));
    if (match?.route.ownOrigin !== true) refuseForeignOrigin(req, opts.allowedOrigins);
    if (match) routed.label = match.route.path;
    if (!match) {
      return sendJson(res, 404, {
        error: {
          code: 'not_found',
          message: `no route ${req.method} ${url.pathname}`,
          hint: 'MCP is served at POST /mcp; see the README for the plain routes',
        },
      });
    }
    const principal = await routeCaller(runtime, req, match.route.auth);
    // Parameters are decoded once the caller is known: a malformed escape is a 400 for callers only.
    const ctx: RouteContext = {
      principal,
      params: decodeParams(match.raw),
      rawQuery: q < 0 ? '' : target.slice(q + 1),
      url,
      client: clientAddress(req),
      signal: abortOnClose(res),
    };
    return (
      match.route as { handler(req: IncomingMessage, res: ServerResponse, ctx: RouteContext): Promise<void> }
    ).handler(req, res, ctx);
  }

  async function serveMcp(req: IncomingMessage, res: ServerResponse, principal: Principal): Promise<void> {
    const signal = abortOnClose(res);
    const len = Number(req.headers['content-length'] ?? 0);
    if (len > MAX_MCP_BODY_BYTES) {
      throw new GatehouseError(
        'input_too_large',
        `request body of ${len} bytes is over the ${MAX_MCP_BODY_BYTES}-byte limit`,
        { hint: 'send smaller requests' },
      );
    }
    // The body is read whole (bounded) and parsed once here: the SDK then neither clones the
    // request nor reads it again. Only a body that does not parse travels as bytes, for the SDK
    // to answer with the protocol's parse error.
    const bytes =
      req.method !== 'GET' && req.method !== 'HEAD'
        ? await readBody(req, MAX_MCP_BODY_BYTES, principal.tokenId, res)
        : undefined;
    const parsed = bytes !== undefined ? parsedJson(bytes) : {};
    // A 2025-era client identifies itself only in `initialize`, and the stateless door serves each
    // request on a fresh server: the identity is read here, where that request passes.
    const hello = initializeIdentity(parsed.parsedBody);
    if (hello) runtime.clients.seen(principal, { ...hello, transport: 'http' });
    const request = new Request(mcpUrl(req), {
      method: req.method,
      headers: req.headers as Record<string, string>,
      body: 'parsedBody' in parsed ? undefined : bytes,
      signal,
    });
    // 2025-era sessions (mcp-sessions.ts): an initialize opens one; a request naming one is served
    // on it, here or by the process that holds it. Everything else is the stateless handler's.
    const sessionId = req.headers['mcp-session-id'];
    if (typeof sessionId === 'string') {
      const answer = await sessions.serve(
        request,
        principal,
        sessionId,
        parsed.parsedBody,
        req.headers[FORWARDED_HEADER] !== undefined,
      );
      if ('forward' in answer) return forwardToOwner(req, res, answer.forward, bytes, signal);
      return sendWebResponse(res, answer.response);
    }
    if (isInitialize(parsed.parsedBody))
      return sendWebResponse(res, await sessions.open(request, principal, clientAddress(req), parsed.parsedBody));
    // A subscriptions/listen stream opened by this request is this token's (checked again before
    // each event it gets: a revoked token's stream is told nothing more).
    const current = async () => ((await runtime.tokens.isActive(principal.tokenId)) ? principal : undefined);
    const response = await bus.run(current, () =>
      mcp.fetch(request, {
        authInfo: {
          token: 'redacted',
          clientId: principal.tokenId,
          scopes: [],
          extra: { principal, client: clientAddress(req) },
        },
        ...parsed,
      }),
    );
    await sendWebResponse(res, response);
  }

  // WebSocket upgrades: only a route that declares `upgrade` takes one (the console's terminal),
  // after the same raw-path routing as a request; any other upgrade is answered and closed.
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => {});
    const target = req.url ?? '/';
    const q = target.indexOf('?');
    const match = findRoute(routes, 'GET', q < 0 ? target : target.slice(0, q));
    const route = match?.route;
    if (!match || route?.auth !== 'sender' || !route.upgrade) return refuseUpgrade(socket, 404, 'Not Found');
    let params: Record<string, string>;
    try {
      params = decodeParams(match.raw);
    } catch {
      return refuseUpgrade(socket, 400, 'Bad Request');
    }
    const aborted = new AbortController();
    socket.once('close', () => aborted.abort());
    const ctx: RouteContext<'sender'> = {
      principal: null,
      params,
      rawQuery: q < 0 ? '' : target.slice(q + 1),
      url: requestUrl(req),
      client: clientAddress(req),
      signal: aborted.signal,
    };
    route.upgrade(req, socket, head, ctx).catch((e: unknown) => {
      log.error('websocket upgrade failed', { err: e, path: ctx.url.pathname });
      socket.destroy();
    });
  });

  // Node's 5 s keep-alive default races clients that reuse an idle connection just as the server
  // drops it ("other side closed" on a POST, which clients do not retry). Keep idle connections
  // longer than common clients do, and let their Keep-Alive hint say so.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${host}:${addr.port}`;
  const instances = new InstanceRegistry(
    runtime.store,
    await runtime.keyring.internalKey('store-integrity'),
    instanceId,
    opts.advertiseUrl ?? advertisedUrl(addr, url),
  );
  await instances.register();
  registry.current = instances;

  /**
   * Sends a request for a session another process holds to that process, and its answer (an SSE
   * stream included) back. The owner authenticates the token again. An owner that is gone or
   * unknown is answered as an unknown session: the client opens a new one.
   */
  async function forwardToOwner(
    req: IncomingMessage,
    res: ServerResponse,
    owner: string,
    bytes: Buffer | undefined,
    signal: AbortSignal,
  ): Promise<void> {
    const base = await registry.current?.urlOf(owner);
    if (!base) return sendWebResponse(res, unknownSession());
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || NOT_FORWARDED.has(k)) continue;
      headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    }
    headers.set(FORWARDED_HEADER, instanceId);
    let answer: Response;
    try {
      answer = await fetch(new URL('/mcp', base), {
        method: req.method,
        headers,
        body: bytes && bytes.length > 0 ? bytes : undefined,
        signal,
        redirect: 'manual',
      });
    } catch (e) {
      log.warn('a session request could not be forwarded to its process', { instance: owner, err: e });
      return sendWebResponse(res, unknownSession());
    }
    await sendWebResponse(res, answer);
  }

  return {
    server,
    url,
    close: async () => {
      await sessions.close();
      await instances.close();
      await mcp.close?.();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Marks a request one process forwarded to another (it is never forwarded again). */
const FORWARDED_HEADER = 'x-gatehouse-forwarded-session';
/** Headers that belong to the hop to this process, not to the request. */
const NOT_FORWARDED = new Set([
  'host',
  'connection',
  'keep-alive',
  'content-length',
  'transfer-encoding',
  'upgrade',
  'te',
]);

function isInitialize(body: unknown): boolean {
  return typeof body === 'object' && body !== null && (body as { method?: unknown }).method === 'initialize';
}

/** The listen address as others reach it: a wildcard address means this host's name. */
function advertisedUrl(addr: AddressInfo, url: string): string {
  if (addr.address === '0.0.0.0' || addr.address === '::') return `http://${hostname()}:${addr.port}`;
  return url;
}

/** The client name, version and requested protocol of an `initialize` request, if this is one. */
function initializeIdentity(body: unknown): { name: string; version: string; protocol: string } | undefined {
  if (typeof body !== 'object' || body === null || (body as { method?: unknown }).method !== 'initialize')
    return undefined;
  const params = (
    body as { params?: { clientInfo?: { name?: unknown; version?: unknown }; protocolVersion?: unknown } }
  ).params;
  const info = params?.clientInfo;
  if (!info) return undefined;
  return {
    name: String(info.name ?? ''),
    version: String(info.version ?? ''),
    protocol: String(params.protocolVersion ?? ''),
  };
}

/** Writes the MCP handler's web Response to the node response. */
async function sendWebResponse(res: ServerResponse, response: Response): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((v, k) => (headers[k] = v));
  if (!response.body) {
    res.writeHead(response.status, headers);
    return void res.end();
  }
  if (mediaTypeOf(headers['content-type'])?.essence === 'application/json') {
    // A single JSON answer: one write with its length, instead of a web-to-node stream pipe.
    const bytes = Buffer.from(await response.arrayBuffer());
    headers['content-length'] = String(bytes.length);
    res.writeHead(response.status, headers);
    return void res.end(bytes);
  }
  // SSE (progress before the result, listen streams): stream as it comes. The headers go out at
  // once: a session's GET stream may carry nothing for a while, and the client waits for them.
  res.writeHead(response.status, headers);
  res.flushHeaders();
  const stream = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}

/**
 * Runs a route's work so that any error it throws leaves through the call's scrubbing (message,
 * hint and details), like a tool's result at the MCP boundary.
 */
export async function scrubbedErrors<T>(
  output: { error(e: unknown): GatehouseError },
  work: () => Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw output.error(e);
  }
}
