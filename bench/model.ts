/**
 * The gateway's added latency on a streamed model response (issue 20's closing note), beside a
 * direct call in the same run: the official Anthropic SDK (and OpenAI's) as the client, calling
 *
 *   A. a fake of the provider's API on loopback directly, with the real key, and
 *   B. the same fake through `gatehouse serve` /gateway/<preset target>: the key injected from the
 *      vault, DLP on (the preset's default), the usage tap reading the stream, the audit log on.
 *
 * The fake runs in a process of its own and streams every answer with the same timing (a fixed
 * number of events at a fixed gap), so what B adds over A is the gateway's own. Time to first byte
 * is the time until the SDK hands over the first server-sent event (message_start); total is the
 * time until the stream ends. A and B alternate call by call (A B, B A, …) so a slow moment on the
 * machine lands on both.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { auditStoreFilesystem, CLI, cleanEnv, processCpuUs, run, startListening } from './gateway.js';
import { percentiles } from './stats.js';
import { startUpstream } from './upstream.js';

const ANTHROPIC_KEY = 'sk-ant-bench-' + 'a'.repeat(40);
const OPENAI_KEY = 'sk-openai-bench-' + 'o'.repeat(40);
/** Fixed counts the fake reports: the usage tap must read them back from the stream. */
const INPUT_TOKENS = 1234;

/**
 * The fake Anthropic Messages and OpenAI Chat Completions APIs (CommonJS, in a child process):
 * argv is EVENTS GAP_MS ANTHROPIC_KEY OPENAI_KEY INPUT_TOKENS. A streamed answer sends its opening
 * events at once, then EVENTS text deltas GAP_MS apart, then the closing events with usage. A
 * wrong key is answered 401, so a 200 through the gateway shows the key was injected. GET /last
 * returns the last request body received (to check DLP ran).
 */
const FAKE_SRC = `
const http = require('node:http');
const [events, gapMs, anthropicKey, openaiKey, inputTokens] = process.argv.slice(1);
const EVENTS = Number(events), GAP = Number(gapMs), INPUT = Number(inputTokens);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const frame = (event, data) => (event ? 'event: ' + event + '\\n' : '') + 'data: ' + (typeof data === 'string' ? data : JSON.stringify(data)) + '\\n\\n';
const word = (i) => ['The ', 'gateway ', 'passes ', 'each ', 'event ', 'on ', 'as ', 'it ', 'comes; '][i % 9];
let last = '';
async function anthropic(req, res, body) {
  // The gateway sets x-api-key (the preset's header); this SDK sends a key of its own as a bearer token.
  if (req.headers['x-api-key'] !== anthropicKey && req.headers['authorization'] !== 'Bearer ' + anthropicKey) {
    res.writeHead(401, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ type: 'error', error: { type: 'authentication_error', message: 'invalid x-api-key' } }));
  }
  const model = body.model || 'claude-bench';
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': 'req_bench' });
  res.write(frame('message_start', { type: 'message_start', message: { id: 'msg_bench', type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: INPUT, output_tokens: 1, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 } } }));
  res.write(frame('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }));
  res.write(frame('ping', { type: 'ping' }));
  for (let i = 0; i < EVENTS; i++) {
    await sleep(GAP);
    res.write(frame('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: word(i) } }));
  }
  res.write(frame('content_block_stop', { type: 'content_block_stop', index: 0 }));
  res.write(frame('message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: EVENTS } }));
  res.end(frame('message_stop', { type: 'message_stop' }));
}
async function openai(req, res, body) {
  if (req.headers['authorization'] !== 'Bearer ' + openaiKey) {
    res.writeHead(401, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } }));
  }
  const base = { id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1, model: body.model || 'gpt-bench' };
  const chunk = (delta, finish) => frame(null, { ...base, choices: [{ index: 0, delta, finish_reason: finish }] });
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  res.write(chunk({ role: 'assistant', content: '' }, null));
  for (let i = 0; i < EVENTS; i++) {
    await sleep(GAP);
    res.write(chunk({ content: word(i) }, null));
  }
  res.write(chunk({}, 'stop'));
  if (body.stream_options && body.stream_options.include_usage)
    res.write(frame(null, { ...base, choices: [], usage: { prompt_tokens: INPUT, completion_tokens: EVENTS, total_tokens: INPUT + EVENTS } }));
  res.end(frame(null, '[DONE]'));
}
const s = http.createServer((req, res) => {
  const parts = [];
  req.on('data', (d) => parts.push(d));
  req.on('end', () => {
    const text = Buffer.concat(parts).toString('utf8');
    if (req.method === 'GET' && req.url === '/last') return res.end(last);
    last = text;
    let body = {};
    try { body = JSON.parse(text || '{}'); } catch {}
    const done = (e) => { if (!res.headersSent) res.writeHead(500); res.end(String(e)); };
    if (req.url === '/v1/messages') return void anthropic(req, res, body).catch(done);
    if (req.url === '/v1/chat/completions') return void openai(req, res, body).catch(done);
    res.writeHead(404).end();
  });
});
s.keepAliveTimeout = 30000;
s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
process.on('disconnect', () => process.exit(0));
`;

