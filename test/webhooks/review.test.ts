/**
 * Security review of the webhooks feature (issue 16): new members of the classes the issue names,
 * over real stores, the real endpoint repository, queue and ingest, and the agents' real redactor.
 *
 * Each of the review's findings is a test here, fixed since: a payload \u-escaped inside a form
 * body, a digest of the unscrubbed body, text cut before scrubbing, an unsigned custom timestamp, a
 * NUL PostgreSQL refuses, an ack race on PostgreSQL, and rate-limited requests left uncounted.
 * The rest is coverage that did not exist (signature re-encodings never make a replay new; the
 * payload is scrubbed through the decodings a client applies; an event is read only through its
 * own endpoint).
 */
import { createHash, createHmac } from 'node:crypto';
import { sql } from 'kysely';
import { ResourceNotFoundError } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/gate/index.js';
import { webhookResources } from '../../src/server/mcp-webhooks.js';
import type { Runtime } from '../../src/server/runtime.js';
import type { Store } from '../../src/store/index.js';
import { REDACTED, Redactor } from '../../src/vault/index.js';
import {
  agentEvent,
  EndpointRepository,
  eventResourceUri,
  INLINE_PAYLOAD_CHARS,
  WebhookQueue,
  type Endpoint,
  type EndpointConfig,
} from '../../src/webhooks/index.js';
import { storeFixtures, type StoreFixture } from '../helpers/stores.js';
import { b64, ingestHarness, NOW, REMOTE, swSecret, swSign, T, testKeys } from './fixtures.js';

const fixtures = await storeFixtures();
afterAll(async () => {
  for (const fx of fixtures) await fx.cleanup();
});

const keys = testKeys('review-test');

const DAY = 86_400_000;
/** A strong vault value (registered with the agents' redactor) that a sender's payload carries. */
const VAULT_VALUE = 'Zq8vK2mW9xLp4RtY7nB3cJ6hF1dG5sQa';
/** The same, with the punctuation strong passwords have (JSON encoders often \u-escape `&` and `<`). */
const VAULT_PASSWORD = 'Zq8vK2mW9x&Lp4RtY7nB3<cJ6hF1dG5sQa';

const SECRETS: Record<string, string> = {
  'vault:hooks/standard.secret': swSecret('standard'),
  'vault:hooks/stripe.secret': 'whsec_stripe_test_4eC39HqLyjWDarjtT1zdp7dc',
  'vault:hooks/github.secret': 'gh-webhook-secret-6c1d',
  'vault:hooks/slack.secret': '8f742231b10e8888abcd99yyyzzz85a5',
  'vault:hooks/shopify.secret': 'shpss_1a2b3c4d5e6f',
  'vault:hooks/acme.secret': 'acme-custom-secret',
};
const secretOf = (name: string) => SECRETS[`vault:hooks/${name}.secret`]!;
const ref = (name: string) => [{ ref: `vault:hooks/${name}.secret`, addedAt: new Date(NOW - DAY).toISOString() }];

const hex = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data).digest('hex');
const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const uEscape = (s: string) => [...s].map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
const percentAll = (s: string) => [...Buffer.from(s)].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

const harness = (store: Store, now: () => number = () => NOW) => ingestHarness(store, keys, SECRETS, now);

/** The agents' redactor, as the runtime seeds it with every vault value. */
function agentRedactor(values: readonly string[] = [VAULT_VALUE, VAULT_PASSWORD, ...Object.values(SECRETS)]): Redactor {
  const r = new Redactor({ audience: 'agent' });
  for (const v of values) r.add(v);
  return r;
}

async function rowsOf(store: Store, endpoint: string): Promise<number> {
  const r = (await store.db
    .selectFrom('webhook_events')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('endpoint', '=', endpoint)
    .executeTakeFirstOrThrow()) as { n: number | string };
  return Number(r.n);
}

let serial = 5000;
const next = () => String(++serial);

