/**
 * Real upstream servers on 127.0.0.1 for the upstream tests. Each records what it saw, so tests
 * assert on what actually reached the upstream.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import type { GatehouseError } from '../../src/core/index.js';
import { HTTP_STATUS } from '../../src/core/errors.js';
import {
  type HttpTargetSpec,
  type UpstreamPool,
  type UpstreamProxyOptions,
  type UpstreamProxyResult,
} from '../../src/upstream/index.js';

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface TestServer {
  url: string;
  port: number;
  seen: Seen[];
  connections: number;
  close(): Promise<void>;
}

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, server: TestServer) => void;

export async function startServer(handler: Handler, opts: { readBody?: boolean } = {}): Promise<TestServer> {
  const sockets = new Set<import('node:net').Socket>();
  const state: TestServer = { url: '', port: 0, seen: [], connections: 0, close: async () => undefined };
  const server = http.createServer((req, res) => {
    if (opts.readBody === false) {
      state.seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.alloc(0),
      });
      handler(req, res, Buffer.alloc(0), state);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      state.seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body,
      });
      handler(req, res, body, state);
    });
  });
  server.on('connection', (s) => {
    state.connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  state.port = port;
  state.url = `http://127.0.0.1:${port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return state;
}

/** Reflects method, url, headers and body as JSON; echoes the Authorization header back in a header too. */
export const echoHandler: Handler = (req, res, body) => {
  const payload = JSON.stringify({
    method: req.method,
    url: req.url,
    headers: req.headers,
    body: body.toString('utf8'),
  });
  res.writeHead(200, {
    'content-type': 'application/json',
    'x-echo-authorization': String(req.headers['authorization'] ?? ''),
    'x-echo-api-key': String(req.headers['x-api-key'] ?? ''),
    'set-cookie': 'session=upstream-session; HttpOnly',
    connection: 'keep-alive, x-hop',
    'x-hop': 'should-not-pass',
    'keep-alive': 'timeout=5',
  });
  res.end(payload);
};

export const gzipJsonHandler: Handler = (_req, res) => {
  const z = zlib.gzipSync(Buffer.from(JSON.stringify({ compressed: true, pad: 'x'.repeat(1000) })));
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-encoding': 'gzip',
    'content-length': String(z.length),
  });
  res.end(z);
};

export interface ProxyGateway {
  url: string;
  outcomes: Array<UpstreamProxyResult | GatehouseError>;
  /** The next outcome not yet taken (in order). */
  settled: () => Promise<UpstreamProxyResult | GatehouseError>;
  close(): Promise<void>;
}

/** A minimal /gateway route: everything after the prefix goes to the target through proxy(). */
export async function startProxyGateway(
  pool: UpstreamPool,
  spec: () => HttpTargetSpec,
  credential: string,
  options: Partial<UpstreamProxyOptions> = {},
): Promise<ProxyGateway> {
  const outcomes: Array<UpstreamProxyResult | GatehouseError> = [];
  const waiters: Array<(o: UpstreamProxyResult | GatehouseError) => void> = [];
  const record = (o: UpstreamProxyResult | GatehouseError) => {
    outcomes.push(o);
    waiters.shift()?.(o);
  };
  const server = http.createServer((req, res) => {
    // The raw request-target, not new URL(...).pathname: the URL parser would resolve "%2e%2e"
    // segments before the path check could see them.
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    pool
      .proxy(spec(), credential, req, res, {
        path: q === -1 ? raw : raw.slice(0, q),
        query: q === -1 ? undefined : raw.slice(q + 1),
        ...options,
      })
      .then(record, (e: GatehouseError) => {
        if (!res.headersSent)
          res.writeHead(HTTP_STATUS[e.code], { 'content-type': 'application/json' }).end(JSON.stringify(e.toJSON()));
        record(e);
      });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    outcomes,
    settled: () =>
      new Promise((r) =>
        outcomes.length > waiters.length ? r(outcomes[outcomes.length - 1 - waiters.length]) : waiters.push(r),
      ),
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
