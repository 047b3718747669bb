/**
 * Webhook inboxes as MCP resources, and resource-updated notifications when an event arrives
 * (issue 16), on every door and era the official client speaks: stdio (`gatehouse mcp`, another
 * process than the one that takes the event in) and Streamable HTTP; 2025-11-25 with
 * `resources/subscribe`, 2026-07-28 with `subscriptions/listen`. A token without the endpoint's
 * grant sees no resource and hears nothing.
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertBuilt } from '../helpers/cli.js';
import { ERAS, httpClient, stdioClient, type Era } from '../helpers/mcp-client.js';
import { webhookServer, type WebhookServer } from '../helpers/webhook-server.js';

const SECRET = 'resources-test-secret-5d1c8e2a9f';
const INBOX = 'gatehouse://webhooks/gh/inbox';
let w: WebhookServer;
const send = (body: string) => w.github(body, { 'x-github-event': 'push' });

beforeAll(async () => {
  assertBuilt();
  // Look for other processes' changes often, so the test waits less (the default is 2 s).
  w = await webhookServer({ secret: SECRET, env: { GATEHOUSE_CHANGE_POLL_MS: '200' } });
});
afterAll(async () => w.close());

async function connect(door: 'stdio' | 'http', era: Era, token: string) {
  return door === 'stdio' ? stdioClient({ ...w.home.env, GATEHOUSE_TOKEN: token }, era) : httpClient(w.url, token, era);
}

/** Resolves with the URIs a client is told were updated, with a way to wait for one. */
function updates(client: Client) {
  const heard: string[] = [];
  client.setNotificationHandler('notifications/resources/updated', (n) => {
    heard.push(n.params.uri);
  });
  return {
    heard,
    async until(uri: string, ms = 10_000) {
      const end = Date.now() + ms;
      while (!heard.includes(uri) && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      return heard.includes(uri);
    },
  };
}

describe('webhook inbox and event resources', () => {
  it('list and read the inbox and an event (payload as data, with provenance); an outsider finds neither', async () => {
    expect((await send('{"ref":"refs/heads/main"}')).status).toBe(202);
    const c = await httpClient(w.url, w.agent, 'legacy');
    const o = await httpClient(w.url, w.outsider, 'legacy');
    try {
      expect((await c.client.listResources()).resources.map((r) => r.uri)).toContain(INBOX);
      const inbox = JSON.parse(
        ((await c.client.readResource({ uri: INBOX })).contents[0] as { text: string }).text,
      ) as { waiting: number; events: { id: string; resource: string }[]; notice: string };
      expect(inbox.waiting).toBeGreaterThanOrEqual(1);
      expect(inbox.notice).toContain('untrusted');
      const ev = JSON.parse(
        ((await c.client.readResource({ uri: inbox.events[0]!.resource })).contents[0] as { text: string }).text,
      ) as { event: { provenance: { provider: string }; payload: { data: string } } };
      expect(ev.event.provenance.provider).toBe('github');
      expect(JSON.parse(ev.event.payload.data)).toEqual({ ref: 'refs/heads/main' });
      expect((await o.client.listResources()).resources.map((r) => r.uri)).not.toContain(INBOX);
      await expect(o.client.readResource({ uri: INBOX })).rejects.toThrow();
      await expect(o.client.readResource({ uri: inbox.events[0]!.resource })).rejects.toThrow();
    } finally {
      await c.close();
      await o.close();
    }
  });
});

describe('an arriving event tells subscribed clients that the inbox changed', () => {
  for (const door of ['stdio', 'http'] as const) {
    for (const era of ERAS as Era[]) {
      it(`${door} ${era}`, async () => {
        const c = await connect(door, era, w.agent);
        const o = await connect(door, era, w.outsider);
        try {
          const mine = updates(c.client);
          const theirs = updates(o.client);
          for (const x of [c, o]) {
            if (era === 'legacy') await x.client.subscribeResource({ uri: INBOX });
            else await x.client.listen({ resourceSubscriptions: [INBOX] });
          }
          // The first look takes the summary later changes are compared with.
          await new Promise((r) => setTimeout(r, 600));
          expect((await send(`{"door":"${door}","era":"${era}"}`)).status).toBe(202);
          expect(await mine.until(INBOX)).toBe(true);
          await new Promise((r) => setTimeout(r, 600));
          expect(theirs.heard).toEqual([]);
        } finally {
          await c.close();
          await o.close();
        }
      });
    }
  }
});
