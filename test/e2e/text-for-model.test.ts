/**
 * Issue 18 item 3: a model sees only a tool result's text (Claude Code passes the text content, not
 * structuredContent). This drives a client that reads nothing else and checks that the text alone
 * carries what a model needs: ids, what to tell the person, the next step, and truncation.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, createToken } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { ERAS, stdioClient } from '../helpers/mcp-client.js';
import { startServer, type TestServer } from '../upstream/servers.js';

/** All a text-only client passes on to its model. */
async function textOf(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const r = await client.callTool({ name, arguments: args });
  return (r.content as { type: string; text?: string }[])
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join('\n');
}

describe('what a text-only client reads', () => {
  const home = tempHome();
  let upstream: TestServer;
  let token: string;

  beforeAll(async () => {
    assertBuilt();
    upstream = await startServer((req, res) => {
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        return void res.end('z'.repeat(1024 * 1024 + 4096));
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ deleted: req.method === 'DELETE', path: req.url }));
    });
    const add = cli(
      ['target', 'add', 'http', 'api', '--base-url', upstream.url, '--auth', 'none', '--allow-private'],
      home.env,
    );
    expect(add.code, add.stderr).toBe(0);
    token = createToken(home.env, 'texty', ['tool:discover', 'tool:api_request', 'target:api']);
  });
  afterAll(async () => {
    await upstream.close();
    home.cleanup();
  });

  describe.each(ERAS)('%s era, no elicitation declared', (era) => {
    it('discover names what the token may use, and a refusal says why and what to do', async () => {
      const { client, close } = await stdioClient({ ...home.env, GATEHOUSE_TOKEN: token }, era);
      try {
        const d = await textOf(client, 'discover', {});
        expect(d).toContain('"api"');
        expect(d).toContain('api_request');
        const refused = await textOf(client, 'exec', { command: 'ls' });
        expect(refused).toMatch(/^not_granted: /);
        expect(refused).toMatch(/What to do: .*tool:exec/);
      } finally {
        await close();
      }
    });

    it('an approval: the id, what to ask the person, and how to retry; then the retry runs', async () => {
      const { client, close } = await stdioClient({ ...home.env, GATEHOUSE_TOKEN: token }, era);
      try {
        const call = { target: 'api', method: 'DELETE', path: '/v1/items/7' };
        const first = await textOf(client, 'api_request', call);
        expect(first).toMatch(/^approval_required: /);
        const id = /gatehouse approve (\S+)`/.exec(first)?.[1];
        expect(id, first).toBeDefined();
        expect(first).toContain(`approval_id "${id}"`);
        const ok = cli(['approve', id ?? '', '--note', 'text-only test'], home.env);
        expect(ok.code, ok.stderr).toBe(0);
        const retried = await textOf(client, 'api_request', { ...call, approval_id: id });
        expect(retried).toContain('"status":200');
        expect(retried).toContain('"deleted":true');
      } finally {
        await close();
      }
    });

    it('a response cut at the buffered limit says so in the text', async () => {
      const { client, close } = await stdioClient({ ...home.env, GATEHOUSE_TOKEN: token }, era);
      try {
        const big = await textOf(client, 'api_request', { target: 'api', method: 'GET', path: '/big' });
        expect(big).toContain('"truncated":true');
      } finally {
        await close();
      }
    });
  });
});
