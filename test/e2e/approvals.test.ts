import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base32Decode, totpCode } from '../../src/approvals/index.js';
import { assertBuilt, auditAfter, auditSeq, cli, createToken, startServe } from '../helpers/cli.js';
import { approvalWorkspace, tempHome } from '../helpers/home.js';
import { ERAS, httpClient, stdioClient, type Era } from '../helpers/mcp-client.js';
import { requires } from '../helpers/requires.js';
import { echoHandler, startServer, type TestServer } from '../upstream/servers.js';

const ELICIT = { elicitation: { form: {} } };
type Answer =
  | { action: 'accept'; content: Record<string, string | number | boolean | string[]> }
  | { action: 'decline' }
  | { action: 'cancel' };

/** Installs a person at the client: records what they were shown and answers as told. */
function person(client: Client, answer: () => Answer | Promise<Answer>): { shown: string[] } {
  const shown: string[] = [];
  client.setRequestHandler('elicitation/create', async (req) => {
    shown.push(String((req.params as { message: string }).message));
    return answer();
  });
  return { shown };
}

function approvalIdOf(result: { content?: unknown; structuredContent?: unknown }): string {
  const id = (result.structuredContent as { error?: { details?: { approvalId?: string } } })?.error?.details
    ?.approvalId;
  if (!id) throw new Error(`no approval id in ${JSON.stringify(result)}`);
  return id;
}

