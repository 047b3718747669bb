/**
 * An in-process `gatehouse serve` for route tests: a real runtime (SQLite store, vault, audit,
 * gate, guard), the real HTTP server with the /gateway and /ssh routes, an HTTP target on a
 * loopback upstream whose credential is a canary, and an agent token for it.
 */
import { writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import { join } from 'node:path';
import { bootRuntime, gatewayRoute, sshExecRoute, startHttpServer, type AnyRoute } from '../../src/server/index.js';
import { tempHome } from '../helpers/home.js';
import { startServer, type Handler, type TestServer } from '../upstream/servers.js';

export interface Served {
  url: string;
  agent: string;
  upstream: TestServer;
  rt: Awaited<ReturnType<typeof bootRuntime>>;
  close(): Promise<void>;
}

export async function serve(opts: {
  canary: string;
  handler: Handler;
  extraRoutes?: AnyRoute[];
  /** The configuration file's YAML (default: none, every default). */
  config?: string;
}): Promise<Served> {
  const home = tempHome();
  let env = home.env;
  if (opts.config !== undefined) {
    const file = join(home.dir, 'config.yaml');
    writeFileSync(file, opts.config);
    env = { ...env, GATEHOUSE_CONFIG: file };
  }
  const upstream = await startServer(opts.handler);
  const rt = await bootRuntime({ env });
  try {
    await rt.vault.createVault('ops');
    await rt.vault.setField('ops/echo.key', opts.canary, { bind: ['target:echo'] });
    await rt.targets.add('http', 'echo', {
      baseUrl: upstream.url,
      auth: { kind: 'bearer' },
      secret: 'vault:ops/echo.key',
      allowPrivate: true,
      followRedirects: false,
    });
    await rt.vault.seedRedactor({ add: (s) => rt.addSecret(s) });
    const { token } = await rt.tokens.create({ name: 'agent', grants: ['tool:*', 'target:echo', 'vault:ops'] });
    const http = await startHttpServer(rt, {
      host: '127.0.0.1',
      port: 0,
      routes: [gatewayRoute(rt), sshExecRoute(rt), ...(opts.extraRoutes ?? [])],
    });
    return {
      url: http.url,
      agent: token,
      upstream,
      rt,
      close: async () => {
        await http.close();
        await rt.close();
        await upstream.close();
        home.cleanup();
      },
    };
  } catch (e) {
    await rt.close();
    await upstream.close();
    home.cleanup();
    throw e;
  }
}

/** Sends raw request bytes (a request target fetch() would normalise) and returns the status line's code and the body. */
export function rawRequest(
  url: string,
  head: string,
  body: Buffer | string = '',
): Promise<{ status: number; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname, () => {
      sock.write(head);
      sock.end(body);
    });
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('error', reject);
    sock.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
      resolve({ status, body: text.slice(text.indexOf('\r\n\r\n') + 4) });
    });
  });
}

/** The typed error body every plain route answers with. */
export async function errorOf(
  r: Response,
): Promise<{ error: { code: string; message: string; hint?: string; details?: Record<string, unknown> } }> {
  return (await r.json()) as {
    error: { code: string; message: string; hint?: string; details?: Record<string, unknown> };
  };
}

export type { IncomingMessage };