interface Sample {
  ttfbMs: number;
  totalMs: number;
}

/** A request body the size of a coding agent's mid-session call: system prompt, tools, and files it read. */
function agentContext(targetBytes: number): {
  system: string;
  tools: Anthropic.Tool[];
  messages: Anthropic.MessageParam[];
} {
  // Source files the agent "read". Gatehouse fills `{{vault:…}}` handles in request bodies (and refuses
  // malformed ones), so files that spell one out are left out: this measures a plain prompt.
  const files = ['src/usage/ledger.ts', 'src/usage/tap.ts', 'src/dlp/index.ts', 'src/cli/model-gateway.ts']
    .map((p) => fileURLToPath(new URL(`../../${p}`, import.meta.url)))
    .filter((p) => existsSync(p))
    .map((p) => readFileSync(p, 'utf8'))
    .filter((text) => !text.includes('{{vault:'));
  if (files.length === 0) throw new Error('bench: no source files to build the agent-sized prompt from');
  const system =
    'You are a coding agent working in a TypeScript repository. Read files before you change them, keep changes ' +
    'small, run the tests after each change, and explain what you did in one short paragraph.\n'.repeat(40);
  const tools: Anthropic.Tool[] = ['read_file', 'write_file', 'edit_file', 'run_command', 'search', 'list_dir'].map(
    (name) => ({
      name,
      description:
        `${name.replace('_', ' ')}: operates inside the workspace only; paths are relative to its root. `.repeat(4),
      input_schema: {
        type: 'object',
        properties: {
          path: { type: 'string', description: 'a path relative to the workspace root' },
          text: { type: 'string', description: 'the text to write, the command to run, or the pattern to find' },
        },
        required: ['path'],
      },
    }),
  );
  const messages: Anthropic.MessageParam[] = [
    { role: 'user', content: 'Find why streamed answers are slow through the gateway and fix it.' },
  ];
  for (let i = 0; JSON.stringify({ system, tools, messages }).length < targetBytes; i++) {
    const id = `toolu_${String(i).padStart(4, '0')}`;
    messages.push(
      { role: 'assistant', content: [{ type: 'tool_use', id, name: 'read_file', input: { path: `file-${i}.ts` } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: files[i % files.length]! }] },
    );
  }
  messages.push({ role: 'assistant', content: 'I have read the files.' }, { role: 'user', content: 'Go on.' });
  return { system, tools, messages };
}

