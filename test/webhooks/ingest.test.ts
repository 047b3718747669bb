/**
 * Webhook ingest (src/webhooks/ingest.ts) over a real store, endpoint repository and queue, with
 * deliveries signed here the way each provider documents its scheme (independently of
 * src/webhooks/sample.ts): for every preset and a custom scheme a genuine event is queued with its
 * type and provider id; forgeries, stale and future timestamps, missing signatures, duplicates and
 * replays with the id header stripped are refused with a typed reason and an audit record, or
 * answered as duplicates, and never queued (twice). A secret in a header that is not allowlisted is
 * never stored; Slack's URL verification is answered; unsigned endpoints take only their
 * addresses; rate limits answer 429 without flooding the audit log; event filters and secret
 * rotation hold. The concurrency- and storage-sensitive part runs on PostgreSQL too.
 */
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Store } from '../../src/store/index.js';
import {
  EndpointRepository,
  keptHeaderNames,
  WebhookIngest,
  WebhookQueue,
  type Endpoint,
  type EndpointConfig,
  type IngestAnswer,
} from '../../src/webhooks/index.js';
import { storeFixtures, type StoreFixture } from '../helpers/stores.js';
import { b64, ingestHarness, NOW, REMOTE, swSecret, swSign, T, testKeys, type AuditEntry } from './fixtures.js';

const fixtures = await storeFixtures();
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

const keys = testKeys('ingest-test');

/** A secret a provider (once, really) put in a header of its own: it must never be stored. */
const CANARY = 'CANARY-hdr-secret-9fK2qLw7Xv';

const hex = (alg: 'sha1' | 'sha256', key: string | Buffer, data: string) =>
  createHmac(alg, key).update(data).digest('hex');

/** The values behind the vault references the endpoints name (what `openSecret` returns). */
const SECRETS: Record<string, string> = {
  'vault:hooks/standard.secret': swSecret('standard'),
  'vault:hooks/svix.secret': swSecret('svix'),
  'vault:hooks/stripe.secret': 'whsec_stripe_test_4eC39HqLyjWDarjtT1zdp7dc',
  'vault:hooks/github.secret': 'gh-webhook-secret-6c1d',
  'vault:hooks/slack.secret': '8f742231b10e8888abcd99yyyzzz85a5',
  'vault:hooks/gitlab.secret': swSecret('gitlab-signing'),
  'vault:hooks/gitlabtoken.secret': 'glpat-hook-token-31b7',
  'vault:hooks/linear.secret': 'lin_wh_5d2e8c0f',
  'vault:hooks/shopify.secret': 'shpss_1a2b3c4d5e6f',
  'vault:hooks/hookdeck.secret': 'hd_secret_77aa',
  'vault:hooks/acme.secret': 'acme-custom-secret',
  'vault:hooks/old.secret': 'rotated-out-secret',
  'vault:hooks/new.secret': 'rotated-in-secret',
};
const ALL_SECRET_VALUES = Object.values(SECRETS);

interface Delivery {
  headers: Record<string, string>;
  body: string;
  /** The provider's id for the event, and its type, as ingest should record them. */
  id: string;
  type: string;
}

interface PresetCase {
  label: string;
  config: Partial<EndpointConfig> & Pick<EndpointConfig, 'provider'>;
  /** A delivery of event `n` of `type`, signed at `ts` (Unix seconds) with `secret`, posted to `url`. */
  sign(o: { n: string; type: string; ts: number; secret: string; url: string }): Delivery;
  type: string;
  /** The headers carrying the signature (removed: a missing signature). */
  signatureHeaders: string[];
  /** Unsigned headers naming the delivery (a replay strips or changes them). */
  idHeaders: string[];
  timestamped: boolean;
  /** Whether the body is signed (GitLab's secret token signs nothing). */
  bodySigned: boolean;
}

const ref = (name: string) => [
  { ref: `vault:hooks/${name}.secret`, addedAt: new Date(NOW - 86_400_000).toISOString() },
];
const json = { 'content-type': 'application/json' };

const standardLike =
  (prefix: 'webhook' | 'svix') =>
  ({ n, type, ts, secret }: { n: string; type: string; ts: number; secret: string }): Delivery => {
    const id = `msg_${n}`;
    const body = JSON.stringify({ type, timestamp: new Date(ts * 1000).toISOString(), data: { n, amount: 100 } });
    return {
      id,
      type,
      body,
      headers: {
        ...json,
        [`${prefix}-id`]: id,
        [`${prefix}-timestamp`]: String(ts),
        [`${prefix}-signature`]: swSign(secret, id, ts, body),
      },
    };
  };

