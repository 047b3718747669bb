/**
 * Issue 24.3: `tools/list` and `ping` run nothing, but a flood of them still costs the server, so
 * each one counts against the token's rate like a tool call, and a refused one is audited. Checked
 * with the official MCP client over Streamable HTTP against a server whose rate is small.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAudit } from '../../src/audit/read.js';
import { bootRuntime } from '../../src/server/boot.js';
import { startHttpServer } from '../../src/server/http.js';
import type { Runtime } from '../../src/server/runtime.js';
import { tempHome } from '../helpers/home.js';
import { httpClient } from '../helpers/mcp-client.js';

const BURST = 5;

describe("protocol requests count against the token's rate (issue 24.3)", () => {
  const home = tempHome();
  let rt: Runtime;
  let url: string;
  let close: () => Promise<void>;
  let flooder: string;
  let other: string;

  beforeAll(async () => {
    // A slow refill (one per 100 s) so the burst is all a token gets during the test.
    writeFileSync(join(home.dir, 'config.yaml'), `gate:\n  rate_limit:\n    per_second: 0.01\n    burst: ${BURST}\n`);
    rt = await bootRuntime({ env: { ...home.env, GATEHOUSE_CONFIG: join(home.dir, 'config.yaml') } });
    flooder = (await rt.tokens.create({ name: 'flooder', grants: ['tool:*'] })).token;
    other = (await rt.tokens.create({ name: 'other', grants: ['tool:*'] })).token;
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

  it("a flood of tools/list and ping is cut at the token's burst, audited, and leaves other tokens alone", async () => {
    // ping exists only for 2025-era (legacy) clients; tools/list for both eras.
    const modern = await httpClient(url, flooder, 'modern');
    const legacy = await httpClient(url, flooder, 'legacy');
    let answered = 0;
    const refusals: string[] = [];
    try {
      for (let i = 0; i < BURST + 6; i++) {
        try {
          if (i % 3 === 0) await modern.client.listTools();
          else if (i % 3 === 1) await legacy.client.ping();
          else await legacy.client.listTools();
          answered++;
        } catch (e) {
          refusals.push((e as Error).message);
        }
      }
    } finally {
      await modern.close();
      await legacy.close();
    }
    // The clients' own initialize does not count; every list and ping does.
    expect(answered).toBeLessThanOrEqual(BURST);
    expect(refusals.length).toBeGreaterThanOrEqual(6);
    for (const m of refusals) expect(m).toMatch(/rate/i);
    const records = await searchAudit(rt.store, { tokenName: 'flooder', limit: 100 });
    const refused = records.filter((r) => r.outcome === 'rate_limit');
    expect(refused.length).toBe(refusals.length);
    expect(new Set(refused.map((r) => r.tool))).toEqual(new Set(['tools/list', 'ping']));

    // Another token's rate is its own.
    const second = await httpClient(url, other, 'legacy');
    try {
      expect((await second.client.listTools()).tools.length).toBeGreaterThan(0);
      await second.client.ping();
    } finally {
      await second.close();
    }
  });
});