/** A GitHub delivery of `body` (signed as GitHub does: HMAC-SHA256 of the raw body). */
function github(body: string, extra: Record<string, string> = {}) {
  const id = `72d3162e-cc78-11e3-81ab-${next().padStart(12, '0')}`;
  return {
    id,
    body,
    headers: {
      'content-type': 'application/json',
      'x-github-delivery': id,
      'x-github-event': 'push',
      'x-hub-signature-256': `sha256=${hex(secretOf('github'), body)}`,
      ...extra,
    },
  };
}

describe('webhook review on sqlite', () => {
  const fx = fixtures.find((f) => f.name === 'sqlite')!;
  let store: Store;
  let h: ReturnType<typeof harness>;
  let clock = NOW;
  beforeAll(async () => {
    store = await fx.open();
    h = harness(store, () => clock);
  });
  afterAll(async () => {
    await h.queue.close();
    await store.close();
  });

  async function endpoint(name: string, config: Partial<EndpointConfig> & Pick<EndpointConfig, 'provider'>) {
    const { urlKey } = await h.repo.add(name, config);
    return (await h.ingest.endpoint(urlKey))!;
  }
  const send = (ep: Endpoint, d: { headers: Record<string, string>; body: string }, url = '') =>
    h.ingest.receive(ep, { headers: d.headers, body: Buffer.from(d.body), url, remote: REMOTE });
  /** The event as webhook_poll hands it to an agent. */
  async function agentView(ep: Endpoint, id: string, redactor = agentRedactor()) {
    const ev = (await h.queue.get(id, clock))!;
    return agentEvent(ev, ep, redactor, { limit: INLINE_PAYLOAD_CHARS });
  }

  // ---- coverage: malleable encodings never make a replay a new event ----

  it('a replay whose signature is re-encoded (base64url, hex case, padding, extra entries, whitespace) is a duplicate; a re-written timestamp is refused', async () => {
    const sw = await endpoint('rv-sw', { provider: 'standard-webhooks', secrets: ref('standard') });
    const body = JSON.stringify({ type: 'invoice.paid', data: { n: next() } });
    const id = `msg_${next()}`;
    const sig = swSign(secretOf('standard'), id, T, body);
    const hdr = (ts: string, s: string) => ({
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': ts,
      'webhook-signature': s,
    });
    expect(await send(sw, { headers: hdr(String(T), sig), body })).toMatchObject({ status: 202 });
    const b64url = sig.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    for (const s of [b64url, `v1,AAAA ${sig} ${sig}`, ` ${sig} `, `v2,${sig.slice(3)} ${sig}`])
      expect(await send(sw, { headers: hdr(String(T), s), body })).toMatchObject({ status: 200, outcome: 'duplicate' });
    // The timestamp is signed as text: leading zeros or milliseconds are not the same delivery.
    expect(await send(sw, { headers: hdr(`0${T}`, sig), body })).toMatchObject({ reason: 'bad_signature' });
    expect(await send(sw, { headers: hdr(String(T * 1000), sig), body })).toMatchObject({ reason: 'malformed' });
    expect(await rowsOf(store, 'rv-sw')).toBe(1);

    const st = await endpoint('rv-stripe', { provider: 'stripe', secrets: ref('stripe') });
    const sbody = JSON.stringify({ id: `evt_${next()}`, type: 'charge.succeeded' });
    const v1 = hex(secretOf('stripe'), `${T}.${sbody}`);
    const stripeSig = (h: string) => ({ 'content-type': 'application/json', 'stripe-signature': h });
    expect(await send(st, { headers: stripeSig(`t=${T},v1=${v1}`), body: sbody })).toMatchObject({ status: 202 });
    for (const s of [`t=${T},v1=${v1.toUpperCase()}`, ` t = ${T} , v0=${v1} , v1=00 , v1= ${v1} `])
      expect(await send(st, { headers: stripeSig(s), body: sbody })).toMatchObject({ outcome: 'duplicate' });
    expect(await send(st, { headers: stripeSig(`t=0${T},v1=${v1}`), body: sbody })).toMatchObject({
      reason: 'bad_signature',
    });
    expect(await rowsOf(store, 'rv-stripe')).toBe(1);

    // Shopify signs only the body: a base64url signature with a new event id header is the same event.
    const sh = await endpoint('rv-shopify', { provider: 'shopify', secrets: ref('shopify') });
    const shbody = JSON.stringify({ id: Number(next()), total_price: '1.00' });
    const shsig = b64(secretOf('shopify'), shbody);
    const shop = (s: string, eid: string) => ({
      'content-type': 'application/json',
      'x-shopify-hmac-sha256': s,
      'x-shopify-event-id': eid,
    });
    expect(await send(sh, { headers: shop(shsig, 'e1'), body: shbody })).toMatchObject({ status: 202 });
    const url64 = shsig.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
    expect(await send(sh, { headers: shop(url64, 'e2'), body: shbody })).toMatchObject({ outcome: 'duplicate' });
    expect(await rowsOf(store, 'rv-shopify')).toBe(1);
  });

  // ---- coverage: scrubbing after the decodings a client applies ----

  it('scrubs a vault value an agent would decode: JSON \\u escapes, a fully percent-encoded form body, the type, a kept header, a projection', async () => {
    const gh = await endpoint('rv-scrub', { provider: 'github', secrets: ref('github') });
    const escaped = `{"head_commit":{"message":"${uEscape(VAULT_VALUE)}"}}`;
    const a = await send(gh, github(escaped, { 'x-github-hook-id': VAULT_VALUE }));
    expect(a.status).toBe(202);
    const v = await agentView(gh, a.eventId!);
    const text = JSON.stringify(v);
    expect(text).not.toContain(VAULT_VALUE);
    expect(JSON.stringify(JSON.parse(v.payload.data!))).not.toContain(VAULT_VALUE);
    expect(v.headers['x-github-hook-id']).toContain(REDACTED);

    const form = `payload=${percentAll(JSON.stringify({ head_commit: { message: VAULT_VALUE } }))}`;
    const b = await send(
      gh,
      github(form, { 'content-type': 'application/x-www-form-urlencoded', 'x-github-event': VAULT_VALUE }),
    );
    expect(b.status).toBe(202);
    const w = await agentView(gh, b.eventId!);
    const decoded = decodeURIComponent(w.payload.data!.replace(/^payload=/, ''));
    expect(decoded).not.toContain(VAULT_VALUE);
    expect(w.type).not.toContain(VAULT_VALUE);

    const projected = await endpoint('rv-scrub-proj', {
      provider: 'github',
      secrets: ref('github'),
      projection: ['head_commit.message'],
    });
    const c = await send(projected, github(escaped));
    const p = await agentView(projected, c.eventId!);
    expect(p.payload.projected).toBe(true);
    expect(p.payload.data).not.toContain(VAULT_VALUE);
    expect(p.payload.data).toContain(REDACTED);
  });

  // ---- findings ----

  it('a form-encoded payload whose JSON \\u-escapes a character of a vault value reaches the agent scrubbed', async () => {
    // GitHub's `application/x-www-form-urlencoded` content type: `payload=<urlencoded JSON>`; JSON
    // encoders (Rails' among them) write `&`, `<` and `>` as \u0026, \u003c, \u003e.
    const gh = await endpoint('rv-form', { provider: 'github', secrets: ref('github') });
    const json = JSON.stringify({ head_commit: { message: `deploy with ${VAULT_PASSWORD}` } }).replace(/[<>&]/g, (ch) =>
      uEscape(ch),
    );
    const body = `payload=${encodeURIComponent(json)}`;
    const a = await send(gh, github(body, { 'content-type': 'application/x-www-form-urlencoded' }));
    expect(a.status).toBe(202);
    // A vault whose values hold no `/`, `"` or `\\` (hex and alphanumeric tokens, passwords like this
    // one): the percent escapes decode to `\\`, which no registered form uses, so the decoded view
    // that would lead to the JSON escapes is never built. (One value with a `/` switches it on.)
    const v = await agentView(gh, a.eventId!, agentRedactor([VAULT_PASSWORD, VAULT_VALUE, secretOf('github')]));
    // What any client does with such a body: decode the form field, parse the JSON.
    const field = new URLSearchParams(v.payload.data!).get('payload')!;
    const message = (JSON.parse(field) as { head_commit: { message: string } }).head_commit.message;
    expect(message).not.toContain(VAULT_PASSWORD);
  });

  it('no digest of the unscrubbed body is given, so an agent cannot confirm a guess of the value scrubbed out of it', async () => {
    const gh = await endpoint('rv-digest', { provider: 'github', secrets: ref('github') });
    const body = JSON.stringify({ head_commit: { message: `rotate ${VAULT_VALUE} today` } });
    const a = await send(gh, github(body));
    const v = await agentView(gh, a.eventId!);
    expect(v.payload.data).toContain(REDACTED);
    expect(v.payload.data).not.toContain(VAULT_VALUE);
    // The agent puts its guess where the marker is and hashes: a match confirms the guess.
    const guessed = sha256(v.payload.data!.replace(REDACTED, VAULT_VALUE));
    expect(JSON.stringify(v)).not.toContain(guessed);
    expect(JSON.stringify(v)).not.toContain(sha256(body));
  });

  it('the event type and kept headers are never cut at ingest, so a vault value across a cut cannot leak its prefix', async () => {
    const gh = await endpoint('rv-cut', { provider: 'github', secrets: ref('github') });
    const a = await send(
      gh,
      github(JSON.stringify({ ref: 'refs/heads/main' }), {
        // Cut at 256 (type) and at 1000 (kept header): 24 characters of the value survive each cut.
        'x-github-event': `${'e'.repeat(232)}${VAULT_VALUE}`,
        'x-github-hook-id': `${'1'.repeat(976)}${VAULT_VALUE}`,
      }),
    );
    expect(a.status).toBe(202);
    const v = await agentView(gh, a.eventId!);
    const prefix = VAULT_VALUE.slice(0, 16);
    expect(v.type).not.toContain(prefix);
    expect(v.headers['x-github-hook-id']).not.toContain(prefix);
  });

  it('a custom scheme may not take a timestamp it does not sign (a replay with a fresh one would pass)', async () => {
    const custom = {
      header: 'X-Acme-Signature',
      algorithm: 'sha256' as const,
      encoding: 'hex' as const,
      template: '{body}',
      timestamp: { from: 'header' as const, name: 'X-Acme-Timestamp' },
      id: { from: 'header' as const, name: 'X-Acme-Delivery' },
    };
    let ep: Endpoint;
    try {
      ep = await endpoint('rv-custom-ts', { provider: 'custom', secrets: ref('acme'), custom });
    } catch (e) {
      // Refusing the configuration (the timestamp is not signed) is a fix too.
      expect((e as { code?: string }).code).toBe('invalid_input');
      return;
    }
    const body = JSON.stringify({ event: 'build.finished', build: 1 });
    const headers = (ts: number, id: string) => ({
      'content-type': 'application/json',
      'x-acme-signature': hex(secretOf('acme'), body),
      'x-acme-timestamp': String(ts),
      'x-acme-delivery': id,
    });
    clock = NOW;
    expect(await send(ep, { headers: headers(T, 'd1'), body })).toMatchObject({ status: 202 });
    // Stale, it is refused; with a fresh (unsigned) timestamp it is a duplicate while the keys live ...
    expect(await send(ep, { headers: headers(T - 3600, 'd1'), body })).toMatchObject({ reason: 'stale_timestamp' });
    // ... and after the dedupe window (7 days by default) the captured delivery is a new event.
    clock = NOW + 8 * DAY;
    try {
      const replay = await send(ep, { headers: headers(Math.floor(clock / 1000), 'd2'), body });
      expect(replay.status).not.toBe(202);
    } finally {
      clock = NOW;
    }
  });

  it('requests refused by the rate limit in the last window of a flood are counted by the next record', async () => {
    const gh = await endpoint('rv-rate', {
      provider: 'github',
      secrets: ref('github'),
      rate: { perSecond: 1, burst: 1 },
    });
    h.audit.length = 0;
    clock = NOW;
    expect((await send(gh, github(JSON.stringify({ n: next() })))).status).toBe(202);
    for (let i = 0; i < 50; i++) expect((await send(gh, github(JSON.stringify({ n: next() })))).status).toBe(429);
    // The flood ends; the next delivery, a minute later, is taken in and recorded.
    clock = NOW + 60_000;
    expect((await send(gh, github(JSON.stringify({ n: next() })))).status).toBe(202);
    clock = NOW;
    // Each rate_limited record counts itself and the requests it says it stood for.
    const counted = h.audit
      .filter((e) => e.target === 'rv-rate')
      .reduce(
        (n, e) =>
          n +
          (e.outcome.startsWith('rate_limited') ? 1 : 0) +
          Number(e.detail.suppressedSinceLast ?? 0) +
          Number(e.detail.rateLimitedUnrecorded ?? 0),
        0,
      );
    expect(counted).toBe(50);
  });

  // ---- coverage: an event is read only through its own endpoint ----

  it('an event resource is found only under its own endpoint, and only with that endpoint’s grant and webhook_poll', async () => {
    // The resources read at the wall clock: events taken in now.
    const live = harness(store, () => Date.now());
    const a = (await live.ingest.endpoint(
      (await live.repo.add('rv-res-a', { provider: 'github', secrets: ref('github') })).urlKey,
    ))!;
    const b = (await live.ingest.endpoint(
      (await live.repo.add('rv-res-b', { provider: 'github', secrets: ref('github') })).urlKey,
    ))!;
    const post = (ep: Endpoint) => {
      const d = github(JSON.stringify({ n: next() }));
      return live.ingest.receive(ep, { headers: d.headers, body: Buffer.from(d.body), url: '', remote: REMOTE });
    };
    const ea = await post(a);
    const eb = await post(b);
    expect([ea.status, eb.status]).toEqual([202, 202]);
    const rt = {
      isToolGranted: (p: Principal, tool: string) => p.grants.some((g) => g.kind === 'tool' && g.name === tool),
      webhookEndpoints: live.repo,
      webhookQueue: live.queue,
      redactor: agentRedactor(),
    } as unknown as Runtime;
    const res = webhookResources(rt);
    const principal = (grants: Principal['grants']): Principal => ({
      tokenId: 't',
      tokenName: 't',
      grants,
      policy: null,
      approvalMode: null,
      admin: false,
    });
    const agentA = principal([
      { kind: 'tool', name: 'webhook_poll' },
      { kind: 'webhook', name: 'rv-res-a' },
    ] as Principal['grants']);
    const noPoll = principal([{ kind: 'webhook', name: 'rv-res-a' }] as Principal['grants']);
    const read = await res.read(agentA, eventResourceUri('rv-res-a', ea.eventId!));
    expect(JSON.parse((read as { text: string }).text)).toMatchObject({
      event: { id: ea.eventId, endpoint: 'rv-res-a' },
    });
    for (const [p, uri] of [
      [agentA, eventResourceUri('rv-res-a', eb.eventId!)],
      [agentA, eventResourceUri('rv-res-b', eb.eventId!)],
      [agentA, `gatehouse://webhooks/rv-res-b/inbox`],
      [noPoll, eventResourceUri('rv-res-a', ea.eventId!)],
      [agentA, `${eventResourceUri('rv-res-a', ea.eventId!)}/../../rv-res-b/inbox`],
    ] as const)
      await expect(res.read(p, uri)).rejects.toBeInstanceOf(ResourceNotFoundError);
    expect((await res.list(agentA)).map((r) => r.uri)).toEqual(['gatehouse://webhooks/rv-res-a/inbox']);
    expect(await res.list(noPoll)).toEqual([]);
    await live.queue.close();
  });
});