const CASES: PresetCase[] = [
  {
    label: 'standard-webhooks',
    config: { provider: 'standard-webhooks', secrets: ref('standard') },
    type: 'invoice.paid',
    sign: standardLike('webhook'),
    signatureHeaders: ['webhook-signature'],
    idHeaders: ['webhook-id'],
    timestamped: true,
    bodySigned: true,
  },
  {
    label: 'svix',
    config: { provider: 'svix', secrets: ref('svix') },
    type: 'user.created',
    sign: standardLike('svix'),
    signatureHeaders: ['svix-signature'],
    idHeaders: ['svix-id'],
    timestamped: true,
    bodySigned: true,
  },
  {
    // Stripe: `Stripe-Signature: t=…,v1=<hex HMAC-SHA256 of "{t}.{body}">`, keyed with the secret as written.
    label: 'stripe',
    config: { provider: 'stripe', secrets: ref('stripe') },
    type: 'payment_intent.succeeded',
    sign: ({ n, type, ts, secret }) => {
      const id = `evt_${n}`;
      const body = JSON.stringify({ id, object: 'event', type, created: ts, data: { object: { amount: 100 } } });
      return {
        id,
        type,
        body,
        headers: { ...json, 'stripe-signature': `t=${ts},v1=${hex('sha256', secret, `${ts}.${body}`)}` },
      };
    },
    signatureHeaders: ['stripe-signature'],
    idHeaders: [],
    timestamped: true,
    bodySigned: true,
  },
  {
    // GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`; delivery and event in headers.
    label: 'github',
    config: { provider: 'github', secrets: ref('github') },
    type: 'pull_request',
    sign: ({ n, type, secret }) => {
      const id = `72d3162e-cc78-11e3-81ab-${n.padStart(12, '0')}`;
      const body = JSON.stringify({ action: 'opened', number: Number(n), amount: 100 });
      return {
        id,
        type,
        body,
        headers: {
          ...json,
          'x-github-delivery': id,
          'x-github-event': type,
          'x-github-hook-id': '292430182',
          'x-hub-signature-256': `sha256=${hex('sha256', secret, body)}`,
        },
      };
    },
    signatureHeaders: ['x-hub-signature-256'],
    idHeaders: ['x-github-delivery'],
    timestamped: false,
    bodySigned: true,
  },
  {
    // Slack: `X-Slack-Signature: v0=<hex HMAC-SHA256 of "v0:{ts}:{body}">` with X-Slack-Request-Timestamp.
    label: 'slack',
    config: { provider: 'slack', secrets: ref('slack') },
    type: 'app_mention',
    sign: ({ n, type, ts, secret }) => {
      const id = `Ev${n}`;
      const body = JSON.stringify({
        type: 'event_callback',
        event_id: id,
        event_time: ts,
        event: { type, text: 'hi', amount: 100 },
      });
      return {
        id,
        type,
        body,
        headers: {
          ...json,
          'x-slack-request-timestamp': String(ts),
          'x-slack-signature': `v0=${hex('sha256', secret, `v0:${ts}:${body}`)}`,
        },
      };
    },
    signatureHeaders: ['x-slack-signature'],
    idHeaders: [],
    timestamped: true,
    bodySigned: true,
  },
  {
    // GitLab with a signing token: Standard Webhooks headers, plus its own event and idempotency headers.
    label: 'gitlab',
    config: { provider: 'gitlab', secrets: ref('gitlab') },
    type: 'Merge Request Hook',
    sign: ({ n, type, ts, secret }) => {
      const id = `wh_${n}`;
      const body = JSON.stringify({ object_kind: 'merge_request', object_attributes: { iid: Number(n) }, amount: 100 });
      return {
        id,
        type,
        body,
        headers: {
          ...json,
          'x-gitlab-event': type,
          'idempotency-key': `idem-${n}`,
          'x-gitlab-event-uuid': `uuid-${n}`,
          'webhook-id': id,
          'webhook-timestamp': String(ts),
          'webhook-signature': swSign(secret, id, ts, body),
        },
      };
    },
    signatureHeaders: ['webhook-signature'],
    idHeaders: ['idempotency-key', 'x-gitlab-event-uuid'],
    timestamped: true,
    bodySigned: true,
  },
  {
    // GitLab with a secret token: the token itself in X-Gitlab-Token; the id is the Idempotency-Key.
    label: 'gitlab (secret token)',
    config: { provider: 'gitlab', secrets: ref('gitlabtoken') },
    type: 'Push Hook',
    sign: ({ n, type, secret }) => {
      const id = `idem-${n}`;
      return {
        id,
        type,
        body: JSON.stringify({ object_kind: 'push', ref: 'refs/heads/main', n, amount: 100 }),
        headers: {
          ...json,
          'x-gitlab-token': secret,
          'x-gitlab-event': type,
          'idempotency-key': id,
          'x-gitlab-event-uuid': `uuid-${n}`,
        },
      };
    },
    signatureHeaders: ['x-gitlab-token'],
    idHeaders: ['idempotency-key', 'x-gitlab-event-uuid'],
    timestamped: false,
    bodySigned: false,
  },
  {
    // Linear: `Linear-Signature: <hex HMAC-SHA256 of the body>`, webhookTimestamp (ms) in the body.
    label: 'linear',
    config: { provider: 'linear', secrets: ref('linear') },
    type: 'Issue',
    sign: ({ n, type, ts, secret }) => {
      const id = `del-${n}`;
      const body = JSON.stringify({
        action: 'create',
        type,
        data: { id: `iss-${n}`, amount: 100 },
        webhookTimestamp: ts * 1000,
        webhookId: `hook-${n}`,
      });
      return {
        id,
        type,
        body,
        headers: {
          ...json,
          'linear-signature': hex('sha256', secret, body),
          'linear-delivery': id,
          'linear-event': type,
        },
      };
    },
    signatureHeaders: ['linear-signature'],
    idHeaders: ['linear-delivery'],
    timestamped: true,
    bodySigned: true,
  },
  {
    // Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>`; event id, webhook id and topic headers.
    label: 'shopify',
    config: { provider: 'shopify', secrets: ref('shopify') },
    type: 'orders/create',
    sign: ({ n, type, ts, secret }) => {
      const id = `evt-shp-${n}`;
      const body = JSON.stringify({ id: Number(n), total_price: '100.00', amount: 100 });
      return {
        id,
        type,
        body,
        headers: {
          ...json,
          'x-shopify-hmac-sha256': b64(secret, body),
          'x-shopify-event-id': id,
          'x-shopify-webhook-id': `whk-${n}`,
          'x-shopify-topic': type,
          'x-shopify-shop-domain': 'example.myshopify.com',
          'x-shopify-triggered-at': new Date(ts * 1000).toISOString(),
        },
      };
    },
    signatureHeaders: ['x-shopify-hmac-sha256'],
    idHeaders: ['x-shopify-event-id', 'x-shopify-webhook-id'],
    timestamped: false,
    bodySigned: true,
  },
  {
    // Hookdeck: `x-hookdeck-signature: <base64 HMAC-SHA256 of the body>`, its event id in x-hookdeck-eventid.
    label: 'hookdeck',
    config: { provider: 'hookdeck', secrets: ref('hookdeck') },
    type: 'order.updated',
    sign: ({ n, type, secret }) => {
      const id = `evt_hd_${n}`;
      const body = JSON.stringify({ order: Number(n), amount: 100 });
      return {
        id,
        type,
        body,
        headers: {
          ...json,
          'x-hookdeck-signature': b64(secret, body),
          'x-hookdeck-eventid': id,
          'x-hookdeck-topic': type,
        },
      };
    },
    signatureHeaders: ['x-hookdeck-signature'],
    idHeaders: ['x-hookdeck-eventid'],
    timestamped: false,
    bodySigned: true,
  },
  {
    // A declared scheme: hex HMAC-SHA256 of "{timestamp}.{url}.{body}" after a prefix; id in a header, type in the body.
    label: 'custom',
    config: {
      provider: 'custom',
      secrets: ref('acme'),
      custom: {
        header: 'X-Acme-Signature',
        prefix: 'sha256=',
        algorithm: 'sha256',
        encoding: 'hex',
        template: '{timestamp}.{url}.{body}',
        timestamp: { from: 'header', name: 'X-Acme-Timestamp' },
        id: { from: 'header', name: 'X-Acme-Delivery' },
        type: { from: 'json', name: 'event' },
      },
    },
    type: 'build.finished',
    sign: ({ n, type, ts, secret, url }) => {
      const id = `acme-${n}`;
      const body = JSON.stringify({ event: type, build: Number(n), amount: 100 });
      return {
        id,
        type,
        body,
        headers: {
          ...json,
          'x-acme-timestamp': String(ts),
          'x-acme-delivery': id,
          'x-acme-signature': `sha256=${hex('sha256', secret, `${ts}.${url}.${body}`)}`,
        },
      };
    },
    signatureHeaders: ['x-acme-signature'],
    idHeaders: ['x-acme-delivery'],
    timestamped: true,
    bodySigned: true,
  },
];

