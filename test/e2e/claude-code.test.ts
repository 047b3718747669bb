/**
 * The real Claude Code CLI (issue 18's done-when, issue 23 item 5) driving Gatehouse's tools over
 * Streamable HTTP, with a scripted model on loopback standing in for the Anthropic API. Claude Code
 * runs in print mode (`claude -p`), on both protocol revisions it speaks: 2026-07-28 by default,
 * 2025-11-25 (an `initialize` and an `Mcp-Session-Id` session) with MCP_PROTOCOL_NEGOTIATION=legacy.
 *
 *  - `discover`'s result reaches the model as text.
 *  - An approval form: a host that accepts it (Claude Code's Elicitation hook answering accept) runs
 *    the command.
 *  - A cancelled form (print mode cancels every form by itself) leaves a pending approval; the model
 *    is told its id in the text; a person approves it out of band; the model's retry with
 *    `approval_id` runs once.
 */
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt, cli, createToken, startServe } from '../helpers/cli.js';
import { runClaude } from '../helpers/claude-code.js';
import {
  lastToolResult,
  startFakeModel,
  type FakeModel,
  type MessagesRequest,
  type Turn,
} from '../helpers/fake-anthropic.js';
import { approvalWorkspace, tempHome } from '../helpers/home.js';
import { requires } from '../helpers/requires.js';

const ERAS = [
  ['2026-07-28', '2026-07-28', {}],
  ['2025-11-25 (session)', '2025-11-25', { MCP_PROTOCOL_NEGOTIATION: 'legacy' }],
] as const;

const ACCEPT_HOOK = {
  hooks: {
    Elicitation: [
      {
        matcher: 'gatehouse',
        hooks: [
          {
            type: 'command',
            command: `echo '${JSON.stringify({ hookSpecificOutput: { hookEventName: 'Elicitation', action: 'accept', content: { approve: true } } })}'`,
          },
        ],
      },
    ],
  },
};

describe.skipIf(!(await requires(['claude-code', 'bwrap'], 'Claude Code end to end')))(
  'the real Claude Code CLI drives Gatehouse over Streamable HTTP',
  () => {
    const home = tempHome();
    let server: Awaited<ReturnType<typeof startServe>>;
    let agent: string;
    const models: FakeModel[] = [];
    // A command that needs approval and leaves a marker in the sandbox's workspace when it runs.
    const { env, marker, risky, ran } = approvalWorkspace(home, 'cc');

    beforeAll(async () => {
      assertBuilt();
      agent = createToken(env, 'agent', ['tool:discover', 'tool:exec']);
      server = await startServe(env);
    });
    afterAll(async () => {
      await server?.stop();
      for (const m of models) await m.close();
      home.cleanup();
    });

    const model = async (script: (body: MessagesRequest) => Turn | Promise<Turn>): Promise<FakeModel> => {
      const m = await startFakeModel(script);
      models.push(m);
      return m;
    };
    const claude = (m: FakeModel, prompt: string, era: Record<string, string>, settings?: Record<string, unknown>) =>
      runClaude({
        dir: mkdtempSync(join(home.dir, 'cc-')),
        prompt,
        modelUrl: m.url,
        mcpServers: {
          gatehouse: { type: 'http', url: `${server.url}/mcp`, headers: { Authorization: `Bearer ${agent}` } },
        },
        allowedTools: ['mcp__gatehouse__discover', 'mcp__gatehouse__exec'],
        ...(settings ? { settings } : {}),
        env: era,
      });
    /** The model's script: call `tool` once, then answer with the tool result it was shown. */
    const callOnce = (tool: string, input: Record<string, unknown>) => (body: MessagesRequest) => {
      const shown = lastToolResult(body);
      if (shown) return { text: `RESULT: ${shown.text}` };
      if (!(body.tools ?? []).some((t) => t.name === tool)) return { text: 'no such tool offered' };
      return { tool, input };
    };

    describe.each(ERAS)('protocol %s', (_label, protocol, era) => {
      it('discover: the result reaches the model as text', async () => {
        const m = await model(callOnce('mcp__gatehouse__discover', {}));
        const r = await claude(m, 'what may I use?', era);
        expect(r.code, r.stderr).toBe(0);
        const shown = m.requests.map(lastToolResult).find(Boolean);
        expect(shown?.isError).toBe(false);
        expect(shown?.text).toMatch(/agent/); // the token's own name, from discover's text
        expect(shown?.text).toMatch(/exec/);
        // discover names the client it was called from: Claude Code, on the revision under test.
        expect(shown?.text).toMatch(/claude-code/i);
        expect(shown?.text).toContain(protocol);
      }, 150_000);

      it('an approval form the host accepts: the command runs', async () => {
        const mk = marker();
        const m = await model(callOnce('mcp__gatehouse__exec', { command: risky(mk) }));
        const r = await claude(m, 'clean up', era, ACCEPT_HOOK);
        expect(r.code, r.stderr).toBe(0);
        const shown = m.requests.map(lastToolResult).find(Boolean);
        expect(shown?.isError, shown?.text).toBe(false);
        expect(shown?.text).toContain(mk);
        expect(ran(mk)).toBe(true);
      }, 150_000);

      it('a cancelled form leaves an approval a person decides out of band; the retry with its id runs once', async () => {
        const mk = marker();
        let approvalId: string | undefined;
        let approved = false;
        const m = await model((body) => {
          const shown = lastToolResult(body);
          if (!shown) return { tool: 'mcp__gatehouse__exec', input: { command: risky(mk) } };
          if (!approvalId) {
            // The model is told, in the text, that a person must decide and which approval it is.
            approvalId = /approval (ap_[a-z2-7]{26}) is still waiting/.exec(shown.text)?.[1];
            if (!approvalId) return { text: `NO APPROVAL ID IN: ${shown.text}` };
            // The person, told by the agent, approves from another terminal.
            approved = cli(['approve', approvalId], env).code === 0;
            return { tool: 'mcp__gatehouse__exec', input: { command: risky(mk), approval_id: approvalId } };
          }
          return { text: `RESULT: ${shown.text}` };
        });
        const r = await claude(m, 'clean up', era);
        expect(r.code, r.stderr).toBe(0);
        const results = m.requests.map(lastToolResult).filter((x) => x !== undefined);
        expect(results[0]!.isError).toBe(true);
        expect(results[0]!.text).toMatch(/cancelled the approval form without an answer; that is not a decision/);
        expect(approvalId).toBeDefined();
        expect(approved).toBe(true);
        expect(results[1]!.isError, results[1]!.text).toBe(false);
        expect(ran(mk)).toBe(true);
        // Used once: it is no longer waiting, and shows as used.
        const all = JSON.parse(cli(['approvals', 'list', '--all', '--json'], env).stdout) as {
          approvals: { id: string; status: string }[];
        };
        expect(all.approvals.find((a) => a.id === approvalId)?.status).toBe('used');
      }, 150_000);
    });
  },
);
