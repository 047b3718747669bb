/**
 * `gatehouse run --model-gateway` end to end (issue 20 item 1): an agent-shaped program inside the
 * sandbox uses the official Anthropic and OpenAI SDK packages, against a local fake of each API,
 * streaming and not. It gets its answers; its environment holds only a run token (never a real
 * key); the fake APIs receive the real keys from the vault and never the Gatehouse token; the
 * run token is revoked when the program exits.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, assertBuilt, cli } from '../helpers/cli.js';
import { tempHome } from '../helpers/home.js';
import { requires } from '../helpers/requires.js';

const ANTHROPIC_KEY = 'sk-ant-real-key-canary-7f1e2d3c4b5a';
const OPENAI_KEY = 'sk-openai-real-key-canary-0a9b8c7d6e';
const DB_CANARY = 'db-password-canary-51c0ffee';
const NODE_MODULES = fileURLToPath(new URL('../../node_modules', import.meta.url));
// The agent runs on a Node the sandbox can see: the system's when there is one (CI's Node 24 lives
// under /root, which the sandbox's user cannot enter), else this one.
const AGENT_NODE = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p)) ?? process.execPath;

/** The program the agent would be: both SDKs, a plain and a streamed call each; prints what it got. */
const AGENT = `
const Anthropic = require('@anthropic-ai/sdk');
const OpenAI = require('openai');
(async () => {
  const out = { env: Object.entries(process.env).filter(([k]) => /ANTHROPIC|OPENAI/.test(k)) };
  const anthropic = new (Anthropic.default || Anthropic)({ maxRetries: 0 });
  // A planted canary: what an agent read from a file lands in its prompt.
  const planted = require('fs').existsSync('canary.txt') ? require('fs').readFileSync('canary.txt', 'utf8') : '';
  const m = await anthropic.messages.create({ model: 'claude-test', max_tokens: 20, messages: [{ role: 'user', content: 'hi ' + planted }] });
  out.anthropic = m.content[0].text;
  const stream = anthropic.messages.stream({ model: 'claude-test', max_tokens: 20, messages: [{ role: 'user', content: 'hi' }] });
  let streamed = '';
  stream.on('text', (t) => (streamed += t));
  await stream.finalMessage();
  out.anthropicStream = streamed;
  const openai = new (OpenAI.default || OpenAI)({ maxRetries: 0 });
  const c = await openai.chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] });
  out.openai = c.choices[0].message.content;
  const s = await openai.chat.completions.create({ model: 'gpt-test', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  let parts = '';
  for await (const chunk of s) parts += chunk.choices[0]?.delta?.content ?? '';
  out.openaiStream = parts;
  console.log(JSON.stringify(out));
})().catch((e) => { console.error('agent failed:', e && e.message); process.exit(3); });
`;

/** A fake of both APIs: records the auth headers each request carried. */
function fakeApis() {
  const seen: { path: string; headers: http.IncomingHttpHeaders; body: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      seen.push({ path: req.url ?? '', headers: req.headers, body });
      const stream = (JSON.parse(body || '{}') as { stream?: boolean }).stream === true;
      const sse = (events: [string | null, unknown][]) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const [event, data] of events)
          res.write(
            `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`,
          );
        res.end();
      };
      if (req.url === '/v1/messages') {
        const message = {
          id: 'msg_1',
          type: 'message',
          role: 'assistant',
          model: 'claude-test',
          content: [{ type: 'text', text: 'hello from fake claude' }],
          stop_reason: 'end_turn',
          stop_sequence: null,
          usage: { input_tokens: 5, output_tokens: 4 },
        };
        if (!stream) {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify(message));
        }
        return sse([
          [
            'message_start',
            {
              type: 'message_start',
              message: { ...message, content: [], usage: { input_tokens: 5, output_tokens: 0 } },
            },
          ],
          ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
          [
            'content_block_delta',
            { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'streamed ' } },
          ],
          [
            'content_block_delta',
            { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'claude' } },
          ],
          ['content_block_stop', { type: 'content_block_stop', index: 0 }],
          [
            'message_delta',
            {
              type: 'message_delta',
              delta: { stop_reason: 'end_turn', stop_sequence: null },
              usage: { output_tokens: 2 },
            },
          ],
          ['message_stop', { type: 'message_stop' }],
        ]);
      }
      if (req.url === '/v1/chat/completions') {
        const base = { id: 'chatcmpl-1', created: 1, model: 'gpt-test' };
        if (!stream) {
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(
            JSON.stringify({
              ...base,
              object: 'chat.completion',
              choices: [
                { index: 0, finish_reason: 'stop', message: { role: 'assistant', content: 'hello from fake gpt' } },
              ],
              usage: { prompt_tokens: 5, completion_tokens: 4, total_tokens: 9 },
            }),
          );
        }
        const chunk = (content: string | null, finish: string | null) => ({
          ...base,
          object: 'chat.completion.chunk',
          choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: finish }],
        });
        return sse([
          [null, chunk('streamed ', null)],
          [null, chunk('gpt', null)],
          [null, chunk(null, 'stop')],
          [
            null,
            {
              ...base,
              object: 'chat.completion.chunk',
              choices: [],
              usage: { prompt_tokens: 5, completion_tokens: 2 },
            },
          ],
          [null, '[DONE]'],
        ]);
      }
      res.writeHead(404).end();
    });
  });
  return { server, seen };
}

