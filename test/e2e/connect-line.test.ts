/**
 * Issue 18 item 4: the connect line works where people paste it. `gatehouse serve` prints the
 * exact stdio command for `claude mcp add … -- <command>`; this runs that command, word for word,
 * from an unrelated folder (no node_modules, no package.json) with only the environment a client
 * passes, and a real MCP client lists the tools through it.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, describe, expect, it } from 'vitest';
import { assertBuilt, startServe } from '../helpers/cli.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The words of a printed command: plain words, or single-quoted ones as the printer quotes them. */
function words(command: string): string[] {
  return [...command.matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map((m) => (m[1] ?? m[2] ?? '').replace(/'\\''/g, "'"));
}

describe('the printed stdio connect line', () => {
  it('starts gatehouse mcp from any folder, and a client lists the tools through it', async () => {
    assertBuilt();
    const base = mkdtempSync(join(tmpdir(), 'gh-connect-'));
    dirs.push(base);
    const home = join(base, 'home');
    const env = { PATH: process.env.PATH ?? '', HOME: base, GATEHOUSE_HOME: home, GATEHOUSE_LOG_LEVEL: 'error' };
    const serve = await startServe(env);
    let out: string;
    try {
      out = serve.output();
    } finally {
      await serve.stop();
    }
    const token = /Admin token[^\n]*\n\n\s*(\S+)/.exec(out)?.[1];
    const line = /Or over stdio, from any folder: claude mcp add gatehouse --env GATEHOUSE_TOKEN=<token> -- (.+)/.exec(
      out,
    )?.[1];
    expect(token, out).toBeDefined();
    expect(line, out).toBeDefined();
    const [command = '', ...args] = words(line ?? '');
    expect(command.startsWith('/'), 'an absolute program path').toBe(true);

    const elsewhere = join(base, 'some-project');
    mkdirSync(elsewhere);
    const client = new Client({ name: 'paste-test', version: '1' });
    const transport = new StdioClientTransport({
      command,
      args,
      cwd: elsewhere,
      // What a client passes: its own small environment plus the --env it was given.
      env: { HOME: base, GATEHOUSE_HOME: home, GATEHOUSE_TOKEN: token ?? '' },
      stderr: 'pipe',
    });
    await client.connect(transport);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toContain('discover');
    } finally {
      await client.close();
    }
  });
});
