import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, auditAfter, auditSeq, cli, createToken } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { ERAS, stdioClient } from '../helpers/mcp-client.js';

describe('gatehouse mcp over stdio (official MCP client)', () => {
  const home = tempHome();
  let full: string;
  let narrow: string;
  beforeAll(() => {
    assertBuilt();
    full = createToken(home.env, 'full', ['tool:*', 'target:*']);
    narrow = createToken(home.env, 'narrow', ['tool:audit_nothing']);
  });
  afterAll(() => home.cleanup());

  describe.each(ERAS)('protocol era %s', (era) => {
    it('lists tools with schemas and annotations, and discover answers with structured content', async () => {
      const { client, close, stderr } = await stdioClient({ ...home.env, GATEHOUSE_TOKEN: full }, era);
      try {
        if (era === 'modern') expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
        const { tools } = await client.listTools();
        const discover = tools.find((t) => t.name === 'discover')!;
        expect(discover.description).toMatch(/never returns a secret/);
        expect(discover.annotations).toMatchObject({
          readOnlyHint: true,
          destructiveHint: false,
          openWorldHint: false,
        });
        expect(discover.outputSchema).toMatchObject({ type: 'object' });
        const r = await client.callTool({ name: 'discover', arguments: {} });
        expect(r.isError).toBeFalsy();
        expect(r.structuredContent).toMatchObject({ token: { name: 'full' }, targets: [], vaults: [] });
        expect((r.structuredContent as { tools: { name: string }[] }).tools.map((t) => t.name)).toContain('discover');
      } finally {
        await close();
      }
      // Nothing but protocol on stdout: the client would have failed to parse anything else;
      // logs, if any, are JSON lines on stderr.
      for (const line of stderr().split('\n').filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
    });

    it('hides tools the token is not granted and refuses them by name', async () => {
      const { client, close } = await stdioClient({ ...home.env, GATEHOUSE_TOKEN: narrow }, era);
      try {
        const { tools } = await client.listTools();
        expect(tools.map((t) => t.name)).not.toContain('discover');
        const r = await client.callTool({ name: 'discover', arguments: {} });
        expect(r.isError).toBe(true);
        expect(JSON.stringify(r.content)).toMatch(/not_granted: this token is not granted the tool discover/);
      } finally {
        await close();
      }
    });

    it('rejects invalid arguments with a clear error', async () => {
      const { client, close } = await stdioClient({ ...home.env, GATEHOUSE_TOKEN: full }, era);
      try {
        const r = await client.callTool({ name: 'discover', arguments: { surprise: 1 } });
        expect(r.isError).toBe(true);
        expect(JSON.stringify(r.content)).toMatch(/invalid_input/);
      } finally {
        await close();
      }
    });
  });

  it('refuses to start with a bad token, and says so on stderr only', () => {
    for (const token of ['gh_' + 'x'.repeat(43), 'garbage', '']) {
      const r = cli(['mcp'], { ...home.env, GATEHOUSE_TOKEN: token });
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/unauthenticated/);
    }
  });

  it('a token revoked while a session is open is refused on the open session', async () => {
    const t = createToken(home.env, 'short-lived', ['tool:*']);
    const { client, close } = await stdioClient({ ...home.env, GATEHOUSE_TOKEN: t }, 'legacy');
    try {
      expect((await client.callTool({ name: 'discover', arguments: {} })).isError).toBeFalsy();
      expect(cli(['token', 'revoke', 'short-lived'], home.env).code).toBe(0);
      // Waits for the refusal itself (the one-second bound is checked with a moved clock in
      // test/gate/tokens.test.ts); a token that stays accepted fails this test by its timeout.
      // tools/list authenticates like a call and writes no audit record, so polling it is cheap.
      while (
        await client.listTools().then(
          () => true,
          () => false,
        )
      )
        await new Promise((r) => setImmediate(r));
      await expect(client.callTool({ name: 'discover', arguments: {} })).rejects.toThrow(
        /invalid or missing Gatehouse token/,
      );
    } finally {
      await close();
    }
  });

  it('every call is in the audit log and the chain verifies', async () => {
    // This test's own calls, and only the records they made.
    const seq = auditSeq(home.env);
    for (const token of [full, narrow]) {
      const { client, close } = await stdioClient({ ...home.env, GATEHOUSE_TOKEN: token }, 'modern');
      try {
        await client.callTool({ name: 'discover', arguments: {} });
      } finally {
        await close();
      }
    }
    const recs = auditAfter(home.env, seq);
    // Each new process records which client it serves once per token (issue 18 item 5).
    expect(recs.map((r) => [r.tokenName, r.tool, r.phase, r.outcome])).toEqual([
      ['full', 'mcp', 'event', 'client_identified'],
      ['full', 'discover', 'attempt', null],
      ['full', 'discover', 'result', 'ok'],
      ['narrow', 'mcp', 'event', 'client_identified'],
      ['narrow', 'discover', 'event', 'not_granted'],
    ]);
    const v = cli(['audit', 'verify'], home.env);
    expect(v.stdout).toMatch(/^ok: \d+ records in \d+ chains?, every chain intact\n {2}chain w1: \d+ records/);
    expect(v.code).toBe(0);
    // The head is an anchor an operator keeps elsewhere; verify checks the log still holds it.
    const head = cli(['audit', 'head'], home.env);
    const anchor = /^(w\d+:\d+:[0-9a-f]{64}(,w\d+:\d+:[0-9a-f]{64})*)\n/.exec(head.stdout)?.[1];
    expect(anchor, head.stdout).toBeDefined();
    const anchored = cli(['audit', 'verify', '--anchor', anchor!], home.env);
    expect(anchored.stdout).toMatch(/every chain intact, holds the anchor/);
    const far = cli(['audit', 'verify', '--anchor', `w1:999999:${'0'.repeat(64)}`], home.env);
    expect(far.code).toBe(1);
    expect(far.stdout).toMatch(/anchored record w1:999999 is gone; chain w1 now ends at \d+/);
  });
});