describe.skipIf(!(await requires('bwrap', 'approvals e2e')))(
  'approvals end to end (official MCP client, both eras, stdio and HTTP)',
  () => {
    const home = tempHome();
    let server: Awaited<ReturnType<typeof startServe>>;
    let upstream: TestServer;
    let agent: string;
    let other: string;
    let oob: string;
    let totpAgent: string;
    let totpSecret: Buffer;
    // A command that needs approval and leaves a marker in the sandbox's workspace when it runs.
    const probe = approvalWorkspace(home, 'approval', 'approvals:\n  ttl_seconds: 120\n');
    const { env, marker, risky, ran } = probe;
    beforeAll(async () => {
      assertBuilt();
      upstream = await startServer(echoHandler);
      cli(['vault', 'create', 'ops'], env);
      cli(['vault', 'set', 'ops/echo.key', '--bind', 'target:echo'], env, 'approval-suite-key-123456');
      cli(
        [
          'target',
          'add',
          'http',
          'echo',
          '--base-url',
          upstream.url,
          '--auth',
          'bearer',
          '--secret',
          'vault:ops/echo.key',
          '--allow-private',
        ],
        env,
      );
      agent = createToken(env, 'agent', ['tool:*', 'target:echo']);
      other = createToken(env, 'other', ['tool:*', 'target:echo']);
      oob = createToken(env, 'oob', ['tool:*', 'target:echo'], ['--approval', 'out-of-band']);
      totpAgent = createToken(env, 'totp-agent', ['tool:*'], ['--approval', 'totp']);
      const enrolled = cli(['approver', 'add', 'alice'], env);
      expect(enrolled.code).toBe(0);
      totpSecret = base32Decode(/secret=([A-Z2-7]+)/.exec(enrolled.stdout)![1]);
      server = await startServe(env);
    });
    afterAll(async () => {
      await server?.stop();
      await upstream?.close();
      home.cleanup();
    });

    const open = (door: 'stdio' | 'http', era: Era, token: string, caps: Record<string, unknown> = ELICIT) =>
      door === 'stdio'
        ? stdioClient({ ...env, GATEHOUSE_TOKEN: token }, era, caps)
        : httpClient(server.url, token, era, caps);

    // Elicitation reaches the person on stdio (both eras), on HTTP for 2026-07-28 clients, and on
    // HTTP for 2025-era clients through their session (Mcp-Session-Id; issue 18 item 1).
    const elicitingDoors: [string, 'stdio' | 'http', Era][] = [
      ['stdio legacy', 'stdio', 'legacy'],
      ['http legacy (session)', 'http', 'legacy'],
      ['stdio modern', 'stdio', 'modern'],
      ['http modern', 'http', 'modern'],
    ];

    describe.each(elicitingDoors)('elicitation over %s', (_label, door, era) => {
      it('accept -> the command runs; the person saw the exact command, rule and reason', async () => {
        const { client, close } = await open(door, era, agent);
        const p = person(client, () => ({ action: 'accept', content: { approve: true } }));
        try {
          const m = marker();
          const seq = auditSeq(env);
          const r = await client.callTool({ name: 'exec', arguments: { command: risky(m) } });
          expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
          // The attempt that ran (the last one: a 2026-07-28 client first gets an input-required answer, itself audited).
          const attempt = auditAfter(env, seq).findLast((x) => x.tool === 'exec' && x.phase === 'attempt');
          expect(attempt).toMatchObject({ decision: 'approve', approver: expect.stringMatching(/^elicitation:/) });
          expect((r.structuredContent as { stdout: string }).stdout).toBe(`${m}\n`);
          expect(ran(m)).toBe(true);
          expect(p.shown).toHaveLength(1);
          expect(p.shown[0]).toContain(risky(m));
          expect(p.shown[0]).toMatch(/fs\.rm-recursive/);
          expect(p.shown[0]).toMatch(/recursively/);
        } finally {
          await close();
        }
      });

      it("cancel is not deny: the approval stays waiting, the text names it, and a person's out-of-band approval lets the retry run once", async () => {
        const { client, close } = await open(door, era, agent);
        person(client, () => ({ action: 'cancel' }));
        try {
          const m = marker();
          const args = { command: risky(m) };
          const r = await client.callTool({ name: 'exec', arguments: args });
          expect(r.isError).toBe(true);
          const text = JSON.stringify(r.content);
          expect(text).toMatch(
            /approval_required: the client cancelled the approval form without an answer; that is not a decision: approval ap_\w+ is still waiting/,
          );
          const id = approvalIdOf(r);
          expect(text).toContain(id);
          expect(ran(m)).toBe(false);
          expect(cli(['approve', id], env).code).toBe(0);
          const retry = await client.callTool({ name: 'exec', arguments: { ...args, approval_id: id } });
          expect(retry.isError, JSON.stringify(retry.content)).toBeFalsy();
          expect(ran(m)).toBe(true);
        } finally {
          await close();
        }
      });

      it.each([
        ['decline', { action: 'decline' }],
        ['accept without approving', { action: 'accept', content: { approve: false } }],
      ] as const)('%s -> denied, nothing runs', async (_what, answer) => {
        const { client, close } = await open(door, era, agent);
        person(client, () => answer as Answer);
        try {
          const m = marker();
          const r = await client.callTool({ name: 'exec', arguments: { command: risky(m) } });
          expect(r.isError).toBe(true);
          expect(JSON.stringify(r.content)).toMatch(/denied/);
          expect(ran(m), 'the command must not have run').toBe(false);
        } finally {
          await close();
        }
      });
    });

    it('a 2025-era client that answers the approval request with a JSON-RPC error gets a typed result naming the waiting approval; it is audited', async () => {
      const { client, close } = await open('stdio', 'legacy', agent);
      client.setRequestHandler('elicitation/create', async () => {
        throw new Error('the host cannot show forms right now');
      });
      try {
        const m = marker();
        const seq = auditSeq(env);
        const r = await client.callTool({ name: 'exec', arguments: { command: risky(m) } });
        expect(r.isError).toBe(true);
        expect(JSON.stringify(r.content)).toMatch(
          /approval_required: the client could not show the approval form \(.*\); that is not a decision: approval ap_\w+ is still waiting/,
        );
        const id = approvalIdOf(r);
        expect(ran(m)).toBe(false);
        expect(auditAfter(env, seq).some((x) => x.tool === 'exec' && x.outcome === 'approval_unanswered')).toBe(true);
        const listed = cli(['approvals', 'list'], env);
        expect(listed.stdout).toContain(`Approval ${id} (pending)`);
        cli(['deny', id], env);
      } finally {
        await close();
      }
    });

    it('a call cancelled while the approval form is open is audited; the approval stays waiting for a person', async () => {
      const { client, close } = await open('stdio', 'legacy', agent);
      let asked!: () => void;
      const shown = new Promise<void>((r) => (asked = r));
      // The person never answers: the form stays open until the agent's client cancels the call.
      client.setRequestHandler('elicitation/create', () => {
        asked();
        return new Promise(() => undefined);
      });
      try {
        const m = marker();
        const seq = auditSeq(env);
        const abort = new AbortController();
        const call = client
          .callTool({ name: 'exec', arguments: { command: risky(m) } }, { signal: abort.signal })
          .catch((e: unknown) => e);
        await shown;
        abort.abort(new Error('the agent gave up'));
        await call;
        // The server records the outcome once it sees notifications/cancelled.
        let records = auditAfter(env, seq);
        for (let i = 0; i < 50 && !records.some((x) => x.outcome === 'approval_cancelled'); i++) {
          await new Promise((r) => setTimeout(r, 100));
          records = auditAfter(env, seq);
        }
        const event = records.find((x) => x.tool === 'exec' && x.outcome === 'approval_cancelled');
        expect(event, JSON.stringify(records)).toBeDefined();
        expect(ran(m)).toBe(false);
        expect(cli(['approvals', 'list'], env).stdout).toContain(risky(m));
      } finally {
        await close();
      }
    });

    describe.each(ERAS)('out of band (%s)', (era) => {
      it('no elicitation -> approval id -> `gatehouse approve` from another process -> retry runs once', async () => {
        const { client, close } = await open('http', era, agent, {});
        try {
          const m = marker();
          const args = { command: risky(m) };
          const first = await client.callTool({ name: 'exec', arguments: args });
          expect(first.isError).toBe(true);
          expect(JSON.stringify(first.content)).toMatch(/approval_required/);
          const id = approvalIdOf(first);
          const listing = cli(['approvals', 'list'], env);
          expect(listing.stdout).toContain(id);
          expect(listing.stdout).toContain(risky(m));
          const pending = await client.callTool({ name: 'exec', arguments: { ...args, approval_id: id } });
          expect(JSON.stringify(pending.content)).toMatch(/approval_required|wait/);
          expect(ran(m), 'nothing runs before a person approves').toBe(false);
          const seq = auditSeq(env);
          expect(cli(['approve', id, '--note', 'looks fine'], env).code).toBe(0);
          const r = await client.callTool({ name: 'exec', arguments: { ...args, approval_id: id } });
          expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
          expect((r.structuredContent as { stdout: string }).stdout).toBe(`${m}\n`);
          expect(ran(m)).toBe(true);
          // Who approved, by which channel and with what note, in this approval's own records.
          const mine = auditAfter(env, seq);
          expect(mine.find((x) => x.tool === 'approval.decide')).toMatchObject({
            approver: expect.stringMatching(/^cli:/),
            outcome: 'approved',
            detail: { approval: id, channel: 'cli', note: 'looks fine' },
          });
          expect(mine.findLast((x) => x.tool === 'exec' && x.phase === 'attempt')).toMatchObject({
            decision: 'approve',
            approver: expect.stringMatching(/^cli:/),
          });
          const replay = await client.callTool({ name: 'exec', arguments: { ...args, approval_id: id } });
          expect(replay.isError).toBe(true);
          expect(JSON.stringify(replay.content)).toMatch(/approval_invalid/);
        } finally {
          await close();
        }
      });

      it('`gatehouse deny` -> retry refused, and a denied approval can never be approved', async () => {
        const { client, close } = await open('http', era, agent, {});
        try {
          const m = marker();
          const args = { command: risky(m) };
          const id = approvalIdOf(await client.callTool({ name: 'exec', arguments: args }));
          expect(cli(['deny', id, '--note', 'not today'], env).code).toBe(0);
          expect(cli(['approve', id], env).code).not.toBe(0);
          const r = await client.callTool({ name: 'exec', arguments: { ...args, approval_id: id } });
          expect(r.isError).toBe(true);
          expect(JSON.stringify(r.content)).toMatch(/approval_invalid/);
          expect(ran(m)).toBe(false);
        } finally {
          await close();
        }
      });
    });

    it('an approval id is bound to its token and its exact command', async () => {
      const a = await open('http', 'modern', agent, {});
      const b = await open('http', 'modern', other, {});
      try {
        const m = marker();
        const args = { command: risky(m) };
        const id = approvalIdOf(await a.client.callTool({ name: 'exec', arguments: args }));
        expect(cli(['approve', id], env).code).toBe(0);
        const otherToken = await b.client.callTool({ name: 'exec', arguments: { ...args, approval_id: id } });
        expect(JSON.stringify(otherToken.content)).toMatch(/approval_invalid/);
        // The changed command would touch the same marker: it must not run either.
        const changed = await a.client.callTool({
          name: 'exec',
          arguments: { command: args.command + ' /', approval_id: id },
        });
        expect(changed.isError).toBe(true);
        expect(JSON.stringify(changed.content)).toMatch(/approval_invalid|denied/);
        expect(ran(m)).toBe(false);
        // The rightful retry still works: the failed attempts did not spend it.
        const ok = await a.client.callTool({ name: 'exec', arguments: { ...args, approval_id: id } });
        expect(ok.isError, JSON.stringify(ok.content)).toBeFalsy();
        expect(ran(m)).toBe(true);
      } finally {
        await a.close();
        await b.close();
      }
    });

    it('a token with approval: out-of-band never gets an elicitation, even from a client that offers one', async () => {
      const { client, close } = await open('stdio', 'modern', oob);
      const p = person(client, () => ({ action: 'accept', content: { approve: true } }));
      try {
        const m = marker();
        const r = await client.callTool({ name: 'exec', arguments: { command: risky(m) } });
        expect(JSON.stringify(r.content)).toMatch(/approval_required/);
        expect(p.shown).toEqual([]);
        expect(ran(m)).toBe(false);
      } finally {
        await close();
      }
    });

    it('agent-supplied approval fields and headers approve nothing and are audited', async () => {
      const { client, close } = await open('http', 'modern', agent, {});
      try {
        const seq = auditSeq(env);
        const m = marker();
        const r = await client.callTool({
          name: 'exec',
          arguments: { command: risky(m), approved: true, confirm: true },
        });
        expect(JSON.stringify(r.content)).toMatch(/approval_required/);
        expect(ran(m)).toBe(false);
        const forged = await client.callTool({
          name: 'exec',
          arguments: { command: risky(marker()), approval_id: 'ap_AAAAAAAAAAAAAAAAAAAAAAAAAA' },
        });
        expect(JSON.stringify(forged.content)).toMatch(/approval_invalid/);
        const del = await client.callTool({
          name: 'api_request',
          arguments: { target: 'echo', method: 'DELETE', path: '/thing', headers: { 'X-Gatehouse-Approved': 'true' } },
        });
        expect(JSON.stringify(del.content)).toMatch(/approval_required/);
        const before = upstream.seen.length;
        const gw = await fetch(`${server.url}/gateway/echo/thing`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${agent}`, 'x-gatehouse-approved': 'true' },
        });
        expect(gw.status).toBe(403);
        expect(upstream.seen.length).toBe(before);
        // Each forged field or header is audited by name, in this test's own records.
        const forgedEvents = auditAfter(env, seq).filter((x) => x.outcome === 'forged_approval_ignored');
        expect(forgedEvents.map((x) => [x.tool, x.tokenName, x.detail])).toEqual([
          ['exec', 'agent', { arguments: ['approved', 'confirm'] }],
          ['api_request', 'agent', { headers: ['X-Gatehouse-Approved'] }],
          ['api_request', 'agent', { headers: ['x-gatehouse-approved'] }],
        ]);
      } finally {
        await close();
      }
    });

    it('/gateway: out-of-band approval, then retry with X-Gatehouse-Approval-Id', async () => {
      const first = await fetch(`${server.url}/gateway/echo/items/7`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${agent}` },
      });
      expect(first.status).toBe(403);
      const body = (await first.json()) as { error: { code: string; details: { approvalId: string } } };
      expect(body.error.code).toBe('approval_required');
      const admin = /Admin token[^\n]*\n\n\s+(gh_\S+)/.exec(server.output())![1];
      const decided = await fetch(`${server.url}/admin/approvals/${body.error.details.approvalId}/approve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: '{"note":"via api"}',
      });
      expect(decided.status).toBe(200);
      const before = upstream.seen.length;
      const seq = auditSeq(env);
      const retry = await fetch(`${server.url}/gateway/echo/items/7`, {
        method: 'DELETE',
        headers: { authorization: `Bearer ${agent}`, 'x-gatehouse-approval-id': body.error.details.approvalId },
      });
      expect(retry.status).toBe(200);
      expect(auditAfter(env, seq).findLast((x) => x.tool === 'api_request' && x.phase === 'attempt')).toMatchObject({
        decision: 'approve',
        approver: expect.stringMatching(/^api:/),
      });
      expect(upstream.seen[before].method).toBe('DELETE');
      expect(upstream.seen[before].headers['x-gatehouse-approval-id']).toBeUndefined();
    });

    it('/gateway: an approval for a body the guard cannot read binds to those exact bytes', async () => {
      const admin = /Admin token[^\n]*\n\n\s+(gh_\S+)/.exec(server.output())![1];
      // Binary bytes to a GraphQL path: the guard cannot see whether they hold a mutation.
      const approved = Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x42, 0x9a, 0x10, 0x20]);
      const other = Buffer.from([0x00, 0x01, 0xfe, 0xff, 0x42, 0x9a, 0x10, 0x21]);
      const send = (body: Buffer, approvalId?: string) =>
        fetch(`${server.url}/gateway/echo/graphql`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${agent}`,
            'content-type': 'application/octet-stream',
            ...(approvalId ? { 'x-gatehouse-approval-id': approvalId } : {}),
          },
          body,
        });
      const first = await send(approved);
      expect(first.status).toBe(403);
      const id = ((await first.json()) as { error: { code: string; details: { approvalId: string } } }).error.details
        .approvalId;

      // The person is shown the size and digest of the bytes they approve.
      const listed = (await (
        await fetch(`${server.url}/admin/approvals`, { headers: { authorization: `Bearer ${admin}` } })
      ).json()) as { approvals: { id: string; operation: unknown; description?: string }[] };
      const shown = listed.approvals.find((a) => a.id === id)!;
      const sha = createHash('sha256').update(approved).digest('hex');
      expect(shown.operation).toMatchObject({
        kind: 'http',
        method: 'POST',
        path: '/graphql',
        body: { bytes: approved.length, sha256: sha },
      });
      expect(
        (
          await fetch(`${server.url}/admin/approvals/${id}/approve`, {
            method: 'POST',
            headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
            body: '{}',
          })
        ).status,
      ).toBe(200);

      // Other bytes with the same approval id: another action, refused, nothing sent.
      const before = upstream.seen.length;
      const swapped = await send(other, id);
      expect(swapped.status).toBe(403);
      expect(((await swapped.json()) as { error: { code: string } }).error.code).toBe('approval_invalid');
      expect(upstream.seen.length).toBe(before);

      // The approved bytes go through, byte for byte.
      const ok = await send(approved, id);
      expect(ok.status).toBe(200);
      expect(upstream.seen.length).toBe(before + 1);
      expect(upstream.seen[before].body.equals(approved)).toBe(true);
    });

    it('/gateway: an approval for a compressed body binds the bytes sent, not only the text the guard judged', async () => {
      const admin = /Admin token[^\n]*\n\n\s+(gh_\S+)/.exec(server.output())![1];
      const text = JSON.stringify({ query: `mutation { ${'touch(id: 1) '.repeat(40)}}` });
      // Two gzip streams of the same text and length (they differ in the header's mtime field): the
      // guard reads the same mutation in both, and every header, Content-Length included, is equal.
      const approved = gzipSync(text);
      const other = Buffer.from(approved);
      other.writeUInt32LE(1_700_000_000, 4);
      expect(gunzipSync(other).toString()).toBe(text);
      expect(approved.equals(other)).toBe(false);
      const send = (body: Buffer, approvalId?: string) =>
        fetch(`${server.url}/gateway/echo/graphql`, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${agent}`,
            'content-type': 'application/json',
            'content-encoding': 'gzip',
            ...(approvalId ? { 'x-gatehouse-approval-id': approvalId } : {}),
          },
          body,
        });
      const first = await send(approved);
      const refused = (await first.json()) as {
        error: { code: string; details: { rule: string; approvalId: string } };
      };
      expect(refused.error).toMatchObject({ code: 'approval_required', details: { rule: 'http.graphql-mutation' } });
      const id = refused.error.details.approvalId;
      expect(
        (
          await fetch(`${server.url}/admin/approvals/${id}/approve`, {
            method: 'POST',
            headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
            body: '{}',
          })
        ).status,
      ).toBe(200);

      const before = upstream.seen.length;
      const swapped = await send(other, id);
      expect(((await swapped.json()) as { error: { code: string } }).error.code).toBe('approval_invalid');
      expect(upstream.seen.length).toBe(before);
      const ok = await send(approved, id);
      expect(ok.status).toBe(200);
      expect(upstream.seen[before].body.equals(approved)).toBe(true);
    });

    describe('TOTP', () => {
      it('the right code runs; a wrong code denies; a reused code denies', async () => {
        const { client, close } = await open('stdio', 'modern', totpAgent);
        let code = '';
        person(client, () => ({ action: 'accept', content: { code } }));
        const seq = auditSeq(env);
        try {
          code = totpCode(totpSecret, Date.now());
          const m = marker();
          const ok = await client.callTool({ name: 'exec', arguments: { command: risky(m) } });
          expect(ok.isError, JSON.stringify(ok.content)).toBeFalsy();
          expect((ok.structuredContent as { stdout: string }).stdout).toBe(`${m}\n`);
          const reused = await client.callTool({ name: 'exec', arguments: { command: risky(marker()) } });
          expect(reused.isError).toBe(true);
          code = code === '000000' ? '111111' : '000000';
          const wrong = await client.callTool({ name: 'exec', arguments: { command: risky(marker()) } });
          expect(wrong.isError).toBe(true);
          expect(JSON.stringify(wrong.content)).toMatch(/approval_invalid|denied/);
        } finally {
          await close();
        }
        // This test's own code checks, in order: the right code, the same code again, a wrong one.
        const checks = auditAfter(env, seq)
          .filter((x) => x.tool === 'approval.totp')
          .map((x) => x.outcome);
        expect(checks).toEqual(['ok', 'refused:reused', 'refused:wrong_code']);
      });
    });
  },
);
