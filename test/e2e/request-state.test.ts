import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, auditAfter, auditSeq, createToken, startServe } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { requires } from '../helpers/requires.js';

/**
 * The official client runs the 2026-07-28 input-required flow; a fetch wrapper plays the
 * attacker on the wire: it rewrites the echoed requestState, or replays a retry that already ran.
 */
describe.skipIf(!(await requires('bwrap', 'requestState e2e')))('sealed requestState on the wire (2026-07-28)', () => {
  const home = tempHome();
  let env: NodeJS.ProcessEnv;
  let server: Awaited<ReturnType<typeof startServe>>;
  let token: string;
  let other: string;
  let ws: string;

  beforeAll(async () => {
    assertBuilt();
    ws = mkdtempSync(join(tmpdir(), 'gh-ws-'));
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
    const c = new Client(
      { name: 't', version: '1' },
      { capabilities: { elicitation: { form: {} } }, versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    c.setRequestHandler('elicitation/create', async () => ({ action: 'accept', content: { approve: true } }));
    await c.connect(
      new StreamableHTTPClientTransport(new URL('/mcp', server.url), {
        fetch: f,
        requestInit: { headers: { authorization: `Bearer ${bearer}` } },
      }),
    );
    return c;
  }
  // Each run appends a line to the marker file in the sandbox's workspace: whether (and how often)
  // a command ran is read on the host, not inferred from what an error says.
  const risky = (m: string) => `rm -rf /tmp/gatehouse-rs-${m}; echo ran >> ${m}; echo ${m}`;
  const runs = (m: string) =>
    existsSync(join(ws, m)) ? readFileSync(join(ws, m), 'utf8').split('\n').filter(Boolean).length : 0;

  it('an untouched retry runs once; replaying the same retry is refused', async () => {
    const sent: string[] = [];
    const c = await client(token, undefined, sent);
    try {
      const r = await c.callTool({ name: 'exec', arguments: { command: risky('a1') } });
      expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
      expect(sent).toHaveLength(1);
      const replay = await fetch(new URL('/mcp', server.url), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'tools/call',
          'mcp-name': 'exec',
        },
        body: sent[0].replace(/"id":\s*\d+/, '"id":9999'),
      });
      const text = await replay.text();
      expect(text).toMatch(/approval_invalid|requestState|replayed|Invalid/);
      expect(runs('a1'), 'the approved command ran once, and the replay did not run it again').toBe(1);
    } finally {
      await c.close();
    }
  });

  it.each([
    [
      'a flipped byte',
      'b1',
      (p: Record<string, unknown>) =>
        (p.requestState = String(p.requestState).replace(/.(?=.{10}$)/, (ch) => (ch === 'A' ? 'B' : 'A'))),
    ],
    [
      'a state sealed for another action',
      'b2',
      (p: Record<string, unknown>) => ((p.arguments as { command: string }).command = risky('b2-changed')),
    ],
    ['no state at all, only an accepted answer', 'b3', (p: Record<string, unknown>) => delete p.requestState],
  ])('%s is refused and nothing runs', async (_what, m, rewrite) => {
    const c = await client(token, rewrite);
    try {
      const r = await c
        .callTool({ name: 'exec', arguments: { command: risky(m) } })
        .catch((e: Error) => ({ isError: true, content: e.message }));
      expect(r.isError).toBe(true);
      expect(runs(m)).toBe(0);
      expect(runs('b2-changed')).toBe(0);
    } finally {
      await c.close();
    }
  });

  it('a state minted for one token is refused for another', async () => {
    const seq = auditSeq(env);
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
      const r = await thief
        .callTool({ name: 'exec', arguments: { command: risky('c3') } })
        .catch((e: Error) => ({ isError: true, content: e.message }));
      expect(r.isError).toBe(true);
      expect(runs('c3')).toBe(0);
    } finally {
      await thief.close();
    }
    // The thief's attempt is audited as a refused state, in this test's own records.
    const refused = auditAfter(env, seq).filter(
      (x) => x.tool === 'approval.request_state' && /^refused:/.test(x.outcome ?? ''),
    );
    expect(refused.map((x) => x.outcome)).toContain('refused:bind');
  });
});
