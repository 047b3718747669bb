import { createServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { GatehouseError, log, toGatehouseError } from '../core/index.js';
// The table itself (the lead adds HTTP_STATUS to core's public face; see the H4 report).
import { httpStatusOf } from '../core/index.js';
import type { Principal } from '../gate/index.js';
import { jsonTextDepth, MAX_JSON_DEPTH, tooDeep } from '../upstream/json-depth.js';
import { readWhole } from '../upstream/request-body.js';
import { buildMcpServer } from './mcp.js';
import type { Runtime } from './runtime.js';

/** Largest MCP request body accepted over HTTP; larger bodies get 413 before anything is parsed. */
export const MAX_MCP_BODY_BYTES = 1024 * 1024;

/** A plain HTTP route (`/gateway/...`, `/ssh/...`, `/admin/...`), registered by later modules. */
export type RouteHandler = (req: IncomingMessage, res: ServerResponse, ctx: { principal: Principal; url: URL; client: string; signal: AbortSignal }) => Promise<void>;
export interface Route {
  method: string | '*';
  /** Path prefix, e.g. `/gateway/`. */
  prefix: string;
  handler: RouteHandler;
  /** Only admin tokens may call it. */
  admin?: boolean;
}

export interface HttpServerOptions {
  host: string;
  port: number;
  routes?: Route[];
  /** Origins allowed to call /mcp from a browser; requests with another Origin get 403. */
  allowedOrigins?: string[];
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/** Answers a typed error with its status from the one table (HTTP_STATUS), or cuts a response already under way. */
export function sendError(res: ServerResponse, err: GatehouseError): void {
  const extra: Record<string, string> = err.code === 'unauthenticated' ? { 'www-authenticate': 'Bearer realm="gatehouse"' } : {};
  if (!res.headersSent) sendJson(res, httpStatusOf(err.code), { error: err.toJSON() }, extra);
  else res.destroy();
}

/**
 * Decodes one percent-encoded path parameter (a target name). The one place route parameters are
 * decoded: a malformed escape (`%E0%A4%A`) is a 400 `invalid_input`, never an untyped 500.
 */
export function pathParam(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new GatehouseError('invalid_input', `the ${what} in the URL is not valid percent-encoding`, {
      hint: 'percent-encode it as UTF-8 bytes (e.g. %C3%A9), or use plain letters, digits, ".", "_" and "-"',
    });
  }
}

/**
 * The request target as a URL. Only the origin form (`/path?query`) is accepted: an absolute or
 * authority form (`http://…`, `//host`, `*`) or a backslash in the path would make the URL parser move the
 * path (`/\x/mcp` reads as `//x/mcp`, whose pathname is `/mcp`), and `//[` made it throw.
 */
function requestUrl(req: IncomingMessage): URL {
  const target = req.url ?? '/';
  const bad = () => new GatehouseError('invalid_input', 'the request target is not a plain path', { hint: 'send an origin-form request target: /PATH?QUERY' });
  const q = target.indexOf('?');
  if (!target.startsWith('/') || target.startsWith('//') || (q < 0 ? target : target.slice(0, q)).includes('\\')) throw bad();
  try {
    return new URL(target, 'http://gatehouse.local');
  } catch {
    throw bad();
  }
}

/** The URL the MCP handler sees: the request target under the Host the client named (a Host the URL parser refuses is a 400). */
function mcpUrl(req: IncomingMessage): URL {
  try {
    return new URL(req.url ?? '/mcp', `http://${req.headers.host ?? 'localhost'}`);
  } catch {
    throw new GatehouseError('invalid_input', 'the Host header is not a valid host', { hint: 'send Host: NAME[:PORT]' });
  }
}

/**
 * Reads a whole request body; past `max` bytes it is refused with `input_too_large` (HTTP 413).
 * `owner` (the caller's token id) bounds its share of the bytes being read at once.
 */
function readBody(req: IncomingMessage, max: number, owner?: string, holdUntil?: ServerResponse): Promise<Buffer> {
  return readWhole(req, max, { tooLarge: (limit) => new GatehouseError('input_too_large', `request body is over the ${limit}-byte limit`, { hint: 'send smaller requests' }), owner, holdUntil });
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

/** Reads and parses a JSON request body, refusing oversized or malformed input with typed errors. */
export async function readJsonBody(req: IncomingMessage, max = MAX_JSON_BODY_BYTES, owner?: string, holdUntil?: ServerResponse): Promise<unknown> {
  const bytes = await readBody(req, max, owner, holdUntil);
  if (bytes.length === 0) return {};
  const text = bytes.toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    throw new GatehouseError('invalid_input', 'request body is not valid JSON', { hint: 'send a JSON object with content-type application/json' });
  }
  if (jsonTextDepth(text) > MAX_JSON_DEPTH) throw tooDeep('the request body');
  return value;
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

/**
 * `gatehouse serve`: Streamable HTTP at POST /mcp (both protocol eras), /health, and the plain
 * routes. Every route but /health requires `Authorization: Bearer <token>`.
 */
export async function startHttpServer(runtime: Runtime, opts: HttpServerOptions): Promise<{ server: HttpServer; url: string; close(): Promise<void> }> {
  const mcp = createMcpHandler(
    (ctx) => {
      const principal = (ctx.authInfo?.extra as { principal?: Principal; client?: string } | undefined)?.principal;
      const client = (ctx.authInfo?.extra as { client?: string } | undefined)?.client ?? 'http';
      if (!principal) throw new GatehouseError('unauthenticated', 'no principal');
      return buildMcpServer(runtime, async () => principal, client, { transport: 'http', era: ctx.era });
    },
    { maxRequestBodySize: MAX_MCP_BODY_BYTES, onerror: (e) => log.debug('mcp http error', { err: e }) },
  );
  const routes = opts.routes ?? [];

  const server = createServer((req, res) => {
    void handle(req, res).catch((e) => {
      const err = toGatehouseError(e);
      if (err.code === 'internal') log.error('http handler failed', { err: e, url: req.url });
      sendError(res, err);
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = requestUrl(req);
    if (url.pathname === '/health' && req.method === 'GET') return sendJson(res, 200, { status: 'ok' });

    // DNS-rebinding defence: a browser page on another origin cannot drive this server.
    const origin = req.headers.origin;
    if (origin !== undefined && !(opts.allowedOrigins ?? []).includes(origin)) {
      throw new GatehouseError('denied', `origin ${JSON.stringify(origin.slice(0, 200))} is not allowed`, { hint: 'add it to server.allowed_origins in the configuration' });
    }

    // Route on the raw path: the URL parser resolves `%2e%2e` and `..`, which would let a request
    // escape its route's prefix before the route could refuse it.
    const rawPath = (req.url ?? '/').split('?')[0];
    const route = url.pathname === '/mcp' ? null : routes.find((r) => rawPath.startsWith(r.prefix) && (r.method === '*' || r.method === req.method));
    if (url.pathname !== '/mcp' && !route) return sendJson(res, 404, { error: { code: 'not_found', message: `no route ${req.method} ${url.pathname}`, hint: 'MCP is served at POST /mcp' } });

    const principal = await runtime.tokens.authenticate(bearer(req));
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });

    if (route) {
      if (route.admin && !principal.admin) throw new GatehouseError('not_granted', 'this route needs an admin token');
      return route.handler(req, res, { principal, url, client: clientAddress(req), signal: abort.signal });
    }

    const len = Number(req.headers['content-length'] ?? 0);
    if (len > MAX_MCP_BODY_BYTES) {
      throw new GatehouseError('input_too_large', `request body of ${len} bytes is over the ${MAX_MCP_BODY_BYTES}-byte limit`, { hint: 'send smaller requests' });
    }
    // The body is read whole (bounded) and parsed once here: the SDK then neither clones the
    // request nor reads it again. Only a body that does not parse travels as bytes, for the SDK
    // to answer with the protocol's parse error.
    const bytes = req.method !== 'GET' && req.method !== 'HEAD' ? await readBody(req, MAX_MCP_BODY_BYTES, principal.tokenId, res) : undefined;
    const parsed = bytes !== undefined ? parsedJson(bytes) : {};
    const request = new Request(mcpUrl(req), {
      method: req.method,
      headers: req.headers as Record<string, string>,
      body: 'parsedBody' in parsed ? undefined : bytes,
      signal: abort.signal,
    });
    const response = await mcp.fetch(request, {
      authInfo: { token: 'redacted', clientId: principal.tokenId, scopes: [], extra: { principal, client: clientAddress(req) } },
      ...parsed,
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((v, k) => (headers[k] = v));
    if (!response.body) {
      res.writeHead(response.status, headers);
      return void res.end();
    }
    if ((headers['content-type'] ?? '').startsWith('application/json')) {
      // A single JSON answer: one write with its length, instead of a web-to-node stream pipe.
      const bytes = Buffer.from(await response.arrayBuffer());
      headers['content-length'] = String(bytes.length);
      res.writeHead(response.status, headers);
      return void res.end(bytes);
    }
    // SSE (progress before the result, listen streams): stream as it comes.
    res.writeHead(response.status, headers);
    const stream = Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  }

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
  return {
    server,
    url: `http://${host}:${addr.port}`,
    close: async () => {
      await mcp.close?.();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * Runs a route's work so that any error it throws leaves through the call's scrubbing (message,
 * hint and details), like a tool's result at the MCP boundary.
 */
export async function scrubbedErrors<T>(output: { error(e: unknown): GatehouseError }, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (e) {
    throw output.error(e);
  }
}