const harness = (store: Store, now: () => number = () => NOW) => ingestHarness(store, keys, SECRETS, now);

async function queuedRows(store: Store, endpoint: string): Promise<{ id: string; headers: string; state: string }[]> {
  return (await store.db
    .selectFrom('webhook_events')
    .select(['id', 'headers', 'state'])
    .where('endpoint', '=', endpoint)
    .orderBy('seq')
    .execute()) as { id: string; headers: string; state: string }[];
}

let serial = 1000;
const next = () => String(++serial);

describe('webhook ingest on sqlite, per preset', () => {
  const fx = fixtures.find((f) => f.name === 'sqlite')!;
  let store: Store;
  let h: ReturnType<typeof harness>;
  beforeAll(async () => {
    store = await fx.open();
    h = harness(store);
  });
  afterAll(async () => {
    // No audit record holds a secret or the canary, whatever was refused or accepted.
    const all = JSON.stringify(h.audit);
    for (const s of [...ALL_SECRET_VALUES, CANARY]) expect(all).not.toContain(s);
    await h.queue.close();
    await store.close();
  });

  describe.each(CASES.map((c) => [c.label, c] as const))('%s', (label, c) => {
    let ep: Endpoint;
    let url: string;
    const name = `in-${label.replace(/[^a-z]+/g, '-').replace(/-$/, '')}`;
    const secret = SECRETS[c.config.secrets![0]!.ref]!;

    beforeAll(async () => {
      const added = await h.repo.add(name, c.config);
      ep = (await h.ingest.endpoint(added.urlKey))!;
      expect(ep).toMatchObject({ name });
      url = `https://gh.example/webhooks/in/${added.urlKey}`;
    });

    const sign = (o: Partial<{ n: string; ts: number; secret: string }> = {}) =>
      c.sign({ n: o.n ?? next(), type: c.type, ts: o.ts ?? T, secret: o.secret ?? secret, url });
    const send = (d: Pick<Delivery, 'headers' | 'body'>, remote = REMOTE) =>
      h.ingest.receive(ep, { headers: d.headers, body: Buffer.from(d.body), url, remote });
    const without = (headers: Record<string, string>, names: string[]) =>
      Object.fromEntries(Object.entries(headers).filter(([k]) => !names.includes(k)));

    /** A refusal: its typed reason and status, an audit record of it, and nothing queued. */
    async function refused(d: Pick<Delivery, 'headers' | 'body'>, reason: string, status: number): Promise<void> {
      const before = (await queuedRows(store, name)).length;
      const auditBefore = h.audit.length;
      const a = await send(d);
      expect({ status: a.status, outcome: a.outcome, reason: a.reason }).toEqual({
        status,
        outcome: 'rejected',
        reason,
      });
      expect(JSON.parse(a.body)).toMatchObject({ error: reason });
      expect(a.eventId).toBeUndefined();
      expect(h.audit.slice(auditBefore)).toEqual([
        expect.objectContaining({
          tool: 'webhook_ingest',
          target: name,
          outcome: `rejected:${reason}`,
          status,
          client: REMOTE,
        }),
      ]);
      expect((await queuedRows(store, name)).length).toBe(before);
    }

    it('queues a genuine event with its type and provider id, keeping only allowlisted headers', async () => {
      const d = sign();
      const a = await send({ headers: { ...d.headers, 'x-secret-token': CANARY }, body: d.body });
      expect(a).toMatchObject({ status: 202, outcome: 'accepted', contentType: 'application/json' });
      expect(a.reason).toBeUndefined();
      expect(JSON.parse(a.body)).toEqual({ ok: true, id: a.eventId });
      const ev = await h.queue.get(a.eventId!, NOW);
      expect(ev).toMatchObject({
        endpoint: name,
        provider: c.config.provider,
        type: d.type,
        eventId: d.id,
        state: 'pending',
      });
      expect(ev!.body.toString()).toBe(d.body);
      const allowed = keptHeaderNames(ep);
      expect(Object.keys(ev!.headers).every((k) => allowed.includes(k))).toBe(true);
      expect(ev!.headers['content-type']).toBe('application/json');
      // The canary was never stored: read the column itself, not what the queue returns.
      const rows = await queuedRows(store, name);
      expect(rows.map((r) => r.id)).toContain(a.eventId);
      for (const r of rows) expect(r.headers).not.toContain(CANARY);
      expect(h.audit.at(-1)).toMatchObject({ tool: 'webhook_ingest', target: name, outcome: 'accepted', status: 202 });
      expect(h.audit.at(-1)!.detail).toMatchObject({ event: a.eventId, providerEventId: d.id, type: d.type });
      const leased = await h.queue.lease({ endpoints: [name], limit: 10, leaseS: 60 }, NOW);
      expect(leased.map((e) => e.id)).toEqual([a.eventId]);
      await h.queue.ack([{ id: a.eventId!, leaseToken: leased[0]!.leaseToken, outcome: 'done' }], [name], NOW);
    });

    it('refuses a wrong secret, a missing signature, and a tampered body where the body is signed', async () => {
      const other =
        c.label.startsWith('standard') || c.label === 'svix' || c.label === 'gitlab'
          ? swSecret('wrong')
          : 'not-the-secret';
      await refused(sign({ secret: other }), 'bad_signature', 401);
      const d = sign();
      await refused({ headers: without(d.headers, c.signatureHeaders), body: d.body }, 'missing_header', 400);
      // (GitLab's secret token signs nothing: there a changed body is simply another event.)
      if (c.bodySigned)
        await refused({ ...d, body: d.body.replace('"amount":100', '"amount":999') }, 'bad_signature', 401);
    });

    if (c.timestamped)
      it('refuses stale and future timestamps (signed correctly)', async () => {
        await refused(sign({ ts: T - 600 }), 'stale_timestamp', 401);
        await refused(sign({ ts: T + 600 }), 'future_timestamp', 401);
      });

    it('answers the same delivery again as a duplicate and queues it once', async () => {
      const d = sign();
      const first = await send(d);
      expect(first.status).toBe(202);
      const dupsBefore = (await h.queue.stats([name], NOW)).get(name)!.duplicates;
      const again = await send(d);
      expect(again).toMatchObject({ status: 200, outcome: 'duplicate', eventId: first.eventId });
      expect(JSON.parse(again.body)).toEqual({ ok: true, duplicate: true });
      expect(h.audit.at(-1)).toMatchObject({ target: name, outcome: 'duplicate', status: 200 });
      expect((await queuedRows(store, name)).filter((r) => r.id === first.eventId)).toHaveLength(1);
      expect((await h.queue.stats([name], NOW)).get(name)!.duplicates).toBe(dupsBefore + 1);
    });

    it('a replay with its id headers stripped or changed is refused or a duplicate, never queued twice', async () => {
      const d = sign();
      const first = await send(d);
      expect(first.status).toBe(202);
      const count = (await queuedRows(store, name)).length;
      const replays = [
        without(d.headers, c.idHeaders),
        { ...d.headers, ...Object.fromEntries(c.idHeaders.map((k) => [k, `forged-${k}-${next()}`])) },
      ];
      for (const headers of replays) {
        const auditBefore = h.audit.length;
        const a = await send({ headers, body: d.body });
        expect(['duplicate', 'rejected']).toContain(a.outcome);
        expect(a.status).not.toBe(202);
        if (a.outcome === 'rejected') {
          expect(a.reason).toMatch(/^[a-z_]+$/);
          expect(h.audit.slice(auditBefore)).toEqual([expect.objectContaining({ outcome: `rejected:${a.reason}` })]);
        } else expect(a.eventId).toBe(first.eventId);
      }
      expect((await queuedRows(store, name)).length).toBe(count);
    });

    if (c.timestamped)
      it('a provider retry (same id, fresh timestamp and signature) is a duplicate', async () => {
        const n = next();
        const first = await send(sign({ n, ts: T - 120 }));
        expect(first.status).toBe(202);
        const retry = await send(sign({ n, ts: T }));
        expect(retry).toMatchObject({ status: 200, outcome: 'duplicate', eventId: first.eventId });
      });
  });

  it("GitHub's SHA-1-only signature is refused as legacy_signature unless the endpoint allows it", async () => {
    const secret = SECRETS['vault:hooks/github.secret']!;
    const strict = await h.repo.add('gh-strict', { provider: 'github', secrets: ref('github') });
    const legacy = await h.repo.add('gh-legacy', { provider: 'github', secrets: ref('github'), legacySha1: true });
    const body = JSON.stringify({ zen: 'Design for failure.', hook_id: 1 });
    const headers = {
      ...json,
      'x-github-delivery': 'sha1-only-delivery',
      'x-github-event': 'ping',
      'x-hub-signature': `sha1=${hex('sha1', secret, body)}`,
    };
    const req = { headers, body: Buffer.from(body), url: 'https://gh.example/x', remote: REMOTE };
    const a = await h.ingest.receive(strict.endpoint, req);
    expect(a).toMatchObject({ status: 401, outcome: 'rejected', reason: 'legacy_signature' });
    expect(h.audit.at(-1)).toMatchObject({ target: 'gh-strict', outcome: 'rejected:legacy_signature' });
    expect(await queuedRows(store, 'gh-strict')).toEqual([]);
    const b = await h.ingest.receive(legacy.endpoint, req);
    expect(b).toMatchObject({ status: 202, outcome: 'accepted' });
    expect(await h.queue.get(b.eventId!, NOW)).toMatchObject({ verified: 'github (legacy sha1)', type: 'ping' });
    // A wrong SHA-1 signature is still a bad signature.
    const forged = { ...req, headers: { ...headers, 'x-hub-signature': `sha1=${hex('sha1', 'nope', body)}` } };
    expect(await h.ingest.receive(legacy.endpoint, forged)).toMatchObject({ status: 401, reason: 'bad_signature' });
  });

  it("answers Slack's URL verification with its challenge as text and queues nothing", async () => {
    const secret = SECRETS['vault:hooks/slack.secret']!;
    const { endpoint: ep } = await h.repo.add('slack-verify', { provider: 'slack', secrets: ref('slack') });
    const challenge = '3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P';
    const body = JSON.stringify({ token: 'Jhj5dZrVaK7ZwHHjRyZWjbDl', challenge, type: 'url_verification' });
    const sig = (s: string) => `v0=${hex('sha256', s, `v0:${T}:${body}`)}`;
    const headers = { ...json, 'x-slack-request-timestamp': String(T), 'x-slack-signature': sig(secret) };
    const a = await h.ingest.receive(ep, {
      headers,
      body: Buffer.from(body),
      url: 'https://gh.example/s',
      remote: REMOTE,
    });
    expect(a).toMatchObject({ status: 200, outcome: 'challenge', body: challenge });
    expect(a.contentType.startsWith('text/plain')).toBe(true);
    expect(h.audit.at(-1)).toMatchObject({ target: 'slack-verify', outcome: 'challenge', status: 200 });
    expect(await queuedRows(store, 'slack-verify')).toEqual([]);
    expect((await h.queue.stats(['slack-verify'], NOW)).get('slack-verify')!.seq).toBe(0);
    // Unsigned, the challenge is not answered.
    const forged = { ...headers, 'x-slack-signature': sig('not-the-secret') };
    const b = await h.ingest.receive(ep, { headers: forged, body: Buffer.from(body), url: 'x', remote: REMOTE });
    expect(b).toMatchObject({ status: 401, outcome: 'rejected', reason: 'bad_signature' });
    expect(b.body).not.toContain(challenge);
  });

  it('an unsigned endpoint takes events only from its allowed addresses', async () => {
    const { endpoint: ep } = await h.repo.add('unsigned-in', {
      provider: 'unsigned',
      allowFrom: ['192.0.2.0/24', '2001:db8::/32'],
    });
    const post = (body: string, remote: string) =>
      h.ingest.receive(ep, {
        headers: { ...json, 'x-secret-token': CANARY },
        body: Buffer.from(body),
        url: 'u',
        remote,
      });
    const a = await post('{"n":1}', '192.0.2.7');
    expect(a).toMatchObject({ status: 202, outcome: 'accepted' });
    expect(await h.queue.get(a.eventId!, NOW)).toMatchObject({
      verified: 'unsigned from 192.0.2.7',
      provider: 'unsigned',
    });
    expect(await post('{"n":2}', '::ffff:192.0.2.8')).toMatchObject({ status: 202 });
    expect(await post('{"n":3}', '2001:db8::1')).toMatchObject({ status: 202 });
    expect(await post('{"n":1}', '192.0.2.7')).toMatchObject({ status: 200, outcome: 'duplicate' });
    for (const remote of ['198.51.100.1', '::ffff:198.51.100.1', '2001:db9::1', 'not-an-address', '']) {
      const r = await post('{"n":4}', remote);
      expect(r).toMatchObject({ status: 403, outcome: 'rejected', reason: 'source_not_allowed' });
      expect(h.audit.at(-1)).toMatchObject({
        target: 'unsigned-in',
        outcome: 'rejected:source_not_allowed',
        status: 403,
        client: remote,
      });
    }
    const rows = await queuedRows(store, 'unsigned-in');
    expect(rows).toHaveLength(3);
    for (const r of rows) expect(r.headers).not.toContain(CANARY);
  });

  it('a signed endpoint with an address allowlist refuses a genuine event from elsewhere', async () => {
    const secret = SECRETS['vault:hooks/github.secret']!;
    const { endpoint: ep } = await h.repo.add('gh-allow', {
      provider: 'github',
      secrets: ref('github'),
      allowFrom: ['140.82.112.0/20'],
    });
    const d = CASES.find((c) => c.label === 'github')!.sign({ n: next(), type: 'push', ts: T, secret, url: '' });
    const req = (remote: string) => ({ headers: d.headers, body: Buffer.from(d.body), url: '', remote });
    expect(await h.ingest.receive(ep, req('203.0.113.5'))).toMatchObject({ status: 403, reason: 'source_not_allowed' });
    expect(await queuedRows(store, 'gh-allow')).toEqual([]);
    expect(await h.ingest.receive(ep, req('140.82.115.10'))).toMatchObject({ status: 202 });
  });

  it('rate limits an endpoint: the third request in a burst of two is 429, and a flood is audited a record or two', async () => {
    let clock = NOW;
    const own = harness(store, () => clock);
    const secret = SECRETS['vault:hooks/github.secret']!;
    const { endpoint: ep } = await own.repo.add('gh-rate', {
      provider: 'github',
      secrets: ref('github'),
      rate: { perSecond: 1, burst: 2 },
    });
    const gh = CASES.find((c) => c.label === 'github')!;
    const send = () => {
      const d = gh.sign({ n: next(), type: 'push', ts: T, secret, url: '' });
      return own.ingest.receive(ep, { headers: d.headers, body: Buffer.from(d.body), url: '', remote: REMOTE });
    };
    expect((await send()).status).toBe(202);
    expect((await send()).status).toBe(202);
    const third = await send();
    expect(third).toMatchObject({ status: 429, outcome: 'rate_limited', reason: 'rate_limited' });
    expect(third.retryAfterS).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 100; i++) expect((await send()).status).toBe(429);
    const limited = own.audit.filter((e) => e.outcome.startsWith('rate_limited'));
    expect(limited.length).toBeGreaterThanOrEqual(1);
    expect(limited.length).toBeLessThanOrEqual(2);
    expect(own.audit.filter((e) => e.outcome === 'accepted')).toHaveLength(2);
    expect(await queuedRows(store, 'gh-rate')).toHaveLength(2);
    // A second later one more token has come back.
    clock = NOW + 1000;
    expect((await send()).status).toBe(202);
    expect((await send()).status).toBe(429);
    await own.queue.close();
  });

  it('an event of a type the endpoint does not want is answered 200 ignored and never leased', async () => {
    const secret = SECRETS['vault:hooks/github.secret']!;
    const { endpoint: ep } = await h.repo.add('gh-events', {
      provider: 'github',
      secrets: ref('github'),
      events: ['push'],
    });
    const gh = CASES.find((c) => c.label === 'github')!;
    const send = (d: Delivery) =>
      h.ingest.receive(ep, { headers: d.headers, body: Buffer.from(d.body), url: '', remote: REMOTE });
    const issue = gh.sign({ n: next(), type: 'issues', ts: T, secret, url: '' });
    const ignored = await send(issue);
    expect(ignored).toMatchObject({ status: 200, outcome: 'ignored' });
    expect(JSON.parse(ignored.body)).toEqual({ ok: true, ignored: true });
    expect(h.audit.at(-1)).toMatchObject({ target: 'gh-events', outcome: 'ignored', status: 200 });
    const push = await send(gh.sign({ n: next(), type: 'push', ts: T, secret, url: '' }));
    expect(push).toMatchObject({ status: 202, outcome: 'accepted' });
    const leased = await h.queue.lease({ endpoints: ['gh-events'], limit: 10, leaseS: 60 }, NOW);
    expect(leased.map((e) => [e.id, e.type])).toEqual([[push.eventId, 'push']]);
    await h.queue.ack([{ id: push.eventId!, leaseToken: leased[0]!.leaseToken, outcome: 'done' }], ['gh-events'], NOW);
    expect(await h.queue.get(ignored.eventId!, NOW)).toMatchObject({
      type: 'issues',
      state: 'acked',
      outcome: 'ignored',
    });
    expect(await h.queue.lease({ endpoints: ['gh-events'], limit: 10, leaseS: 60 }, NOW + 3600_000)).toEqual([]);
    // Remembered for dedupe all the same.
    expect(await send(issue)).toMatchObject({ status: 200, outcome: 'duplicate' });
  });

  it('during a rotation only secrets not yet retired verify', async () => {
    const gh = CASES.find((c) => c.label === 'github')!;
    const at = new Date(NOW - 86_400_000).toISOString();
    const retired = await h.repo.add('gh-rotated', {
      provider: 'github',
      secrets: [
        { ref: 'vault:hooks/old.secret', addedAt: at, retireAt: new Date(NOW - 1000).toISOString() },
        { ref: 'vault:hooks/new.secret', addedAt: at },
      ],
    });
    const rotating = await h.repo.add('gh-rotating', {
      provider: 'github',
      secrets: [
        { ref: 'vault:hooks/old.secret', addedAt: at, retireAt: new Date(NOW + 3600_000).toISOString() },
        { ref: 'vault:hooks/new.secret', addedAt: at },
      ],
    });
    const send = (ep: Endpoint, secret: string) => {
      const d = gh.sign({ n: next(), type: 'push', ts: T, secret, url: '' });
      return h.ingest.receive(ep, { headers: d.headers, body: Buffer.from(d.body), url: '', remote: REMOTE });
    };
    expect(await send(retired.endpoint, 'rotated-in-secret')).toMatchObject({ status: 202 });
    expect(await send(retired.endpoint, 'rotated-out-secret')).toMatchObject({ status: 401, reason: 'bad_signature' });
    expect(h.audit.at(-1)).toMatchObject({ target: 'gh-rotated', outcome: 'rejected:bad_signature' });
    expect(await queuedRows(store, 'gh-rotated')).toHaveLength(1);
    expect(await send(rotating.endpoint, 'rotated-in-secret')).toMatchObject({ status: 202 });
    expect(await send(rotating.endpoint, 'rotated-out-secret')).toMatchObject({ status: 202 });
  });
});

