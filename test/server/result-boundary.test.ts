/**
 * Issue 22.2 / ARCHITECTURE invariant: scrubbing happens once, where every tool result and error
 * leaves Gatehouse, not in each tool. A deliberately careless tool (it returns and throws a vault
 * value without scrubbing anything) cannot leak it: the MCP result boundary scrubs it, in the text
 * content the model reads and in structuredContent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { GatehouseError } from '../../src/core/index.js';
import { bootRuntime } from '../../src/server/boot.js';
import { startHttpServer } from '../../src/server/http.js';
import { defineTool, type ToolDefinition } from '../../src/tools/index.js';
import { tempHome } from '../helpers/home.js';
import { httpClient } from '../helpers/mcp-client.js';

const SECRET = 'Zq8vN3xT7bK2mW9rL4pY6hD1fG5s';

const careless = defineTool({
  name: 'careless_echo',
  title: 'A tool that forgets to scrub',
  description: 'Returns and throws a stored secret without scrubbing it.',
  inputSchema: z.object({ fail: z.boolean() }).strict(),
  inputRoles: { fail: { irrelevant: 'a test switch between returning and throwing the secret' } },
  outputSchema: z.object({
    value: z.string(),
    nested: z.object({ list: z.array(z.string()) }),
    [SECRET]: z.string().optional(),
  }),
  annotations: { readOnlyHint: true, destructiveHint: false, openWorldHint: false },
  async handler(input) {
    if (input.fail)
      throw new GatehouseError('upstream_error', `the upstream said ${SECRET}`, {
        hint: `retry with ${SECRET}`,
        details: { echoed: SECRET },
      });
    return { value: `key=${SECRET}`, nested: { list: [SECRET, Buffer.from(SECRET).toString('base64')] } };
  },
});

describe('the result boundary scrubs every tool result and error', () => {
  const home = tempHome();
  let close: () => Promise<void>;
  let url: string;
  let token: string;

  beforeAll(async () => {
    const rt = await bootRuntime({ env: home.env });
    rt.tools = [...rt.tools, careless as unknown as ToolDefinition];
    await rt.vault.createVault('ops');
    await rt.vault.setField('ops/db.password', SECRET, { bind: ['target:nowhere'] });
    await rt.vault.seedRedactor({ add: (s) => rt.addSecret(s) });
    token = (await rt.tokens.create({ name: 'agent', grants: ['tool:*'] })).token;
    const http = await startHttpServer(rt, { host: '127.0.0.1', port: 0, routes: [] });
    url = http.url;
    close = async () => {
      await http.close();
      await rt.close();
    };
  });
  afterAll(async () => {
    await close?.();
    home.cleanup();
  });

  it("a careless tool's result reaches the model scrubbed (text and structured content)", async () => {
    const { client, close: done } = await httpClient(url, token, 'modern');
    try {
      const r = await client.callTool({ name: 'careless_echo', arguments: { fail: false } });
      const all = JSON.stringify(r);
      expect(all).not.toContain(SECRET);
      expect(all).not.toContain(Buffer.from(SECRET).toString('base64').slice(0, 20));
      expect(all).toContain('[REDACTED]');
    } finally {
      await done();
    }
  });

  it("a careless tool's error reaches the model scrubbed (message, hint, details)", async () => {
    const { client, close: done } = await httpClient(url, token, 'modern');
    try {
      const r = await client.callTool({ name: 'careless_echo', arguments: { fail: true } });
      expect(r.isError).toBe(true);
      expect(JSON.stringify(r)).not.toContain(SECRET);
      expect(JSON.stringify(r)).toContain('upstream_error');
    } finally {
      await done();
    }
  });
});
