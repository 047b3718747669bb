import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { log } from '../core/index.js';
import { buildMcpServer } from './mcp.js';
import { sendUpdated } from './mcp-webhooks.js';
import type { Runtime } from './runtime.js';

/**
 * `gatehouse mcp`: one MCP connection over this process's stdin/stdout. stdout carries protocol
 * only; logs go to stderr. The token is authenticated up front (a bad token fails fast with a
 * clear message on stderr) and again on every request.
 */
export async function serveMcpStdio(runtime: Runtime, token: string): Promise<{ closed: Promise<void> }> {
  await runtime.tokens.authenticate(token);
  runtime.watchVault();
  const authenticate = () => runtime.tokens.authenticate(token);
  let done!: () => void;
  const closed = new Promise<void>((r) => (done = r));
  const handle = serveStdio(
    (ctx) => {
      const server = buildMcpServer(runtime, authenticate, 'stdio', { transport: 'stdio', era: ctx.era });
      // On both eras the SDK turns these into what the client asked for (2025: plain
      // notifications; 2026-07-28: events on its subscriptions/listen).
      const unsubscribe = runtime.changes.subscribe({
        principal: authenticate,
        deliver: ({ prompts, resources, updated }) => {
          if (prompts) server.sendPromptListChanged().catch(() => undefined);
          if (resources) server.sendResourceListChanged().catch(() => undefined);
          sendUpdated(server, ctx.era, updated);
        },
      });
      server.onclose = () => {
        unsubscribe();
        done();
      };
      return server;
    },
    { onerror: (e) => log.debug('stdio transport error', { err: e }) },
  );
  process.stdin.on('end', () => {
    void handle.close().finally(done);
  });
  return { closed };
}