describe.each(fixtures.map((f) => [f.name, f] as const))('webhook ingest on %s', (_kind, fx: StoreFixture) => {
  let store: Store;
  let h: ReturnType<typeof harness>;
  beforeAll(async () => {
    store = await fx.open();
    h = harness(store);
  });
  afterAll(async () => {
    await h.queue.close();
    await store.close();
  });
  const gh = CASES.find((c) => c.label === 'github')!;
  const ghSecret = SECRETS['vault:hooks/github.secret']!;
  const send = (ep: Endpoint, d: Pick<Delivery, 'headers' | 'body'>): Promise<IngestAnswer> =>
    h.ingest.receive(ep, { headers: d.headers, body: Buffer.from(d.body), url: '', remote: REMOTE });

  it('ten concurrent deliveries of one event queue it once; the rest are duplicates', async () => {
    const { endpoint: ep } = await h.repo.add('gh-race', { provider: 'github', secrets: ref('github') });
    const d = gh.sign({ n: next(), type: 'push', ts: T, secret: ghSecret, url: '' });
    const answers = await Promise.all(Array.from({ length: 10 }, () => send(ep, d)));
    expect(answers.filter((a) => a.status === 202)).toHaveLength(1);
    const id = answers.find((a) => a.status === 202)!.eventId;
    expect(answers.filter((a) => a.outcome === 'duplicate' && a.eventId === id)).toHaveLength(9);
    expect(await queuedRows(store, 'gh-race')).toHaveLength(1);
    expect((await h.queue.stats(['gh-race'], NOW)).get('gh-race')).toMatchObject({ duplicates: 9, seq: 1 });
  });

  it('never stores a header that is not allowlisted, and keeps a sealed body sealed at rest', async () => {
    const { endpoint: ep } = await h.repo.add('gh-sealed', {
      provider: 'github',
      secrets: ref('github'),
      sealBody: true,
    });
    const d = gh.sign({ n: next(), type: 'push', ts: T, secret: ghSecret, url: '' });
    const a = await send(ep, {
      headers: { ...d.headers, 'x-secret-token': CANARY, authorization: `Bearer ${CANARY}` },
      body: d.body,
    });
    expect(a.status).toBe(202);
    const row = (await store.db
      .selectFrom('webhook_events')
      .select(['headers', 'body'])
      .where('id', '=', a.eventId!)
      .executeTakeFirstOrThrow()) as { headers: string; body: Uint8Array };
    expect(row.headers).not.toContain(CANARY);
    expect(Object.keys(JSON.parse(row.headers) as object).sort()).toEqual(
      ['content-type', 'x-github-delivery', 'x-github-event', 'x-github-hook-id'].sort(),
    );
    expect(Buffer.from(row.body).includes(d.body)).toBe(false);
    expect((await h.queue.get(a.eventId!, NOW))!.body.toString()).toBe(d.body);
    expect(JSON.stringify(h.audit)).not.toContain(CANARY);
  });

  it('queues a genuine event whose (signed) provider id is long', async () => {
    const secret = SECRETS['vault:hooks/standard.secret']!;
    const { endpoint: ep } = await h.repo.add('sw-long-id', {
      provider: 'standard-webhooks',
      secrets: ref('standard'),
    });
    const id = `msg_${'x'.repeat(400)}`;
    const body = JSON.stringify({ type: 'invoice.paid', data: {} });
    const headers = {
      ...json,
      'webhook-id': id,
      'webhook-timestamp': String(T),
      'webhook-signature': swSign(secret, id, T, body),
    };
    const a = await send(ep, { headers, body });
    expect(a).toMatchObject({ status: 202, outcome: 'accepted' });
    expect(await send(ep, { headers, body })).toMatchObject({ status: 200, outcome: 'duplicate', eventId: a.eventId });
    expect(await queuedRows(store, 'sw-long-id')).toHaveLength(1);
  });
});

