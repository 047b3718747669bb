/**
 * Issue 20 items 2 and 3 on the `api_request` tool, not only on `/gateway`: through a real MCP
 * client (Streamable HTTP) against a real runtime (SQLite store, vault, audit, gate) and a model
 * API faked on loopback, a target with DLP on gets the agent's body scanned before vault handles
 * are filled (a refused pattern or an unreadable body sends nothing), a model target's answers are
 * counted into the same ledger as /gateway's, streamed or not, and a spent budget refuses with the
 * same limit_exceeded as /gateway before anything is sent. A target without either is untouched.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApprovalService } from '../../src/approvals/index.js';
import { searchAudit } from '../../src/audit/index.js';
import { httpClient } from '../helpers/mcp-client.js';
import { errorOf, serve, type Served } from '../server/harness.js';

const CANARY = 'sk-api-dlp-canary-' + 'Rt4'.repeat(10);
/** A vault value the agent may have read somewhere and pastes literally: DLP must replace it. */
const OTHER = 'db-password-api-dlp-9c1a';
/** A vault value bound to the model target, card-shaped: filled from a handle, it must arrive whole. */
const BOUND = '4111 1111 1111 1111';
const CARD = '4242 4242 4242 4242';

/** What the fake counts in each answer (Anthropic JSON, OpenAI streamed). */
const ANTHROPIC_USAGE = { input_tokens: 10, output_tokens: 5, cache_creation_input_tokens: 2 };
const OPENAI_USAGE = { prompt_tokens: 20, completion_tokens: 7 };