describe.skipIf(!(await requires(['bwrap', 'root'], 'model gateway (sandbox networking)')))(
  'gatehouse run --model-gateway',
  () => {
    const home = tempHome();
    const fake = fakeApis();
    let env: NodeJS.ProcessEnv;
    let workspace: string;

    beforeAll(async () => {
      assertBuilt();
      await new Promise<void>((r) => fake.server.listen(0, '127.0.0.1', r));
      const port = (fake.server.address() as AddressInfo).port;
      workspace = mkdtempSync(join(tmpdir(), 'gh-model-ws-'));
      chmodSync(workspace, 0o777);
      writeFileSync(join(workspace, 'agent.cjs'), AGENT);
      writeFileSync(join(workspace, 'canary.txt'), `db password ${DB_CANARY} and card 4242 4242 4242 4242`);
      const config = join(home.dir, 'config.yaml');
      // The sandbox reads the SDK packages and this Node from where they are installed.
      writeFileSync(
        config,
        [
          'sandbox:',
          '  profile: agent',
          '  profiles:',
          '    agent:',
          `      workspace: ${workspace}`,
          `      readOnlyPaths: [/usr, /bin, /sbin, /lib, /lib64, /etc, ${NODE_MODULES}, ${dirname(dirname(AGENT_NODE))}]`,
          `      env: { NODE_PATH: ${NODE_MODULES} }`,
          '      limits: { wallSeconds: 60 }',
          '',
        ].join('\n'),
      );
      env = { ...home.env, GATEHOUSE_CONFIG: config };
      const ok = (r: ReturnType<typeof cli>) => {
        if (r.code !== 0) throw new Error(r.stderr + r.stdout);
      };
      ok(cli(['vault', 'create', 'models'], env));
      ok(cli(['vault', 'set', 'models/anthropic.key', '--bind', 'target:anthropic'], env, ANTHROPIC_KEY));
      ok(cli(['vault', 'set', 'models/openai.key', '--bind', 'target:openai'], env, OPENAI_KEY));
      // A credential of something else entirely, which the agent happened to read.
      ok(cli(['vault', 'set', 'models/db.password', '--bind', 'target:nowhere'], env, DB_CANARY));
      const base = `http://127.0.0.1:${port}`;
      ok(
        cli(
          [
            'target',
            'add',
            'http',
            'anthropic',
            '--preset',
            'anthropic',
            '--base-url',
            base,
            '--allow-private',
            '--secret',
            'vault:models/anthropic.key',
          ],
          env,
        ),
      );
      ok(
        cli(
          [
            'target',
            'add',
            'http',
            'openai',
            '--preset',
            'openai',
            '--base-url',
            `${base}/v1`,
            '--allow-private',
            '--secret',
            'vault:models/openai.key',
          ],
          env,
        ),
      );
    }, 60_000);
    afterAll(() => {
      fake.server.close();
      rmSync(workspace, { recursive: true, force: true });
      home.cleanup();
    });

    it('the agent gets its answers through Gatehouse while holding only a run token', async () => {
      const child = spawn(process.execPath, [CLI, 'run', '--model-gateway', '--', AGENT_NODE, 'agent.cjs'], {
        cwd: workspace,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await new Promise<number | null>((r) => child.on('close', r));
      expect(code, stderr + stdout).toBe(0);
      expect(stderr).toContain('model traffic goes through Gatehouse (anthropic, openai)');
      const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as {
        env: [string, string][];
        anthropic: string;
        anthropicStream: string;
        openai: string;
        openaiStream: string;
      };
      expect(out).toMatchObject({
        anthropic: 'hello from fake claude',
        anthropicStream: 'streamed claude',
        openai: 'hello from fake gpt',
        openaiStream: 'streamed gpt',
      });
      // Inside: base URLs through the host's loopback, and one run token where the SDKs look for keys.
      const inside = Object.fromEntries(out.env);
      expect(inside.ANTHROPIC_BASE_URL).toMatch(/^http:\/\/host-loopback:\d+\/gateway\/anthropic$/);
      expect(inside.OPENAI_BASE_URL).toMatch(/^http:\/\/host-loopback:\d+\/gateway\/openai$/);
      const token = inside.OPENAI_API_KEY!;
      expect(token).toMatch(/^gh/);
      expect(inside.ANTHROPIC_AUTH_TOKEN).toBe(token);
      expect(JSON.stringify(out.env)).not.toContain(ANTHROPIC_KEY);
      expect(JSON.stringify(out.env)).not.toContain(OPENAI_KEY);
      // The fake APIs got the real keys, each in its own header, and never the Gatehouse token.
      const messages = fake.seen.filter((s) => s.path === '/v1/messages');
      const chats = fake.seen.filter((s) => s.path === '/v1/chat/completions');
      expect(messages).toHaveLength(2);
      expect(chats).toHaveLength(2);
      for (const s of messages) {
        expect(s.headers['x-api-key']).toBe(ANTHROPIC_KEY);
        expect(s.headers.authorization).toBeUndefined();
      }
      for (const s of chats) expect(s.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
      expect(JSON.stringify(fake.seen)).not.toContain(token);
      // DLP: the planted canary and the card number never left; the audit record counts them.
      const prompt = messages[0]!.body;
      expect(prompt).toContain('db password');
      expect(prompt).not.toContain(DB_CANARY);
      expect(prompt).not.toContain('4242 4242 4242 4242');
      expect(prompt).toContain('[REDACTED:card]');
      const records = cli(['audit', 'search', '--tool', 'api_request', '--json'], env).stdout;
      expect(records).toMatch(/"dlp":\{"vault-or-key":1,"card":1\}/);
      // The run token is revoked once the program exited.
      const list = cli(['token', 'list', '--json'], env);
      const runTokens = (JSON.parse(list.stdout) as { name: string; revokedAt: string | null }[]).filter((t) =>
        t.name.startsWith('run-'),
      );
      expect(runTokens).toHaveLength(1);
      expect(runTokens[0]!.revokedAt).not.toBeNull();
    }, 90_000);

    it('counts the tokens of every call, streamed or not, and a daily budget refuses once spent', async () => {
      const usage = JSON.parse(cli(['usage', '--json'], env).stdout) as {
        token: string;
        target: string;
        input: number;
        output: number;
        calls: number;
      }[];
      // The first run's token: 2 calls per API, 5 in + 4 out plain, 5 in + 2 out streamed.
      const first = usage.filter((u) => u.token === usage[0]!.token);
      expect(first.map((u) => [u.target, u.calls, u.input, u.output]).sort()).toEqual([
        ['anthropic', 2, 10, 6],
        ['openai', 2, 10, 6],
      ]);
      // 20 tokens a day: 9 + 7 spent on Anthropic, 9 on OpenAI's plain call; its streamed call is refused.
      const child = spawn(
        process.execPath,
        [CLI, 'run', '--model-gateway', '--max-tokens-per-day', '20', '--', AGENT_NODE, 'agent.cjs'],
        { cwd: workspace, env, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.resume();
      expect(await new Promise<number | null>((r) => child.on('close', r))).toBe(3);
      expect(stderr).toMatch(/agent failed: 429 .*model budget is spent: 25 of 20 tokens today/);
      const refused = cli(['audit', 'search', '--tool', 'api_request', '--json'], env);
      expect(refused.stdout).toContain('limit_exceeded');
    }, 90_000);

    it('--token NAME holds an existing token (its usage under its own name, not revoked at exit)', async () => {
      const made = cli(
        [
          'connect',
          'claude-code',
          '--new',
          'coder',
          '--grant',
          'tool:api_request',
          '--grant',
          'target:anthropic',
          '--grant',
          'target:openai',
        ],
        env,
      );
      expect(made.code, made.stderr).toBe(0);
      const child = spawn(
        process.execPath,
        [CLI, 'run', '--model-gateway', '--token', 'coder', '--', AGENT_NODE, 'agent.cjs'],
        {
          cwd: workspace,
          env,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.resume();
      expect(await new Promise<number | null>((r) => child.on('close', r)), stderr).toBe(0);
      const usage = JSON.parse(cli(['usage', '--token', 'coder', '--json'], env).stdout) as {
        token: string;
        calls: number;
      }[];
      expect(usage.map((u) => [u.token, u.calls])).toEqual([
        ['coder', 2],
        ['coder', 2],
      ]);
      const tokens = JSON.parse(cli(['token', 'list', '--json'], env).stdout) as {
        name: string;
        revokedAt: string | null;
      }[];
      expect(tokens.find((t) => t.name === 'coder')?.revokedAt).toBeNull();

      // A token that may not reach a model target through api_request is refused before anything runs.
      expect(cli(['connect', 'claude-code', '--new', 'reader', '--grant', 'tool:discover'], env).code).toBe(0);
      const refused = cli(['run', '--model-gateway', '--token', 'reader', '--', 'true'], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('token reader may not call a model target through api_request');
      const missing = cli(['run', '--model-gateway', '--token', 'nobody', '--', 'true'], env);
      expect(missing.stderr).toContain('no token file for nobody');
      // A named token's budget is its own, set with `usage budget`, not per run.
      expect(
        cli(['run', '--model-gateway', '--token', 'coder', '--max-tokens-per-day', '5', '--', 'true'], env).code,
      ).toBe(2);
    }, 90_000);

    it('without a model target it says how to add one', () => {
      const bare = tempHome();
      try {
        const r = cli(['run', '--model-gateway', '--', 'true'], bare.env);
        expect(r.code).toBe(2);
        expect(r.stderr).toContain('gatehouse target add http anthropic --preset anthropic');
      } finally {
        bare.cleanup();
      }
    });
  },
);
