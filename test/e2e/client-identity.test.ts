/**
 * Issue 18 item 5: the client's name, version and protocol revision are recorded on both doors and
 * in both eras: audited (`client_identified`), shown by `discover` in the text a model reads, and by
 * `token list` as the last client seen per token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditAfter, auditSeq, cli, createToken, startServe } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { httpClient, stdioClient, type Era } from '../helpers/mcp-client.js';

const home = tempHome();
const env = home.env;
let server: Awaited<ReturnType<typeof startServe>>;

beforeAll(async () => {
  server = await startServe(env);
});
afterAll(async () => {
  await server.stop();
  home.cleanup();
});

const doors: ['stdio' | 'http', Era, RegExp][] = [
  ['stdio', 'legacy', /^2025-/],
  ['stdio', 'modern', /^2026-07-28$/],
  ['http', 'legacy', /^2025-/],
  ['http', 'modern', /^2026-07-28$/],
];

describe.each(doors)('over %s, %s era', (door, era, protocol) => {
  it('discover names the client in its text, token list shows it, and it is audited', async () => {
    const name = `agent-${door}-${era}`;
    const token = createToken(env, name, ['tool:discover']);
    const seq = auditSeq(env);
    const { client, close } =
      door === 'stdio'
        ? await stdioClient({ ...env, GATEHOUSE_TOKEN: token }, era)
        : await httpClient(server.url, token, era);
    try {
      const r = await client.callTool({ name: 'discover', arguments: {} });
      const text = (r.content as { type: string; text: string }[]).map((c) => c.text).join('\n');
      const shown = (
        JSON.parse(text) as { client: { name: string; version: string; protocol: string; transport: string } }
      ).client;
      expect(shown).toMatchObject({ name: 'gatehouse-test', version: '1.0.0', transport: door });
      expect(shown.protocol).toMatch(protocol);
    } finally {
      await close();
    }
    const list = cli(['token', 'list'], env);
    expect(list.code).toBe(0);
    const row = list.stdout.split('\n').find((l) => l.includes(name));
    expect(row).toContain(`gatehouse-test 1.0.0 (`);
    expect(row).toContain(`, ${door}, last seen `);
    const events = auditAfter(env, seq).filter((x) => x.outcome === 'client_identified' && x.tokenName === name);
    expect(events.length).toBe(1);
    expect(events[0]?.detail).toMatchObject({ client: { name: 'gatehouse-test', version: '1.0.0', transport: door } });
  });
});
