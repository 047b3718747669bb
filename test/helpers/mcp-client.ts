import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { CLI } from './cli.js';

export type Era = 'legacy' | 'modern';
export const ERAS: Era[] = ['legacy', 'modern'];

/** Other client options a test sets (list-changed handlers). */
export type ClientExtras = Pick<NonNullable<ConstructorParameters<typeof Client>[1]>, 'listChanged'>;

function options(era: Era, capabilities: Record<string, unknown> = {}, extras: ClientExtras = {}) {
  return {
    capabilities,
    ...extras,
    ...(era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}),
  };
}

/** The official MCP client, driving `gatehouse mcp` over stdio. */
export async function stdioClient(
  env: NodeJS.ProcessEnv,
  era: Era,
  capabilities?: Record<string, unknown>,
  extras?: ClientExtras,
): Promise<{ client: Client; stderr: () => string; close(): Promise<void> }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'mcp'],
    env: Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => typeof e[1] === 'string')),
    stderr: 'pipe',
  });
  let err = '';
  transport.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const client = new Client({ name: 'gatehouse-test', version: '1.0.0' }, options(era, capabilities, extras));
  await client.connect(transport);
  return { client, stderr: () => err, close: () => client.close() };
}

/** The official MCP client over Streamable HTTP with a Bearer token. */
export async function httpClient(
  baseUrl: string,
  token: string,
  era: Era,
  capabilities?: Record<string, unknown>,
  extras?: ClientExtras,
): Promise<{ client: Client; close(): Promise<void> }> {
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', baseUrl), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: 'gatehouse-test', version: '1.0.0' }, options(era, capabilities, extras));
  await client.connect(transport);
  return { client, close: () => client.close() };
}