/** A model API on loopback: Anthropic Messages (JSON, or SSE when asked) and OpenAI chat completions (SSE). */
function fakeModelApi(req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse, body: Buffer) {
  const parsed = (() => {
    try {
      return JSON.parse(body.toString('utf8')) as { stream?: boolean };
    } catch {
      return {};
    }
  })();
  // A response header that is not printable ASCII: the gateway scrubs its bytes with fresh
  // scrubbers, which must never feed the usage tap (the count would be lost).
  res.setHeader('x-served-by', 'caf\u00e9');
  if (req.url === '/v1/chat/completions') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: 'hi' } }] })}\n\n`);
    res.end(`data: ${JSON.stringify({ choices: [], usage: OPENAI_USAGE })}\n\ndata: [DONE]\n\n`);
    return;
  }
  if (parsed.stream) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const ev = (type: string, data: object) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
    res.write(ev('message_start', { message: { usage: { input_tokens: 3, output_tokens: 1 } } }));
    res.write(ev('content_block_delta', { delta: { type: 'text_delta', text: 'hello' } }));
    res.end(ev('message_delta', { usage: { output_tokens: 4 } }) + ev('message_stop', {}));
    return;
  }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({ type: 'message', content: [{ type: 'text', text: 'ok' }], usage: ANTHROPIC_USAGE }));
}

/** The text a text-only client hands its model, and the structured result beside it. */
async function call(
  client: Client,
  args: Record<string, unknown>,
): Promise<{ text: string; isError: boolean; structured: Record<string, unknown> }> {
  const r = await client.callTool({ name: 'api_request', arguments: args });
  const text = (r.content as { type: string; text?: string }[]).map((c) => c.text ?? '').join('\n');
  return { text, isError: r.isError === true, structured: (r.structuredContent ?? {}) as Record<string, unknown> };
}

describe('api_request: DLP and usage, the same as /gateway', () => {
  let s: Served;
  let agent: { token: string; id: string };
  let client: Client;
  let closeClient: () => Promise<void>;
  const sent = () => s.upstream.seen.map((x) => x.body.toString('utf8'));

  beforeAll(async () => {
    s = await serve({
      canary: CANARY,
      handler: fakeModelApi,
      config: [
        'dlp:',
        '  patterns:',
        '    - { name: card, preset: card, action: redact }',
        "    - { name: employee-id, regex: 'EMP[0-9]{5}', action: refuse }",
        '',
      ].join('\n'),
    });
    await s.rt.vault.setField('ops/model.key', CANARY, { bind: ['target:claude', 'target:gpt'] });
    await s.rt.vault.setField('ops/bound.card', BOUND, { bind: ['target:claude', 'target:scanned'] });
    await s.rt.vault.setField('ops/db.password', OTHER, { bind: ['target:nowhere'] });
    await s.rt.vault.seedRedactor({ add: (v) => s.rt.addSecret(v) });
    const base = { baseUrl: s.upstream.url, allowPrivate: true, followRedirects: false, dlp: true };
    await s.rt.targets.add('http', 'claude', {
      ...base,
      auth: { kind: 'header', name: 'x-api-key' },
      secret: 'vault:ops/model.key',
      model: 'anthropic',
    });
    await s.rt.targets.add('http', 'gpt', {
      ...base,
      auth: { kind: 'bearer' },
      secret: 'vault:ops/model.key',
      model: 'openai',
    });
    await s.rt.targets.add('http', 'scanned', { ...base, auth: { kind: 'none' }, secret: null });
    const made = await s.rt.tokens.create({
      name: 'model-agent',
      grants: ['tool:*', 'target:claude', 'target:gpt', 'target:echo', 'target:scanned', 'vault:ops'],
    });
    agent = { token: made.token, id: made.info.id };
    ({ client, close: closeClient } = await httpClient(s.url, agent.token, 'modern'));
  });
  afterAll(async () => {
    await closeClient?.();
    await s?.close();
  });

  const messages = (content: string, stream = false) => ({
    target: 'claude',
    method: 'POST',
    path: '/v1/messages',
    body: { model: 'claude-test', stream, messages: [{ role: 'user', content }] },
  });

  it('a DLP target fills a bound handle after the scan: whole, never redacted, never counted', async () => {
    s.upstream.seen.length = 0;
    const r = await call(client, {
      target: 'scanned',
      method: 'POST',
      path: '/v1/anything',
      body: { note: `card ${CARD}, bound {{vault:ops/bound.card}}` },
    });
    expect(r.isError, r.text).toBe(false);
    const body = sent()[0]!;
    expect(body).not.toContain(CARD);
    // INVARIANT: the handle's value is filled after the scan: never redacted away, never counted.
    expect(body).toContain(`bound ${BOUND}`);
    expect(r.text).toContain('"dlp":{"redacted":{"card":1}');
  });

  it('a model prompt is sent as written: a handle in it is literal text, neither filled nor refused (both doors)', async () => {
    s.upstream.seen.length = 0;
    const quoted = 'the code reads {{vault:ops/bound.card}} and {{vault:nope/missing.field}}';
    const r = await call(client, messages(quoted));
    expect(r.isError, r.text).toBe(false);
    const gw = await fetch(`${s.url}/gateway/claude/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-test', messages: [{ role: 'user', content: quoted }] }),
    });
    expect(gw.status).toBe(200);
    await gw.text();
    expect(sent()).toHaveLength(2);
    for (const body of sent()) {
      expect(body).toContain(quoted);
      expect(body).not.toContain(BOUND);
    }
  });

  it('redacts a pasted vault value and a card in a model prompt before sending, and tells the model the counts', async () => {
    s.upstream.seen.length = 0;
    const r = await call(client, messages(`pw ${OTHER}, card ${CARD}`));
    expect(r.isError, r.text).toBe(false);
    expect(sent()).toHaveLength(1);
    const body = sent()[0]!;
    expect(body).not.toContain(OTHER);
    expect(body).not.toContain(CARD);
    expect(body).toContain('[REDACTED:card]');
    // The model reads why its request differs: the pattern's count, never what the redactor replaced.
    expect(r.text).toContain('"dlp":{"redacted":{"card":1}');
    expect(r.text).toContain('Gatehouse DLP replaced 1 match in the request body');
    expect(r.text).not.toContain('vault-or-key');
    expect(r.text).not.toContain(OTHER);
    const rec = (await searchAudit(s.rt.store, { tool: 'api_request', target: 'claude' })).at(-1)!;
    expect(rec.detail).toMatchObject({
      dlp: { 'vault-or-key': 1, card: 1 },
      usage: { input: 10, output: 5, cacheRead: 0, cacheWrite: 2 },
    });
    expect(JSON.stringify(rec)).not.toContain(OTHER);
    expect(JSON.stringify(rec)).not.toContain(CARD);
  });

  it('a refused pattern refuses before anything is sent, naming the pattern only (and nothing of the vault)', async () => {
    s.upstream.seen.length = 0;
    const r = await call(client, messages(`who is EMP12345? pw ${OTHER}`));
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/^denied: .*employee-id/);
    expect(r.text).not.toContain('EMP12345');
    // The refusal's counts are the patterns' only: whether the body held a vault value is not told.
    expect(r.structured).toMatchObject({ error: { details: { dlp: { 'employee-id': 1 } } } });
    expect(JSON.stringify(r.structured)).not.toContain('vault-or-key');
    expect(s.upstream.seen).toHaveLength(0);
    const rec = (await searchAudit(s.rt.store, { tool: 'api_request', target: 'claude' })).at(-1)!;
    expect(rec.outcome).toBe('denied');
  });

  it('a body DLP cannot read (declared content-coded) is refused, even once a person approved it; nothing is sent', async () => {
    s.upstream.seen.length = 0;
    const args = { ...messages('hello'), headers: { 'Content-Encoding': 'gzip' } };
    // The guard cannot read a coded body either: it asks a person first.
    const asked = await call(client, args);
    expect(asked.text).toMatch(/^approval_required: /);
    const id = /ap_[a-z0-9]+/.exec(asked.text)![0];
    const approvals = await createApprovalService({ store: s.rt.store, keys: s.rt.keyring });
    await approvals.decide(id, 'approved', { by: 'test', channel: 'cli' });
    const r = await call(client, { ...args, approval_id: id });
    expect(r.isError).toBe(true);
    expect(r.text).toMatch(/^denied: target claude scans request bodies \(DLP\), and this one is not plain text/);
    expect(s.upstream.seen).toHaveLength(0);
  });

  it('counts a non-streamed and a streamed answer (both presets) into the ledger /gateway uses, per token, target and day', async () => {
    const ledger = await s.rt.usage();
    const row = async (target: string) => (await ledger.rows({ tokenId: agent.id })).find((x) => x.target === target);
    const before = (await row('claude')) ?? { input: 0, output: 0, cacheRead: 0, cacheWrite: 0, calls: 0 };

    // Anthropic, streamed (SSE): input from message_start, output from the last message_delta.
    const streamed = await call(client, messages('stream please', true));
    expect(streamed.isError, streamed.text).toBe(false);
    expect(streamed.text).toContain('message_delta');
    // The same target through /gateway with the same token adds to the same row.
    const gw = await fetch(`${s.url}/gateway/claude/v1/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'claude-test', messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(gw.status).toBe(200);
    await gw.text();
    expect(await row('claude')).toMatchObject({
      input: before.input + 3 + 10,
      output: before.output + 4 + 5,
      cacheWrite: before.cacheWrite + 2,
      calls: before.calls + 2,
    });

    // OpenAI, streamed: the usage chunk at the end.
    const gpt = await call(client, {
      target: 'gpt',
      method: 'POST',
      path: '/v1/chat/completions',
      body: { model: 'gpt-test', stream: true, stream_options: { include_usage: true }, messages: [] },
    });
    expect(gpt.isError, gpt.text).toBe(false);
    expect(await row('gpt')).toMatchObject({ input: 20, output: 7, cacheRead: 0, calls: 1 });
    const rec = (await searchAudit(s.rt.store, { tool: 'api_request', target: 'gpt' })).at(-1)!;
    expect(rec.detail).toMatchObject({ usage: { input: 20, output: 7 } });
  });

  it('a spent budget refuses with limit_exceeded before anything is sent, with the same message and hint as /gateway', async () => {
    const ledger = await s.rt.usage();
    const today = (await ledger.rows({ tokenId: agent.id })).reduce(
      (n, x) => n + x.input + x.output + x.cacheRead + x.cacheWrite,
      0,
    );
    // One token left: the next call goes (and spends more than that), the one after is refused.
    await ledger.setBudget(agent.id, today + 1);
    try {
      expect((await call(client, messages('last one'))).isError).toBe(false);
      s.upstream.seen.length = 0;
      const r = await call(client, messages('one more'));
      expect(r.isError).toBe(true);
      expect(r.text).toMatch(/^limit_exceeded: this token's model budget is spent/);
      const gw = await fetch(`${s.url}/gateway/claude/v1/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${agent.token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [{ role: 'user', content: 'one more' }] }),
      });
      const viaGateway = (await errorOf(gw)).error;
      expect(viaGateway.code).toBe('limit_exceeded');
      const viaTool = (r.structured as { error: { code: string; message: string; hint?: string } }).error;
      expect({ code: viaTool.code, message: viaTool.message, hint: viaTool.hint }).toEqual({
        code: viaGateway.code,
        message: viaGateway.message,
        hint: viaGateway.hint,
      });
      expect(s.upstream.seen).toHaveLength(0);
      // A target that is not a model API is not metered: the same token still reaches it.
      const echo = await call(client, { target: 'echo', method: 'GET', path: '/ping' });
      expect(echo.isError, echo.text).toBe(false);
    } finally {
      await ledger.setBudget(agent.id, null);
    }
  });

  it('a target without DLP or a preset gets the body as the agent wrote it, and nothing is counted', async () => {
    s.upstream.seen.length = 0;
    const r = await call(client, {
      target: 'echo',
      method: 'POST',
      path: '/v1/messages',
      body: { card: CARD, who: 'EMP12345' },
    });
    expect(r.isError, r.text).toBe(false);
    expect(sent()[0]).toContain(CARD);
    expect(sent()[0]).toContain('EMP12345');
    expect(r.structured.dlp).toBeUndefined();
    const ledger = await s.rt.usage();
    expect((await ledger.rows({ tokenId: agent.id })).some((x) => x.target === 'echo')).toBe(false);
    const rec = (await searchAudit(s.rt.store, { tool: 'api_request', target: 'echo' })).at(-1)!;
    expect(rec.detail ?? undefined).toBeUndefined();
  });
});