describe('an event whose audit record cannot be written', () => {
  it('is taken back: answered 503, never leased, and the sender’s retry is queued (and recorded) as new', async () => {
    const fx = fixtures.find((f) => f.name === 'sqlite')!;
    const store = await fx.open();
    const repo = new EndpointRepository(store, keys);
    const queue = new WebhookQueue(store, keys);
    let auditUp = false;
    const recorded: AuditEntry[] = [];
    const ingest = new WebhookIngest({
      endpoints: repo,
      queue,
      openSecret: async (r) => SECRETS[r]!,
      audit: async (e) => {
        if (!auditUp) throw new Error('audit log unavailable');
        recorded.push(e);
      },
      now: () => NOW,
    });
    try {
      const { urlKey } = await repo.add('audit-down', { provider: 'github', secrets: ref('github') });
      const ep = (await ingest.endpoint(urlKey))!;
      const d = CASES.find((c) => c.label === 'github')!.sign({
        n: next(),
        type: 'push',
        ts: T,
        secret: SECRETS['vault:hooks/github.secret']!,
        url: '',
      });
      const send = () => ingest.receive(ep, { headers: d.headers, body: Buffer.from(d.body), url: '', remote: REMOTE });
      expect(await send()).toMatchObject({ status: 503, reason: 'unavailable' });
      expect(await queuedRows(store, 'audit-down')).toEqual([]);
      expect(await queue.lease({ endpoints: ['audit-down'], limit: 10, leaseS: 60 }, NOW)).toEqual([]);
      auditUp = true;
      expect(await send()).toMatchObject({ status: 202, outcome: 'accepted' });
      expect(await queuedRows(store, 'audit-down')).toHaveLength(1);
      expect(recorded.map((r) => r.outcome)).toEqual(['accepted']);
    } finally {
      await queue.close();
      await store.close();
    }
  });
});
