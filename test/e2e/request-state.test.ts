import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, createToken, startServe } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';

const hasBwrap = spawnSync('bwrap', ['--version']).status === 0;

/**
 * The official client runs the 2026-07-28 input-required flow; a fetch wrapper plays the
 * attacker on the wire: it rewrites the echoed requestState, or replays a retry that already ran.
 */
describe.skipIf(!hasBwrap && process.env.CI !== 'true')('sealed requestState on the wire (2026-07-28)', () => {
  const home = tempHome();
  let env: NodeJS.ProcessEnv;
  let server: Awaited<ReturnType<typeof startServe>>;
  let token: string;
  let other: string;

  beforeAll(async () => {
    assertBuilt();
    const ws = mkdtempSync(join(tmpdir(), 'gh-ws-'));
    chmodSync(ws, 0o777);
    const config = join(home.dir, 'config.yaml');
    writeFileSync(config, `sandbox:\n  profile: w\n  profiles:\n    w:\n      workspace: ${ws}\n`);
    env = { ...home.env, GATEHOUSE_CONFIG: config };
    token = createToken(env, 'agent', ['tool:exec']);
    other = createToken(env, 'other', ['tool:exec']);
    server = await startServe(env);
  });
  afterAll(async () => {
    await server?.stop();
    home.cleanup();
  });

  type Rewrite = (params: Record<string, unknown>) => void;
  async function client(bearer: string, rewrite?: Rewrite, sent?: string[]) {
    const f: typeof fetch = async (input, init) => {
      let body = init?.body;
      if (typeof body === 'string' && body.includes('"requestState"')) {
        const msg = JSON.parse(body) as { params: Record<string, unknown> };
        rewrite?.(msg.params);
        body = JSON.stringify(msg);
        sent?.push(body);
      }
      return fetch(input, { ...init, body });
    };
    const c = new Client({ name: 't', version: '1' }, { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: { pin: '2026-07-28' } } });
    c.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { approve: true } }));
    await c.connect(new StreamableHTTPClientTransport(new URL('/mcp', server.url), { fetch: f, requestInit: { headers: { authorization: `Bearer ${bearer}` } } }));
    return c;
  }
  const risky = (m: string) => `rm -rf /tmp/gatehouse-rs-${m}; echo ${m}`;

  it('an untouched retry runs once; replaying the same retry is refused', async () => {
    const sent: string[] = [];
    const c = await client(token, undefined, sent);
    try {
      const r = await c.callTool({ name: 'exec', arguments: { command: risky('a1') } });
      expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
      expect(sent).toHaveLength(1);
      const replay = await fetch(new URL('/mcp', server.url), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'exec' },
        body: sent[0].replace(/"id":\s*\d+/, '"id":9999'),
      });
      const text = await replay.text();
      expect(text).not.toContain('a1\\n');
      expect(text).toMatch(/approval_invalid|requestState|replayed|Invalid/);
    } finally {
      await c.close();
    }
  });

  it.each([
    ['a flipped byte', (p: Record<string, unknown>) => (p.requestState = String(p.requestState).replace(/.(?=.{10}$)/, (ch) => (ch === 'A' ? 'B' : 'A')))],
    ['a state sealed for another action', (p: Record<string, unknown>) => ((p.arguments as { command: string }).command = risky('changed'))],
    ['no state at all, only an accepted answer', (p: Record<string, unknown>) => delete p.requestState],
  ])('%s is refused and nothing runs', async (_what, rewrite) => {
    const c = await client(token, rewrite);
    try {
      const r = await c.callTool({ name: 'exec', arguments: { command: risky('b2') } }).catch((e: Error) => ({ isError: true, content: e.message }));
      expect(JSON.stringify(r)).not.toMatch(/"stdout":"b2|changed\\n/);
      expect(r.isError).toBe(true);
    } finally {
      await c.close();
    }
  });

  it("a state minted for one token is refused for another", async () => {
    let stolen: string | undefined;
    const victim = await client(token, (p) => {
      stolen = String(p.requestState);
      p.requestState = 'gs1.x.y'; // the victim's own retry is spoiled; the attacker keeps the real one
    });
    await victim.callTool({ name: 'exec', arguments: { command: risky('c3') } }).catch(() => undefined);
    await victim.close();
    expect(stolen).toBeDefined();
    const thief = await client(other, (p) => (p.requestState = stolen));
    try {
      const r = await thief.callTool({ name: 'exec', arguments: { command: risky('c3') } }).catch((e: Error) => ({ isError: true, content: e.message }));
      expect(r.isError).toBe(true);
      expect(JSON.stringify(r)).not.toContain('"stdout":"c3');
    } finally {
      await thief.close();
    }
    const audit = cli(['audit', 'tail', '-n', '200', '--json'], env).stdout;
    expect(audit).toMatch(/refused:(bind|mac|malformed|replayed)|approval_invalid/);
  });
});
