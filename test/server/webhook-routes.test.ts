/**
 * The webhook routes and tools end to end (issue 16): a real runtime and HTTP server, a sender
 * signing the way GitHub does, agents polling and acknowledging over plain HTTP and over MCP.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { searchAudit } from '../../src/audit/index.js';
import { httpClient, ERAS } from '../helpers/mcp-client.js';
import { webhookServer, type WebhookServer } from '../helpers/webhook-server.js';

const SECRET = 'gh-webhook-secret-0f3a9c1e5b7d2a4c';
const CANARY = 'canary-VAULT-value-7b2e9d41c8a35f60';

let w: WebhookServer;
let rt: WebhookServer['rt'];
let url: string;
let agent: string;
let outsider: string;
const github = (body: string, headers?: Record<string, string>) => w.github(body, headers);

const poll = (token: string, query = '') =>
  fetch(`${url}/webhooks/poll?${query}`, { headers: { authorization: `Bearer ${token}` } });
const ack = (token: string, items: unknown[]) =>
  fetch(`${url}/webhooks/ack`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ items }),
  });

interface Polled {
  events: {
    id: string;
    lease_token: string;
    type: string;
    payload: { data: string };
    provenance: { verified: boolean; provider: string };
  }[];
  instructions: Record<string, { version: number; text: string }>;
  notice: string;
}

beforeAll(async () => {
  w = await webhookServer({
    secret: SECRET,
    extraGrants: ['tool:webhook_extend'],
    setup: async (r) => {
      await r.vault.createVault('ops');
      await r.vault.setField('ops/other.key', CANARY);
      await r.refreshVaultSecrets();
    },
    endpoint: {
      maxBodyBytes: 4096,
      instructions: { version: 3, text: 'Label new issues; never close them.', updatedAt: new Date().toISOString() },
    },
  });
  ({ rt, url, agent, outsider } = w);
});

afterAll(async () => w.close());

describe('POST /webhooks/in/:key', () => {
  it('refuses an unknown key with 404 and a forged event with its reason, audited, queuing nothing', async () => {
    const r = await fetch(`${url}/webhooks/in/AAAAAAAAAAAAAAAAAAAAAA`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(404);
    const forged = await github('{"action":"opened"}', { 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ error: 'bad_signature' });
    const rec = (await searchAudit(rt.store, { tool: 'webhook_ingest', limit: 5 })).at(-1)!;
    expect(rec.outcome).toBe('rejected:bad_signature');
    expect(rec.target).toBe('gh');
    expect((await rt.webhookQueue.stats(['gh'])).get('gh')!.seq).toBe(0);
  });

  it('refuses a body over the cap from its Content-Length and while reading a chunked one', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(5000) });
    expect((await github(big)).status).toBe(413);
    // No Content-Length: a streamed (chunked) body is cut off once the bytes read pass the cap.
    const bytes = new TextEncoder().encode(big);
    const r = await fetch(w.ingest, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-hub-signature-256': `sha256=${createHmac('sha256', SECRET).update(big).digest('hex')}`,
      },
      body: new ReadableStream({
        start(c) {
          c.enqueue(bytes.slice(0, 3000));
          c.enqueue(bytes.slice(3000));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(r.status).toBe(413);
    const outcomes = (await searchAudit(rt.store, { tool: 'webhook_ingest', limit: 2 })).map((x) => x.outcome);
    expect(outcomes).toEqual(['rejected:too_large', 'rejected:too_large']);
  });
});

describe('poll and ack over plain HTTP', () => {
  it('leases a genuine event with provenance, the instructions and a scrubbed payload; ack settles it for good', async () => {
    const body = JSON.stringify({ action: 'opened', issue: { title: `leaked ${CANARY} here` } });
    const sent = await github(body, { 'x-secret-header': 'CANARY-not-kept' });
    expect(sent.status).toBe(202);
    const p = (await (await poll(agent, 'limit=5&lease_s=30')).json()) as Polled;
    expect(p.events).toHaveLength(1);
    const ev = p.events[0]!;
    expect(ev.type).toBe('issues');
    expect(ev.provenance).toMatchObject({ provider: 'github', verified: true });
    expect(p.instructions.gh).toEqual({ version: 3, text: 'Label new issues; never close them.' });
    expect(ev.payload.data).toContain('leaked');
    expect(ev.payload.data).not.toContain(CANARY);
    expect(JSON.stringify(p)).not.toContain('CANARY-not-kept');
    // Held by this lease: nobody else gets it now.
    expect(((await (await poll(agent)).json()) as Polled).events).toHaveLength(0);
    const a = (await (await ack(agent, [{ id: ev.id, lease_token: ev.lease_token, outcome: 'done' }])).json()) as {
      results: { ok: boolean; state: string }[];
    };
    expect(a.results).toEqual([{ id: ev.id, ok: true, state: 'acked' }]);
    const again = (await (await ack(agent, [{ id: ev.id, lease_token: ev.lease_token, outcome: 'done' }])).json()) as {
      results: { ok: boolean }[];
    };
    expect(again.results[0]!.ok).toBe(false);
    expect((await searchAudit(rt.store, { tool: 'webhook_ack', limit: 2 })).some((r) => r.phase === 'result')).toBe(
      true,
    );
  });

  it('a long poll returns once an event arrives', async () => {
    const waiting = poll(agent, 'wait_s=20');
    await new Promise((r) => setTimeout(r, 300));
    expect((await github('{"action":"closed"}')).status).toBe(202);
    const p = (await (await waiting).json()) as Polled;
    expect(p.events.map((e) => JSON.parse(e.payload.data) as unknown)).toEqual([{ action: 'closed' }]);
    await ack(
      agent,
      p.events.map((e) => ({ id: e.id, lease_token: e.lease_token, outcome: 'skip' })),
    );
  });

  it('a token without the endpoint’s grant is refused it, and sees nothing when it polls everything', async () => {
    expect((await github('{"action":"edited"}')).status).toBe(202);
    const r = await poll(outsider, 'endpoint=gh');
    expect(r.status).toBe(403);
    expect(await r.json()).toMatchObject({ error: { code: 'not_granted' } });
    const all = (await (await poll(outsider)).json()) as Polled;
    expect(all.events).toHaveLength(0);
    const mine = (await (await poll(agent)).json()) as Polled;
    expect(mine.events).toHaveLength(1);
    await ack(
      agent,
      mine.events.map((e) => ({ id: e.id, lease_token: e.lease_token, outcome: 'done' })),
    );
  });

  it('no token, no poll', async () => {
    expect((await fetch(`${url}/webhooks/poll`)).status).toBe(401);
  });
});

describe.each(ERAS)('the webhook tools over MCP (%s)', (era) => {
  it('webhook_poll puts the ids, lease tokens and instructions in the text a model reads', async () => {
    const c = await httpClient(url, agent, era);
    try {
      const tools = (await c.client.listTools()).tools.map((t) => t.name);
      expect(tools).toEqual(expect.arrayContaining(['webhook_poll', 'webhook_ack', 'webhook_extend']));
      expect((await github(`{"action":"labeled","era":"${era}"}`)).status).toBe(202);
      const r = (await c.client.callTool({ name: 'webhook_poll', arguments: { endpoint: 'gh' } })) as {
        content: { type: string; text: string }[];
        isError?: boolean;
      };
      expect(r.isError).toBeFalsy();
      const text = r.content[0]!.text;
      const got = JSON.parse(text) as Polled;
      expect(got.events).toHaveLength(1);
      expect(text).toContain(got.events[0]!.lease_token);
      expect(text).toContain('UNTRUSTED');
      expect(text).toContain('never close them');
      const done = (await c.client.callTool({
        name: 'webhook_ack',
        arguments: { items: [{ id: got.events[0]!.id, lease_token: got.events[0]!.lease_token, outcome: 'done' }] },
      })) as { content: { text: string }[] };
      expect(JSON.parse(done.content[0]!.text)).toEqual({
        results: [{ id: got.events[0]!.id, ok: true, state: 'acked' }],
      });
    } finally {
      await c.close();
    }
  });
});

describe.each(ERAS)('a long webhook_poll over MCP (%s)', (era) => {
  it('sends progress while it waits, so a client with a short timeout that resets on progress is not cut off', async () => {
    const c = await httpClient(url, agent, era);
    try {
      let progress = 0;
      const call = c.client.callTool(
        { name: 'webhook_poll', arguments: { endpoint: 'gh', wait_s: 15 } },
        {
          timeout: 6000,
          resetTimeoutOnProgress: true,
          onprogress: () => {
            progress++;
          },
        },
      );
      // The event comes after the client's own timeout would have ended a silent call.
      await new Promise((r) => setTimeout(r, 8000));
      expect((await github(`{"action":"reopened","era":"${era}"}`)).status).toBe(202);
      const r = (await call) as { content: { text: string }[] };
      const got = JSON.parse(r.content[0]!.text) as Polled;
      expect(got.events.map((e) => JSON.parse(e.payload.data) as unknown)).toEqual([{ action: 'reopened', era }]);
      expect(progress).toBeGreaterThanOrEqual(1);
      await ack(
        agent,
        got.events.map((e) => ({ id: e.id, lease_token: e.lease_token, outcome: 'done' })),
      );
    } finally {
      await c.close();
    }
  }, 30_000);
});