describe.each(fixtures.map((f) => [f.name, f] as const))('webhook review on %s', (kind, fx: StoreFixture) => {
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

  it('a genuine event whose signed body has a NUL in its type is queued (PostgreSQL refuses NUL in text)', async () => {
    const { urlKey } = await h.repo.add(`rv-nul-${kind}`, { provider: 'standard-webhooks', secrets: ref('standard') });
    const ep = (await h.ingest.endpoint(urlKey))!;
    const body = '{"type":"invoice.\\u0000paid","data":{}}';
    const id = `msg_${next()}`;
    const headers = {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(T),
      'webhook-signature': swSign(secretOf('standard'), id, T, body),
    };
    const a = await h.ingest.receive(ep, { headers, body: Buffer.from(body), url: '', remote: REMOTE });
    // The provider retries a 5xx for days, and every retry fails the same way.
    expect({ status: a.status, reason: a.reason }).toEqual({ status: 202, reason: undefined });
  });
});

const pg = fixtures.filter((f) => f.name === 'postgres');
describe.each(pg.map((f) => [f.name, f] as const))('webhook leases on %s', (_kind, fx: StoreFixture) => {
  let store: Store;
  let store2: Store;
  let repo: EndpointRepository;
  let q1: WebhookQueue;
  let q2: WebhookQueue;
  beforeAll(async () => {
    store = await fx.open();
    store2 = await fx.open();
    repo = new EndpointRepository(store, keys);
    q1 = new WebhookQueue(store, keys);
    q2 = new WebhookQueue(store2, keys);
  });
  afterAll(async () => {
    await q1.close();
    await q2.close();
    await store2.close();
    await store.close();
  });

  it('an ack checks its lease in the UPDATE that settles it, so a stale holder never settles an event another poller holds now', async () => {
    await repo.add('rv-race', { provider: 'github', secrets: ref('github') });
    const body = Buffer.from('{"n":1}');
    const queued = await q1.enqueue(
      {
        endpoint: 'rv-race',
        provider: 'github',
        eventId: 'd-race',
        type: 'push',
        verified: 'github',
        headers: {},
        body,
        keys: ['id:d-race', `sha256:${sha256(body)}`],
        maxAttempts: 8,
        retentionS: 7 * 86_400,
        dedupeS: 7 * 86_400,
        sealBody: false,
      },
      NOW,
    );
    const [held] = await q1.lease({ endpoints: ['rv-race'], limit: 1, leaseS: 60 }, NOW);
    expect(held!.id).toBe(queued.id);
    // Only widens the window between a statement and its commit (a busy database does the same):
    // a re-lease of a leased row takes 1.5 s to commit.
    await sql
      .raw(
        `CREATE FUNCTION rv_slow_relase() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN IF OLD.state = 'leased' AND NEW.state = 'leased' AND NEW.lease_hash <> OLD.lease_hash
         THEN PERFORM pg_sleep(1.5); END IF; RETURN NEW; END $$`,
      )
      .execute(store.db);
    await sql
      .raw(
        'CREATE TRIGGER rv_slow_relase BEFORE UPDATE ON webhook_events FOR EACH ROW EXECUTE FUNCTION rv_slow_relase()',
      )
      .execute(store.db);
    try {
      // Poller 2, on another host whose clock reads the lease as run out, leases the event again ...
      const second = q2.lease({ endpoints: ['rv-race'], limit: 1, leaseS: 60 }, NOW + 60_000);
      await new Promise((r) => setTimeout(r, 400));
      // ... while poller 1 acks under its old lease, a millisecond before it ran out by its clock.
      const late = q1.ack(
        [{ id: held!.id, leaseToken: held!.leaseToken, outcome: 'failed' }],
        ['rv-race'],
        NOW + 59_999,
      );
      const [got, acked] = await Promise.all([second, late]);
      expect(got.map((e) => e.id)).toEqual([held!.id]);
      const now = await q1.get(held!.id, NOW + 60_001);
      // Poller 2 holds it now: the stale ack must settle nothing, and poller 2's ack must work.
      expect(acked[0]).toMatchObject({ ok: false });
      expect(now).toMatchObject({ state: 'leased' });
      const mine = await q2.ack(
        [{ id: got[0]!.id, leaseToken: got[0]!.leaseToken, outcome: 'done' }],
        ['rv-race'],
        NOW + 60_001,
      );
      expect(mine[0]).toMatchObject({ ok: true, state: 'acked' });
    } finally {
      await sql.raw('DROP TRIGGER rv_slow_relase ON webhook_events').execute(store.db);
      await sql.raw('DROP FUNCTION rv_slow_relase()').execute(store.db);
    }
  });
});