/** One streamed Messages call: time to the first event the SDK yields, and to the stream's end. */
async function anthropicCall(client: Anthropic, params: Anthropic.MessageCreateParamsStreaming): Promise<Sample> {
  const t0 = performance.now();
  const stream = await client.messages.create(params);
  let ttfbMs: number | undefined;
  let deltas = 0;
  let stopped = false;
  for await (const ev of stream) {
    ttfbMs ??= performance.now() - t0;
    if (ev.type === 'content_block_delta') deltas++;
    if (ev.type === 'message_stop') stopped = true;
  }
  const totalMs = performance.now() - t0;
  if (ttfbMs === undefined || !stopped || deltas === 0) throw new Error('bench: an Anthropic stream ended early');
  return { ttfbMs, totalMs };
}

/** One streamed Chat Completions call, timed the same way. */
async function openaiCall(client: OpenAI, params: OpenAI.ChatCompletionCreateParamsStreaming): Promise<Sample> {
  const t0 = performance.now();
  const stream = await client.chat.completions.create(params);
  let ttfbMs: number | undefined;
  let usage = false;
  for await (const chunk of stream) {
    ttfbMs ??= performance.now() - t0;
    if (chunk.usage) usage = true;
  }
  const totalMs = performance.now() - t0;
  if (ttfbMs === undefined || !usage) throw new Error('bench: an OpenAI stream ended early');
  return { ttfbMs, totalMs };
}

/** Sends SIGTERM and resolves when the process has exited. */
function stopped(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

const round = (v: number) => Math.round(v * 100) / 100;

/**
 * Direct (A) and gateway (B) figures side by side, with what B adds and B/A. `stream_ms` (first
 * event to end) shows whether the gateway stretches the stream itself or only delays its start.
 */
function compare(a: Sample[], b: Sample[]): Record<string, unknown> {
  const side = (s: Sample[]) => ({
    ttfb_ms: percentiles(s.map((x) => x.ttfbMs)),
    total_ms: percentiles(s.map((x) => x.totalMs)),
    stream_ms: percentiles(s.map((x) => x.totalMs - x.ttfbMs)),
  });
  type Figure = keyof ReturnType<typeof side>;
  const A = side(a);
  const B = side(b);
  const delta = (k: Figure) => ({
    p50: round(B[k].p50 - A[k].p50),
    p95: round(B[k].p95 - A[k].p95),
    p99: round(B[k].p99 - A[k].p99),
  });
  const ratio = (k: Figure) => ({ p50: round(B[k].p50 / A[k].p50), p99: round(B[k].p99 / A[k].p99) });
  return {
    direct: A,
    gateway: B,
    added_ms: { ttfb: delta('ttfb_ms'), total: delta('total_ms'), stream: delta('stream_ms') },
    ratio_gateway_vs_direct: { ttfb: ratio('ttfb_ms'), total: ratio('total_ms') },
  };
}

export async function benchModel(
  opts: {
    calls?: number;
    warmup?: number;
    concurrency?: number;
    rounds?: number;
    events?: number;
    gapMs?: number;
  } = {},
): Promise<Record<string, unknown>> {
  const calls = opts.calls ?? 100;
  const warmup = opts.warmup ?? 10;
  const concurrency = opts.concurrency ?? 8;
  const rounds = opts.rounds ?? 10;
  const events = opts.events ?? 50;
  const gapMs = opts.gapMs ?? 2;
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-model-'));
  const env = cleanEnv(join(dir, 'home'));
  // Hundreds of calls on one token: past the default per-token rate limit on purpose.
  const config = join(dir, 'config.yaml');
  writeFileSync(config, 'gate:\n  rate_limit: { per_second: 1000000, burst: 1000000 }\n');
  env.GATEHOUSE_CONFIG = config;
  let fake: { port: number; child: ChildProcess } | undefined;
  let gh: { url: string; child: ChildProcess } | undefined;
  try {
    fake = await startUpstream(FAKE_SRC, [
      String(events),
      String(gapMs),
      ANTHROPIC_KEY,
      OPENAI_KEY,
      String(INPUT_TOKENS),
    ]);
    const fakeUrl = `http://127.0.0.1:${fake.port}`;
    run(env, ['vault', 'create', 'models']);
    run(env, ['vault', 'set', 'models/anthropic.key', '--bind', 'target:anthropic'], ANTHROPIC_KEY);
    run(env, ['vault', 'set', 'models/openai.key', '--bind', 'target:openai'], OPENAI_KEY);
    for (const [name, baseUrl] of [
      ['anthropic', fakeUrl],
      ['openai', `${fakeUrl}/v1`],
    ] as const)
      run(env, [
        'target',
        'add',
        'http',
        name,
        '--preset',
        name,
        '--base-url',
        baseUrl,
        '--allow-private',
        '--secret',
        `vault:models/${name}.key`,
      ]);
    const token = run(env, [
      'token',
      'create',
      '--name',
      'bench-agent',
      '--grant',
      'tool:api_request',
      '--grant',
      'target:anthropic',
      '--grant',
      'target:openai',
    ]);
    gh = await startListening([CLI, 'serve', '--listen', '127.0.0.1:0'], env);

    // The same SDK, the same options; only the base URL and the credential differ (the agent behind
    // Gatehouse holds its Gatehouse token where the SDK looks for one, never the provider's key).
    const anthropic = {
      direct: new Anthropic({ baseURL: fakeUrl, apiKey: ANTHROPIC_KEY, maxRetries: 0 }),
      gateway: new Anthropic({ baseURL: `${gh.url}/gateway/anthropic`, apiKey: null, authToken: token, maxRetries: 0 }),
    };
    const openai = {
      direct: new OpenAI({ baseURL: `${fakeUrl}/v1`, apiKey: OPENAI_KEY, maxRetries: 0 }),
      gateway: new OpenAI({ baseURL: `${gh.url}/gateway/openai`, apiKey: token, maxRetries: 0 }),
    };
    const gatewayCalls = { anthropic: 0, openai: 0 };

    const shortParams: Anthropic.MessageCreateParamsStreaming = {
      model: 'claude-bench',
      max_tokens: 1024,
      stream: true,
      messages: [{ role: 'user', content: 'Write one paragraph on why a gateway should not slow a stream down.' }],
    };
    const agentParams: Anthropic.MessageCreateParamsStreaming = { ...shortParams, ...agentContext(96 * 1024) };
    const openaiParams: OpenAI.ChatCompletionCreateParamsStreaming = {
      model: 'gpt-bench',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Write one paragraph on why a gateway should not slow a stream down.' }],
    };

    /** N sequential calls per path after a warm-up, alternating A B / B A; the gateway's CPU per call. */
    const sequential = async <C>(
      clients: { direct: C; gateway: C },
      call: (c: C) => Promise<Sample>,
      provider: keyof typeof gatewayCalls,
    ) => {
      for (let i = 0; i < warmup; i++) {
        await call(clients.direct);
        await call(clients.gateway);
      }
      const a: Sample[] = [];
      const b: Sample[] = [];
      const cpu0 = processCpuUs(gh?.child.pid);
      for (let i = 0; i < calls; i++) {
        if (i % 2 === 0) {
          a.push(await call(clients.direct));
          b.push(await call(clients.gateway));
        } else {
          b.push(await call(clients.gateway));
          a.push(await call(clients.direct));
        }
      }
      const cpuUs = processCpuUs(gh?.child.pid) - cpu0;
      gatewayCalls[provider] += warmup + calls;
      return {
        ...compare(a, b),
        ...(Number.isFinite(cpuUs) ? { gateway_cpu_ms_per_call: round(cpuUs / 1000 / calls) } : {}),
      };
    };
    /** `concurrency` streams at once, `rounds` times per path, the paths taking turns round by round. */
    const concurrent = async <C>(
      clients: { direct: C; gateway: C },
      call: (c: C) => Promise<Sample>,
      provider: keyof typeof gatewayCalls,
    ) => {
      const a: Sample[] = [];
      const b: Sample[] = [];
      const burst = async (c: C, into: Sample[]) =>
        into.push(...(await Promise.all(Array.from({ length: concurrency }, () => call(c)))));
      await burst(clients.direct, []);
      await burst(clients.gateway, []);
      for (let r = 0; r < rounds; r++) {
        await burst(clients.direct, a);
        await burst(clients.gateway, b);
      }
      gatewayCalls[provider] += concurrency * (rounds + 1);
      return { concurrency, ...compare(a, b) };
    };

    // DLP is on: a card number planted in a prompt reaches the fake redacted (one untimed call).
    const canary = '4242 4242 4242 4242';
    await anthropicCall(anthropic.gateway, {
      ...shortParams,
      messages: [{ role: 'user', content: `my card is ${canary}` }],
    });
    gatewayCalls.anthropic++;
    const dlpRedacted = !(await (await fetch(`${fakeUrl}/last`)).text()).includes(canary);

    const anthropicShort = await sequential(anthropic, (c) => anthropicCall(c, shortParams), 'anthropic');
    const anthropicAgent = await sequential(anthropic, (c) => anthropicCall(c, agentParams), 'anthropic');
    const anthropicConcurrent = await concurrent(anthropic, (c) => anthropicCall(c, shortParams), 'anthropic');
    const openaiShort = await sequential(openai, (c) => openaiCall(c, openaiParams), 'openai');

    // The usage tap read every gateway call's counts from its stream.
    const rows = JSON.parse(run(env, ['usage', '--json'])) as {
      target: string;
      calls: number;
      input: number;
      output: number;
    }[];
    const usage = Object.fromEntries(
      (['anthropic', 'openai'] as const).map((t) => {
        const got = rows
          .filter((r) => r.target === t)
          .reduce((s, r) => ({ calls: s.calls + r.calls, output: s.output + r.output }), { calls: 0, output: 0 });
        const want = { calls: gatewayCalls[t], output: gatewayCalls[t] * events };
        return [t, { ...got, matches_fake: got.calls === want.calls && got.output === want.output }];
      }),
    );

    return {
      note:
        'official SDK clients (@anthropic-ai/sdk, openai) on loopback; direct = the SDK to the fake API with the real key; ' +
        'gateway = the same SDK to gatehouse serve /gateway/<preset target> (key from the vault, DLP on, usage tap on, audit on); ' +
        'ttfb = until the SDK yields the first server-sent event; stream = from it to the end; ' +
        'added_ms = gateway minus direct at each percentile (A and B calls alternate)',
      fake_stream: {
        events_per_answer: events,
        gap_ms: gapMs,
        shape:
          'message_start, content_block_start, ping at once; then the text deltas gap_ms apart; then content_block_stop, message_delta (usage), message_stop',
      },
      calls_per_path: calls,
      warmup_calls_per_path: warmup,
      audit_store_filesystem: auditStoreFilesystem(dir),
      dlp_redacted_planted_card: dlpRedacted,
      usage_recorded: usage,
      anthropic_messages_stream: {
        short_prompt: { request_body_bytes: JSON.stringify(shortParams).length, ...anthropicShort },
        agent_context: { request_body_bytes: JSON.stringify(agentParams).length, ...anthropicAgent },
        [`short_prompt_c${concurrency}`]: { rounds, ...anthropicConcurrent },
      },
      openai_chat_completions_stream: {
        short_prompt: { request_body_bytes: JSON.stringify(openaiParams).length, ...openaiShort },
      },
    };
  } finally {
    // The server flushes its audit log as it stops: its home is removed only once it has exited.
    await Promise.all([gh?.child, fake?.child].map((c) => (c ? stopped(c) : undefined)));
    rmSync(dir, { recursive: true, force: true });
  }
}
